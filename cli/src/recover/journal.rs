//! The journal of one run of a plan: a JSON file (mode 0600, in `STATE_DIR/recover/` for recovery
//! flows) holding the plan, each step's state and output, the token issued, the snapshot of a bot
//! it deletes, and the backups, rewritten atomically.
//!
//! It is written before and after every step, so an interrupted run can continue where it
//! stopped. It holds the join token's name, which is the token's secret: that is why the file is
//! private to its owner, like an identity file.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use mwi_identity::durable;
use serde::{Deserialize, Serialize};

use crate::client::Fetched;
use crate::error::CommandError;
use crate::ops::bots::{BotSnapshot, SavedSnapshot};
use crate::recover::plan::{FlowInput, Operation, Plan};
use crate::recover::step::StepOutput;
use crate::resource::{base64, format_timestamp};

/// The `schema` of a journal file; it changes only when a field changes meaning.
pub const JOURNAL_SCHEMA: &str = "mwictl.recover.journal/v1";

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Started and not finished (or interrupted): a rerun continues it.
    Running,
    /// A step failed: a rerun continues from that step.
    Failed,
    Finished,
    /// Replaced by a new run (`--new-run`).
    Abandoned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Pending,
    /// Begun; if the run stopped here the step runs again (every step can be redone safely).
    Started,
    Done,
    Failed,
    /// A wait that ended before what it waits for happened (no `--wait`, or it ran out): the run
    /// stops here, unfinished, and a rerun waits again.
    Waiting,
}

/// One step's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub state: StepState,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub output: Option<StepOutput>,
    pub error: Option<String>,
}

/// The join token of the run. Its name is recorded before the token is created, so a run
/// interrupted in between creates that same token instead of a second one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub name: String,
    pub expires: String,
    /// False until the server accepted it.
    pub created: bool,
}

/// A token's recovery mode as the run switched it: written before the switch, so a run that
/// stops anywhere after it knows what to restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeRecord {
    pub token: String,
    /// As the token's spec had it (`""` is standard); written back on restore.
    pub previous: String,
    /// The mode the run set.
    pub mode: String,
    pub switched_at: String,
    pub restored: bool,
}

impl ModeRecord {
    /// True while the run left the token in `insecure`.
    pub fn open_insecure(&self) -> bool {
        self.mode == "insecure" && !self.restored
    }

    /// The previous mode, `""` read as `standard`.
    pub fn previous_mode(&self) -> &str {
        if self.previous.is_empty() {
            "standard"
        } else {
            &self.previous
        }
    }
}

/// A token's recovery limit before the run raised it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitRecord {
    pub token: String,
    pub previous: u32,
    pub limit: u32,
}

/// The fresh bound-keypair token of the run. Its name is recorded before the token is created;
/// the registration secret the server made for it is recorded once read back, as tbot needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundTokenRecord {
    pub name: String,
    pub registration_secret: Option<String>,
    /// False until the server accepted it.
    pub created: bool,
}

/// A bot as it was before the run deleted it: the server's bytes (base64), so it is created again
/// with every field, those this mwictl does not know included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRecord {
    pub bot: String,
    /// Its role `bot-NAME`, when the server had one.
    pub role: Option<String>,
    /// The backups written from it.
    pub snapshot: PathBuf,
    pub restore: PathBuf,
}

impl SnapshotRecord {
    pub fn of(snap: &BotSnapshot, saved: &SavedSnapshot) -> SnapshotRecord {
        SnapshotRecord {
            bot: base64::encode(&snap.bot.raw),
            role: snap.role.as_ref().map(|r| base64::encode(&r.raw)),
            snapshot: saved.json.clone(),
            restore: saved.yaml.clone(),
        }
    }

    /// The bot and role decoded from the journaled bytes.
    pub fn snapshot(&self, journal: &Path) -> Result<BotSnapshot, CommandError> {
        let broken = || {
            CommandError::failure(format!(
                "the bot snapshot in the journal {} is not valid",
                journal.display()
            ))
            .hint("restore the bot from the snapshot backup with `mwictl create -f FILE`")
        };
        let bytes = |text: &str| {
            base64::decode(text)
                .map(bytes::Bytes::from)
                .ok_or_else(broken)
        };
        let bot = Fetched::decode(bytes(&self.bot)?).map_err(|_| broken())?;
        let role = match &self.role {
            Some(text) => Some(Fetched::decode(bytes(text)?).map_err(|_| broken())?),
            None => None,
        };
        Ok(BotSnapshot { bot, role })
    }
}

