//! Bot join tokens as `tctl bots add` makes them (32 hex characters, role Bot, join method
//! token), the tbot start line that uses one, and the masked form listings show.

use std::time::{Duration, SystemTime};

use mwi_proto::types::{Metadata, ProvisionTokenSpecV2, ProvisionTokenV2};

use crate::client::Client;
use crate::error::CommandError;

/// Teleport's default lifetime of a bot join token (`defaults.DefaultBotJoinTTL`).
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// How many leading characters of a token a masked listing shows.
pub const SHOWN_PREFIX: usize = 4;

/// tbot's default internal storage directory.
pub const TBOT_DATA_DIR: &str = "/var/lib/teleport/bot";

/// A join token just created for a bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token's name, which is its secret.
    pub name: String,
    pub bot: String,
    pub expires: SystemTime,
}

/// Creates a one-time join token for `bot` valid for `ttl`: a name of 16 random bytes in hex,
/// `roles: [Bot]`, `join_method: token`, `bot_name: bot`, sent with `CreateTokenV2`. The caller
/// checks that the bot exists.
pub async fn issue_bot_token(
    client: &Client,
    bot: &str,
    ttl: Duration,
) -> Result<IssuedToken, CommandError> {
    let name = new_token_name()?;
    let expires = SystemTime::now() + ttl;
    let token = bot_token(&name, bot, expires);
    client.create_token(&token).await?;
    Ok(IssuedToken {
        name,
        bot: bot.to_owned(),
        expires,
    })
}

/// Like [`issue_bot_token`], after [`check_bot_exists`].
pub async fn issue_for_existing_bot(
    client: &Client,
    bot: &str,
    ttl: Duration,
) -> Result<IssuedToken, CommandError> {
    check_bot_exists(client, bot).await?;
    issue_bot_token(client, bot, ttl).await
}

/// A missing bot is a not-found error with hints to create or list bots.
pub async fn check_bot_exists(client: &Client, bot: &str) -> Result<(), CommandError> {
    match client.get_bot(bot).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Err(CommandError::not_found(format!(
            "bot {bot:?} not found"
        ))
        .hint(format!(
            "create it with `mwictl bots add {bot} --roles ROLE,...`, or list bots with `mwictl get bots`"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The token resource of [`issue_bot_token`].
pub fn bot_token(name: &str, bot: &str, expires: SystemTime) -> ProvisionTokenV2 {
    ProvisionTokenV2 {
        kind: "token".into(),
        version: "v2".into(),
        metadata: Some(Metadata {
            name: name.into(),
            expires: Some(prost_types::Timestamp::from(expires)),
            ..Default::default()
        }),
        spec: Some(ProvisionTokenSpecV2 {
            roles: vec!["Bot".into()],
            join_method: "token".into(),
            bot_name: bot.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// 16 bytes from the system's secure random source, in hex (Teleport's token length).
pub fn new_token_name() -> Result<String, CommandError> {
    let mut bytes = [0u8; 16];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| {
            CommandError::failure("cannot read the system's random source to make a token")
        })?;
    Ok(hex::encode(bytes))
}

/// The command that starts tbot with `token` against the auth server (or, `via_proxy`, the
/// proxy) at `addr`, writing its internal data to tbot's default dir and an identity to
/// `./tbot-user`.
pub fn tbot_start_command(token: &str, addr: &str, via_proxy: bool) -> String {
    let server = if via_proxy {
        "--proxy-server"
    } else {
        "--auth-server"
    };
    format!(
        "tbot start --data-dir={TBOT_DATA_DIR} --destination-dir=./tbot-user --token={token} \
         {server}={addr} --join-method=token"
    )
}

/// A token name with all but its first [`SHOWN_PREFIX`] characters replaced by `*`, so a
/// listing identifies tokens without revealing them.
pub fn mask_token(name: &str) -> String {
    let shown: String = name.chars().take(SHOWN_PREFIX).collect();
    let hidden = name.chars().count().saturating_sub(SHOWN_PREFIX);
    format!("{shown}{}", "*".repeat(hidden))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_names_are_32_hex_characters_and_differ() {
        let a = new_token_name().unwrap();
        let b = new_token_name().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn bot_token_has_teleports_shape() {
        let expires = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = bot_token("abc", "example", expires);
        let spec = token.spec.unwrap();
        assert_eq!(spec.roles, vec!["Bot"]);
        assert_eq!(spec.join_method, "token");
        assert_eq!(spec.bot_name, "example");
        let meta = token.metadata.unwrap();
        assert_eq!(meta.name, "abc");
        assert_eq!(meta.expires.unwrap().seconds, 1_700_000_000);
    }

    #[test]
    fn masked_token_keeps_only_its_first_four_characters() {
        assert_eq!(mask_token("0123456789abcdef"), "0123************");
        assert_eq!(mask_token("ab"), "ab");
    }

    #[test]
    fn start_line_names_the_server_kind() {
        assert_eq!(
            tbot_start_command("T", "auth:3025", false),
            "tbot start --data-dir=/var/lib/teleport/bot --destination-dir=./tbot-user --token=T --auth-server=auth:3025 --join-method=token"
        );
        assert!(tbot_start_command("T", "proxy:443", true).contains("--proxy-server=proxy:443"));
    }
}
