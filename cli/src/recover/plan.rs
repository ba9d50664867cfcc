//! A plan: what it is for (a recovery flow, `bots recreate`, `unlock --bot`), the numbered steps
//! with their exact changes, and what the user must still do; printable as text or JSON (`--plan`).

use std::collections::HashMap;

use mwi_proto::types::LockV2;
use serde::{Deserialize, Serialize};

use crate::client::Fetched;
use crate::ops::bots::{BotChanges, BotSnapshot};
use crate::ops::roles::RoleChange;
use crate::output::Output;
use crate::recover::flows::bound_keypair::EVERY_BOT;
use crate::recover::step::Step;

pub use mwi_diag::incident::Flow;

/// The journals' directory of every recovery flow, under the state directory.
pub const RECOVER_JOURNALS: &str = "recover";

/// What a plan does: a recovery flow, or a command whose change takes several steps. It names
/// the journal's directory, the backups' place and the command that continues a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Operation {
    Recover(Flow),
    /// `mwictl bots recreate NAME`.
    BotsRecreate,
    /// `mwictl unlock --bot NAME`.
    Unlock,
}

impl Operation {
    /// As journals and JSON name it: the flow's name, `bots-recreate` or `unlock`.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Recover(flow) => flow.name(),
            Operation::BotsRecreate => "bots-recreate",
            Operation::Unlock => "unlock",
        }
    }

    /// The incident it answers, for a recovery flow.
    pub fn incident(self) -> Option<&'static str> {
        match self {
            Operation::Recover(flow) => Some(flow.incident().id()),
            _ => None,
        }
    }

    /// What it is for, in a few words.
    pub fn title(self) -> &'static str {
        match self {
            Operation::Recover(flow) => flow.title(),
            Operation::BotsRecreate => "start the bot over with its roles, traits and TTL",
            Operation::Unlock => "remove the locks that block the bot",
        }
    }

    /// The command that starts (and, run again, continues) a run for `bot`.
    pub fn command(self, bot: &str) -> String {
        match self {
            Operation::Recover(Flow::BkRollback) if bot == EVERY_BOT => {
                "mwictl recover bk-rollback".to_string()
            }
            Operation::Recover(Flow::BkRollback) => {
                format!("mwictl recover bk-rollback --bots {bot}")
            }
            Operation::Recover(flow) => format!("mwictl recover {} --bot {bot}", flow.name()),
            Operation::BotsRecreate => format!("mwictl bots recreate {bot}"),
            Operation::Unlock => format!("mwictl unlock --bot {bot}"),
        }
    }

    /// The command that continues the newest unfinished run.
    pub fn resume_command(self) -> &'static str {
        match self {
            Operation::Recover(_) => "mwictl recover --resume",
            Operation::BotsRecreate => "mwictl bots recreate --resume",
            Operation::Unlock => "mwictl unlock --resume",
        }
    }

    /// The journals' directory under the state directory: recover flows share one, so
    /// `recover --resume` finds them all and none of the other commands' runs.
    pub fn journal_dir_name(self) -> &'static str {
        match self {
            Operation::Recover(_) => RECOVER_JOURNALS,
            Operation::BotsRecreate => "bots-recreate",
            Operation::Unlock => "unlock",
        }
    }

    /// Where run `run_id` writes its backups: a recovery run gets its own directory; the commands
    /// write into the backups directory itself, as they always did, each file named by the bot.
    pub fn backup_dir(self, backups_root: &std::path::Path, run_id: &str) -> std::path::PathBuf {
        match self {
            Operation::Recover(_) => backups_root.join(format!("recover-{run_id}")),
            _ => backups_root.to_path_buf(),
        }
    }

    /// The name of the lock backup file, before its timestamp.
    pub fn locks_backup_stem(self, bot: &str) -> String {
        match self {
            Operation::Recover(_) => "locks".into(),
            Operation::BotsRecreate => format!("bots-recreate-{bot}"),
            Operation::Unlock => format!("unlock-bot-{bot}"),
        }
    }
}

impl From<Flow> for Operation {
    fn from(flow: Flow) -> Operation {
        Operation::Recover(flow)
    }
}

impl From<Operation> for String {
    fn from(operation: Operation) -> String {
        operation.name().to_string()
    }
}

