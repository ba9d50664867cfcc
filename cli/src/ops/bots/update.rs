//! `bots update`: a planned change of one bot (its bytes kept, only the changed field-mask paths
//! sent) and its sending, conditional on the revision it was read at.

use mwi_proto::machineid::Bot;

use crate::client::{Client, Fetched};
use crate::error::CommandError;

use super::calls::{bot_error, check_roles_exist, get};
use super::spec::{BotChanges, bot_name, changed_paths, new_roles};

/// A planned update: the bot as read, the same bot with the new spec (its original bytes kept,
/// so fields unknown here go back unchanged), and the field-mask paths that differ.
#[derive(Debug, Clone)]
pub struct Update {
    pub before: Fetched<Bot>,
    pub after: Fetched<Bot>,
    pub paths: Vec<&'static str>,
}

impl Update {
    /// Applies `changes` to `bot` without talking to the server.
    pub fn plan(bot: &Fetched<Bot>, changes: &BotChanges) -> Update {
        let spec = bot.value.spec.clone().unwrap_or_default();
        let new_spec = changes.apply(&spec);
        let paths = changed_paths(&spec, &new_spec);
        let mut after = bot.clone();
        after.value.spec = Some(new_spec);
        Update {
            before: bot.clone(),
            after,
            paths,
        }
    }

    pub fn is_noop(&self) -> bool {
        self.paths.is_empty()
    }

    /// Roles the update adds, which must exist.
    pub fn added_roles(&self) -> Vec<String> {
        new_roles(
            &self.before.value.spec.clone().unwrap_or_default(),
            &self.after.value.spec.clone().unwrap_or_default(),
        )
    }

    /// Sends the update, conditional on the revision the bot was read at: if the bot changed on
    /// the server since, it fails with exit 5.
    pub async fn send(&self, client: &Client) -> Result<Fetched<Bot>, CommandError> {
        let name = bot_name(&self.before.value).to_owned();
        client
            .update_bot(&self.after, &self.paths)
            .await
            .map_err(|e| {
                if !e.is_conflict() {
                    return bot_error(e, &name);
                }
                CommandError::conflict(
                    format!("bot {name:?} changed on the server since it was read (stale revision); nothing was changed"),
                )
                .hint(format!("run the command again to work from the latest state (`mwictl bots show {name}`)"))
            })
    }
}

/// Reads bot `name`, applies `changes`, checks that added roles exist and sends the update. A
/// plan with nothing to change is returned unsent.
pub async fn update(
    client: &Client,
    name: &str,
    changes: &BotChanges,
) -> Result<(Update, Option<Fetched<Bot>>), CommandError> {
    let bot = get(client, name).await?;
    let plan = Update::plan(&bot, changes);
    if plan.is_noop() {
        return Ok((plan, None));
    }
    check_roles_exist(client, &plan.added_roles()).await?;
    let updated = plan.send(client).await?;
    Ok((plan, Some(updated)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::bots::fixtures::{fetched_with_unknown, has_future_field, stored_bot, strings};
    use crate::ops::bots::spec::PATH_ROLES;

    #[test]
    fn an_update_sends_unknown_fields_back_with_the_revision() {
        use crate::client::ToWire;
        let bot = fetched_with_unknown(stored_bot());
        let plan = Update::plan(
            &bot,
            &BotChanges {
                add_roles: strings(&["editor"]),
                ..Default::default()
            },
        );
        assert_eq!(plan.paths, [PATH_ROLES]);
        assert_eq!(plan.added_roles(), ["editor"]);
        let wire = plan.after.to_wire();
        assert!(has_future_field(&wire));
        use prost::Message;
        let sent = Bot::decode(wire).unwrap();
        assert_eq!(sent.metadata.unwrap().revision, "r1");
        assert_eq!(sent.spec.unwrap().roles, ["access", "editor"]);
    }
}
