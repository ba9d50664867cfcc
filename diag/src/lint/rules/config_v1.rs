//! `config-v1`: a v1 config (or no `version:`), which tbot migrates in memory: a note while the
//! target does so (an error once a release removes it); v2 files without `version:` are read
//! as v1, a warning, and get it added by `--fix`. A v1 file is then checked against the v1
//! schema (`lint/v1.rs`), not the v2 one.

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::Checker;
use crate::lint::release;
use crate::tbot_release as facts;
use crate::yaml::edit;
use crate::yaml::{Map, Node};

pub(crate) const RULE: Rule = Rule {
    id: "config-v1",
    severities: &[Severity::Info, Severity::Warning, Severity::Error],
    incident: None,
    doc: "a v1 config, migrated by tbot in memory (a note; an error once removed), or v2 keys without `version:` (a warning; fixable)",
    check: Check::Document,
};

/// Checks the version of the top-level mapping `map` of `root`; false when the file is v1 and
/// the v2 rules do not apply.
pub(crate) fn check(checker: &mut Checker, root: &Node, map: &Map) -> bool {
    let src = checker.src;
    let v1 = release::deprecation(checker.release, facts::CONFIG_V1_REMOVED);
    match map.get("version") {
        Some(version) if version.value.as_str() == Some("v1") => {
            let message = "`version: v1` is deprecated: tbot migrates it in memory; rewrite it as v2 (`services:` entries with `type:`, `storage:` with `type:`)".to_string();
            checker.add_as(&RULE, v1, version.value.span.start, "version", message);
            return false;
        }
        Some(_) => {}
        None if looks_v1(map) => {
            let message = "a v1 config (no `version:`, v1 keys): deprecated, tbot migrates it in memory; rewrite it as v2".to_string();
            checker.add_as(&RULE, v1, root.span.start, "version", message);
            return false;
        }
        None => {
            let message = "no `version:` key: tbot reads such a file as a v1 config, and v2 keys then fail; add `version: v2`".to_string();
            let edit = edit::insert_first_line(src, map, "version: v2");
            let issue = checker.add_as(
                &RULE,
                Severity::Warning,
                root.span.start,
                "version",
                message,
            );
            issue.fix = Some("add `version: v2` as the first key".to_string());
            issue.edits.extend(edit);
        }
    }
    true
}

/// v1 files name outputs under `destinations:` and storage as `storage: {directory: ...}`.
fn looks_v1(map: &Map) -> bool {
    map.get("destinations").is_some()
        || map
            .get("storage")
            .and_then(|e| e.value.as_map())
            .is_some_and(|s| s.get("directory").is_some() || s.get("memory").is_some())
}

#[cfg(test)]
mod tests {
    use crate::lint::LintOptions;
    use crate::lint::rules::test_findings;

    fn read_as_v1(config: &str) -> bool {
        test_findings(config, &LintOptions::default(), "config-v1")
            .iter()
            .any(|f| f.message.starts_with("a v1 config"))
    }

    #[test]
    fn either_v1_key_alone_marks_an_unversioned_file_as_v1() {
        assert!(read_as_v1("destinations:\n  - directory: /opt/out\n"));
        assert!(read_as_v1("storage:\n  directory: /var/lib/teleport/bot\n"));
        assert!(read_as_v1("storage:\n  memory: {}\n"));
        assert!(!read_as_v1("storage:\n  type: memory\n"));
        assert!(!read_as_v1("auth_server: a:3025\n"));
    }
}
