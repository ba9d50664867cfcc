//! `doctor --live` for the bound-keypair incidents S8–S12: reads the tokens the finding is about
//! (by name from the evidence, else the bot's bound_keypair tokens, for S12 every one) and the
//! locks in force on their bots, and says whether the incident is still current, with the numbers.

use std::collections::BTreeMap;

use mwi_diag::doctor::LiveAnswer;
use mwi_diag::incident::Incident;
use mwi_proto::types::ProvisionTokenV2;

use crate::client::Client;
use crate::error::CommandError;
use crate::ops::bound_keypair::{self as bk, State};
use crate::ops::recovery_mode;
use crate::ops::unlock;

/// One token as the server has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TokenNow {
    pub name: String,
    /// The bot it joins as (the finding's bot when the token is gone).
    pub bot: String,
    pub found: Found,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Found {
    BoundKeypair(Box<State>),
    /// It exists with another join method.
    OtherMethod(String),
    Missing,
}

/// The locks in force on one bot: `name (why it blocks)`.
pub(super) type Locks = BTreeMap<String, Vec<String>>;

pub(super) async fn answer(
    client: &Client,
    incident: Incident,
    bot: Option<&str>,
    names: &[String],
) -> Result<LiveAnswer, CommandError> {
    let tokens = match (names.is_empty(), bot) {
        (false, _) => by_name(client, names, bot.unwrap_or("")).await?,
        (true, Some(bot)) => listed(client, |t| recovery_mode::bot_of(t) == bot).await?,
        (true, None) if incident == Incident::BkRollback => listed(client, |_| true).await?,
        (true, None) => {
            return Ok(LiveAnswer {
                current: None,
                detail:
                    "not checked: the log names neither the token nor the bot (give --bot NAME)"
                        .to_string(),
            });
        }
    };
    let mut locks = Locks::new();
    for token in &tokens {
        if token.bot.is_empty() || locks.contains_key(&token.bot) {
            continue;
        }
        let found = unlock::find_blocking_locks(client, &token.bot).await?;
        let shown = found
            .iter()
            .map(|l| format!("{} ({})", l.name(), l.reason))
            .collect();
        locks.insert(token.bot.clone(), shown);
    }
    Ok(verdict(incident, bot, &tokens, &locks))
}

/// The tokens named, each read alone (a missing one is part of the answer).
async fn by_name(
    client: &Client,
    names: &[String],
    bot: &str,
) -> Result<Vec<TokenNow>, CommandError> {
    let mut tokens = Vec::new();
    for name in names {
        let token = match client.get_token(name).await {
            Ok(fetched) => now(&fetched.value),
            Err(e) if e.is_not_found() => TokenNow {
                name: name.clone(),
                bot: bot.to_string(),
                found: Found::Missing,
            },
            Err(e) => return Err(e.into()),
        };
        tokens.push(token);
    }
    Ok(tokens)
}

/// The bound_keypair tokens that `keep` keeps, sorted by name.
async fn listed(
    client: &Client,
    keep: impl Fn(&ProvisionTokenV2) -> bool,
) -> Result<Vec<TokenNow>, CommandError> {
    let mut tokens: Vec<TokenNow> = client
        .get_tokens()
        .await?
        .iter()
        .filter(|t| keep(&t.value))
        .map(|t| now(&t.value))
        .filter(|t| matches!(t.found, Found::BoundKeypair(_)))
        .collect();
    tokens.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tokens)
}

fn now(token: &ProvisionTokenV2) -> TokenNow {
    TokenNow {
        name: recovery_mode::name_of(token),
        bot: recovery_mode::bot_of(token).to_string(),
        found: match bk::state(token) {
            Some(state) => Found::BoundKeypair(Box::new(state)),
            None => Found::OtherMethod(recovery_mode::method_of(token).to_string()),
        },
    }
}

