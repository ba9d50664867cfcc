//! Roles (`types.RoleV6`, versions v3 to v8) in tctl's shape: the options, allow and deny
//! conditions mwictl models, with labels as `key: value` or `key: [values]`.

use std::collections::BTreeMap;
use std::time::Duration;

use mwi_proto::types::{
    ImpersonateConditions, Metadata, RoleConditions, RoleOptions, RoleSpecV6, RoleV6, Rule,
};
use mwi_proto::wrappers::{LabelValues, StringValues};
use serde_json::Value;

use super::Kind;
use super::error::ResourceError;
use super::fields::{Fields, Obj, as_string, as_strings, wrong_type};
use super::header::{Meta, Style, read_header, write_header};
use super::units::{format_go_nanos, parse_go_duration};

const VERSIONS: &[&str] = &["v3", "v4", "v5", "v6", "v7", "v8"];

pub(crate) fn to_value(role: &RoleV6) -> Value {
    let default_spec = RoleSpecV6::default();
    let spec = role.spec.as_ref().unwrap_or(&default_spec);
    let max_session_ttl = spec
        .options
        .as_ref()
        .map_or(0, |options| options.max_session_ttl);
    let options = if max_session_ttl == 0 {
        Obj::new()
    } else {
        Obj::new().set("max_session_ttl", format_go_nanos(max_session_ttl))
    };
    // Options, allow and deny are non-nullable in Teleport, so tctl always prints all three.
    let spec = Obj::new()
        .set("options", options)
        .set("allow", conditions_value(spec.allow.as_ref()))
        .set("deny", conditions_value(spec.deny.as_ref()));
    let meta = role.metadata.as_ref().map(Meta::from).unwrap_or_default();
    write_header(
        Kind::Role,
        &role.sub_kind,
        &role.version,
        &meta,
        Style::Legacy,
    )
    .set("spec", spec)
    .into()
}

