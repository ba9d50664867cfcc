//! `duplicate-key`: a key given twice in one mapping, which tbot rejects.

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::Checker;
use crate::yaml::Span;

pub(crate) const RULE: Rule = Rule {
    id: "duplicate-key",
    severities: &[Severity::Error],
    incident: None,
    doc: "a key given twice in one mapping",
    check: Check::Document,
};

/// One finding per repeated key the reader found.
pub(crate) fn check(checker: &mut Checker, duplicates: &[(String, Span)]) {
    for (key, span) in duplicates {
        let message = format!("`{key}` is given twice in one mapping; tbot rejects that");
        checker.add(&RULE, span.start, key, message).fix = Some("keep one of them".to_string());
    }
}
