//! A role's `spec.options` (`types.RoleOptions`): session, recording, certificate and
//! provisioning options, with the key names and value forms tctl prints.

use mwi_proto::types::{
    CertExtension, IdPOptions, IdPsamlOptions, RecordSession, RoleOptions, SshLocalPortForwarding,
    SshPortForwarding, SshRemotePortForwarding,
};
use serde_json::Value;

use super::{bool_value, nanos_value, parse_bool_word, read_bool, read_bool_value, read_nanos};
use crate::resource::error::ResourceError;
use crate::resource::fields::{Fields, Obj, as_i64, mapping, wrong_type};
use crate::resource::units::parse_go_duration;

type Result<T> = std::result::Result<T, ResourceError>;

/// `require_session_mfa` beyond off (`false`) and session (`true`).
const REQUIRE_MFA: &[(i32, &str)] = &[
    (2, "hardware_key"),
    (3, "hardware_key_touch"),
    (4, "hardware_key_pin"),
    (5, "hardware_key_touch_and_pin"),
];

/// `create_host_user_mode`; 0 (unspecified) is left out.
const HOST_USER_MODES: &[(i32, &str)] =
    &[(1, "off"), (2, "drop"), (3, "keep"), (4, "insecure-drop")];

/// `create_db_user_mode`; 0 (unspecified) is left out.
const DB_USER_MODES: &[(i32, &str)] = &[(1, "off"), (2, "keep"), (3, "best_effort_drop")];

/// The only certificate extension type and mode Teleport has: `ssh` and `extension`.
const CERT_EXTENSION_TYPES: &[(i32, &str)] = &[(0, "ssh")];
const CERT_EXTENSION_MODES: &[(i32, &str)] = &[(0, "extension")];

pub(super) fn to_value(o: &RoleOptions) -> Obj {
    // Teleport sets cert_format on every role it stores, and tctl then prints the plain booleans
    // forward_agent and pin_source_ip even when false. A role without cert_format never went
    // through those defaults (a lab or hand-made role), so only what is set is shown.
    let from_teleport = !o.certificate_format.is_empty();
    let plain = |obj: Obj, key: &str, value: bool| {
        if value || from_teleport {
            obj.set(key, value)
        } else {
            obj
        }
    };
    let obj = plain(Obj::new(), "forward_agent", o.forward_agent)
        .option("max_session_ttl", nanos_value(o.max_session_ttl))
        .option("port_forwarding", bool_value(o.port_forwarding.as_ref()))
        .string("cert_format", &o.certificate_format)
        .option("client_idle_timeout", nanos_value(o.client_idle_timeout))
        .flag("disconnect_expired_cert", o.disconnect_expired_cert)
        .strings("enhanced_recording", &o.bpf)
        .flag("permit_x11_forwarding", o.permit_x11_forwarding)
        .int("max_connections", o.max_connections)
        .int("max_sessions", o.max_sessions)
        .string("request_access", &o.request_access)
        .string("request_prompt", &o.request_prompt)
        .string("lock", &o.lock)
        .option(
            "record_session",
            o.record_session.as_ref().map(record_session),
        )
        .option(
            "desktop_clipboard",
            bool_value(o.desktop_clipboard.as_ref()),
        )
        .list(
            "cert_extensions",
            o.cert_extensions.iter().map(cert_extension).collect(),
        )
        .int("max_kubernetes_connections", o.max_kubernetes_connections)
        .option(
            "desktop_directory_sharing",
            bool_value(o.desktop_directory_sharing.as_ref()),
        )
        .option("create_host_user", bool_value(o.create_host_user.as_ref()));
    plain(obj, "pin_source_ip", o.pin_source_ip)
        .option("ssh_file_copy", bool_value(o.ssh_file_copy.as_ref()))
        .option("require_session_mfa", require_mfa(o.require_mfa_type))
        .string("device_trust_mode", &o.device_trust_mode)
        .option("idp", o.idp.as_ref().map(idp))
        .option(
            "create_desktop_user",
            bool_value(o.create_desktop_user.as_ref()),
        )
        .option(
            "create_db_user",
            bool_value(o.create_database_user.as_ref()),
        )
        .option(
            "create_host_user_mode",
            (o.create_host_user_mode != 0).then(|| named(HOST_USER_MODES, o.create_host_user_mode)),
        )
        .option(
            "create_db_user_mode",
            (o.create_database_user_mode != 0)
                .then(|| named(DB_USER_MODES, o.create_database_user_mode)),
        )
        .option(
            "mfa_verification_interval",
            o.mfa_verification_interval
                .as_ref()
                .and_then(interval_nanos),
        )
        .string(
            "create_host_user_default_shell",
            &o.create_host_user_default_shell,
        )
        .option(
            "ssh_port_forwarding",
            o.ssh_port_forwarding.as_ref().map(ssh_port_forwarding),
        )
}

