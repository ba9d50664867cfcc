//! `bots recreate`'s snapshot of the bot and its role (saved first, raw bytes included), and the
//! bot to create again from it; the recover engine runs the steps (delete, unlock, create, token).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use mwi_proto::machineid::Bot;
use mwi_proto::types::RoleV6;

use crate::client::{Client, Fetched};
use crate::error::CommandError;
use crate::ops::unlock::bot_resource_name;
use crate::resource::{Resource, format_timestamp, render_yaml};

use super::calls::get;
use super::spec::{BotChanges, bot_name, user_and_role};

/// A bot as read before recreating it: the bot and its `bot-NAME` role, with their bytes.
#[derive(Debug, Clone)]
pub struct BotSnapshot {
    pub bot: Fetched<Bot>,
    /// `None` when the server has no such role (or hides it).
    pub role: Option<Fetched<RoleV6>>,
}

/// Reads bot `name` and its role.
pub async fn snapshot(client: &Client, name: &str) -> Result<BotSnapshot, CommandError> {
    let bot = get(client, name).await?;
    let (_, role_name) = user_and_role(&bot.value);
    let role = match client.get_role(&role_name).await {
        Ok(role) => Some(role),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e.into()),
    };
    Ok(BotSnapshot { bot, role })
}

impl BotSnapshot {
    pub fn name(&self) -> &str {
        bot_name(&self.bot.value)
    }

    /// The snapshot as saved: both resources in tctl's shape and the exact bytes the server sent
    /// (base64 protobuf, with every field this version does not know).
    pub fn to_json(&self, taken_at: SystemTime) -> serde_json::Value {
        let b64 = |raw: &[u8]| crate::resource::base64::encode(raw);
        serde_json::json!({
            "kind": "bot_snapshot",
            "taken_at": format_timestamp(&taken_at.into()),
            "bot": Resource::Bot(self.bot.value.clone()).to_value(),
            "role": self.role.as_ref().map(|r| Resource::Role(r.value.clone()).to_value()),
            "raw": {
                "bot": b64(&self.bot.raw),
                "role": self.role.as_ref().map(|r| b64(&r.raw)),
            },
        })
    }

    /// YAML that `mwictl create -f` restores the bot from: the bot, then its role (which the
    /// bot's creation makes and the role document then overwrites with the saved one).
    /// Revisions and the server-owned status are left out so the documents apply to a new bot.
    pub fn restore_yaml(&self) -> String {
        let mut bot = self.bot.value.clone();
        bot.status = None;
        if let Some(m) = bot.metadata.as_mut() {
            m.revision.clear();
        }
        let mut docs = vec![Resource::Bot(bot)];
        if let Some(role) = &self.role {
            let mut role = role.value.clone();
            if let Some(m) = role.metadata.as_mut() {
                m.revision.clear();
            }
            docs.push(Resource::Role(role));
        }
        render_yaml(&docs)
    }

    /// The bot to create again: the snapshot's bot with `changes` applied, its revision and
    /// status cleared, on the snapshot's bytes so unknown fields are sent back.
    pub fn recreated(&self, changes: &BotChanges) -> Fetched<Bot> {
        let mut bot = self.bot.clone();
        let spec = bot.value.spec.clone().unwrap_or_default();
        bot.value.spec = Some(changes.apply(&spec));
        bot.value.status = None;
        if let Some(m) = bot.value.metadata.as_mut() {
            m.revision.clear();
        }
        bot
    }
}

/// Where a snapshot was saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSnapshot {
    /// The whole snapshot as JSON, raw bytes included.
    pub json: PathBuf,
    /// The documents `mwictl create -f` restores the bot from.
    pub yaml: PathBuf,
}

/// Saves `snap` in `backup_dir`: `bot-NAME-TIME.yaml` to restore from and, beside it, the same
/// name with `.json` holding everything, raw bytes included.
pub fn save_snapshot(snap: &BotSnapshot, backup_dir: &Path) -> Result<SavedSnapshot, CommandError> {
    let now = SystemTime::now();
    let stem = format!("{}-snapshot", bot_resource_name(snap.name()));
    let header = format!(
        "# Snapshot of bot {:?} taken by `mwictl bots recreate` at {}.\n\
         # Restore it with: mwictl create -f THIS_FILE\n",
        snap.name(),
        format_timestamp(&now.into())
    );
    let yaml = crate::ops::backup::write_backup(
        backup_dir,
        &stem,
        &format!("{header}{}", snap.restore_yaml()),
    )?;
    let json = yaml.with_extension("json");
    let text = crate::output::json_text(&snap.to_json(now));
    mwi_identity::durable::create_new(&json, text.as_bytes(), 0o600).map_err(|e| {
        let e = e.into_io();
        CommandError::failure(format!("cannot write the snapshot {}: {e}", json.display())).hint(
            "make the backups directory writable, or point MWICTL_HOME at a writable directory",
        )
    })?;
    Ok(SavedSnapshot { json, yaml })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::bots::fixtures::{fetched_with_unknown, has_future_field, stored_bot, strings};
    use crate::ops::bots::spec::logins;

    #[test]
    fn a_recreated_bot_keeps_unknown_fields_but_not_revision_or_status() {
        use crate::client::ToWire;
        use prost::Message;
        let snap = BotSnapshot {
            bot: fetched_with_unknown(stored_bot()),
            role: None,
        };
        let wire = snap
            .recreated(&BotChanges {
                set_roles: Some(strings(&["db-reader"])),
                ..Default::default()
            })
            .to_wire();
        assert!(has_future_field(&wire));
        let sent = Bot::decode(wire).unwrap();
        assert_eq!(sent.metadata.as_ref().unwrap().revision, "");
        assert!(sent.status.is_none());
        let spec = sent.spec.unwrap();
        assert_eq!(spec.roles, ["db-reader"]);
        assert_eq!(logins(&spec), ["root"], "logins are kept");
    }

    #[test]
    fn the_snapshot_holds_the_raw_bytes_and_restores_without_revisions() {
        let snap = BotSnapshot {
            bot: fetched_with_unknown(stored_bot()),
            role: None,
        };
        let json = snap.to_json(SystemTime::UNIX_EPOCH);
        let raw = json["raw"]["bot"].as_str().unwrap();
        let bytes = crate::resource::base64::decode(raw).unwrap();
        assert_eq!(bytes, snap.bot.raw.as_ref());
        assert_eq!(json["bot"]["metadata"]["name"], "example");

        let yaml = snap.restore_yaml();
        assert!(!yaml.contains("r1"), "{yaml}");
        assert!(!yaml.contains("status"), "{yaml}");
        let docs = crate::resource::parse_documents(&yaml).unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].name(), "example");
    }
}