/// The journal file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub schema: String,
    pub run_id: String,
    /// Named `flow` in journals written before plans ran commands too.
    #[serde(alias = "flow")]
    pub operation: Operation,
    pub bot: String,
    pub state: RunState,
    pub started_at: String,
    pub updated_at: String,
    /// How many times the run was continued after an interruption or failure.
    pub resumed: u32,
    pub input: FlowInput,
    /// Every backup of this run goes in here, so none is lost even if the run stops between
    /// writing a backup and recording it.
    pub backup_dir: PathBuf,
    pub plan: Plan,
    pub steps: Vec<StepRecord>,
    pub token: Option<TokenRecord>,
    /// Saved by the snapshot step, read by the step that creates the bot again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotRecord>,
    /// Every recovery-mode switch, journaled before its write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modes: Vec<ModeRecord>,
    /// Every recovery-limit raise, journaled before its write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<LimitRecord>,
    /// Created by the step that issues a fresh bound-keypair token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_token: Option<BoundTokenRecord>,
}

impl Record {
    /// True while the run has not finished (a rerun or `--resume` continues it).
    pub fn is_open(&self) -> bool {
        matches!(self.state, RunState::Running | RunState::Failed)
    }

    /// The tokens this run left in `insecure`.
    pub fn open_insecure(&self) -> impl Iterator<Item = &ModeRecord> {
        self.modes.iter().filter(|m| m.open_insecure())
    }

    /// The commands that restore what the run left in `insecure`: resume (waits, then
    /// restores) and, per token, a direct one.
    pub fn restore_commands(&self) -> Vec<String> {
        let mut out = Vec::new();
        for m in self.open_insecure() {
            if out.is_empty() {
                out.push(format!(
                    "{} (waits for the recovery, then restores)",
                    resume_and_restore(&self.run_id)
                ));
            }
            out.push(format!(
                "mwictl tokens mode {} {} (restores at once)",
                m.token,
                m.previous_mode()
            ));
        }
        out
    }
}

/// The command that continues run `run_id` stopped at its wait, waiting long enough for tbot's
/// retry; it names the run, as several may be open.
pub fn resume_and_restore(run_id: &str) -> String {
    format!("mwictl recover --resume --run {run_id} --wait 5m")
}

/// A journal file and its content.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    pub record: Record,
}

