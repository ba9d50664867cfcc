//! `mwictl bots recreate NAME`: a plan that snapshots, deletes, unlocks and creates a bot again
//! with the same roles, traits, logins and TTL (plus requested changes), then issues a join
//! token; run, journaled and resumable, by the recover engine.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use mwi_proto::machineid::BotSpec;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::bots::{
    BotChanges, JoinAddress, JoinToken, check_roles_exist, logins, max_session_ttl, snapshot,
    user_and_role,
};
use crate::ops::tokens::IssuedToken;
use crate::ops::unlock::find_blocking_locks;
use crate::output::{Output, lock_count, terminal_width};
use crate::recover::diagnose::lock_summary;
use crate::recover::engine::{Progress, RunOptions, RunReport};
use crate::recover::journal::Journal;
use crate::recover::plan::{FlowInput, Operation, Plan, PlanView, Planned, Prefetched};
use crate::recover::runner::RunContext;
use crate::recover::step::{Step, StepOutput};
use crate::resource::{format_go_duration, parse_timestamp};

use super::leftover_locks::{confirm, lock_table};
use crate::commands::flags::parse_duration;

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
/// Each of the five steps is journaled (in $MWICTL_HOME/state/bots-recreate, with the bot's
/// bytes), so a run that was interrupted continues where it stopped when the same command runs
/// again, or with --resume: it never deletes a bot it has not saved, and never issues a second
/// token.
///
/// JSON: `{bot, user_name, role_name, token_id, token_ttl, expires, roles, logins,
/// max_session_ttl, snapshot, restore_file, removed_locks, locks_backup, journal, rpc_count,
/// elapsed_ms}`; --plan prints the plan as `mwictl recover --plan` does. Exit 3 when the bot or an
/// added role does not exist.
#[derive(Debug, clap::Args)]
pub struct RecreateArgs {
    /// The bot's name.
    #[arg(required_unless_present = "resume")]
    pub name: Option<String>,

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

    /// Print the plan (text, or JSON with --format json) and change nothing.
    #[arg(long)]
    pub plan: bool,

    /// Continue the last interrupted or failed `bots recreate` run (of any bot).
    #[arg(long, conflicts_with = "name")]
    pub resume: bool,

    /// Start a new run even if an unfinished one exists for this bot (that one is marked
    /// abandoned; its backups stay).
    #[arg(long)]
    pub new_run: bool,
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

    /// What decides the plan, kept in the journal so a rerun can tell whether it continues the
    /// same run.
    fn input(&self) -> FlowInput {
        FlowInput {
            token_ttl_seconds: self.token_ttl.as_secs().max(1),
            changes: self.changes(),
            ..Default::default()
        }
    }
}

/// `roles a,b; logins x; max session TTL 12h0m0s`.
fn describe(spec: &BotSpec) -> String {
    describe_parts(
        &spec.roles,
        &logins(spec),
        max_session_ttl(spec).map(format_go_duration).as_deref(),
    )
}

fn describe_parts(roles: &[String], logins: &[String], ttl: Option<&str>) -> String {
    let list = |items: &[String]| {
        if items.is_empty() {
            "none".to_owned()
        } else {
            items.join(",")
        }
    };
    format!(
        "roles {}; logins {}; max session TTL {}",
        list(roles),
        list(logins),
        ttl.unwrap_or("default")
    )
}

/// What was done, read from the run's journal.
pub struct RecreateReport {
    pub bot: String,
    pub roles: Vec<String>,
    pub logins: Vec<String>,
    pub max_session_ttl: Option<String>,
    /// The whole snapshot (JSON, raw bytes included).
    pub snapshot: PathBuf,
    /// The YAML to restore the old bot from with `mwictl create -f`.
    pub restore: PathBuf,
    pub removed_locks: Vec<String>,
    pub locks_backup: Option<PathBuf>,
    pub join: JoinToken,
    pub run: RunReport,
}

