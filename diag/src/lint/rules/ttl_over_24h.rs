//! `ttl-over-24h`: a `credential_ttl` over the 24h the auth service allows for bot certificates.

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, Context, join};

pub(crate) const RULE: Rule = Rule {
    id: "ttl-over-24h",
    severities: &[Severity::Warning],
    incident: None,
    doc: "`credential_ttl` over the 24h the auth service allows",
    check: Check::Config(check),
};

const MAX_TTL: f64 = 24.0 * 3600.0;

fn check(checker: &mut Checker, context: &Context) {
    for scope in context.config.ttl_scopes() {
        let Some(entry) = scope.ttl_entry.filter(|_| scope.ttl > MAX_TTL) else {
            continue;
        };
        let key = join(&scope.path, &entry.key);
        let message = format!(
            "`{key}: {}` is over 24h: the auth service caps bot certificates at 24h (and the bot role's max_session_ttl, 12h by default)",
            entry.value.as_str().unwrap_or("")
        );
        checker.add(&RULE, entry.key_span.start, &key, message).fix =
            Some("use 24h or less".to_string());
    }
}
