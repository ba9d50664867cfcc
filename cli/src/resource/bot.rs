//! Bots (`teleport.machineid.v1.Bot`) in tctl's protojson shape: roles, traits and
//! `max_session_ttl` in the spec; the server-owned status is printed but not read back.

use mwi_proto::machineid::{Bot, BotSpec, Trait};
use mwi_proto::teleport::header::v1::Metadata;
use serde_json::Value;

use super::Kind;
use super::error::ResourceError;
use super::fields::{Fields, Obj, as_string};
use super::header::{Meta, Style, read_header, write_header};
use super::units::{format_proto_duration, parse_proto_duration};

pub(crate) fn to_value(bot: &Bot) -> Value {
    let default_spec = BotSpec::default();
    let spec = bot.spec.as_ref().unwrap_or(&default_spec);
    let traits: Vec<Value> = spec
        .traits
        .iter()
        .map(|t| {
            Obj::new()
                .string("name", &t.name)
                .strings("values", &t.values)
                .into()
        })
        .collect();
    let spec = Obj::new()
        .strings("roles", &spec.roles)
        .list("traits", traits)
        .option(
            "max_session_ttl",
            spec.max_session_ttl.as_ref().map(format_proto_duration),
        );
    let status = bot.status.as_ref().map_or_else(Obj::new, |s| {
        Obj::new()
            .string("user_name", &s.user_name)
            .string("role_name", &s.role_name)
    });
    let meta = bot.metadata.as_ref().map(Meta::from).unwrap_or_default();
    write_header(Kind::Bot, &bot.sub_kind, &bot.version, &meta, Style::Proto)
        .set("spec", spec)
        .object("status", status)
        .string("scope", &bot.scope)
        .into()
}

pub(crate) fn from_fields(mut f: Fields) -> Result<Bot, ResourceError> {
    let header = read_header(&mut f, Kind::Bot, &["v1"], Style::Proto)?;
    let mut s = f.object_or_empty("spec")?;
    let spec = BotSpec {
        roles: s.strings("roles")?,
        traits: s.list("traits", read_trait)?,
        max_session_ttl: s.with("max_session_ttl", |path, v| {
            parse_proto_duration(&as_string(path, v)?).map_err(|e| e.at_path(path))
        })?,
    };
    s.finish()?;
    // The status belongs to the server (it names the bot's user and role); a file copied from
    // `get` may carry it, so it is checked for shape and then left out.
    if let Some(mut status) = f.object("status")? {
        status.string("user_name")?;
        status.string("role_name")?;
        status.finish()?;
    }
    let scope = f.string("scope")?;
    f.finish()?;
    Ok(Bot {
        kind: Kind::Bot.name().to_owned(),
        sub_kind: header.sub_kind,
        version: header.version,
        metadata: Some(Metadata::from(header.meta)),
        spec: Some(spec),
        status: None,
        scope,
    })
}

fn read_trait(path: &str, value: Value) -> Result<Trait, ResourceError> {
    let mut t = Fields::new(path, value)?;
    let result = Trait {
        name: t.required_string("name")?,
        values: t.strings("values")?,
    };
    t.finish()?;
    Ok(result)
}