fn now_text() -> String {
    format_timestamp(&SystemTime::now().into())
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> CommandError {
    CommandError::failure(format!(
        "cannot {what} the recover journal {}: {e}",
        path.display()
    ))
    .hint("make the state directory writable, or point MWICTL_HOME at a writable directory")
}

impl Journal {
    /// Starts the journal of a new run of `plan` in `dir`, with its backups under `backups_root`
    /// (in a directory of their own for a recovery flow).
    pub fn create(
        dir: &Path,
        backups_root: &Path,
        plan: Plan,
        input: FlowInput,
    ) -> Result<Journal, CommandError> {
        let started = SystemTime::now();
        let stamp = time::OffsetDateTime::from(started)
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .unwrap_or_else(|_| "run".into());
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let run_id = format!("{stamp}-{}", &suffix[..8]);
        let steps = plan
            .steps
            .iter()
            .map(|_| StepRecord {
                state: StepState::Pending,
                started_at: None,
                finished_at: None,
                output: None,
                error: None,
            })
            .collect();
        let mut journal = Journal {
            path: dir.join(format!("{run_id}.json")),
            record: Record {
                schema: JOURNAL_SCHEMA.into(),
                backup_dir: plan.operation.backup_dir(backups_root, &run_id),
                run_id,
                operation: plan.operation,
                bot: plan.bot.clone(),
                state: RunState::Running,
                started_at: format_timestamp(&started.into()),
                updated_at: String::new(),
                resumed: 0,
                input,
                plan,
                steps,
                token: None,
                snapshot: None,
                modes: Vec::new(),
                limits: Vec::new(),
                bound_token: None,
            },
        };
        journal.save()?;
        Ok(journal)
    }

    /// Reads a journal file.
    pub fn load(path: &Path) -> Result<Journal, CommandError> {
        let bytes = fs::read(path).map_err(|e| io_error("read", path, e))?;
        let record: Record = serde_json::from_slice(&bytes).map_err(|e| {
            CommandError::failure(format!(
                "the recover journal {} is not valid: {e}",
                path.display()
            ))
            .hint("move it away and start the recovery again")
        })?;
        if record.schema != JOURNAL_SCHEMA {
            return Err(CommandError::failure(format!(
                "the recover journal {} has schema {:?}, this mwictl reads {JOURNAL_SCHEMA:?}",
                path.display(),
                record.schema
            ))
            .hint("finish it with the mwictl that wrote it, or move it away"));
        }
        if record.steps.len() != record.plan.steps.len() {
            return Err(CommandError::failure(format!(
                "the recover journal {} does not match its plan",
                path.display()
            ))
            .hint("move it away and start the recovery again"));
        }
        Ok(Journal {
            path: path.to_path_buf(),
            record,
        })
    }

    /// The unfinished run `run_id` in `dir` (`recover --resume --run RUN_ID`).
    pub fn find_open_run(dir: &Path, run_id: &str) -> Result<Journal, CommandError> {
        let named = || {
            CommandError::usage(format!(
                "--run {run_id:?} names no recover run in {}",
                dir.display()
            ))
            .hint("give a run id as a report or a journal file name shows it, or leave out --run to continue the newest run")
        };
        if run_id.is_empty()
            || !run_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(named());
        }
        let path = dir.join(format!("{run_id}.json"));
        if !path.is_file() {
            return Err(named());
        }
        let journal = Journal::load(&path)?;
        if !journal.record.is_open() {
            return Err(CommandError::new(
                crate::exit::ExitStatus::NotFound,
                format!(
                    "recover run {run_id} is {}: nothing to continue",
                    serde_json::to_value(journal.record.state)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                ),
            )
            .hint("see what it did in its journal: ".to_string() + &path.display().to_string()));
        }
        Ok(journal)
    }

    /// The newest run in `dir` that is not finished, of `operation` and `bot` when given. Files
    /// that do not read as journals are skipped.
    pub fn find_unfinished(
        dir: &Path,
        operation: Option<Operation>,
        bot: Option<&str>,
    ) -> Result<Option<Journal>, CommandError> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("list", dir, e)),
        };
        let mut newest: Option<((i64, i32), Journal)> = None;
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let journal = match Journal::load(&path) {
                Ok(j) => j,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "skipping a journal");
                    continue;
                }
            };
            let r = &journal.record;
            if !r.is_open()
                || operation.is_some_and(|o| o != r.operation)
                || bot.is_some_and(|b| b != r.bot)
            {
                continue;
            }
            let started = crate::resource::parse_timestamp(&r.started_at)
                .map(|t| (t.seconds, t.nanos))
                .unwrap_or_default();
            if newest.as_ref().is_none_or(|(t, _)| started > *t) {
                newest = Some((started, journal));
            }
        }
        Ok(newest.map(|(_, j)| j))
    }

    /// The token the newest earlier run for `bot` created, if any: a new run reuses it while
    /// the server still holds it unused and unexpired, instead of issuing a second one.
    pub fn last_token(dir: &Path, bot: &str) -> Option<TokenRecord> {
        let entries = fs::read_dir(dir).ok()?;
        entries
            .filter_map(Result::ok)
            .filter_map(|e| Journal::load(&e.path()).ok())
            .filter(|j| j.record.bot == bot)
            .filter_map(|j| {
                let started = crate::resource::parse_timestamp(&j.record.started_at).ok()?;
                let token = j.record.token.filter(|t| t.created)?;
                Some(((started.seconds, started.nanos), token))
            })
            .max_by_key(|(started, _)| *started)
            .map(|(_, token)| token)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The index of the first step not done.
    pub fn first_unfinished(&self) -> Option<usize> {
        self.record
            .steps
            .iter()
            .position(|s| s.state != StepState::Done)
    }

    pub fn mark_started(&mut self, index: usize) -> Result<(), CommandError> {
        let step = &mut self.record.steps[index];
        step.state = StepState::Started;
        step.started_at = Some(now_text());
        step.error = None;
        self.record.state = RunState::Running;
        self.save()
    }

    pub fn mark_done(&mut self, index: usize, output: StepOutput) -> Result<(), CommandError> {
        let step = &mut self.record.steps[index];
        step.state = StepState::Done;
        step.finished_at = Some(now_text());
        step.output = Some(output);
        step.error = None;
        if self.first_unfinished().is_none() {
            self.record.state = RunState::Finished;
        }
        self.save()
    }

    /// Keeps a wait's output and leaves the step (and the run) unfinished.
    pub fn mark_waiting(&mut self, index: usize, output: StepOutput) -> Result<(), CommandError> {
        let step = &mut self.record.steps[index];
        step.state = StepState::Waiting;
        step.finished_at = Some(now_text());
        step.output = Some(output);
        step.error = None;
        self.record.state = RunState::Running;
        self.save()
    }

    /// Every journal in `dir` that reads as one (others are skipped).
    pub fn all(dir: &Path) -> Vec<Journal> {
        let Ok(entries) = fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter_map(|p| Journal::load(&p).ok())
            .collect()
    }

    pub fn mark_failed(&mut self, index: usize, error: &str) -> Result<(), CommandError> {
        let step = &mut self.record.steps[index];
        step.state = StepState::Failed;
        step.finished_at = Some(now_text());
        step.error = Some(error.to_string());
        self.record.state = RunState::Failed;
        self.save()
    }

    /// Points the run's unwritten tbot.yaml step at `input`'s `--tbot-config` when that is the
    /// only option that differs (a rerun after the file was refused may name another file).
    /// True when it changed the journal.
    pub fn retarget_tbot_config(&mut self, input: &FlowInput) -> Result<bool, CommandError> {
        let Some(new) = &input.tbot_config else {
            return Ok(false);
        };
        let same_otherwise = FlowInput {
            tbot_config: self.record.input.tbot_config.clone(),
            ..input.clone()
        } == self.record.input;
        if !same_otherwise || self.record.input.tbot_config.as_ref() == Some(new) {
            return Ok(false);
        }
        let Some(index) = self
            .record
            .plan
            .steps
            .iter()
            .position(|s| matches!(s, crate::recover::step::Step::UpdateTbotConfig { .. }))
        else {
            return Ok(false);
        };
        if self.record.steps[index].state == StepState::Done {
            return Ok(false);
        }
        self.record.plan.steps[index] =
            crate::recover::step::Step::UpdateTbotConfig { path: new.clone() };
        self.record.input.tbot_config = Some(new.clone());
        self.save()?;
        Ok(true)
    }

    /// Marks the run as replaced by a new one.
    pub fn abandon(&mut self) -> Result<(), CommandError> {
        self.record.state = RunState::Abandoned;
        self.save()
    }

    /// Writes the journal atomically with mode 0600 (see `durable`).
    pub fn save(&mut self) -> Result<(), CommandError> {
        self.record.updated_at = now_text();
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io_error("create the directory of", &self.path, e))?;
        let mut text = serde_json::to_vec_pretty(&self.record).map_err(|e| {
            CommandError::failure(format!("cannot encode the recover journal: {e}"))
        })?;
        text.push(b'\n');
        durable::replace(&self.path, &text, &durable::Options::mode(0o600))
            .map(|_| ())
            .map_err(|e| io_error("write", &self.path, e.into_io()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recover::plan::Flow;
    use crate::recover::step::Step;
    use std::os::unix::fs::PermissionsExt;

    fn plan(bot: &str) -> Plan {
        Plan {
            operation: Flow::Expired.into(),
            bot: bot.into(),
            steps: vec![
                Step::IssueToken {
                    bot: bot.into(),
                    ttl_seconds: 60,
                },
                Step::RunRestart {
                    command: "true".into(),
                },
            ],
            after: vec![],
        }
    }

    #[test]
    fn a_switched_mode_is_journaled_with_its_restore_commands_and_a_wait_keeps_the_run_open() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("state/recover");
        let mut j = Journal::create(&dir, root.path(), plan("a"), FlowInput::default()).unwrap();
        assert!(j.record.restore_commands().is_empty());
        j.record.modes.push(ModeRecord {
            token: "bot-a-0a6f812a".into(),
            previous: String::new(),
            mode: "insecure".into(),
            switched_at: "2026-01-01T00:00:00Z".into(),
            restored: false,
        });
        j.mark_waiting(
            0,
            StepOutput::RecoveryAwaited {
                state: crate::recover::step::VerifyState::Pending,
                tokens: vec![],
            },
        )
        .unwrap();
        let back = Journal::load(j.path()).unwrap();
        assert_eq!(back.record.state, RunState::Running);
        assert_eq!(back.record.steps[0].state, StepState::Waiting);
        assert_eq!(back.first_unfinished(), Some(0));
        assert_eq!(
            back.record.restore_commands(),
            vec![
                format!(
                    "mwictl recover --resume --run {} --wait 5m (waits for the recovery, then restores)",
                    back.record.run_id
                ),
                "mwictl tokens mode bot-a-0a6f812a standard (restores at once)".to_string(),
            ]
        );
        let found = Journal::find_open_run(&dir, &back.record.run_id).unwrap();
        assert_eq!(found.path(), back.path());
        for bad in ["", "../x", "nosuch"] {
            let e = Journal::find_open_run(&dir, bad).unwrap_err();
            assert!(
                e.message.contains("names no recover run"),
                "{bad:?}: {}",
                e.message
            );
        }
        let flagged = crate::recover::insecure::switched(root.path().join("state").as_path());
        assert_eq!(flagged["bot-a-0a6f812a"].previous, "standard");
        let marked = crate::recover::insecure::mark_restored(
            root.path().join("state").as_path(),
            "bot-a-0a6f812a",
            "standard",
        )
        .unwrap();
        assert_eq!(marked, vec![back.record.run_id.clone()]);
        let after = Journal::load(j.path()).unwrap();
        assert!(after.record.restore_commands().is_empty());
        assert!(after.record.modes[0].restored);
    }

    #[test]
    fn journal_is_private_and_reloads_with_its_progress() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("state/recover");
        let mut j = Journal::create(&dir, root.path(), plan("a"), FlowInput::default()).unwrap();
        let mode = fs::metadata(j.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        j.record.token = Some(TokenRecord {
            name: "secret".into(),
            expires: "x".into(),
            created: false,
        });
        j.mark_started(0).unwrap();
        j.mark_done(0, StepOutput::Shown).unwrap();
        let back = Journal::load(j.path()).unwrap();
        assert_eq!(back.record, j.record);
        assert_eq!(back.first_unfinished(), Some(1));
        assert!(back.record.backup_dir.starts_with(root.path()));
    }

    #[test]
    fn the_newest_open_run_of_the_same_bot_and_flow_is_found() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("recover");
        let mut done = Journal::create(&dir, root.path(), plan("a"), FlowInput::default()).unwrap();
        for i in 0..2 {
            done.mark_started(i).unwrap();
            done.mark_done(i, StepOutput::Shown).unwrap();
        }
        assert_eq!(done.record.state, RunState::Finished);
        let open = Journal::create(&dir, root.path(), plan("a"), FlowInput::default()).unwrap();
        Journal::create(&dir, root.path(), plan("b"), FlowInput::default()).unwrap();
        fs::write(dir.join("garbage.json"), "{").unwrap();
        let found = Journal::find_unfinished(&dir, Some(Flow::Expired.into()), Some("a"))
            .unwrap()
            .unwrap();
        assert_eq!(found.record.run_id, open.record.run_id);
        assert!(
            Journal::find_unfinished(&dir, Some(Flow::SshLogin.into()), Some("a"))
                .unwrap()
                .is_none()
        );
        assert!(
            Journal::find_unfinished(&root.path().join("none"), None, None)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_failed_step_leaves_the_run_open() {
        let root = tempfile::tempdir().unwrap();
        let mut j =
            Journal::create(root.path(), root.path(), plan("a"), FlowInput::default()).unwrap();
        j.mark_started(0).unwrap();
        j.mark_failed(0, "boom").unwrap();
        assert_eq!(j.record.state, RunState::Failed);
        assert_eq!(j.first_unfinished(), Some(0));
        let found = Journal::find_unfinished(root.path(), None, None).unwrap();
        assert!(found.is_some());
    }
}
