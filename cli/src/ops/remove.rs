//! Deleting one resource like `tctl rm` (`mwictl rm`, `tokens rm`): it is read and backed up to
//! a YAML file first, so `mwictl create FILE` restores it.

use std::path::{Path, PathBuf};

use crate::client::Client;
use crate::error::CommandError;
use crate::ops::backup::write_backup;
use crate::resource::{Kind, Resource, render_yaml};

/// A deleted resource.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Removed {
    pub kind: String,
    pub name: String,
    /// The YAML file holding the resource as it was.
    pub backup: PathBuf,
}

/// Reads the resource, backs it up in `backup_dir`, then deletes it. A role that bots use is
/// refused (exit 5, naming them) unless `force`: Teleport's auth refuses to delete a role a user
/// holds, but not one a bot only impersonates, which would silently take its access away.
pub async fn remove(
    client: &Client,
    kind: Kind,
    name: &str,
    backup_dir: &Path,
    force: bool,
) -> Result<Removed, CommandError> {
    if kind == Kind::Role && !force {
        let bots = bots_using_role(client, name).await?;
        if !bots.is_empty() {
            let quoted: Vec<String> = bots.iter().map(|b| format!("{b:?}")).collect();
            return Err(CommandError::conflict(format!(
                "role {name:?} is used by bot{} {}: deleting it takes away what it grants them; nothing was deleted",
                if bots.len() == 1 { "" } else { "s" },
                quoted.join(", ")
            ))
            .hint(format!(
                "take it from them first with `mwictl bots update {} --remove-roles {name}`",
                bots[0]
            ))
            .hint(format!("or delete it anyway with `mwictl rm role/{name} --force`")));
        }
    }
    let (bot, instance) = name.rsplit_once('/').unwrap_or((name, ""));
    let resource = match kind {
        Kind::Lock => Resource::Lock(client.get_lock(name).await?.value),
        Kind::Role => Resource::Role(client.get_role(name).await?.value),
        Kind::Token => Resource::Token(client.get_token(name).await?.value),
        Kind::Bot => Resource::Bot(client.get_bot(name).await?.value),
        Kind::BotInstance => {
            Resource::BotInstance(client.get_bot_instance(bot, instance).await?.value)
        }
    };
    let stem = format!("rm-{kind}-{name}");
    let backup = write_backup(backup_dir, &stem, &render_yaml(&[resource]))?;
    match kind {
        Kind::Lock => client.delete_lock(name).await?,
        Kind::Role => client.delete_role(name).await?,
        Kind::Token => client.delete_token(name).await?,
        Kind::Bot => client.delete_bot(name).await?,
        Kind::BotInstance => client.delete_bot_instance(bot, instance).await?,
    }
    Ok(Removed {
        kind: kind.name().to_owned(),
        name: name.to_owned(),
        backup,
    })
}

/// The names of the bots whose roles include `role`, sorted.
pub async fn bots_using_role(client: &Client, role: &str) -> Result<Vec<String>, CommandError> {
    let mut names: Vec<String> = client
        .bots()
        .collect_all()
        .await?
        .into_iter()
        .filter(|b| {
            b.value
                .spec
                .as_ref()
                .is_some_and(|s| s.roles.iter().any(|r| r == role))
        })
        .map(|b| crate::ops::bots::bot_name(&b.value).to_owned())
        .collect();
    names.sort();
    Ok(names)
}
