//! `kube-secret-exec-plugin` (S5): a kubernetes output writing to a kubernetes_secret without
//! `disable_exec_plugin: true`. An error for releases that fail the output; a note for those
//! that turn the plugin off themselves and log it. `--fix` sets `disable_exec_plugin: true`.

use super::{Check, Rule};
use crate::incident::Incident;
use crate::lint::Severity;
use crate::lint::check::{Checker, Context, join};
use crate::tbot_release::{self as facts, first_releases};
use crate::yaml::edit;
use crate::yaml::{Style, Value};

pub(crate) const RULE: Rule = Rule {
    id: "kube-secret-exec-plugin",
    severities: &[Severity::Error, Severity::Info],
    incident: Some(Incident::K8sSecret),
    doc: "kubernetes output to `kubernetes_secret` without `disable_exec_plugin: true`: an error where tbot fails the output, a note where it turns the plugin off itself (fixable)",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let config = &context.config;
    let src = checker.src;
    for service in &config.services {
        if service.kind != "kubernetes" && service.kind != "kubernetes/v2" {
            continue;
        }
        let Some(destination) = service
            .map
            .get("destination")
            .and_then(|e| e.value.as_map())
        else {
            continue;
        };
        if destination.get("type").and_then(|e| e.value.as_str()) != Some("kubernetes_secret") {
            continue;
        }
        let current = service.map.get("disable_exec_plugin");
        if current.is_some_and(|e| matches!(&e.value.value, Value::Scalar(s) if s.style == Style::Plain && s.text.eq_ignore_ascii_case("true"))) {
            continue;
        }
        let secret = destination
            .get("name")
            .and_then(|e| e.value.as_str())
            .unwrap_or("");
        let (at, key) = match current {
            Some(entry) => (
                entry.key_span.start,
                join(&service.path, "disable_exec_plugin"),
            ),
            None => (service.node.span.start, service.path.clone()),
        };
        let target = context.options.target.release;
        let turns_it_off = target.has(facts::KUBE_SECRET_PLUGIN_OFF);
        let message = if turns_it_off {
            format!(
                "kubernetes output `{}` writes to the kubernetes_secret `{secret}` without `disable_exec_plugin: true`: tbot {target} renders the kubeconfig without the exec plugin and logs that it did; say so in the config to silence it",
                service.path
            )
        } else {
            format!(
                "kubernetes output `{}` writes to the kubernetes_secret `{secret}` but `disable_exec_plugin` is not true: tbot {target} fails the output with \"must be a directory in exec plugin mode\" (from Teleport {} tbot turns the plugin off itself)",
                service.path,
                first_releases(facts::KUBE_SECRET_PLUGIN_OFF)
            )
        };
        let severity = if turns_it_off {
            Severity::Info
        } else {
            Severity::Error
        };
        let edit = match current {
            Some(entry) if matches!(entry.value.value, Value::Scalar(_) | Value::Null) => {
                Some(edit::set_value(src, &entry.value, "true"))
            }
            Some(_) => None,
            None => edit::insert_entry(
                src,
                service.node,
                "kubernetes_cluster",
                "disable_exec_plugin",
                "true",
            ),
        };
        let issue = checker.add_as(&RULE, severity, at, &key, message);
        issue.fix = Some("add `disable_exec_plugin: true` to this output".to_string());
        issue.edits.extend(edit);
    }
}
