//! Resources in tctl's YAML/JSON shape (kind, version, metadata, spec), converted to and from
//! the wire messages.
//!
//! Output follows what `tctl get` prints (keys sorted, empty values left out, Go duration and
//! time text), so files move between tctl and mwictl both ways. Input is strict: an unknown key
//! or a value of the wrong type is an error naming its path, like `spec.allow.rules[0].verbs`.
//! Only the fields the wire messages model are shown; fields a newer server sends beyond them
//! are for the callers to keep (see `mwi_proto::unknown::keep_unknown`).

pub(crate) mod base64;
mod bot;
mod bot_instance;
mod documents;
mod error;
mod fields;
mod header;
mod lock;
mod name;
mod role;
mod token;
mod units;
mod yaml;

#[cfg(test)]
mod tests;

use mwi_proto::machineid::{Bot, BotInstance};
use mwi_proto::types::{LockV2, ProvisionTokenV2, RoleV6};
use serde_json::Value;

pub use documents::{MAX_INPUT_BYTES, parse_documents, render_json, render_yaml};
pub use error::ResourceError;
pub(crate) use error::edit_distance;
pub use lock::lock_target_text;
pub use name::{MAX_NAME_BYTES, NameError, check_name, cut, shown};
pub(crate) use token::status_changes;
pub use units::{format_go_duration, format_timestamp, parse_go_duration, parse_timestamp};

use error::closest;
use fields::{Fields, wrong_type};

/// The kinds of resource mwictl reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Lock,
    Role,
    Token,
    Bot,
    BotInstance,
}

const KIND_NAMES: &[&str] = &["lock", "role", "token", "bot", "bot_instance"];

impl Kind {
    /// A kind as typed on the command line: singular or plural, any case (`locks`, `Role`).
    pub fn parse(s: &str) -> Result<Kind, ResourceError> {
        let lower = s.to_ascii_lowercase();
        let singular = lower.strip_suffix('s').unwrap_or(&lower);
        Kind::from_name(singular)
            .or_else(|| Kind::from_name(&lower))
            .ok_or_else(|| ResourceError::UnknownKind {
                given: cut(s),
                suggestion: closest(&lower, KIND_NAMES),
            })
    }

