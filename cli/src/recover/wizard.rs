//! The interactive wizard's questions: pick the bot, diagnose it (optionally with its tbot log and
//! tbot.yaml), name the incident, ask what the flow needs; it ends in the same plan the unattended
//! flows build. The questions go through [`Prompt`], so tests can answer them.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::client::Client;
use crate::error::CommandError;
use crate::ops::bots::{self, BotSummary};
use crate::ops::instances::instance_row;
use crate::output::Printer;
use crate::recover::diagnose::{self, BotState, LogFinding};
use crate::recover::flows;
use crate::recover::plan::{Flow, FlowInput, Planned};
use crate::resource::{format_timestamp, parse_go_duration};

/// The questions a wizard asks.
pub trait Prompt {
    /// Picks one of `items`.
    fn select(
        &mut self,
        prompt: &str,
        items: &[String],
        default: usize,
    ) -> Result<usize, CommandError>;
    fn confirm(&mut self, prompt: &str, default: bool) -> Result<bool, CommandError>;
    /// A line of text; empty when the user just presses Enter (and there is no default).
    fn input(&mut self, prompt: &str, default: Option<&str>) -> Result<String, CommandError>;
}

/// Asks on the terminal (stderr), with dialoguer.
pub struct Terminal;

fn answer_error(e: dialoguer::Error) -> CommandError {
    CommandError::failure(format!("cannot read the answer: {e}"))
}

impl Prompt for Terminal {
    fn select(
        &mut self,
        prompt: &str,
        items: &[String],
        default: usize,
    ) -> Result<usize, CommandError> {
        dialoguer::Select::new()
            .with_prompt(prompt)
            .items(items)
            .default(default)
            .interact_on(&console::Term::stderr())
            .map_err(answer_error)
    }

    fn confirm(&mut self, prompt: &str, default: bool) -> Result<bool, CommandError> {
        dialoguer::Confirm::new()
            .with_prompt(prompt)
            .default(default)
            .interact_on(&console::Term::stderr())
            .map_err(answer_error)
    }

    fn input(&mut self, prompt: &str, default: Option<&str>) -> Result<String, CommandError> {
        let mut input = dialoguer::Input::<String>::new()
            .with_prompt(prompt)
            .allow_empty(true);
        if let Some(d) = default {
            input = input.default(d.to_string());
        }
        input
            .interact_text_on(&console::Term::stderr())
            .map_err(answer_error)
    }
}

/// What the wizard settled on: the plan, its plan-shaping input and how long to verify.
pub struct Decided {
    pub planned: Planned,
    pub input: FlowInput,
    pub wait: Option<Duration>,
}

/// What the wizard starts from (the flags given to `mwictl recover [BOT]`).
pub struct Start {
    pub input: FlowInput,
    pub wait: Option<Duration>,
}

/// Picks the bot: the one given, else one from the fleet overview.
pub async fn pick_bot(
    client: &Client,
    prompt: &mut dyn Prompt,
    bot: Option<String>,
) -> Result<String, CommandError> {
    if let Some(bot) = bot {
        return Ok(bot);
    }
    let now = SystemTime::now();
    let summaries = bots::overview(client, now).await?;
    if summaries.is_empty() {
        return Err(CommandError::new(
            crate::exit::ExitStatus::NotFound,
            "there are no bots to recover",
        )
        .hint("create one with `mwictl bots add NAME --roles ROLE`"));
    }
    let last_seen = last_seen_by_bot(client).await?;
    let items: Vec<String> = summaries
        .iter()
        .map(|s| bot_line(s, last_seen.get(&s.name).map(String::as_str)))
        .collect();
    // The first bot that needs help is the default.
    let default = summaries
        .iter()
        .position(|s| s.health() != bots::Health::Ok)
        .unwrap_or(0);
    let i = prompt.select("Which bot?", &items, default)?;
    Ok(summaries[i].name.clone())
}

fn bot_line(s: &BotSummary, last_seen: Option<&str>) -> String {
    format!(
        "{}  [{}]  locks {}  live instances {}/{}  last seen {}",
        s.name,
        s.health().text(),
        s.locks.len(),
        s.live_instances,
        s.instances,
        last_seen.unwrap_or("never")
    )
}

