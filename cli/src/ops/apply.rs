//! Writing resources read from a file (`mwictl create`): each is created, or with force
//! overwritten keeping the unknown fields of the stored copy; bot instances are refused.

use crate::client::{Client, ClientError, Fetched};
use crate::error::CommandError;
use crate::resource::{Resource, shown};

/// Whether a resource was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Created,
    Updated,
}

/// One resource written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    pub kind: String,
    pub name: String,
    pub action: Action,
}

/// Writes one resource: created when new; when it exists, refused unless `force`, else
/// overwritten with the unknown fields of the stored copy grafted on.
pub async fn apply(
    client: &Client,
    resource: Resource,
    force: bool,
) -> Result<Applied, CommandError> {
    let kind = resource.kind();
    let name = resource.name();
    let exists = || {
        CommandError::conflict(format!("{kind} {} already exists", shown(&name)))
            .hint("use -f or --force to overwrite")
    };
    let action = match resource {
        Resource::Lock(lock) => {
            // UpsertLock overwrites silently, so existence is checked first.
            let stored = existing(client.get_lock(&name).await)?;
            if stored.is_some() && !force {
                return Err(exists());
            }
            let action = action_for(&stored);
            client.upsert_lock(&graft(lock, stored)).await?;
            action
        }
        Resource::Role(role) if force => {
            let stored = existing(client.get_role(&name).await)?;
            let action = action_for(&stored);
            client.upsert_role(&graft(role, stored)).await?;
            action
        }
        Resource::Role(role) => {
            client
                .create_role(&role)
                .await
                .map_err(|e| already(e, exists))?;
            Action::Created
        }
        Resource::Token(token) if force => {
            let stored = existing(client.get_token(&name).await)?;
            let action = action_for(&stored);
            client.upsert_token(&graft(token, stored)).await?;
            action
        }
        Resource::Token(token) => {
            client
                .create_token(&token)
                .await
                .map_err(|e| already(e, exists))?;
            Action::Created
        }
        Resource::Bot(bot) if force => {
            let stored = existing(client.get_bot(&name).await)?;
            let action = action_for(&stored);
            client.upsert_bot(&graft(bot, stored)).await?;
            action
        }
        Resource::Bot(bot) => {
            client
                .create_bot(&bot)
                .await
                .map_err(|e| already(e, exists))?;
            Action::Created
        }
        Resource::BotInstance(_) => return Err(read_only(&name)),
    };
    Ok(Applied {
        kind: kind.name().to_owned(),
        name,
        action,
    })
}

pub fn read_only(name: &str) -> CommandError {
    CommandError::usage(format!(
        "bot_instance {}: bot instances are read-only, the server records them when a bot joins",
        shown(name)
    ))
    .hint("issue a join token with `mwictl tokens add --bot NAME` instead")
}

/// The stored copy, or `None` when there is none.
fn existing<T>(read: Result<Fetched<T>, ClientError>) -> Result<Option<Fetched<T>>, CommandError> {
    match read {
        Ok(stored) => Ok(Some(stored)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn action_for<T>(stored: &Option<Fetched<T>>) -> Action {
    if stored.is_some() {
        Action::Updated
    } else {
        Action::Created
    }
}

/// The new value over the stored bytes, so their unknown fields are written back too.
fn graft<T>(value: T, stored: Option<Fetched<T>>) -> Fetched<T> {
    Fetched {
        value,
        raw: stored.map(|s| s.raw).unwrap_or_default(),
    }
}

fn already(e: ClientError, exists: impl Fn() -> CommandError) -> CommandError {
    if e.is_already_exists() {
        exists()
    } else {
        e.into()
    }
}
