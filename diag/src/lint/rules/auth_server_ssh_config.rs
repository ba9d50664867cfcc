//! `auth-server-ssh-config` (S7): with only `auth_server`, an identity output writing ssh_config
//! needs the proxy anyway; `--fix` sets `ssh_config: "off"`.

use super::{Check, Rule};
use crate::incident::Incident;
use crate::lint::Severity;
use crate::lint::check::{Checker, Context, join};
use crate::yaml::Value;
use crate::yaml::edit;

pub(crate) const RULE: Rule = Rule {
    id: "auth-server-ssh-config",
    severities: &[Severity::Warning],
    incident: Some(Incident::NoProxy),
    doc: "`auth_server` only and an identity output whose `ssh_config` is not `off` (fixable)",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let config = &context.config;
    if config.auth_server.is_none() || config.proxy_server.is_some() {
        return;
    }
    let src = checker.src;
    for service in config.services.iter().filter(|s| s.kind == "identity") {
        let current = service.map.get("ssh_config");
        if current.and_then(|e| e.value.as_str()) == Some("off") {
            continue;
        }
        let (at, key) = match current {
            Some(entry) => (entry.key_span.start, join(&service.path, "ssh_config")),
            None => (service.node.span.start, service.path.clone()),
        };
        let message = format!(
            "identity output `{}` writes ssh_config, which needs the proxy, but only `auth_server` is set: when tbot cannot reach the proxy it logs \"Failed to ping proxy\" and the output fails. Set `ssh_config: \"off\"` if nothing needs ssh_config; otherwise give tbot network access to the proxy",
            service.path
        );
        let edit = match current {
            Some(entry) if matches!(entry.value.value, Value::Scalar(_) | Value::Null) => {
                Some(edit::set_value(src, &entry.value, "\"off\""))
            }
            Some(_) => None,
            None => edit::insert_entry(src, service.node, "", "ssh_config", "\"off\""),
        };
        let issue = checker.add(&RULE, at, &key, message);
        issue.fix = Some("set `ssh_config: \"off\"` on this output".to_string());
        issue.edits.extend(edit);
    }
}
