//! `ttl-below-interval`: a `renewal_interval` not shorter than the `credential_ttl` in force, so
//! certificates expire before tbot renews them.

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, Context, join};

pub(crate) const RULE: Rule = Rule {
    id: "ttl-below-interval",
    severities: &[Severity::Warning],
    incident: None,
    doc: "`renewal_interval` not shorter than `credential_ttl`",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    for scope in context.config.ttl_scopes() {
        if scope.interval < scope.ttl {
            continue;
        }
        let Some(entry) = scope.interval_entry.or(scope.ttl_entry) else {
            continue;
        };
        let place = if scope.path.is_empty() {
            String::new()
        } else {
            format!(" in `{}`", scope.path)
        };
        let message = format!(
            "`renewal_interval` ({}) is not shorter than `credential_ttl` ({}){place}: certificates expire before tbot renews them",
            seconds(scope.interval),
            seconds(scope.ttl),
        );
        checker
            .add(
                &RULE,
                entry.key_span.start,
                &join(&scope.path, &entry.key),
                message,
            )
            .fix = Some(
            "make renewal_interval about a third of credential_ttl (defaults: 20m and 1h)"
                .to_string(),
        );
    }
}

fn seconds(value: f64) -> String {
    let whole = value.round() as i64;
    if whole % 3600 == 0 {
        format!("{}h", whole / 3600)
    } else if whole % 60 == 0 {
        format!("{}m", whole / 60)
    } else {
        format!("{whole}s")
    }
}
