//! The bot RPCs the other bot operations share, with errors worded for bots: get, create,
//! delete, the check that roles exist, and the wording of a bot made without its join token.

use mwi_proto::machineid::Bot;

use crate::client::{Client, ClientError, Fetched, ToWire};
use crate::error::CommandError;
use crate::exit::ExitStatus;

/// Bot `name`; a missing bot is exit 3 with a hint to list them.
pub async fn get(client: &Client, name: &str) -> Result<Fetched<Bot>, CommandError> {
    client.get_bot(name).await.map_err(|e| bot_error(e, name))
}

pub(super) fn bot_error(e: ClientError, name: &str) -> CommandError {
    let err = CommandError::from(e);
    if err.status == ExitStatus::NotFound {
        return CommandError::new(ExitStatus::NotFound, format!("bot {name:?} not found"))
            .hint("list bots with `mwictl bots ls`");
    }
    err
}

/// Deletes bot `name` (its user and role); its locks and instance records stay, as in Teleport.
pub async fn delete(client: &Client, name: &str) -> Result<(), CommandError> {
    client
        .delete_bot(name)
        .await
        .map_err(|e| bot_error(e, name))
}

/// Fails with exit 3 naming the first of `roles` that does not exist.
pub async fn check_roles_exist(client: &Client, roles: &[String]) -> Result<(), CommandError> {
    for role in roles {
        if let Err(e) = client.get_role(role).await {
            let err = CommandError::from(e);
            if err.status != ExitStatus::NotFound {
                return Err(err);
            }
            return Err(CommandError::new(
                ExitStatus::NotFound,
                format!("role {role:?} does not exist; nothing was changed"),
            )
            .hint("list roles with `mwictl get roles`, or create it with `mwictl create -f ROLE.yaml`"));
        }
    }
    Ok(())
}

pub(super) fn already_exists(name: &str) -> CommandError {
    CommandError::new(ExitStatus::Conflict, format!("bot {name:?} already exists"))
        .hint(format!(
            "change it with `mwictl bots update {name} --add-roles ROLE`"
        ))
        .hint(format!(
            "or start it over with `mwictl bots recreate {name}` (keeps its roles, traits and TTL)"
        ))
}

/// Creates the bot; one that exists is exit 5 with hints to update or recreate it.
pub async fn create(
    client: &Client,
    name: &str,
    bot: &impl ToWire<Bot>,
) -> Result<Fetched<Bot>, CommandError> {
    client.create_bot(bot).await.map_err(|e| {
        let err = CommandError::from(e);
        if err.status == ExitStatus::Conflict {
            already_exists(name)
        } else {
            err
        }
    })
}

/// The error of a bot that was created (`done`) but got no join token: the bot stays, and the
/// hint says how to issue one.
pub(super) fn token_failed(e: CommandError, name: &str, done: &str) -> CommandError {
    let mut err = CommandError::new(
        e.status,
        format!(
            "bot {name:?} was {done}, but no join token could be issued: {}",
            e.message
        ),
    );
    err.hints = e.hints;
    err.hint(format!("issue one with `mwictl bots instances add {name}`"))
}
