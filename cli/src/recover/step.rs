//! The typed steps a plan is made of, what each says about itself (text and JSON), and what each
//! produced when it ran. Steps are data: the journal stores them and a resume replays them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::ops::bots::BotChanges;

/// One step of a plan. Executing it is the engine's job; a step only says what it will change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// What was found, shown before anything changes.
    ShowEvidence { evidence: Evidence },
    /// Delete these locks, each backed up first.
    RemoveLocks { locks: Vec<LockSummary> },
    /// Create a one-time join token for the bot (a new bot instance joins with it).
    IssueToken { bot: String, ttl_seconds: u64 },
    /// Write the token into this tbot.yaml's `onboarding.token` (or the file it names).
    UpdateTbotConfig { path: PathBuf },
    /// Run this shell command (e.g. restart tbot) after the update.
    RunRestart { command: String },
    /// Edit one role the bot impersonates; `diff` is the preview shown when planning.
    UpdateRole {
        role: String,
        edit: RoleEdit,
        diff: String,
    },
    /// Add logins to the bot's `logins` trait.
    UpdateBotTraits {
        bot: String,
        add_logins: Vec<String>,
    },
    /// Save the bot and its role: their bytes go into the journal (fields this mwictl does not
    /// know included), and a restorable copy into the backups.
    SnapshotBot { bot: String },
    /// Delete the bot (its user and role); a bot already gone counts as deleted. Runs only after
    /// a snapshot was journaled.
    DeleteBot { bot: String },
    /// Delete every lock that blocks the bot when the step runs, each backed up first; `known`
    /// are those found when planning.
    RemoveBotLocks {
        bot: String,
        known: Vec<LockSummary>,
    },
    /// Create the bot from the journaled snapshot with `changes` applied; a bot that already
    /// exists with that content counts as created.
    CreateBot { bot: String, changes: BotChanges },
    /// Delete every lock in force on these join tokens, each backed up first.
    RemoveJoinTokenLocks { tokens: Vec<String> },
    /// Set a bound-keypair token's recovery mode; the previous mode is journaled before the
    /// write, so a crash anywhere leaves the record `recover --resume` restores it from.
    SwitchTokenMode { token: String, mode: String },
    /// Raise a bound-keypair token's recovery.limit to at least recovery_count + `spare` (the
    /// old limit journaled first); a token not in mode standard is left alone.
    EnsureRecoveryHeadroom { token: String, spare: u32 },
    /// Wait until each token's recovery_count rose above the count seen when planning (the bot
    /// recovered and got a fresh join state). Without `--wait` the run stops here, unfinished.
    WaitForRecovery { tokens: Vec<CountBefore> },
    /// Write back the mode the journal recorded for the token, if it is still in the mode the
    /// run set (otherwise someone changed it since, and it is left alone).
    RestoreTokenMode { token: String },
    /// Create a fresh bound-keypair token for the bot under a new name, onboarding with a new
    /// registration secret (made by the server) or with `initial_public_key`; its name and
    /// secret are journaled.
    IssueBoundKeypairToken {
        bot: String,
        initial_public_key: Option<String>,
        recovery_limit: u32,
        recovery_mode: String,
    },
    /// Back up a join token (its status included) into the run's backups, then delete it; a
    /// token already gone counts as deleted.
    DeleteToken { token: String },
    /// Write the fresh bound-keypair token and its secret into this tbot.yaml (its join_uri, or
    /// onboarding.token and the registration secret, or the files they name).
    UpdateTbotBoundKeypair { path: PathBuf },
    /// Move tbot's stale bound-keypair files out of its storage into the run's backups (all of
    /// them, or only the join state when `keep_key`: the storage holds the new key).
    MoveStaleKeypair { storage: PathBuf, keep_key: bool },
    /// Recreate a wiped bound-keypair token under its name with the bot's public key as
    /// initial_public_key, mode insecure and (with a bot instance) its status restored; the
    /// previous mode is journaled as a switch to insecure before any write, so the restore step
    /// and `recover --resume` put it back. The token as it was is backed up first.
    RecreateBoundKeypairToken {
        token: String,
        bot: String,
        public_key: String,
        bound_bot_instance_id: Option<String>,
        recovery_count: u32,
        recovery_limit: u32,
        /// The mode to restore: the token's as it was, else standard.
        previous_mode: String,
    },
    /// Check that the recovery took effect.
    Verify { bot: String, expect: Expect },
}

