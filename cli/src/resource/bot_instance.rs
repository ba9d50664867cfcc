//! Bot instances (`teleport.machineid.v1.BotInstance`) in tctl's protojson shape: read-only on
//! the server, but printed and read back whole (authentications with their generation,
//! heartbeats) so that `get` output can be saved, compared and fed to tests.

use mwi_proto::machineid::{
    BotInstance, BotInstanceHealthStatus, BotInstanceServiceHealth, BotInstanceServiceIdentifier,
    BotInstanceSpec, BotInstanceStatus, BotInstanceStatusAuthentication,
    BotInstanceStatusHeartbeat, BotKind,
};
use mwi_proto::teleport::header::v1::Metadata;
use prost_types::value::Kind as ValueKind;
use serde_json::{Map, Value};

use super::Kind;
use super::base64;
use super::error::{ResourceError, closest};
use super::fields::{Fields, Obj, as_i32, as_string, wrong_type};
use super::header::{Meta, Style, read_header, write_header};
use super::units::{format_proto_duration, format_proto_timestamp, parse_proto_duration};

const BOT_KINDS: &[&str] = &[
    "BOT_KIND_UNSPECIFIED",
    "BOT_KIND_TBOT",
    "BOT_KIND_TERRAFORM_PROVIDER",
    "BOT_KIND_KUBERNETES_OPERATOR",
    "BOT_KIND_TCTL",
];

const HEALTH_STATUSES: &[&str] = &[
    "BOT_INSTANCE_HEALTH_STATUS_UNSPECIFIED",
    "BOT_INSTANCE_HEALTH_STATUS_INITIALIZING",
    "BOT_INSTANCE_HEALTH_STATUS_HEALTHY",
    "BOT_INSTANCE_HEALTH_STATUS_UNHEALTHY",
];

pub(crate) fn to_value(instance: &BotInstance) -> Value {
    let default_spec = BotInstanceSpec::default();
    let spec = instance.spec.as_ref().unwrap_or(&default_spec);
    let spec = Obj::new()
        .string("bot_name", &spec.bot_name)
        .string("instance_id", &spec.instance_id)
        .string("previous_instance_id", &spec.previous_instance_id);
    let status = instance.status.as_ref().map_or_else(Obj::new, |s| {
        Obj::new()
            .object(
                "initial_authentication",
                s.initial_authentication
                    .as_ref()
                    .map_or_else(Obj::new, authentication_value),
            )
            .list(
                "latest_authentications",
                s.latest_authentications
                    .iter()
                    .map(|a| authentication_value(a).into())
                    .collect(),
            )
            .object(
                "initial_heartbeat",
                s.initial_heartbeat
                    .as_ref()
                    .map_or_else(Obj::new, heartbeat_value),
            )
            .list(
                "latest_heartbeats",
                s.latest_heartbeats
                    .iter()
                    .map(|h| heartbeat_value(h).into())
                    .collect(),
            )
            .list(
                "service_health",
                s.service_health
                    .iter()
                    .map(|h| service_health_value(h).into())
                    .collect(),
            )
    });
    let meta = instance
        .metadata
        .as_ref()
        .map(Meta::from)
        .unwrap_or_default();
    write_header(
        Kind::BotInstance,
        &instance.sub_kind,
        &instance.version,
        &meta,
        Style::Proto,
    )
    .set("spec", spec)
    .object("status", status)
    .string("scope", &instance.scope)
    .into()
}

fn authentication_value(a: &BotInstanceStatusAuthentication) -> Obj {
    let metadata = a
        .metadata
        .as_ref()
        .map(struct_value)
        .filter(|m| !m.is_empty());
    Obj::new()
        .option(
            "authenticated_at",
            a.authenticated_at.as_ref().map(format_proto_timestamp),
        )
        .string("join_method", &a.join_method)
        .string("join_token", &a.join_token)
        .option("metadata", metadata)
        .option("generation", (a.generation != 0).then_some(a.generation))
        .string("public_key", &base64::encode(&a.public_key))
}

