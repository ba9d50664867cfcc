//! `mwictl bots recreate NAME`: snapshot, delete, unlock and create a bot again with the same
//! roles, traits, logins and TTL (plus requested changes), then issue a join token.

use std::time::Duration;

use mwi_proto::machineid::BotSpec;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::bots::{
    BotChanges, JoinAddress, JoinToken, Recreated, check_roles_exist, logins, max_session_ttl,
    recreate, snapshot, user_and_role,
};
use crate::ops::unlock::find_blocking_locks;
use crate::output::{Output, lock_count, terminal_width};
use crate::resource::format_go_duration;

use super::flags::parse_duration;
use super::leftover_locks::{confirm, lock_table};

/// Start a bot over: snapshot it, delete it, remove its locks, create it again, issue a token.
///
/// The bot and its role `bot-NAME` are saved first to $MWICTL_HOME/backups: a YAML file that
/// `mwictl create -f FILE` restores, and beside it a JSON file that also holds the exact bytes
/// the server sent. Then the bot is deleted, every lock that blocks it is removed (backed up),
/// and it is created again with the same roles, traits (logins), max session TTL and labels, plus
/// the changes given here; fields of the bot this mwictl does not know are kept. Finally a
/// one-time join token is issued. The plan is shown and confirmed once (--yes without a
/// terminal). Use it when the bot must start from scratch (legacy Teleport, or a role change
/// that needs a fresh identity); to only get a new token use `mwictl bots instances add NAME`.
///
/// JSON: `{bot, user_name, role_name, token_id, token_ttl, expires, roles, logins,
/// max_session_ttl, snapshot, restore_file, removed_locks, locks_backup}`. Exit 3 when the bot or
/// an added role does not exist.
#[derive(Debug, clap::Args)]
pub struct RecreateArgs {
    /// The bot's name.
    pub name: String,

    /// Create it with these roles instead of its current ones, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "ROLE,...", conflicts_with_all = ["add_roles", "remove_roles"])]
    pub roles: Option<Vec<String>>,

    /// Roles to add to its current ones, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "ROLE,...")]
    pub add_roles: Vec<String>,

    /// Roles to drop from its current ones, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "ROLE,...")]
    pub remove_roles: Vec<String>,

    /// Create it with these logins instead of its current ones, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "LOGIN,...",
        conflicts_with = "add_logins"
    )]
    pub logins: Option<Vec<String>>,

    /// Logins to add to its current ones, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "LOGIN,...")]
    pub add_logins: Vec<String>,

    /// Create it with this max session TTL, like 12h.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_session_ttl: Option<Duration>,

    /// How long the join token stays valid.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1h")]
    pub token_ttl: Duration,
}

impl RecreateArgs {
    pub fn changes(&self) -> BotChanges {
        BotChanges {
            add_roles: self.add_roles.clone(),
            remove_roles: self.remove_roles.clone(),
            set_roles: self.roles.clone(),
            add_logins: self.add_logins.clone(),
            set_logins: self.logins.clone(),
            max_session_ttl: self.max_session_ttl,
            ..Default::default()
        }
    }
}

/// `roles a,b; logins x; max session TTL 12h0m0s`.
fn describe(spec: &BotSpec) -> String {
    let list = |items: &[String]| {
        if items.is_empty() {
            "none".to_owned()
        } else {
            items.join(",")
        }
    };
    format!(
        "roles {}; logins {}; max session TTL {}",
        list(&spec.roles),
        list(&logins(spec)),
        max_session_ttl(spec).map_or_else(|| "default".into(), format_go_duration)
    )
}

/// What was done.
pub struct RecreateReport {
    pub done: Recreated,
    pub join: JoinToken,
}

