//! The parts every kind shares: `kind`, `version`, `sub_kind` and `metadata`, for both the legacy
//! `types.Metadata` (locks, roles, tokens) and `teleport.header.v1.Metadata` (bots, instances).

use std::collections::BTreeMap;

use mwi_proto::teleport::header::v1 as header_v1;
use mwi_proto::types;

use super::Kind;
use super::error::ResourceError;
use super::fields::{Fields, Obj};
use super::units::{format_proto_timestamp, format_timestamp};

/// How a kind is printed by tctl: through Go's `encoding/json` with gogo tags (legacy `types`
/// package), or through protojson (the versioned `teleport.*` packages). The shapes are the
/// same; times differ in fractional digits, and only legacy metadata had an `id`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Legacy,
    Proto,
}

impl Style {
    pub(crate) fn time(self, ts: &prost_types::Timestamp) -> String {
        match self {
            Style::Legacy => format_timestamp(ts),
            Style::Proto => format_proto_timestamp(ts),
        }
    }
}

/// Metadata fields common to both metadata messages.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Meta {
    pub name: String,
    pub namespace: String,
    pub description: String,
    pub labels: BTreeMap<String, String>,
    pub expires: Option<prost_types::Timestamp>,
    pub revision: String,
}

/// A document's header as read.
pub(crate) struct Header {
    pub sub_kind: String,
    pub version: String,
    pub meta: Meta,
}

impl From<&types::Metadata> for Meta {
    fn from(m: &types::Metadata) -> Meta {
        Meta {
            name: m.name.clone(),
            namespace: m.namespace.clone(),
            description: m.description.clone(),
            labels: m.labels.clone(),
            expires: m.expires,
            revision: m.revision.clone(),
        }
    }
}

impl From<Meta> for types::Metadata {
    fn from(m: Meta) -> types::Metadata {
        types::Metadata {
            name: m.name,
            namespace: m.namespace,
            description: m.description,
            labels: m.labels,
            expires: m.expires,
            revision: m.revision,
        }
    }
}

impl From<&header_v1::Metadata> for Meta {
    fn from(m: &header_v1::Metadata) -> Meta {
        Meta {
            name: m.name.clone(),
            namespace: m.namespace.clone(),
            description: m.description.clone(),
            labels: m.labels.clone(),
            expires: m.expires,
            revision: m.revision.clone(),
        }
    }
}

impl From<Meta> for header_v1::Metadata {
    fn from(m: Meta) -> header_v1::Metadata {
        header_v1::Metadata {
            name: m.name,
            namespace: m.namespace,
            description: m.description,
            labels: m.labels,
            expires: m.expires,
            revision: m.revision,
        }
    }
}

/// Reads `kind` (already checked by the caller), `version` (one of `versions`), `sub_kind` and
/// `metadata`.
pub(crate) fn read_header(
    f: &mut Fields,
    kind: Kind,
    versions: &[&str],
    style: Style,
) -> Result<Header, ResourceError> {
    f.ignore("kind");
    let version = f.required_string("version")?;
    if !versions.contains(&version.as_str()) {
        return Err(ResourceError::InvalidValue {
            path: f.path_of("version"),
            message: format!(
                "unsupported {} version `{version}`; expected {}",
                kind.name(),
                versions.join(" or ")
            ),
        });
    }
    let sub_kind = f.string("sub_kind")?;
    let Some(mut m) = f.object("metadata")? else {
        return Err(ResourceError::Missing {
            path: f.path_of("metadata"),
            expected: "a mapping with at least `name`",
        });
    };
    let meta = Meta {
        name: m.required_string("name")?,
        namespace: m.string("namespace")?,
        description: m.string("description")?,
        labels: m.labels("labels")?,
        expires: m.timestamp("expires")?,
        revision: m.string("revision")?,
    };
    if style == Style::Legacy {
        // Releases before revisions printed a numeric `id`; the wire has no room for it.
        m.ignore("id");
    }
    m.finish()?;
    Ok(Header {
        sub_kind,
        version,
        meta,
    })
}

/// `kind`, `version`, `sub_kind` and `metadata` of an output document. The namespace is left
/// out, as tctl leaves it out.
pub(crate) fn write_header(
    kind: Kind,
    sub_kind: &str,
    version: &str,
    meta: &Meta,
    style: Style,
) -> Obj {
    let metadata = Obj::new()
        .set("name", meta.name.as_str())
        .string("description", &meta.description)
        .labels("labels", &meta.labels)
        .option("expires", meta.expires.as_ref().map(|t| style.time(t)))
        .string("revision", &meta.revision);
    Obj::new()
        .set("kind", kind.name())
        .string("sub_kind", sub_kind)
        .string("version", version)
        .set("metadata", metadata)
}
