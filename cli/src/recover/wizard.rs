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
use crate::resource::parse_go_duration;

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

/// Esc (or q) on a question: the wizard stops before it changed anything.
pub fn canceled() -> CommandError {
    CommandError::failure("canceled, no changes made")
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
            .interact_on_opt(&console::Term::stderr())
            .map_err(answer_error)?
            .ok_or_else(canceled)
    }

    fn confirm(&mut self, prompt: &str, default: bool) -> Result<bool, CommandError> {
        dialoguer::Confirm::new()
            .with_prompt(prompt)
            .default(default)
            .interact_on_opt(&console::Term::stderr())
            .map_err(answer_error)?
            .ok_or_else(canceled)
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
    /// The directory `lab break` wrote this bot's tbot.yaml and tbot.log into, if any: its
    /// files are the defaults of the path questions.
    pub lab_dir: Option<PathBuf>,
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
    let items = bot_lines(&summaries, &last_seen, now);
    // The first bot that needs help is the default.
    let default = summaries
        .iter()
        .position(|s| s.health() != bots::Health::Ok)
        .unwrap_or(0);
    let i = prompt.select("Bot to recover", &items, default)?;
    Ok(summaries[i].name.clone())
}

/// One line per bot, in aligned columns: name, health, locks, live instances, last seen.
fn bot_lines(
    summaries: &[BotSummary],
    last_seen: &std::collections::HashMap<String, SystemTime>,
    now: SystemTime,
) -> Vec<String> {
    let rows: Vec<[String; 5]> = summaries
        .iter()
        .map(|s| {
            [
                s.name.clone(),
                format!("[{}]", s.health().text()),
                format!("locks {}", s.locks.len()),
                format!("live instances {}/{}", s.live_instances, s.instances),
                format!(
                    "last seen {}",
                    last_seen
                        .get(&s.name)
                        .map_or("never".to_string(), |t| ago(now, *t))
                ),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..5)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            let cells: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect()
}

/// How long before `now` `then` was, in whole seconds, minutes, hours or days ("3m ago").
fn ago(now: SystemTime, then: SystemTime) -> String {
    let secs = now.duration_since(then).map_or(0, |d| d.as_secs());
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

/// The newest sighting (heartbeat or authentication) of each bot's instances.
async fn last_seen_by_bot(
    client: &Client,
) -> Result<std::collections::HashMap<String, SystemTime>, CommandError> {
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
        .filter_map(|(bot, t)| Some((bot, SystemTime::try_from(t).ok()?)))
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
    let lab_file = |name: &str| {
        start
            .lab_dir
            .as_ref()
            .map(|d| d.join(name))
            .filter(|p| p.is_file())
    };
    let log_default = lab_file("tbot.log").map(|p| p.display().to_string());
    let log: Vec<LogFinding> = ask_path(
        printer,
        prompt,
        "tbot log to read (Enter to skip)",
        log_default.as_deref(),
        diagnose::read_log,
    )?
    .map(|(_, log)| log)
    .unwrap_or_default();
    let config_default = start
        .input
        .tbot_config
        .clone()
        .or_else(|| lab_file("tbot.yaml"))
        .map(|p| p.display().to_string());
    let (config_path, config) = ask_path(
        printer,
        prompt,
        "tbot.yaml of this bot (Enter to skip)",
        config_default.as_deref(),
        |p| {
            flows::check_tbot_config(p)?;
            diagnose::read_config(p, Some(&state))
        },
    )?
    .unzip();
    let now = SystemTime::now();
    printer.status(diagnose::render(&state, &log, config.as_ref(), now));
    let suggestion = diagnose::suggest(&state, &log, now);
    // The bound-keypair flows only for a bot that joins that way (a token of the method, or an
    // instance that joined with one: its token may be gone).
    let bound = !state.bound_tokens.is_empty()
        || state.instances.iter().any(|i| {
            instance_row(i, &Default::default()).join_method == crate::ops::bound_keypair::METHOD
        });
    let flows_offered: Vec<Flow> = Flow::ALL
        .into_iter()
        .filter(|f| bound || !f.incident().is_bound_keypair())
        .collect();
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
    let choice = prompt.select("Recovery to run", &items, default)?;
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
        Flow::BkKeypairLost => {
            let storage_default = config.as_ref().and_then(|c| c.storage.clone());
            input.storage = ask_storage(prompt, storage_default.as_deref())?;
            ask_restart(prompt, &mut input)?;
            flows::bk_keypair_lost::plan(client, bot, &input).await?
        }
        Flow::BkTokenWiped => {
            let storage_default = config.as_ref().and_then(|c| c.storage.clone());
            input.storage = ask_storage(prompt, storage_default.as_deref())?;
            if input.storage.is_none() {
                let key = required(
                    prompt.input("The bot's public key (id_bkp.pub content, or @FILE)", None)?,
                    "the bot's public key or its storage directory",
                )?;
                input.public_key = Some(flows::bk_input::key_from_flag(&key)?.key);
            }
            ask_restart(prompt, &mut input)?;
            flows::bk_token_wiped::plan(client, bot, &input).await?
        }
        Flow::BkExhausted => {
            let token = ask_bound_token(prompt, &state)?;
            let how = prompt.select(
                "How to allow the recovery",
                &[
                    "raise recovery.limit to recovery_count + 1 (this recovery only)".to_string(),
                    "raise recovery.limit to recovery_count + 2 (one spare)".to_string(),
                    "set recovery mode relaxed (no limit from now on)".to_string(),
                ],
                0,
            )?;
            input.spare = if how == 2 { 0 } else { how as u32 + 1 };
            input.relaxed = how == 2;
            input.token = Some(crate::ops::recovery_mode::name_of(&token));
            ask_restart(prompt, &mut input)?;
            flows::bound_keypair::exhausted(&state, &token, &input)
        }
        Flow::BkJoinState => {
            let token = ask_bound_token(prompt, &state)?;
            input.token = Some(crate::ops::recovery_mode::name_of(&token));
            ask_restart(prompt, &mut input)?;
            flows::bound_keypair::join_state(&state, &token, &input)
        }
        Flow::BkRollback => {
            // From one bot's diagnosis the rollback covers that bot; `recover bk-rollback`
            // covers the fleet.
            let token = ask_bound_token(prompt, &state)?;
            input.bots = vec![bot.to_string()];
            ask_restart(prompt, &mut input)?;
            let fetched = crate::client::Fetched {
                value: token,
                raw: Default::default(),
            };
            flows::bound_keypair::rollback(&[fetched], bot, &input)
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

/// Asks for a file until `read` accepts it (saying why it did not), or the answer is empty.
fn ask_path<T>(
    printer: &Printer,
    prompt: &mut dyn Prompt,
    question: &str,
    default: Option<&str>,
    mut read: impl FnMut(&std::path::Path) -> Result<T, CommandError>,
) -> Result<Option<(PathBuf, T)>, CommandError> {
    // With a default, Enter takes it, so skipping is `-`.
    let question = match default {
        Some(_) => question.replace("(Enter to skip)", "(- to skip)"),
        None => question.to_string(),
    };
    loop {
        let answer = prompt.input(&question, default)?;
        let answer = answer.trim();
        if answer.is_empty() || answer == "-" {
            return Ok(None);
        }
        let path = std::path::absolute(answer).unwrap_or_else(|_| PathBuf::from(answer));
        match read(&path) {
            Ok(value) => return Ok(Some((path, value))),
            Err(e) => printer.status(format!("{e}; try again, or press Enter to skip")),
        }
    }
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
    let i = prompt.select("Where the change goes", &items, 0)?;
    match i {
        0 => {}
        1 if offer_trait => input.use_trait = true,
        i => input.role = roles.get(i - first_role).cloned(),
    }
    Ok(())
}

/// tbot's storage directory (its bound-keypair files), `None` when skipped.
fn ask_storage(
    prompt: &mut dyn Prompt,
    default: Option<&str>,
) -> Result<Option<PathBuf>, CommandError> {
    let answer = prompt.input(
        "tbot's storage directory (storage.path; Enter to skip)",
        default,
    )?;
    Ok(match answer.trim() {
        "" | "-" => None,
        path => Some(std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path))),
    })
}

/// The bot's bound-keypair token: its only one, or the one picked.
fn ask_bound_token(
    prompt: &mut dyn Prompt,
    state: &BotState,
) -> Result<mwi_proto::types::ProvisionTokenV2, CommandError> {
    let names: Vec<String> = state
        .bound_tokens
        .iter()
        .map(crate::ops::recovery_mode::name_of)
        .collect();
    let i = match names.len() {
        0 => {
            return Err(CommandError::usage(format!(
                "bot {:?} has no bound_keypair token",
                state.name()
            ))
            .hint("pick another recovery; this one is for bound-keypair bots"));
        }
        1 => 0,
        _ => prompt.select("The bound-keypair token tbot joins with", &names, 0)?,
    };
    Ok(state.bound_tokens[i].clone())
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
    fn bot_lines_are_aligned_and_say_how_long_ago() {
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
            join_methods: vec![],
            bound_tokens: vec![],
        };
        let long = BotSummary {
            name: "a-longer-name".into(),
            locks: vec![],
            instances: 10,
            live_instances: 10,
            ..s.clone()
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let seen = [("example".to_string(), now - Duration::from_secs(200))].into();
        assert_eq!(
            bot_lines(&[s, long], &seen, now),
            [
                "example        [LOCKED]  locks 1  live instances 0/2    last seen 3m ago",
                "a-longer-name  [ok]      locks 0  live instances 10/10  last seen never",
            ]
        );
        assert_eq!(ago(now, now - Duration::from_secs(59)), "59s ago");
        assert_eq!(ago(now, now - Duration::from_secs(7200)), "2h ago");
        assert_eq!(ago(now, now + Duration::from_secs(5)), "0s ago");
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
            bound_tokens: vec![],
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
