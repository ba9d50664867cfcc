//! `token-path-missing`: `onboarding.token` is an absolute path (tbot reads the token from that
//! file) that does not exist.

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, Context};
use std::path::Path;

pub(crate) const RULE: Rule = Rule {
    id: "token-path-missing",
    severities: &[Severity::Error],
    incident: None,
    doc: "`onboarding.token` is a path that does not exist",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let config = &context.config;
    let Some(entry) = config.onboarding_value("token") else {
        return;
    };
    let Some(token) = entry.value.as_str() else {
        return;
    };
    // Only a path is shown: tokens themselves are secrets and never printed.
    if token.starts_with('/') && !Path::new(token).exists() {
        let message = format!(
            "`onboarding.token` is a path, `{token}`, that does not exist: tbot reads the token from that file"
        );
        checker
            .add(&RULE, entry.value.span.start, "onboarding.token", message)
            .fix = Some("write the token to that file, or fix the path".to_string());
    }
}
