//! `mwictl roles ls`: every role with the logins it allows, its node labels and the resources
//! its rules give access to, like tctl's role table; paged, so any number of roles streams.

use mwi_proto::types::RoleV6;
use mwi_proto::wrappers::LabelValues;
use serde_json::{Map, Value, json};

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::output::{Format, ListWriter, Listed, headers};
use crate::resource::{Kind, Resource};

/// List roles: name, allowed logins, node labels and access to resources (rules).
///
/// Text is a table like `tctl get roles --format text`. JSON is an array and YAML one document
/// per role, each `{name, description, logins, deny_logins, node_labels, db_labels, db_names,
/// db_users, rules: [{resources, verbs, where}], impersonate_roles}` (labels map a key to a list
/// of values). For the whole resource use `mwictl roles show NAME` or `mwictl get roles`.
#[derive(Debug, clap::Args)]
#[command(visible_alias = "list")]
pub struct LsArgs {}

/// One role of the listing.
struct RoleSummary(RoleV6);

impl Listed for RoleSummary {
    fn row(&self) -> Vec<String> {
        Resource::Role(self.0.clone()).row()
    }

    fn json(&self) -> Value {
        summary(&self.0)
    }
}

/// The role as `roles ls` describes it in JSON and YAML.
pub fn summary(role: &RoleV6) -> Value {
    let meta = role.metadata.clone().unwrap_or_default();
    let spec = role.spec.clone().unwrap_or_default();
    let allow = spec.allow.unwrap_or_default();
    let deny = spec.deny.unwrap_or_default();
    let rules: Vec<Value> = allow
        .rules
        .iter()
        .map(|r| {
            let mut rule = json!({"resources": r.resources, "verbs": r.verbs});
            if !r.r#where.is_empty() {
                rule["where"] = json!(r.r#where);
            }
            rule
        })
        .collect();
    json!({
        "name": meta.name,
        "description": meta.description,
        "logins": allow.logins,
        "deny_logins": deny.logins,
        "node_labels": labels(allow.node_labels.as_ref()),
        "db_labels": labels(allow.database_labels.as_ref()),
        "db_names": allow.database_names,
        "db_users": allow.database_users,
        "rules": rules,
        "impersonate_roles": allow.impersonate.map(|i| i.roles).unwrap_or_default(),
    })
}

fn labels(labels: Option<&LabelValues>) -> Value {
    let map: Map<String, Value> = labels
        .map(|l| &l.values)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), json!(v.values)))
        .collect();
    Value::Object(map)
}

pub async fn run(ctx: &Context, _args: LsArgs) -> Result<ExitStatus, CommandError> {
    let client = ctx.client().await?;
    let printer = ctx.printer();
    let mut out = ListWriter::new(printer, headers(Kind::Role));
    let mut pager = client.roles();
    while let Some(page) = pager.next_page().await? {
        let items: Vec<RoleSummary> = page.into_iter().map(|r| RoleSummary(r.value)).collect();
        out.page(&items)?;
        if printer.is_closed() {
            break;
        }
    }
    let count = out.finish()?;
    if count == 0 && printer.format() == Format::Text {
        printer.status("no roles found");
    }
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::types::{Metadata, RoleConditions, RoleSpecV6, Rule};

    #[test]
    fn summary_names_logins_labels_and_rules() {
        let role = RoleV6 {
            metadata: Some(Metadata {
                name: "access".into(),
                ..Default::default()
            }),
            spec: Some(RoleSpecV6 {
                allow: Some(RoleConditions {
                    logins: vec!["root".into()],
                    rules: vec![Rule {
                        resources: vec!["db".into()],
                        verbs: vec!["read".into()],
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let value = summary(&role);
        assert_eq!(value["name"], "access");
        assert_eq!(value["logins"], json!(["root"]));
        assert_eq!(
            value["rules"],
            json!([{"resources": ["db"], "verbs": ["read"]}])
        );
        assert_eq!(value["node_labels"], json!({}));
    }
}
