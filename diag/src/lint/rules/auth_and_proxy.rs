//! `auth-and-proxy`: `auth_server` and `proxy_server` both set; tbot accepts only one.

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, Context};

pub(crate) const RULE: Rule = Rule {
    id: "auth-and-proxy",
    severities: &[Severity::Error],
    incident: None,
    doc: "`auth_server` and `proxy_server` both set",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let config = &context.config;
    if let (Some(_), Some(proxy)) = (config.auth_server, config.proxy_server) {
        let message =
            "`auth_server` and `proxy_server` are both set; tbot accepts only one".to_string();
        checker.add(&RULE, proxy.key_span.start, "proxy_server", message).fix = Some(
            "keep `proxy_server` to go through the proxy (needed for ssh_config and TLS routing), or `auth_server` to reach the auth service directly".to_string(),
        );
    }
}
