//! `mwictl unlock --bot NAME` and `mwictl unlock LOCK_ID...`: shows the locks, asks once, backs
//! them all up to one YAML file, deletes them and reports what is left. With --bot the removal is
//! a plan run by the recover engine: journaled, and continued when interrupted.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use clap::ArgGroup;

use crate::client::Client;
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops;
use crate::ops::unlock::{BlockingLock, BotTargets, Removal, remove_locks_reporting};
use crate::output::{Output, Table, fitted_table, table_time, terminal_width};
use crate::recover::diagnose::lock_summary;
use crate::recover::engine::{Progress, RunOptions, RunReport};
use crate::recover::journal::Journal;
use crate::recover::plan::{FlowInput, Operation, Plan, PlanView, Planned, Prefetched};
use crate::recover::runner::RunContext;
use crate::recover::step::{LockSummary, Step, StepOutput};
use crate::resource::lock_target_text;

/// Remove every lock that blocks a bot, or the locks named by ID, with a backup.
///
/// `--bot NAME` finds the locks in force that block the bot, whatever they target: its user or
/// role `bot-NAME`, any of its bot instances (`bot_instance_id`) or any of its join tokens
/// (`join_token`). It asks the server with a target filter, so it stays fast however many locks
/// there are. A lock on an instance whose record has already expired cannot be found that way:
/// `--scan-all` downloads every lock and also matches lock messages: `bot instance NAME/UUID`,
/// and on a join token that no longer exists Teleport's `by bot "NAME"` and `mismatch by NAME/`.
///
/// The locks are shown (ID, target, why each matches, message, created) and removed after one
/// confirmation. Before anything is deleted, all of them are written to one YAML file in
/// $MWICTL_HOME/backups, which `mwictl create FILE` restores. Without a terminal, --yes is
/// required. Exit 0 also when nothing blocks the bot; 3 when a named lock does not exist, or
/// when the bot does not exist and no lock targets its name (a deleted bot keeps its locks:
/// they are found and removed by its name as long as any is left).
///
/// With --bot the removal is journaled (in $MWICTL_HOME/state/unlock): when it was interrupted,
/// the same command, or --resume, continues it.
///
/// JSON/YAML: `{bot, dry_run, scan_all, locks: [{id, target, reason, message, created}],
/// removed: [ID], already_gone: [ID], backup: PATH, remaining: [ID]}`; --plan prints the plan as `mwictl recover
/// --plan` does.
#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("which").required(true).args(["bot", "lock_ids", "resume"])))]
pub struct UnlockArgs {
    /// Remove the locks that block this bot.
    #[arg(long, value_name = "NAME", conflicts_with = "lock_ids")]
    pub bot: Option<String>,

    /// Remove these locks (names as `mwictl locks ls` shows them).
    #[arg(value_name = "LOCK_ID")]
    pub lock_ids: Vec<String>,

    /// With --bot: download every lock and also match locks on expired instance records by their
    /// message (slower with many locks).
    #[arg(long, requires = "bot")]
    pub scan_all: bool,

    /// Show the locks that would be removed, and remove nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// With --bot or --resume: print the plan (text, or JSON with --format json) and change
    /// nothing.
    #[arg(long, conflicts_with = "lock_ids")]
    pub plan: bool,

    /// Continue the last interrupted or failed `unlock --bot` run (of any bot).
    #[arg(long, conflicts_with_all = ["bot", "lock_ids"])]
    pub resume: bool,

    /// With --bot: start a new run even if an unfinished one exists for the bot (that one is
    /// marked abandoned; its backup stays).
    #[arg(long, requires = "bot")]
    pub new_run: bool,
}

/// One lock of the plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlannedLock {
    pub id: String,
    /// The target in tctl's compact form, like `User:"bot-example"`.
    pub target: String,
    /// Why it blocks the bot (or that it was named).
    pub reason: String,
    pub message: String,
    /// RFC 3339 to the second, empty when the server did not record it.
    pub created: String,
}

impl PlannedLock {
    /// A lock of a journaled plan (a continued run).
    fn of_summary(lock: &LockSummary) -> PlannedLock {
        PlannedLock {
            id: lock.name.clone(),
            target: lock.target.clone(),
            reason: lock.reason.clone(),
            message: lock.message.clone(),
            created: lock.created_at.clone().unwrap_or_default(),
        }
    }

