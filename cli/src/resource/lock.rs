//! Locks (`types.LockV2`) in tctl's shape, and a lock target in the gogo compact-text form that
//! tctl's locks table and Teleport's "lock targeting … is in force" errors use.

use mwi_proto::types::{LockSpecV2, LockTarget, LockV2, Metadata};
use serde_json::Value;

use super::Kind;
use super::error::ResourceError;
use super::fields::{Fields, Obj};
use super::header::{Meta, Style, read_header, write_header};
use super::units::{format_timestamp, is_go_zero_time};

/// Each target attribute: its YAML key, its proto field name, and its value.
fn target_fields(t: &LockTarget) -> [(&'static str, &'static str, &str); 11] {
    [
        ("user", "User", &t.user),
        ("role", "Role", &t.role),
        ("login", "Login", &t.login),
        ("node", "Node", &t.node),
        ("mfa_device", "MFADevice", &t.mfa_device),
        ("windows_desktop", "WindowsDesktop", &t.windows_desktop),
        ("access_request", "AccessRequest", &t.access_request),
        ("device", "Device", &t.device),
        ("server_id", "ServerID", &t.server_id),
        ("bot_instance_id", "BotInstanceID", &t.bot_instance_id),
        ("join_token", "JoinToken", &t.join_token),
    ]
}

/// The target as gogo's compact text: `User:"bot-example"`, several set fields separated by
/// spaces (`User:"a" Role:"b"`), empty for an empty target.
pub fn lock_target_text(target: &LockTarget) -> String {
    target_fields(target)
        .iter()
        .filter(|(_, _, value)| !value.is_empty())
        .map(|(_, proto_name, value)| format!("{proto_name}:{}", text_quote(value)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A string in protobuf text format: C-style escapes, bytes outside printable ASCII in octal.
fn text_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for byte in value.bytes() {
        match byte {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..0x7f => out.push(char::from(byte)),
            _ => out.push_str(&format!("\\{byte:03o}")),
        }
    }
    out.push('"');
    out
}

pub(crate) fn to_value(lock: &LockV2) -> Value {
    let default_spec = LockSpecV2::default();
    let spec = lock.spec.as_ref().unwrap_or(&default_spec);
    let default_target = LockTarget::default();
    let target = spec.target.as_ref().unwrap_or(&default_target);
    let target = target_fields(target)
        .iter()
        .fold(Obj::new(), |obj, (key, _, value)| obj.string(key, value));
    let created_at = spec.created_at.as_ref().filter(|t| !is_go_zero_time(t));
    let spec = Obj::new()
        .set("target", target)
        .string("message", &spec.message)
        .option("expires", spec.expires.as_ref().map(format_timestamp))
        .option("created_at", created_at.map(format_timestamp))
        .string("created_by", &spec.created_by);
    let meta = lock.metadata.as_ref().map(Meta::from).unwrap_or_default();
    write_header(
        Kind::Lock,
        &lock.sub_kind,
        &lock.version,
        &meta,
        Style::Legacy,
    )
    .set("spec", spec)
    .into()
}

pub(crate) fn from_fields(mut f: Fields) -> Result<LockV2, ResourceError> {
    let header = read_header(&mut f, Kind::Lock, &["v2"], Style::Legacy)?;
    let Some(mut s) = f.object("spec")? else {
        return Err(ResourceError::Missing {
            path: f.path_of("spec"),
            expected: "a mapping with `target`",
        });
    };
    let target_path = s.path_of("target");
    let target = match s.object("target")? {
        Some(t) => read_target(t)?,
        None => LockTarget::default(),
    };
    let message = s.string("message")?;
    let expires = s.timestamp("expires")?;
    let created_at = s.timestamp("created_at")?;
    let created_by = s.string("created_by")?;
    s.finish()?;
    f.finish()?;
    // Checked after the keys, so that a misspelt `target` gets its did-you-mean.
    if lock_target_text(&target).is_empty() {
        return Err(ResourceError::InvalidValue {
            path: target_path,
            message: "a lock needs at least one target, like `user: bot-NAME`".to_owned(),
        });
    }
    let spec = LockSpecV2 {
        target: Some(target),
        message,
        expires,
        created_at,
        created_by,
    };
    Ok(LockV2 {
        kind: Kind::Lock.name().to_owned(),
        sub_kind: header.sub_kind,
        version: header.version,
        metadata: Some(Metadata::from(header.meta)),
        spec: Some(spec),
    })
}

fn read_target(mut t: Fields) -> Result<LockTarget, ResourceError> {
    let target = LockTarget {
        user: t.string("user")?,
        role: t.string("role")?,
        login: t.string("login")?,
        node: t.string("node")?,
        mfa_device: t.string("mfa_device")?,
        windows_desktop: t.string("windows_desktop")?,
        access_request: t.string("access_request")?,
        device: t.string("device")?,
        server_id: t.string("server_id")?,
        bot_instance_id: t.string("bot_instance_id")?,
        join_token: t.string("join_token")?,
    };
    t.finish()?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_text_names_proto_fields_in_field_order() {
        let target = LockTarget {
            user: "bot-example".into(),
            ..Default::default()
        };
        assert_eq!(lock_target_text(&target), "User:\"bot-example\"");
        let target = LockTarget {
            role: "b".into(),
            user: "a".into(),
            mfa_device: "m".into(),
            server_id: "s".into(),
            bot_instance_id: "i".into(),
            join_token: "j".into(),
            ..Default::default()
        };
        assert_eq!(
            lock_target_text(&target),
            "User:\"a\" Role:\"b\" MFADevice:\"m\" ServerID:\"s\" BotInstanceID:\"i\" JoinToken:\"j\""
        );
        assert_eq!(lock_target_text(&LockTarget::default()), "");
    }

    #[test]
    fn target_text_escapes_like_protobuf_text_format() {
        let target = LockTarget {
            user: "a\"b\\c\nd\té".into(),
            ..Default::default()
        };
        assert_eq!(
            lock_target_text(&target),
            "User:\"a\\\"b\\\\c\\nd\\t\\303\\251\""
        );
    }
}