fn heartbeat_value(h: &BotInstanceStatusHeartbeat) -> Obj {
    let kind = match BotKind::try_from(h.kind) {
        Ok(BotKind::Unspecified) => None,
        Ok(known) => Some(Value::from(known.as_str_name())),
        Err(_) => Some(Value::from(h.kind)),
    };
    Obj::new()
        .option(
            "recorded_at",
            h.recorded_at.as_ref().map(format_proto_timestamp),
        )
        .option("is_startup", h.is_startup.then_some(true))
        .string("version", &h.version)
        .string("hostname", &h.hostname)
        .option("uptime", h.uptime.as_ref().map(format_proto_duration))
        .string("join_method", &h.join_method)
        .option("one_shot", h.one_shot.then_some(true))
        .string("architecture", &h.architecture)
        .string("os", &h.os)
        .string("external_updater", &h.external_updater)
        .string("external_updater_version", &h.external_updater_version)
        .option("kind", kind)
}

fn service_health_value(h: &BotInstanceServiceHealth) -> Obj {
    let id = h.service.clone().unwrap_or_default();
    let status = match BotInstanceHealthStatus::try_from(h.status) {
        Ok(BotInstanceHealthStatus::Unspecified) => None,
        Ok(known) => Some(Value::from(known.as_str_name())),
        Err(_) => Some(Value::from(h.status)),
    };
    Obj::new()
        .object(
            "service",
            Obj::new()
                .string("type", &id.r#type)
                .string("name", &id.name),
        )
        .option("status", status)
        .option("reason", h.reason.clone())
        .option(
            "updated_at",
            h.updated_at.as_ref().map(format_proto_timestamp),
        )
}

pub(crate) fn from_fields(mut f: Fields) -> Result<BotInstance, ResourceError> {
    let header = read_header(&mut f, Kind::BotInstance, &["v1"], Style::Proto)?;
    let mut s = f.object_or_empty("spec")?;
    let spec = BotInstanceSpec {
        bot_name: s.string("bot_name")?,
        instance_id: s.string("instance_id")?,
        previous_instance_id: s.string("previous_instance_id")?,
    };
    s.finish()?;
    let status = f.object("status")?.map(read_status).transpose()?;
    let scope = f.string("scope")?;
    f.finish()?;
    Ok(BotInstance {
        kind: Kind::BotInstance.name().to_owned(),
        sub_kind: header.sub_kind,
        version: header.version,
        metadata: Some(Metadata::from(header.meta)),
        spec: Some(spec),
        status,
        scope,
    })
}

fn read_status(mut s: Fields) -> Result<BotInstanceStatus, ResourceError> {
    let status = BotInstanceStatus {
        initial_authentication: s
            .object("initial_authentication")?
            .map(read_authentication)
            .transpose()?,
        latest_authentications: s.list("latest_authentications", |path, v| {
            read_authentication(Fields::new(path, v)?)
        })?,
        initial_heartbeat: s
            .object("initial_heartbeat")?
            .map(read_heartbeat)
            .transpose()?,
        latest_heartbeats: s.list("latest_heartbeats", |path, v| {
            read_heartbeat(Fields::new(path, v)?)
        })?,
        service_health: s.list("service_health", |path, v| {
            read_service_health(Fields::new(path, v)?)
        })?,
    };
    s.finish()?;
    Ok(status)
}

fn read_authentication(mut a: Fields) -> Result<BotInstanceStatusAuthentication, ResourceError> {
    let authentication = BotInstanceStatusAuthentication {
        authenticated_at: a.timestamp("authenticated_at")?,
        join_method: a.string("join_method")?,
        join_token: a.string("join_token")?,
        metadata: a.with("metadata", |path, v| match v {
            Value::Object(map) => Ok(proto_struct(map)),
            other => Err(wrong_type(path, "a mapping", &other)),
        })?,
        generation: a.with("generation", as_i32)?.unwrap_or_default(),
        public_key: a
            .with("public_key", |path, v| {
                base64::decode(&as_string(path, v)?).ok_or_else(|| ResourceError::InvalidValue {
                    path: path.to_owned(),
                    message: "expected base64 (the key's PEM bytes, as tctl prints them)"
                        .to_owned(),
                })
            })?
            .unwrap_or_default(),
    };
    a.finish()?;
    Ok(authentication)
}

fn read_heartbeat(mut h: Fields) -> Result<BotInstanceStatusHeartbeat, ResourceError> {
    let heartbeat = BotInstanceStatusHeartbeat {
        recorded_at: h.timestamp("recorded_at")?,
        is_startup: h.bool("is_startup")?,
        version: h.string("version")?,
        hostname: h.string("hostname")?,
        uptime: h.with("uptime", |path, v| {
            parse_proto_duration(&as_string(path, v)?).map_err(|e| e.at_path(path))
        })?,
        join_method: h.string("join_method")?,
        one_shot: h.bool("one_shot")?,
        architecture: h.string("architecture")?,
        os: h.string("os")?,
        external_updater: h.string("external_updater")?,
        external_updater_version: h.string("external_updater_version")?,
        kind: h.with("kind", read_bot_kind)?.unwrap_or_default(),
    };
    h.finish()?;
    Ok(heartbeat)
}

fn read_service_health(mut h: Fields) -> Result<BotInstanceServiceHealth, ResourceError> {
    let service = match h.object("service")? {
        Some(mut id) => {
            let service = BotInstanceServiceIdentifier {
                r#type: id.string("type")?,
                name: id.string("name")?,
            };
            id.finish()?;
            Some(service)
        }
        None => None,
    };
    let health = BotInstanceServiceHealth {
        service,
        status: h.with("status", read_health_status)?.unwrap_or_default(),
        reason: h.with("reason", as_string)?,
        updated_at: h.timestamp("updated_at")?,
    };
    h.finish()?;
    Ok(health)
}

/// An enum as protojson accepts it: its name (one of `names`), or its number.
fn read_enum(
    path: &str,
    value: Value,
    what: &str,
    expected: &'static str,
    names: &[&'static str],
    number_of: impl Fn(&str) -> Option<i32>,
) -> Result<i32, ResourceError> {
    match value {
        Value::String(name) => number_of(&name).ok_or_else(|| ResourceError::InvalidValue {
            path: path.to_owned(),
            message: match closest(&name, names) {
                Some(near) => format!("unknown {what} `{name}`; did you mean `{near}`?"),
                None => format!(
                    "unknown {what} `{name}`; expected one of: {}",
                    names.join(", ")
                ),
            },
        }),
        number @ Value::Number(_) => as_i32(path, number),
        other => Err(wrong_type(path, expected, &other)),
    }
}

fn read_bot_kind(path: &str, value: Value) -> Result<i32, ResourceError> {
    read_enum(
        path,
        value,
        "bot kind",
        "a bot kind name like BOT_KIND_TBOT",
        BOT_KINDS,
        |name| BotKind::from_str_name(name).map(|k| k as i32),
    )
}

fn read_health_status(path: &str, value: Value) -> Result<i32, ResourceError> {
    read_enum(
        path,
        value,
        "health status",
        "a health status name like BOT_INSTANCE_HEALTH_STATUS_HEALTHY",
        HEALTH_STATUSES,
        |name| BotInstanceHealthStatus::from_str_name(name).map(|k| k as i32),
    )
}

/// google.protobuf.Struct as the JSON object protojson prints for it.
fn struct_value(s: &prost_types::Struct) -> Map<String, Value> {
    s.fields
        .iter()
        .map(|(k, v)| (k.clone(), proto_value_json(v)))
        .collect()
}

fn proto_value_json(v: &prost_types::Value) -> Value {
    match &v.kind {
        None | Some(ValueKind::NullValue(_)) => Value::Null,
        Some(ValueKind::NumberValue(n)) => number_json(*n),
        Some(ValueKind::StringValue(s)) => Value::String(s.clone()),
        Some(ValueKind::BoolValue(b)) => Value::Bool(*b),
        Some(ValueKind::StructValue(s)) => Value::Object(struct_value(s)),
        Some(ValueKind::ListValue(l)) => {
            Value::Array(l.values.iter().map(proto_value_json).collect())
        }
    }
}

/// Whole numbers print without a fraction, as protojson prints them; NaN and infinities, which
/// JSON cannot hold, print as strings.
fn number_json(n: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if n.fract() == 0.0 && n.abs() < EXACT {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or_else(|| Value::String(n.to_string()), Value::Number)
    }
}

fn proto_struct(map: Map<String, Value>) -> prost_types::Struct {
    prost_types::Struct {
        fields: map.into_iter().map(|(k, v)| (k, proto_value(v))).collect(),
    }
}

fn proto_value(v: Value) -> prost_types::Value {
    let kind = match v {
        Value::Null => ValueKind::NullValue(0),
        Value::Bool(b) => ValueKind::BoolValue(b),
        Value::Number(n) => ValueKind::NumberValue(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => ValueKind::StringValue(s),
        Value::Array(items) => ValueKind::ListValue(prost_types::ListValue {
            values: items.into_iter().map(proto_value).collect(),
        }),
        Value::Object(map) => ValueKind::StructValue(proto_struct(map)),
    };
    prost_types::Value { kind: Some(kind) }
}
