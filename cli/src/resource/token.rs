//! Join tokens (`types.ProvisionTokenV2`) in tctl's shape. The token's name is its secret and its
//! expiry is `metadata.expires`; the spec carries the join roles, method and bot name.

use mwi_proto::types::{Metadata, ProvisionTokenSpecV2, ProvisionTokenV2};
use serde_json::Value;

use super::Kind;
use super::error::ResourceError;
use super::fields::{Fields, Obj};
use super::header::{Meta, Style, read_header, write_header};

pub(crate) fn to_value(token: &ProvisionTokenV2) -> Value {
    let default_spec = ProvisionTokenSpecV2::default();
    let spec = token.spec.as_ref().unwrap_or(&default_spec);
    let spec = Obj::new()
        .strings("roles", &spec.roles)
        .string("join_method", &spec.join_method)
        .string("bot_name", &spec.bot_name);
    let meta = token.metadata.as_ref().map(Meta::from).unwrap_or_default();
    write_header(
        Kind::Token,
        &token.sub_kind,
        &token.version,
        &meta,
        Style::Legacy,
    )
    .set("spec", spec)
    .into()
}

pub(crate) fn from_fields(mut f: Fields) -> Result<ProvisionTokenV2, ResourceError> {
    let header = read_header(&mut f, Kind::Token, &["v2"], Style::Legacy)?;
    let mut s = f.object_or_empty("spec")?;
    let spec = ProvisionTokenSpecV2 {
        roles: s.strings("roles")?,
        join_method: s.string("join_method")?,
        bot_name: s.string("bot_name")?,
        ..Default::default()
    };
    s.finish()?;
    f.finish()?;
    Ok(ProvisionTokenV2 {
        kind: Kind::Token.name().to_owned(),
        sub_kind: header.sub_kind,
        version: header.version,
        metadata: Some(Metadata::from(header.meta)),
        spec: Some(spec),
        status: None,
    })
}
