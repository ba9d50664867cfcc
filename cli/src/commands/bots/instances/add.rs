//! `mwictl bots instances add NAME`: a new join token for an existing bot (bound-keypair, or a
//! one-time token with --legacy), with a warning when a lock would refuse the join.

use std::time::Duration;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::bots::{JoinAddress, Ticket, add_instance, user_and_role};
use crate::output::{Output, lock_count, terminal_width};

use super::super::join::{Join, JoinFlags, join};
use super::super::leftover_locks::lock_table;
use crate::commands::flags::parse_duration;

/// Issue a join token for a new instance of a bot.
///
/// As tctl does since Teleport 19, the token is bound-keypair (see `bots add`); --legacy issues a
/// one-time `token` join. The way back for a bot whose identity expired or was locked: start
/// tbot (restart, a signal is not enough) with the new token and it joins as a new instance with
/// generation 1. A lock on the bot's user or role still refuses the join: you are warned, and
/// `mwictl unlock --bot NAME` removes it.
///
/// JSON: `{user_name, role_name, token_id, token_ttl, expires, blocking_locks}` (token_ttl in
/// nanoseconds, like tctl), and for a bound-keypair token the fields of `tokens add`. Exit 3
/// when the bot does not exist.
#[derive(Debug, clap::Args)]
#[command(visible_alias = "join")]
pub struct AddArgs {
    /// The bot's name.
    pub name: String,

    /// How long the token (bound-keypair: its registration secret) stays valid.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1h")]
    pub ttl: Duration,

    #[command(flatten)]
    pub join: JoinFlags,
}

/// The token and the locks that would refuse it.
pub struct AddReport {
    pub join: Join,
    pub blocking: Vec<String>,
}

impl Output for AddReport {
    fn text(&self) -> String {
        self.join.text()
    }

    fn json(&self) -> serde_json::Value {
        let mut map = self.join.json();
        map.insert("blocking_locks".into(), self.blocking.clone().into());
        serde_json::Value::Object(map)
    }
}

pub async fn run(ctx: &Context, args: AddArgs) -> Result<ExitStatus, CommandError> {
    let new_join = args.join.new_join(args.ttl)?;
    let client = ctx.client().await?;
    let Ticket {
        bot,
        token,
        refusing,
        other_locks,
    } = add_instance(client, &args.name, &new_join).await?;
    let printer = ctx.printer();
    if !refusing.is_empty() {
        printer.warn(format!(
            "{} on bot {:?} refuse{} every join: the join will be refused until you run `mwictl unlock --bot {}`",
            lock_count(refusing.len()),
            args.name,
            if refusing.len() == 1 { "s" } else { "" },
            args.name
        ));
        printer.status(
            lock_table(&refusing, terminal_width(&console::Term::stderr()))
                .render()
                .trim_end(),
        );
    }
    if !other_locks.is_empty() {
        printer.status(format!(
            "note: {} on older instances or tokens of bot {:?} do not stop this join",
            lock_count(other_locks.len()),
            args.name
        ));
    }
    let report = AddReport {
        join: join(
            token,
            &args.name,
            args.ttl,
            JoinAddress::of(client),
            user_and_role(&bot.value),
        ),
        blocking: refusing.iter().map(|l| l.name().to_owned()).collect(),
    };
    printer.print(&report)?;
    Ok(ExitStatus::Success)
}