/// A bound-keypair token and its recovery_count when the plan was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountBefore {
    pub token: String,
    pub bot: String,
    pub count_before: u32,
    /// S10: this bot instance authenticating with the token after the run switched it counts
    /// as well: a bot whose certificates are still valid refreshes as that instance, which
    /// leaves the count as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refreshed_instance: Option<String>,
}

/// A role edit, redone against the role as it is when the step runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "edit", rename_all = "snake_case")]
pub enum RoleEdit {
    AddLogins {
        logins: Vec<String>,
    },
    AddDbAccess {
        labels: Vec<(String, String)>,
        names: Vec<String>,
        users: Vec<String>,
    },
}

/// What verification looks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "expect", rename_all = "snake_case")]
pub enum Expect {
    /// A bot instance that was not there before (`known` were), authenticated after the run
    /// started: tbot joined with the new token.
    NewInstance { known: Vec<String> },
    /// The bot's roles now allow SSH as `login`; waiting looks for a renewal after the change.
    SshLogin { login: String },
    /// The bot's roles now allow the database; waiting looks for a renewal after the change.
    Database {
        db: String,
        name: Option<String>,
        user: Option<String>,
    },
    /// No lock in force blocks the bot (its user, instances or join tokens).
    Unlocked,
}

/// The evidence of an incident, as shown to the user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// One line naming what was found.
    pub headline: String,
    /// Said loudly before anything changes (e.g. a mismatch can mean a stolen certificate).
    pub warnings: Vec<String>,
    pub locks: Vec<LockSummary>,
    pub instances: Vec<InstanceSummary>,
    /// Further facts, one line each (roles and their logins, the access check, log findings).
    pub facts: Vec<String>,
    /// True when what was found does not show the incident the flow recovers from (the plan's
    /// headline then says what was found, not the incident).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_shown: bool,
}

/// A lock as the plan shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockSummary {
    pub name: String,
    /// `user:"bot-example"`, as tctl prints targets.
    pub target: String,
    pub message: String,
    pub created_at: Option<String>,
    pub expires: Option<String>,
    /// Why it blocks the bot.
    pub reason: String,
}

/// A bot instance as the plan shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceSummary {
    pub id: String,
    pub hostname: String,
    pub generation: Option<i32>,
    pub joined: Option<String>,
    pub last_seen: Option<String>,
    /// When the instance's identity (certificate) expires.
    pub expires: Option<String>,
    pub locked: bool,
}

impl Step {
    /// The steps that start a bot over, each redoable on its own: save it (into the journal),
    /// delete it, remove the locks that block it (`known` were found when planning), create it
    /// again from the snapshot with `changes`, and issue a join token valid `ttl_seconds`.
    pub fn recreate_bot(
        bot: &str,
        changes: BotChanges,
        known: Vec<LockSummary>,
        ttl_seconds: u64,
    ) -> Vec<Step> {
        let bot = bot.to_string();
        vec![
            Step::SnapshotBot { bot: bot.clone() },
            Step::DeleteBot { bot: bot.clone() },
            Step::RemoveBotLocks {
                bot: bot.clone(),
                known,
            },
            Step::CreateBot {
                bot: bot.clone(),
                changes,
            },
            Step::IssueToken { bot, ttl_seconds },
        ]
    }

