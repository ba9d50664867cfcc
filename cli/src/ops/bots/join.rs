//! Joining a bot: the join token `bots add` and `bots instances add` issue (bound-keypair by
//! default, as tctl 19 does; a one-time `token` with `--legacy`), the locks that bear on a new
//! instance's join, and what the bots commands print about a one-time token.

use std::time::Duration;

use mwi_proto::machineid::Bot;
use mwi_proto::types::{LockTarget, LockV2};

use crate::client::{Client, Fetched};
use crate::error::CommandError;
use crate::ops::bound_keypair::{self, Issued, Onboarding};
use crate::ops::tokens::{IssuedToken, TBOT_DATA_DIR, issue_bot_token, tbot_start_command};
use crate::ops::unlock::{BlockingLock, bot_resource_name, find_blocking_locks};
use crate::resource::{format_go_duration, format_timestamp};

use super::calls::get;

/// The join token to issue for a bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewJoin {
    /// A one-time `token` join valid for `ttl` (tctl before v19, `--legacy` since).
    Token { ttl: Duration },
    /// A bound-keypair token (tctl 19's default, gravitational/teleport#63422).
    BoundKeypair(Onboarding),
}

/// The join token issued for a bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuedJoin {
    Token(IssuedToken),
    /// The token and the onboarding it was made with.
    BoundKeypair(Issued, Onboarding),
}

/// Issues the join token `join` describes for `bot` (whose existence the caller checked).
pub async fn issue_join(
    client: &Client,
    bot: &str,
    join: &NewJoin,
) -> Result<IssuedJoin, CommandError> {
    match join {
        NewJoin::Token { ttl } => Ok(IssuedJoin::Token(issue_bot_token(client, bot, *ttl).await?)),
        NewJoin::BoundKeypair(onboarding) => {
            let name = bound_keypair::token_name(bot)?;
            let token = bound_keypair::token(&name, bot, onboarding);
            Ok(IssuedJoin::BoundKeypair(
                bound_keypair::issue(client, &token).await?,
                onboarding.clone(),
            ))
        }
    }
}

/// A new join token for an existing bot, and the locks that bear on the join.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub bot: Fetched<Bot>,
    pub token: IssuedJoin,
    /// Locks on the bot's user or role: the join is refused while any is in force.
    pub refusing: Vec<BlockingLock>,
    /// Other locks of the bot (older instances, join tokens): they do not stop this join.
    pub other_locks: Vec<BlockingLock>,
}

/// Issues the token `join` describes for bot `bot` (which must exist), after reading the locks
/// that would refuse the join, so the caller can warn before anyone restarts tbot.
pub async fn add_instance(
    client: &Client,
    bot: &str,
    join: &NewJoin,
) -> Result<Ticket, CommandError> {
    let found = get(client, bot).await?;
    let (refusing, other_locks) = find_blocking_locks(client, bot)
        .await?
        .into_iter()
        .partition(|l| refuses_join(&l.lock.value, bot));
    let token = issue_join(client, bot, join).await?;
    Ok(Ticket {
        bot: found,
        token,
        refusing,
        other_locks,
    })
}

/// Whether `lock` refuses any new join of `bot`: it targets the bot's user or role, which every
/// certificate the join issues carries.
pub fn refuses_join(lock: &LockV2, bot: &str) -> bool {
    let user = bot_resource_name(bot);
    let target: LockTarget = lock
        .spec
        .as_ref()
        .and_then(|s| s.target.clone())
        .unwrap_or_default();
    target.user == user || target.role == user
}

/// Where tbot should connect, as the client reached the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinAddress {
    pub addr: String,
    pub via_proxy: bool,
}

impl JoinAddress {
    pub fn of(client: &Client) -> JoinAddress {
        let target = &client.connection().target;
        JoinAddress {
            addr: target.addr.clone(),
            via_proxy: target.via_proxy,
        }
    }
}

/// A token just issued for `bot` with `ttl`, ready to print.
#[derive(Debug, Clone)]
pub struct JoinToken {
    pub token: IssuedToken,
    pub ttl: Duration,
    pub address: JoinAddress,
    pub user_name: String,
    pub role_name: String,
}