impl TryFrom<String> for Operation {
    type Error = String;

    fn try_from(name: String) -> Result<Operation, String> {
        match name.as_str() {
            "bots-recreate" => Ok(Operation::BotsRecreate),
            "unlock" => Ok(Operation::Unlock),
            _ => Flow::ALL
                .into_iter()
                .find(|flow| flow.name() == name)
                .map(Operation::Recover)
                .ok_or_else(|| format!("unknown operation {name:?}")),
        }
    }
}

/// Everything that decides a plan's steps, kept in the journal so a rerun can tell whether it
/// continues the same run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowInput {
    pub tbot_config: Option<std::path::PathBuf>,
    pub restart_cmd: Option<String>,
    pub token_ttl_seconds: u64,
    pub login: Option<String>,
    pub role: Option<String>,
    pub use_trait: bool,
    pub db: Option<String>,
    pub db_user: Option<String>,
    pub db_name: Option<String>,
    pub db_labels: Vec<(String, String)>,
    pub recreate_with: Option<String>,
    /// `bots recreate`: the changes to its roles, logins and TTL.
    #[serde(default)]
    pub changes: BotChanges,
    /// `unlock --bot --scan-all`.
    #[serde(default)]
    pub scan_all: bool,
    /// Bound-keypair flows: tbot's storage directory (`--storage`).
    #[serde(default)]
    pub storage: Option<std::path::PathBuf>,
    /// Bound-keypair flows: the public key given with `--public-key` (authorized_keys form).
    #[serde(default)]
    pub public_key: Option<String>,
    /// Bound-keypair flows: the bot's token named with `--token`.
    #[serde(default)]
    pub token: Option<String>,
    /// bk-exhausted: recoveries above recovery_count the new limit allows (`--spare`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub spare: u32,
    /// bk-exhausted: set mode relaxed instead of raising the limit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub relaxed: bool,
    /// bk-rollback: only these bots (`--bots`); all bound-keypair bots when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bots: Vec<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Who a plan is for, as its headline names it.
pub fn subject(operation: Operation, bot: &str) -> String {
    match (operation, bot) {
        (Operation::Recover(Flow::BkRollback), EVERY_BOT) => "every bound-keypair bot".into(),
        (Operation::Recover(Flow::BkRollback), bots) => format!("bots {bots}"),
        (_, bot) => format!("bot {bot:?}"),
    }
}

/// A plan of steps for one bot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Named `flow` in journals written before plans ran commands too.
    #[serde(alias = "flow")]
    pub operation: Operation,
    pub bot: String,
    pub steps: Vec<Step>,
    /// What the user must still do on the bot's host (restart tbot, ...).
    pub after: Vec<String>,
}

/// Resources read while planning, so executing the plan right away does not read them again. A
/// resumed run has none and reads what it needs.
#[derive(Debug, Default)]
pub struct Prefetched {
    pub locks: HashMap<String, Fetched<LockV2>>,
    pub role_change: Option<RoleChange>,
    /// The bot as read when planning: a snapshot step saves this one, which the user saw.
    pub snapshot: Option<BotSnapshot>,
}

/// A plan and what was read to make it.
#[derive(Debug)]
pub struct Planned {
    pub plan: Plan,
    pub prefetched: Prefetched,
}

impl Plan {
    /// True when no step changes anything (there is nothing to confirm).
    pub fn is_read_only(&self) -> bool {
        !self.steps.iter().any(Step::changes_anything)
    }

    /// The numbered steps, as shown before confirming.
    pub fn render_steps(&self) -> String {
        let mut out = String::new();
        for (i, step) in self.steps.iter().enumerate() {
            out.push_str(&format!("{:>2}. {}\n", i + 1, step.title()));
            for line in step.details() {
                out.push_str(&format!("      {line}\n"));
            }
        }
        out
    }
}

