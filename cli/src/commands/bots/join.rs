//! The join token `bots add` and `bots instances add` issue: the flags choosing it (bound-keypair
//! by default as in tctl 19, `--legacy` for a one-time token) and what both print about it.

use std::time::Duration;

use crate::commands::tokens::add::{TokenIssued, bound_keypair_issued, bound_keypair_onboarding};
use crate::error::CommandError;
use crate::ops::bots::{IssuedJoin, JoinAddress, JoinToken, NewJoin};
use crate::ops::bound_keypair::RECOVERY_MODES;
use crate::output::Output;

/// How the bot joins: a bound-keypair token unless --legacy.
#[derive(Debug, Clone, clap::Args)]
pub struct JoinFlags {
    /// Issue a one-time `token` join (what tctl did before Teleport 19) instead of a
    /// bound-keypair token.
    #[arg(long, conflicts_with_all = ["initial_public_key", "recovery_mode", "recovery_limit"])]
    pub legacy: bool,

    /// The bot's public key (the authorized_keys line `tbot keypair create` prints); no
    /// registration secret is made.
    #[arg(long, value_name = "KEY")]
    pub initial_public_key: Option<String>,

    /// standard (the limit holds, join state checked), relaxed (no limit) or insecure (no
    /// limit, no join state; needed for static keys).
    #[arg(long, value_name = "MODE",
          value_parser = clap::builder::PossibleValuesParser::new(RECOVERY_MODES))]
    pub recovery_mode: Option<String>,

    /// How many recoveries mode standard allows; onboarding is the first [default: 1].
    #[arg(long, value_name = "N")]
    pub recovery_limit: Option<u32>,
}

impl JoinFlags {
    /// The token to issue; the registration secret (or the one-time token) works for `ttl`.
    pub fn new_join(&self, ttl: Duration) -> Result<NewJoin, CommandError> {
        if self.legacy {
            return Ok(NewJoin::Token { ttl });
        }
        Ok(NewJoin::BoundKeypair(bound_keypair_onboarding(
            self.initial_public_key.as_deref(),
            self.recovery_mode.as_deref().unwrap_or("standard"),
            self.recovery_limit.unwrap_or(1),
            ttl,
        )?))
    }
}

/// A token just issued for a bot, ready to print.
#[derive(Debug, Clone)]
pub enum Join {
    Legacy(JoinToken),
    BoundKeypair {
        issued: Box<TokenIssued>,
        ttl: Duration,
        user_name: String,
        role_name: String,
    },
}

/// What to print about `token`, issued for `bot` to work for `ttl`, for tbot connecting to
/// `address`.
pub fn join(
    token: IssuedJoin,
    bot: &str,
    ttl: Duration,
    address: JoinAddress,
    (user_name, role_name): (String, String),
) -> Join {
    match token {
        IssuedJoin::BoundKeypair(issued, onboarding) => Join::BoundKeypair {
            issued: Box::new(bound_keypair_issued(
                issued,
                bot,
                &onboarding,
                ttl,
                &address.addr,
                address.via_proxy,
            )),
            ttl,
            user_name,
            role_name,
        },
        IssuedJoin::Token(token) => Join::Legacy(JoinToken {
            token,
            ttl,
            address,
            user_name,
            role_name,
        }),
    }
}

impl Join {
    /// tctl's output: the joining URI and the tbot command (a bound-keypair token, printed as
    /// `tokens add` prints it), or the one-time token and its start line.
    pub fn text(&self) -> String {
        match self {
            Join::Legacy(token) => token.text(),
            Join::BoundKeypair { issued, .. } => issued.text(),
        }
    }

    /// tctl's fields `{user_name, role_name, token_id, token_ttl}` and `expires`; a bound-keypair
    /// token adds what `tokens add` reports (`join_method`, `join_uri`, `registration_secret`, ...).
    pub fn json(&self) -> serde_json::Map<String, serde_json::Value> {
        match self {
            Join::Legacy(token) => token.json(),
            Join::BoundKeypair {
                issued,
                ttl,
                user_name,
                role_name,
            } => {
                let mut map = match issued.json() {
                    serde_json::Value::Object(map) => map,
                    _ => serde_json::Map::new(),
                };
                map.insert("user_name".into(), user_name.clone().into());
                map.insert("role_name".into(), role_name.clone().into());
                map.insert("token_id".into(), issued.token.clone().into());
                map.insert(
                    "token_ttl".into(),
                    u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX).into(),
                );
                map
            }
        }
    }

    /// The bot's user.
    pub fn user_name(&self) -> &str {
        match self {
            Join::Legacy(token) => &token.user_name,
            Join::BoundKeypair { user_name, .. } => user_name,
        }
    }
}