impl JoinToken {
    /// The token, its lifetime, the tbot start line and what to watch for.
    pub fn text(&self) -> String {
        let name = &self.token.name;
        let start = tbot_start_command(name, &self.address.addr, self.address.via_proxy);
        format!(
            "The bot token: {name}\n\
             This token will expire in {}.\n\
             \n\
             Run this on the bot's host, as the user tbot runs as, to join:\n\
             \n\
             {start}\n\
             \n\
             Or put the token in tbot.yaml (onboarding.token) and restart tbot: a signal is not enough.\n\
             Notes:\n\
             - {TBOT_DATA_DIR} must be writable by that user, or pass another --data-dir.\n\
             - {} must be reachable from the bot's host.\n\
             - The token works once: a later instance needs `mwictl bots instances add {}`.\n",
            lifetime(self.ttl),
            self.address.addr,
            self.token.bot,
        )
    }

    /// tctl's fields `{user_name, role_name, token_id, token_ttl}` (the TTL in nanoseconds, as
    /// Go's duration marshals), plus `expires` (RFC 3339).
    pub fn json(&self) -> serde_json::Map<String, serde_json::Value> {
        let value = serde_json::json!({
            "user_name": self.user_name,
            "role_name": self.role_name,
            "token_id": self.token.name,
            "token_ttl": u64::try_from(self.ttl.as_nanos()).unwrap_or(u64::MAX),
            "expires": format_timestamp(&self.token.expires.into()),
        });
        match value {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        }
    }
}

/// `60 minutes` as tctl says it; under a minute, the Go duration.
fn lifetime(ttl: Duration) -> String {
    match ttl.as_secs() / 60 {
        0 => format_go_duration(ttl),
        1 => "1 minute".into(),
        n => format!("{n} minutes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::types::LockSpecV2;
    use std::time::SystemTime;

    #[test]
    fn only_user_and_role_locks_refuse_a_join() {
        let on = |target: LockTarget| LockV2 {
            spec: Some(LockSpecV2 {
                target: Some(target),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(refuses_join(
            &on(LockTarget {
                user: "bot-example".into(),
                ..Default::default()
            }),
            "example"
        ));
        assert!(refuses_join(
            &on(LockTarget {
                role: "bot-example".into(),
                ..Default::default()
            }),
            "example"
        ));
        assert!(!refuses_join(
            &on(LockTarget {
                bot_instance_id: "old".into(),
                ..Default::default()
            }),
            "example"
        ));
    }

    fn token() -> JoinToken {
        JoinToken {
            token: IssuedToken {
                name: "0123456789abcdef0123456789abcdef".into(),
                bot: "example".into(),
                expires: SystemTime::UNIX_EPOCH + Duration::from_secs(3600),
            },
            ttl: Duration::from_secs(3600),
            address: JoinAddress {
                addr: "auth.example.com:3025".into(),
                via_proxy: false,
            },
            user_name: "bot-example".into(),
            role_name: "bot-example".into(),
        }
    }

    #[test]
    fn text_has_the_token_its_lifetime_and_the_start_line() {
        let text = token().text();
        assert!(text.starts_with("The bot token: 0123456789abcdef0123456789abcdef\nThis token will expire in 60 minutes.\n"), "{text}");
        assert!(text.contains(
            "\ntbot start --data-dir=/var/lib/teleport/bot --destination-dir=./tbot-user --token=0123456789abcdef0123456789abcdef --auth-server=auth.example.com:3025 --join-method=token\n"
        ), "{text}");
    }

    #[test]
    fn json_has_tctls_fields_and_the_expiry() {
        let json = serde_json::Value::Object(token().json());
        assert_eq!(json["token_id"], "0123456789abcdef0123456789abcdef");
        assert_eq!(json["token_ttl"], 3_600_000_000_000u64);
        assert_eq!(json["user_name"], "bot-example");
        assert_eq!(json["expires"], "1970-01-01T01:00:00Z");
    }

    #[test]
    fn lifetimes_read_like_tctl() {
        assert_eq!(lifetime(Duration::from_secs(90)), "1 minute");
        assert_eq!(lifetime(Duration::from_secs(30)), "30s");
        assert_eq!(lifetime(Duration::from_secs(7200)), "120 minutes");
    }
}
