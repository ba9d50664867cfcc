//! `deprecated-key`: `certificate_ttl`, the old name of `credential_ttl`.

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, Context};

pub(crate) const RULE: Rule = Rule {
    id: "deprecated-key",
    severities: &[Severity::Warning],
    incident: None,
    doc: "`certificate_ttl` instead of `credential_ttl`",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let Some(entry) = context.config.map.get("certificate_ttl") else {
        return;
    };
    let message = "`certificate_ttl` is the old name of `credential_ttl`".to_string();
    checker
        .add(&RULE, entry.key_span.start, "certificate_ttl", message)
        .fix = Some("rename it to `credential_ttl`".to_string());
}
