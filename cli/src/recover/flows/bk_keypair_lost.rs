//! S11, bound keypair lost (runbook C): the key the token is bound to is gone from tbot's
//! storage and cannot be recovered server-side; a fresh token under a new name onboards the bot
//! again (new registration secret, or a new preregistered key), the old one is deleted (backed
//! up), tbot.yaml gets the new name and secret, the stale key files leave the storage.

use crate::client::Client;
use crate::error::CommandError;
use crate::ops::bound_keypair;
use crate::ops::recovery_mode::BotToken;
use crate::recover::diagnose;
use crate::recover::flows::bk_input::{self, PublicKey};
use crate::recover::plan::{Flow, FlowInput, Plan, Planned, Prefetched};
use crate::recover::step::{Evidence, Expect, Step};

/// What the user does with the fresh token when no `--tbot-config` step wrote it.
pub const SECRET_NOTE: &str = "put the fresh token's name into tbot.yaml's onboarding.token and its registration secret into onboarding.bound_keypair.registration_secret (or use the joining URI); both are printed below";

/// What the user does when no `--storage` step moved the stale files.
pub const STORAGE_NOTE: &str = "move id_bkp, id_bkp.pub, bkp_state and bkp_key_history.json out of tbot's storage: while bkp_state is there tbot sends no registration secret";

/// What tbot needs to pick up the fresh token.
pub const RESTART_NOTE: &str = "restart tbot (e.g. `systemctl restart tbot`): it reads the token and secret only when it starts";

/// The plan for `bot`. `new_key` is `--public-key`: a key made with `tbot keypair create` to
/// preregister instead of a registration secret.
pub async fn plan(client: &Client, bot: &str, input: &FlowInput) -> Result<Planned, CommandError> {
    let new_key = input
        .public_key
        .as_deref()
        .map(bk_input::key_from_flag)
        .transpose()?;
    let stored = input
        .storage
        .as_deref()
        .map(bk_input::key_in_storage)
        .transpose()?
        .flatten();
    if let Some(path) = &input.tbot_config {
        check_config_takes_it(path, new_key.is_none())?;
    }
    let (state, found) = bk_input::state_and_token(client, bot, input).await?;
    Ok(build(
        &state,
        found.as_ref(),
        new_key.as_ref(),
        stored.as_ref(),
        input,
    ))
}

/// Refuses, before anything is created, a tbot.yaml the fresh token cannot go into.
fn check_config_takes_it(path: &std::path::Path, with_secret: bool) -> Result<(), CommandError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CommandError::usage(format!(
            "--tbot-config {}: cannot read it: {e}",
            path.display()
        ))
    })?;
    let secret = with_secret.then_some("0123456789abcdef0123456789abcdef");
    mwi_diag::tbot_config::plan_bound_keypair_edit(&text, "bot-check-00000000", secret)
        .map(|_| ())
        .map_err(|detail| {
            CommandError::usage(format!("--tbot-config {}: {detail}", path.display()))
                .hint("fix the file, or leave out --tbot-config and put the token in by hand; nothing was changed")
        })
}

/// The plan from what was read.
pub fn build(
    state: &diagnose::BotState,
    found: Option<&BotToken>,
    new_key: Option<&PublicKey>,
    stored: Option<&PublicKey>,
    input: &FlowInput,
) -> Planned {
    let bot = state.name().to_string();
    let old = found.and_then(|f| f.token.as_ref());
    let old_state = old.and_then(|t| bound_keypair::state(&t.value));
    let bound = old.and_then(|t| bk_input::bound_key(&t.value));
    let mut warnings = Vec::new();
    let mut facts = Vec::new();
    let headline = match (found, &old_state) {
        (Some(f), Some(s)) => format!(
            "token {} of bot {bot:?} is bound to {} (recovery_count {}, limit {}, mode {})",
            f.name,
            s.bound_key_fingerprint.as_deref().unwrap_or("no key yet"),
            s.recovery_count,
            s.recovery_limit,
            s.recovery_mode
        ),
        (Some(f), None) => format!("token {} of bot {bot:?} is gone", f.name),
        (None, _) => format!("bot {bot:?} has no bound-keypair token"),
    };
    // The storage still holding the bound key means the keypair is not lost.
    let not_lost = matches!((stored, &bound), (Some(k), Some(b)) if bk_input::same_key(&k.key, b));
    match stored {
        Some(k) if not_lost => warnings.push(format!(
            "{} holds the key the token is bound to ({}): the keypair is not lost; a fresh token makes the bot start over as a new instance",
            k.source, k.fingerprint
        )),
        Some(k) => facts.push(format!(
            "{} holds key {}, which the token does not know",
            k.source, k.fingerprint
        )),
        None => {
            if let Some(dir) = &input.storage {
                facts.push(format!("{} holds no public key (id_bkp.pub)", dir.display()));
            }
        }
    }
    if let Some(k) = new_key {
        facts.push(format!(
            "the fresh token preregisters {} ({})",
            k.fingerprint, k.source
        ));
    }
    let (limit, mode) = old_state.as_ref().map_or((1, "standard".to_string()), |s| {
        (s.recovery_limit.max(1), s.recovery_mode.clone())
    });
    facts.push(format!(
        "the fresh token keeps recovery limit {limit} and mode {mode}; onboarding uses one recovery"
    ));
    let mut steps = vec![
        Step::ShowEvidence {
            evidence: Evidence {
                headline,
                warnings,
                locks: state.lock_summaries(),
                instances: state.instance_summaries(),
                facts,
                not_shown: not_lost,
            },
        },
        Step::IssueBoundKeypairToken {
            bot: bot.clone(),
            initial_public_key: new_key.map(|k| k.key.clone()),
            recovery_limit: limit,
            recovery_mode: mode,
        },
    ];
    if let Some(f) = found.filter(|f| f.token.is_some()) {
        steps.push(Step::DeleteToken {
            token: f.name.clone(),
        });
    }
    let mut after = Vec::new();
    match &input.tbot_config {
        Some(path) => steps.push(Step::UpdateTbotBoundKeypair { path: path.clone() }),
        None => after.push(SECRET_NOTE.to_string()),
    }
    match &input.storage {
        Some(storage) => steps.push(Step::MoveStaleKeypair {
            storage: storage.clone(),
            // The storage holds the new preregistered key (`tbot keypair create`): it stays.
            keep_key: matches!((new_key, stored), (Some(n), Some(s)) if bk_input::same_key(&n.key, &s.key)),
        }),
        None => after.push(STORAGE_NOTE.to_string()),
    }
    match &input.restart_cmd {
        Some(command) => steps.push(Step::RunRestart {
            command: command.clone(),
        }),
        None => after.push(RESTART_NOTE.to_string()),
    }
    steps.push(Step::Verify {
        bot: bot.clone(),
        expect: Expect::NewInstance {
            known: state.instance_ids(),
        },
    });
    Planned {
        plan: Plan {
            operation: Flow::BkKeypairLost.into(),
            bot,
            steps,
            after,
        },
        prefetched: Prefetched::default(),
    }
}
