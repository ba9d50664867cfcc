//! `mwictl locks add`: creates a lock like `tctl lock`, on a user, role, login, bot instance or
//! join token, with an optional message and end.

use std::time::{Duration, SystemTime};

use clap::ArgGroup;
use mwi_proto::types::{LockTarget, LockV2};

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::locks::{NewLock, create_lock};
use crate::output::Output;
use crate::resource::{Resource, parse_go_duration, parse_timestamp, render_yaml};

/// Add a lock: every API call matching its target is refused while it is in force.
///
/// Give at least one target (several go into the one lock). The lock gets a new random UUID name
/// and never ends unless --ttl or --expires says when. Prints
/// `Created a lock with name "UUID".` (JSON and YAML: the lock). Remove it with
/// `mwictl unlock UUID`.
#[derive(Debug, clap::Args)]
#[command(group(
    ArgGroup::new("target")
        .required(true)
        .multiple(true)
        .args(["user", "role", "login", "bot_instance_id", "join_token"])
))]
pub struct AddArgs {
    /// Lock this user (a bot's user is `bot-NAME`).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Lock everyone holding this role.
    #[arg(long, value_name = "NAME")]
    pub role: Option<String>,

    /// Lock this login (OS user) on SSH servers.
    #[arg(long, value_name = "LOGIN")]
    pub login: Option<String>,

    /// Lock one bot instance by its UUID.
    #[arg(long, value_name = "UUID")]
    pub bot_instance_id: Option<String>,

    /// Lock the bots joined with this token.
    #[arg(long, value_name = "TOKEN")]
    pub join_token: Option<String>,

    /// Why: shown to whoever the lock refuses.
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub message: String,

    /// End the lock after this long, e.g. 30m or 12h.
    #[arg(long, value_name = "DURATION", value_parser = parse_ttl, conflicts_with = "expires")]
    pub ttl: Option<Duration>,

    /// End the lock at this time (RFC 3339, e.g. 2026-01-02T15:04:05Z).
    #[arg(long, value_name = "TIME", value_parser = parse_expires)]
    pub expires: Option<SystemTime>,
}

fn parse_ttl(text: &str) -> Result<Duration, String> {
    match parse_go_duration(text) {
        Ok(d) if d.is_zero() => Err("the lock would end at once; give a positive duration".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_expires(text: &str) -> Result<SystemTime, String> {
    let ts = parse_timestamp(text).map_err(|e| e.to_string())?;
    let time = SystemTime::try_from(ts).map_err(|_| format!("{text} is out of range"))?;
    if time <= SystemTime::now() {
        return Err(format!(
            "{text} is in the past; the lock would never be in force"
        ));
    }
    Ok(time)
}

/// The created lock.
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    pub lock: LockV2,
}

impl Output for Created {
    fn text(&self) -> String {
        let name = self.lock.metadata.as_ref().map_or("", |m| m.name.as_str());
        format!("Created a lock with name {name:?}.\n")
    }

    fn json(&self) -> serde_json::Value {
        Resource::Lock(self.lock.clone()).to_value()
    }

    fn yaml(&self) -> String {
        render_yaml(&[Resource::Lock(self.lock.clone())])
    }
}

pub async fn run(ctx: &Context, args: AddArgs) -> Result<ExitStatus, CommandError> {
    let target = LockTarget {
        user: args.user.unwrap_or_default(),
        role: args.role.unwrap_or_default(),
        login: args.login.unwrap_or_default(),
        bot_instance_id: args.bot_instance_id.unwrap_or_default(),
        join_token: args.join_token.unwrap_or_default(),
        ..Default::default()
    };
    let expires = args
        .expires
        .or_else(|| args.ttl.map(|ttl| SystemTime::now() + ttl));
    let new = NewLock {
        target,
        message: args.message,
        expires,
    };
    let lock = create_lock(ctx.client().await?, &new).await?;
    ctx.printer().print(&Created { lock })?;
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_takes_go_durations_and_refuses_zero() {
        assert_eq!(parse_ttl("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("soon").is_err());
    }

    #[test]
    fn expires_in_the_past_is_refused() {
        let err = parse_expires("2001-01-01T00:00:00Z").unwrap_err();
        assert!(err.contains("in the past"), "{err}");
        assert!(parse_expires("2999-01-01T00:00:00Z").is_ok());
    }
}
