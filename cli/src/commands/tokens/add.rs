//! `mwictl tokens add --bot NAME [--ttl] [--join-method token|bound_keypair ...]`: issues a join
//! token for an existing bot and prints the tbot start line that uses it.

use std::time::{Duration, SystemTime};

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::bound_keypair::{self, Onboarding, RECOVERY_MODES};
use crate::ops::tokens::{check_bot_exists, issue_for_existing_bot, tbot_start_command};
use crate::output::Output;
use crate::resource::{format_go_duration, format_timestamp, parse_go_duration};

/// Issue a join token for a bot (a new bot instance joins with it).
///
/// Join method `token` (the default): 32 hex characters with roles [Bot], like the ones `tctl
/// bots add` made before Teleport 19; it is spent by the first successful join and expires after
/// --ttl.
///
/// Join method `bound_keypair` (Teleport 18.1+, tctl 19's default): a token named
/// `bot-BOT-XXXXXXXX` that the bot keeps using; on its first join the bot registers a key with the
/// registration secret the server makes (usable for --ttl), or joins with the key given as
/// --initial-public-key (from `tbot keypair create`). Every later join proves the key; a join
/// after the bot's certificates expired is a recovery, allowed --recovery-limit times in mode
/// standard (onboarding counts as one).
///
/// Prints the token, the registration secret, when it must be used and the `tbot start` line
/// (with this connection's auth server address). Exit 3 when the bot does not exist.
/// JSON/YAML: `{token, bot, expires, ttl, join_method, tbot_start}`, for bound_keypair also
/// `{registration_secret, must_register_before, initial_key_fingerprint, recovery_mode,
/// recovery_limit, join_uri, tbot_start_join_uri}`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The bot the token joins as.
    #[arg(long, value_name = "NAME")]
    pub bot: String,

    /// How long the token (bound_keypair: its registration secret) stays valid, e.g. 30m or 2h.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_ttl)]
    pub ttl: Duration,

    /// The join method of the token.
    #[arg(long, value_name = "METHOD", default_value = "token",
          value_parser = clap::builder::PossibleValuesParser::new(["token", bound_keypair::METHOD]))]
    pub join_method: String,

    /// bound_keypair: the bot's public key (the authorized_keys line `tbot keypair create`
    /// prints); no registration secret is made.
    #[arg(long, value_name = "KEY")]
    pub initial_public_key: Option<String>,

    /// bound_keypair: standard (the limit holds, join state checked), relaxed (no limit) or
    /// insecure (no limit, no join state; needed for static keys).
    #[arg(long, value_name = "MODE", default_value = "standard",
          value_parser = clap::builder::PossibleValuesParser::new(RECOVERY_MODES))]
    pub recovery_mode: String,

    /// bound_keypair: how many recoveries mode standard allows; onboarding is the first.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub recovery_limit: u32,
}