    /// The step's kind as JSON names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::ShowEvidence { .. } => "show_evidence",
            Step::RemoveLocks { .. } => "remove_locks",
            Step::IssueToken { .. } => "issue_token",
            Step::UpdateTbotConfig { .. } => "update_tbot_config",
            Step::RunRestart { .. } => "run_restart",
            Step::UpdateRole { .. } => "update_role",
            Step::UpdateBotTraits { .. } => "update_bot_traits",
            Step::SnapshotBot { .. } => "snapshot_bot",
            Step::DeleteBot { .. } => "delete_bot",
            Step::RemoveBotLocks { .. } => "remove_bot_locks",
            Step::CreateBot { .. } => "create_bot",
            Step::RemoveJoinTokenLocks { .. } => "remove_join_token_locks",
            Step::SwitchTokenMode { .. } => "switch_token_mode",
            Step::EnsureRecoveryHeadroom { .. } => "ensure_recovery_headroom",
            Step::WaitForRecovery { .. } => "wait_for_recovery",
            Step::RestoreTokenMode { .. } => "restore_token_mode",
            Step::IssueBoundKeypairToken { .. } => "issue_bound_keypair_token",
            Step::DeleteToken { .. } => "delete_token",
            Step::UpdateTbotBoundKeypair { .. } => "update_tbot_bound_keypair",
            Step::MoveStaleKeypair { .. } => "move_stale_keypair",
            Step::RecreateBoundKeypairToken { .. } => "recreate_bound_keypair_token",
            Step::Verify { .. } => "verify",
        }
    }

    /// True when the step changes something (on the server or on disk).
    pub fn changes_anything(&self) -> bool {
        !matches!(
            self,
            Step::ShowEvidence { .. } | Step::Verify { .. } | Step::WaitForRecovery { .. }
        )
    }

    /// One line saying what the step does.
    pub fn title(&self) -> String {
        match self {
            Step::ShowEvidence { evidence } => format!("Evidence: {}", evidence.headline),
            Step::RemoveLocks { locks } => match locks.len() {
                1 => format!("Remove lock {} (backed up first)", locks[0].name),
                n => format!("Remove {n} locks (each backed up first)"),
            },
            Step::IssueToken { bot, ttl_seconds } => format!(
                "Issue a one-time join token for bot {bot:?} (a new bot instance), valid {}",
                crate::resource::format_go_duration(std::time::Duration::from_secs(*ttl_seconds))
            ),
            Step::UpdateTbotConfig { path } => format!(
                "Write the token into onboarding.token of {} (only the token's bytes change; backup beside it)",
                path.display()
            ),
            Step::RunRestart { command } => format!("Run `{command}`"),
            Step::UpdateRole { role, edit, .. } => match edit {
                RoleEdit::AddLogins { logins } => {
                    format!("Add login {} to role {role:?}", logins.join(", "))
                }
                RoleEdit::AddDbAccess { .. } => {
                    format!("Add database access to role {role:?}")
                }
            },
            Step::UpdateBotTraits { bot, add_logins } => format!(
                "Add {} to the logins trait of bot {bot:?}",
                add_logins.join(", ")
            ),
            Step::SnapshotBot { bot } => {
                format!("Save bot {bot:?} and its role (into the journal and a backup)")
            }
            Step::DeleteBot { bot } => format!("Delete bot {bot:?} (its user and role)"),
            Step::RemoveBotLocks { bot, .. } => {
                format!("Remove the locks that block bot {bot:?} (each backed up first)")
            }
            Step::CreateBot { bot, changes } => {
                let changed = change_text(changes);
                format!(
                    "Create bot {bot:?} again from the snapshot, keeping its roles, traits, logins and TTL{}",
                    if changed.is_empty() {
                        String::new()
                    } else {
                        format!(", with {changed}")
                    }
                )
            }
            Step::RemoveJoinTokenLocks { tokens } => format!(
                "Remove the locks on {} join token(s) (each backed up first)",
                tokens.len()
            ),
            Step::SwitchTokenMode { token, mode } => format!(
                "Set the recovery mode of token {token} to {mode} (the previous mode journaled first)"
            ),
            Step::EnsureRecoveryHeadroom { token, spare } => format!(
                "Raise recovery.limit of token {token} to at least recovery_count + {spare} (mode standard only)"
            ),
            Step::WaitForRecovery { tokens } => match tokens.as_slice() {
                [one] if one.refreshed_instance.is_some() => format!(
                    "Wait until bot {:?} joins with token {}: its instance refreshes, or recovery_count rises above {}",
                    one.bot, one.token, one.count_before
                ),
                [one] => format!(
                    "Wait until bot {:?} recovers: recovery_count of token {} rises above {}",
                    one.bot, one.token, one.count_before
                ),
                many => format!(
                    "Wait until {} bots recover: each token's recovery_count rises",
                    many.len()
                ),
            },
            Step::RestoreTokenMode { token } => {
                format!("Restore the journaled recovery mode of token {token}")
            }
            Step::IssueBoundKeypairToken {
                bot,
                initial_public_key,
                ..
            } => format!(
                "Create a fresh bound-keypair token for bot {bot:?}, onboarding with {}",
                match initial_public_key {
                    Some(key) => format!("the preregistered key {}", key_text(key)),
                    None => "a new registration secret".to_string(),
                }
            ),
            Step::DeleteToken { token } => {
                format!("Delete token {token:?} (backed up first, with its status)")
            }
            Step::UpdateTbotBoundKeypair { path } => format!(
                "Write the fresh token and its secret into {} (only their bytes change; backup beside it)",
                path.display()
            ),
            Step::MoveStaleKeypair { storage, keep_key } => format!(
                "Move {} out of tbot's storage {} into the run's backups",
                if *keep_key {
                    "the stale join state (bkp_state)"
                } else {
                    "the stale id_bkp, id_bkp.pub, bkp_state and bkp_key_history.json"
                },
                storage.display()
            ),
            Step::RecreateBoundKeypairToken {
                token, public_key, ..
            } => format!(
                "Recreate token {token:?} bound to the bot's key {} in mode insecure for one join (the old mode journaled first; the token as it was backed up)",
                key_text(public_key)
            ),
            Step::Verify { expect, .. } => match expect {
                Expect::Unlocked => "Verify: no lock blocks the bot".to_string(),
                Expect::NewInstance { .. } => {
                    "Verify: a new bot instance joins (generation 1 or more)".to_string()
                }
                Expect::SshLogin { login } => {
                    format!("Verify: the bot's roles allow SSH login {login:?}")
                }
                Expect::Database { db, .. } => {
                    format!("Verify: the bot's roles allow database {db:?}")
                }
            },
        }
    }

    /// The exact changes, one line each, shown under the title.
    pub fn details(&self) -> Vec<String> {
        match self {
            Step::ShowEvidence { evidence } => evidence_lines(evidence),
            Step::RemoveLocks { locks } => locks.iter().map(lock_line).collect(),
            Step::IssueToken { .. } => vec![
                "roles: [Bot], join_method: token; the token name is the secret, kept in the journal (mode 0600)".into(),
            ],
            Step::UpdateTbotConfig { .. } => vec![
                "if onboarding.token is an absolute path, the token goes into that file instead".into(),
            ],
            Step::RunRestart { .. } => Vec::new(),
            Step::UpdateRole { diff, edit, .. } => {
                let mut lines: Vec<String> = diff.lines().map(str::to_string).collect();
                if let RoleEdit::AddDbAccess {
                    labels,
                    names,
                    users,
                } = edit
                    && diff.is_empty()
                {
                    lines.push(format!(
                        "rules db_server, db: read, list; db_labels {labels:?}; db_names {names:?}; db_users {users:?}"
                    ));
                }
                lines
            }
            Step::UpdateBotTraits { .. } => vec![
                "a role whose logins use {{internal.logins}} grants them".into(),
            ],
            Step::SnapshotBot { .. } => vec![
                "`mwictl create -f` restores the bot from the backup".into(),
            ],
            Step::DeleteBot { .. } => vec![
                "its locks and instance records stay, as in Teleport".into(),
            ],
            Step::RemoveBotLocks { known, .. } => {
                let mut lines: Vec<String> = known.iter().map(lock_line).collect();
                lines.push(
                    "and any other lock on its user, role, instances or join tokens in force when the step runs".into(),
                );
                lines
            }
            Step::CreateBot { .. } => vec![
                "fields of the old bot this mwictl does not know are sent back unchanged".into(),
            ],
            Step::RemoveJoinTokenLocks { tokens } => vec![format!(
                "locks targeting join_token {} in force when the step runs",
                tokens.join(", ")
            )],
            Step::SwitchTokenMode { mode, .. } if mode == "insecure" => vec![
                "insecure skips the join-state check: anyone holding the bot's key can recover it until the mode is restored".into(),
            ],
            Step::SwitchTokenMode { .. } => Vec::new(),
            Step::EnsureRecoveryHeadroom { .. } => vec![
                "the old limit is journaled and shown; a limit already high enough is left alone".into(),
            ],
            Step::WaitForRecovery { tokens } if tokens.len() == 1 => Vec::new(),
            Step::WaitForRecovery { tokens } => tokens
                .iter()
                .map(|t| {
                    format!(
                        "bot {:?}: token {} recovery_count {} now",
                        t.bot, t.token, t.count_before
                    )
                })
                .collect(),
            Step::RestoreTokenMode { .. } => vec![
                "only if the token is still in the mode this run set; otherwise it is left as found".into(),
            ],
            Step::IssueBoundKeypairToken {
                recovery_limit,
                recovery_mode,
                ..
            } => vec![format!(
                "roles: [Bot], join_method: bound_keypair, recovery limit {recovery_limit}, mode {recovery_mode}; name and secret kept in the journal (mode 0600)"
            )],
            Step::DeleteToken { .. } => vec![
                "`mwictl create -f` restores it from the backup".into(),
            ],
            Step::UpdateTbotBoundKeypair { .. } => vec![
                "join_uri gets both; else onboarding.token the name and registration_secret (or the file registration_secret_path names) the secret".into(),
            ],
            Step::MoveStaleKeypair { .. } => vec![
                "moved, never deleted: tbot would otherwise keep answering with the lost key's join state".into(),
            ],
            Step::RecreateBoundKeypairToken {
                bot,
                bound_bot_instance_id,
                recovery_count,
                recovery_limit,
                previous_mode,
                ..
            } => {
                let mut lines = vec![format!(
                    "bot {bot}, roles [Bot], the key as initial_public_key, recovery limit {recovery_limit}; mode {previous_mode} is restored after the join"
                )];
                lines.push(match bound_bot_instance_id {
                    Some(id) => format!(
                        "status restored: the key bound, bot instance {id}, recovery_count {recovery_count} (a bot with valid certificates refreshes at once)"
                    ),
                    None => "no status: tbot onboards with the key once its certificates expired".into(),
                });
                lines
            }
            Step::Verify { expect, .. } => match expect {
                Expect::NewInstance { known } if !known.is_empty() => vec![format!(
                    "instances known before: {}",
                    known.join(", ")
                )],
                _ => Vec::new(),
            },
        }
    }
}

