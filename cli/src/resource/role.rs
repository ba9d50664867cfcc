//! Roles (`types.RoleV6`, versions v3 to v8) in tctl's shape: `spec.options`, `spec.allow` and
//! `spec.deny` under the keys and value forms `tctl get role/NAME` prints, and the value readers
//! they share (labels, traits, Go durations, Teleport's booleans).

mod conditions;
mod options;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use mwi_proto::types::{BoolValue, Metadata, RoleSpecV6, RoleV6};
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
    // Options, allow and deny are non-nullable in Teleport, so tctl always prints all three.
    let spec = Obj::new()
        .set(
            "options",
            spec.options
                .as_ref()
                .map_or_else(Obj::new, options::to_value),
        )
        .set("allow", conditions::to_value(spec.allow.as_ref()))
        .set("deny", conditions::to_value(spec.deny.as_ref()));
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

pub(crate) fn from_fields(mut f: Fields) -> Result<RoleV6, ResourceError> {
    let header = read_header(&mut f, Kind::Role, VERSIONS, Style::Legacy)?;
    let mut s = f.object_or_empty("spec")?;
    let options = options::read(s.object_or_empty("options")?)?;
    let allow = conditions::read(s.object_or_empty("allow")?)?;
    let deny = conditions::read(s.object_or_empty("deny")?)?;
    s.finish()?;
    f.finish()?;
    Ok(RoleV6 {
        kind: Kind::Role.name().to_owned(),
        sub_kind: header.sub_kind,
        version: header.version,
        metadata: Some(Metadata::from(header.meta)),
        spec: Some(RoleSpecV6 {
            options: Some(options),
            allow: Some(allow),
            deny: Some(deny),
        }),
    })
}

/// A wire duration (int64 nanoseconds) as Go prints it, or nothing for zero (`omitempty`).
pub(super) fn nanos_value(nanos: i64) -> Option<String> {
    (nanos != 0).then(|| format_go_nanos(nanos))
}

/// A Go duration string as the wire's int64 nanoseconds.
pub(super) fn read_nanos(path: &str, value: Value) -> Result<i64, ResourceError> {
    let text = match value {
        Value::String(s) => s,
        other => return Err(wrong_type(path, "a duration string like 12h0m0s", &other)),
    };
    let d: Duration = parse_go_duration(&text).map_err(|e| e.at_path(path))?;
    // parse_go_duration refuses anything above i64::MAX nanoseconds.
    Ok(d.as_nanos() as i64)
}

/// Teleport's booleans (`Bool`, `BoolOption`) also accept these words, in any case, as tctl does.
fn parse_bool_word(word: &str) -> Option<bool> {
    match word.to_ascii_lowercase().as_str() {
        "yes" | "yeah" | "y" | "true" | "1" | "on" => Some(true),
        "no" | "nope" | "n" | "false" | "0" | "off" => Some(false),
        _ => None,
    }
}

/// `true`/`false`, or a word such as `yes` or `off` (quoted or read as a string by YAML 1.2).
fn read_bool(path: &str, value: Value) -> Result<bool, ResourceError> {
    match &value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => parse_bool_word(s)
            .ok_or_else(|| wrong_type(path, "true or false (or yes, no, on, off)", &value)),
        _ => Err(wrong_type(path, "true or false", &value)),
    }
}

/// An option whose absence means "Teleport's default"; present, it is printed even when false.
pub(super) fn read_bool_value(path: &str, value: Value) -> Result<BoolValue, ResourceError> {
    Ok(BoolValue {
        value: read_bool(path, value)?,
    })
}

pub(super) fn bool_value(b: Option<&BoolValue>) -> Option<bool> {
    b.map(|b| b.value)
}

/// Labels as tctl prints them: one value as a plain string, several as a list.
pub(super) fn label_values(labels: Option<&LabelValues>) -> Obj {
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

/// Labels given as `key: value` or `key: [values]`; an empty mapping reads as no labels.
pub(super) fn read_label_values(
    path: &str,
    value: Value,
) -> Result<Option<LabelValues>, ResourceError> {
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

/// Traits (access request annotations): every value is a list, even of one.
fn traits_value(traits: Option<&LabelValues>) -> Obj {
    traits
        .map(|t| &t.values)
        .into_iter()
        .flatten()
        .fold(Obj::new(), |obj, (key, values)| {
            obj.set(key, values.values.clone())
        })
}

fn read_traits(path: &str, value: Value) -> Result<Option<LabelValues>, ResourceError> {
    let entries = Fields::new(path, value)?.entries(|entry_path, v| {
        Ok(StringValues {
            values: as_strings(entry_path, v)?,
        })
    })?;
    Ok((!entries.is_empty()).then_some(LabelValues { values: entries }))
}