fn parse_ttl(text: &str) -> Result<Duration, String> {
    match parse_go_duration(text) {
        Ok(d) if d.is_zero() => Err("a token must live longer than 0s".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

/// An issued token and how to use it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenIssued {
    pub token: String,
    pub bot: String,
    /// RFC 3339.
    pub expires: String,
    /// Go duration text, like `1h0m0s`.
    pub ttl: String,
    pub join_method: String,
    /// The command that starts tbot with the token.
    pub tbot_start: String,
    /// The lifetime as tctl words it (`60 minutes`).
    #[serde(skip)]
    pub lifetime: String,
    /// Set for a bound_keypair token.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub bound_keypair: Option<BoundKeypairIssued>,
}

/// What a bound_keypair token adds to [`TokenIssued`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BoundKeypairIssued {
    /// The one-time secret the bot registers its key with; none with a preregistered key.
    pub registration_secret: Option<String>,
    /// RFC 3339; none with a preregistered key.
    pub must_register_before: Option<String>,
    pub initial_key_fingerprint: Option<String>,
    pub recovery_mode: String,
    pub recovery_limit: u32,
    /// tbot's `--join-uri` for the token.
    pub join_uri: String,
    /// The command tctl 19 prints: tbot started with the joining URI alone.
    pub tbot_start_join_uri: String,
}

impl Output for TokenIssued {
    fn text(&self) -> String {
        if let Some(bk) = &self.bound_keypair {
            return bound_keypair_text(self, bk);
        }
        format!(
            "The bot token: {}\nThis token will expire in {} (at {}); it is spent by the first successful join.\n\nStart tbot with it:\n{}\n",
            self.token, self.lifetime, self.expires, self.tbot_start
        )
    }

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// tctl 19's shape (gravitational/teleport#63422): the joining URI, how long it works, then the
/// tbot command that uses it; the token's facts and tbot's separate flags follow.
fn bound_keypair_text(t: &TokenIssued, bk: &BoundKeypairIssued) -> String {
    let onboarding = match (&bk.registration_secret, &bk.initial_key_fingerprint) {
        (Some(_), _) => format!(
            "This token must be used within {} after which it must be recreated (before {}).\n",
            t.lifetime,
            bk.must_register_before.as_deref().unwrap_or("-"),
        ),
        (None, Some(fingerprint)) => format!(
            "The bot joins with its preregistered key {fingerprint} (its private key in tbot's data dir, from `tbot keypair create`); no secret is needed.\n"
        ),
        (None, None) => String::new(),
    };
    let secret = bk
        .registration_secret
        .as_deref()
        .map(|s| format!(", registration secret {s}"))
        .unwrap_or_default();
    let limit = match bk.recovery_mode.as_str() {
        "standard" => format!("{} (onboarding is the first)", bk.recovery_limit),
        _ => "not enforced".to_owned(),
    };
    format!(
        "The bot joining URI: {}\n{onboarding}\n\
         Run this on the bot's host, as the user tbot runs as, to join:\n\n{}\n\n\
         The bot token: {} (join method bound_keypair, for bot {}{secret})\n\
         Recovery mode {}, limit {limit}.\n\
         The bot keeps the token: it proves its key at every renewal, and joins again with it after its certificates expire.\n\n\
         Or start tbot with separate flags:\n{}\n",
        bk.join_uri, bk.tbot_start_join_uri, t.token, t.bot, bk.recovery_mode, t.tbot_start
    )
}

pub async fn run(ctx: &Context, args: AddArgs) -> Result<ExitStatus, CommandError> {
    if args.join_method == bound_keypair::METHOD {
        return run_bound_keypair(ctx, args).await;
    }
    if args.initial_public_key.is_some() {
        return Err(CommandError::usage(
            "--initial-public-key is for --join-method bound_keypair",
        ));
    }
    let (client, resolved) = ctx.connected().await?;
    let issued = issue_for_existing_bot(client, &args.bot, args.ttl).await?;
    let out = TokenIssued {
        tbot_start: tbot_start_command(
            &issued.name,
            &resolved.target.addr,
            resolved.target.via_proxy,
        ),
        expires: format_timestamp(&prost_types::Timestamp::from(issued.expires)),
        ttl: format_go_duration(args.ttl),
        lifetime: lifetime(args.ttl),
        token: issued.name,
        bot: issued.bot,
        join_method: "token".to_owned(),
        bound_keypair: None,
    };
    ctx.printer().print(&out)?;
    Ok(ExitStatus::Success)
}

async fn run_bound_keypair(ctx: &Context, args: AddArgs) -> Result<ExitStatus, CommandError> {
    let onboarding = bound_keypair_onboarding(
        args.initial_public_key.as_deref(),
        &args.recovery_mode,
        args.recovery_limit,
        args.ttl,
    )?;
    let (client, resolved) = ctx.connected().await?;
    check_bot_exists(client, &args.bot).await?;
    let name = bound_keypair::token_name(&args.bot)?;
    let token = bound_keypair::token(&name, &args.bot, &onboarding);
    let issued = bound_keypair::issue(client, &token).await?;
    let (addr, via_proxy) = (&resolved.target.addr, resolved.target.via_proxy);
    let out = bound_keypair_issued(issued, &args.bot, &onboarding, args.ttl, addr, via_proxy);
    ctx.printer().print(&out)?;
    Ok(ExitStatus::Success)
}

/// A new bound-keypair token's onboarding from the flags `tokens add`, `bots add` and `bots
/// instances add` share: the registration secret (or the preregistered key) works for `ttl`.
pub fn bound_keypair_onboarding(
    initial_public_key: Option<&str>,
    recovery_mode: &str,
    recovery_limit: u32,
    ttl: Duration,
) -> Result<Onboarding, CommandError> {
    Ok(Onboarding {
        initial_public_key: initial_public_key
            .map(bound_keypair::check_public_key)
            .transpose()?,
        must_register_before: Some(SystemTime::now() + ttl),
        recovery_mode: recovery_mode.to_owned(),
        recovery_limit,
    })
}

/// What to print about a bound-keypair token just issued for `bot` with `onboarding`, for tbot
/// connecting to `addr` (the proxy when `via_proxy`).
pub fn bound_keypair_issued(
    issued: bound_keypair::Issued,
    bot: &str,
    onboarding: &Onboarding,
    ttl: Duration,
    addr: &str,
    via_proxy: bool,
) -> TokenIssued {
    let secret = issued.registration_secret.as_deref();
    let preregistered = onboarding.initial_public_key.as_deref();
    let join_uri = bound_keypair::join_uri(&issued.name, secret, addr, via_proxy);
    TokenIssued {
        tbot_start: bound_keypair::tbot_start(&issued.name, secret, addr, via_proxy),
        expires: "never".to_owned(),
        ttl: format_go_duration(ttl),
        lifetime: lifetime(ttl),
        bot: bot.to_owned(),
        join_method: bound_keypair::METHOD.to_owned(),
        bound_keypair: Some(BoundKeypairIssued {
            must_register_before: onboarding
                .must_register_before
                .filter(|_| preregistered.is_none())
                .map(|t| format_timestamp(&prost_types::Timestamp::from(t))),
            initial_key_fingerprint: preregistered
                .and_then(bound_keypair::fingerprint)
                .map(|f| f.0),
            recovery_mode: onboarding.recovery_mode.clone(),
            recovery_limit: onboarding.recovery_limit,
            tbot_start_join_uri: bound_keypair::tbot_start_join_uri(&join_uri),
            join_uri,
            registration_secret: issued.registration_secret,
        }),
        token: issued.name,
    }
}

/// Whole minutes as tctl says them (`60 minutes`); anything finer as a Go duration.
fn lifetime(ttl: Duration) -> String {
    let secs = ttl.as_secs();
    if secs.is_multiple_of(60) && ttl.subsec_nanos() == 0 {
        match secs / 60 {
            1 => "1 minute".to_owned(),
            minutes => format!("{minutes} minutes"),
        }
    } else {
        format_go_duration(ttl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::tokens::DEFAULT_TOKEN_TTL;

    #[test]
    fn default_ttl_is_teleports_hour() {
        assert_eq!(parse_ttl("1h"), Ok(DEFAULT_TOKEN_TTL));
        assert!(parse_ttl("0s").is_err());
    }

    #[test]
    fn a_bound_keypair_token_with_a_preregistered_key_says_no_secret_is_needed() {
        let issued = TokenIssued {
            token: "bot-example-0a6f812a".into(),
            bot: "example".into(),
            expires: "never".into(),
            ttl: "1h0m0s".into(),
            join_method: "bound_keypair".into(),
            tbot_start: bound_keypair::tbot_start("bot-example-0a6f812a", None, "auth:3025", false),
            lifetime: "60 minutes".into(),
            bound_keypair: Some(BoundKeypairIssued {
                registration_secret: None,
                must_register_before: None,
                initial_key_fingerprint: Some(
                    "SHA256:23i19WvFyPGr/E7rMY7KpdnNO28MtUnxPzIsZjGnHy4".into(),
                ),
                recovery_mode: "insecure".into(),
                recovery_limit: 1,
                join_uri: bound_keypair::join_uri("bot-example-0a6f812a", None, "auth:3025", false),
                tbot_start_join_uri: bound_keypair::tbot_start_join_uri(
                    "tbot+auth+bound-keypair://bot-example-0a6f812a@auth:3025",
                ),
            }),
        };
        insta::assert_snapshot!(issued.text());
        let json = issued.json();
        assert_eq!(json["registration_secret"], serde_json::Value::Null);
        assert_eq!(json["recovery_mode"], "insecure");
    }

    #[test]
    fn lifetime_is_in_minutes_like_tctl() {
        assert_eq!(lifetime(DEFAULT_TOKEN_TTL), "60 minutes");
        assert_eq!(lifetime(Duration::from_secs(60)), "1 minute");
        assert_eq!(lifetime(Duration::from_secs(90)), "1m30s");
    }
}
