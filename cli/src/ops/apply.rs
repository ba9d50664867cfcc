//! Writing resources read from a file (`mwictl create`): each is created, or with force
//! overwritten keeping the unknown fields of the stored copy; bot instances are refused. A join
//! token's status is the server's: it is written only when restoring one is asked for.

use mwi_proto::types::{ProvisionTokenStatusV2, ProvisionTokenV2};

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
    /// What the user should know about this write (a token status not written, or restored).
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// How [`apply`] writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    /// Overwrite a resource that exists.
    pub force: bool,
    /// Write a token's `status` from the file (a restore from backup) instead of keeping the
    /// server's.
    pub restore_status: bool,
}

/// Writes one resource: created when new; when it exists, refused unless `force`, else
/// overwritten with the unknown fields of the stored copy grafted on.
pub async fn apply(
    client: &Client,
    resource: Resource,
    options: ApplyOptions,
) -> Result<Applied, CommandError> {
    let force = options.force;
    let mut warnings = Vec::new();
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
        Resource::Token(token) => {
            apply_token(client, token, options, &mut warnings, exists).await?
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
        warnings,
    })
}

/// Writes a join token. Its `status` (bound key, bot instance, recovery count) is written by the
/// auth server as bots join; re-applying a `get` file with a stale or no status must not reset
/// it (teleport#68211, where a re-applied spec-only file locked the bot out). So the server's
/// status is sent back as it is, and the file's is written only with `restore_status`: on a
/// token that exists by delete and create, the one path where Teleport writes a given status.
async fn apply_token(
    client: &Client,
    mut token: ProvisionTokenV2,
    options: ApplyOptions,
    warnings: &mut Vec<String>,
    exists: impl Fn() -> CommandError,
) -> Result<Action, CommandError> {
    let name = token
        .metadata
        .as_ref()
        .map(|m| m.name.clone())
        .unwrap_or_default();
    let from_file = token.status.take();
    let restore = options.restore_status && has_status(from_file.as_ref());
    let stored = if options.force {
        existing(client.get_token(&name).await)?
    } else {
        None
    };
    if restore {
        warnings.push(format!(
            "token {}: writing the file's status (bound key, bot instance, recovery count) \
             instead of the server's; a bot whose key or join state does not match it cannot join",
            shown(&name)
        ));
        token.status = from_file;
        let Some(stored) = stored else {
            client
                .create_token(&token)
                .await
                .map_err(|e| already(e, &exists))?;
            return Ok(Action::Created);
        };
        client.delete_token(&name).await?;
        let written = Fetched {
            value: token,
            raw: stored.raw.clone(),
        };
        if let Err(e) = client.create_token(&written).await {
            // Put the stored copy back, so a failed restore does not lose the token.
            let put_back = client.create_token(&stored).await;
            let e = CommandError::from(e);
            return Err(match put_back {
                Ok(()) => e.hint(format!("token {} was left as it was", shown(&name))),
                Err(_) => e.hint(format!(
                    "token {} was deleted and could not be put back; recreate it from the file",
                    shown(&name)
                )),
            });
        }
        return Ok(Action::Updated);
    }
    let kept = stored.as_ref().and_then(|s| s.value.status.clone());
    if has_status(from_file.as_ref()) && normal(from_file.as_ref()) != normal(kept.as_ref()) {
        warnings.push(format!(
            "token {}: the file's status was not written, the server's is kept (status is \
             written by the auth server as bots join; `--restore-status` writes a saved one)",
            shown(&name)
        ));
    }
    match stored {
        Some(stored) => {
            token.status = kept;
            client.upsert_token(&graft(token, Some(stored))).await?;
            Ok(Action::Updated)
        }
        None if options.force => {
            client.upsert_token(&token).await?;
            Ok(Action::Created)
        }
        None => {
            client
                .create_token(&token)
                .await
                .map_err(|e| already(e, &exists))?;
            Ok(Action::Created)
        }
    }
}

/// A status with anything in it; `status: {}` and an all-empty bound_keypair status say nothing.
fn has_status(status: Option<&ProvisionTokenStatusV2>) -> bool {
    normal(status).is_some()
}

fn normal(status: Option<&ProvisionTokenStatusV2>) -> Option<&ProvisionTokenStatusV2> {
    status.filter(|s| {
        s.bound_keypair
            .as_ref()
            .is_some_and(|b| *b != Default::default())
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