/// Whether `incident` is still current given the tokens and the locks on their bots, with one
/// line per token: mode, recoveries, bound key and instance, locks.
pub(super) fn verdict(
    incident: Incident,
    bot: Option<&str>,
    tokens: &[TokenNow],
    locks: &Locks,
) -> LiveAnswer {
    if tokens.is_empty() {
        let whose = bot.map_or("the cluster has".to_string(), |b| format!("bot {b} has"));
        return LiveAnswer {
            // A bot whose token is gone is what S10 is about; for the others nothing is known.
            current: (incident == Incident::BkTokenWiped).then_some(true),
            detail: format!("{whose} no bound_keypair token"),
        };
    }
    let locked = |t: &TokenNow| locks.get(&t.bot).is_some_and(|l| !l.is_empty());
    let mut current = Some(false);
    let mut lines = Vec::new();
    for token in tokens {
        let (this, line) = match &token.found {
            Found::Missing => (
                match incident {
                    Incident::BkTokenWiped => Some(true),
                    _ => None,
                },
                format!("token {} does not exist", token.name),
            ),
            Found::OtherMethod(method) => (
                None,
                format!(
                    "token {} is of join method {method}, not bound_keypair",
                    token.name
                ),
            ),
            Found::BoundKeypair(state) => {
                let this = match incident {
                    Incident::BkExhausted => Some(state.recoveries_left == Some(0)),
                    Incident::BkJoinState | Incident::BkRollback => Some(locked(token)),
                    Incident::BkTokenWiped => Some(
                        state.bound_public_key.is_none() || state.bound_bot_instance_id.is_none(),
                    ),
                    // The server cannot tell whether the bot still holds the bound key.
                    _ => None,
                };
                (this, describe(&token.name, state, incident))
            }
        };
        current = match (current, this) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (None, _) | (_, None) => None,
            _ => Some(false),
        };
        lines.push(format!("{line}; {}", lock_line(&token.bot, locks)));
    }
    lines.dedup();
    let mut detail = lines.join("; ");
    if incident == Incident::BkKeypairLost {
        detail.push_str(
            "; the server cannot tell whether the bot still holds the bound key: compare the \
             fingerprint with `ssh-keygen -lf id_bkp.pub` in tbot's storage",
        );
    }
    LiveAnswer { current, detail }
}

/// `token T mode standard, 3/3 recoveries used, bound key SHA256:… (ssh-ed25519), instance I`.
fn describe(name: &str, state: &State, incident: Incident) -> String {
    let recoveries = match state.recoveries_left {
        Some(0) => format!(
            "{}/{} recoveries used",
            state.recovery_count, state.recovery_limit
        ),
        // The resolved S8 says why in the runbook's terms.
        Some(_) if incident == Incident::BkExhausted => format!(
            "limit {} > count {}",
            state.recovery_limit, state.recovery_count
        ),
        Some(_) => format!(
            "{}/{} recoveries used",
            state.recovery_count, state.recovery_limit
        ),
        None => format!(
            "{} recoveries used, the limit ({}) not enforced",
            state.recovery_count, state.recovery_limit
        ),
    };
    let key = match (&state.bound_key_fingerprint, &state.bound_key_algorithm) {
        (Some(fingerprint), Some(algorithm)) => format!("bound key {fingerprint} ({algorithm})"),
        _ if state.bound_public_key.is_some() => "a bound key that is not an SSH key".to_string(),
        _ => format!("no bound key (onboarding by {})", state.onboarding),
    };
    let instance = state
        .bound_bot_instance_id
        .as_deref()
        .map_or("no bound instance".to_string(), |i| format!("instance {i}"));
    format!(
        "token {name} mode {}, {recoveries}, {key}, {instance}",
        state.recovery_mode
    )
}