    /// The kind's name in documents and references: `lock`, `role`, `token`, `bot`,
    /// `bot_instance`.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Lock => "lock",
            Kind::Role => "role",
            Kind::Token => "token",
            Kind::Bot => "bot",
            Kind::BotInstance => "bot_instance",
        }
    }

    fn from_name(name: &str) -> Option<Kind> {
        [
            Kind::Lock,
            Kind::Role,
            Kind::Token,
            Kind::Bot,
            Kind::BotInstance,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A `kind` or `kind/name` reference, as `get` and `rm` take them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRef {
    pub kind: Kind,
    /// The name; for bot instances `BOT/UUID`.
    pub name: Option<String>,
}

impl ResourceRef {
    /// Parses `lock`, `lock/NAME`, `role/NAME`, `bot_instance/BOT/UUID` (name `BOT/UUID`).
    ///
    /// NAME is everything after the first `/` and may be anything but empty, so a resource that
    /// another tool made with a name mwictl would not write (`a/b`, 10,000 bytes) can still be
    /// read and removed; [`check_name`] is the rule for names being written.
    pub fn parse(s: &str) -> Result<ResourceRef, ResourceError> {
        let (kind_text, name) = match s.split_once('/') {
            Some((kind, name)) => (kind, Some(name)),
            None => (s, None),
        };
        let kind = Kind::parse(kind_text)?;
        let invalid = |reason: String| ResourceError::InvalidRef {
            given: cut(s),
            reason,
        };
        let name = match name {
            None => None,
            Some(name) if kind == Kind::BotInstance => match name.rsplit_once('/') {
                Some((bot, id)) if !bot.is_empty() && !id.is_empty() => Some(name.to_owned()),
                _ => {
                    return Err(invalid(
                        "expected bot_instance/BOT/UUID, like bot_instance/example/5cee949f-…"
                            .to_owned(),
                    ));
                }
            },
            Some("") => return Err(invalid(format!("expected a name after `{kind_text}/`"))),
            Some(name) => Some(name.to_owned()),
        };
        Ok(ResourceRef { kind, name })
    }
}

impl std::fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{}/{name}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

/// One resource, as its wire message.
// Unboxed on purpose: callers build and match the wire messages directly, and a command holds
// at most a few thousand resources, so the size of the largest (a role) does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Resource {
    Lock(LockV2),
    Role(RoleV6),
    Token(ProvisionTokenV2),
    Bot(Bot),
    BotInstance(BotInstance),
}

impl Resource {
    pub fn kind(&self) -> Kind {
        match self {
            Resource::Lock(_) => Kind::Lock,
            Resource::Role(_) => Kind::Role,
            Resource::Token(_) => Kind::Token,
            Resource::Bot(_) => Kind::Bot,
            Resource::BotInstance(_) => Kind::BotInstance,
        }
    }

    /// `metadata.name`; for a bot instance `BOT/UUID`, the form references use.
    pub fn name(&self) -> String {
        let name = match self {
            Resource::Lock(r) => r.metadata.as_ref().map(|m| &m.name),
            Resource::Role(r) => r.metadata.as_ref().map(|m| &m.name),
            Resource::Token(r) => r.metadata.as_ref().map(|m| &m.name),
            Resource::Bot(r) => r.metadata.as_ref().map(|m| &m.name),
            Resource::BotInstance(r) => {
                let (bot, id) = r
                    .spec
                    .as_ref()
                    .map_or(("", ""), |s| (s.bot_name.as_str(), s.instance_id.as_str()));
                return format!("{bot}/{id}");
            }
        };
        name.cloned().unwrap_or_default()
    }

    /// `metadata.revision`, if the server gave one.
    pub fn revision(&self) -> Option<String> {
        let revision = match self {
            Resource::Lock(r) => r.metadata.as_ref().map(|m| &m.revision),
            Resource::Role(r) => r.metadata.as_ref().map(|m| &m.revision),
            Resource::Token(r) => r.metadata.as_ref().map(|m| &m.revision),
            Resource::Bot(r) => r.metadata.as_ref().map(|m| &m.revision),
            Resource::BotInstance(r) => r.metadata.as_ref().map(|m| &m.revision),
        };
        revision.filter(|r| !r.is_empty()).cloned()
    }

    /// The resource in tctl's shape.
    pub fn to_value(&self) -> Value {
        match self {
            Resource::Lock(r) => lock::to_value(r),
            Resource::Role(r) => role::to_value(r),
            Resource::Token(r) => token::to_value(r),
            Resource::Bot(r) => bot::to_value(r),
            Resource::BotInstance(r) => bot_instance::to_value(r),
        }
    }

    /// Reads a document in tctl's shape; its `kind` picks the message.
    pub fn from_value(value: Value) -> Result<Resource, ResourceError> {
        let kind = match value.get("kind") {
            Some(Value::String(text)) => {
                Kind::from_name(text).ok_or_else(|| ResourceError::InvalidValue {
                    path: "kind".to_owned(),
                    message: ResourceError::UnknownKind {
                        given: cut(text),
                        suggestion: closest(text, KIND_NAMES),
                    }
                    .to_string(),
                })?
            }
            None | Some(Value::Null) if value.is_object() => {
                return Err(ResourceError::Missing {
                    path: "kind".to_owned(),
                    expected: "one of lock, role, token, bot, bot_instance",
                });
            }
            Some(other) => return Err(wrong_type("kind", "a string", other)),
            None => {
                return Err(wrong_type(
                    "",
                    "a mapping with kind, version and metadata",
                    &value,
                ));
            }
        };
        let fields = Fields::new("", value)?;
        Ok(match kind {
            Kind::Lock => Resource::Lock(lock::from_fields(fields)?),
            Kind::Role => Resource::Role(role::from_fields(fields)?),
            Kind::Token => Resource::Token(token::from_fields(fields)?),
            Kind::Bot => Resource::Bot(bot::from_fields(fields)?),
            Kind::BotInstance => Resource::BotInstance(bot_instance::from_fields(fields)?),
        })
    }
}
