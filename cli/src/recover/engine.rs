//! The one engine that executes every plan (recovery flows, `bots recreate`, `unlock --bot`): it
//! journals each step before and after it runs, shows progress on stderr as the command asks,
//! and turns the journal into the run's result.
//!
//! Every step can be redone safely, so a run that stopped anywhere continues from its first
//! unfinished step: a lock already gone counts as removed, an issued token that is still unused
//! is reused, a config already holding the token is left alone, a role edit is planned again, a
//! journaled snapshot is kept, a bot already deleted counts as deleted, and a bot that already
//! exists with the snapshot's content counts as created.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use mwi_proto::types::LockV2;

use crate::client::{Client, Fetched};
use crate::environment;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops;
use crate::ops::unlock::Removal;
use crate::output::{Output, Printer};
use crate::recover::journal::{
    BoundTokenRecord, Journal, ModeRecord, Record, RunState, SnapshotRecord, StepState, TokenRecord,
};
use crate::recover::plan::Prefetched;
use crate::recover::step::{
    FileWritten, Recreated, RoleEdit, Step, StepOutput, Verification, VerifyState,
};
use crate::recover::verify::{self, VerifyInput};
use crate::resource::{format_go_duration, format_timestamp, parse_timestamp};

mod token_steps;

/// The recovery mode that skips the join-state check (S10 recreates a token in it).
const INSECURE: &str = "insecure";

/// How long `--restart-cmd` may run.
const RESTART_TIMEOUT: Duration = Duration::from_secs(300);

/// What a run shows on stderr while it works.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Progress {
    /// One status line per step (recovery flows without a terminal).
    #[default]
    Steps,
    /// A spinner per step, on a terminal, gone when the step is done (the report lists them).
    Spinners,
    /// One line per removed lock, as `unlock` always printed them.
    Locks,
    /// Nothing: the command prints its report at the end (`bots recreate`).
    Quiet,
}

/// How options of the invocation shape execution (not the plan).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--wait`: how long verification polls.
    pub wait: Option<Duration>,
    pub progress: Progress,
}

/// Executes plans against one auth service.
pub struct Engine<'a> {
    client: &'a Client,
    printer: &'a Printer,
    options: RunOptions,
}

/// What the engine measured about verification, which `--wait` makes as long as it likes.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyCost {
    pub elapsed: Duration,
    pub rpcs: usize,
}

