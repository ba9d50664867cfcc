//! The tbot.yaml files `mwictl lab break` writes: one per scenario, commented like an operator's
//! file, each with exactly the mistake (or the setting) its incident needs.

use std::path::Path;

use mwi_diag::incident::Incident;

/// The first line of every file `lab break` writes; a tbot.yaml without it is not ours to replace.
pub const MARKER: &str = "# Written by mwictl lab break";

/// Where the lint-only scenarios (S5–S7) point: the seed's example cluster, never contacted.
pub const EXAMPLE_AUTH: &str = "teleport.example.com:3025";
pub const EXAMPLE_PROXY: &str = "teleport.example.com:443";

/// The token the lint-only scenarios write: they run no agent, so no join happens.
pub const PLACEHOLDER_TOKEN: &str = "REPLACE-WITH-A-JOIN-TOKEN";

/// What goes into a file.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub scenario: Incident,
    pub bot: &'a str,
    /// `HOST:PORT` of the lab (S1–S4, S7 for real); the lint-only scenarios use the example
    /// cluster.
    pub auth_server: &'a str,
    /// `HOST:PORT` of the lab proxy (S6 for real).
    pub proxy_server: Option<&'a str>,
    /// The join token: one-time (S1–S4), bound-keypair (S8–S12), else [`PLACEHOLDER_TOKEN`].
    pub token: &'a str,
    /// The bound-keypair token's registration secret (S8–S12): `onboarding.join_method` is
    /// then `bound_keypair`.
    pub registration_secret: Option<&'a str>,
    /// The lab's CA certificate (S1–S4).
    pub ca_path: Option<&'a Path>,
    pub data_dir: &'a Path,
    /// Destination of the output, for the scenarios with one.
    pub out_dir: &'a Path,
    /// The SSH login the S3 output is for (the agent checks it with `--ssh-login`).
    pub login: &'a str,
    /// The database the S4 output asks for.
    pub db: &'a str,
}

/// Which server a scenario's file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    /// The lab auth service, which the agents join (S1–S4, S7 for real).
    Lab,
    /// The lab proxy, which advertises an address this host cannot reach (S6 for real).
    LabProxy,
    /// The example cluster's auth service, never contacted.
    ExampleAuth,
    /// The example cluster's proxy, never contacted.
    ExampleProxy,
}

/// S6 and S7 name the lab when they are reproduced for real (a lab CA to trust is given).
fn server(i: &Inputs) -> Server {
    let real = i.ca_path.is_some();
    match i.scenario {
        Incident::GenerationMismatch
        | Incident::Expired
        | Incident::SshLogin
        | Incident::DbAccess
        | Incident::BkExhausted
        | Incident::BkJoinState
        | Incident::BkTokenWiped
        | Incident::BkKeypairLost
        | Incident::BkRollback => Server::Lab,
        Incident::NoProxy if real => Server::Lab,
        Incident::K8sSecret | Incident::NoProxy => Server::ExampleAuth,
        Incident::SplitDns if real && i.proxy_server.is_some() => Server::LabProxy,
        Incident::SplitDns => Server::ExampleProxy,
    }
}

/// The file's text.
pub fn render(i: &Inputs) -> String {
    let mut y = String::new();
    let lab = i.scenario.lab();
    y.push_str(&format!("{MARKER} {} --bot {}\n", lab.name, i.bot));
    y.push_str(&format!(
        "# tbot configuration of bot {:?}: {}.\n",
        i.bot, lab.title
    ));
    y.push_str("version: v2\n");
    let server = server(i);
    match server {
        Server::LabProxy => {
            y.push_str(
                "# The lab proxy (`mwictl lab start --proxy-listen`). It advertises a public\n\
                 # address this host cannot reach (split DNS), and tbot connects to that one.\n\
                 # TBOT_USE_PROXY_ADDR is not set in tbot's environment.\n",
            );
            y.push_str(&format!(
                "proxy_server: {}\n",
                scalar(i.proxy_server.unwrap_or_default())
            ));
        }
        Server::ExampleProxy => {
            y.push_str(
                "# The proxy's public name. Inside this network it resolves (split DNS) to an\n\
                 # internal address, while the proxy advertises its public one.\n\
                 # TBOT_USE_PROXY_ADDR is not set in tbot's environment.\n",
            );
            y.push_str(&format!("proxy_server: {}\n", scalar(EXAMPLE_PROXY)));
        }
        Server::Lab => {
            y.push_str("# The lab auth service (`mwictl lab start`).\n");
            y.push_str(&format!("auth_server: {}\n", scalar(i.auth_server)));
        }
        Server::ExampleAuth => {
            y.push_str("# Straight to the auth service, no proxy in between.\n");
            y.push_str(&format!("auth_server: {}\n", scalar(EXAMPLE_AUTH)));
        }
    }
    if let Some(secret) = i.registration_secret {
        y.push_str(&bound_keypair_onboarding(i.token, secret));
    } else {
        y.push_str(&token_onboarding(i.token, server));
    }
    if let Some(ca) = i.ca_path {
        y.push_str("  # Trust the lab's CA on the first join.\n");
        y.push_str(&format!(
            "  ca_path: {}\n",
            scalar(&ca.display().to_string())
        ));
    }
    y.push_str(if i.registration_secret.is_some() {
        "# The bot's bound keypair (id_bkp), its join state and certificates. Exactly one tbot may\n\
         # use this directory: a copy shares the keypair but not the join state.\n"
    } else {
        "# The bot's own key and renewable certificate. Exactly one tbot may use this directory.\n"
    });
    y.push_str(&format!(
        "storage:\n  type: directory\n  path: {}\n",
        scalar(&i.data_dir.display().to_string())
    ));
    y.push_str("credential_ttl: 1h\nrenewal_interval: 20m\n");
    y.push_str(&services(i));
    y
}