    fn of(found: &BlockingLock) -> PlannedLock {
        let spec = found.lock.value.spec.clone().unwrap_or_default();
        PlannedLock {
            id: found.name().to_owned(),
            target: lock_target_text(&spec.target.unwrap_or_default()),
            reason: found.reason.clone(),
            message: spec.message,
            created: spec
                .created_at
                .as_ref()
                .filter(|t| t.seconds > 0)
                .map(table_time)
                .unwrap_or_default(),
        }
    }
}

/// What `unlock` did (or, with --dry-run, would do).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnlockReport {
    /// The bot of `--bot`, else null.
    pub bot: Option<String>,
    pub dry_run: bool,
    /// The locks found (to be) removed.
    pub locks: Vec<PlannedLock>,
    /// IDs of the locks this run removed (empty on a dry run).
    pub removed: Vec<String>,
    /// IDs of the locks someone else removed first (a racing run): not counted as removed.
    pub already_gone: Vec<String>,
    /// The YAML file holding every removed lock.
    pub backup: Option<PathBuf>,
    /// With --bot: IDs of locks still blocking the bot after the removal.
    pub remaining: Vec<String>,
    /// Whether the search also matched lock messages (--scan-all).
    pub scan_all: bool,
}

fn plan_table(locks: &[PlannedLock], width: Option<usize>) -> Table {
    let rows = locks
        .iter()
        .map(|l| {
            vec![
                l.id.clone(),
                l.target.clone(),
                l.reason.clone(),
                l.message.clone(),
                l.created.clone(),
            ]
        })
        .collect();
    fitted_table(
        &["ID", "Target", "Why", "Message", "Created"],
        rows,
        3,
        width,
    )
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 lock".to_owned()
    } else {
        format!("{n} locks")
    }
}