impl<'a> Engine<'a> {
    pub fn new(client: &'a Client, printer: &'a Printer, options: RunOptions) -> Engine<'a> {
        Engine {
            client,
            printer,
            options,
        }
    }

    /// Runs every step of the journal's plan that is not done yet, journaling each.
    pub async fn run(
        &self,
        journal: &mut Journal,
        mut prefetched: Prefetched,
    ) -> Result<VerifyCost, CommandError> {
        #[cfg(debug_assertions)]
        let crash = crash_hook::CrashPoint::from_env();
        let total = journal.record.plan.steps.len();
        // The tbot.yaml a later step writes into is checked before any step issues a token.
        for (step, record) in journal.record.plan.steps.iter().zip(&journal.record.steps) {
            if let Step::UpdateTbotConfig { path } | Step::UpdateTbotBoundKeypair { path } = step
                && record.state != StepState::Done
            {
                crate::recover::flows::check_tbot_config(path)?;
            }
        }
        let mut cost = VerifyCost::default();
        for index in 0..total {
            if journal.record.steps[index].state == StepState::Done {
                continue;
            }
            let step = journal.record.plan.steps[index].clone();
            // Only a step that changes something must be known to have begun if the run stops
            // inside it; the others save one fsync.
            if step.changes_anything() {
                journal.mark_started(index)?;
            }
            let progress = self.progress(index, total, &step);
            let (started, rpcs) = (Instant::now(), self.client.rpc_count());
            let result = self.execute(&step, journal, &mut prefetched).await;
            if matches!(step, Step::Verify { .. }) {
                cost = VerifyCost {
                    elapsed: started.elapsed(),
                    rpcs: self.client.rpc_count() - rpcs,
                };
            }
            #[cfg(debug_assertions)]
            crash_hook::crash_if(crash, index, false);
            match result {
                Ok(output) if waits(&output) && changes_after(&journal.record, index) => {
                    // Nothing after the wait may run before the bots recovered (restoring a mode
                    // early locks them out again): the run stops here, unfinished.
                    let line = format!("… {}. {}", index + 1, summary(&step, &output));
                    journal.mark_waiting(index, output)?;
                    self.finish(progress, index, total, true, &line);
                    return Ok(cost);
                }
                Ok(output) => {
                    let mark = mark(StepState::Done, Some(&output));
                    let line = format!("{mark} {}. {}", index + 1, summary(&step, &output));
                    journal.mark_done(index, output)?;
                    self.finish(progress, index, total, true, &line);
                }
                Err(e) => {
                    journal.mark_failed(index, &e.message)?;
                    let mark = mark(StepState::Failed, None);
                    let line = format!("{mark} {}. {}: failed", index + 1, step.title());
                    self.finish(progress, index, total, false, &line);
                    let mut e = e.hint(format!(
                        "fix the cause and run the same command again, or `{}`: it continues at step {} (journal {})",
                        journal.record.operation.resume_command(),
                        index + 1,
                        journal.path().display()
                    ));
                    for command in journal.record.restore_commands() {
                        e = e.hint(format!(
                            "a token is left in mode insecure; restore: `{command}`"
                        ));
                    }
                    return Err(e);
                }
            }
            #[cfg(debug_assertions)]
            crash_hook::crash_if(crash, index, true);
        }
        Ok(cost)
    }

    fn progress(&self, index: usize, total: usize, step: &Step) -> Option<ProgressBar> {
        // The wait draws its own bar over the bots.
        if self.options.progress != Progress::Spinners
            || matches!(step, Step::WaitForRecovery { .. })
        {
            return None;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_message(format!("[{}/{total}] {}", index + 1, step.title()));
        bar.enable_steady_tick(Duration::from_millis(100));
        Some(bar)
    }

    /// Ends a step's progress; `line` is its marked one-line summary.
    fn finish(&self, bar: Option<ProgressBar>, index: usize, total: usize, ok: bool, line: &str) {
        match bar {
            // On a terminal a finished step's line goes away: the report lists every step once.
            // A failed one stays, as nothing follows it but the error.
            Some(bar) if ok => bar.finish_and_clear(),
            Some(bar) => {
                bar.set_style(
                    ProgressStyle::with_template("{msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.finish_with_message(line.to_string());
            }
            None if self.options.progress == Progress::Steps => self
                .printer
                .status(format!("[{}/{total}] {line}", index + 1)),
            None => {}
        }
    }

    /// Says what happened to one lock, when the command shows locks as they go.
    fn lock_removed(&self, removal: Removal<'_>) {
        if self.options.progress != Progress::Locks {
            return;
        }
        match removal {
            Removal::Deleted(name) => self
                .printer
                .status(format!("lock {name:?} has been deleted")),
            Removal::AlreadyGone(name) => self
                .printer
                .status(format!("lock {name:?} was already gone")),
        }
    }

    /// Backs up `locks` into the run's backup directory, then deletes them.
    async fn remove_locks(
        &self,
        journal: &Journal,
        locks: &[Fetched<LockV2>],
        mut already_gone: Vec<String>,
    ) -> Result<StepOutput, CommandError> {
        let record = &journal.record;
        let stem = record.operation.locks_backup_stem(&record.bot);
        let removed = ops::unlock::remove_locks_reporting(
            self.client,
            locks,
            &record.backup_dir,
            &stem,
            |removal| self.lock_removed(removal),
        )
        .await?;
        already_gone.extend(removed.already_gone.iter().cloned());
        Ok(StepOutput::LocksRemoved {
            backup: removed.backup(),
            removed: removed.deleted,
            already_gone,
        })
    }

    async fn execute(
        &self,
        step: &Step,
        journal: &mut Journal,
        prefetched: &mut Prefetched,
    ) -> Result<StepOutput, CommandError> {
        let client = self.client;
        match step {
            Step::ShowEvidence { .. } => Ok(StepOutput::Shown),
            Step::RemoveLocks { locks } => {
                let mut fetched = Vec::new();
                let mut already_gone = Vec::new();
                for lock in locks {
                    if let Some(f) = prefetched.locks.remove(&lock.name) {
                        fetched.push(f);
                        continue;
                    }
                    match client.get_lock(&lock.name).await {
                        Ok(f) => fetched.push(f),
                        Err(e) if e.is_not_found() => {
                            self.lock_removed(Removal::AlreadyGone(&lock.name));
                            already_gone.push(lock.name.clone());
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                self.remove_locks(journal, &fetched, already_gone).await
            }
            Step::RemoveJoinTokenLocks { tokens } => {
                let filters = tokens
                    .iter()
                    .map(|t| mwi_proto::types::LockTarget {
                        join_token: t.clone(),
                        ..Default::default()
                    })
                    .collect();
                // An empty filter would ask for every lock.
                let locks = if tokens.is_empty() {
                    Vec::new()
                } else {
                    client.get_locks(filters, true).await?
                };
                self.remove_locks(journal, &locks, Vec::new()).await
            }
            Step::RemoveBotLocks { bot, .. } => {
                let found = ops::unlock::find_blocking_locks(client, bot).await?;
                let locks: Vec<Fetched<LockV2>> = found.into_iter().map(|l| l.lock).collect();
                self.remove_locks(journal, &locks, Vec::new()).await
            }
            Step::SnapshotBot { bot } => {
                self.snapshot_bot(journal, bot, prefetched.snapshot.take())
                    .await
            }
            Step::DeleteBot { bot } => {
                if journal.record.snapshot.is_none() {
                    return Err(CommandError::failure(format!(
                        "refusing to delete bot {bot:?}: the journal {} holds no snapshot of it",
                        journal.path().display()
                    ))
                    .hint("start a new run (`--new-run`): it saves the bot first"));
                }
                let already_gone = match client.delete_bot(bot).await {
                    Ok(()) => false,
                    Err(e) if e.is_not_found() => true,
                    Err(e) => return Err(e.into()),
                };
                Ok(StepOutput::BotDeleted {
                    bot: bot.clone(),
                    already_gone,
                })
            }
            Step::CreateBot { bot, changes } => self.create_bot(journal, bot, changes).await,
            Step::IssueToken { bot, ttl_seconds } => {
                self.issue_token(journal, bot, Duration::from_secs(*ttl_seconds))
                    .await
            }
            Step::UpdateTbotConfig { path } => {
                let token = journal
                    .record
                    .token
                    .as_ref()
                    .filter(|t| t.created)
                    .ok_or_else(|| {
                        CommandError::failure("no join token was issued before updating tbot.yaml")
                    })?;
                let tag = format!("mwictl-recover-{}", journal.record.run_id);
                let written = mwi_diag::tbot_config::write_token(path, &token.name, &tag).map_err(
                    |e| {
                        CommandError::failure(e.to_string()).hint(
                            "fix the file, or run the same command again with another --tbot-config: the run continues with it",
                        )
                    },
                )?;
                Ok(StepOutput::ConfigUpdated {
                    file: written.file,
                    backup: written.backup,
                    changed: written.changed,
                    via_token_file: written.via_token_file,
                })
            }
            Step::RunRestart { command } => run_restart(command, journal).await,
            Step::IssueBoundKeypairToken {
                bot,
                initial_public_key,
                recovery_limit,
                recovery_mode,
            } => {
                let onboarding = ops::bound_keypair::Onboarding {
                    initial_public_key: initial_public_key.clone(),
                    must_register_before: None,
                    recovery_mode: recovery_mode.clone(),
                    recovery_limit: *recovery_limit,
                };
                self.issue_bound_token(journal, bot, &onboarding).await
            }
            Step::DeleteToken { token } => self.delete_token(journal, token).await,
            Step::UpdateTbotBoundKeypair { path } => {
                let token = journal
                    .record
                    .bound_token
                    .as_ref()
                    .filter(|t| t.created)
                    .ok_or_else(|| {
                        CommandError::failure(
                            "no bound-keypair token was issued before updating tbot.yaml",
                        )
                    })?;
                let tag = format!("mwictl-recover-{}", journal.record.run_id);
                let written = mwi_diag::tbot_config::write_bound_keypair(
                    path,
                    &token.name,
                    token.registration_secret.as_deref(),
                    &tag,
                )
                .map_err(|e| {
                    CommandError::failure(e.to_string()).hint(
                        "fix the file, or run the same command again with another --tbot-config: the run continues with it",
                    )
                })?;
                Ok(StepOutput::BoundKeypairConfigUpdated {
                    files: written
                        .files
                        .into_iter()
                        .map(|w| FileWritten {
                            file: w.file,
                            backup: w.backup,
                            changed: w.changed,
                        })
                        .collect(),
                    via_join_uri: written.via_join_uri,
                })
            }
            Step::RecreateBoundKeypairToken {
                token,
                bot,
                public_key,
                bound_bot_instance_id,
                recovery_count,
                recovery_limit,
                previous_mode,
            } => {
                let want = ops::bound_keypair::Recreate {
                    token,
                    bot,
                    public_key,
                    instance: bound_bot_instance_id.as_deref(),
                    count: *recovery_count,
                    limit: *recovery_limit,
                    mode: INSECURE,
                };
                self.recreate_token(journal, &want, previous_mode).await
            }
            Step::MoveStaleKeypair { storage, keep_key } => {
                let to = journal.record.backup_dir.join("storage");
                let moved = ops::bound_keypair::move_stale_files(storage, *keep_key, &to)?;
                Ok(StepOutput::StaleKeypairMoved {
                    storage: storage.clone(),
                    moved,
                    to,
                })
            }
            Step::UpdateRole { role, edit, .. } => {
                let change = match prefetched.role_change.take() {
                    Some(change) if change.role == *role => change,
                    _ => match edit {
                        RoleEdit::AddLogins { logins } => {
                            ops::roles::plan_add_login(client, role, logins).await?
                        }
                        RoleEdit::AddDbAccess {
                            labels,
                            names,
                            users,
                        } => {
                            let grant = ops::roles::DbGrant {
                                labels: labels.clone(),
                                names: names.clone(),
                                users: users.clone(),
                            };
                            ops::roles::plan_add_db_access(client, role, &grant).await?
                        }
                    },
                };
                ops::roles::apply(client, &change).await?;
                Ok(StepOutput::RoleUpdated {
                    role: role.clone(),
                    changed: change.changed,
                })
            }
            Step::UpdateBotTraits { bot, add_logins } => {
                let changes = ops::bots::BotChanges {
                    add_logins: add_logins.clone(),
                    ..Default::default()
                };
                let (update, sent) = ops::bots::update(client, bot, &changes).await?;
                let spec = update.after.value.spec.unwrap_or_default();
                Ok(StepOutput::TraitsUpdated {
                    bot: bot.clone(),
                    logins: ops::bots::logins(&spec),
                    changed: sent.is_some(),
                })
            }
            Step::SwitchTokenMode { token, mode } => self.switch_mode(journal, token, mode).await,
            Step::EnsureRecoveryHeadroom { token, spare } => {
                self.ensure_headroom(journal, token, *spare).await
            }
            Step::WaitForRecovery { tokens } => {
                self.wait_for_recovery(tokens, &journal.record.modes).await
            }
            Step::RestoreTokenMode { token } => self.restore_mode(journal, token).await,
            Step::Verify { bot, expect } => {
                let since = time_of(&journal.record.started_at).unwrap_or_else(SystemTime::now);
                let changed_at = last_change_at(&journal.record).unwrap_or(since);
                let input = VerifyInput {
                    bot,
                    expect,
                    since,
                    changed_at,
                    wait: self.options.wait,
                    tbot_config: journal.record.input.tbot_config.as_deref(),
                };
                Ok(StepOutput::Verified(verify::verify(client, &input).await?))
            }
        }
    }

    /// Saves the bot (the one read when planning, if any) into the backups and its bytes into the
    /// journal, before any later step deletes it. A snapshot already journaled is kept.
    async fn snapshot_bot(
        &self,
        journal: &mut Journal,
        bot: &str,
        prefetched: Option<ops::bots::BotSnapshot>,
    ) -> Result<StepOutput, CommandError> {
        if let Some(saved) = &journal.record.snapshot {
            return Ok(StepOutput::SnapshotSaved {
                snapshot: saved.snapshot.clone(),
                restore: saved.restore.clone(),
            });
        }
        let snap = match prefetched.filter(|s| s.name() == bot) {
            Some(snap) => snap,
            None => ops::bots::snapshot(self.client, bot).await?,
        };
        let saved = ops::bots::save_snapshot(&snap, &journal.record.backup_dir)?;
        // Written with the step's end, before the next step (the delete) can begin.
        journal.record.snapshot = Some(SnapshotRecord::of(&snap, &saved));
        Ok(StepOutput::SnapshotSaved {
            snapshot: saved.json,
            restore: saved.yaml,
        })
    }

    /// Creates the bot from the journaled snapshot with `changes`. A bot that exists already is
    /// the one an interrupted attempt created when its roles, traits and TTL are the snapshot's;
    /// otherwise someone else made it, and it is left alone.
    async fn create_bot(
        &self,
        journal: &Journal,
        bot: &str,
        changes: &ops::bots::BotChanges,
    ) -> Result<StepOutput, CommandError> {
        let saved = journal.record.snapshot.as_ref().ok_or_else(|| {
            CommandError::failure(format!(
                "the journal {} holds no snapshot of bot {bot:?} to create it from",
                journal.path().display()
            ))
        })?;
        let restore_hint = format!(
            "the old bot is saved in {}; restore it with `mwictl create -f {}`",
            saved.snapshot.display(),
            saved.restore.display()
        );
        let wanted = saved.snapshot(journal.path())?.recreated(changes);
        let want = wanted.value.spec.clone().unwrap_or_default();
        let (created, existed) = match self.client.create_bot(&wanted).await {
            Ok(created) => (created, false),
            Err(e) if e.is_already_exists() => {
                let current = ops::bots::get(self.client, bot).await?;
                let have = current.value.spec.clone().unwrap_or_default();
                let differs = ops::bots::changed_paths(&want, &have);
                if !differs.is_empty() {
                    return Err(CommandError::conflict(format!(
                            "bot {bot:?} exists again, but not as this run creates it ({} differ): someone else created it",
                            differs.join(", ")
                        ),
                    )
                    .hint(format!(
                        "see it with `mwictl bots show {bot}`; delete it to let this run create it, or abandon the run with --new-run"
                    ))
                    .hint(restore_hint));
                }
                (current, true)
            }
            Err(e) => {
                let e = CommandError::from(e);
                let mut err = CommandError::new(
                    e.status,
                    format!(
                        "bot {bot:?} was deleted but could not be created again: {}",
                        e.message
                    ),
                );
                err.hints = e.hints;
                return Err(err.hint(restore_hint));
            }
        };
        let (user_name, role_name) = ops::bots::user_and_role(&created.value);
        let spec = created.value.spec.unwrap_or_default();
        Ok(StepOutput::BotCreated {
            bot: bot.to_string(),
            user_name,
            role_name,
            logins: ops::bots::logins(&spec),
            max_session_ttl: ops::bots::max_session_ttl(&spec).map(format_go_duration),
            roles: spec.roles,
            existed,
        })
    }

    /// The run's token: the one recorded by an interrupted attempt if the server still holds it
    /// unexpired (or never got it), else a new one whose name is journaled before it is created.
    async fn issue_token(
        &self,
        journal: &mut Journal,
        bot: &str,
        ttl: Duration,
    ) -> Result<StepOutput, CommandError> {
        let client = self.client;
        if let Some(recorded) = journal.record.token.clone() {
            match client.get_token(&recorded.name).await {
                Ok(token) => {
                    let expires = token
                        .value
                        .metadata
                        .as_ref()
                        .and_then(|m| m.expires)
                        .and_then(|t| SystemTime::try_from(t).ok());
                    let fresh =
                        expires.is_none_or(|e| e > SystemTime::now() + Duration::from_secs(60));
                    if fresh {
                        let expires = expires
                            .map_or(recorded.expires.clone(), |e| format_timestamp(&e.into()));
                        journal.record.token = Some(TokenRecord {
                            created: true,
                            expires: expires.clone(),
                            ..recorded.clone()
                        });
                        journal.save()?;
                        return Ok(StepOutput::TokenIssued {
                            name: recorded.name,
                            expires,
                            reused: true,
                        });
                    }
                }
                Err(e) if e.is_not_found() => {
                    if !recorded.created {
                        return self.create_token(journal, bot, &recorded.name, ttl).await;
                    }
                    // Used by a join, or expired: a new one is needed.
                }
                Err(e) => return Err(e.into()),
            }
        }
        let name = ops::tokens::new_token_name()?;
        self.create_token(journal, bot, &name, ttl).await
    }

    async fn create_token(
        &self,
        journal: &mut Journal,
        bot: &str,
        name: &str,
        ttl: Duration,
    ) -> Result<StepOutput, CommandError> {
        let expires_at = SystemTime::now() + ttl;
        let expires = format_timestamp(&expires_at.into());
        journal.record.token = Some(TokenRecord {
            name: name.to_string(),
            expires: expires.clone(),
            created: false,
        });
        journal.save()?;
        let token = ops::tokens::bot_token(name, bot, expires_at);
        self.client.create_token(&token).await?;
        if let Some(t) = journal.record.token.as_mut() {
            t.created = true;
        }
        journal.save()?;
        Ok(StepOutput::TokenIssued {
            name: name.to_string(),
            expires,
            reused: false,
        })
    }
}

impl Engine<'_> {
    /// The run's fresh bound-keypair token: the one an interrupted attempt recorded if the
    /// server holds it (or never got it), else a new one whose name is journaled before it is
    /// created; the registration secret the server made is journaled as soon as it is read.
    async fn issue_bound_token(
        &self,
        journal: &mut Journal,
        bot: &str,
        onboarding: &ops::bound_keypair::Onboarding,
    ) -> Result<StepOutput, CommandError> {
        let client = self.client;
        let kind = if onboarding.initial_public_key.is_some() {
            "initial_public_key"
        } else {
            "registration_secret"
        };
        let mut name = None;
        if let Some(recorded) = journal.record.bound_token.clone() {
            match client.get_token(&recorded.name).await {
                Ok(token) => {
                    let secret = token
                        .value
                        .status
                        .and_then(|s| s.bound_keypair)
                        .map(|b| b.registration_secret)
                        .filter(|s| !s.is_empty())
                        .or(recorded.registration_secret);
                    journal.record.bound_token = Some(BoundTokenRecord {
                        name: recorded.name.clone(),
                        registration_secret: secret,
                        created: true,
                    });
                    journal.save()?;
                    return Ok(StepOutput::BoundKeypairTokenIssued {
                        name: recorded.name,
                        onboarding: kind.into(),
                        reused: true,
                    });
                }
                Err(e) if e.is_not_found() && !recorded.created => name = Some(recorded.name),
                // Deleted since: a new one is needed.
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        let name = match name {
            Some(name) => name,
            None => ops::bound_keypair::token_name(bot)?,
        };
        journal.record.bound_token = Some(BoundTokenRecord {
            name: name.clone(),
            registration_secret: None,
            created: false,
        });
        journal.save()?;
        let token = ops::bound_keypair::token(&name, bot, onboarding);
        let issued = ops::bound_keypair::issue(client, &token).await?;
        journal.record.bound_token = Some(BoundTokenRecord {
            name: name.clone(),
            registration_secret: issued.registration_secret,
            created: true,
        });
        journal.save()?;
        Ok(StepOutput::BoundKeypairTokenIssued {
            name,
            onboarding: kind.into(),
            reused: false,
        })
    }

    /// Recreates a wiped bound-keypair token under its name: the previous mode journaled (as a
    /// switch to insecure, which the restore step and `recover --resume` undo) before any write,
    /// the token as it is backed up and deleted, then created with the key as
    /// initial_public_key, mode insecure and, when a bot instance is known, the restored status.
    /// A token already bound to the key (an interrupted attempt created it) is kept.
    async fn recreate_token(
        &self,
        journal: &mut Journal,
        want: &ops::bound_keypair::Recreate<'_>,
        previous_mode: &str,
    ) -> Result<StepOutput, CommandError> {
        let client = self.client;
        let current = match client.get_token(want.token).await {
            Ok(token) => Some(token),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        };
        let bound = current
            .as_ref()
            .and_then(|t| t.value.status.as_ref())
            .and_then(|s| s.bound_keypair.as_ref())
            .map(|b| b.bound_public_key.trim().to_string())
            .filter(|k| !k.is_empty());
        let journaled = journal
            .record
            .modes
            .iter()
            .any(|m| m.token == want.token && m.mode == INSECURE);
        if journaled
            && bound
                .as_deref()
                .is_some_and(|b| crate::recover::flows::bk_input::same_key(b, want.public_key))
        {
            return Ok(StepOutput::TokenRecreated(Recreated {
                token: want.token.to_string(),
                backup: None,
                bound_bot_instance_id: want.instance.map(str::to_string),
                recovery_count: want.count,
                existed: true,
            }));
        }
        if !journaled {
            journal.record.modes.push(ModeRecord {
                token: want.token.to_string(),
                previous: previous_mode.to_string(),
                mode: INSECURE.to_string(),
                switched_at: format_timestamp(&SystemTime::now().into()),
                restored: false,
            });
            journal.save()?;
        }
        let mut backup = None;
        let base = match current {
            Some(token) => {
                let yaml = crate::resource::render_yaml(&[crate::resource::Resource::Token(
                    token.value.clone(),
                )]);
                backup = Some(ops::backup::write_backup(
                    &journal.record.backup_dir,
                    &format!("token-{}", want.token),
                    &yaml,
                )?);
                match client.delete_token(want.token).await {
                    Ok(()) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
                Some(token.value)
            }
            None => None,
        };
        let token = ops::bound_keypair::recreated(base, want);
        client.create_token(&token).await?;
        Ok(StepOutput::TokenRecreated(Recreated {
            token: want.token.to_string(),
            backup,
            bound_bot_instance_id: want.instance.map(str::to_string),
            recovery_count: want.count,
            existed: false,
        }))
    }

    /// Backs the token up (status included, so `mwictl create -f` restores it whole), then
    /// deletes it.
    async fn delete_token(
        &self,
        journal: &Journal,
        name: &str,
    ) -> Result<StepOutput, CommandError> {
        let gone = || StepOutput::TokenDeleted {
            name: name.to_string(),
            backup: None,
            already_gone: true,
        };
        let token = match self.client.get_token(name).await {
            Ok(token) => token,
            Err(e) if e.is_not_found() => return Ok(gone()),
            Err(e) => return Err(e.into()),
        };
        let yaml = crate::resource::render_yaml(&[crate::resource::Resource::Token(token.value)]);
        let backup =
            ops::backup::write_backup(&journal.record.backup_dir, &format!("token-{name}"), &yaml)?;
        let already_gone = match self.client.delete_token(name).await {
            Ok(()) => false,
            Err(e) if e.is_not_found() => true,
            Err(e) => return Err(e.into()),
        };
        Ok(StepOutput::TokenDeleted {
            name: name.to_string(),
            backup: Some(backup),
            already_gone,
        })
    }
}

/// Runs `command` with `sh -c`; the token and bot are in `MWICTL_RECOVER_TOKEN` and
/// `MWICTL_RECOVER_BOT` for commands that pass the token themselves.
async fn run_restart(command: &str, journal: &Journal) -> Result<StepOutput, CommandError> {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .env(environment::MWICTL_RECOVER_BOT.name(), &journal.record.bot)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let bound = journal.record.bound_token.as_ref().filter(|t| t.created);
    if let Some(token) = journal.record.token.as_ref().filter(|t| t.created) {
        cmd.env(environment::MWICTL_RECOVER_TOKEN.name(), &token.name);
    } else if let Some(token) = bound {
        cmd.env(environment::MWICTL_RECOVER_TOKEN.name(), &token.name);
    }
    let failed = |detail: String| {
        CommandError::failure(format!("--restart-cmd `{command}` {detail}"))
            .hint("restart tbot by hand on the bot's host, or fix the command")
    };
    let output = match tokio::time::timeout(RESTART_TIMEOUT, cmd.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Err(failed(format!("could not be started: {e}"))),
        Err(_) => return Err(failed("did not finish within 5 minutes".into())),
    };
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    let tail: Vec<&str> = text.lines().rev().take(20).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    if !output.status.success() {
        let last = tail.last().copied().unwrap_or("no output");
        return Err(failed(format!("failed ({}): {last}", output.status)));
    }
    Ok(StepOutput::Restarted {
        command: command.to_string(),
        log: tail.join("\n"),
    })
}

fn time_of(text: &str) -> Option<SystemTime> {
    parse_timestamp(text)
        .ok()
        .and_then(|t| SystemTime::try_from(t).ok())
}

/// When the last step that changed something finished.
fn last_change_at(record: &Record) -> Option<SystemTime> {
    record
        .plan
        .steps
        .iter()
        .zip(&record.steps)
        .filter(|(step, r)| step.changes_anything() && r.state == StepState::Done)
        .filter_map(|(_, r)| r.finished_at.as_deref().and_then(time_of))
        .max()
}

/// One line on what a step did.
pub fn summary(step: &Step, output: &StepOutput) -> String {
    match output {
        StepOutput::Shown => step.title(),
        StepOutput::LocksRemoved {
            removed,
            already_gone,
            backup,
        } => {
            let mut line = match removed.len() {
                0 => "Removed no lock".to_string(),
                1 => format!("Removed lock {}", removed[0]),
                n => format!("Removed {n} locks: {}", removed.join(", ")),
            };
            if let Some(backup) = backup {
                line.push_str(&format!(" (backup {})", backup.display()));
            }
            if !already_gone.is_empty() {
                line.push_str(&format!("; already gone: {}", already_gone.join(", ")));
            }
            line
        }
        StepOutput::TokenIssued {
            name,
            expires,
            reused,
        } => format!(
            "{} join token {} (expires {expires})",
            if *reused {
                "Reused the unused"
            } else {
                "Issued"
            },
            ops::tokens::mask_token(name)
        ),
        StepOutput::ConfigUpdated {
            file,
            backup,
            changed,
            via_token_file,
        } => {
            let what = if *via_token_file {
                "token file"
            } else {
                "onboarding.token of"
            };
            match (changed, backup) {
                (false, _) => format!("{what} {} already holds the token", file.display()),
                (true, Some(b)) => format!(
                    "Wrote the token into {what} {} (backup {})",
                    file.display(),
                    b.display()
                ),
                (true, None) => format!("Wrote the token into {what} {}", file.display()),
            }
        }
        StepOutput::Restarted { command, .. } => format!("Ran `{command}`"),
        StepOutput::RoleUpdated { role, changed } => {
            if *changed {
                format!("Updated role {role:?}")
            } else {
                format!("Role {role:?} already had the change")
            }
        }
        StepOutput::TraitsUpdated {
            bot,
            logins,
            changed,
        } => format!(
            "{} logins trait of bot {bot:?}: {}",
            if *changed { "Updated the" } else { "Unchanged" },
            logins.join(", ")
        ),
        StepOutput::SnapshotSaved { snapshot, restore } => format!(
            "Saved the bot to {} (restore with `mwictl create -f {}`)",
            snapshot.display(),
            restore.display()
        ),
        StepOutput::BotDeleted { bot, already_gone } => {
            if *already_gone {
                format!("Bot {bot:?} was already deleted")
            } else {
                format!("Deleted bot {bot:?}")
            }
        }
        StepOutput::BotCreated {
            bot,
            roles,
            existed,
            ..
        } => format!(
            "{} bot {bot:?} with roles {}",
            if *existed {
                "Found the already created"
            } else {
                "Created"
            },
            roles.join(", ")
        ),
        StepOutput::BoundKeypairTokenIssued {
            name,
            onboarding,
            reused,
        } => format!(
            "{} bound-keypair token {name} (onboarding with {})",
            if *reused {
                "Kept the earlier attempt's"
            } else {
                "Created"
            },
            onboarding.replace('_', " ")
        ),
        StepOutput::TokenDeleted {
            name,
            backup,
            already_gone,
        } => match (already_gone, backup) {
            (true, None) => format!("Token {name} was already gone"),
            (_, Some(b)) => format!("Deleted token {name} (backup {})", b.display()),
            (false, None) => format!("Deleted token {name}"),
        },
        StepOutput::BoundKeypairConfigUpdated {
            files,
            via_join_uri,
        } => {
            let what = if *via_join_uri {
                "the join_uri of"
            } else {
                "the token and secret into"
            };
            let changed: Vec<String> = files
                .iter()
                .filter(|f| f.changed)
                .map(|f| match &f.backup {
                    Some(b) => format!("{} (backup {})", f.file.display(), b.display()),
                    None => f.file.display().to_string(),
                })
                .collect();
            if changed.is_empty() {
                format!(
                    "{} already holds the fresh token",
                    files
                        .first()
                        .map(|f| f.file.display().to_string())
                        .unwrap_or_default()
                )
            } else {
                format!("Wrote {what} {}", changed.join(", "))
            }
        }
        StepOutput::TokenRecreated(r) => format!(
            "{} token {} in mode insecure, {}{}",
            if r.existed {
                "Found the already recreated"
            } else {
                "Recreated"
            },
            r.token,
            match &r.bound_bot_instance_id {
                Some(id) => format!(
                    "status restored (bot instance {id}, recovery_count {})",
                    r.recovery_count
                ),
                None => "the key as initial_public_key".to_string(),
            },
            r.backup
                .as_ref()
                .map(|b| format!(" (backup {})", b.display()))
                .unwrap_or_default()
        ),
        StepOutput::StaleKeypairMoved { storage, moved, to } => match moved.len() {
            0 => format!("No stale bound-keypair file left in {}", storage.display()),
            _ => format!(
                "Moved {} from {} to {}",
                moved.join(", "),
                storage.display(),
                to.display()
            ),
        },
        StepOutput::Verified(v) => format!("Verify: {}: {}", state_text(v.state), v.detail),
        StepOutput::ModeSwitched {
            token,
            previous,
            mode,
            changed,
        } => {
            let previous = if previous.is_empty() {
                "standard"
            } else {
                previous
            };
            if *changed {
                format!("Set token {token} to mode {mode} (was {previous}, journaled)")
            } else {
                format!("Token {token} is in mode {mode} already (was {previous})")
            }
        }
        StepOutput::HeadroomEnsured {
            token,
            mode,
            count,
            previous_limit,
            limit,
            changed,
        } => {
            if *changed {
                format!(
                    "Raised recovery.limit of token {token} from {previous_limit} to {limit} (recovery_count {count})"
                )
            } else if mode != "standard" {
                format!(
                    "Token {token} is in mode {mode}, which ignores the limit (recovery_count {count}, limit {limit})"
                )
            } else {
                format!(
                    "Token {token} has room: recovery_count {count}, limit {limit}{}",
                    if previous_limit != limit {
                        format!(" (was {previous_limit})")
                    } else {
                        String::new()
                    }
                )
            }
        }
        StepOutput::RecoveryAwaited { state, tokens } => {
            let recovered = tokens.iter().filter(|t| t.recovered).count();
            let detail = match tokens.as_slice() {
                [t] if t.recovered => format!(
                    "bot {:?} recovered: recovery_count of token {} rose from {} to {}",
                    t.bot, t.token, t.count_before, t.count
                ),
                [t] => format!(
                    "bot {:?} has not recovered yet: recovery_count of token {} is still {}",
                    t.bot, t.token, t.count
                ),
                all => format!("{recovered} of {} bots recovered", all.len()),
            };
            format!("Wait: {}: {detail}", state_text(*state))
        }
        StepOutput::ModeRestored {
            token,
            mode,
            restored,
            detail,
        } => {
            if *restored {
                format!("Restored token {token} to mode {mode}")
            } else if mode.is_empty() {
                format!("Token {token}: {detail}")
            } else {
                format!("Left token {token} in mode {mode}: {detail}")
            }
        }
    }
}

/// True when a step after `index` changes something (a mode to restore).
fn changes_after(record: &Record, index: usize) -> bool {
    record.plan.steps[index + 1..]
        .iter()
        .any(Step::changes_anything)
}

/// True for a wait that ended before everything it waits for happened.
fn waits(output: &StepOutput) -> bool {
    matches!(output, StepOutput::RecoveryAwaited { state, .. } if *state != VerifyState::Verified)
}

/// How a step's line is marked: done, failed, not run, or (a verification still pending) open.
fn mark(state: StepState, output: Option<&StepOutput>) -> &'static str {
    let verify_state = match output {
        Some(StepOutput::Verified(v)) => Some(v.state),
        _ => None,
    };
    match (state, verify_state) {
        (StepState::Done, Some(VerifyState::Pending)) => "…",
        (StepState::Done, None) if output.is_some_and(waits) => "…",
        (StepState::Done, Some(VerifyState::TimedOut | VerifyState::Failed)) => "✗",
        (StepState::Done, _) => "✓",
        (StepState::Failed, _) => "✗",
        (StepState::Waiting, _) => "…",
        _ => "-",
    }
}

fn state_text(state: VerifyState) -> &'static str {
    match state {
        VerifyState::Verified => "verified",
        VerifyState::Pending => "pending",
        VerifyState::TimedOut => "timed out",
        VerifyState::Failed => "FAILED",
    }
}

/// The result of a run: what each step did, what was created, where backups went, how
/// verification came out, and what is left to do.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub record: Record,
    pub journal: PathBuf,
    /// True when this invocation continued an earlier run.
    pub resumed: bool,
    /// Executing the steps, in this invocation (not the time spent answering questions).
    pub elapsed: Duration,
    /// Of this invocation, from the start of the command (questions and confirmation included).
    pub command_elapsed: Duration,
    pub rpc_count: usize,
    pub verify: VerifyCost,
    /// How the auth service was reached, for the tbot start line.
    pub auth_addr: String,
    pub via_proxy: bool,
}

impl RunReport {
    fn outputs(&self) -> impl Iterator<Item = &StepOutput> {
        self.record.steps.iter().filter_map(|s| s.output.as_ref())
    }

    pub fn verification(&self) -> Option<&Verification> {
        self.outputs().find_map(|o| match o {
            StepOutput::Verified(v) => Some(v),
            _ => None,
        })
    }

    /// Every backup the run wrote.
    pub fn backups(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for o in self.outputs() {
            match o {
                StepOutput::LocksRemoved {
                    backup: Some(b), ..
                } => out.push(b.clone()),
                StepOutput::ConfigUpdated {
                    backup: Some(b), ..
                } => out.push(b.clone()),
                StepOutput::SnapshotSaved { snapshot, restore } => {
                    out.push(restore.clone());
                    out.push(snapshot.clone());
                }
                StepOutput::TokenDeleted {
                    backup: Some(b), ..
                } => out.push(b.clone()),
                StepOutput::TokenRecreated(Recreated {
                    backup: Some(b), ..
                }) => out.push(b.clone()),
                StepOutput::BoundKeypairConfigUpdated { files, .. } => {
                    out.extend(files.iter().filter_map(|f| f.backup.clone()));
                }
                StepOutput::StaleKeypairMoved { to, moved, .. } if !moved.is_empty() => {
                    out.push(to.clone());
                }
                _ => {}
            }
        }
        out
    }

    /// True when the token went into a tbot.yaml (or its token file).
    fn token_written(&self) -> bool {
        self.outputs().any(|o| {
            matches!(
                o,
                StepOutput::ConfigUpdated { .. } | StepOutput::BoundKeypairConfigUpdated { .. }
            )
        })
    }

    /// What the user must still do.
    pub fn after(&self) -> Vec<String> {
        let recovered = self.outputs().any(|o| {
            matches!(
                o,
                StepOutput::RecoveryAwaited {
                    state: VerifyState::Verified,
                    ..
                }
            )
        });
        let verified =
            recovered || self.verification().map(|v| v.state) == Some(VerifyState::Verified);
        let mut out: Vec<String> = self
            .record
            .plan
            .after
            .iter()
            .filter(|line| !(verified && crate::recover::flows::done_once_verified(line)))
            .cloned()
            .collect();
        if let Some(v) = self.verification()
            && v.state != VerifyState::Verified
        {
            for line in &v.to_check {
                if !out.contains(line) {
                    out.push(line.clone());
                }
            }
        }
        out
    }

    /// The exit status: a failed or timed-out verification is a failure.
    pub fn status(&self) -> ExitStatus {
        match self.verification().map(|v| v.state) {
            Some(VerifyState::Failed | VerifyState::TimedOut) => ExitStatus::Failure,
            _ if self.record.state != RunState::Finished => ExitStatus::Failure,
            _ => ExitStatus::Success,
        }
    }
}

impl Output for RunReport {
    fn text(&self) -> String {
        let r = &self.record;
        let waiting = r.steps.iter().any(|s| s.state == StepState::Waiting);
        let verdict = match self.verification().map(|v| v.state) {
            _ if waiting => "Waiting for the recovery",
            Some(VerifyState::Verified) => "Recovered",
            Some(VerifyState::Pending) | None => "Fixed on the server",
            Some(_) => "NOT recovered yet",
        };
        let mut out = format!(
            "{verdict}: {}, {}{}{}\n",
            crate::recover::plan::subject(r.operation, &r.bot),
            r.operation.title(),
            r.operation
                .incident()
                .map(|i| format!(" ({i})"))
                .unwrap_or_default(),
            if self.resumed { ", resumed run" } else { "" }
        );
        for (i, (step, rec)) in r.plan.steps.iter().zip(&r.steps).enumerate() {
            let line = match &rec.output {
                Some(o) => summary(step, o),
                None => format!("{} (not run)", step.title()),
            };
            let mark = mark(rec.state, rec.output.as_ref());
            out.push_str(&format!("  {mark} {}. {line}\n", i + 1));
        }
        let backups = self.backups();
        if !backups.is_empty() {
            out.push_str("Backups:\n");
            for b in backups {
                out.push_str(&format!("  {}\n", b.display()));
            }
        }
        if let Some(token) = r.token.as_ref().filter(|t| t.created)
            && !self.token_written()
        {
            out.push_str(&format!(
                "Join token (a secret; it expires {}): {}\n  {}\n",
                token.expires,
                token.name,
                ops::tokens::tbot_start_command(&token.name, &self.auth_addr, self.via_proxy)
            ));
        }
        let insecure: Vec<String> = r
            .open_insecure()
            .map(|m| format!("{} (was {})", m.token, m.previous_mode()))
            .collect();
        if !insecure.is_empty() {
            out.push_str(&format!(
                "Left in mode insecure (anyone holding the bot's key can recover it): {}\nRestore with:\n",
                insecure.join(", ")
            ));
            for command in r.restore_commands() {
                out.push_str(&format!("  {command}\n"));
            }
        }
        if let Some(token) = r.bound_token.as_ref().filter(|t| t.created)
            && !self.token_written()
        {
            let secret = token.registration_secret.as_deref();
            out.push_str(&format!(
                "Bound-keypair token {}{}\n  {}\n",
                token.name,
                secret
                    .map(|s| format!(", registration secret (a secret): {s}"))
                    .unwrap_or_default(),
                ops::bound_keypair::tbot_start_join_uri(&ops::bound_keypair::join_uri(
                    &token.name,
                    secret,
                    &self.auth_addr,
                    self.via_proxy
                ))
            ));
        }
        let after = self.after();
        if !after.is_empty() {
            out.push_str("Still to do on the bot's host:\n");
            for line in after {
                out.push_str(&format!("  - {line}\n"));
            }
        }
        out.push_str(&format!(
            "Journal: {} ({} RPCs, {} ms executing)\n",
            self.journal.display(),
            self.rpc_count,
            self.elapsed.as_millis()
        ));
        out
    }

    fn json(&self) -> serde_json::Value {
        let r = &self.record;
        let steps: Vec<serde_json::Value> = r
            .plan
            .steps
            .iter()
            .zip(&r.steps)
            .enumerate()
            .map(|(i, (step, rec))| {
                serde_json::json!({
                    "index": i + 1,
                    "kind": step.kind(),
                    "title": step.title(),
                    "state": rec.state,
                    "started_at": rec.started_at,
                    "finished_at": rec.finished_at,
                    "output": rec.output,
                    "error": rec.error,
                })
            })
            .collect();
        let token = r.token.as_ref().filter(|t| t.created).map(|t| {
            serde_json::json!({
                "name": t.name,
                "expires": t.expires,
                "written_to_config": self.token_written(),
            })
        });
        let bound_token = r.bound_token.as_ref().filter(|t| t.created).map(|t| {
            serde_json::json!({
                "name": t.name,
                "registration_secret": t.registration_secret,
                "written_to_config": self.token_written(),
            })
        });
        let instance = self.verification().and_then(|v| v.instance.clone());
        serde_json::json!({
            "schema": "mwictl.recover/v1",
            "run_id": r.run_id,
            "flow": r.operation.name(),
            "incident": r.operation.incident(),
            "bot": r.bot,
            "state": r.state,
            "resumed": self.resumed,
            "steps": steps,
            "created": {
                "token": token,
                "bound_keypair_token": bound_token,
                "bot_instance": instance,
            },
            "backups": self.backups(),
            "insecure_left": r.open_insecure().collect::<Vec<_>>(),
            "restore_commands": r.restore_commands(),
            "verification": self.verification(),
            "after": self.after(),
            "journal": self.journal,
            "elapsed_ms": self.elapsed.as_millis() as u64,
            "command_elapsed_ms": self.command_elapsed.as_millis() as u64,
            "rpc_count": self.rpc_count,
            "verify": {
                "elapsed_ms": self.verify.elapsed.as_millis() as u64,
                "rpc_count": self.verify.rpcs,
            },
        })
    }
}

/// Test hook, compiled into debug builds only (the e2e tests run the debug binary; a release
/// build has no such variable): `MWICTL_TEST_CRASH_AFTER_STEP=N` aborts the process right after
/// step N (1-based) is journaled, and `N:unjournaled` right after it ran but before its end is
/// journaled, so tests can check that a rerun converges from every point.
#[cfg(debug_assertions)]
mod crash_hook {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct CrashPoint {
        /// 1-based.
        pub step: usize,
        pub journaled: bool,
    }

    impl CrashPoint {
        pub fn from_env() -> Option<CrashPoint> {
            std::env::var("MWICTL_TEST_CRASH_AFTER_STEP")
                .ok()
                .and_then(|v| CrashPoint::parse(&v))
        }

        pub fn parse(text: &str) -> Option<CrashPoint> {
            let (step, journaled) = match text.strip_suffix(":unjournaled") {
                Some(step) => (step, false),
                None => (text, true),
            };
            Some(CrashPoint {
                step: step.parse().ok()?,
                journaled,
            })
        }
    }

    /// Aborts (as kill -9 or a power loss would stop it) at the point asked for.
    pub fn crash_if(point: Option<CrashPoint>, index: usize, journaled: bool) {
        if point
            == Some(CrashPoint {
                step: index + 1,
                journaled,
            })
        {
            std::process::abort();
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn crash_points_name_a_step_and_whether_its_end_was_journaled() {
            assert_eq!(
                CrashPoint::parse("3"),
                Some(CrashPoint {
                    step: 3,
                    journaled: true
                })
            );
            assert_eq!(
                CrashPoint::parse("2:unjournaled"),
                Some(CrashPoint {
                    step: 2,
                    journaled: false
                })
            );
            assert_eq!(CrashPoint::parse("x"), None);
        }
    }
}
