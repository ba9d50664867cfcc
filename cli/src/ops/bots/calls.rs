//! The bot RPCs the other bot operations share, with errors worded for bots: get, create,
//! delete, the check that roles exist, and the wording of a bot made without its join token.

use mwi_proto::machineid::Bot;

use crate::client::{Client, ClientError, Fetched, ToWire};
use crate::error::CommandError;
use crate::resource::edit_distance;

/// Bot `name`; a missing bot is exit 3 naming the nearest existing bots (see [`not_found`]).
pub async fn get(client: &Client, name: &str) -> Result<Fetched<Bot>, CommandError> {
    match client.get_bot(name).await {
        Err(e) if e.is_not_found() => Err(not_found(client, name).await),
        other => other.map_err(|e| bot_error(e, name)),
    }
}

/// Exit 3 for bot `name`, which does not exist: names the existing bots nearest to it (a
/// typo), and hints to list them.
pub async fn not_found(client: &Client, name: &str) -> CommandError {
    let mut err = CommandError::not_found(format!("bot {name:?} not found"));
    // The list is only a suggestion: when it cannot be read, the error stays as it is.
    if let Ok(bots) = client.bots().collect_all().await {
        let near = nearest(name, bots.iter().map(|b| super::bot_name(&b.value)));
        if !near.is_empty() {
            let quoted: Vec<String> = near.iter().map(|n| format!("{n:?}")).collect();
            err = err.hint(format!("did you mean {}?", quoted.join(" or ")));
        }
    }
    err.hint("list bots with `mwictl bots ls`")
}

/// The (at most three) names within edit distance 2 of `given`, nearest first.
fn nearest<'a>(given: &str, names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut near: Vec<(usize, &str)> = names
        .map(|n| (edit_distance(given, n), n))
        .filter(|(d, _)| *d <= 2)
        .collect();
    near.sort();
    near.into_iter()
        .take(3)
        .map(|(_, n)| n.to_owned())
        .collect()
}

/// The error of a call about bot `name`: a missing bot is named, with a hint to list them.
pub(super) fn bot_error(e: ClientError, name: &str) -> CommandError {
    if e.is_not_found() {
        return CommandError::not_found(format!("bot {name:?} not found"))
            .hint("list bots with `mwictl bots ls`");
    }
    e.into()
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
            if !e.is_not_found() {
                return Err(e.into());
            }
            return Err(CommandError::not_found(format!(
                "role {role:?} does not exist; nothing was changed"
            ))
            .hint("list roles with `mwictl get roles`, or create it with `mwictl create -f ROLE.yaml`"));
        }
    }
    Ok(())
}

pub(super) fn already_exists(name: &str) -> CommandError {
    CommandError::conflict(format!("bot {name:?} already exists"))
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
        if e.is_conflict() {
            already_exists(name)
        } else {
            e.into()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_names_are_typos_of_the_given_one() {
        let names = ["example", "examples", "other"];
        assert_eq!(nearest("exmaple", names.into_iter()), ["example"]);
        assert_eq!(
            nearest("exampl", names.into_iter()),
            ["example", "examples"]
        );
        assert!(nearest("ghost", names.into_iter()).is_empty());
    }
}