pub(super) fn read(mut f: Fields) -> Result<RoleOptions> {
    let options = RoleOptions {
        forward_agent: f.with("forward_agent", read_bool)?.unwrap_or_default(),
        max_session_ttl: f.with("max_session_ttl", read_nanos)?.unwrap_or_default(),
        port_forwarding: f.with("port_forwarding", read_bool_value)?,
        certificate_format: f.string("cert_format")?,
        client_idle_timeout: f
            .with("client_idle_timeout", read_nanos)?
            .unwrap_or_default(),
        disconnect_expired_cert: f
            .with("disconnect_expired_cert", read_bool)?
            .unwrap_or_default(),
        bpf: f.strings("enhanced_recording")?,
        permit_x11_forwarding: f
            .with("permit_x11_forwarding", read_bool)?
            .unwrap_or_default(),
        max_connections: f.with("max_connections", as_i64)?.unwrap_or_default(),
        max_sessions: f.with("max_sessions", as_i64)?.unwrap_or_default(),
        request_access: f.string("request_access")?,
        request_prompt: f.string("request_prompt")?,
        lock: f.string("lock")?,
        record_session: f.with("record_session", mapping(read_record_session))?,
        desktop_clipboard: f.with("desktop_clipboard", read_bool_value)?,
        cert_extensions: f.list("cert_extensions", mapping(read_cert_extension))?,
        max_kubernetes_connections: f
            .with("max_kubernetes_connections", as_i64)?
            .unwrap_or_default(),
        desktop_directory_sharing: f.with("desktop_directory_sharing", read_bool_value)?,
        create_host_user: f.with("create_host_user", read_bool_value)?,
        pin_source_ip: f.with("pin_source_ip", read_bool)?.unwrap_or_default(),
        ssh_file_copy: f.with("ssh_file_copy", read_bool_value)?,
        require_mfa_type: f
            .with("require_session_mfa", read_require_mfa)?
            .unwrap_or_default(),
        device_trust_mode: f.string("device_trust_mode")?,
        idp: f.with("idp", mapping(read_idp))?,
        create_desktop_user: f.with("create_desktop_user", read_bool_value)?,
        create_database_user: f.with("create_db_user", read_bool_value)?,
        create_host_user_mode: f
            .with("create_host_user_mode", read_host_user_mode)?
            .unwrap_or_default(),
        create_database_user_mode: f
            .with("create_db_user_mode", read_db_user_mode)?
            .unwrap_or_default(),
        mfa_verification_interval: f.with("mfa_verification_interval", read_interval)?,
        create_host_user_default_shell: f.string("create_host_user_default_shell")?,
        ssh_port_forwarding: f.with("ssh_port_forwarding", mapping(read_ssh_port_forwarding))?,
    };
    f.finish()?;
    Ok(options)
}