impl Output for RecreateReport {
    fn text(&self) -> String {
        let spec = self.done.bot.value.spec.clone().unwrap_or_default();
        let mut out = format!(
            "Bot {:?} recreated with {}.\n\
             The old bot is saved in {}; restore it with `mwictl create -f {}`.\n",
            self.done.token.bot,
            describe(&spec),
            self.done.snapshot_path.display(),
            self.done.restore_path.display(),
        );
        if let Some(backup) = &self.done.locks_backup {
            out.push_str(&format!(
                "Removed {}; backup: {}.\n",
                lock_count(self.done.removed_locks.len()),
                backup.display()
            ));
        }
        out.push('\n');
        out.push_str(&self.join.text());
        out
    }

    fn json(&self) -> serde_json::Value {
        let spec = self.done.bot.value.spec.clone().unwrap_or_default();
        let mut map = self.join.json();
        let path = |p: &std::path::Path| serde_json::Value::from(p.display().to_string());
        map.insert("bot".into(), self.done.token.bot.clone().into());
        map.insert("roles".into(), spec.roles.clone().into());
        map.insert("logins".into(), logins(&spec).into());
        map.insert(
            "max_session_ttl".into(),
            max_session_ttl(&spec).map(format_go_duration).into(),
        );
        map.insert("snapshot".into(), path(&self.done.snapshot_path));
        map.insert("restore_file".into(), path(&self.done.restore_path));
        map.insert(
            "removed_locks".into(),
            self.done.removed_locks.clone().into(),
        );
        map.insert(
            "locks_backup".into(),
            self.done
                .locks_backup
                .as_deref()
                .map_or(serde_json::Value::Null, path),
        );
        serde_json::Value::Object(map)
    }
}

pub async fn run(ctx: &Context, args: RecreateArgs) -> Result<ExitStatus, CommandError> {
    let client = ctx.client().await?;
    let changes = args.changes();
    let snap = snapshot(client, &args.name).await?;
    let before = snap.bot.value.spec.clone().unwrap_or_default();
    let after = snap.recreated(&changes).value.spec.unwrap_or_default();
    let added: Vec<String> = after
        .roles
        .iter()
        .filter(|r| !before.roles.contains(r))
        .cloned()
        .collect();
    check_roles_exist(client, &added).await?;
    let locks = find_blocking_locks(client, &args.name).await?;
    let backups = ctx.home()?.backups_dir();

    let printer = ctx.printer();
    let (user, role) = user_and_role(&snap.bot.value);
    let mut plan = format!(
        "Plan for bot {:?}:\n\
         1. save the bot and its role {role:?} to {}\n\
         2. delete the bot (user {user:?} and role {role:?})\n",
        args.name,
        backups.display()
    );
    if locks.is_empty() {
        plan.push_str("3. remove its locks: none in force\n");
    } else {
        plan.push_str(&format!(
            "3. remove the locks that block it, backed up first ({}):\n",
            lock_count(locks.len())
        ));
        plan.push_str(&lock_table(&locks, terminal_width(&console::Term::stderr())).render());
    }
    plan.push_str(&format!(
        "4. create it again with {}{}\n\
         5. issue a one-time join token valid for {}; tbot must then restart with it",
        describe(&after),
        if before == after {
            " (unchanged)".to_owned()
        } else {
            format!(" (was {})", describe(&before))
        },
        format_go_duration(args.token_ttl)
    ));
    printer.status(plan);
    let question = format!("Recreate bot {:?}?", args.name);
    let refusal = format!("refusing to recreate bot {:?}", args.name);
    if !confirm(ctx, &question, &refusal)? {
        printer.status("Canceled: nothing was changed.");
        return Ok(ExitStatus::Failure);
    }

    let done = recreate(client, &snap, &changes, &backups, args.token_ttl).await?;
    let (user_name, role_name) = user_and_role(&done.bot.value);
    let join = JoinToken {
        token: done.token.clone(),
        ttl: args.token_ttl,
        address: JoinAddress::of(client),
        user_name,
        role_name,
    };
    ctx.printer().print(&RecreateReport { done, join })?;
    Ok(ExitStatus::Success)
}
