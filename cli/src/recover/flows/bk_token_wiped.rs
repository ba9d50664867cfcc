//! S10, bound-keypair token wiped (runbook D, Teleport issue #68211): the token was deleted, or
//! re-applied from a spec-only file, so it lost the key it was bound to while tbot still holds
//! it. The token is recreated under its name with the bot's public key, its status restored and
//! mode insecure for one join (the previous mode journaled first), tbot restarted, and the mode
//! restored once the bot authenticated with it.
//!
//! Why the status is restored instead of only setting `initial_public_key` (the documented
//! recipe, teleport-bound-keypair.md §9 D): a tbot whose certificates are still valid joins as
//! itself, and a token without a bound key refuses that (`cannot perform first bound keypair
//! join with existing credentials`, §5, lib/join/boundkeypair); it could onboard with the
//! preregistered key only after its certificates expired (up to the credential TTL), and
//! whether tbot drops a valid identity by itself is unconfirmed. With the bound key, the bot
//! instance it holds and a recovery count restored (Teleport's create path keeps a supplied
//! status "for backup and restore", lib/auth/join_bound_keypair.go; so does the lab), the
//! refreshing bot is accepted at once; mode insecure skips the join-state check for that one
//! join, since the restored count need not match the bot's join state. A bot whose certificates
//! expired recovers on the same token instead (the count rises). Either way the join issues a
//! join state matching the token, so the restored mode holds.

use std::path::Path;
use std::time::SystemTime;

use mwi_proto::machineid::BotInstance;

use crate::client::Client;
use crate::error::CommandError;
use crate::ops::bound_keypair::{self, JOIN_STATE_FILE};
use crate::ops::instances::{is_live, latest_authentication};
use crate::ops::recovery_mode::BotToken;
use crate::recover::diagnose::BotState;
use crate::recover::flows::bk_input::{self, PublicKey};
use crate::recover::plan::{Flow, FlowInput, Plan, Planned, Prefetched};
use crate::recover::step::{CountBefore, Evidence, Step};

/// What the user does when no `--restart-cmd` step restarts tbot.
pub const RESTART_NOTE: &str = "restart tbot (e.g. `systemctl restart tbot`) so it joins with the recreated token at once; the run restores the mode once it did";

/// The bot instance and recovery count the restored status holds, and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub instance: Option<String>,
    pub count: u32,
    pub source: String,
}

/// The claims of tbot's join state (`bkp_state`, a JWT) that the restored status needs; read
/// without verifying it, only to match what the bot holds (§4: `bot_instance_id`,
/// `recovery_sequence`).
pub fn join_state_claims(storage: &Path) -> Option<(String, u32)> {
    let text = std::fs::read_to_string(storage.join(JOIN_STATE_FILE)).ok()?;
    let payload = text.trim().split('.').nth(1)?;
    let bytes = crate::resource::base64::decode(payload)?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let instance = claims.get("bot_instance_id")?.as_str()?.to_string();
    let count = u32::try_from(claims.get("recovery_sequence")?.as_u64()?).ok()?;
    (!instance.is_empty()).then_some((instance, count))
}

/// The bot's newest instance that authenticated with bound-keypair joining (by `token` when
/// its records name one).
fn newest_bound_instance<'a>(instances: &'a [BotInstance], token: &str) -> Option<&'a BotInstance> {
    instances
        .iter()
        .filter(|i| {
            latest_authentication(i).is_some_and(|a| {
                a.join_method == bound_keypair::METHOD
                    && (a.join_token.is_empty() || a.join_token == token)
            })
        })
        .max_by_key(|i| {
            latest_authentication(i)
                .and_then(|a| a.authenticated_at)
                .map(|t| (t.seconds, t.nanos))
        })
}

/// Reads what the plan needs and builds it.
pub async fn plan(client: &Client, bot: &str, input: &FlowInput) -> Result<Planned, CommandError> {
    let key = match (&input.public_key, &input.storage) {
        (Some(value), _) => bk_input::key_from_flag(value)?,
        (None, Some(storage)) => bk_input::required_key_in_storage(storage)?,
        (None, None) => {
            return Err(CommandError::usage(
                "recover bk-token-wiped needs the bot's public key: pass --storage DIR (tbot's storage, holding id_bkp.pub) or --public-key KEY|@FILE",
            )
            .hint("nothing was changed"));
        }
    };
    let (state, found) = bk_input::state_and_token(client, bot, input).await?;
    let found = found.ok_or_else(|| {
        CommandError::usage(format!(
            "bot {bot:?} has no bound-keypair token and none is named: which token to recreate is unknown"
        ))
        .hint("pass --token NAME (tbot.yaml's onboarding.token) or --tbot-config with it; nothing was changed")
    })?;
    if let Some(bound) = found
        .token
        .as_ref()
        .and_then(|t| bk_input::bound_key(&t.value))
        && !bk_input::same_key(&bound, &key.key)
    {
        let bound_fp = bound_keypair::fingerprint(&bound).map_or(bound.clone(), |f| f.0);
        return Err(CommandError::usage(format!(
            "{}: key {} does not match the key token {} is bound to ({bound_fp})",
            key.source, key.fingerprint, found.name
        ))
        .hint("give the storage (or key) of the bot that joined with this token; if the bot lost its key, run `mwictl recover bk-keypair-lost`; nothing was changed"));
    }
    let from_state = input.storage.as_deref().and_then(join_state_claims);
    Ok(build(
        &state,
        &found,
        &key,
        from_state,
        input,
        SystemTime::now(),
    ))
}

