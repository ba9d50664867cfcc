//! `deprecated-outputs`: `outputs:` instead of `services:`; renamed by `--fix` when there is no
//! `services:` to merge with.

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, Context};
use crate::yaml::edit;

pub(crate) const RULE: Rule = Rule {
    id: "deprecated-outputs",
    severities: &[Severity::Warning],
    incident: None,
    doc: "deprecated `outputs:` instead of `services:` (fixable when no `services:`)",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let config = &context.config;
    let Some(outputs) = config.map.get("outputs") else {
        return;
    };
    if config.map.get("services").is_some() {
        let message =
            "`outputs:` is deprecated and `services:` is also set; tbot merges them".to_string();
        checker
            .add(&RULE, outputs.key_span.start, "outputs", message)
            .fix = Some("move the `outputs:` entries into `services:`".to_string());
    } else {
        let message = "`outputs:` is deprecated; it is now called `services:`".to_string();
        let issue = checker.add(&RULE, outputs.key_span.start, "outputs", message);
        issue.fix = Some("rename `outputs:` to `services:`".to_string());
        issue
            .edits
            .push(edit::rename_key(outputs.key_span, "services"));
    }
}
