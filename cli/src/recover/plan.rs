//! A recovery plan: the incident it answers, the numbered steps with their exact changes, and
//! what the user must still do on the bot's host; printable as text or JSON (`--plan`).

use std::collections::HashMap;

use mwi_proto::types::LockV2;
use serde::{Deserialize, Serialize};

use crate::client::Fetched;
use crate::ops::roles::RoleChange;
use crate::output::Output;
use crate::recover::step::Step;

pub use mwi_diag::incident::Flow;

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
}

/// A plan of steps for one bot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub flow: Flow,
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
        let mut out = format!(
            "Incident {} on bot {:?}: {}\n\nPlan ({} steps):\n",
            self.flow.incident(),
            self.bot,
            self.flow.title(),
            self.steps.len()
        );
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
            "flow": self.flow.name(),
            "incident": self.flow.incident().id(),
            "title": self.flow.title(),
            "bot": self.bot,
            "steps": steps,
            "after": self.after,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recover::step::{Evidence, Expect};

    fn plan() -> Plan {
        Plan {
            flow: Flow::Expired,
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
    fn a_plan_of_evidence_and_checks_changes_nothing() {
        let mut p = plan();
        assert!(!p.is_read_only());
        p.steps.remove(1);
        assert!(p.is_read_only());
    }
}