fn evidence_lines(evidence: &Evidence) -> Vec<String> {
    let mut lines = Vec::new();
    for warning in &evidence.warnings {
        lines.push(format!("WARNING: {warning}"));
    }
    for lock in &evidence.locks {
        lines.push(format!("lock {}", lock_line(lock)));
    }
    for i in &evidence.instances {
        lines.push(format!(
            "instance {} host {} generation {} joined {} last seen {}{}{}",
            i.id,
            or_na(&i.hostname),
            i.generation.map_or("n/a".to_string(), |g| g.to_string()),
            i.joined.as_deref().unwrap_or("n/a"),
            i.last_seen.as_deref().unwrap_or("n/a"),
            i.expires
                .as_deref()
                .map(|e| format!(" expires {e}"))
                .unwrap_or_default(),
            if i.locked { " LOCKED" } else { "" },
        ));
    }
    lines.extend(evidence.facts.iter().cloned());
    lines
}

fn lock_line(lock: &LockSummary) -> String {
    let mut line = format!("{} target {}", lock.name, lock.target);
    if let Some(created) = &lock.created_at {
        line.push_str(&format!(" created {created}"));
    }
    line.push_str(&format!(
        " expires {}",
        lock.expires.as_deref().unwrap_or("never")
    ));
    line.push_str(&format!(" ({})", lock.reason));
    if !lock.message.is_empty() {
        line.push_str(&format!(": {:?}", lock.message));
    }
    line
}