fn conditions_value(c: Option<&RoleConditions>) -> Obj {
    let Some(c) = c else {
        return Obj::new();
    };
    let rules: Vec<Value> = c
        .rules
        .iter()
        .map(|r| {
            Obj::new()
                .strings("resources", &r.resources)
                .strings("verbs", &r.verbs)
                .string("where", &r.r#where)
                .strings("actions", &r.actions)
                .into()
        })
        .collect();
    let impersonate = c.impersonate.as_ref().map_or_else(Obj::new, |i| {
        Obj::new()
            .strings("users", &i.users)
            .strings("roles", &i.roles)
            .string("where", &i.r#where)
    });
    Obj::new()
        .strings("logins", &c.logins)
        .strings("namespaces", &c.namespaces)
        .object("node_labels", label_values(c.node_labels.as_ref()))
        .list("rules", rules)
        .strings("kubernetes_groups", &c.kube_groups)
        .strings("kubernetes_users", &c.kube_users)
        .object("app_labels", label_values(c.app_labels.as_ref()))
        .object("cluster_labels", label_values(c.cluster_labels.as_ref()))
        .object(
            "kubernetes_labels",
            label_values(c.kubernetes_labels.as_ref()),
        )
        .object("db_labels", label_values(c.database_labels.as_ref()))
        .strings("db_names", &c.database_names)
        .strings("db_users", &c.database_users)
        .object("impersonate", impersonate)
        .strings("db_roles", &c.database_roles)
}

/// Labels as tctl prints them: one value as a plain string, several as a list.
fn label_values(labels: Option<&LabelValues>) -> Obj {
    labels
        .map(|l| &l.values)
        .into_iter()
        .flatten()
        .fold(Obj::new(), |obj, (key, values)| {
            match values.values.as_slice() {
                [single] => obj.set(key, single.as_str()),
                several => obj.set(key, several.to_vec()),
            }
        })
}

pub(crate) fn from_fields(mut f: Fields) -> Result<RoleV6, ResourceError> {
    let header = read_header(&mut f, Kind::Role, VERSIONS, Style::Legacy)?;
    let mut s = f.object_or_empty("spec")?;
    let mut options = s.object_or_empty("options")?;
    let max_session_ttl = options
        .with("max_session_ttl", read_nanos)?
        .unwrap_or_default();
    options.finish()?;
    let allow = read_conditions(s.object_or_empty("allow")?)?;
    let deny = read_conditions(s.object_or_empty("deny")?)?;
    s.finish()?;
    f.finish()?;
    Ok(RoleV6 {
        kind: Kind::Role.name().to_owned(),
        sub_kind: header.sub_kind,
        version: header.version,
        metadata: Some(Metadata::from(header.meta)),
        spec: Some(RoleSpecV6 {
            options: Some(RoleOptions { max_session_ttl }),
            allow: Some(allow),
            deny: Some(deny),
        }),
    })
}

/// A Go duration string as the wire's int64 nanoseconds.
fn read_nanos(path: &str, value: Value) -> Result<i64, ResourceError> {
    let text = match value {
        Value::String(s) => s,
        other => return Err(wrong_type(path, "a duration string like 12h0m0s", &other)),
    };
    let d: Duration = parse_go_duration(&text).map_err(|e| e.at_path(path))?;
    // parse_go_duration refuses anything above i64::MAX nanoseconds.
    Ok(d.as_nanos() as i64)
}

fn read_conditions(mut c: Fields) -> Result<RoleConditions, ResourceError> {
    let conditions = RoleConditions {
        logins: c.strings("logins")?,
        namespaces: c.strings("namespaces")?,
        node_labels: c.with("node_labels", read_label_values)?.flatten(),
        rules: c.list("rules", read_rule)?,
        kube_groups: c.strings("kubernetes_groups")?,
        kube_users: c.strings("kubernetes_users")?,
        app_labels: c.with("app_labels", read_label_values)?.flatten(),
        cluster_labels: c.with("cluster_labels", read_label_values)?.flatten(),
        kubernetes_labels: c.with("kubernetes_labels", read_label_values)?.flatten(),
        database_labels: c.with("db_labels", read_label_values)?.flatten(),
        database_names: c.strings("db_names")?,
        database_users: c.strings("db_users")?,
        impersonate: c
            .object("impersonate")?
            .map(read_impersonate)
            .transpose()?
            .flatten(),
        database_roles: c.strings("db_roles")?,
    };
    c.finish()?;
    Ok(conditions)
}

/// Labels given as `key: value` or `key: [values]`; an empty mapping reads as no labels.
fn read_label_values(path: &str, value: Value) -> Result<Option<LabelValues>, ResourceError> {
    let entries: BTreeMap<String, StringValues> =
        Fields::new(path, value)?.entries(|entry_path, v| {
            let values = match v {
                Value::String(s) => vec![s],
                Value::Array(_) => as_strings(entry_path, v)?,
                // A bare number or boolean: as_string says to quote it.
                scalar @ (Value::Number(_) | Value::Bool(_)) => {
                    vec![as_string(entry_path, scalar)?]
                }
                other => {
                    return Err(wrong_type(
                        entry_path,
                        "a string or a list of strings",
                        &other,
                    ));
                }
            };
            Ok(StringValues { values })
        })?;
    Ok((!entries.is_empty()).then_some(LabelValues { values: entries }))
}

fn read_rule(path: &str, value: Value) -> Result<Rule, ResourceError> {
    let mut r = Fields::new(path, value)?;
    let rule = Rule {
        resources: r.strings("resources")?,
        verbs: r.strings("verbs")?,
        r#where: r.string("where")?,
        actions: r.strings("actions")?,
    };
    r.finish()?;
    Ok(rule)
}

fn read_impersonate(mut i: Fields) -> Result<Option<ImpersonateConditions>, ResourceError> {
    let impersonate = ImpersonateConditions {
        users: i.strings("users")?,
        roles: i.strings("roles")?,
        r#where: i.string("where")?,
    };
    i.finish()?;
    Ok((impersonate != ImpersonateConditions::default()).then_some(impersonate))
}