impl RecreateReport {
    /// The report of a finished run; `address` is where tbot joins.
    fn of(run: RunReport, address: JoinAddress) -> Result<RecreateReport, CommandError> {
        let r = &run.record;
        let unfinished = || {
            CommandError::failure(format!(
                "the run {} did not finish recreating bot {:?}",
                r.run_id, r.bot
            ))
            .hint(format!(
                "continue it with `mwictl bots recreate --resume` (journal {})",
                run.journal.display()
            ))
        };
        let outputs = || r.steps.iter().filter_map(|s| s.output.as_ref());
        let saved = r.snapshot.as_ref().ok_or_else(unfinished)?;
        let (removed_locks, locks_backup) = outputs()
            .find_map(|o| match o {
                StepOutput::LocksRemoved {
                    removed, backup, ..
                } => Some((removed.clone(), backup.clone())),
                _ => None,
            })
            .ok_or_else(unfinished)?;
        let created = outputs()
            .find_map(|o| match o {
                StepOutput::BotCreated {
                    user_name,
                    role_name,
                    roles,
                    logins,
                    max_session_ttl,
                    ..
                } => Some((
                    user_name.clone(),
                    role_name.clone(),
                    roles.clone(),
                    logins.clone(),
                    max_session_ttl.clone(),
                )),
                _ => None,
            })
            .ok_or_else(unfinished)?;
        let (name, expires, reused) = outputs()
            .find_map(|o| match o {
                StepOutput::TokenIssued {
                    name,
                    expires,
                    reused,
                } => Some((name.clone(), expires.clone(), *reused)),
                _ => None,
            })
            .ok_or_else(unfinished)?;
        let expires = parse_timestamp(&expires)
            .ok()
            .and_then(|t| SystemTime::try_from(t).ok())
            .ok_or_else(unfinished)?;
        // A token taken over from an earlier run has only what is left of its lifetime.
        let ttl = if reused {
            expires
                .duration_since(SystemTime::now())
                .unwrap_or_default()
        } else {
            Duration::from_secs(r.input.token_ttl_seconds)
        };
        let (user_name, role_name, roles, logins, max_session_ttl) = created;
        let join = JoinToken {
            token: IssuedToken {
                name,
                bot: r.bot.clone(),
                expires,
            },
            ttl,
            address,
            user_name,
            role_name,
        };
        Ok(RecreateReport {
            bot: r.bot.clone(),
            roles,
            logins,
            max_session_ttl,
            snapshot: saved.snapshot.clone(),
            restore: saved.restore.clone(),
            removed_locks,
            locks_backup,
            join,
            run,
        })
    }
}

impl Output for RecreateReport {
    fn text(&self) -> String {
        let mut out = format!(
            "Bot {:?} recreated with {}.\n\
             The old bot is saved in {}; restore it with `mwictl create -f {}`.\n",
            self.bot,
            describe_parts(&self.roles, &self.logins, self.max_session_ttl.as_deref()),
            self.snapshot.display(),
            self.restore.display(),
        );
        if let Some(backup) = &self.locks_backup {
            out.push_str(&format!(
                "Removed {}; backup: {}.\n",
                lock_count(self.removed_locks.len()),
                backup.display()
            ));
        }
        out.push('\n');
        out.push_str(&self.join.text());
        out
    }

    fn json(&self) -> serde_json::Value {
        let mut map = self.join.json();
        let path = |p: &std::path::Path| serde_json::Value::from(p.display().to_string());
        map.insert("bot".into(), self.bot.clone().into());
        map.insert("roles".into(), self.roles.clone().into());
        map.insert("logins".into(), self.logins.clone().into());
        map.insert(
            "max_session_ttl".into(),
            self.max_session_ttl.clone().into(),
        );
        map.insert("snapshot".into(), path(&self.snapshot));
        map.insert("restore_file".into(), path(&self.restore));
        map.insert("removed_locks".into(), self.removed_locks.clone().into());
        map.insert(
            "locks_backup".into(),
            self.locks_backup
                .as_deref()
                .map_or(serde_json::Value::Null, path),
        );
        map.insert("journal".into(), path(&self.run.journal));
        map.insert("rpc_count".into(), self.run.rpc_count.into());
        map.insert(
            "elapsed_ms".into(),
            u64::try_from(self.run.elapsed.as_millis())
                .unwrap_or(u64::MAX)
                .into(),
        );
        serde_json::Value::Object(map)
    }
}

