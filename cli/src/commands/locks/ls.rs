//! `mwictl locks ls [--bot NAME] [--in-force]`: the locks table (ID, target, message, created,
//! expires), all locks or those that target one bot.

use mwi_proto::types::LockV2;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::locks::list_locks;
use crate::ops::unlock::BotTargets;
use crate::output::{Format, LockColumn, Output, lock_table, terminal_width};
use crate::resource::{Resource, render_yaml};

/// List locks: ID, target, message, created, expires (`never` when a lock does not end).
///
/// Without flags every lock is listed, also those whose end has passed. `--bot NAME` lists the
/// locks that target the bot: its user or role `bot-NAME`, its bot instances or its join tokens
/// (the same set `mwictl unlock --bot` removes). JSON and YAML print the locks in tctl's resource
/// shape, which `mwictl create` reads back.
#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Only the locks that target this bot.
    #[arg(long, value_name = "NAME")]
    pub bot: Option<String>,

    /// Only the locks in force now (not those whose end has passed).
    #[arg(long)]
    pub in_force: bool,
}

/// The columns of the locks table.
const COLUMNS: &[LockColumn] = &[
    LockColumn::Id,
    LockColumn::Target,
    LockColumn::Message,
    LockColumn::Created,
    LockColumn::Expires,
];

/// The listed locks.
#[derive(Debug, Clone, PartialEq)]
pub struct LockList {
    pub locks: Vec<LockV2>,
}

impl LockList {
    fn resources(&self) -> Vec<Resource> {
        self.locks.iter().cloned().map(Resource::Lock).collect()
    }
}

impl Output for LockList {
    fn text(&self) -> String {
        if self.locks.is_empty() {
            return String::new();
        }
        lock_table(
            self.locks.iter().map(|l| (l, "")),
            COLUMNS,
            terminal_width(&console::Term::stdout()),
        )
        .render()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::Value::Array(self.resources().iter().map(Resource::to_value).collect())
    }

    fn yaml(&self) -> String {
        render_yaml(&self.resources())
    }
}

pub async fn run(ctx: &Context, args: LsArgs) -> Result<ExitStatus, CommandError> {
    let client = ctx.client().await?;
    let filters = match &args.bot {
        Some(bot) => BotTargets::collect(client, bot).await?.filters(),
        None => Vec::new(),
    };
    let locks = list_locks(client, filters, args.in_force).await?;
    let list = LockList {
        locks: locks.into_iter().map(|l| l.value).collect(),
    };
    ctx.printer().print(&list)?;
    if list.locks.is_empty() && ctx.printer().format() == Format::Text {
        let scope = if args.in_force { " in force" } else { "" };
        match &args.bot {
            Some(bot) => ctx
                .printer()
                .status(format!("no locks{scope} target bot {bot:?}")),
            None => ctx.printer().status(format!("no locks{scope} found")),
        }
    }
    Ok(ExitStatus::Success)
}