/// The onboarding block of a one-time `token` join (tbot.yaml's start, up to `ca_path`).
fn token_onboarding(token: &str, server: Server) -> String {
    let mut y = String::from("onboarding:\n  join_method: token\n");
    if matches!(server, Server::Lab | Server::LabProxy) {
        y.push_str(
            "  # One-time token: the first join spends it. `mwictl recover` writes a new one here.\n",
        );
    } else {
        y.push_str("  # Put the one-time token from `tctl bots add --legacy` here.\n");
    }
    y.push_str(&format!("  token: {}\n", scalar(token)));
    y
}

/// The onboarding block of a bound-keypair join, with tbot's keys (lib/tbot/bot/onboarding,
/// v18+): the token's name in `token`, the secret under `bound_keypair`.
fn bound_keypair_onboarding(token: &str, secret: &str) -> String {
    format!(
        "onboarding:\n\
         \x20 join_method: bound_keypair\n\
         \x20 # The bound-keypair token: not spent by a join; every recovery uses it again.\n\
         \x20 token: {}\n\
         \x20 bound_keypair:\n\
         \x20   # Registers the key tbot makes on its first join; tbot stops sending it once it\n\
         \x20   # holds join state (bkp_state in storage).\n\
         \x20   registration_secret: {}\n",
        scalar(token),
        scalar(secret)
    )
}

fn services(i: &Inputs) -> String {
    let out = scalar(&i.out_dir.display().to_string());
    match i.scenario {
        Incident::GenerationMismatch
        | Incident::Expired
        | Incident::BkExhausted
        | Incident::BkJoinState
        | Incident::BkTokenWiped
        | Incident::BkKeypairLost
        | Incident::BkRollback => "services: []\n".to_string(),
        Incident::SshLogin => format!(
            "services:\n\
             \x20 # SSH for the deploy job: an identity file for `ssh {login}@node`.\n\
             \x20 - type: identity\n\
             \x20   destination:\n\
             \x20     type: directory\n\
             \x20     path: {out}\n\
             \x20   # No `roles:`: the output gets every role of the bot (tbot 19 removed\n\
             \x20   # per-service roles).\n\
             \x20   # The lab auth service has no proxy to ping for ssh_config.\n\
             \x20   ssh_config: \"off\"\n",
            login = scalar(i.login),
        ),
        Incident::DbAccess => format!(
            "services:\n\
             \x20 # Credentials for the reporting job's database.\n\
             \x20 - type: database\n\
             \x20   service: {db}\n\
             \x20   database: {db}\n\
             \x20   username: alice\n\
             \x20   # No `roles:`: the output gets every role of the bot (tbot 19 removed\n\
             \x20   # per-service roles).\n\
             \x20   destination:\n\
             \x20     type: directory\n\
             \x20     path: {out}\n",
            db = scalar(i.db),
        ),
        Incident::K8sSecret => "services:\n\
             \x20 # A kubeconfig for the CI job, kept in a Kubernetes secret.\n\
             \x20 - type: kubernetes\n\
             \x20   kubernetes_cluster: example-k8s-cluster\n\
             \x20   destination:\n\
             \x20     type: kubernetes_secret\n\
             \x20     name: identity-output\n"
            .to_string(),
        Incident::SplitDns if i.ca_path.is_none() => format!(
            "services:\n\
             \x20 - type: identity\n\
             \x20   destination:\n\
             \x20     type: directory\n\
             \x20     path: {out}\n"
        ),
        Incident::SplitDns | Incident::NoProxy => format!(
            "services:\n\
             \x20 # An identity file and ssh_config for the deploy job.\n\
             \x20 - type: identity\n\
             \x20   destination:\n\
             \x20     type: directory\n\
             \x20     path: {out}\n"
        ),
    }
}

