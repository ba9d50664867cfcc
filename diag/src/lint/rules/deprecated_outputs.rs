//! `deprecated-outputs`: `outputs:` on a release whose `services:` holds the same kinds; a note
//! while tbot reads it (an error once a release removes it), renamed by `--fix` when there is no
//! `services:` to merge with. On older releases `outputs:` is the only form: no finding.

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, Context};
use crate::lint::release;
use crate::tbot_release::{self as facts, first_releases};
use crate::yaml::edit;

pub(crate) const RULE: Rule = Rule {
    id: "deprecated-outputs",
    severities: &[Severity::Info, Severity::Error],
    incident: None,
    doc: "`outputs:` where the target's `services:` holds the same kinds: a note (an error once removed); fixable when no `services:`",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let config = &context.config;
    let Some(outputs) = config.map.get("outputs") else {
        return;
    };
    let target = context.options.target.release;
    if !target.has(facts::SERVICES_HOLD_OUTPUTS) {
        return;
    }
    let severity = release::deprecation(target, facts::OUTPUTS_REMOVED);
    let since = first_releases(facts::SERVICES_HOLD_OUTPUTS);
    if config.map.get("services").is_some() {
        let message = format!(
            "`outputs:` is deprecated (since Teleport {since}) and `services:` is also set; tbot {target} merges them"
        );
        checker
            .add_as(&RULE, severity, outputs.key_span.start, "outputs", message)
            .fix = Some("move the `outputs:` entries into `services:`".to_string());
    } else {
        let message = format!(
            "`outputs:` is deprecated (since Teleport {since}); tbot {target} reads it as `services:`"
        );
        let issue = checker.add_as(&RULE, severity, outputs.key_span.start, "outputs", message);
        issue.fix = Some("rename `outputs:` to `services:`".to_string());
        issue
            .edits
            .push(edit::rename_key(outputs.key_span, "services"));
    }
}
