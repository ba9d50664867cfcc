//! `mwictl bots add NAME --roles ...`: creates a bot and its join token (bound-keypair, or a
//! one-time token with --legacy), after dealing with locks a deleted bot of the same name left
//! behind.

use std::time::Duration;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::bots::{Added, JoinAddress, NewBot, add, preflight_add, user_and_role};
use crate::output::{Output, lock_count};

use super::join::{Join, JoinFlags, join};
use super::leftover_locks::{Choice, decide};
use crate::commands::flags::{parse_duration, parse_new_name};

/// Create a bot and its join token, like `tctl bots add`.
///
/// As tctl does since Teleport 19, the token is bound-keypair: tbot registers a key with the
/// registration secret in the printed joining URI (usable for --token-ttl) or joins with the key
/// given as --initial-public-key, proves that key at every renewal, and joins again with the
/// same token after its certificates expire (a recovery; --recovery-limit of them in mode
/// standard, onboarding counting as one). --legacy issues a one-time `token` join instead, as
/// tctl did before.
///
/// Teleport keeps the locks of a deleted bot, so a bot created again under the same name would be
/// locked from the start. If locks already target the name (its user or role `bot-NAME`, old
/// instances, its tokens), they are shown and you are asked whether to remove them (backed up
/// first): --yes removes them, --keep-locks keeps them; without a terminal one of the two is
/// required.
///
/// Prints the joining URI and the `tbot start` line (--legacy: the token and its expiry). JSON:
/// `{user_name, role_name, token_id, token_ttl, expires, removed_locks, locks_backup,
/// kept_locks}` (token_ttl in nanoseconds, like tctl), and for a bound-keypair token the fields
/// of `tokens add` (`join_method`, `join_uri`, `registration_secret`, `recovery_mode`, ...). Exit
/// 5 when the bot exists, 3 when a role does not.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The bot's name; its user and role are `bot-NAME`.
    #[arg(value_parser = parse_new_name)]
    pub name: String,

    /// Roles the bot's outputs may use (it impersonates them), comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "ROLE,...")]
    pub roles: Vec<String>,

    /// SSH logins, kept in the bot's `logins` trait, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "LOGIN,...")]
    pub logins: Vec<String>,

    /// The longest certificate the bot may get, like 12h (the server's default is 12h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_session_ttl: Option<Duration>,

    /// How long the join token (bound-keypair: its registration secret) stays valid.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1h")]
    pub token_ttl: Duration,

    #[command(flatten)]
    pub join: JoinFlags,

    /// Keep locks that already target the name; the bot stays blocked until `mwictl unlock --bot
    /// NAME`.
    #[arg(long)]
    pub keep_locks: bool,
}

/// What was created.
pub struct AddReport {
    pub bot: String,
    pub added: Added,
    pub join: Join,
    pub kept_locks: Vec<String>,
}

impl Output for AddReport {
    fn text(&self) -> String {
        let name = &self.bot;
        let mut out = format!(
            "Bot {name:?} created (user and role {:?}).\n",
            self.join.user_name()
        );
        if let Some(backup) = &self.added.locks_backup {
            out.push_str(&format!(
                "Removed {} left from an earlier bot of this name; backup: {}.\n",
                lock_count(self.added.removed_locks.len()),
                backup.display()
            ));
        }
        if !self.kept_locks.is_empty() {
            out.push_str(&format!(
                "KEPT {} that block{} this bot ({}): it cannot join or renew until you run `mwictl unlock --bot {name}`.\n",
                lock_count(self.kept_locks.len()),
                if self.kept_locks.len() == 1 { "s" } else { "" },
                self.kept_locks.join(", ")
            ));
        }
        out.push('\n');
        out.push_str(&self.join.text());
        out
    }

    fn json(&self) -> serde_json::Value {
        let mut map = self.join.json();
        map.insert(
            "removed_locks".into(),
            self.added.removed_locks.clone().into(),
        );
        map.insert(
            "locks_backup".into(),
            self.added
                .locks_backup
                .as_ref()
                .map(|p| p.display().to_string())
                .into(),
        );
        map.insert("kept_locks".into(), self.kept_locks.clone().into());
        serde_json::Value::Object(map)
    }
}

pub async fn run(ctx: &Context, args: AddArgs) -> Result<ExitStatus, CommandError> {
    let new_join = args.join.new_join(args.token_ttl)?;
    let client = ctx.client().await?;
    let new = NewBot {
        name: args.name.clone(),
        roles: args.roles.clone(),
        logins: args.logins.clone(),
        max_session_ttl: args.max_session_ttl,
    };
    let found = preflight_add(client, &new).await?;
    if new.roles.is_empty() {
        ctx.printer().warn(format!(
            "no --roles: the bot can produce no outputs until you add one with `mwictl bots update {} --add-roles ROLE`",
            args.name
        ));
    }
    let (stale, kept): (Vec<_>, Vec<_>) = if found.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let question = format!(
            "Remove the {} above before creating bot {:?}?",
            lock_count(found.len()),
            args.name
        );
        match decide(ctx, &args.name, &found, args.keep_locks, &question)? {
            Choice::Remove => (found.into_iter().map(|l| l.lock).collect(), Vec::new()),
            Choice::Keep => (
                Vec::new(),
                found.iter().map(|l| l.name().to_owned()).collect(),
            ),
        }
    };
    if !kept.is_empty() {
        ctx.printer().warn(format!(
            "keeping {}: bot {:?} will be refused until you run `mwictl unlock --bot {}`",
            lock_count(kept.len()),
            args.name,
            args.name
        ));
    }
    let ttl = args.token_ttl;
    let added = add(client, &new, &stale, &ctx.home()?.backups_dir(), &new_join).await?;
    let join = join(
        added.token.clone(),
        &args.name,
        ttl,
        JoinAddress::of(client),
        user_and_role(&added.bot.value),
    );
    ctx.printer().print(&AddReport {
        bot: args.name,
        added,
        join,
        kept_locks: kept,
    })?;
    Ok(ExitStatus::Success)
}