impl Output for UnlockReport {
    fn text(&self) -> String {
        let subject = self.bot.as_ref().map(|b| format!("bot {b:?}"));
        if self.locks.is_empty() {
            let Some(subject) = subject else {
                return String::new();
            };
            let mut text = format!(
                "Nothing blocks {subject}: no lock in force targets its user, role, instances or join tokens.\n"
            );
            if !self.scan_all {
                text.push_str(
                    "A lock on an instance whose record has expired is found only with --scan-all.\n",
                );
            }
            return text;
        }
        if self.dry_run {
            let mut text =
                plan_table(&self.locks, terminal_width(&console::Term::stdout())).render();
            text.push_str(&format!(
                "Dry run: nothing was removed; run without --dry-run to remove {}.\n",
                count(self.locks.len())
            ));
            return text;
        }
        let mut text = format!("Removed {}", count(self.removed.len()));
        if !self.already_gone.is_empty() {
            text.push_str(&format!(", {} already gone", self.already_gone.len()));
        }
        if let Some(backup) = &self.backup {
            text.push_str(&format!("; backup: {}", backup.display()));
        }
        text.push_str(".\n");
        if let Some(subject) = subject {
            if self.remaining.is_empty() {
                text.push_str(&format!("No lock in force blocks {subject} now.\n"));
            } else {
                text.push_str(&format!(
                    "Still blocking {subject}: {} ({}); run `mwictl unlock --bot {}` again.\n",
                    count(self.remaining.len()),
                    self.remaining.join(", "),
                    self.bot.as_deref().unwrap_or_default()
                ));
            }
        }
        text
    }

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

pub async fn run(ctx: &Context, args: UnlockArgs) -> Result<ExitStatus, CommandError> {
    let client = ctx.client().await?;
    let options = RunOptions {
        wait: None,
        progress: Progress::Locks,
    };
    let journals = Operation::Unlock.journal_dir_name();
    let runner = RunContext::new(
        client,
        ctx.printer(),
        &ctx.home()?,
        journals,
        options,
        Instant::now(),
    );
    let input = FlowInput {
        scan_all: args.scan_all,
        ..Default::default()
    };
    if args.resume {
        let Some(open) = runner.unfinished(None, None)? else {
            return Err(CommandError::not_found(format!(
                "no unfinished `unlock --bot` run in {}",
                runner.journal_dir.display()
            ))
            .hint("start one with `mwictl unlock --bot NAME`"));
        };
        if args.plan {
            ctx.printer().print(&open.record.plan)?;
            return Ok(ExitStatus::Success);
        }
        return continue_run(ctx, &runner, open).await;
    }
    if let Some(bot) = &args.bot
        && !args.plan
        && !args.dry_run
        && let Some(open) = runner.to_continue(Operation::Unlock, bot, &input, args.new_run)?
    {
        return continue_run(ctx, &runner, open).await;
    }
    let targets = match &args.bot {
        Some(bot) => Some(BotTargets::collect(client, bot).await?),
        None => None,
    };
    let found = match &targets {
        Some(t) if args.scan_all => t.scan_all(client, true).await?,
        Some(t) => t.find_locks(client, true).await?,
        None => named_locks(ctx, &args.lock_ids).await?,
    };
    if let Some(bot) = &args.bot {
        check_bot(ctx, client, bot, found.is_empty(), args.scan_all).await?;
    }
    let mut report = UnlockReport {
        bot: args.bot.clone(),
        dry_run: args.dry_run,
        locks: found.iter().map(PlannedLock::of).collect(),
        removed: Vec::new(),
        already_gone: Vec::new(),
        backup: None,
        remaining: Vec::new(),
        scan_all: args.scan_all,
    };
    let table = plan_table(&report.locks, terminal_width(&console::Term::stderr()))
        .render()
        .trim_end()
        .to_owned();
    let planned = args.bot.as_ref().map(|bot| Planned {
        plan: Plan {
            operation: Operation::Unlock,
            bot: bot.clone(),
            steps: vec![Step::RemoveLocks {
                locks: found.iter().map(lock_summary).collect(),
            }],
            after: Vec::new(),
        },
        prefetched: Prefetched {
            locks: found
                .iter()
                .map(|f| (f.name().to_owned(), f.lock.clone()))
                .collect(),
            ..Default::default()
        },
    });
    if let Some(planned) = planned.as_ref().filter(|_| args.plan) {
        let text = if found.is_empty() {
            report.text()
        } else {
            table
        };
        ctx.printer().print(&PlanView {
            text,
            plan: &planned.plan,
        })?;
        return Ok(ExitStatus::Success);
    }
    if found.is_empty() || args.dry_run {
        ctx.printer().print(&report)?;
        return Ok(ExitStatus::Success);
    }
    ctx.printer().status(table);
    let question = match &args.bot {
        Some(bot) => format!("Remove these {} blocking bot {bot:?}?", count(found.len())),
        None => format!("Remove these {}?", count(found.len())),
    };
    if !confirm(ctx, &question, found.len())? {
        ctx.printer().status("Canceled: no lock was removed.");
        return Ok(ExitStatus::Failure);
    }
    let Some(planned) = planned else {
        let locks: Vec<_> = found.iter().map(|f| f.lock.clone()).collect();
        let printer = ctx.printer();
        let removed = remove_locks_reporting(
            client,
            &locks,
            &ctx.home()?.backups_dir(),
            "unlock-locks",
            |removal| match removal {
                Removal::Deleted(name) => printer.status(format!("lock {name:?} has been deleted")),
                Removal::AlreadyGone(name) => {
                    printer.status(format!("lock {name:?} was already gone"))
                }
            },
        )
        .await?;
        report.backup = removed.backup();
        report.removed = removed.deleted;
        report.already_gone = removed.already_gone;
        ctx.printer().print(&report)?;
        return Ok(ExitStatus::Success);
    };
    let run = runner.start(planned, input).await?;
    finish(ctx, client, report, targets, &run).await
}

/// Continues an unfinished run, asking first.
async fn continue_run(
    ctx: &Context,
    runner: &RunContext<'_>,
    journal: Journal,
) -> Result<ExitStatus, CommandError> {
    let r = &journal.record;
    let locks: Vec<PlannedLock> = r
        .plan
        .steps
        .iter()
        .flat_map(|s| match s {
            Step::RemoveLocks { locks } => locks.iter().map(PlannedLock::of_summary).collect(),
            _ => Vec::new(),
        })
        .collect();
    let report = UnlockReport {
        bot: Some(r.bot.clone()),
        dry_run: false,
        locks,
        removed: Vec::new(),
        already_gone: Vec::new(),
        backup: None,
        remaining: Vec::new(),
        scan_all: r.input.scan_all,
    };
    ctx.printer().status(RunContext::continuation(&journal));
    if !confirm(ctx, "Continue this run?", report.locks.len())? {
        ctx.printer().status("Canceled: the run stays unfinished.");
        return Ok(ExitStatus::Failure);
    }
    let run = runner.resume(journal).await?;
    finish(ctx, runner.client, report, None, &run).await
}

/// Fills in what the run removed and what still blocks the bot (whose lock targets are read
/// again unless given), and prints the report.
async fn finish(
    ctx: &Context,
    client: &Client,
    mut report: UnlockReport,
    targets: Option<BotTargets>,
    run: &RunReport,
) -> Result<ExitStatus, CommandError> {
    for step in &run.record.steps {
        if let Some(StepOutput::LocksRemoved {
            removed,
            already_gone,
            backup,
        }) = &step.output
        {
            report.removed.extend(removed.iter().cloned());
            report.already_gone.extend(already_gone.iter().cloned());
            report.backup = backup.clone();
        }
    }
    let targets = match targets {
        Some(targets) => targets,
        None => BotTargets::collect(client, &run.record.bot).await?,
    };
    let left = if report.scan_all {
        targets.scan_all(client, true).await?
    } else {
        targets.find_locks(client, true).await?
    };
    report.remaining = left.iter().map(|l| l.name().to_owned()).collect();
    ctx.printer().print(&report)?;
    Ok(ExitStatus::Success)
}

/// A bot that does not exist is exit 3 (a typo, with the nearest names) unless locks are left on
/// its name: a deleted bot keeps its locks, and this is how they are removed.
async fn check_bot(
    ctx: &Context,
    client: &Client,
    bot: &str,
    nothing_found: bool,
    scan_all: bool,
) -> Result<(), CommandError> {
    match client.get_bot(bot).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() && nothing_found => {
            let err = ops::bots::not_found(client, bot).await;
            let mut err = CommandError {
                message: format!("{}, and no lock in force targets its name", err.message),
                ..err
            };
            if !scan_all {
                err = err.hint(format!(
                    "for a deleted bot, locks on its expired instances are found only with `mwictl unlock --bot {bot} --scan-all`"
                ));
            }
            Err(err)
        }
        Err(e) if e.is_not_found() => {
            ctx.printer().status(format!(
                "bot {bot:?} does not exist (deleted?): removing the locks left on its name"
            ));
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// The locks named on the command line, each read once (a missing one is exit 3).
async fn named_locks(ctx: &Context, ids: &[String]) -> Result<Vec<BlockingLock>, CommandError> {
    let client = ctx.client().await?;
    let mut seen = BTreeSet::new();
    let mut found = Vec::new();
    for id in ids {
        if !seen.insert(id.as_str()) {
            continue;
        }
        let lock = client.get_lock(id).await?;
        found.push(BlockingLock {
            lock,
            reason: "named on the command line".to_owned(),
        });
    }
    Ok(found)
}

/// Asks once; without a terminal and without `--yes` refuses at once, naming the flags.
fn confirm(ctx: &Context, question: &str, n: usize) -> Result<bool, CommandError> {
    ctx.confirm(question, || {
        CommandError::usage(format!(
            "refusing to remove {} without confirmation: stdin is not a terminal",
            count(n)
        ))
        .hint("pass --yes to remove them, or --dry-run to only list them")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(id: &str) -> PlannedLock {
        PlannedLock {
            id: id.into(),
            target: "User:\"bot-example\"".into(),
            reason: "targets the bot user bot-example".into(),
            message: "locked".into(),
            created: String::new(),
        }
    }

    fn report() -> UnlockReport {
        UnlockReport {
            bot: Some("example".into()),
            dry_run: false,
            locks: vec![planned("a")],
            removed: vec!["a".into()],
            already_gone: Vec::new(),
            backup: Some("/b/unlock.yaml".into()),
            remaining: Vec::new(),
            scan_all: false,
        }
    }

    #[test]
    fn report_names_the_backup_and_says_the_bot_is_free() {
        assert_eq!(
            report().text(),
            "Removed 1 lock; backup: /b/unlock.yaml.\nNo lock in force blocks bot \"example\" now.\n"
        );
    }

    #[test]
    fn report_counts_only_what_this_run_removed() {
        let mut r = report();
        r.removed.clear();
        r.already_gone = vec!["a".into(), "b".into()];
        assert!(
            r.text()
                .starts_with("Removed 0 locks, 2 already gone; backup: /b/unlock.yaml.\n"),
            "{}",
            r.text()
        );
    }

    #[test]
    fn report_names_locks_still_blocking() {
        let mut r = report();
        r.remaining = vec!["z".into()];
        assert!(
            r.text()
                .contains("Still blocking bot \"example\": 1 lock (z)")
        );
    }

    #[test]
    fn nothing_to_remove_says_so_and_mentions_scan_all() {
        let mut r = report();
        r.locks.clear();
        r.removed.clear();
        assert!(r.text().starts_with("Nothing blocks bot \"example\""));
        assert!(r.text().contains("--scan-all"));
    }

    #[test]
    fn json_has_stable_field_names() {
        let json = report().json();
        for key in [
            "bot",
            "dry_run",
            "locks",
            "removed",
            "already_gone",
            "backup",
            "remaining",
            "scan_all",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(
            json["locks"][0]["reason"],
            "targets the bot user bot-example"
        );
    }
}
