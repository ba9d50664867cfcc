//! `wrong-type`: a value of the wrong type (a list where a mapping belongs, a quoted bool, ...);
//! found by the schema walk (`lint/walk.rs`).

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::Checker;
use crate::yaml::{Node, Value};

pub(crate) const RULE: Rule = Rule {
    id: "wrong-type",
    severities: &[Severity::Error],
    incident: None,
    doc: "a value of the wrong type (a list where a mapping belongs, a quoted bool, ...)",
    check: Check::Schema,
};

/// `path` holds `node` where `expected` belongs.
pub(crate) fn report(checker: &mut Checker, node: &Node, path: &str, expected: &str) {
    let message = format!("`{path}` must be {expected}, not {}", describe(node));
    checker.add(&RULE, node.span.start, path, message);
}

fn describe(node: &Node) -> String {
    match &node.value {
        Value::Null => "nothing".to_string(),
        Value::Alias => "an alias".to_string(),
        Value::Map(_) => "a mapping".to_string(),
        Value::Seq(_) => "a list".to_string(),
        Value::Scalar(s) => {
            let shown: String = s.text.chars().take(40).collect();
            format!("`{shown}`")
        }
    }
}