/// The plan from what was read; `from_state` is the bot's own join state (instance, count).
pub fn build(
    state: &BotState,
    found: &BotToken,
    key: &PublicKey,
    from_state: Option<(String, u32)>,
    input: &FlowInput,
    now: SystemTime,
) -> Planned {
    let bot = state.name().to_string();
    let current = found
        .token
        .as_ref()
        .and_then(|t| bound_keypair::state(&t.value));
    let still_bound = current
        .as_ref()
        .is_some_and(|s| s.bound_public_key.is_some());
    let headline = match (&found.token, still_bound) {
        (None, _) => format!("token {} of bot {bot:?} is gone", found.name),
        (Some(_), false) => format!(
            "token {} of bot {bot:?} has no bound key: it was re-applied without its status",
            found.name
        ),
        (Some(_), true) => format!(
            "token {} of bot {bot:?} is still bound to {}: nothing is wiped",
            found.name, key.fingerprint
        ),
    };
    let newest = newest_bound_instance(&state.instances, &found.name);
    let restored = match from_state {
        Some((instance, count)) => Restored {
            instance: Some(instance),
            count,
            source: format!("the bot's join state ({JOIN_STATE_FILE} in its storage)"),
        },
        None => Restored {
            instance: newest
                .and_then(|i| i.spec.as_ref())
                .map(|s| s.instance_id.clone()),
            count: current.as_ref().map_or(1, |s| s.recovery_count.max(1)),
            source: "the bot's newest bound-keypair instance".into(),
        },
    };
    let live = newest.is_some_and(|i| is_live(i, now));
    let mut facts = vec![format!(
        "the bot's public key: {} ({})",
        key.fingerprint, key.source
    )];
    match &restored.instance {
        Some(id) => facts.push(format!(
            "restored status: bound to that key, bot instance {id}, recovery_count {} (from {})",
            restored.count, restored.source
        )),
        None => facts.push(
            "the bot has no bound-keypair instance on record: the token gets the key as initial_public_key only, and tbot onboards with it once its certificates expired".into(),
        ),
    }
    facts.push(if live {
        "its instance holds a valid identity: with the status restored it refreshes at once".into()
    } else {
        "no instance holds a valid identity: tbot recovers on the recreated token (recovery_count rises)".into()
    });
    let previous_mode = current
        .as_ref()
        .map_or("standard".to_string(), |s| s.recovery_mode.clone());
    let limit = current.as_ref().map_or(1, |s| s.recovery_limit.max(1));
    let mut steps = vec![Step::ShowEvidence {
        evidence: Evidence {
            headline,
            warnings: Vec::new(),
            locks: state.lock_summaries(),
            instances: state.instance_summaries(),
            facts,
            not_shown: still_bound,
        },
    }];
    let mut after = Vec::new();
    if !still_bound {
        steps.push(Step::RecreateBoundKeypairToken {
            token: found.name.clone(),
            bot: bot.clone(),
            public_key: key.key.clone(),
            bound_bot_instance_id: restored.instance.clone(),
            // Without a bound instance the token onboards from an empty status.
            recovery_count: if restored.instance.is_some() {
                restored.count
            } else {
                0
            },
            recovery_limit: limit,
            previous_mode,
        });
        match &input.restart_cmd {
            Some(command) => steps.push(Step::RunRestart {
                command: command.clone(),
            }),
            None => after.push(RESTART_NOTE.to_string()),
        }
        steps.push(Step::WaitForRecovery {
            tokens: vec![CountBefore {
                token: found.name.clone(),
                bot: bot.clone(),
                count_before: if restored.instance.is_some() {
                    restored.count
                } else {
                    0
                },
                refreshed_instance: restored.instance.clone(),
            }],
        });
        steps.push(Step::RestoreTokenMode {
            token: found.name.clone(),
        });
        // A recovery in insecure may take the count to the limit or past it; back in standard
        // mode the bot would then be refused its next recovery, as S9 leaves one spare too.
        steps.push(Step::EnsureRecoveryHeadroom {
            token: found.name.clone(),
            spare: 1,
        });
    }
    Planned {
        plan: Plan {
            operation: Flow::BkTokenWiped.into(),
            bot,
            steps,
            after,
        },
        prefetched: Prefetched::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_join_state_names_the_instance_and_count_to_restore() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(join_state_claims(dir.path()), None);
        let claims = r#"{"sub":"example","bot_instance_id":"i-1","recovery_sequence":3}"#;
        let jwt = format!(
            "e30.{}.c2ln",
            crate::resource::base64::encode(claims.as_bytes())
                .trim_end_matches('=')
                .replace('+', "-")
                .replace('/', "_")
        );
        std::fs::write(dir.path().join(JOIN_STATE_FILE), format!("{jwt}\n")).unwrap();
        assert_eq!(join_state_claims(dir.path()), Some(("i-1".into(), 3)));
        std::fs::write(dir.path().join(JOIN_STATE_FILE), "not a jwt").unwrap();
        assert_eq!(join_state_claims(dir.path()), None);
        let empty = r#"{"bot_instance_id":"","recovery_sequence":3}"#;
        let jwt = format!(
            "e30.{}.c2ln",
            crate::resource::base64::encode(empty.as_bytes()).trim_end_matches('=')
        );
        std::fs::write(dir.path().join(JOIN_STATE_FILE), jwt).unwrap();
        assert_eq!(
            join_state_claims(dir.path()),
            None,
            "no instance to restore"
        );
    }

    fn instance(id: &str, method: &str, token: &str, at: i64) -> BotInstance {
        use mwi_proto::machineid::{
            BotInstanceSpec, BotInstanceStatus, BotInstanceStatusAuthentication,
        };
        BotInstance {
            spec: Some(BotInstanceSpec {
                bot_name: "example".into(),
                instance_id: id.into(),
                ..Default::default()
            }),
            status: Some(BotInstanceStatus {
                latest_authentications: vec![BotInstanceStatusAuthentication {
                    authenticated_at: Some(prost_types::Timestamp {
                        seconds: at,
                        nanos: 0,
                    }),
                    join_method: method.into(),
                    join_token: token.into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn id_of(i: Option<&BotInstance>) -> Option<&str> {
        i.and_then(|i| i.spec.as_ref())
            .map(|s| s.instance_id.as_str())
    }

    /// The instance restored is the newest that joined with bound-keypair on this token (or on
    /// an unnamed one); another token's or another method's newer instance is not it.
    #[test]
    fn the_newest_bound_keypair_instance_of_the_token_is_restored() {
        let bk = bound_keypair::METHOD;
        let all = [
            instance("i-old", bk, "", 100),
            instance("i-new", bk, "tok", 300),
            instance("i-other-token", bk, "other", 900),
            instance("i-other-method", "token", "tok", 1000),
        ];
        assert_eq!(id_of(newest_bound_instance(&all, "tok")), Some("i-new"));
        assert_eq!(
            id_of(newest_bound_instance(
                &[all[0].clone(), all[3].clone()],
                "tok"
            )),
            Some("i-old")
        );
        assert_eq!(id_of(newest_bound_instance(&all[3..], "tok")), None);
    }

    /// A wiped token is recreated with the join state's instance and count; a token still bound
    /// is left alone.
    #[test]
    fn only_a_token_without_its_bound_key_is_recreated() {
        let key = PublicKey {
            key: "ssh-ed25519 AAAA".into(),
            fingerprint: "SHA256:x".into(),
            source: "--public-key".into(),
        };
        let gone = BotToken {
            name: "tok".into(),
            token: None,
        };
        let state = BotState::bare(
            "example",
            vec![instance("i-new", bound_keypair::METHOD, "tok", 300)],
        );
        let now = SystemTime::now();
        let input = FlowInput::default();
        let plan = build(&state, &gone, &key, Some(("i-7".into(), 4)), &input, now).plan;
        let kinds: Vec<_> = plan.steps.iter().map(Step::kind).collect();
        assert_eq!(
            kinds,
            [
                "show_evidence",
                "recreate_bound_keypair_token",
                "wait_for_recovery",
                "restore_token_mode",
                "ensure_recovery_headroom"
            ]
        );
        let Step::RecreateBoundKeypairToken {
            bound_bot_instance_id,
            recovery_count,
            previous_mode,
            ..
        } = &plan.steps[1]
        else {
            panic!("{:?}", plan.steps[1])
        };
        assert_eq!(bound_bot_instance_id.as_deref(), Some("i-7"));
        assert_eq!((*recovery_count, previous_mode.as_str()), (4, "standard"));
        let from_instance = build(&state, &gone, &key, None, &input, now).plan;
        let Step::RecreateBoundKeypairToken {
            bound_bot_instance_id,
            recovery_count,
            ..
        } = &from_instance.steps[1]
        else {
            panic!("{:?}", from_instance.steps[1])
        };
        assert_eq!(
            (bound_bot_instance_id.as_deref(), *recovery_count),
            (Some("i-new"), 1)
        );

        let t = crate::ops::recovery_mode::tests::bound_token();
        let bound = BotToken {
            name: "tok".into(),
            token: Some(crate::client::Fetched {
                value: t,
                raw: Default::default(),
            }),
        };
        let kept = build(&state, &bound, &key, None, &input, now).plan;
        let kinds: Vec<_> = kept.steps.iter().map(Step::kind).collect();
        assert_eq!(kinds, ["show_evidence"]);
    }
}
