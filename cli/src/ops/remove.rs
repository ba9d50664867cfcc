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

/// Reads the resource, backs it up in `backup_dir`, then deletes it.
pub async fn remove(
    client: &Client,
    kind: Kind,
    name: &str,
    backup_dir: &Path,
) -> Result<Removed, CommandError> {
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