pub async fn run(ctx: &Context, args: RecreateArgs) -> Result<ExitStatus, CommandError> {
    let started = Instant::now();
    let client = ctx.client().await?;
    let options = RunOptions {
        wait: None,
        progress: Progress::Quiet,
    };
    let journals = Operation::BotsRecreate.journal_dir_name();
    let runner = RunContext::new(
        client,
        ctx.printer(),
        &ctx.home()?,
        journals,
        options,
        started,
    );
    let name = match (&args.name, args.resume) {
        (Some(name), false) => name.clone(),
        _ => {
            let Some(open) = runner.unfinished(None, None)? else {
                return Err(CommandError::not_found(format!(
                    "no unfinished `bots recreate` run in {}",
                    runner.journal_dir.display()
                ))
                .hint("start one with `mwictl bots recreate NAME`"));
            };
            return continue_run(ctx, &runner, open, args.plan).await;
        }
    };
    let input = args.input();
    if !args.plan
        && let Some(open) =
            runner.to_continue(Operation::BotsRecreate, &name, &input, args.new_run)?
    {
        return continue_run(ctx, &runner, open, false).await;
    }

    let changes = args.changes();
    let snap = snapshot(client, &name).await?;
    let before = snap.bot.value.spec.clone().unwrap_or_default();
    let after = snap.recreated(&changes).value.spec.unwrap_or_default();
    let added: Vec<String> = after
        .roles
        .iter()
        .filter(|r| !before.roles.contains(r))
        .cloned()
        .collect();
    check_roles_exist(client, &added).await?;
    let locks = find_blocking_locks(client, &name).await?;
    let backups = ctx.home()?.backups_dir();

    let printer = ctx.printer();
    let (user, role) = user_and_role(&snap.bot.value);
    let mut text = format!(
        "Plan for bot {name:?}:\n\
         1. save the bot and its role {role:?} to {}\n\
         2. delete the bot (user {user:?} and role {role:?})\n",
        backups.display()
    );
    if locks.is_empty() {
        text.push_str("3. remove its locks: none in force\n");
    } else {
        text.push_str(&format!(
            "3. remove the locks that block it, backed up first ({}):\n",
            lock_count(locks.len())
        ));
        text.push_str(&lock_table(&locks, terminal_width(&console::Term::stderr())).render());
    }
    text.push_str(&format!(
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
    let plan = Plan {
        operation: Operation::BotsRecreate,
        bot: name.clone(),
        steps: Step::recreate_bot(
            &name,
            changes,
            locks.iter().map(lock_summary).collect(),
            input.token_ttl_seconds,
        ),
        after: Vec::new(),
    };
    if args.plan {
        printer.print(&PlanView { text, plan: &plan })?;
        return Ok(ExitStatus::Success);
    }
    printer.status(text);
    let question = format!("Recreate bot {name:?}?");
    let refusal = format!("refusing to recreate bot {name:?}");
    if !confirm(ctx, &question, &refusal)? {
        printer.status("Canceled: nothing was changed.");
        return Ok(ExitStatus::Failure);
    }
    let planned = Planned {
        plan,
        prefetched: Prefetched {
            snapshot: Some(snap),
            ..Default::default()
        },
    };
    let report = runner.start(planned, input).await?;
    let report = RecreateReport::of(report, JoinAddress::of(client))?;
    printer.print(&report)?;
    Ok(ExitStatus::Success)
}

/// Continues an unfinished run (`--plan` only shows it), asking first.
async fn continue_run(
    ctx: &Context,
    runner: &RunContext<'_>,
    journal: Journal,
    plan_only: bool,
) -> Result<ExitStatus, CommandError> {
    if plan_only {
        ctx.printer().print(&journal.record.plan)?;
        return Ok(ExitStatus::Success);
    }
    let bot = journal.record.bot.clone();
    ctx.printer().status(RunContext::continuation(&journal));
    let refusal = format!("refusing to recreate bot {bot:?}");
    if !confirm(ctx, "Continue this run?", &refusal)? {
        ctx.printer().status("Canceled: the run stays unfinished.");
        return Ok(ExitStatus::Failure);
    }
    let report = runner.resume(journal).await?;
    let report = RecreateReport::of(report, JoinAddress::of(runner.client))?;
    ctx.printer().print(&report)?;
    Ok(ExitStatus::Success)
}
