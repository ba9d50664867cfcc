//! `unknown-key`: a key tbot does not know at that level, with the nearest known key or the
//! section it belongs in; found by the schema walk. tbot rejects a v2 file with one (an error)
//! and ignores it in a v1 file, where the setting then silently has no effect (a warning).

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, join};
use crate::lint::schema::{self, Field};
use crate::yaml::{Entry, Map, edit};

pub(crate) const RULE: Rule = Rule {
    id: "unknown-key",
    severities: &[Severity::Error, Severity::Warning],
    incident: None,
    doc: "a key tbot does not know at that level (error: tbot rejects v2 files with one; warning in v1 files, where tbot ignores it)",
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
    } else if let Some(home) = (!checker.v1).then(|| schema::home_of(&entry.key)).flatten() {
        message.push_str(&format!("; `{}` belongs in {home}", entry.key));
        Some(format!("move it to {home}"))
    } else {
        Some("remove it: tbot refuses a v2 config with an unknown key".to_string())
    };
    let severity = if checker.v1 {
        message.push_str(" (tbot ignores unknown keys in a v1 file: this setting has no effect)");
        Severity::Warning
    } else {
        Severity::Error
    };
    let fix = if checker.v1 && fix.as_deref().is_some_and(|f| f.starts_with("remove it")) {
        Some("remove it, or rewrite the file as v2".to_string())
    } else {
        fix
    };
    let issue = checker.add_as(
        &RULE,
        severity,
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
