//! v1 configs (`version: v1`, or no version with `destinations:`), checked as tbot reads them:
//! it migrates them in memory (Teleport lib/tbot/config/migrate.go, `configV1`, 17.x/18.x),
//! without strict decoding, and refuses two storage kinds, a destination that asks for several
//! kinds of output, and config templates it cannot migrate. The `config-v1` rule says the file
//! is deprecated; the findings here use the schema rules.

use super::check::{Checker, is_set, join};
use super::rules::{
    Rule, invalid_value, missing_key, onboarding_ca_conflict, token_path_missing,
    ttl_below_interval, ttl_over_24h,
};
use super::schema::{self, Field, Shape};
use crate::yaml::{Map, Node, Value};

const fn f(name: &'static str, shape: Shape) -> Field {
    Field { name, shape }
}

/// A v1 `directory:`: a path, or a directory destination's fields without `type`.
const DIRECTORY: &[Field] = &[
    f("path", Shape::Str),
    f(
        "symlinks",
        Shape::Enum(&["secure", "try-secure", "insecure"]),
    ),
    f("acls", Shape::Enum(&["off", "try", "required"])),
    f("readers", Shape::Any),
];

/// tbot's v1 config templates (`configs:` entries), by name.
const TEMPLATES: &[&str] = &[
    "ssh_client",
    "identity",
    "tls",
    "tls_cas",
    "mongo",
    "cockroach",
    "kubernetes",
    "ssh_host_cert",
];

const DESTINATION: &[Field] = &[
    f("directory", Shape::PathOr(DIRECTORY)),
    f("memory", Shape::Any),
    f("roles", Shape::StrList),
    f("configs", Shape::Any),
    f(
        "database",
        Shape::Struct(&[
            f("service", Shape::Str),
            f("database", Shape::Str),
            f("username", Shape::Str),
        ]),
    ),
    f("kubernetes_cluster", Shape::Str),
    f("app", Shape::Str),
    f("cluster", Shape::Str),
];

/// The keys of a v1 file (`configV1`); `outputs` is there only to refuse a v2 file that lacks
/// its `version:`.
const TOP: &[Field] = &[
    f("version", Shape::Enum(&["v1"])),
    f("onboarding", Shape::Struct(schema::ONBOARDING)),
    f("debug", Shape::Bool),
    f("auth_server", Shape::Str),
    f("certificate_ttl", Shape::Duration),
    f("renewal_interval", Shape::Duration),
    f("oneshot", Shape::Bool),
    f("fips", Shape::Bool),
    f("diag_addr", Shape::Str),
    f("destinations", Shape::ListOf(DESTINATION)),
    f(
        "storage",
        Shape::Struct(&[
            f("directory", Shape::PathOr(DIRECTORY)),
            f("memory", Shape::Any),
        ]),
    ),
    f("outputs", Shape::Any),
];

/// The config rules that apply to a v1 file as they do to v2 (the keys they read are the same).
pub(crate) const CONFIG_RULES: &[&Rule] = &[
    &onboarding_ca_conflict::RULE,
    &ttl_over_24h::RULE,
    &ttl_below_interval::RULE,
    &token_path_missing::RULE,
];

/// Checks a v1 file's top-level mapping.
pub(crate) fn check(checker: &mut Checker, map: &Map) {
    checker.walk_fields(map, TOP, "");
    if let Some(outputs) = map.get("outputs").filter(|e| is_set(&e.value)) {
        let message = "`outputs:` is a v2 key in a file tbot reads as v1; tbot refuses it: \"config has been detected as potentially v1, but includes the v2 outputs field\"".to_string();
        checker
            .add(
                &invalid_value::RULE,
                outputs.key_span.start,
                "outputs",
                message,
            )
            .fix = Some(
            "add `version: v2` as the first key, or rewrite `outputs:` as v1 `destinations:`"
                .to_string(),
        );
    }
    if let Some(storage) = map.get("storage").filter(|e| present(&e.value)) {
        one_kind_of_destination(checker, &storage.value, "storage");
    }
    let Some(destinations) = map.get("destinations").and_then(|e| e.value.as_seq()) else {
        return;
    };
    for (i, item) in destinations.iter().enumerate() {
        let Some(destination) = item.as_map() else {
            continue;
        };
        let path = format!("destinations[{i}]");
        one_kind_of_destination(checker, item, &path);
        let kind = output_kind(checker, item, destination, &path);
        if let Some(configs) = destination.get("configs") {
            templates(checker, &configs.value, &join(&path, "configs"), kind);
        }
    }
}

