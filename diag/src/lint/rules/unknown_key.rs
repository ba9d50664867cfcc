//! `unknown-key`: a key tbot does not know at that level (tbot rejects a v2 file with one), with
//! the nearest known key or the section it belongs in; found by the schema walk.

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, join};
use crate::lint::schema::{self, Field};
use crate::yaml::Entry;

pub(crate) const RULE: Rule = Rule {
    id: "unknown-key",
    severities: &[Severity::Error],
    incident: None,
    doc: "a key tbot does not know at that level (tbot rejects v2 files with one)",
    check: Check::Schema,
};

/// `entry` is not one of `fields` in the mapping at `path`.
pub(crate) fn report(checker: &mut Checker, entry: &Entry, fields: &[Field], path: &str) {
    let place = if path.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in `{path}`")
    };
    let mut message = format!("unknown key `{}` {place}", entry.key);
    let fix = if let Some(near) = schema::did_you_mean(&entry.key, fields.iter().map(|f| f.name)) {
        message.push_str(&format!("; did you mean `{near}`?"));
        Some(format!("rename it to `{near}`"))
    } else if let Some(home) = schema::home_of(&entry.key) {
        message.push_str(&format!("; `{}` belongs in {home}", entry.key));
        Some(format!("move it to {home}"))
    } else {
        Some("remove it: tbot refuses a v2 config with an unknown key".to_string())
    };
    let issue = checker.add(
        &RULE,
        entry.key_span.start,
        &join(path, &entry.key),
        message,
    );
    issue.fix = fix;
}
