//! The one engine that executes every recovery plan: it journals each step before and after it
//! runs, shows a spinner per step on stderr, and turns the journal into the run's result.
//!
//! Every step can be redone safely, so a run that stopped anywhere continues from its first
//! unfinished step: a lock already gone counts as removed, an issued token that is still unused
//! is reused, a config already holding the token is left alone, a role edit is planned again.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::client::Client;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops;
use crate::output::{Output, Printer};
use crate::recover::diagnose::is_not_found;
use crate::recover::journal::{Journal, Record, RunState, StepState, TokenRecord};
use crate::recover::plan::Prefetched;
use crate::recover::step::{RoleEdit, Step, StepOutput, Verification, VerifyState};
use crate::recover::verify::{self, VerifyInput};
use crate::resource::{format_timestamp, parse_timestamp};

/// Test hook: `MWICTL_TEST_CRASH_AFTER_STEP=N` aborts the process right after step N (1-based)
/// is journaled, so tests can check that a rerun converges from every point.
pub const CRASH_AFTER_STEP_ENV: &str = "MWICTL_TEST_CRASH_AFTER_STEP";

/// How long `--restart-cmd` may run.
const RESTART_TIMEOUT: Duration = Duration::from_secs(300);

/// How options of the invocation shape execution (not the plan).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--wait`: how long verification polls.
    pub wait: Option<Duration>,
    /// Spinners on stderr (a terminal, not `--quiet`); otherwise one status line per step.
    pub spinners: bool,
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
        let crash_after: Option<usize> = std::env::var(CRASH_AFTER_STEP_ENV)
            .ok()
            .and_then(|v| v.parse().ok());
        let total = journal.record.plan.steps.len();
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
            match result {
                Ok(output) => {
                    let line = format!("{}. {}", index + 1, summary(&step, &output));
                    journal.mark_done(index, output)?;
                    self.finish(progress, index, total, true, &line);
                }
                Err(e) => {
                    journal.mark_failed(index, &e.message)?;
                    let line = format!("{}. {}: failed", index + 1, step.title());
                    self.finish(progress, index, total, false, &line);
                    return Err(e.hint(format!(
                        "fix the cause and run the same command again, or `mwictl recover --resume`: it continues at step {} (journal {})",
                        index + 1,
                        journal.path().display()
                    )));
                }
            }
            if crash_after == Some(index + 1) {
                // Simulates a crash (kill -9, power loss) for the resume tests.
                std::process::abort();
            }
        }
        Ok(cost)
    }

    fn progress(&self, index: usize, total: usize, step: &Step) -> Option<ProgressBar> {
        if !self.options.spinners {
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

    fn finish(&self, bar: Option<ProgressBar>, index: usize, total: usize, ok: bool, line: &str) {
        let mark = if ok { "✓" } else { "✗" };
        match bar {
            Some(bar) => {
                bar.set_style(
                    ProgressStyle::with_template("{msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.finish_with_message(format!("{mark} {line}"));
            }
            None => self
                .printer
                .status(format!("[{}/{total}] {mark} {line}", index + 1)),
        }
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
                        Err(e) if is_not_found(&e) => already_gone.push(lock.name.clone()),
                        Err(e) => return Err(e.into()),
                    }
                }
                let removed =
                    ops::unlock::remove_locks(client, &fetched, &journal.record.backup_dir).await?;
                Ok(StepOutput::LocksRemoved {
                    backup: (!removed.names.is_empty()).then_some(removed.backup_path),
                    removed: removed.names,
                    already_gone,
                })
            }
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
                            "fix the file (or pass another --tbot-config) and run the command again",
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
            Step::RecreateBot { bot, add_roles } => {
                let snap = ops::bots::snapshot(client, bot).await?;
                let changes = ops::bots::BotChanges {
                    add_roles: add_roles.clone(),
                    ..Default::default()
                };
                let ttl = Duration::from_secs(journal.record.input.token_ttl_seconds);
                let done =
                    ops::bots::recreate(client, &snap, &changes, &journal.record.backup_dir, ttl)
                        .await?;
                let expires = format_timestamp(&done.token.expires.into());
                journal.record.token = Some(TokenRecord {
                    name: done.token.name.clone(),
                    expires: expires.clone(),
                    created: true,
                });
                journal.save()?;
                Ok(StepOutput::BotRecreated {
                    snapshot: done.snapshot_path,
                    restore: done.restore_path,
                    removed_locks: done.removed_locks,
                    locks_backup: done.locks_backup,
                    token: done.token.name,
                    token_expires: expires,
                })
            }
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
                Err(e) if is_not_found(&e) => {
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

/// Runs `command` with `sh -c`; the token and bot are in `MWICTL_RECOVER_TOKEN` and
/// `MWICTL_RECOVER_BOT` for commands that pass the token themselves.
async fn run_restart(command: &str, journal: &Journal) -> Result<StepOutput, CommandError> {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .env("MWICTL_RECOVER_BOT", &journal.record.bot)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(token) = journal.record.token.as_ref().filter(|t| t.created) {
        cmd.env("MWICTL_RECOVER_TOKEN", &token.name);
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
        StepOutput::BotRecreated {
            snapshot,
            removed_locks,
            ..
        } => format!(
            "Recreated the bot (snapshot {}; {} lock(s) removed)",
            snapshot.display(),
            removed_locks.len()
        ),
        StepOutput::Verified(v) => format!("Verify: {}: {}", state_text(v.state), v.detail),
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
    /// Of this invocation, from the start of the command.
    pub elapsed: Duration,
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
                StepOutput::BotRecreated {
                    snapshot,
                    restore,
                    locks_backup,
                    ..
                } => {
                    out.push(restore.clone());
                    out.push(snapshot.clone());
                    out.extend(locks_backup.clone());
                }
                _ => {}
            }
        }
        out
    }

    /// True when the token went into a tbot.yaml (or its token file).
    fn token_written(&self) -> bool {
        self.outputs()
            .any(|o| matches!(o, StepOutput::ConfigUpdated { .. }))
    }

    /// What the user must still do.
    pub fn after(&self) -> Vec<String> {
        let mut out = self.record.plan.after.clone();
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
        let verdict = match self.verification().map(|v| v.state) {
            Some(VerifyState::Verified) => "Recovered",
            Some(VerifyState::Pending) | None => "Fixed on the server",
            Some(_) => "NOT recovered yet",
        };
        let mut out = format!(
            "{verdict}: bot {:?}, {} ({}){}\n",
            r.bot,
            r.flow.title(),
            r.flow.incident(),
            if self.resumed { ", resumed run" } else { "" }
        );
        for (i, (step, rec)) in r.plan.steps.iter().zip(&r.steps).enumerate() {
            let line = match &rec.output {
                Some(o) => summary(step, o),
                None => format!("{} (not run)", step.title()),
            };
            let mark = match rec.state {
                StepState::Done => "✓",
                StepState::Failed => "✗",
                _ => "-",
            };
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
        let after = self.after();
        if !after.is_empty() {
            out.push_str("Still to do on the bot's host:\n");
            for line in after {
                out.push_str(&format!("  - {line}\n"));
            }
        }
        out.push_str(&format!(
            "Journal: {} ({} RPCs, {} ms)\n",
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
        let instance = self.verification().and_then(|v| v.instance.clone());
        serde_json::json!({
            "schema": "mwictl.recover/v1",
            "run_id": r.run_id,
            "flow": r.flow.name(),
            "incident": r.flow.incident(),
            "bot": r.bot,
            "state": r.state,
            "resumed": self.resumed,
            "steps": steps,
            "created": {
                "token": token,
                "bot_instance": instance,
            },
            "backups": self.backups(),
            "verification": self.verification(),
            "after": self.after(),
            "journal": self.journal,
            "elapsed_ms": self.elapsed.as_millis() as u64,
            "rpc_count": self.rpc_count,
            "verify": {
                "elapsed_ms": self.verify.elapsed.as_millis() as u64,
                "rpc_count": self.verify.rpcs,
            },
        })
    }
}
