//! S2, expired identity: the bot's token-joined identity expired and its one-time token is spent;
//! issue a new token, put it in tbot.yaml, restart, verify.

use std::time::SystemTime;

use crate::recover::diagnose::BotState;
use crate::recover::flows::token_tail;
use crate::recover::plan::{Flow, FlowInput, Plan, Planned, Prefetched};
use crate::recover::step::{Evidence, Step};

/// The plan for `state`'s bot.
pub fn plan(state: &BotState, input: &FlowInput) -> Planned {
    let bot = state.name().to_string();
    let now = SystemTime::now();
    let live = state.live_instances(now);
    let headline = match (state.instances.len(), live) {
        (0, _) => format!("bot {bot:?} has no instance on record: no identity left to renew"),
        (n, 0) => format!("none of the {n} instance(s) of bot {bot:?} holds a valid identity"),
        (n, live) => {
            format!("{live} of the {n} instance(s) of bot {bot:?} still hold a valid identity")
        }
    };
    let mut warnings = Vec::new();
    if live > 0 {
        warnings.push(format!(
            "{live} instance(s) still hold a valid identity: a new token starts another instance; if tbot fails anyway, its log tells why (`mwictl doctor TBOT_LOG`)"
        ));
    }
    if !state.locks.is_empty() {
        warnings.push(format!(
            "{} lock(s) block the bot: the new token will be refused until they are removed; run `mwictl recover generation-mismatch --bot {bot}` instead",
            state.locks.len()
        ));
    }
    let usable = state.usable_tokens(now);
    let facts = vec![format!(
        "{usable} unexpired join token(s) for the bot; a token-joined identity cannot renew once expired, so tbot must join again"
    )];
    let mut steps = vec![
        Step::ShowEvidence {
            evidence: Evidence {
                headline,
                warnings,
                locks: state.lock_summaries(),
                instances: state.instance_summaries(),
                facts,
                not_shown: live > 0,
            },
        },
        Step::IssueToken {
            bot: bot.clone(),
            ttl_seconds: input.token_ttl_seconds,
        },
    ];
    let mut after = Vec::new();
    token_tail(&mut steps, &mut after, &bot, state.instance_ids(), input);
    Planned {
        plan: Plan {
            operation: Flow::Expired.into(),
            bot,
            steps,
            after,
        },
        prefetched: Prefetched::default(),
    }
}
