//! S1, certificate generation mismatch: show the locks and the instances involved (warning that a
//! mismatch can mean a stolen certificate), remove the locks with backups, issue a new token.

use std::time::SystemTime;

use crate::recover::diagnose::BotState;
use crate::recover::flows::token_tail;
use crate::recover::plan::{Flow, FlowInput, Plan, Planned, Prefetched};
use crate::recover::step::{Evidence, Step};

/// Said before anything changes: the lock exists because a certificate was replayed.
pub const STOLEN_WARNING: &str = "a certificate generation mismatch can mean a stolen certificate: something presented an older copy of the bot's identity. Before unlocking, make sure only one tbot uses this internal data directory and that no copy of it exists elsewhere (NFS, disk images, backups).";

/// The plan for `state`'s bot.
pub fn plan(state: &BotState, input: &FlowInput) -> Planned {
    let bot = state.name().to_string();
    let locks = state.lock_summaries();
    let mut warnings = vec![STOLEN_WARNING.to_string()];
    for lock in &locks {
        if !lock.message.contains("generation mismatch") {
            warnings.push(format!(
                "lock {} was not made by a generation mismatch ({:?}): someone may have locked the bot on purpose",
                lock.name, lock.message
            ));
        }
    }
    let headline = match locks.len() {
        0 => format!(
            "no lock in force blocks bot {bot:?}; a new token still starts a fresh instance"
        ),
        1 => format!("1 lock in force blocks bot {bot:?}"),
        n => format!("{n} locks in force block bot {bot:?}"),
    };
    // The instances involved: those a lock names, or every instance when the whole bot is locked.
    let named: Vec<&str> = state
        .locks
        .iter()
        .filter_map(|l| l.lock.value.spec.as_ref()?.target.as_ref())
        .map(|t| t.bot_instance_id.as_str())
        .filter(|id| !id.is_empty())
        .collect();
    let whole_bot = locks.len() > named.len() || locks.is_empty();
    let instances = state
        .instance_summaries()
        .into_iter()
        .filter(|i| whole_bot || named.contains(&i.id.as_str()))
        .collect();
    let now = SystemTime::now();
    let facts = vec![format!(
        "{} instance(s) on record, {} with a valid identity; {} unexpired join token(s)",
        state.instances.len(),
        state.live_instances(now),
        state.usable_tokens(now)
    )];
    let mut steps = vec![Step::ShowEvidence {
        evidence: Evidence {
            headline,
            warnings,
            locks: locks.clone(),
            instances,
            facts,
            not_shown: locks.is_empty(),
        },
    }];
    if !locks.is_empty() {
        steps.push(Step::RemoveLocks {
            locks: locks.clone(),
        });
    }
    steps.push(Step::IssueToken {
        bot: bot.clone(),
        ttl_seconds: input.token_ttl_seconds,
    });
    let mut after = Vec::new();
    token_tail(&mut steps, &mut after, &bot, state.instance_ids(), input);
    after.push(
        "stop any second tbot that shares the data directory, or it will be locked again"
            .to_string(),
    );
    let prefetched = Prefetched {
        locks: state
            .locks
            .iter()
            .map(|l| (l.name().to_string(), l.lock.clone()))
            .collect(),
        ..Default::default()
    };
    Planned {
        plan: Plan {
            operation: Flow::GenerationMismatch.into(),
            bot,
            steps,
            after,
        },
        prefetched,
    }
}