/// The newest sighting (heartbeat or authentication) of each bot's instances.
async fn last_seen_by_bot(
    client: &Client,
) -> Result<std::collections::HashMap<String, String>, CommandError> {
    let mut newest: std::collections::HashMap<String, prost_types::Timestamp> = Default::default();
    let mut pager = client.bot_instances(None);
    let none = std::collections::HashSet::new();
    while let Some(page) = pager.next_page().await? {
        for i in page {
            let row = instance_row(&i.value, &none);
            if let Some(seen) = row.last_seen {
                let entry = newest.entry(row.bot).or_insert(seen);
                if (seen.seconds, seen.nanos) > (entry.seconds, entry.nanos) {
                    *entry = seen;
                }
            }
        }
    }
    Ok(newest
        .into_iter()
        .map(|(bot, t)| (bot, format_timestamp(&t)))
        .collect())
}

/// Diagnoses `bot`, names the incident, asks what the chosen flow needs and builds its plan.
/// `None` when the user quits.
pub async fn decide(
    client: &Client,
    printer: &Printer,
    prompt: &mut dyn Prompt,
    bot: &str,
    start: Start,
) -> Result<Option<Decided>, CommandError> {
    printer.status(format!("Diagnosing bot {bot:?}..."));
    let state = diagnose::gather(client, bot).await?;
    let log_path = prompt.input("tbot log to read (Enter to skip)", None)?;
    let log: Vec<LogFinding> = if log_path.trim().is_empty() {
        Vec::new()
    } else {
        diagnose::read_log(&PathBuf::from(log_path.trim()))?
    };
    let config_default = start
        .input
        .tbot_config
        .as_ref()
        .map(|p| p.display().to_string());
    let config_path = prompt.input(
        "tbot.yaml of this bot (Enter to skip)",
        config_default.as_deref(),
    )?;
    let config_path = Some(config_path.trim())
        .filter(|p| !p.is_empty())
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| PathBuf::from(p)));
    let config = match &config_path {
        Some(p) => Some(diagnose::read_config(p, Some(&state))?),
        None => None,
    };
    let now = SystemTime::now();
    printer.status(diagnose::render(&state, &log, config.as_ref(), now));
    let suggestion = diagnose::suggest(&state, &log, now);
    let flows_offered = Flow::ALL;
    let default = match &suggestion {
        Some(s) => {
            printer.status(format!(
                "This looks like {}: {} ({}).",
                s.flow.incident(),
                s.flow.title(),
                s.reason
            ));
            flows_offered.iter().position(|f| *f == s.flow).unwrap_or(0)
        }
        None => {
            printer.status("Nothing looks wrong with this bot from the server's side.");
            flows_offered.len()
        }
    };
    let mut items: Vec<String> = flows_offered
        .iter()
        .map(|f| format!("{} {}: {}", f.incident(), f.name(), f.title()))
        .collect();
    items.push("Quit: change nothing".to_string());
    let choice = prompt.select("Which recovery?", &items, default)?;
    let Some(flow) = flows_offered.get(choice).copied() else {
        return Ok(None);
    };
    let mut input = start.input.clone();
    input.tbot_config = config_path;
    let suggested = suggestion.filter(|s| s.flow == flow);
    let planned = match flow {
        Flow::GenerationMismatch | Flow::Expired => {
            ask_restart(prompt, &mut input)?;
            if flow == Flow::GenerationMismatch {
                flows::generation_mismatch::plan(&state, &input)
            } else {
                flows::expired::plan(&state, &input)
            }
        }
        Flow::SshLogin => {
            let login_default = suggested.as_ref().and_then(|s| s.login.clone());
            let login = required(
                prompt.input("SSH login to allow", login_default.as_deref())?,
                "an SSH login",
            )?;
            input.login = Some(login);
            ask_target(prompt, &state, &mut input, true)?;
            ask_restart(prompt, &mut input)?;
            flows::ssh_login::plan(client, bot, &input).await?
        }
        Flow::DbAccess => {
            let db_default = suggested.as_ref().and_then(|s| s.db.clone());
            let db = required(
                prompt.input("Database (Teleport resource name)", db_default.as_deref())?,
                "a database",
            )?;
            input.db = Some(db);
            let user = prompt.input("Database user tbot connects as (Enter to skip)", None)?;
            input.db_user = Some(user.trim().to_string()).filter(|u| !u.is_empty());
            let labels = prompt.input(
                "db_labels to add, KEY=VALUE,... (Enter for none; needed when no role has db_labels)",
                None,
            )?;
            input.db_labels = crate::ops::roles::parse_labels(&[labels])?;
            ask_target(prompt, &state, &mut input, false)?;
            ask_restart(prompt, &mut input)?;
            flows::db_access::plan(client, bot, &input).await?
        }
    };
    let wait_default = start.wait.map(crate::resource::format_go_duration);
    let wait_text = prompt.input(
        "Wait for tbot to come back, up to (e.g. 2m; Enter: don't wait)",
        wait_default.as_deref(),
    )?;
    let wait = match wait_text.trim() {
        "" => None,
        text => Some(parse_go_duration(text).map_err(|e| CommandError::usage(e.to_string()))?),
    };
    Ok(Some(Decided {
        planned,
        input,
        wait,
    }))
}

