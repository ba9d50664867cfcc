//! A bot's fields as mwictl reads and changes them: its name, user and role, the `logins` trait,
//! the session TTL, and `BotChanges` applied to a spec with the field-mask paths that differ.

use std::time::Duration;

use mwi_proto::machineid::{Bot, BotSpec, Trait};

use crate::ops::unlock::bot_resource_name;

/// The trait that holds a bot's SSH logins.
pub const LOGINS_TRAIT: &str = "logins";

/// The field-mask paths `UpdateBot` understands.
pub const PATH_ROLES: &str = "spec.roles";
pub const PATH_TRAITS: &str = "spec.traits";
pub const PATH_MAX_SESSION_TTL: &str = "spec.max_session_ttl";

/// The bot's name (`metadata.name`).
pub fn bot_name(bot: &Bot) -> &str {
    bot.metadata.as_ref().map_or("", |m| m.name.as_str())
}

/// The bot's user and role names, from its status, else Teleport's `bot-NAME`.
pub fn user_and_role(bot: &Bot) -> (String, String) {
    let fallback = bot_resource_name(bot_name(bot));
    let status = bot.status.clone().unwrap_or_default();
    let or_fallback = |name: String| {
        if name.is_empty() {
            fallback.clone()
        } else {
            name
        }
    };
    (or_fallback(status.user_name), or_fallback(status.role_name))
}

/// The values of the `logins` trait.
pub fn logins(spec: &BotSpec) -> Vec<String> {
    spec.traits
        .iter()
        .filter(|t| t.name == LOGINS_TRAIT)
        .flat_map(|t| t.values.iter().cloned())
        .collect()
}

/// Replaces the `logins` trait (leaving other traits alone); no logins removes it.
pub(super) fn set_logins(spec: &mut BotSpec, logins: Vec<String>) {
    let at = spec.traits.iter().position(|t| t.name == LOGINS_TRAIT);
    spec.traits.retain(|t| t.name != LOGINS_TRAIT);
    if logins.is_empty() {
        return;
    }
    let t = Trait {
        name: LOGINS_TRAIT.into(),
        values: logins,
    };
    match at {
        Some(i) => spec.traits.insert(i.min(spec.traits.len()), t),
        None => spec.traits.push(t),
    }
}

/// The bot's max session TTL, when it sets one.
pub fn max_session_ttl(spec: &BotSpec) -> Option<Duration> {
    spec.max_session_ttl
        .and_then(|d| Duration::try_from(d).ok())
        .filter(|d| !d.is_zero())
}

/// Changes to a bot's roles, logins and TTL. `set_*` replaces the list, then `remove_*` drops
/// entries, then `add_*` appends the missing ones; `None`/empty leaves a field as it is.
/// Journaled with the plan of `bots recreate`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct BotChanges {
    pub add_roles: Vec<String>,
    pub remove_roles: Vec<String>,
    pub set_roles: Option<Vec<String>>,
    pub add_logins: Vec<String>,
    pub remove_logins: Vec<String>,
    pub set_logins: Option<Vec<String>>,
    pub max_session_ttl: Option<Duration>,
}

impl BotChanges {
    /// True when no change was asked for.
    pub fn is_empty(&self) -> bool {
        *self == BotChanges::default()
    }

    /// `spec` with the changes applied.
    pub fn apply(&self, spec: &BotSpec) -> BotSpec {
        let mut out = spec.clone();
        out.roles = edit_list(
            &spec.roles,
            self.set_roles.as_deref(),
            &self.remove_roles,
            &self.add_roles,
        );
        let logins = edit_list(
            &logins(spec),
            self.set_logins.as_deref(),
            &self.remove_logins,
            &self.add_logins,
        );
        if logins != self::logins(spec) {
            set_logins(&mut out, logins);
        }
        if let Some(ttl) = self.max_session_ttl {
            out.max_session_ttl = prost_types::Duration::try_from(ttl).ok();
        }
        out
    }
}

fn edit_list(
    current: &[String],
    set: Option<&[String]>,
    remove: &[String],
    add: &[String],
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let kept = set
        .unwrap_or(current)
        .iter()
        .filter(|i| !remove.contains(i));
    for item in kept.chain(add) {
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    out
}

/// The `UpdateBot` field-mask paths whose values differ between `before` and `after`.
pub fn changed_paths(before: &BotSpec, after: &BotSpec) -> Vec<&'static str> {
    let mut paths = Vec::new();
    if before.roles != after.roles {
        paths.push(PATH_ROLES);
    }
    if before.traits != after.traits {
        paths.push(PATH_TRAITS);
    }
    if max_session_ttl(before) != max_session_ttl(after) {
        paths.push(PATH_MAX_SESSION_TTL);
    }
    paths
}

/// Roles in `after` that `before` does not have.
pub(super) fn new_roles(before: &BotSpec, after: &BotSpec) -> Vec<String> {
    after
        .roles
        .iter()
        .filter(|r| !before.roles.contains(r))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::bots::fixtures::{spec, strings};

    #[test]
    fn adding_and_removing_roles_keeps_order_and_skips_duplicates() {
        let changes = BotChanges {
            add_roles: strings(&["b", "c"]),
            remove_roles: strings(&["a"]),
            ..Default::default()
        };
        assert_eq!(changes.apply(&spec(&["a", "b"], &[])).roles, ["b", "c"]);
    }

    #[test]
    fn set_replaces_then_add_appends() {
        let changes = BotChanges {
            set_roles: Some(strings(&["x"])),
            add_roles: strings(&["y"]),
            ..Default::default()
        };
        assert_eq!(changes.apply(&spec(&["a"], &[])).roles, ["x", "y"]);
    }

    #[test]
    fn logins_live_in_their_trait_and_other_traits_stay() {
        let before = spec(&["a"], &["root"]);
        let after = BotChanges {
            add_logins: strings(&["ubuntu"]),
            ..Default::default()
        }
        .apply(&before);
        assert_eq!(logins(&after), ["root", "ubuntu"]);
        assert!(after.traits.iter().any(|t| t.name == "env"));
        assert_eq!(changed_paths(&before, &after), [PATH_TRAITS]);

        let cleared = BotChanges {
            remove_logins: strings(&["root", "ubuntu"]),
            ..Default::default()
        }
        .apply(&after);
        assert!(logins(&cleared).is_empty());
        assert!(cleared.traits.iter().all(|t| t.name != LOGINS_TRAIT));
    }

    #[test]
    fn no_effective_change_has_no_paths() {
        let before = spec(&["a"], &["root"]);
        let after = BotChanges {
            add_roles: strings(&["a"]),
            remove_logins: strings(&["nobody"]),
            ..Default::default()
        }
        .apply(&before);
        assert!(changed_paths(&before, &after).is_empty());
    }

    #[test]
    fn ttl_change_names_its_path() {
        let before = spec(&["a"], &[]);
        let after = BotChanges {
            max_session_ttl: Some(Duration::from_secs(3600)),
            ..Default::default()
        }
        .apply(&before);
        assert_eq!(changed_paths(&before, &after), [PATH_MAX_SESSION_TTL]);
        assert_eq!(max_session_ttl(&after), Some(Duration::from_secs(3600)));
    }
}
