//! `deprecated-key`: `certificate_ttl`, the old name of `credential_ttl`, on a release that has
//! the new name: a note while tbot reads it (an error once a release removes it), renamed by
//! `--fix`. On releases before `credential_ttl` it is the right name: no finding.

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, Context};
use crate::lint::release;
use crate::tbot_release::{self as facts, first_releases};
use crate::yaml::edit;

pub(crate) const RULE: Rule = Rule {
    id: "deprecated-key",
    severities: &[Severity::Info, Severity::Error],
    incident: None,
    doc: "`certificate_ttl` where the target has `credential_ttl`: a note (an error once removed); fixable",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let Some(entry) = context.config.map.get("certificate_ttl") else {
        return;
    };
    let target = context.options.target.release;
    if !target.has(facts::CREDENTIAL_TTL) {
        return;
    }
    let severity = release::deprecation(target, facts::CERTIFICATE_TTL_REMOVED);
    let since = first_releases(facts::CREDENTIAL_TTL);
    if context.config.map.get("credential_ttl").is_some() {
        let message = format!(
            "`certificate_ttl` is the old name of `credential_ttl` (since Teleport {since}); both are set and tbot {target} uses `credential_ttl`"
        );
        checker
            .add_as(
                &RULE,
                severity,
                entry.key_span.start,
                "certificate_ttl",
                message,
            )
            .fix = Some("remove `certificate_ttl`".to_string());
        return;
    }
    let message = format!(
        "`certificate_ttl` is the old name of `credential_ttl` (since Teleport {since}); tbot {target} reads it with a deprecation warning"
    );
    let issue = checker.add_as(
        &RULE,
        severity,
        entry.key_span.start,
        "certificate_ttl",
        message,
    );
    issue.fix = Some("rename it to `credential_ttl`".to_string());
    issue
        .edits
        .push(edit::rename_key(entry.key_span, "credential_ttl"));
}
