//! `mwictl bots show NAME`: one bot's roles, traits, logins and TTL, the locks that block it
//! (and why), its instances and its join tokens (masked).

use std::time::SystemTime;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::bots::{
    BotDetails, BotToken, bot_name, details, logins, max_session_ttl, user_and_role,
};
use crate::ops::instances::{HEADERS as INSTANCE_HEADERS, time_text};
use crate::ops::tokens::mask_token;
use crate::output::{Listed, Output, Table, lock_json, terminal_width};
use crate::resource::format_go_duration;

use super::leftover_locks::lock_table;

/// Show a bot: roles, traits, logins, max session TTL, locks, instances and join tokens.
///
/// Locks are the in-force ones that block the bot, each with why it matches (its user or role
/// `bot-NAME`, one of its instances, one of its join tokens). Each token shows its join method
/// and, for a bound-keypair token, its recovery headroom (`left/limit left` in mode standard,
/// else the mode and how many were used); a token in mode insecure is flagged with the recover
/// run that switched it and the command that restores it, or warned about when no run did. Names of `token`-method tokens are secrets and are
/// shown masked; a bound-keypair token's name is not secret and is shown whole.
///
/// JSON: `{name, user_name, role_name, roles, missing_roles, logins, traits, max_session_ttl,
/// status, live_instances, locks: [{id, target, reason, message, expires}], instances: [as `bots
/// instances ls`], tokens: [{token, expires, join_method, recovery_mode, recovery_count,
/// recovery_limit, recoveries_left, insecure}]}`; `insecure` flags a token in mode insecure:
/// `{run_id, restore, message}` (run_id: the unfinished recover run that switched it, or null); `traits` maps names to value lists, `token` is masked
/// for method `token`, the recovery fields are null for other methods; `missing_roles` are roles of the bot that do not exist (marked MISSING in text).
/// Exit 3 when the bot does not exist.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The bot's name.
    pub name: String,
}

/// The details, ready to print.
pub struct BotView(pub BotDetails);

