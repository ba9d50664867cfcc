//! The bound-keypair flows that work on a token's recovery settings: S8 (limit used up: raise
//! it, or mode relaxed), S9 (join state rejected: unlock, insecure for one recovery, restore) and
//! S12 (rollback: every token insecure until its bot rejoined, then restored).

use mwi_proto::types::ProvisionTokenV2;

use crate::client::Fetched;
use crate::ops::bound_keypair;
use crate::ops::recovery_mode::{bot_of, count_of, mode_of, name_of, recovery};
use crate::recover::diagnose::BotState;
use crate::recover::plan::{Flow, FlowInput, Plan, Planned, Prefetched};
use crate::recover::step::{CountBefore, Evidence, Expect, Step};

/// Said before anything changes on a rejected join state.
pub const STOLEN_KEY_WARNING: &str = "a rejected join state can mean a stolen key: something proved the bot's private key with an older join state. Before switching the token to insecure, make sure only one tbot uses this storage directory and no copy of it exists elsewhere (disk images, backups, a second host).";

/// The plan's bot for a rollback of every bound-keypair bot.
pub const EVERY_BOT: &str = "*";

/// What S9 needs on the bot's host while the token is insecure.
pub const RESTART_INSECURE_NOTE: &str = "restart tbot (e.g. `systemctl restart tbot`) so it recovers with its key while the token is insecure";

/// What tbot does once the token allows it again.
pub const RETRY_NOTE: &str =
    "tbot retries on its own; restart it (e.g. `systemctl restart tbot`) to recover at once";

/// One line on a token's recovery state.
fn token_fact(token: &ProvisionTokenV2) -> String {
    let r = recovery(token);
    let last = bound_keypair::state(token)
        .and_then(|s| s.last_recovered_at)
        .unwrap_or_else(|| "never".into());
    format!(
        "token {} (bot {:?}): mode {}, recovery_count {}, recovery.limit {}, last recovery {last}",
        name_of(token),
        bot_of(token),
        mode_of(token),
        count_of(token),
        r.limit
    )
}

fn count_before(token: &ProvisionTokenV2) -> CountBefore {
    CountBefore {
        token: name_of(token),
        bot: token
            .spec
            .as_ref()
            .map(|s| s.bot_name.clone())
            .unwrap_or_default(),
        count_before: count_of(token),
        refreshed_instance: None,
    }
}

fn restart(steps: &mut Vec<Step>, after: &mut Vec<String>, input: &FlowInput, note: &str) {
    match &input.restart_cmd {
        Some(command) => steps.push(Step::RunRestart {
            command: command.clone(),
        }),
        None => after.push(note.to_string()),
    }
}

/// S8: raise recovery.limit to recovery_count + spare (or set mode relaxed), let tbot retry,
/// wait until the count rose and a new instance joined.
pub fn exhausted(state: &BotState, token: &ProvisionTokenV2, input: &FlowInput) -> Planned {
    let bot = state.name().to_string();
    let t = token;
    let (mode, count, limit) = (mode_of(t), count_of(t), recovery(t).limit);
    let name = name_of(t);
    let used_up = mode == "standard" && count >= limit;
    let headline = if used_up {
        format!(
            "token {name}: recovery_count {count} reached recovery.limit {limit} in mode standard"
        )
    } else if mode == "standard" {
        format!(
            "token {name} has {} recovery(ies) left (recovery_count {count}, limit {limit})",
            limit - count
        )
    } else {
        format!("token {name} is in mode {mode}, which does not enforce the limit")
    };
    let mut warnings = Vec::new();
    if input.relaxed {
        warnings.push("mode relaxed ignores the limit from now on (the join state is still checked); it stays after this run".to_string());
    }
    let mut steps = vec![Step::ShowEvidence {
        evidence: Evidence {
            headline,
            warnings,
            locks: state.lock_summaries(),
            instances: state.instance_summaries(),
            facts: vec![token_fact(t)],
            not_shown: !used_up,
        },
    }];
    steps.push(if input.relaxed {
        Step::SwitchTokenMode {
            token: name.clone(),
            mode: "relaxed".into(),
        }
    } else {
        Step::EnsureRecoveryHeadroom {
            token: name.clone(),
            spare: input.spare.max(1),
        }
    });
    let mut after = Vec::new();
    restart(&mut steps, &mut after, input, RETRY_NOTE);
    steps.push(Step::WaitForRecovery {
        tokens: vec![count_before(t)],
    });
    steps.push(Step::Verify {
        bot: bot.clone(),
        expect: Expect::NewInstance {
            known: state.instance_ids(),
        },
    });
    Planned {
        plan: Plan {
            operation: Flow::BkExhausted.into(),
            bot,
            steps,
            after,
        },
        prefetched: Prefetched::default(),
    }
}