fn lock_line(bot: &str, locks: &Locks) -> String {
    match locks.get(bot).map(Vec::as_slice) {
        None | Some([]) if bot.is_empty() => "no bot to check locks for".to_string(),
        None | Some([]) => format!("no lock in force on bot {bot}"),
        Some(found) => format!(
            "{} lock(s) in force on bot {bot}: {}",
            found.len(),
            found.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::types::{ProvisionTokenStatusV2, ProvisionTokenStatusV2BoundKeypair};

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMl6W8qJ8Z9qVQ5X5fV9cJ3Jm7p1rQyN2b4x0YwzH5aB";

    fn token(mode: &str, limit: u32, count: u32, bound: bool) -> TokenNow {
        let onboarding = bk::Onboarding {
            initial_public_key: None,
            must_register_before: None,
            recovery_mode: mode.to_string(),
            recovery_limit: limit,
        };
        let mut token = bk::token("bot-web-1", "web", &onboarding);
        token.status = Some(ProvisionTokenStatusV2 {
            bound_keypair: Some(ProvisionTokenStatusV2BoundKeypair {
                bound_public_key: if bound {
                    KEY.to_string()
                } else {
                    String::new()
                },
                bound_bot_instance_id: if bound {
                    "i-1".to_string()
                } else {
                    String::new()
                },
                recovery_count: count,
                ..Default::default()
            }),
        });
        now(&token)
    }

    fn no_locks() -> Locks {
        [("web".to_string(), Vec::new())].into()
    }

    #[test]
    fn s8_is_current_at_the_limit_and_resolved_above_it_or_out_of_standard() {
        let at_limit = verdict(
            Incident::BkExhausted,
            Some("web"),
            &[token("standard", 3, 3, true)],
            &no_locks(),
        );
        assert_eq!(at_limit.current, Some(true));
        assert!(
            at_limit.detail.starts_with(
                "token bot-web-1 mode standard, 3/3 recoveries used, bound key SHA256:"
            ),
            "{}",
            at_limit.detail
        );
        assert!(
            at_limit
                .detail
                .contains("(ssh-ed25519), instance i-1; no lock in force on bot web"),
            "{}",
            at_limit.detail
        );
        let raised = verdict(
            Incident::BkExhausted,
            Some("web"),
            &[token("standard", 5, 3, true)],
            &no_locks(),
        );
        assert_eq!(raised.current, Some(false));
        assert!(
            raised.detail.contains("mode standard, limit 5 > count 3"),
            "{}",
            raised.detail
        );
        let relaxed = verdict(
            Incident::BkExhausted,
            Some("web"),
            &[token("relaxed", 3, 4, true)],
            &no_locks(),
        );
        assert_eq!(relaxed.current, Some(false));
        assert!(
            relaxed
                .detail
                .contains("4 recoveries used, the limit (3) not enforced"),
            "{}",
            relaxed.detail
        );
    }

    #[test]
    fn s9_and_s12_follow_the_locks_on_the_bot() {
        let locked: Locks = [(
            "web".to_string(),
            vec!["l-1 (targets join token bot-web-1)".to_string()],
        )]
        .into();
        for incident in [Incident::BkJoinState, Incident::BkRollback] {
            let answer = verdict(
                incident,
                Some("web"),
                &[token("standard", 5, 2, true)],
                &locked,
            );
            assert_eq!(answer.current, Some(true), "{incident:?}");
            assert!(
                answer
                    .detail
                    .ends_with("1 lock(s) in force on bot web: l-1 (targets join token bot-web-1)"),
                "{}",
                answer.detail
            );
            let answer = verdict(
                incident,
                Some("web"),
                &[token("standard", 5, 2, true)],
                &no_locks(),
            );
            assert_eq!(answer.current, Some(false), "{incident:?}");
            // Only S8 words the headroom as the runbook's check.
            assert!(
                answer.detail.contains("mode standard, 2/5 recoveries used"),
                "{}",
                answer.detail
            );
        }
    }

    #[test]
    fn s10_is_current_while_the_token_is_gone_or_unbound() {
        let gone = TokenNow {
            name: "bot-web-1".to_string(),
            bot: "web".to_string(),
            found: Found::Missing,
        };
        let answer = verdict(Incident::BkTokenWiped, Some("web"), &[gone], &no_locks());
        assert_eq!(answer.current, Some(true));
        assert!(
            answer.detail.starts_with("token bot-web-1 does not exist"),
            "{}",
            answer.detail
        );
        let unbound = verdict(
            Incident::BkTokenWiped,
            Some("web"),
            &[token("standard", 1, 0, false)],
            &no_locks(),
        );
        assert_eq!(unbound.current, Some(true));
        assert!(
            unbound
                .detail
                .contains("no bound key (onboarding by registration_secret), no bound instance"),
            "{}",
            unbound.detail
        );
        let bound = verdict(
            Incident::BkTokenWiped,
            Some("web"),
            &[token("standard", 1, 1, true)],
            &no_locks(),
        );
        assert_eq!(bound.current, Some(false));
        // A bound key without a bound instance: `bad backend state, please recreate the join token`.
        let mut half = token("standard", 1, 1, true);
        if let Found::BoundKeypair(state) = &mut half.found {
            state.bound_bot_instance_id = None;
        }
        let answer = verdict(Incident::BkTokenWiped, Some("web"), &[half], &no_locks());
        assert_eq!(answer.current, Some(true));
        assert!(
            answer.detail.contains("(ssh-ed25519), no bound instance"),
            "{}",
            answer.detail
        );
        let none = verdict(Incident::BkTokenWiped, Some("web"), &[], &Locks::new());
        assert_eq!(
            (none.current, none.detail.as_str()),
            (Some(true), "bot web has no bound_keypair token")
        );
    }

    #[test]
    fn a_bound_key_that_is_not_ssh_and_a_token_without_a_bot_are_said_so() {
        let mut odd = token("standard", 2, 1, true);
        if let Found::BoundKeypair(state) = &mut odd.found {
            state.bound_key_fingerprint = None;
            state.bound_key_algorithm = None;
        }
        let answer = verdict(Incident::BkKeypairLost, Some("web"), &[odd], &no_locks());
        assert!(
            answer.detail.contains("a bound key that is not an SSH key"),
            "{}",
            answer.detail
        );
        // The log named a token that is gone and no bot (no --bot): no locks to look up.
        let gone = TokenNow {
            name: "bot-web-1".to_string(),
            bot: String::new(),
            found: Found::Missing,
        };
        let answer = verdict(Incident::BkTokenWiped, None, &[gone], &Locks::new());
        assert_eq!(answer.current, Some(true));
        assert_eq!(
            answer.detail,
            "token bot-web-1 does not exist; no bot to check locks for"
        );
    }

    #[test]
    fn s11_is_unknown_but_names_the_bound_key_to_compare() {
        let answer = verdict(
            Incident::BkKeypairLost,
            Some("web"),
            &[token("standard", 2, 1, true)],
            &no_locks(),
        );
        assert_eq!(answer.current, None);
        assert!(
            answer.detail.contains("bound key SHA256:"),
            "{}",
            answer.detail
        );
        assert!(
            answer.detail.contains("ssh-keygen -lf id_bkp.pub"),
            "{}",
            answer.detail
        );
    }

    #[test]
    fn one_current_token_makes_the_fleet_current_and_an_unknown_one_unknown() {
        let mut other = token("standard", 5, 2, true);
        other.name = "bot-db-1".to_string();
        other.bot = "db".to_string();
        let locks: Locks = [
            ("web".to_string(), vec!["l-1 (x)".to_string()]),
            ("db".to_string(), Vec::new()),
        ]
        .into();
        let answer = verdict(
            Incident::BkRollback,
            None,
            &[token("standard", 5, 2, true), other.clone()],
            &locks,
        );
        assert_eq!(answer.current, Some(true));
        assert!(
            answer.detail.contains("no lock in force on bot db"),
            "{}",
            answer.detail
        );
        other.found = Found::OtherMethod("token".to_string());
        let answer = verdict(Incident::BkRollback, None, &[other], &locks);
        assert_eq!(answer.current, None);
        assert!(
            answer.detail.contains("is of join method token"),
            "{}",
            answer.detail
        );
    }
}
