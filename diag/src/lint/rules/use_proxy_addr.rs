//! `use-proxy-addr` (S6): what `TBOT_USE_PROXY_ADDR` in tbot's environment means for this config
//! (a note with `proxy_server`, an error with only `auth_server`, a warning for a value tbot
//! ignores). Whether DNS is split is never visible offline, so the proxy case stays a note that
//! says what was and was not checked.

use super::{Check, Rule};
use crate::incident::Incident;
use crate::lint::Severity;
use crate::lint::check::{Checker, Context};

pub(crate) const RULE: Rule = Rule {
    id: "use-proxy-addr",
    severities: &[Severity::Info, Severity::Warning, Severity::Error],
    incident: Some(Incident::SplitDns),
    doc: "what `TBOT_USE_PROXY_ADDR` does with this config",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let config = &context.config;
    let options = context.options;
    let known = options.tbot_env.as_ref();
    let value = known
        .and_then(|env| env.get("TBOT_USE_PROXY_ADDR"))
        .map(String::as_str)
        .filter(|v| !v.is_empty());
    let (severity, at, key, message, fix) = match (value, config.proxy_server, config.auth_server) {
        (Some("yes"), Some(proxy), _) => (
            Severity::Info,
            proxy.key_span.start,
            "proxy_server",
            format!(
                "TBOT_USE_PROXY_ADDR=yes: tbot connects to `{}` as written, not to the address the proxy advertises (split DNS); this needs TLS routing (multiplexing) on the proxy",
                proxy.value.as_str().unwrap_or("")
            ),
            None,
        ),
        (Some("yes"), None, Some(auth)) => (
            Severity::Error,
            auth.key_span.start,
            "auth_server",
            "TBOT_USE_PROXY_ADDR=yes needs `proxy_server`, but only `auth_server` is set: tbot refuses to start".to_string(),
            Some("unset TBOT_USE_PROXY_ADDR, or connect through the proxy with `proxy_server`".to_string()),
        ),
        (Some(other), _, _) if other != "yes" => (
            Severity::Warning,
            0,
            "",
            format!("TBOT_USE_PROXY_ADDR is `{other}`, but tbot honours only exactly `yes`"),
            Some("set TBOT_USE_PROXY_ADDR=yes, or unset it".to_string()),
        ),
        (None, Some(proxy), _) if known.is_some() => (
            Severity::Info,
            proxy.key_span.start,
            "proxy_server",
            "TBOT_USE_PROXY_ADDR is not set in tbot's environment, so tbot connects to the address the proxy advertises; whether this network resolves the proxy's name differently (split DNS) cannot be checked offline: if it does, set TBOT_USE_PROXY_ADDR=yes (needs TLS routing)".to_string(),
            None,
        ),
        (None, Some(proxy), _) => (
            Severity::Info,
            proxy.key_span.start,
            "proxy_server",
            "tbot's environment was not given (--env KEY=VALUE or --unit tbot.service), so TBOT_USE_PROXY_ADDR and split DNS cannot be checked offline: if tbot must reach the proxy under this name while the proxy advertises another, set TBOT_USE_PROXY_ADDR=yes in tbot's environment (needs TLS routing)".to_string(),
            None,
        ),
        _ => return,
    };
    let issue = checker.add_as(&RULE, severity, at, key, message);
    issue.fix = fix;
}