/// `role db added; logins root, ubuntu` from the changes asked for.
fn change_text(changes: &BotChanges) -> String {
    let list = |items: &[String]| items.join(", ");
    let mut parts = Vec::new();
    if let Some(roles) = &changes.set_roles {
        parts.push(format!("roles {}", list(roles)));
    }
    if !changes.add_roles.is_empty() {
        parts.push(format!("role {} added", list(&changes.add_roles)));
    }
    if !changes.remove_roles.is_empty() {
        parts.push(format!("role {} removed", list(&changes.remove_roles)));
    }
    if let Some(logins) = &changes.set_logins {
        parts.push(format!("logins {}", list(logins)));
    }
    if !changes.add_logins.is_empty() {
        parts.push(format!("login {} added", list(&changes.add_logins)));
    }
    if !changes.remove_logins.is_empty() {
        parts.push(format!("login {} removed", list(&changes.remove_logins)));
    }
    if let Some(ttl) = changes.max_session_ttl {
        parts.push(format!(
            "max session TTL {}",
            crate::resource::format_go_duration(ttl)
        ));
    }
    parts.join("; ")
}

/// A public key as plans show it: its fingerprint, or the text when it is not a key.
fn key_text(key: &str) -> String {
    crate::ops::bound_keypair::fingerprint(key).map_or_else(|| key.to_string(), |(f, _)| f)
}

