//! `mwictl create [-f] FILE|-`: creates (or with -f overwrites) the locks, roles, join tokens and
//! bots of a YAML or JSON file in tctl's shape, keeping the unknown fields of what it overwrites.

use std::io::{IsTerminal, Read};

use crate::client::{Client, ClientError, Fetched};
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::output::Output;
use crate::resource::{Kind, Resource, parse_documents};

/// Create resources from a file in tctl's format (YAML documents or JSON), or from stdin.
///
/// Kinds: lock, role, token and bot (bot instances are read-only). A resource that already
/// exists is refused (exit 5) unless -f is given; then it is overwritten, keeping any field of
/// the stored copy that this version of mwictl does not know. Files from `mwictl get` or
/// `tctl get` work as they are. Prints `KIND "NAME" has been created|updated` per resource;
/// JSON/YAML: `[{kind, name, action: created|updated}]`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Overwrite resources that already exist.
    #[arg(short, long)]
    pub force: bool,

    /// The file to read; `-` or nothing reads stdin.
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
}

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

/// Every resource written, in file order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CreateOutput {
    pub resources: Vec<Applied>,
}

impl Output for CreateOutput {
    fn text(&self) -> String {
        self.resources
            .iter()
            .map(|a| {
                let action = match a.action {
                    Action::Created => "created",
                    Action::Updated => "updated",
                };
                format!("{} {:?} has been {action}\n", a.kind, a.name)
            })
            .collect()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(&self.resources).unwrap_or_default()
    }
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
        CommandError::new(
            ExitStatus::Conflict,
            format!("{kind} {name:?} already exists"),
        )
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

fn read_only(name: &str) -> CommandError {
    CommandError::usage(format!(
        "bot_instance {name:?}: bot instances are read-only, the server records them when a bot joins"
    ))
    .hint("issue a join token with `mwictl tokens add --bot NAME` instead")
}

/// The stored copy, or `None` when there is none.
fn existing<T>(read: Result<Fetched<T>, ClientError>) -> Result<Option<Fetched<T>>, CommandError> {
    match read {
        Ok(stored) => Ok(Some(stored)),
        Err(ClientError::Rpc { status, .. }) if status.code() == tonic::Code::NotFound => Ok(None),
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
    match &e {
        ClientError::Rpc { status, .. } if status.code() == tonic::Code::AlreadyExists => exists(),
        _ => e.into(),
    }
}

pub async fn run(ctx: &Context, args: CreateArgs) -> Result<ExitStatus, CommandError> {
    let (source, text) = read_input(args.file.as_deref())?;
    let resources =
        parse_documents(&text).map_err(|e| CommandError::usage(format!("{source}: {e}")))?;
    // Refused before anything is written, so a file is never half applied for this reason.
    if let Some(instance) = resources.iter().find(|r| r.kind() == Kind::BotInstance) {
        return Err(read_only(&instance.name()));
    }
    if let Some(nameless) = resources.iter().find(|r| r.name().is_empty()) {
        return Err(CommandError::usage(format!(
            "{source}: a {} has no metadata.name",
            nameless.kind()
        )));
    }
    let client = ctx.client().await?;
    let total = resources.len();
    let mut out = CreateOutput {
        resources: Vec::with_capacity(total),
    };
    for resource in resources {
        match apply(client, resource, args.force).await {
            Ok(applied) => out.resources.push(applied),
            Err(e) if out.resources.is_empty() => return Err(e),
            Err(e) => {
                // Say what was already written before failing.
                ctx.printer().print(&out)?;
                return Err(e.hint(format!(
                    "{} of {total} resources from {source} were written before this one",
                    out.resources.len()
                )));
            }
        }
    }
    ctx.printer().print(&out)?;
    Ok(ExitStatus::Success)
}

/// The text to read and how to name it in errors.
fn read_input(file: Option<&str>) -> Result<(String, String), CommandError> {
    match file {
        None | Some("-") => {
            if file.is_none() && std::io::stdin().is_terminal() {
                return Err(CommandError::usage("no FILE given and stdin is a terminal")
                    .hint("pass a file, e.g. `mwictl create role.yaml`, or pipe one in with `-`"));
            }
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| CommandError::usage(format!("cannot read stdin: {e}")))?;
            Ok(("stdin".to_owned(), text))
        }
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CommandError::usage(format!("cannot read {path}: {e}")))?;
            Ok((path.to_owned(), text))
        }
    }
}
