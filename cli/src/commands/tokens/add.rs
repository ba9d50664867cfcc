//! `mwictl tokens add --bot NAME [--ttl]`: issues a one-time join token for an existing bot and
//! prints the tbot start line that uses it.

use std::time::Duration;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::tokens::{issue_for_existing_bot, tbot_start_command};
use crate::output::Output;
use crate::resource::{format_go_duration, format_timestamp, parse_go_duration};

/// Issue a one-time join token for a bot (a new bot instance joins with it).
///
/// The token is 32 hex characters with roles [Bot] and join method `token`, like the ones
/// `tctl bots add` makes; it is spent by the first successful join. Prints the token, when it
/// expires and the `tbot start` line that uses it (with this connection's auth server address).
/// Exit 3 when the bot does not exist. JSON/YAML: `{token, bot, expires, ttl, join_method,
/// tbot_start}`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The bot the token joins as.
    #[arg(long, value_name = "NAME")]
    pub bot: String,

    /// How long the token stays valid, e.g. 30m or 2h.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_ttl)]
    pub ttl: Duration,
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
}

impl Output for TokenIssued {
    fn text(&self) -> String {
        format!(
            "The bot token: {}\nThis token will expire in {} (at {}); it is spent by the first successful join.\n\nStart tbot with it:\n{}\n",
            self.token, self.lifetime, self.expires, self.tbot_start
        )
    }

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

pub async fn run(ctx: &Context, args: AddArgs) -> Result<ExitStatus, CommandError> {
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
    };
    ctx.printer().print(&out)?;
    Ok(ExitStatus::Success)
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
    fn lifetime_is_in_minutes_like_tctl() {
        assert_eq!(lifetime(DEFAULT_TOKEN_TTL), "60 minutes");
        assert_eq!(lifetime(Duration::from_secs(60)), "1 minute");
        assert_eq!(lifetime(Duration::from_secs(90)), "1m30s");
    }
}
