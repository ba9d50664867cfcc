//! `invalid-value`: a value outside the allowed words, or not a duration; found by the schema
//! walk (`lint/walk.rs`).

use super::{Check, Rule};
use crate::lint::Severity;

pub(crate) const RULE: Rule = Rule {
    id: "invalid-value",
    severities: &[Severity::Error],
    incident: None,
    doc: "a value outside the allowed words, or not a duration",
    check: Check::Schema,
};
