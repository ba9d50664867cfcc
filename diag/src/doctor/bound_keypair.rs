//! What the bound-keypair incidents S8–S12 mean and how to fix them: the cause, the `mwictl
//! recover bk-…` command (or, until it exists, the manual mwictl steps) and the tctl runbook.

use super::signal::{BkRefusal, Signal};
use super::{Fix, LiveCheck};
use crate::incident::Incident;
use std::collections::BTreeMap;

/// Stands for the join token in a command when no line named it.
const TOKEN: &str = "TOKEN_NAME";

/// The bound-keypair incident a refusal shows; `fleet` when several bots fail join-state checks.
pub(crate) fn incident_of(refusal: BkRefusal, fleet: bool) -> Option<Incident> {
    Some(match refusal {
        BkRefusal::NoRejoins | BkRefusal::NoRecoveryAttempts => Incident::BkExhausted,
        r if r.is_join_state() && fleet => Incident::BkRollback,
        BkRefusal::JoinStateFailed | BkRefusal::JoinStateMissing => Incident::BkJoinState,
        BkRefusal::FirstJoinWithCredentials
        | BkRefusal::SecretRequired
        | BkRefusal::BadBackendState
        | BkRefusal::NoOnboarding
        | BkRefusal::TokenDeleted => Incident::BkTokenWiped,
        BkRefusal::SignerNotFound => Incident::BkKeypairLost,
        BkRefusal::KeyReused | BkRefusal::StaticRotation => return None,
    })
}

