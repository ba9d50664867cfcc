//! The lint rules as data: one [`Rule`] per file in this directory (id, severities, incident, a
//! short doc and where it runs), registered in [`RULES`]; the rule tables of `mwictl lint --help`
//! and of the README are generated from it.

pub(crate) mod auth_and_proxy;
pub(crate) mod auth_server_ssh_config;
pub(crate) mod config_v1;
pub(crate) mod deprecated_key;
pub(crate) mod deprecated_outputs;
pub(crate) mod duplicate_destination;
pub(crate) mod duplicate_key;
pub(crate) mod invalid_value;
pub(crate) mod join_uri_malformed;
pub(crate) mod kube_secret_exec_plugin;
pub(crate) mod memory_storage_join;
pub(crate) mod missing_key;
pub(crate) mod network_storage;
pub(crate) mod onboarding_ca_conflict;
pub(crate) mod registration_secret_both;
pub(crate) mod secret_as_token;
pub(crate) mod service_roles;
pub(crate) mod shared_storage;
pub(crate) mod static_key_mode;
pub(crate) mod static_key_rotation;
pub(crate) mod token_path_missing;
pub(crate) mod ttl_below_interval;
pub(crate) mod ttl_over_24h;
pub(crate) mod unknown_key;
pub(crate) mod use_proxy_addr;
pub(crate) mod wrong_type;
pub(crate) mod yaml_syntax;

use super::Severity;
use super::check::{Checker, Context};
use crate::incident::Incident;

/// One lint rule.
pub struct Rule {
    /// The id its findings carry (`kube-secret-exec-plugin`).
    pub id: &'static str,
    /// The severities its findings can have; the first is the usual one.
    pub severities: &'static [Severity],
    /// The product incident the rule prevents.
    pub incident: Option<Incident>,
    /// What it finds, in one line (Markdown code spans allowed).
    pub doc: &'static str,
    pub(crate) check: Check,
}

/// Where a rule runs.
pub(crate) enum Check {
    /// While the document is read (syntax, duplicate keys, version).
    Document,
    /// In the schema walk.
    Schema,
    /// On the parsed config, in the order of [`RULES`].
    Config(fn(&mut Checker, &Context)),
    /// Over all the files linted together.
    AcrossFiles,
}

/// Every rule, in the order the config rules run and the tables list them.
pub static RULES: &[&Rule] = &[
    &yaml_syntax::RULE,
    &duplicate_key::RULE,
    &config_v1::RULE,
    &unknown_key::RULE,
    &wrong_type::RULE,
    &invalid_value::RULE,
    &missing_key::RULE,
    &deprecated_outputs::RULE,
    &deprecated_key::RULE,
    &service_roles::RULE,
    &auth_and_proxy::RULE,
    &kube_secret_exec_plugin::RULE,
    &auth_server_ssh_config::RULE,
    &use_proxy_addr::RULE,
    &onboarding_ca_conflict::RULE,
    &registration_secret_both::RULE,
    &secret_as_token::RULE,
    &join_uri_malformed::RULE,
    &static_key_mode::RULE,
    &static_key_rotation::RULE,
    &ttl_over_24h::RULE,
    &ttl_below_interval::RULE,
    &token_path_missing::RULE,
    &network_storage::RULE,
    &memory_storage_join::RULE,
    &duplicate_destination::RULE,
    &shared_storage::RULE,
];

/// The rules that prevent `incident`: the catalogue's lint rules for it.
pub fn for_incident(incident: Incident) -> impl Iterator<Item = &'static Rule> {
    RULES
        .iter()
        .copied()
        .filter(move |r| r.incident == Some(incident))
}

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().copied().find(|r| r.id == id)
}

/// `error`, `error or warning`, `info, warning or error`.
fn severities(rule: &Rule) -> String {
    let words: Vec<&str> = rule.severities.iter().map(|s| s.word()).collect();
    match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => words.join(""),
    }
}

/// The rule table as Markdown, for the README.
pub fn markdown_table() -> String {
    let mut out = String::from("| rule | severity | incident | what |\n|---|---|---|---|\n");
    for rule in RULES {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            rule.id,
            severities(rule),
            rule.incident.map_or("", Incident::id),
            rule.doc
        ));
    }
    out
}

/// The rule list for `mwictl lint --help`: each rule, its severities and incident, and its doc
/// on the next line (so a narrow terminal wraps only the doc).
pub fn help_text() -> String {
    let mut out = String::from("Rules:\n");
    for rule in RULES {
        let incident = rule
            .incident
            .map_or(String::new(), |i| format!(", incident {}", i.id()));
        out.push_str(&format!(
            "  {}: {}{incident}\n      {}\n",
            rule.id,
            severities(rule),
            rule.doc.replace('`', "")
        ));
    }
    out.push_str(
        "\nChecks that read this machine (run only with --on-host, on the bot's host; else each is a note, not checked here):\n",
    );
    for (rule, what) in super::HOST_CHECKS {
        out.push_str(&format!("  {rule}: {}\n", what.replace('`', "")));
    }
    out
}

/// The findings of `rule` in `yaml` linted with `options`, for the rules' unit tests.
#[cfg(test)]
pub(crate) fn test_findings(
    yaml: &str,
    options: &super::LintOptions,
    rule: &str,
) -> Vec<super::LintFinding> {
    super::lint_source("tbot.yaml", yaml, options)
        .findings
        .into_iter()
        .filter(|f| f.rule == rule)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn ids_are_unique_and_every_rule_has_a_severity_and_a_doc() {
        let ids: BTreeSet<&str> = RULES.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), RULES.len());
        for rule in RULES {
            assert!(!rule.severities.is_empty(), "{}", rule.id);
            assert!(
                !rule.doc.is_empty() && !rule.doc.contains('\n'),
                "{}",
                rule.id
            );
            assert!(
                !rule.doc.contains('|'),
                "{}: breaks the Markdown table",
                rule.id
            );
        }
    }

    #[test]
    fn incidents_that_lint_fixes_have_a_rule() {
        for incident in Incident::ALL.into_iter().filter(|i| i.flow().is_none()) {
            assert!(for_incident(incident).next().is_some(), "{incident:?}");
        }
        let s1: Vec<&str> = for_incident(Incident::GenerationMismatch)
            .map(|r| r.id)
            .collect();
        assert_eq!(s1, ["network-storage", "shared-storage"]);
    }

    #[test]
    fn lookup_by_id() {
        assert_eq!(
            rule("kube-secret-exec-plugin").map(|r| r.incident),
            Some(Some(Incident::K8sSecret))
        );
        assert!(rule("no-such-rule").is_none());
    }
}
