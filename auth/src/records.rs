//! Lab-internal records for what Teleport keeps as resources the lab does not serve over the
//! wire: users (a bot's user `bot-NAME` with traits and labels) and database servers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Label naming the bot a user or role belongs to.
pub(crate) const BOT_LABEL: &str = "teleport.internal/bot";
/// Legacy label holding the bot's certificate generation (still written, as v16–v18 do).
pub(crate) const BOT_GENERATION_LABEL: &str = "teleport.internal/bot-generation";

/// A user: its roles, traits (e.g. `logins`) and labels.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UserRecord {
    pub name: String,
    pub roles: Vec<String>,
    #[serde(default)]
    pub traits: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub created_by: String,
}

impl UserRecord {
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        // Serializing strings, lists and string-keyed maps to JSON cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<UserRecord, ApiError> {
        serde_json::from_slice(bytes)
            .map_err(|e| ApiError::Internal(format!("stored user record is unreadable: {e}")))
    }

    /// The bot this user belongs to, from its label.
    pub(crate) fn bot_name(&self) -> Option<&str> {
        self.labels.get(BOT_LABEL).map(String::as_str)
    }

    /// The legacy generation label's value (0 when absent or unreadable).
    pub(crate) fn generation(&self) -> i32 {
        self.labels
            .get(BOT_GENERATION_LABEL)
            .and_then(|g| g.parse().ok())
            .unwrap_or(0)
    }
}

/// A database server: enough for the impersonation path to decide visibility.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DatabaseRecord {
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl DatabaseRecord {
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        // As for users: nothing here can fail to serialize.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<DatabaseRecord, ApiError> {
        serde_json::from_slice(bytes)
            .map_err(|e| ApiError::Internal(format!("stored database record is unreadable: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bot_user_names_its_bot_and_generation() {
        let mut user = UserRecord {
            name: "bot-a".into(),
            ..Default::default()
        };
        user.labels.insert(BOT_LABEL.into(), "a".into());
        user.labels.insert(BOT_GENERATION_LABEL.into(), "3".into());
        let back = UserRecord::from_bytes(&user.to_bytes()).unwrap();
        assert_eq!((back.bot_name(), back.generation()), (Some("a"), 3));
        assert!(UserRecord::from_bytes(b"{").is_err());
    }
}