/// S9: remove every lock that blocks the bot, switch the token to insecure (journaled), restart,
/// wait until recovery_count rose, restore the mode, keep a recovery spare in mode standard,
/// and check that no lock is left.
pub fn join_state(state: &BotState, token: &ProvisionTokenV2, input: &FlowInput) -> Planned {
    let bot = state.name().to_string();
    let t = token;
    let name = name_of(t);
    let locks = state.lock_summaries();
    let headline = match locks.len() {
        0 => format!(
            "no lock blocks bot {bot:?}; its join state may still be rejected (token {name})"
        ),
        1 => format!("1 lock blocks bot {bot:?} (token {name})"),
        n => format!("{n} locks block bot {bot:?} (token {name})"),
    };
    let mut steps = vec![Step::ShowEvidence {
        evidence: Evidence {
            headline,
            warnings: vec![STOLEN_KEY_WARNING.to_string()],
            locks: locks.clone(),
            instances: state.instance_summaries(),
            facts: vec![token_fact(t)],
            not_shown: locks.is_empty(),
        },
    }];
    steps.push(Step::RemoveBotLocks {
        bot: bot.clone(),
        known: locks,
    });
    steps.push(Step::SwitchTokenMode {
        token: name.clone(),
        mode: "insecure".into(),
    });
    let mut after = Vec::new();
    restart(&mut steps, &mut after, input, RESTART_INSECURE_NOTE);
    steps.push(Step::WaitForRecovery {
        tokens: vec![count_before(t)],
    });
    steps.push(Step::RestoreTokenMode {
        token: name.clone(),
    });
    steps.push(Step::EnsureRecoveryHeadroom {
        token: name.clone(),
        spare: 1,
    });
    steps.push(Step::Verify {
        bot: bot.clone(),
        expect: Expect::Unlocked,
    });
    after.push(format!(
        "if the key may have been stolen, make the bot rotate it: `mwictl tokens rotate {name}`"
    ));
    Planned {
        plan: Plan {
            operation: Flow::BkJoinState.into(),
            bot,
            steps,
            after,
        },
        prefetched: Prefetched::default(),
    }
}

