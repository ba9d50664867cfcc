//! `yaml-syntax`: the file is not YAML this linter can read (or not UTF-8); reported while the
//! document is read, before any other rule.

use super::{Check, Rule};
use crate::lint::Severity;

pub(crate) const RULE: Rule = Rule {
    id: "yaml-syntax",
    severities: &[Severity::Error],
    incident: None,
    doc: "the file is not YAML this linter can read",
    check: Check::Document,
};