impl BotView {
    fn fields(&self) -> (String, String, String) {
        let bot = &self.0.bot.value;
        let (user, role) = user_and_role(bot);
        (bot_name(bot).to_owned(), user, role)
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// The roles, each missing one marked: the bot cannot use a role that was deleted.
fn roles_text(roles: &[String], missing: &[String]) -> String {
    let marked: Vec<String> = roles
        .iter()
        .map(|r| match missing.contains(r) {
            true => {
                format!("{r} (MISSING: recreate it or `mwictl bots update BOT --remove-roles {r}`)")
            }
            false => r.clone(),
        })
        .collect();
    list_or_none(&marked)
}

impl Output for BotView {
    fn text(&self) -> String {
        let d = &self.0;
        let (name, user, role) = self.fields();
        let spec = d.bot.value.spec.clone().unwrap_or_default();
        let traits: Vec<String> = spec
            .traits
            .iter()
            .map(|t| format!("{}={}", t.name, t.values.join(",")))
            .collect();
        let ttl = max_session_ttl(&spec).map_or_else(
            || "not set (the server's default, 12h)".into(),
            format_go_duration,
        );
        let mut out = format!(
            "Bot:             {name}\n\
             User:            {user}\n\
             Role:            {role}\n\
             Roles:           {}\n\
             Logins:          {}\n\
             Traits:          {}\n\
             Max session TTL: {ttl}\n\
             Status:          {}\n",
            roles_text(&spec.roles, &d.missing_roles),
            list_or_none(&logins(&spec)),
            if traits.is_empty() {
                "none".into()
            } else {
                traits.join(" ")
            },
            d.health().text(),
        );
        let width = terminal_width(&console::Term::stdout());
        if d.locks.is_empty() {
            out.push_str("\nLocks in force: none\n");
        } else {
            out.push_str(&format!("\nLocks in force ({}):\n", d.locks.len()));
            out.push_str(&lock_table(&d.locks, width).render());
            out.push_str(&format!(
                "Remove {} with `mwictl unlock --bot {name}`.\n",
                if d.locks.len() == 1 { "it" } else { "them" }
            ));
        }
        if d.instances.is_empty() {
            out.push_str(&format!(
                "\nInstances: none; add one with `mwictl bots instances add {name}`\n"
            ));
        } else {
            out.push_str(&format!(
                "\nInstances ({}, {} live):\n",
                d.instances.len(),
                d.live_instances
            ));
            let mut table = Table::new(INSTANCE_HEADERS);
            for row in &d.instances {
                table.push(row.row());
            }
            out.push_str(&table.render());
        }
        if d.tokens.is_empty() {
            out.push_str("\nJoin tokens: none\n");
        } else {
            out.push_str(&format!("\nJoin tokens ({}):\n", d.tokens.len()));
            let mut table = Table::new(&["Token", "Method", "Recoveries", "Expires"]);
            for t in &d.tokens {
                table.push(vec![
                    shown_token(t),
                    t.join_method.clone(),
                    t.headroom
                        .as_ref()
                        .map_or_else(|| "-".into(), |h| h.short()),
                    // A token without metadata.expires (bound-keypair ones) lives until deleted.
                    t.expires
                        .as_ref()
                        .map_or_else(|| "never".into(), |e| time_text(Some(e))),
                ]);
            }
            out.push_str(&table.render());
            for t in &d.tokens {
                if let Some(flag) = t.headroom.as_ref().and_then(|h| h.insecure.as_ref()) {
                    out.push_str(&format!(
                        "Token {} is in mode insecure: {}\n",
                        t.name, flag.message
                    ));
                }
            }
        }
        out
    }

    fn json(&self) -> serde_json::Value {
        let d = &self.0;
        let (name, user, role) = self.fields();
        let spec = d.bot.value.spec.clone().unwrap_or_default();
        let traits: serde_json::Map<String, serde_json::Value> = spec
            .traits
            .iter()
            .map(|t| (t.name.clone(), serde_json::json!(t.values)))
            .collect();
        serde_json::json!({
            "name": name,
            "user_name": user,
            "role_name": role,
            "roles": spec.roles,
            "missing_roles": d.missing_roles,
            "logins": logins(&spec),
            "traits": traits,
            "max_session_ttl": max_session_ttl(&spec).map(format_go_duration),
            "status": d.health().as_str(),
            "live_instances": d.live_instances,
            "locks": d.locks.iter().map(|l| lock_json(&l.lock.value, &l.reason)).collect::<Vec<_>>(),
            "instances": d.instances.iter().map(Listed::json).collect::<Vec<_>>(),
            "tokens": d.tokens.iter().map(|t| serde_json::json!({
                "token": shown_token(t),
                "expires": t.expires.as_ref().map(crate::resource::format_timestamp),
                "join_method": t.join_method,
                "recovery_mode": t.headroom.as_ref().map(|h| &h.recovery_mode),
                "recovery_count": t.headroom.as_ref().map(|h| h.recovery_count),
                "recovery_limit": t.headroom.as_ref().map(|h| h.recovery_limit),
                "recoveries_left": t.headroom.as_ref().and_then(|h| h.recoveries_left),
                "insecure": t.headroom.as_ref().and_then(|h| h.insecure.as_ref()),
            })).collect::<Vec<_>>(),
        })
    }
}

/// A bound-keypair token's name is not secret (the key is); any other token's name is masked.
fn shown_token(t: &BotToken) -> String {
    if t.headroom.is_some() {
        t.name.clone()
    } else {
        mask_token(&t.name)
    }
}

pub async fn run(ctx: &Context, args: ShowArgs) -> Result<ExitStatus, CommandError> {
    let client = ctx.client().await?;
    let mut view = BotView(details(client, &args.name, SystemTime::now()).await?);
    let switched = crate::recover::insecure::switched(&ctx.home()?.state_dir());
    for h in view.0.tokens.iter_mut().filter_map(|t| t.headroom.as_mut()) {
        h.insecure = crate::recover::insecure::flag(&h.token, &h.recovery_mode, &switched);
    }
    ctx.printer().print(&view)?;
    Ok(ExitStatus::Success)
}
