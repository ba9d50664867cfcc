//! `missing-key`: a required key (`type`, `kubernetes_cluster`, `service`, ...) is missing, or
//! the file holds nothing; found by the schema walk (`lint/walk.rs`).

use super::{Check, Rule};
use crate::lint::Severity;

pub(crate) const RULE: Rule = Rule {
    id: "missing-key",
    severities: &[Severity::Error],
    incident: None,
    doc: "a required key (`type`, `kubernetes_cluster`, `service`, ...) is missing",
    check: Check::Schema,
};