/// The name of enum value `n`, or the number itself for a value newer than this table.
fn named(table: &[(i32, &'static str)], n: i32) -> Value {
    table
        .iter()
        .find(|(value, _)| *value == n)
        .map_or_else(|| Value::from(n), |(_, name)| Value::from(*name))
}

/// The value of an enum `name` in `table`, or an error listing the names.
fn by_name(table: &[(i32, &'static str)], path: &str, name: &str) -> Result<i32> {
    table
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(value, _)| *value)
        .ok_or_else(|| invalid(path, name, table))
}

fn invalid(path: &str, given: &str, table: &[(i32, &'static str)]) -> ResourceError {
    let names: Vec<&str> = table.iter().map(|(_, name)| *name).collect();
    ResourceError::InvalidValue {
        path: path.to_owned(),
        message: format!("unknown value `{given}`; use {}", names.join(", ")),
    }
}

/// An enum given by number, as Teleport also accepts: only values it knows.
fn by_number(path: &str, value: &Value, max: i32) -> Result<i32> {
    value
        .as_i64()
        .and_then(|n| i32::try_from(n).ok())
        .filter(|n| (0..=max).contains(n))
        .ok_or_else(|| ResourceError::InvalidValue {
            path: path.to_owned(),
            message: format!("unknown value {value}; numbers run from 0 to {max}"),
        })
}

fn record_session(r: &RecordSession) -> Obj {
    Obj::new()
        .option("desktop", bool_value(r.desktop.as_ref()))
        .string("default", &r.default)
        .string("ssh", &r.ssh)
}

fn read_record_session(f: &mut Fields) -> Result<RecordSession> {
    Ok(RecordSession {
        desktop: f.with("desktop", read_bool_value)?,
        default: f.string("default")?,
        ssh: f.string("ssh")?,
    })
}

/// Every key is printed: Go's tags here have no `omitempty`.
fn cert_extension(e: &CertExtension) -> Value {
    Obj::new()
        .set("type", named(CERT_EXTENSION_TYPES, e.r#type))
        .set("mode", named(CERT_EXTENSION_MODES, e.mode))
        .set("name", e.name.as_str())
        .set("value", e.value.as_str())
        .into()
}

fn read_cert_extension(f: &mut Fields) -> Result<CertExtension> {
    let enum_of = |table: &'static [(i32, &'static str)]| {
        move |path: &str, value: Value| match &value {
            Value::String(name) => by_name(table, path, name),
            Value::Number(_) => by_number(path, &value, 0),
            _ => Err(wrong_type(path, "a name such as ssh or extension", &value)),
        }
    };
    Ok(CertExtension {
        r#type: f
            .with("type", enum_of(CERT_EXTENSION_TYPES))?
            .unwrap_or_default(),
        mode: f
            .with("mode", enum_of(CERT_EXTENSION_MODES))?
            .unwrap_or_default(),
        name: f.string("name")?,
        value: f.string("value")?,
    })
}

/// Off is left out, session is `true`, the hardware-key modes go by name.
fn require_mfa(n: i32) -> Option<Value> {
    match n {
        0 => None,
        1 => Some(Value::Bool(true)),
        n => Some(named(REQUIRE_MFA, n)),
    }
}

fn read_require_mfa(path: &str, value: Value) -> Result<i32> {
    match &value {
        Value::Bool(b) => Ok(i32::from(*b)),
        Value::String(s) if s.is_empty() => Ok(0),
        Value::String(s) => match parse_bool_word(s) {
            Some(b) => Ok(i32::from(b)),
            None => by_name(REQUIRE_MFA, path, s).map_err(|_| ResourceError::InvalidValue {
                path: path.to_owned(),
                message: format!(
                    "unknown value `{s}`; use true, false, hardware_key, hardware_key_touch, \
                     hardware_key_pin or hardware_key_touch_and_pin"
                ),
            }),
        },
        Value::Number(_) => by_number(path, &value, 5),
        _ => Err(wrong_type(
            path,
            "true, false or a hardware key mode",
            &value,
        )),
    }
}

fn read_host_user_mode(path: &str, value: Value) -> Result<i32> {
    // Like Teleport: `drop` (and its number) now mean insecure-drop, and `false` means off.
    const DROP: i32 = 2;
    const INSECURE_DROP: i32 = 4;
    let n = match &value {
        Value::String(s) if s.is_empty() => 0,
        Value::String(s) => by_name(HOST_USER_MODES, path, s)?,
        Value::Bool(false) => 1,
        Value::Bool(true) => return Err(cannot_be_true(path, HOST_USER_MODES)),
        Value::Number(_) => by_number(path, &value, INSECURE_DROP)?,
        _ => return Err(wrong_type(path, "a mode such as keep or off", &value)),
    };
    Ok(if n == DROP { INSECURE_DROP } else { n })
}

fn read_db_user_mode(path: &str, value: Value) -> Result<i32> {
    match &value {
        Value::String(s) if s.is_empty() => Ok(0),
        Value::String(s) => by_name(DB_USER_MODES, path, s),
        Value::Bool(false) => Ok(1),
        Value::Bool(true) => Err(cannot_be_true(path, DB_USER_MODES)),
        Value::Number(_) => by_number(path, &value, 3),
        _ => Err(wrong_type(path, "a mode such as keep or off", &value)),
    }
}

fn cannot_be_true(path: &str, table: &[(i32, &'static str)]) -> ResourceError {
    let names: Vec<&str> = table.iter().map(|(_, name)| *name).collect();
    ResourceError::InvalidValue {
        path: path.to_owned(),
        message: format!("cannot be true; use {}", names.join(", ")),
    }
}

/// Go's JSON form of a `time.Duration`: whole nanoseconds. Zero is left out (`omitempty`);
/// Teleport's durations fit in i64 nanoseconds, so the conversion only saturates on nonsense.
fn interval_nanos(d: &prost_types::Duration) -> Option<i64> {
    let nanos = i128::from(d.seconds) * 1_000_000_000 + i128::from(d.nanos);
    (nanos != 0)
        .then(|| i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX }))
}

/// Whole nanoseconds as tctl prints them, or a duration string like `1h` for people.
fn read_interval(path: &str, value: Value) -> Result<prost_types::Duration> {
    let nanos = match &value {
        Value::Number(_) => as_i64(path, value)?,
        Value::String(text) => {
            let d = parse_go_duration(text).map_err(|e| e.at_path(path))?;
            // parse_go_duration refuses anything above i64::MAX nanoseconds.
            d.as_nanos() as i64
        }
        _ => {
            return Err(wrong_type(
                path,
                "whole nanoseconds or a duration string like 1h",
                &value,
            ));
        }
    };
    Ok(prost_types::Duration {
        seconds: nanos.div_euclid(1_000_000_000),
        // Below 1e9 by construction.
        nanos: nanos.rem_euclid(1_000_000_000) as i32,
    })
}

fn idp(i: &IdPOptions) -> Obj {
    Obj::new().option(
        "saml",
        i.saml
            .as_ref()
            .map(|s| Obj::new().option("enabled", bool_value(s.enabled.as_ref()))),
    )
}

fn read_idp(f: &mut Fields) -> Result<IdPOptions> {
    Ok(IdPOptions {
        saml: f.with(
            "saml",
            mapping(|s| {
                Ok(IdPsamlOptions {
                    enabled: s.with("enabled", read_bool_value)?,
                })
            }),
        )?,
    })
}

fn ssh_port_forwarding(p: &SshPortForwarding) -> Obj {
    let enabled =
        |e: Option<&mwi_proto::types::BoolValue>| Obj::new().option("enabled", bool_value(e));
    Obj::new()
        .option(
            "local",
            p.local.as_ref().map(|l| enabled(l.enabled.as_ref())),
        )
        .option(
            "remote",
            p.remote.as_ref().map(|r| enabled(r.enabled.as_ref())),
        )
}

fn read_ssh_port_forwarding(f: &mut Fields) -> Result<SshPortForwarding> {
    Ok(SshPortForwarding {
        local: f.with(
            "local",
            mapping(|l| {
                Ok(SshLocalPortForwarding {
                    enabled: l.with("enabled", read_bool_value)?,
                })
            }),
        )?,
        remote: f.with(
            "remote",
            mapping(|r| {
                Ok(SshRemotePortForwarding {
                    enabled: r.with("enabled", read_bool_value)?,
                })
            }),
        )?,
    })
}