/// A YAML scalar: plain when that is unambiguous, else double-quoted (JSON's quoting is valid
/// YAML).
pub fn scalar(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:".contains(c))
        && text
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '/' || c == '.')
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        )
        && !text.ends_with(':')
        && !text.contains(": ");
    if plain {
        text.to_string()
    } else {
        serde_json::to_string(text).unwrap_or_else(|_| format!("{text:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_yaml_ng::Value;

    fn inputs(scenario: Incident) -> Inputs<'static> {
        Inputs {
            scenario,
            bot: "example",
            auth_server: "127.0.0.1:3025",
            proxy_server: None,
            token: "0123abcd",
            registration_secret: None,
            ca_path: matches!(
                scenario,
                Incident::GenerationMismatch
                    | Incident::Expired
                    | Incident::SshLogin
                    | Incident::DbAccess
            )
            .then_some(Path::new("/lab/ca.crt")),
            data_dir: Path::new("/bots/example/data"),
            out_dir: Path::new("/bots/example/out"),
            login: "bob",
            db: "example",
        }
    }

    fn parsed(scenario: Incident) -> Value {
        serde_yaml_ng::from_str(&render(&inputs(scenario))).unwrap()
    }

    #[test]
    fn every_file_is_yaml_that_starts_with_the_marker() {
        for scenario in Incident::ALL {
            let text = render(&inputs(scenario));
            assert!(text.starts_with(MARKER), "{text}");
            let value: Value = serde_yaml_ng::from_str(&text).unwrap();
            assert_eq!(value["version"], "v2");
            assert_eq!(value["storage"]["path"], "/bots/example/data");
        }
    }

    #[test]
    fn lab_scenarios_point_at_the_lab_with_its_ca_and_token() {
        let v = parsed(Incident::GenerationMismatch);
        assert_eq!(v["auth_server"], "127.0.0.1:3025");
        assert_eq!(v["onboarding"]["token"], "0123abcd");
        assert_eq!(v["onboarding"]["ca_path"], "/lab/ca.crt");
    }

    /// A bound-keypair scenario's inputs as `lab break` gives them.
    fn bound(scenario: Incident) -> Inputs<'static> {
        Inputs {
            token: "bot-example-0a6f812a",
            registration_secret: Some("5ecre7"),
            ca_path: Some(Path::new("/lab/ca.crt")),
            ..inputs(scenario)
        }
    }

    #[test]
    fn bound_keypair_scenarios_join_by_bound_keypair_with_the_token_name_and_secret() {
        let v: Value = serde_yaml_ng::from_str(&render(&bound(Incident::BkExhausted))).unwrap();
        let onboarding = &v["onboarding"];
        assert_eq!(onboarding["join_method"], "bound_keypair");
        assert_eq!(onboarding["token"], "bot-example-0a6f812a");
        assert_eq!(onboarding["bound_keypair"]["registration_secret"], "5ecre7");
        assert_eq!(onboarding["ca_path"], "/lab/ca.crt");
        assert_eq!(v["services"], Value::Sequence(vec![]));
    }

    #[test]
    fn ssh_login_output_asks_for_the_login_with_ssh_config_off() {
        let v = parsed(Incident::SshLogin);
        let output = &v["services"][0];
        assert_eq!(output["type"], "identity");
        assert!(output.get("ssh_login").is_none(), "tbot has no such key");
        assert_eq!(output["ssh_config"], "off");
        assert!(
            output.get("roles").is_none(),
            "tbot 19 refuses per-service roles"
        );
    }

    #[test]
    fn database_output_names_the_database() {
        let output = &parsed(Incident::DbAccess)["services"][0];
        assert_eq!(output["type"], "database");
        assert_eq!(output["service"], "example");
        assert_eq!(output["destination"]["path"], "/bots/example/out");
    }

    #[test]
    fn lint_scenarios_carry_their_mistake() {
        let k8s = &parsed(Incident::K8sSecret)["services"][0];
        assert_eq!(k8s["destination"]["type"], "kubernetes_secret");
        assert!(k8s.get("disable_exec_plugin").is_none());
        let dns = parsed(Incident::SplitDns);
        assert_eq!(dns["proxy_server"], EXAMPLE_PROXY);
        assert!(dns.get("auth_server").is_none());
        let noproxy = parsed(Incident::NoProxy);
        assert_eq!(noproxy["auth_server"], EXAMPLE_AUTH);
        assert!(noproxy["services"][0].get("ssh_config").is_none());
    }

    #[test]
    fn s6_and_s7_for_real_point_at_the_lab_proxy_and_the_lab() {
        let real = |scenario| {
            let text = render(&Inputs {
                proxy_server: Some("127.0.0.1:3080"),
                ca_path: Some(Path::new("/lab/ca.crt")),
                ..inputs(scenario)
            });
            serde_yaml_ng::from_str::<Value>(&text).unwrap()
        };
        let dns = real(Incident::SplitDns);
        assert_eq!(dns["proxy_server"], "127.0.0.1:3080");
        assert!(dns.get("auth_server").is_none());
        assert_eq!(dns["onboarding"]["ca_path"], "/lab/ca.crt");
        assert!(dns["services"][0].get("roles").is_none());
        let noproxy = real(Incident::NoProxy);
        assert_eq!(noproxy["auth_server"], "127.0.0.1:3025");
        assert!(noproxy.get("proxy_server").is_none());
        assert!(noproxy["services"][0].get("ssh_config").is_none());
        assert!(noproxy["services"][0].get("roles").is_none());
    }

    /// The rules `mwictl lint` reports for a scenario's file (no TBOT_USE_PROXY_ADDR).
    fn lint_rules(scenario: Incident) -> Vec<String> {
        lint_rules_at(scenario, mwi_diag::lint::Target::default())
    }

    /// The same, judged against `target` (the lab reports 18.0.0 or 19.0.0).
    fn lint_rules_at(scenario: Incident, target: mwi_diag::lint::Target) -> Vec<String> {
        lint_inputs_at(&inputs(scenario), target)
    }

    /// The rules `mwictl lint` reports for the file of `inputs`, judged against `target`.
    fn lint_inputs_at(inputs: &Inputs, target: mwi_diag::lint::Target) -> Vec<String> {
        // The lab's bot runs on this host, so the host checks apply.
        let options = mwi_diag::lint::LintOptions {
            tbot_env: None,
            network_fs: |_| None,
            on_host: true,
            target,
            ..mwi_diag::lint::LintOptions::default()
        };
        let report = mwi_diag::lint::lint_source("tbot.yaml", &render(inputs), &options);
        report.findings.into_iter().map(|f| f.rule).collect()
    }

    #[test]
    fn lint_finds_exactly_each_lint_scenarios_mistake() {
        assert_eq!(lint_rules(Incident::K8sSecret), ["kube-secret-exec-plugin"]);
        assert_eq!(lint_rules(Incident::SplitDns), ["use-proxy-addr"]);
        assert_eq!(lint_rules(Incident::NoProxy), ["auth-server-ssh-config"]);
    }

    #[test]
    fn lab_scenario_files_are_clean_for_lint_at_the_labs_versions() {
        use mwi_diag::lint::{Target, TargetSource, target::parse_release};
        for version in ["18.0.0", "19.0.0"] {
            let release = parse_release(version).unwrap();
            for scenario in [
                Incident::GenerationMismatch,
                Incident::Expired,
                Incident::SshLogin,
                Incident::DbAccess,
            ] {
                let target = Target::new(release, TargetSource::Flag, version);
                assert_eq!(
                    lint_rules_at(scenario, target),
                    Vec::<String>::new(),
                    "{scenario:?} at {version}"
                );
            }
            for scenario in [
                Incident::BkExhausted,
                Incident::BkJoinState,
                Incident::BkTokenWiped,
                Incident::BkKeypairLost,
                Incident::BkRollback,
            ] {
                let target = Target::new(release, TargetSource::Flag, version);
                assert_eq!(
                    lint_inputs_at(&bound(scenario), target),
                    Vec::<String>::new(),
                    "{scenario:?} at {version}"
                );
            }
        }
    }

    #[test]
    fn awkward_values_are_quoted() {
        assert_eq!(scalar("/plain/path"), "/plain/path");
        assert_eq!(scalar("has space"), "\"has space\"");
        assert_eq!(scalar("off"), "\"off\"");
        assert_eq!(scalar("#x"), "\"#x\"");
        assert_eq!(scalar(""), "\"\"");
        let text = format!("k: {}\n", scalar("a: b \"c\""));
        let v: Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(v["k"], "a: b \"c\"");
    }
}