fn required(answer: String, what: &str) -> Result<String, CommandError> {
    let answer = answer.trim().to_string();
    if answer.is_empty() {
        return Err(CommandError::usage(format!(
            "the wizard needs {what}; none was given"
        )));
    }
    Ok(answer)
}

/// Which role (or the logins trait) gets the change.
fn ask_target(
    prompt: &mut dyn Prompt,
    state: &BotState,
    input: &mut FlowInput,
    offer_trait: bool,
) -> Result<(), CommandError> {
    let roles = state.bot.value.spec.clone().unwrap_or_default().roles;
    let mut items = vec!["automatic (the access check picks the role)".to_string()];
    if offer_trait {
        items.push("the bot's logins trait".to_string());
    }
    let first_role = items.len();
    items.extend(roles.iter().map(|r| format!("role {r}")));
    let i = prompt.select("Where should the change go?", &items, 0)?;
    match i {
        0 => {}
        1 if offer_trait => input.use_trait = true,
        i => input.role = roles.get(i - first_role).cloned(),
    }
    Ok(())
}

fn ask_restart(prompt: &mut dyn Prompt, input: &mut FlowInput) -> Result<(), CommandError> {
    let default = input.restart_cmd.clone();
    let cmd = prompt.input(
        "Command that restarts tbot on this host (Enter: you restart it yourself)",
        default.as_deref(),
    )?;
    input.restart_cmd = Some(cmd.trim().to_string()).filter(|c| !c.is_empty());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bot_line_shows_health_locks_instances_and_last_seen() {
        let s = BotSummary {
            name: "example".into(),
            user_name: "bot-example".into(),
            role_name: "bot-example".into(),
            roles: vec!["access".into()],
            logins: vec![],
            max_session_ttl: None,
            locks: vec!["l1".into()],
            instances: 2,
            live_instances: 0,
            tokens: 0,
        };
        assert_eq!(
            bot_line(&s, Some("2025-01-01T00:00:00Z")),
            "example  [LOCKED]  locks 1  live instances 0/2  last seen 2025-01-01T00:00:00Z"
        );
    }

    struct Scripted(Vec<&'static str>);

    impl Prompt for Scripted {
        fn select(&mut self, _: &str, _: &[String], _: usize) -> Result<usize, CommandError> {
            Ok(self.0.remove(0).parse().unwrap())
        }
        fn confirm(&mut self, _: &str, _: bool) -> Result<bool, CommandError> {
            Ok(self.0.remove(0) == "y")
        }
        fn input(&mut self, _: &str, _: Option<&str>) -> Result<String, CommandError> {
            Ok(self.0.remove(0).to_string())
        }
    }

    #[test]
    fn target_choice_maps_to_role_or_trait() {
        let state = BotState {
            bot: crate::client::Fetched {
                value: mwi_proto::machineid::Bot {
                    spec: Some(mwi_proto::machineid::BotSpec {
                        roles: vec!["a".into(), "b".into()],
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                raw: Default::default(),
            },
            locks: vec![],
            instances: vec![],
            tokens: vec![],
        };
        let mut input = FlowInput::default();
        ask_target(&mut Scripted(vec!["3"]), &state, &mut input, true).unwrap();
        assert_eq!(input.role.as_deref(), Some("b"));
        let mut input = FlowInput::default();
        ask_target(&mut Scripted(vec!["1"]), &state, &mut input, true).unwrap();
        assert!(input.use_trait);
        let mut input = FlowInput::default();
        ask_target(&mut Scripted(vec!["1"]), &state, &mut input, false).unwrap();
        assert_eq!(input.role.as_deref(), Some("a"));
        let mut p = Scripted(vec!["y"]);
        assert!(p.confirm("", false).unwrap());
    }
}