/// Set in the Go sense of a pointer field: present and not null (`memory: {}` is set).
fn present(node: &Node) -> bool {
    is_set(node) || matches!(node.value, Value::Map(_))
}

/// A storage or destination names exactly one of `directory` and `memory`.
fn one_kind_of_destination(checker: &mut Checker, node: &Node, path: &str) {
    let Some(map) = node.as_map() else {
        return;
    };
    let directory = map.get("directory").filter(|e| present(&e.value));
    let memory = map.get("memory").filter(|e| present(&e.value));
    match (directory, memory) {
        (Some(_), Some(memory)) => {
            let message = format!(
                "`{path}` names both `directory` and `memory`; tbot refuses it: \"both 'memory' and 'directory' cannot be specified\""
            );
            checker
                .add(
                    &invalid_value::RULE,
                    memory.key_span.start,
                    &join(path, "memory"),
                    message,
                )
                .fix = Some("keep one of them".to_string());
        }
        (None, None) => {
            let message = format!(
                "`{path}` needs `directory:` or `memory:`; tbot refuses it: \"at least one of `memory' and 'directory' must be specified\""
            );
            checker.add(&missing_key::RULE, node.span.start, path, message);
        }
        _ => {}
    }
}

/// The kind of output a v1 destination becomes when tbot migrates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Application,
    Database,
    Kubernetes,
    SshHost,
    Identity,
}

impl Kind {
    /// The config templates tbot migrates for this kind.
    fn templates(self) -> &'static [&'static str] {
        match self {
            Kind::Application => &["tls_cas", "tls", "identity"],
            Kind::Database => &["tls_cas", "identity", "mongo", "cockroach", "tls"],
            Kind::Kubernetes => &["tls_cas", "identity", "kubernetes"],
            Kind::SshHost => &["ssh_host_cert"],
            Kind::Identity => &["tls_cas", "identity", "ssh_client"],
        }
    }
}

/// The template names a `configs:` entry sets (a name, or a mapping keyed by names).
fn template_names(entry: &Node) -> Vec<&str> {
    match &entry.value {
        Value::Scalar(s) => vec![s.text.as_str()],
        Value::Map(map) => map
            .entries
            .iter()
            .filter(|e| TEMPLATES.contains(&e.key.as_str()))
            .map(|e| e.key.as_str())
            .collect(),
        _ => Vec::new(),
    }
}

/// What the destination asks for: at most one of an app, a database, a Kubernetes cluster and an
/// SSH host certificate (tbot cannot tell which output it is otherwise).
fn output_kind(checker: &mut Checker, item: &Node, destination: &Map, path: &str) -> Kind {
    let non_empty = |key: &str| destination.get(key).is_some_and(|e| is_set(&e.value));
    let host_cert = destination
        .get("configs")
        .and_then(|e| e.value.as_seq())
        .is_some_and(|items| {
            items
                .iter()
                .any(|c| template_names(c).contains(&"ssh_host_cert"))
        });
    let asked: Vec<(Kind, &str)> = [
        (non_empty("app"), Kind::Application, "`app`"),
        (
            destination
                .get("database")
                .is_some_and(|e| present(&e.value)),
            Kind::Database,
            "`database`",
        ),
        (
            non_empty("kubernetes_cluster"),
            Kind::Kubernetes,
            "`kubernetes_cluster`",
        ),
        (host_cert, Kind::SshHost, "an `ssh_host_cert` config"),
    ]
    .into_iter()
    .filter(|(asked, _, _)| *asked)
    .map(|(_, kind, what)| (kind, what))
    .collect();
    if asked.len() > 1 {
        let names: Vec<&str> = asked.iter().map(|(_, what)| *what).collect();
        let message = format!(
            "`{path}` asks for several kinds of output ({}); tbot refuses it: \"multiple potential output types detected, cannot determine correct type\"",
            names.join(", ")
        );
        checker
            .add(&invalid_value::RULE, item.span.start, path, message)
            .fix = Some("split it into one destination per output".to_string());
    }
    asked.first().map_or(Kind::Identity, |(kind, _)| *kind)
}

