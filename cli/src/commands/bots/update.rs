//! `mwictl bots update NAME --add-roles ...`: changes a bot's roles, logins or max session TTL
//! with one conditional UpdateBot, keeping every field it does not change.

use std::time::Duration;

use clap::ArgGroup;
use mwi_proto::machineid::BotSpec;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::bots::{BotChanges, Update, logins, max_session_ttl, update};
use crate::output::Output;
use crate::resource::format_go_duration;

use crate::commands::flags::parse_duration;

/// Change a bot's roles, logins or max session TTL.
///
/// Reads the bot, applies the changes (--set-* replaces, then --remove-* drops, then --add-*
/// appends), checks that added roles exist, and sends one UpdateBot naming only the changed
/// fields (spec.roles, spec.traits, spec.max_session_ttl). The update is conditional on the
/// revision read: if the bot changed meanwhile it fails with exit 5. Fields this mwictl does not
/// know are sent back unchanged. The bot picks up new roles at its next renewal (20 minutes by
/// default), or at once when tbot restarts or gets SIGUSR1.
///
/// JSON: `{bot, changed, paths, before: {roles, logins, max_session_ttl}, after: {...}}`.
/// Exit 3 when the bot or an added role does not exist, 5 on a stale revision.
#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("change").required(true).multiple(true).args([
    "add_roles", "remove_roles", "set_roles", "add_logins", "remove_logins", "set_logins",
    "set_max_session_ttl",
])))]
pub struct UpdateArgs {
    /// The bot's name.
    pub name: String,

    /// Roles to add, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "ROLE,...")]
    pub add_roles: Vec<String>,

    /// Roles to remove, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "ROLE,...")]
    pub remove_roles: Vec<String>,

    /// Replace the roles with these, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "ROLE,...", conflicts_with_all = ["add_roles", "remove_roles"])]
    pub set_roles: Option<Vec<String>>,

    /// Logins to add to the `logins` trait, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "LOGIN,...")]
    pub add_logins: Vec<String>,

    /// Logins to remove, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "LOGIN,...")]
    pub remove_logins: Vec<String>,

    /// Replace the logins with these, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "LOGIN,...", conflicts_with_all = ["add_logins", "remove_logins"])]
    pub set_logins: Option<Vec<String>>,

    /// The longest certificate the bot may get, like 12h.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub set_max_session_ttl: Option<Duration>,
}

impl UpdateArgs {
    pub fn changes(&self) -> BotChanges {
        BotChanges {
            add_roles: self.add_roles.clone(),
            remove_roles: self.remove_roles.clone(),
            set_roles: self.set_roles.clone(),
            add_logins: self.add_logins.clone(),
            remove_logins: self.remove_logins.clone(),
            set_logins: self.set_logins.clone(),
            max_session_ttl: self.set_max_session_ttl,
        }
    }
}

/// The bot before and after, and what changed.
pub struct UpdateReport {
    pub bot: String,
    pub plan: Update,
}

/// Roles, logins and TTL of a spec, as JSON.
fn summary(spec: &BotSpec) -> serde_json::Value {
    serde_json::json!({
        "roles": spec.roles,
        "logins": logins(spec),
        "max_session_ttl": max_session_ttl(spec).map(format_go_duration),
    })
}

fn list_text(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(",")
    }
}

fn ttl_text(spec: &BotSpec) -> String {
    max_session_ttl(spec).map_or_else(|| "(default)".into(), format_go_duration)
}

impl Output for UpdateReport {
    fn text(&self) -> String {
        if self.plan.is_noop() {
            return String::new();
        }
        let before = self.plan.before.value.spec.clone().unwrap_or_default();
        let after = self.plan.after.value.spec.clone().unwrap_or_default();
        let mut out = format!("Bot {:?} has been updated:\n", self.bot);
        let mut line = |what: &str, old: String, new: String| {
            if old != new {
                out.push_str(&format!("  {what:<16} {old} -> {new}\n"));
            }
        };
        line("roles:", list_text(&before.roles), list_text(&after.roles));
        line(
            "logins:",
            list_text(&logins(&before)),
            list_text(&logins(&after)),
        );
        line("max session TTL:", ttl_text(&before), ttl_text(&after));
        out.push_str(
            "The bot picks this up at its next renewal (20 minutes by default), or at once when tbot restarts or gets SIGUSR1.\n",
        );
        out
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "bot": self.bot,
            "changed": !self.plan.is_noop(),
            "paths": self.plan.paths,
            "before": summary(&self.plan.before.value.spec.clone().unwrap_or_default()),
            "after": summary(&self.plan.after.value.spec.clone().unwrap_or_default()),
        })
    }
}

pub async fn run(ctx: &Context, args: UpdateArgs) -> Result<ExitStatus, CommandError> {
    let client = ctx.client().await?;
    let (plan, _) = update(client, &args.name, &args.changes()).await?;
    if plan.is_noop() {
        ctx.printer().status("No changes requested, nothing to do");
    }
    ctx.printer().print(&UpdateReport {
        bot: args.name,
        plan,
    })?;
    Ok(ExitStatus::Success)
}