impl Output for Plan {
    fn text(&self) -> String {
        let not_shown = self.steps.iter().find_map(|s| match s {
            Step::ShowEvidence { evidence } if evidence.not_shown => Some(&evidence.headline),
            _ => None,
        });
        let mut out = match (self.operation.incident(), not_shown) {
            (Some(incident), Some(found)) => {
                let who = subject(self.operation, &self.bot);
                let mut chars = who.chars();
                let who: String = chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect())
                    .unwrap_or_default();
                format!(
                    "{who} does not show incident {incident} ({}): {found}",
                    self.operation.title()
                )
            }
            (Some(incident), None) => format!(
                "Incident {incident} on {}: {}",
                subject(self.operation, &self.bot),
                self.operation.title()
            ),
            (None, _) => format!("Bot {:?}: {}", self.bot, self.operation.title()),
        };
        out.push_str(&format!("\n\nPlan ({} steps):\n", self.steps.len()));
        out.push_str(&self.render_steps());
        if !self.after.is_empty() {
            out.push_str("\nAfterwards, on the bot's host:\n");
            for line in &self.after {
                out.push_str(&format!("  - {line}\n"));
            }
        }
        out
    }

    fn json(&self) -> serde_json::Value {
        let steps: Vec<serde_json::Value> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let mut value = serde_json::to_value(step).unwrap_or_default();
                if let Some(map) = value.as_object_mut() {
                    map.insert("index".into(), (i + 1).into());
                    map.insert("title".into(), step.title().into());
                    map.insert("details".into(), step.details().into());
                }
                value
            })
            .collect();
        serde_json::json!({
            "schema": "mwictl.recover.plan/v1",
            "flow": self.operation.name(),
            "incident": self.operation.incident(),
            "title": self.operation.title(),
            "bot": self.bot,
            "steps": steps,
            "after": self.after,
        })
    }
}

/// A plan as a command shows it before confirming (`bots recreate`, `unlock`: their own text),
/// printed by `--plan`; JSON is the plan's.
pub struct PlanView<'a> {
    pub text: String,
    pub plan: &'a Plan,
}

impl Output for PlanView<'_> {
    fn text(&self) -> String {
        let mut text = self.text.clone();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text
    }

    fn json(&self) -> serde_json::Value {
        self.plan.json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recover::step::{Evidence, Expect};

    fn plan() -> Plan {
        Plan {
            operation: Flow::Expired.into(),
            bot: "example".into(),
            steps: vec![
                Step::ShowEvidence {
                    evidence: Evidence {
                        headline: "no live instance".into(),
                        ..Default::default()
                    },
                },
                Step::IssueToken {
                    bot: "example".into(),
                    ttl_seconds: 3600,
                },
                Step::Verify {
                    bot: "example".into(),
                    expect: Expect::NewInstance { known: vec![] },
                },
            ],
            after: vec!["restart tbot".into()],
        }
    }

    #[test]
    fn text_numbers_the_steps_and_names_the_incident() {
        let text = plan().text();
        assert!(text.starts_with("Incident S2 on bot \"example\""), "{text}");
        assert!(
            text.contains(" 2. Issue a one-time join token for bot \"example\""),
            "{text}"
        );
        assert!(text.contains("  - restart tbot\n"), "{text}");
    }

    #[test]
    fn json_has_indexed_steps_with_kinds() {
        let json = plan().json();
        assert_eq!(json["incident"], "S2");
        assert_eq!(json["steps"][1]["index"], 2);
        assert_eq!(json["steps"][1]["kind"], "issue_token");
        assert_eq!(json["steps"][2]["expect"]["expect"], "new_instance");
    }

    #[test]
    fn operations_are_named_by_a_string_that_journals_of_flows_already_hold() {
        for op in [
            Operation::Recover(Flow::DbAccess),
            Operation::BotsRecreate,
            Operation::Unlock,
        ] {
            let json = serde_json::to_value(op).unwrap();
            assert_eq!(json, op.name());
            assert_eq!(serde_json::from_value::<Operation>(json).unwrap(), op);
        }
        let old: Plan = serde_json::from_value(serde_json::json!({
            "flow": "expired", "bot": "b", "steps": [], "after": []
        }))
        .unwrap();
        assert_eq!(old.operation, Operation::Recover(Flow::Expired));
        assert!(serde_json::from_value::<Operation>("nope".into()).is_err());
    }

    #[test]
    fn a_plan_of_evidence_and_checks_changes_nothing() {
        let mut p = plan();
        assert!(!p.is_read_only());
        p.steps.remove(1);
        assert!(p.is_read_only());
    }
}
