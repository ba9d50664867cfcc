//! "insecure is never left behind": which bound-keypair tokens an unfinished recover run left in
//! mode `insecure` (read from the journals in the state directory), the flag `bots ls`, `bots
//! show` and `tokens show` print for any token in that mode, and marking a record restored.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::error::CommandError;
use crate::recover::journal::Journal;
use crate::recover::plan::RECOVER_JOURNALS;

/// Why a token is in mode `insecure`, as listings flag it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InsecureFlag {
    /// The unfinished run that switched it, when one did.
    pub run_id: Option<String>,
    /// The command that restores the mode.
    pub restore: String,
    /// One line for people.
    pub message: String,
}

/// A run that switched a token to `insecure` and has not restored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switched {
    pub run_id: String,
    pub previous: String,
}

/// The tokens unfinished runs in `state_dir` left in `insecure`, by token name.
pub fn switched(state_dir: &Path) -> HashMap<String, Switched> {
    let mut out = HashMap::new();
    for journal in Journal::all(&state_dir.join(RECOVER_JOURNALS)) {
        let r = &journal.record;
        if !r.is_open() {
            continue;
        }
        for m in r.open_insecure() {
            out.insert(
                m.token.clone(),
                Switched {
                    run_id: r.run_id.clone(),
                    previous: m.previous_mode().to_string(),
                },
            );
        }
    }
    out
}

/// The flag of `token` in `mode`: `None` unless the mode is insecure.
pub fn flag(token: &str, mode: &str, switched: &HashMap<String, Switched>) -> Option<InsecureFlag> {
    if mode != "insecure" {
        return None;
    }
    Some(match switched.get(token) {
        Some(s) => {
            let restore = format!("mwictl tokens mode {token} {}", s.previous);
            InsecureFlag {
                run_id: Some(s.run_id.clone()),
                message: format!("switched by mwictl run {}, restore: {restore}", s.run_id),
                restore,
            }
        }
        None => {
            let restore = format!("mwictl tokens mode {token} standard");
            InsecureFlag {
                run_id: None,
                message: format!(
                    "not switched by an unfinished mwictl run: with no join-state check anyone holding the bot's key can recover it; once no recovery needs it: {restore}"
                ),
                restore,
            }
        }
    })
}

/// Marks every unrestored `insecure` record of `token` in unfinished runs restored (the mode
/// was set by hand to `mode`); returns the runs changed.
pub fn mark_restored(
    state_dir: &Path,
    token: &str,
    mode: &str,
) -> Result<Vec<String>, CommandError> {
    let mut changed = Vec::new();
    if mode == "insecure" {
        return Ok(changed);
    }
    for mut journal in Journal::all(&state_dir.join(RECOVER_JOURNALS)) {
        if !journal.record.is_open() {
            continue;
        }
        let mut touched = false;
        for m in journal.record.modes.iter_mut() {
            if m.token == token && m.open_insecure() {
                m.restored = true;
                touched = true;
            }
        }
        if touched {
            journal.save()?;
            changed.push(journal.record.run_id.clone());
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switched_token_names_its_run_and_any_other_insecure_one_is_a_warning() {
        let mut runs = HashMap::new();
        runs.insert(
            "t1".to_string(),
            Switched {
                run_id: "20260101T000000Z-abcd1234".into(),
                previous: "relaxed".into(),
            },
        );
        let f = flag("t1", "insecure", &runs).unwrap();
        assert_eq!(
            f.message,
            "switched by mwictl run 20260101T000000Z-abcd1234, restore: mwictl tokens mode t1 relaxed"
        );
        let other = flag("t2", "insecure", &runs).unwrap();
        assert_eq!(other.run_id, None);
        assert!(
            other
                .message
                .starts_with("not switched by an unfinished mwictl run"),
            "{}",
            other.message
        );
        assert_eq!(flag("t1", "standard", &runs), None);
    }

    /// A journal of bot `a` under `state/recover` holding `modes`; `finished` runs its one step.
    fn journal(state: &Path, modes: &[(&str, &str, &str, bool)], finished: bool) -> Journal {
        use crate::recover::journal::ModeRecord;
        use crate::recover::plan::{Flow, FlowInput, Plan};
        use crate::recover::step::{Step, StepOutput};
        let plan = Plan {
            operation: Flow::Expired.into(),
            bot: "a".into(),
            steps: vec![Step::RunRestart {
                command: "true".into(),
            }],
            after: vec![],
        };
        let dir = state.join(RECOVER_JOURNALS);
        let mut j = Journal::create(&dir, state, plan, FlowInput::default()).unwrap();
        j.record.modes = modes
            .iter()
            .map(|&(token, previous, mode, restored)| ModeRecord {
                token: token.into(),
                previous: previous.into(),
                mode: mode.into(),
                switched_at: String::new(),
                restored,
            })
            .collect();
        j.save().unwrap();
        if finished {
            j.mark_started(0).unwrap();
            j.mark_done(0, StepOutput::Shown).unwrap();
        }
        j
    }

    #[test]
    fn only_unrestored_insecure_switches_of_unfinished_runs_count() {
        let root = tempfile::tempdir().unwrap();
        let open = journal(
            root.path(),
            &[
                ("t1", "", "insecure", false),
                ("t2", "standard", "insecure", true),
                ("t3", "standard", "relaxed", false),
            ],
            false,
        );
        journal(root.path(), &[("t4", "relaxed", "insecure", false)], true);
        let got = switched(root.path());
        let want = HashMap::from([(
            "t1".to_string(),
            Switched {
                run_id: open.record.run_id.clone(),
                previous: "standard".into(),
            },
        )]);
        assert_eq!(got, want);
    }

    #[test]
    fn setting_a_mode_by_hand_marks_only_that_tokens_open_insecure_records_restored() {
        let root = tempfile::tempdir().unwrap();
        let open = journal(
            root.path(),
            &[
                ("t1", "relaxed", "insecure", false),
                ("t2", "relaxed", "insecure", false),
            ],
            false,
        );
        let done = journal(root.path(), &[("t1", "relaxed", "insecure", false)], true);
        assert_eq!(
            mark_restored(root.path(), "t1", "insecure").unwrap(),
            Vec::<String>::new(),
            "a token set to insecure by hand is not restored"
        );
        assert_eq!(
            mark_restored(root.path(), "t9", "standard").unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            mark_restored(root.path(), "t1", "standard").unwrap(),
            vec![open.record.run_id.clone()]
        );
        let open = Journal::load(open.path()).unwrap();
        let restored: Vec<bool> = open.record.modes.iter().map(|m| m.restored).collect();
        assert_eq!(restored, [true, false]);
        let done = Journal::load(done.path()).unwrap();
        assert!(
            !done.record.modes[0].restored,
            "a finished run is left as it is"
        );
        assert_eq!(switched(root.path()).keys().collect::<Vec<_>>(), ["t2"]);
    }
}