/// The `configs:` of a destination of `kind`, as tbot's migration validates them.
fn templates(checker: &mut Checker, node: &Node, path: &str, kind: Kind) {
    let Some(items) = node.as_seq() else {
        if is_set(node) {
            super::rules::wrong_type::report(checker, node, path, "a list of config templates");
        }
        return;
    };
    let mut seen: Vec<&str> = Vec::new();
    let mut formats = 0;
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let names = template_names(item);
        let refuse = |checker: &mut Checker, message: String| {
            checker.add(&invalid_value::RULE, item.span.start, &item_path, message);
        };
        if let Value::Scalar(s) = &item.value
            && !TEMPLATES.contains(&s.text.as_str())
        {
            let hint = schema::did_you_mean(&s.text, TEMPLATES.iter().copied())
                .map_or(String::new(), |m| format!(" (did you mean `{m}`?)"));
            refuse(
                checker,
                format!(
                    "`{item_path}: {}` is not a config template{hint}; tbot refuses it: \"unrecognized config template\"; use one of: {}",
                    s.text,
                    TEMPLATES.join(", ")
                ),
            );
            continue;
        }
        match names.len() {
            0 => {
                refuse(
                    checker,
                    format!(
                        "`{item_path}` names no config template; tbot refuses it: \"config template must not be empty\""
                    ),
                );
                continue;
            }
            1 => {}
            _ => {
                refuse(
                    checker,
                    format!(
                        "`{item_path}` names {} config templates; tbot refuses it: \"config template must have exactly one configuration\"",
                        names.join(" and ")
                    ),
                );
                continue;
            }
        }
        let name = names[0];
        if let Some(options) = item.as_map().and_then(|m| m.get(name)) {
            let principals = options
                .value
                .as_map()
                .and_then(|o| o.get("principals"))
                .is_some_and(|p| is_set(&p.value));
            if name == "ssh_host_cert" && !principals {
                refuse(
                    checker,
                    format!(
                        "`{item_path}.ssh_host_cert` needs `principals:`; tbot refuses it: \"no principals specified for ssh_host_cert config template\""
                    ),
                );
            } else if name != "ssh_host_cert" && is_set(&options.value) {
                refuse(
                    checker,
                    format!(
                        "`{item_path}.{name}` has options tbot cannot migrate; it refuses them: \"configuration options are not supported by migration for {name} config template\""
                    ),
                );
            }
        }
        if !kind.templates().contains(&name) {
            refuse(
                checker,
                format!(
                    "`{item_path}`: the `{name}` config template does not fit this destination's output; tbot refuses it: \"config template {name:?} unsupported by new output type\" (it takes: {})",
                    kind.templates().join(", ")
                ),
            );
        } else if seen.contains(&name) {
            refuse(
                checker,
                format!(
                    "`{item_path}` repeats the `{name}` config template; tbot refuses it: \"multiple config template entries found for {name:?}\""
                ),
            );
        }
        seen.push(name);
        if kind == Kind::Database && ["mongo", "cockroach", "tls"].contains(&name) {
            formats += 1;
            if formats == 2 {
                refuse(
                    checker,
                    format!(
                        "`{item_path}`: a database destination takes one of the mongo, cockroach and tls templates; tbot refuses more: \"multiple candidate formats for database output\""
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::{LintOptions, Severity, lint_source};

    /// `rule:severity: message` of each finding but `config-v1`'s.
    fn findings(config: &str) -> Vec<String> {
        lint_source("tbot.yaml", config, &LintOptions::default())
            .findings
            .into_iter()
            .filter(|f| f.rule != "config-v1" && f.severity != Severity::Info)
            .map(|f| format!("{}:{}: {}", f.rule, f.severity.word(), f.message))
            .collect()
    }

    const HEAD: &str = "version: v1\nauth_server: teleport.example.com:3025\nonboarding:\n  join_method: token\n  token: abc\n";

    #[test]
    fn valid_v1_files_as_the_docs_wrote_them_pass() {
        for config in [
            format!(
                "{HEAD}storage:\n  directory: /var/lib/teleport/bot\ndestinations:\n  - directory: /opt/machine-id\n"
            ),
            format!(
                "{HEAD}storage:\n  memory: {{}}\ndestinations:\n  - directory:\n      path: /opt/db\n      symlinks: try-secure\n    roles: [db]\n    database:\n      service: pg\n      username: alice\n    configs:\n      - tls\n      - identity\n"
            ),
            format!(
                "{HEAD}destinations:\n  - directory: /opt/host\n    configs:\n      - ssh_host_cert:\n          principals: [host.example.com]\n"
            ),
            format!(
                "{HEAD}certificate_ttl: 1h\nrenewal_interval: 20m\ndestinations:\n  - directory: /opt/kube\n    kubernetes_cluster: prod\n    configs: [kubernetes, tls_cas]\n"
            ),
            // No version, with v1 keys: read as v1 too.
            "auth_server: a:3025\ndestinations:\n  - memory: {}\n    app: grafana\n".to_string(),
        ] {
            assert_eq!(findings(&config), Vec::<String>::new(), "{config}");
        }
    }

    #[test]
    fn a_kind_set_to_null_is_not_named() {
        // Go reads `memory: ~` as a nil pointer: only the directory is named.
        for storage in ["memory: ~", "memory: null", "memory:"] {
            let config =
                format!("{HEAD}storage:\n  directory: /var/lib/teleport/bot\n  {storage}\n");
            assert_eq!(findings(&config), Vec::<String>::new(), "{config}");
        }
    }

    #[test]
    fn two_storage_kinds_or_none_are_refused() {
        let found = findings(&format!(
            "{HEAD}storage:\n  directory: /var/lib/teleport/bot\n  memory: {{}}\n"
        ));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("invalid-value:error:")
                && found[0].contains("both 'memory' and 'directory'"),
            "{found:?}"
        );
        let found = findings(&format!("{HEAD}destinations:\n  - roles: [a]\n"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("missing-key:error:") && found[0].contains("at least one of"),
            "{found:?}"
        );
    }

    #[test]
    fn a_destination_asking_for_a_database_and_a_host_certificate_is_refused() {
        let found = findings(&format!(
            "{HEAD}destinations:\n  - directory: /opt/x\n    database: {{service: pg}}\n    configs:\n      - ssh_host_cert:\n          principals: [h]\n"
        ));
        assert!(
            found.iter().any(|f| f
                .contains("several kinds of output (`database`, an `ssh_host_cert` config)")
                && f.contains("multiple potential output types")),
            "{found:?}"
        );
    }

    #[test]
    fn ca_path_with_ca_pins_is_still_a_conflict_in_v1() {
        let found = findings(
            "version: v1\nonboarding:\n  ca_path: /etc/ca.pem\n  ca_pins: [sha256:abc]\ndestinations:\n  - directory: /opt/x\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("onboarding-ca-conflict:error:"),
            "{found:?}"
        );
    }

    #[test]
    fn misspelt_keys_are_warnings_with_a_suggestion_as_tbot_ignores_them() {
        let found = findings(&format!(
            "{HEAD}renewal_intervall: 20m\nproxy_server: p:443\ndestinations:\n  - directory: /opt/x\n    kubernetes_clustr: prod\n"
        ));
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found
                .iter()
                .all(|f| f.starts_with("unknown-key:warning:") && f.contains("has no effect")),
            "{found:?}"
        );
        assert!(
            found[0].contains("did you mean `renewal_interval`"),
            "{found:?}"
        );
        assert!(
            found[2].contains("did you mean `kubernetes_cluster`"),
            "{found:?}"
        );
    }

    #[test]
    fn config_templates_are_checked_as_tbot_migrates_them() {
        let cases = [
            ("configs: [ssh_clinet]", "did you mean `ssh_client`"),
            ("configs:\n      - {}", "must not be empty"),
            (
                "configs:\n      - {tls: {}, identity: {}}",
                "exactly one configuration",
            ),
            (
                "configs:\n      - ssh_client:\n          proxy_port: 3023",
                "not supported by migration for ssh_client",
            ),
            (
                "configs:\n      - ssh_host_cert: {}",
                "no principals specified",
            ),
            (
                "app: grafana\n    configs: [ssh_client]",
                "unsupported by new output type",
            ),
            (
                "configs: [identity, identity]",
                "multiple config template entries",
            ),
            (
                "database: {service: pg}\n    configs: [mongo, tls]",
                "multiple candidate formats",
            ),
        ];
        for (destination, expected) in cases {
            let found = findings(&format!(
                "{HEAD}destinations:\n  - directory: /opt/x\n    {destination}\n"
            ));
            assert!(
                found.len() == 1 && found[0].contains(expected),
                "{destination}: {found:?}"
            );
        }
    }

    #[test]
    fn outputs_in_a_v1_file_are_refused() {
        let found =
            findings("auth_server: a:3025\ndestinations: []\noutputs:\n  - type: identity\n");
        assert!(
            found
                .iter()
                .any(|f| f.contains("includes the v2 outputs field")),
            "{found:?}"
        );
    }
}
