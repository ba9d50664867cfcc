//! `mwictl bots ls`: every bot with its lock state, live instances and join tokens, so a stuck
//! bot stands out.

use std::io::Write;
use std::time::SystemTime;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::bots::{BotSummary, Health, overview};
use crate::ops::bound_keypair::Headroom;
use crate::output::{
    Fitting, Format, Items, Output, WriteError, fitted_table, terminal_width, write_json,
    yaml_document,
};
use crate::resource::format_go_duration;

/// List bots with their lock state, live instances and join tokens.
///
/// STATUS is `LOCKED` when an in-force lock blocks the bot (its user or role `bot-NAME`, a live
/// instance, or one of its join tokens), `no live instance` when no instance holds a usable
/// identity (tbot is not running, or its identity expired and it needs a new token), else `ok`.
/// INSTANCES is live/recorded. JOIN lists the join methods of the bot's tokens; RECOVERIES the
/// headroom of each bound-keypair token: `left/limit left` in recovery mode standard (a join
/// after the bot's certificates expired needs one; at `0/N left` it is refused with `no rejoins
/// remaining`), else the mode and how many were used.
///
/// JSON: an array of `{name, user_name, role_name, roles, logins, max_session_ttl, locks,
/// instances, live_instances, tokens, join_methods, bound_tokens: [{token, recovery_mode,
/// recovery_count, recovery_limit, recoveries_left, insecure}], status}`; `insecure` (only for a
/// token in mode insecure, also warned about on stderr) is `{run_id, restore, message}`, with
/// the recover run that switched it, or a null run_id when none did; `locks` holds lock IDs,
/// `max_session_ttl` is a Go duration or null, `recoveries_left` is null when the mode does not
/// enforce the limit, `status` is `ok`, `locked` or `no_live_instance`.
#[derive(Debug, clap::Args)]
pub struct LsArgs {}

/// The table columns.
const HEADERS: &[&str] = &[
    "Bot",
    "User",
    "Roles",
    "Locks",
    "Instances",
    "Tokens",
    "Join",
    "Recoveries",
    "Status",
];
/// The roles column is cut short to fit the terminal.
const SQUEEZE: usize = 2;

/// The bots, in name order.
pub struct BotList(pub Vec<BotSummary>);

fn summary_row(s: &BotSummary) -> Vec<String> {
    vec![
        s.name.clone(),
        s.user_name.clone(),
        s.roles.join(","),
        s.locks.len().to_string(),
        format!("{}/{}", s.live_instances, s.instances),
        s.tokens.to_string(),
        or_dash(s.join_methods.join(",")),
        or_dash(
            s.bound_tokens
                .iter()
                .map(Headroom::short)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        s.health().text().into(),
    ]
}

fn or_dash(text: String) -> String {
    if text.is_empty() { "-".into() } else { text }
}

fn summary_json(s: &BotSummary) -> serde_json::Value {
    serde_json::json!({
        "name": s.name,
        "user_name": s.user_name,
        "role_name": s.role_name,
        "roles": s.roles,
        "logins": s.logins,
        "max_session_ttl": s.max_session_ttl.map(format_go_duration),
        "locks": s.locks,
        "instances": s.instances,
        "live_instances": s.live_instances,
        "tokens": s.tokens,
        "join_methods": s.join_methods,
        "bound_tokens": s.bound_tokens,
        "status": s.health().as_str(),
    })
}

impl BotList {
    /// The table, fitted to `width` when given.
    fn table(&self, width: Option<usize>) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let rows = self.0.iter().map(summary_row).collect();
        fitted_table(HEADERS, rows, SQUEEZE, width).render()
    }

    /// Writes the table as `table` renders it, row by row: the column widths from a first pass.
    fn write_table(&self, out: &mut dyn Write, width: Option<usize>) -> std::io::Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let mut fitting = Fitting::new(HEADERS, SQUEEZE);
        for s in &self.0 {
            fitting.measure(&summary_row(s));
        }
        let layout = fitting.fit(width);
        out.write_all(layout.header().as_bytes())?;
        for s in &self.0 {
            out.write_all(layout.row(summary_row(s)).as_bytes())?;
        }
        Ok(())
    }

    /// Writes the YAML documents one by one.
    fn write_yaml(&self, out: &mut dyn Write) -> std::io::Result<()> {
        if self.0.is_empty() {
            return out.write_all(b"[]\n");
        }
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                out.write_all(b"---\n")?;
            }
            out.write_all(yaml_document(&summary_json(s)).as_bytes())?;
        }
        Ok(())
    }
}

impl Output for BotList {
    fn text(&self) -> String {
        self.table(terminal_width(&console::Term::stdout()))
    }

    fn json(&self) -> serde_json::Value {
        self.0.iter().map(summary_json).collect()
    }

    fn yaml(&self) -> String {
        if self.0.is_empty() {
            return "[]\n".into();
        }
        self.0
            .iter()
            .map(|s| yaml_document(&summary_json(s)))
            .collect::<Vec<_>>()
            .join("---\n")
    }

    /// A list of thousands of bots is written bot by bot, never built whole a second time.
    fn write_to(&self, format: Format, out: &mut dyn Write) -> Result<(), WriteError> {
        match format {
            Format::Text => self.write_table(out, terminal_width(&console::Term::stdout()))?,
            Format::Json => write_json(out, &Items(&self.0, summary_json))?,
            Format::Yaml => self.write_yaml(out)?,
            Format::Prometheus => return Err(WriteError::NoMetrics),
        }
        Ok(())
    }
}