fn or_na(text: &str) -> &str {
    if text.is_empty() { "n/a" } else { text }
}

/// What a step produced when it ran, kept in the journal and reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum StepOutput {
    Shown,
    LocksRemoved {
        removed: Vec<String>,
        /// Locks already gone when the step ran (removed by someone else or an earlier attempt).
        already_gone: Vec<String>,
        backup: Option<PathBuf>,
    },
    TokenIssued {
        name: String,
        expires: String,
        /// True when a token from an interrupted run was still unused and valid, and kept.
        reused: bool,
    },
    ConfigUpdated {
        file: PathBuf,
        backup: Option<PathBuf>,
        changed: bool,
        via_token_file: bool,
    },
    Restarted {
        command: String,
        /// The command's last lines of output.
        log: String,
    },
    RoleUpdated {
        role: String,
        changed: bool,
    },
    TraitsUpdated {
        bot: String,
        logins: Vec<String>,
        changed: bool,
    },
    SnapshotSaved {
        /// The whole snapshot as JSON, the server's bytes included.
        snapshot: PathBuf,
        /// The documents `mwictl create -f` restores the bot from.
        restore: PathBuf,
    },
    BotDeleted {
        bot: String,
        /// True when it was gone already (an interrupted attempt deleted it).
        already_gone: bool,
    },
    BotCreated {
        bot: String,
        user_name: String,
        role_name: String,
        roles: Vec<String>,
        logins: Vec<String>,
        /// Go's duration syntax, when the bot sets one.
        max_session_ttl: Option<String>,
        /// True when it existed already with the snapshot's content (an interrupted attempt
        /// created it).
        existed: bool,
    },
    BoundKeypairTokenIssued {
        name: String,
        /// `registration_secret` or `initial_public_key`.
        onboarding: String,
        /// True when the token an interrupted attempt created was found and kept.
        reused: bool,
    },
    TokenDeleted {
        name: String,
        backup: Option<PathBuf>,
        /// True when it was gone already.
        already_gone: bool,
    },
    BoundKeypairConfigUpdated {
        /// The tbot.yaml first, then the token or secret files it names.
        files: Vec<FileWritten>,
        via_join_uri: bool,
    },
    TokenRecreated(Recreated),
    StaleKeypairMoved {
        storage: PathBuf,
        /// The file names moved.
        moved: Vec<String>,
        to: PathBuf,
    },
    Verified(Verification),
    ModeSwitched {
        token: String,
        /// As the token's spec had it (`""` is standard).
        previous: String,
        mode: String,
        /// False when the token was in that mode already.
        changed: bool,
    },
    HeadroomEnsured {
        token: String,
        mode: String,
        count: u32,
        previous_limit: u32,
        limit: u32,
        changed: bool,
    },
    RecoveryAwaited {
        state: VerifyState,
        tokens: Vec<TokenRecovery>,
    },
    ModeRestored {
        token: String,
        /// The mode written back, or found.
        mode: String,
        restored: bool,
        /// Why it was left alone, when it was.
        detail: String,
    },
}

/// One token's recovery as the wait saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecovery {
    pub token: String,
    pub bot: String,
    pub count_before: u32,
    pub count: u32,
    pub recovered: bool,
}

/// What recreating a wiped token did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recreated {
    pub token: String,
    /// The token as it was, when it still existed.
    pub backup: Option<PathBuf>,
    pub bound_bot_instance_id: Option<String>,
    pub recovery_count: u32,
    /// True when an interrupted attempt had created it already.
    pub existed: bool,
}

/// One file a step wrote, with the backup of what it held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileWritten {
    pub file: PathBuf,
    pub backup: Option<PathBuf>,
    pub changed: bool,
}