/// S12: every token to insecure (old modes journaled), the join-token locks removed, wait until
/// each bot rejoined, restore each mode. `bots` names the plan's bots (`*` for every one).
pub fn rollback(tokens: &[Fetched<ProvisionTokenV2>], bots: &str, input: &FlowInput) -> Planned {
    let names: Vec<String> = tokens.iter().map(|t| name_of(&t.value)).collect();
    let headline = format!(
        "{} bound-keypair token(s): each goes to mode insecure until its bot has rejoined after the restore",
        tokens.len()
    );
    let mut steps = vec![Step::ShowEvidence {
        evidence: Evidence {
            headline,
            warnings: vec![
                "until each bot rejoined, anyone holding a bot's key can recover it; mwictl restores every mode as soon as all have rejoined".to_string(),
            ],
            facts: tokens.iter().map(|t| token_fact(&t.value)).collect(),
            not_shown: tokens.is_empty(),
            ..Default::default()
        },
    }];
    steps.extend(names.iter().map(|name| Step::SwitchTokenMode {
        token: name.clone(),
        mode: "insecure".into(),
    }));
    steps.push(Step::RemoveJoinTokenLocks {
        tokens: names.clone(),
    });
    let mut after = Vec::new();
    restart(&mut steps, &mut after, input, RETRY_NOTE);
    steps.push(Step::WaitForRecovery {
        tokens: tokens.iter().map(|t| count_before(&t.value)).collect(),
    });
    steps.extend(names.iter().map(|name| Step::RestoreTokenMode {
        token: name.clone(),
    }));
    Planned {
        plan: Plan {
            operation: Flow::BkRollback.into(),
            bot: bots.to_string(),
            steps,
            after,
        },
        prefetched: Prefetched::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Output;
    use crate::resource::{Resource, parse_documents};

    /// The docs' bound token after a recovery: count 2, limit 3, mode standard.
    fn token(count: u32, limit: u32) -> Fetched<ProvisionTokenV2> {
        let body: String = include_str!("../../resource/testdata/tokens/bound_keypair_bound.yaml")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        let Resource::Token(mut t) = parse_documents(&body).unwrap().remove(0) else {
            panic!("not a token")
        };
        t.status
            .as_mut()
            .and_then(|s| s.bound_keypair.as_mut())
            .unwrap()
            .recovery_count = count;
        t.spec
            .as_mut()
            .and_then(|s| s.bound_keypair.as_mut())
            .and_then(|b| b.recovery.as_mut())
            .unwrap()
            .limit = limit;
        Fetched {
            value: t,
            raw: Default::default(),
        }
    }

    fn state() -> BotState {
        BotState::bare("example", Vec::new())
    }

    fn input(restart: bool) -> FlowInput {
        FlowInput {
            restart_cmd: restart.then(|| "systemctl restart tbot".to_string()),
            ..Default::default()
        }
    }

    #[test]
    fn exhausted_raises_the_limit_by_the_spare_or_switches_to_relaxed() {
        let mut i = input(true);
        i.spare = 2;
        let planned = exhausted(&state(), &token(3, 3).value, &i);
        insta::assert_snapshot!(planned.plan.text());
        i.relaxed = true;
        let relaxed = exhausted(&state(), &token(3, 3).value, &i).plan;
        assert_eq!(
            relaxed.steps[1],
            Step::SwitchTokenMode {
                token: "example-token".into(),
                mode: "relaxed".into()
            }
        );
        let not_used_up = exhausted(&state(), &token(1, 3).value, &input(false)).plan;
        assert!(
            not_used_up.text().starts_with(
                "Bot \"example\" does not show incident S8 (the bot's bound-keypair token has no recoveries left): token example-token has 2 recovery(ies) left"
            ),
            "{}",
            not_used_up.text()
        );
    }

    #[test]
    fn join_state_switches_to_insecure_waits_and_restores() {
        let planned = join_state(&state(), &token(2, 3).value, &input(false));
        insta::assert_snapshot!(planned.plan.text());
        assert_eq!(
            planned
                .plan
                .steps
                .iter()
                .map(Step::kind)
                .collect::<Vec<_>>(),
            [
                "show_evidence",
                "remove_bot_locks",
                "switch_token_mode",
                "wait_for_recovery",
                "restore_token_mode",
                "ensure_recovery_headroom",
                "verify"
            ]
        );
    }

    #[test]
    fn rollback_switches_every_token_and_restores_each_after_one_wait() {
        let tokens = [token(2, 3), {
            let mut t = token(0, 1);
            t.value.metadata.as_mut().unwrap().name = "other-token".into();
            t.value.spec.as_mut().unwrap().bot_name = "other".into();
            t
        }];
        let planned = rollback(&tokens, EVERY_BOT, &input(false));
        insta::assert_snapshot!(planned.plan.text());
        assert_eq!(
            crate::recover::plan::Operation::from(Flow::BkRollback).command(EVERY_BOT),
            "mwictl recover bk-rollback"
        );
    }
}
