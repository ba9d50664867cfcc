//! `auth-server-ssh-config` (S7): with only `auth_server`, an identity output writing ssh_config
//! needs the proxy anyway; `--fix` sets `ssh_config: "off"`.
//!
//! tbot before v19 dials an `auth_server` directly and, when that fails, as a proxy
//! ([`tbot_release::AUTH_SERVER_ONLY_AUTH`]), so `auth_server` naming a proxy is no S7 there
//! (a note says `proxy_server` is the key for it); for a target from v19 on, a proxy address in
//! `auth_server` is the defect itself, and the warning says to rename the key. A proxy is known by its port
//! (443 or 3080) or, with `--on-host`, by a Teleport proxy answering `/webapi/find` at the
//! address. A probe that gets no answer proves nothing (a firewall, a proxy down, this host not
//! the bot's), so the warning then stays, saying what the probe saw.
//!
//! Whether tbot reaches the proxy is a fact of the bot's network, not of the file: off the bot's
//! host (no `--on-host`) S7 for an address not known to be a proxy is a note saying so, with the
//! advice but no `--fix` edit (turning ssh_config off would break a config whose bot does reach
//! the proxy); on the host it is the warning, fixable.

use super::{Check, Rule};
use crate::incident::Incident;
use crate::lint::check::{Checker, Context, join};
use crate::lint::{ProxyProbe, Severity};
use crate::tbot_release;
use crate::yaml::Value;
use crate::yaml::edit;

pub(crate) const RULE: Rule = Rule {
    id: "auth-server-ssh-config",
    severities: &[Severity::Warning, Severity::Info],
    incident: Some(Incident::NoProxy),
    doc: "`auth_server` only and an identity output whose `ssh_config` is not `off` (a warning, fixable, with `--on-host`; a note off the bot's host); a proxy address in `auth_server` is a note before v19, a warning from v19",
    check: Check::Config(check),
};

/// Ports only a Teleport proxy listens on: its web port and the TLS-routing default.
const PROXY_PORTS: [u16; 2] = [443, 3080];

/// What is known of the address in `auth_server`.
enum Address {
    /// A proxy: why it is known to be one.
    Proxy(String),
    /// Not known to be a proxy: what was tried (empty when nothing was).
    Unknown(String),
}

/// The port of `host:port` (or `[v6]:port`, with an optional `https://`), if written.
pub(crate) fn port_of(address: &str) -> Option<u16> {
    let address = address.trim();
    let address = address
        .strip_prefix("https://")
        .or_else(|| address.strip_prefix("tcp://"))
        .unwrap_or(address);
    let address = address.split('/').next().unwrap_or(address);
    let port = if let Some(rest) = address.strip_prefix('[') {
        rest.split_once("]:")?.1
    } else {
        let (host, port) = address.rsplit_once(':')?;
        if host.contains(':') {
            return None;
        }
        port
    };
    port.parse().ok()
}

fn classify(address: &str, context: &Context) -> Address {
    if let Some(port) = port_of(address).filter(|p| PROXY_PORTS.contains(p)) {
        return Address::Proxy(format!("port {port} is a Teleport proxy's"));
    }
    if port_of(address) == Some(mwi_identity::tls::DEFAULT_AUTH_PORT) {
        return Address::Unknown(String::new());
    }
    let options = context.options;
    let probe = match options.proxy_probe {
        Some(probe) if options.on_host => probe,
        _ => {
            return Address::Unknown(format!(
                ". If `{address}` is a Teleport proxy, tbot before v19 uses it as one and this does not apply: run lint with --on-host on the bot's host to ask it"
            ));
        }
    };
    match probe(address) {
        ProxyProbe::Proxy(what) => Address::Proxy(format!(
            "a Teleport proxy answered at https://{address}/webapi/find ({what})"
        )),
        ProxyProbe::NotProxy(what) => Address::Unknown(format!(
            ". https://{address}/webapi/find answered, but not as a Teleport proxy ({what})"
        )),
        ProxyProbe::NoAnswer(why) => Address::Unknown(format!(
            ". No Teleport proxy answered at https://{address}/webapi/find ({why}); that proves nothing either way, so the warning stays"
        )),
    }
}