/// The outcome of verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub state: VerifyState,
    /// One line saying what was seen.
    pub detail: String,
    /// The new instance (or the one that renewed), when one was seen.
    pub instance: Option<SeenInstance>,
    /// What to check when it is not verified yet.
    pub to_check: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyState {
    /// It worked: the new instance joined, or the access check passes.
    Verified,
    /// Nothing more can be checked until tbot restarts (no `--wait`).
    Pending,
    /// `--wait` ran out.
    TimedOut,
    /// The check says the recovery did not take effect (the access is still denied).
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenInstance {
    pub id: String,
    pub generation: Option<i32>,
    pub authenticated_at: Option<String>,
    pub hostname: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_round_trip_through_json_for_the_journal() {
        let steps = vec![
            Step::RemoveLocks {
                locks: vec![LockSummary {
                    name: "l1".into(),
                    target: "user:\"bot-x\"".into(),
                    message: "m".into(),
                    created_at: None,
                    expires: None,
                    reason: "targets the bot user bot-x".into(),
                }],
            },
            Step::UpdateRole {
                role: "r".into(),
                edit: RoleEdit::AddDbAccess {
                    labels: vec![("env".into(), "dev".into())],
                    names: vec![],
                    users: vec!["alice".into()],
                },
                diff: "+x".into(),
            },
            Step::Verify {
                bot: "x".into(),
                expect: Expect::NewInstance {
                    known: vec!["a".into()],
                },
            },
            Step::CreateBot {
                bot: "x".into(),
                changes: BotChanges {
                    add_roles: vec!["db".into()],
                    max_session_ttl: Some(std::time::Duration::from_secs(60)),
                    ..Default::default()
                },
            },
        ];
        let json = serde_json::to_value(&steps).unwrap();
        assert_eq!(json[0]["kind"], "remove_locks");
        assert_eq!(json[1]["edit"]["edit"], "add_db_access");
        assert_eq!(json[3]["changes"]["add_roles"][0], "db");
        let back: Vec<Step> = serde_json::from_value(json).unwrap();
        assert_eq!(back, steps);
    }

    #[test]
    fn token_mode_steps_round_trip_and_say_what_they_change() {
        let steps = vec![
            Step::SwitchTokenMode {
                token: "bot-b-1".into(),
                mode: "insecure".into(),
            },
            Step::EnsureRecoveryHeadroom {
                token: "bot-b-1".into(),
                spare: 2,
            },
            Step::WaitForRecovery {
                tokens: vec![CountBefore {
                    token: "bot-b-1".into(),
                    bot: "b".into(),
                    count_before: 3,
                    refreshed_instance: None,
                }],
            },
            Step::RestoreTokenMode {
                token: "bot-b-1".into(),
            },
        ];
        let json = serde_json::to_value(&steps).unwrap();
        assert_eq!(json[0]["kind"], "switch_token_mode");
        assert_eq!(json[2]["tokens"][0]["count_before"], 3);
        let back: Vec<Step> = serde_json::from_value(json).unwrap();
        assert_eq!(back, steps);
        let changes: Vec<bool> = steps.iter().map(Step::changes_anything).collect();
        assert_eq!(changes, [true, true, false, true]);
        assert_eq!(
            steps[2].title(),
            "Wait until bot \"b\" recovers: recovery_count of token bot-b-1 rises above 3"
        );
        assert!(steps[0].details()[0].contains("anyone holding the bot's key"));
    }

    #[test]
    fn a_lock_is_described_with_target_creation_and_reason() {
        let step = Step::RemoveLocks {
            locks: vec![LockSummary {
                name: "5cee".into(),
                target: "user:\"bot-example\"".into(),
                message: "locked".into(),
                created_at: Some("2025-01-01T00:00:00Z".into()),
                expires: None,
                reason: "targets the bot user bot-example".into(),
            }],
        };
        assert_eq!(step.title(), "Remove lock 5cee (backed up first)");
        assert_eq!(
            step.details(),
            vec![
                "5cee target user:\"bot-example\" created 2025-01-01T00:00:00Z expires never (targets the bot user bot-example): \"locked\""
            ]
        );
        assert!(step.changes_anything());
    }

    #[test]
    fn creating_the_bot_again_names_the_changes() {
        let step = Step::CreateBot {
            bot: "b".into(),
            changes: BotChanges {
                add_roles: vec!["db".into()],
                set_logins: Some(vec!["root".into(), "ubuntu".into()]),
                ..Default::default()
            },
        };
        assert_eq!(
            step.title(),
            "Create bot \"b\" again from the snapshot, keeping its roles, traits, logins and TTL, with role db added; logins root, ubuntu"
        );
        let plain = Step::CreateBot {
            bot: "b".into(),
            changes: BotChanges::default(),
        };
        assert!(
            plain.title().ends_with("logins and TTL"),
            "{}",
            plain.title()
        );
    }
}
