//! `service-roles`: a service or output with a non-empty `roles:`. Teleport 19 refuses it
//! (per-service role impersonation was removed); before 19 it is a note that the upgrade will
//! need a change. Not fixable: dropping `roles:` gives the output every role of the bot.

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, Context, join};
use crate::lint::release;
use crate::tbot_release::{self as facts, first_releases};
use crate::yaml::Value;

pub(crate) const RULE: Rule = Rule {
    id: "service-roles",
    severities: &[Severity::Info, Severity::Error],
    incident: None,
    doc: "a service with its own `roles:`: an error from Teleport 19 (removed), a note before",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let target = context.options.target.release;
    let severity = release::deprecation(target, facts::SERVICE_ROLES_REMOVED);
    let removed = first_releases(facts::SERVICE_ROLES_REMOVED);
    for service in &context.config.services {
        let Some(roles) = service.map.get("roles") else {
            continue;
        };
        // Only a list of roles counts; another shape is the schema walk's wrong-type.
        if !matches!(&roles.value.value, Value::Seq(items) if !items.is_empty()) {
            continue;
        }
        let message = if severity == Severity::Error {
            format!(
                "`{}` sets its own `roles:`: tbot {target} refuses it (per-service roles were removed in Teleport {removed})",
                service.path
            )
        } else {
            format!(
                "`{}` sets its own `roles:`, which Teleport {removed} removes: tbot will then refuse this config",
                service.path
            )
        };
        checker
            .add_as(
                &RULE,
                severity,
                roles.key_span.start,
                &join(&service.path, "roles"),
                message,
            )
            .fix = Some("remove `roles:` only if the output may have every role of the bot (that can widen its access); otherwise run a separate bot with just these roles".to_string());
    }
}