pub async fn run(ctx: &Context, _args: LsArgs) -> Result<ExitStatus, CommandError> {
    let client = ctx.client().await?;
    let mut list = BotList(overview(client, SystemTime::now()).await?);
    let switched = crate::recover::insecure::switched(&ctx.home()?.state_dir());
    for h in list.0.iter_mut().flat_map(|s| s.bound_tokens.iter_mut()) {
        h.insecure = crate::recover::insecure::flag(&h.token, &h.recovery_mode, &switched);
    }
    ctx.printer().print(&list)?;
    let printer = ctx.printer();
    for s in &list.0 {
        for h in &s.bound_tokens {
            if let Some(flag) = &h.insecure {
                printer.warn(format!(
                    "bot {:?}: token {} is in mode insecure: {}",
                    s.name, h.token, flag.message
                ));
            }
        }
    }
    if list.0.is_empty() {
        printer.status("No bots found");
        return Ok(ExitStatus::Success);
    }
    if list.0.iter().any(|s| s.health() == Health::Locked) {
        printer.status("hint: unblock a LOCKED bot with `mwictl unlock --bot NAME`");
    }
    if list.0.iter().any(|s| s.health() == Health::NoLiveInstance) {
        printer.status(
            "hint: a bot with no live instance needs tbot running; if its identity expired, get a new token with `mwictl bots instances add NAME`",
        );
    }
    if let Some(spent) = list
        .0
        .iter()
        .flat_map(|s| &s.bound_tokens)
        .find(|h| h.recoveries_left == Some(0))
    {
        printer.status(format!(
            "hint: at 0/N left a bound-keypair bot cannot rejoin once its certificates expire (`no rejoins remaining`); allow one more with `mwictl edit token/{}` (spec.bound_keypair.recovery.limit)",
            spent.token
        ));
    }
    printer.status("hint: details of one bot: `mwictl bots show NAME`; its instances: `mwictl bots instances ls NAME`");
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::json_text;

    fn bot(name: &str, methods: &[&str], bound: Vec<Headroom>) -> BotSummary {
        BotSummary {
            name: name.into(),
            user_name: format!("bot-{name}"),
            role_name: format!("bot-{name}"),
            roles: vec!["access".into()],
            logins: Vec::new(),
            max_session_ttl: None,
            locks: Vec::new(),
            instances: 1,
            live_instances: 1,
            tokens: methods.len(),
            join_methods: methods.iter().map(|m| m.to_string()).collect(),
            bound_tokens: bound,
        }
    }

    fn headroom(token: &str, mode: &str, count: u32, limit: u32) -> Headroom {
        Headroom {
            token: token.into(),
            recovery_mode: mode.into(),
            recovery_count: count,
            recovery_limit: limit,
            recoveries_left: (mode == "standard").then(|| limit.saturating_sub(count)),
            insecure: None,
        }
    }

    #[test]
    fn the_table_shows_join_methods_and_recovery_headroom() {
        let list = BotList(vec![
            bot(
                "bound",
                &["bound_keypair"],
                vec![headroom("bot-bound-0a6f812a", "standard", 1, 2)],
            ),
            bot(
                "exhausted",
                &["bound_keypair", "token"],
                vec![
                    headroom("bot-exhausted-11111111", "standard", 1, 1),
                    headroom("bot-exhausted-22222222", "relaxed", 4, 1),
                ],
            ),
            bot("legacy", &["token"], Vec::new()),
            bot("none", &[], Vec::new()),
        ]);
        insta::assert_snapshot!(list.table(None));
        let json = list.json();
        assert_eq!(
            json[0]["join_methods"],
            serde_json::json!(["bound_keypair"])
        );
        assert_eq!(json[0]["bound_tokens"][0]["recoveries_left"], 1);
        assert_eq!(
            json[1]["bound_tokens"][1]["recoveries_left"],
            serde_json::Value::Null
        );
        assert_eq!(json[3]["join_methods"], serde_json::json!([]));
    }

    fn written(list: &BotList, format: Format) -> String {
        let mut bytes = Vec::new();
        list.write_to(format, &mut bytes).unwrap();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn streamed_output_is_byte_for_byte_the_whole_form() {
        let mut bots = vec![
            bot(
                "bound \"b\"",
                &["bound_keypair"],
                vec![headroom("bot-bound-0a6f812a", "standard", 1, 2)],
            ),
            bot("legacy", &["token"], Vec::new()),
            bot("none", &[], Vec::new()),
        ];
        bots[1].roles = (0..40).map(|i| format!("role-{i}")).collect();
        let list = BotList(bots);
        assert_eq!(written(&list, Format::Json), json_text(&list.json()));
        assert_eq!(written(&list, Format::Yaml), list.yaml());
        for width in [None, Some(200), Some(60)] {
            let mut streamed = Vec::new();
            list.write_table(&mut streamed, width).unwrap();
            assert_eq!(String::from_utf8(streamed).unwrap(), list.table(width));
        }
        let empty = BotList(Vec::new());
        assert_eq!(written(&empty, Format::Json), "[]\n");
        assert_eq!(written(&empty, Format::Yaml), "[]\n");
        assert_eq!(written(&empty, Format::Text), "");
    }
}
