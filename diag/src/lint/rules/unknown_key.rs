//! `unknown-key`: a key tbot does not know at that level (tbot rejects a v2 file with one), with
//! the nearest known key or the section it belongs in; found by the schema walk.

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, join};
use crate::lint::schema::{self, Field};
use crate::yaml::{Entry, Map, edit};

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

/// `entry` is in the schema but not in the target release (`why` says since when). At the top
/// level, `credential_ttl` goes back to `certificate_ttl` (fixable when that is not set too).
pub(crate) fn report_not_in_release(
    checker: &mut Checker,
    map: &Map,
    entry: &Entry,
    path: &str,
    why: String,
) {
    let older_name = (path.is_empty() && entry.key == "credential_ttl")
        .then_some("certificate_ttl")
        .filter(|old| map.get(old).is_none());
    let issue = checker.add(
        &RULE,
        entry.key_span.start,
        &join(path, &entry.key),
        format!("{why}; give a newer --teleport-version if tbot is newer"),
    );
    match older_name {
        Some(old) => {
            issue.fix = Some(format!("rename it to `{old}`, its name in that release"));
            issue.edits.push(edit::rename_key(entry.key_span, old));
        }
        None => {
            issue.fix = Some("remove it: that release has no such setting here".to_string());
        }
    }
}