/// Title, cause, fix and live check of a bound-keypair finding. `name` is the bot (or a
/// placeholder); the tokens the lines name go into `facts` and the commands.
pub(crate) fn advise(
    bk: Incident,
    name: &str,
    bot: Option<&str>,
    signals: &[&Signal],
    facts: &mut BTreeMap<String, String>,
) -> (&'static str, String, Fix, Option<LiveCheck>) {
    let mut tokens: Vec<&str> = Vec::new();
    let mut refusals: Vec<&'static str> = Vec::new();
    for signal in signals {
        let token = match signal {
            Signal::BoundKeypair { refusal, token, .. } => {
                if !refusals.contains(&refusal.wording()) {
                    refusals.push(refusal.wording());
                }
                token.as_deref()
            }
            Signal::Lock {
                target: Some(target),
                ..
            } => target.strip_prefix("join_token: "),
            _ => None,
        };
        if let Some(token) = token.filter(|t| !tokens.contains(t)) {
            tokens.push(token);
        }
    }
    if !tokens.is_empty() {
        facts.insert("tokens".to_string(), tokens.join(", "));
    }
    if !refusals.is_empty() {
        facts.insert("refusals".to_string(), refusals.join("; "));
    }
    let token = tokens.first().copied().unwrap_or(TOKEN);
    let live = Some(LiveCheck::BoundKeypair {
        incident: bk,
        bot: bot.map(str::to_string),
        tokens: tokens.iter().map(|t| t.to_string()).collect(),
    });
    match bk {
        Incident::BkExhausted => (
            "bound keypair: recovery limit used up",
            "The bot lost its certificates and tried to recover (or onboard) with its bound key, \
             but the token is in recovery mode standard and recovery_count has reached \
             recovery.limit, so the auth service refuses every further recovery."
                .to_string(),
            Fix {
                mwictl: Some(format!(
                    "mwictl recover bk-exhausted --bot {name} --wait 5m"
                )),
                tctl: vec![
                    format!("tctl get token/{token} --format=json"),
                    format!("tctl edit token/{token}"),
                ],
                then: Some(format!(
                    "It shows {token}'s mode, recovery_count and limit, raises \
                     spec.bound_keypair.recovery.limit to recovery_count+1 (one supervised \
                     recovery; --spare 2 leaves one spare) or, with --relaxed, sets \
                     recovery.mode to relaxed, runs --restart-cmd, and checks that the count rose \
                     and a new bot instance joined."
                )),
            },
            live,
        ),
        Incident::BkJoinState => (
            "bound keypair: join state rejected, the join token is locked",
            "The bot proved its key but sent no join state or one that does not match the token \
             (recovery counter, bot instance): two bots share one keypair, the storage was \
             copied or restored, or the key was stolen. The auth service locked the join token, \
             so every later join is refused by the lock."
                .to_string(),
            Fix {
                mwictl: Some(format!(
                    "mwictl recover bk-join-state --bot {name} --wait 5m"
                )),
                tctl: vec![
                    "tctl get locks".to_string(),
                    "tctl rm lock/LOCK_NAME".to_string(),
                    format!("tctl edit token/{token}"),
                ],
                then: Some(format!(
                    "First rule out a stolen key (who else has the storage directory?). It \
                     removes every lock that blocks the bot (backed up), journals {token}'s \
                     recovery mode and sets it to insecure, runs --restart-cmd, waits until \
                     recovery_count rose, restores the mode and checks that no lock is left; it \
                     never leaves insecure behind (without --wait it stops before restoring and \
                     prints the restore commands). If the key may have leaked, `mwictl tokens \
                     rotate {token}`."
                )),
            },
            live,
        ),
        Incident::BkTokenWiped => (
            "bound keypair: the token lost its bound key",
            "The token no longer knows the bot's key: it was deleted and created again, or \
             re-applied from a spec-only file (`create -f` without status, Teleport issue \
             #68211). A bot with valid certificates is refused a first join; once they expire \
             it no longer sends its registration secret, because it holds join state."
                .to_string(),
            Fix {
                mwictl: Some(format!(
                    "mwictl recover bk-token-wiped --bot {name} --token {token} --storage TBOT_STORAGE_DIR"
                )),
                tctl: vec![
                    format!("tctl get token/{token}"),
                    format!("tctl rm token/{token}"),
                    "tctl create -f token.yaml".to_string(),
                ],
                then: Some(format!(
                    "It reads the bot's public key from tbot's storage (id_bkp.pub; or pass \
                     --public-key), backs up {token} and recreates it with the key as \
                     spec.bound_keypair.onboarding.initial_public_key, its status restored (the \
                     key bound, the bot's instance and recovery count) and mode insecure for one \
                     join, the old mode journaled; with --restart-cmd and --wait it restarts \
                     tbot, waits until the bot authenticated and restores the mode. If a backup \
                     of the token with its status exists (mwictl backups), `mwictl create -f \
                     FILE --restore-status` restores it instead."
                )),
            },
            live,
        ),
        Incident::BkKeypairLost => (
            "bound keypair: the bot lost its private key",
            "The auth service challenged the key the token is bound to, but tbot holds no \
             private key for it: its storage was wiped or replaced. The key cannot be recovered; \
             the bot needs a fresh token."
                .to_string(),
            Fix {
                mwictl: Some(format!(
                    "mwictl recover bk-keypair-lost --bot {name} --tbot-config TBOT_YAML --storage TBOT_STORAGE_DIR"
                )),
                tctl: vec![
                    format!("tctl rm token/{token}"),
                    format!("tctl bots instances add {name}"),
                ],
                then: Some(format!(
                    "It creates a fresh token with a new registration secret (or, with \
                     --public-key, a new preregistered key), backs up and deletes {token}, writes \
                     the new name and secret into tbot.yaml, moves id_bkp*, bkp_state and \
                     bkp_key_history.json out of tbot's storage (old join state suppresses the \
                     secret) and, with --restart-cmd and --wait, restarts tbot and checks that a \
                     new instance joined. By hand: a new bound-keypair token (`mwictl tokens add \
                     --bot {name} --join-method bound_keypair`), its name and secret in \
                     tbot.yaml, the files above removed, tbot restarted, then `mwictl rm \
                     token/{token}`."
                )),
            },
            live,
        ),
        // S12; advice.rs sends only the bound-keypair incidents here.
        _ => (
            "bound keypair: join states rejected across the fleet (backend rollback)",
            "Several bots fail join-state checks at once: the auth backend was restored from a \
             snapshot, so the tokens' recovery counters and bot instances are older than the \
             join states the bots hold."
                .to_string(),
            Fix {
                mwictl: Some("mwictl recover bk-rollback --wait 10m".to_string()),
                tctl: vec![
                    "tctl get locks".to_string(),
                    "tctl rm lock/LOCK_NAME".to_string(),
                    "tctl edit token/TOKEN_NAME".to_string(),
                ],
                then: Some(format!(
                    "It journals the recovery mode of {} and sets each to insecure, removes \
                     their join-token locks, waits with a progress bar until each bot rejoined \
                     (recovery_count rose), then restores each mode (--bots A,B limits it to \
                     some bots).",
                    if tokens.is_empty() {
                        "every bound_keypair token".to_string()
                    } else {
                        tokens.join(", ")
                    }
                )),
            },
            live,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_names_its_incident_and_join_state_ones_follow_the_fleet() {
        use BkRefusal::*;
        use Incident::{
            BkExhausted as Exhausted, BkJoinState as JoinState, BkKeypairLost as KeypairLost,
            BkRollback as Rollback, BkTokenWiped as TokenWiped,
        };
        let table = [
            (NoRejoins, Some(Exhausted), Some(Exhausted)),
            (NoRecoveryAttempts, Some(Exhausted), Some(Exhausted)),
            (JoinStateFailed, Some(JoinState), Some(Rollback)),
            (JoinStateMissing, Some(JoinState), Some(Rollback)),
            (FirstJoinWithCredentials, Some(TokenWiped), Some(TokenWiped)),
            (SecretRequired, Some(TokenWiped), Some(TokenWiped)),
            (BadBackendState, Some(TokenWiped), Some(TokenWiped)),
            (NoOnboarding, Some(TokenWiped), Some(TokenWiped)),
            (TokenDeleted, Some(TokenWiped), Some(TokenWiped)),
            (SignerNotFound, Some(KeypairLost), Some(KeypairLost)),
            (KeyReused, None, None),
            (StaticRotation, None, None),
        ];
        for (refusal, alone, fleet) in table {
            assert_eq!(incident_of(refusal, false), alone, "{refusal:?}");
            assert_eq!(incident_of(refusal, true), fleet, "{refusal:?} in a fleet");
        }
    }

    #[test]
    fn the_fix_names_the_tokens_and_the_coming_flow() {
        let signal = Signal::BoundKeypair {
            refusal: BkRefusal::NoRejoins,
            token: Some("bot-web-1".into()),
            bot: Some("web".into()),
        };
        let mut facts = BTreeMap::new();
        let (_, _, fix, live) = advise(
            Incident::BkExhausted,
            "web",
            Some("web"),
            &[&signal],
            &mut facts,
        );
        assert_eq!(
            fix.mwictl.as_deref(),
            Some("mwictl recover bk-exhausted --bot web --wait 5m")
        );
        let then = fix.then.unwrap();
        assert!(then.starts_with("It shows bot-web-1's mode"), "{then}");
        assert_eq!(facts.get("tokens").map(String::as_str), Some("bot-web-1"));
        assert_eq!(
            facts.get("refusals").map(String::as_str),
            Some("no rejoins remaining")
        );
        assert_eq!(
            live,
            Some(LiveCheck::BoundKeypair {
                incident: Incident::BkExhausted,
                bot: Some("web".into()),
                tokens: vec!["bot-web-1".into()],
            })
        );

        let mut facts = BTreeMap::new();
        let (_, _, fix, live) = advise(Incident::BkRollback, "BOT_NAME", None, &[], &mut facts);
        assert!(fix.then.unwrap().contains("every bound_keypair token"));
        assert!(facts.is_empty());
        assert_eq!(
            live,
            Some(LiveCheck::BoundKeypair {
                incident: Incident::BkRollback,
                bot: None,
                tokens: Vec::new(),
            })
        );
        let (_, _, fix, live) = advise(
            Incident::BkJoinState,
            "ci",
            Some("ci"),
            &[],
            &mut BTreeMap::new(),
        );
        assert_eq!(
            fix.mwictl.as_deref(),
            Some("mwictl recover bk-join-state --bot ci --wait 5m")
        );
        assert!(fix.tctl.contains(&format!("tctl edit token/{TOKEN}")));
        assert_eq!(
            live,
            Some(LiveCheck::BoundKeypair {
                incident: Incident::BkJoinState,
                bot: Some("ci".into()),
                tokens: Vec::new(),
            })
        );
    }
}