fn check(checker: &mut Checker, context: &Context) {
    let config = &context.config;
    let Some(auth) = config.auth_server.filter(|_| config.proxy_server.is_none()) else {
        return;
    };
    let writing: Vec<_> = config
        .services
        .iter()
        .filter(|s| s.kind == "identity")
        .filter(|s| s.map.get("ssh_config").and_then(|e| e.value.as_str()) != Some("off"))
        .collect();
    if writing.is_empty() {
        return;
    }
    let address = auth.value.as_str().unwrap_or("");
    let unknown = match classify(address, context) {
        Address::Proxy(why)
            if context
                .options
                .target
                .has(tbot_release::AUTH_SERVER_ONLY_AUTH) =>
        {
            let message = format!(
                "`auth_server: {address}` is a proxy address ({why}), but tbot {} and later dial `auth_server` only as an auth service, so tbot cannot connect (and ssh_config cannot reach the proxy); a proxy belongs in `proxy_server`",
                tbot_release::first_releases(tbot_release::AUTH_SERVER_ONLY_AUTH)
            );
            checker
                .add(&RULE, auth.key_span.start, "auth_server", message)
                .fix = Some(format!(
                "rename `auth_server` to `proxy_server`: `proxy_server: {address}`"
            ));
            return;
        }
        Address::Proxy(why) => {
            let message = format!(
                "`auth_server: {address}` is a proxy address ({why}): tbot before v19 connects to it as a proxy, so ssh_config can reach the proxy; `proxy_server` is the key for a proxy (tbot 19 and later dial `auth_server` only as an auth service)"
            );
            checker
                .add_as(
                    &RULE,
                    Severity::Info,
                    auth.key_span.start,
                    "auth_server",
                    message,
                )
                .fix = Some(format!(
                "rename `auth_server` to `proxy_server`: `proxy_server: {address}`"
            ));
            return;
        }
        Address::Unknown(tried) => tried,
    };
    let src = checker.src;
    let on_host = context.options.on_host;
    for service in writing {
        let current = service.map.get("ssh_config");
        let (at, key) = match current {
            Some(entry) => (entry.key_span.start, join(&service.path, "ssh_config")),
            None => (service.node.span.start, service.path.clone()),
        };
        let message = format!(
            "identity output `{}` writes ssh_config, which needs the proxy, but only `auth_server` is set: when tbot cannot reach the proxy it logs \"Failed to ping proxy\" and the output fails. Set `ssh_config: \"off\"` if nothing needs ssh_config; otherwise give tbot network access to the proxy{unknown}",
            service.path
        );
        if !on_host {
            let message = format!(
                "{message}. Whether tbot reaches the proxy from its host is not checked here: run lint with --on-host on the bot's host"
            );
            checker.add_as(&RULE, Severity::Info, at, &key, message).fix = Some(
                "if the bot cannot reach the proxy, set `ssh_config: \"off\"` on this output"
                    .to_string(),
            );
            continue;
        }
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

#[cfg(test)]
mod tests {
    use super::port_of;
    use crate::lint::rules::test_findings;
    use crate::lint::{LintOptions, ProxyProbe, Severity};

    fn config(auth: &str) -> String {
        format!(
            "version: v2\nauth_server: {auth}\nservices:\n  - type: identity\n    destination: {{type: directory, path: /opt/out}}\n"
        )
    }

    fn severities(auth: &str, options: &LintOptions) -> Vec<Severity> {
        test_findings(&config(auth), options, "auth-server-ssh-config")
            .into_iter()
            .map(|f| f.severity)
            .collect()
    }

    fn answers_as_proxy(_: &str) -> ProxyProbe {
        ProxyProbe::Proxy("cluster example.com, Teleport 17.4.2".to_string())
    }

    fn does_not_answer(_: &str) -> ProxyProbe {
        ProxyProbe::NoAnswer("connection refused".to_string())
    }

    fn on_host(probe: fn(&str) -> ProxyProbe) -> LintOptions {
        LintOptions {
            on_host: true,
            proxy_probe: Some(probe),
            ..LintOptions::default()
        }
    }

    #[test]
    fn ports_are_read_from_the_address_forms_tbot_takes() {
        assert_eq!(port_of("teleport.example.com:443"), Some(443));
        assert_eq!(port_of("https://teleport.example.com:3080/"), Some(3080));
        assert_eq!(port_of("[::1]:3025"), Some(3025));
        assert_eq!(port_of("teleport.example.com"), None);
        assert_eq!(port_of("::1"), None);
        assert_eq!(port_of("host:notaport"), None);
    }

    #[test]
    fn a_proxy_port_in_auth_server_is_a_note_not_s7() {
        let options = LintOptions::default();
        assert_eq!(
            severities("teleport.example.com:443", &options),
            [Severity::Info]
        );
        assert_eq!(
            severities("teleport.example.com:3080", &options),
            [Severity::Info]
        );
    }

    #[test]
    fn from_v19_a_proxy_in_auth_server_is_a_warning_to_rename_it() {
        let options = LintOptions {
            target: crate::lint::Target::new(
                crate::lint::target::Release::line(19),
                crate::lint::TargetSource::Flag,
                "19",
            ),
            ..LintOptions::default()
        };
        let found = test_findings(
            &config("teleport.example.com:443"),
            &options,
            "auth-server-ssh-config",
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Warning);
        assert_eq!(found[0].key, "auth_server");
        assert!(
            found[0].message.contains("19.0.0 and later"),
            "{}",
            found[0].message
        );
        assert!(!found[0].fixable, "renaming is no ssh_config edit");
    }

    #[test]
    fn off_the_host_s7_is_a_note_without_a_fix_and_on_it_a_fixable_warning() {
        let offline = test_findings(
            &config("auth.example.com:3025"),
            &LintOptions::default(),
            "auth-server-ssh-config",
        );
        assert_eq!(offline.len(), 1);
        assert_eq!(offline[0].severity, Severity::Info);
        assert!(!offline[0].fixable);
        assert!(
            offline[0].message.contains("not checked here")
                && offline[0].message.contains("--on-host"),
            "{}",
            offline[0].message
        );
        let on = test_findings(
            &config("auth.example.com:3025"),
            &on_host(does_not_answer),
            "auth-server-ssh-config",
        );
        assert_eq!(on.len(), 1);
        assert_eq!(on[0].severity, Severity::Warning);
        assert!(on[0].fixable);
    }

    #[test]
    fn the_auth_port_is_still_s7() {
        assert_eq!(
            severities("auth.example.com:3025", &on_host(answers_as_proxy)),
            [Severity::Warning],
            "3025 is not probed"
        );
    }

    #[test]
    fn another_port_is_s7_unless_a_proxy_answers_on_the_host() {
        let offline = test_findings(
            &config("teleport.example.com:8443"),
            &LintOptions::default(),
            "auth-server-ssh-config",
        );
        assert_eq!(offline.len(), 1);
        assert_eq!(offline[0].severity, Severity::Info);
        assert!(
            !offline[0].fixable,
            "off the host, --fix leaves ssh_config alone"
        );
        assert!(
            offline[0].message.contains("--on-host"),
            "{}",
            offline[0].message
        );
        // The probe runs only on the host.
        let not_on_host = LintOptions {
            proxy_probe: Some(answers_as_proxy),
            ..LintOptions::default()
        };
        let unasked = test_findings(
            &config("teleport.example.com:8443"),
            &not_on_host,
            "auth-server-ssh-config",
        );
        assert_eq!(unasked.len(), 1);
        assert_eq!(unasked[0].severity, Severity::Info);
        assert!(
            !unasked[0].message.contains("a Teleport proxy answered")
                && unasked[0].message.contains("not checked here"),
            "{}",
            unasked[0].message
        );

        let answered = test_findings(
            &config("teleport.example.com"),
            &on_host(answers_as_proxy),
            "auth-server-ssh-config",
        );
        assert_eq!(answered.len(), 1);
        assert_eq!(answered[0].severity, Severity::Info);
        assert!(
            answered[0].message.contains("Teleport 17.4.2"),
            "{}",
            answered[0].message
        );

        let silent = test_findings(
            &config("teleport.example.com:8443"),
            &on_host(does_not_answer),
            "auth-server-ssh-config",
        );
        assert_eq!(silent.len(), 1);
        assert_eq!(silent[0].severity, Severity::Warning);
        assert!(
            silent[0].message.contains("connection refused"),
            "{}",
            silent[0].message
        );
    }
}
