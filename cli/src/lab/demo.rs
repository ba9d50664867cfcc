//! `mwictl demo`'s work: a throwaway lab in a temp dir, bot `example` broken by a generation
//! mismatch, the doctor on its log, the recovery, the agent restarted, and the bot checked healthy
//! over gRPC; everything stopped and removed at the end.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mwi_auth::lab::{LabConfig, LabHandle, LockStyle};
use mwi_diag::doctor::{self, Doctor};
use mwi_diag::incident::Incident;

use crate::client::Client;
use crate::connect::{self, ClientIdentity, Target};
use crate::error::CommandError;
use crate::home::Home;
use crate::ops::instances::latest_authentication;
use crate::ops::unlock::find_blocking_locks;
use crate::output::{Format, Output, Printer};
use crate::recover::diagnose;
use crate::recover::engine::{Progress, RunOptions, summary};
use crate::recover::flows;
use crate::recover::plan::{FlowInput, RECOVER_JOURNALS};
use crate::recover::runner::RunContext;
use crate::resource::format_timestamp;

use super::agents::{
    RunningAgent, agent_args, matching_lines, stored_identity, wait_failed, wait_for_lines,
};
use super::narrate::Narrator;
use super::scenarios::{self, BreakOptions, WAIT_LIMIT};
use super::setup::LabTarget;

/// The bot the demo breaks and recovers.
pub const BOT: &str = "example";

/// The demo's steps, for the narration's `[n/N]`.
pub const STEPS: usize = 6;

/// What the agent logs after each renewal.
const RENEWED: &str = "Successfully renewed bot identity";

/// Lifetime of the join token the recovery issues.
const TOKEN_TTL: Duration = Duration::from_secs(3600);

/// How the demo runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct DemoOptions {
    /// Keep the temp dir (lab data, bot files, journal, backups) instead of removing it.
    pub keep: bool,
    /// Show the recovery plan and ask before applying it (a terminal); otherwise apply it.
    pub interactive: bool,
}

/// How the demo ended.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoOutcome {
    pub elapsed: Duration,
    pub bot: String,
    /// The recovered bot's new instance and its generation, as the server reports them.
    pub instance: Option<String>,
    pub generation: Option<i32>,
    /// The step that failed (`n`, its title) and why; `None` when the bot recovered.
    pub failed: Option<(usize, String, String)>,
    /// The temp dir, when kept.
    pub kept: Option<PathBuf>,
    pub next: Vec<String>,
}

impl DemoOutcome {
    pub fn recovered(&self) -> bool {
        self.failed.is_none()
    }

    /// The line that ends the demo.
    pub fn final_line(&self) -> String {
        let seconds = self.elapsed.as_secs_f64();
        match &self.failed {
            None => format!(
                "demo finished in {seconds:.1}s: bot {} recovered (instance {}, generation {})",
                self.bot,
                short_id(self.instance.as_deref().unwrap_or("?")),
                self.generation.map_or("?".into(), |g| g.to_string())
            ),
            Some((number, title, error)) => {
                format!("demo failed in {seconds:.1}s at step {number}/{STEPS} ({title}): {error}")
            }
        }
    }
}

impl Output for DemoOutcome {
    fn text(&self) -> String {
        let mut out = format!("{}\n", self.final_line());
        if let Some(dir) = &self.kept {
            out.push_str(&format!("kept: {} (remove it when done)\n", dir.display()));
        }
        out.push_str("try next:\n");
        for command in &self.next {
            out.push_str(&format!("  {command}\n"));
        }
        out
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "recovered": self.recovered(),
            "seconds": (self.elapsed.as_secs_f64() * 10.0).round() / 10.0,
            "bot": self.bot,
            "instance": self.instance,
            "generation": self.generation,
            "failed_step": self.failed.as_ref().map(|(n, title, _)| serde_json::json!({"number": n, "title": title})),
            "error": self.failed.as_ref().map(|(_, _, e)| e),
            "kept": self.kept.as_ref().map(|d| d.display().to_string()),
            "next": self.next,
            "summary": self.final_line(),
        })
    }
}

/// The three commands a newcomer can try after the demo.
pub fn next_commands() -> Vec<String> {
    vec![
        "mwictl lab start                                     # a lab of your own; leave it running".into(),
        format!("mwictl lab break generation-mismatch --bot {BOT}   # then follow the commands it prints"),
        format!("mwictl recover {BOT}                                # the interactive recovery wizard"),
    ]
}

/// The first 8 characters of an ID and an ellipsis, as the final line shows it.
pub fn short_id(id: &str) -> String {
    match id.char_indices().nth(8) {
        Some((at, _)) => format!("{}…", &id[..at]),
        None => id.to_string(),
    }
}

/// A temp dir removed when dropped, unless kept.
struct Scratch {
    root: PathBuf,
    keep: bool,
}

impl Scratch {
    fn create(keep: bool) -> Result<Scratch, CommandError> {
        let name = format!("mwictl-demo-{}", uuid::Uuid::new_v4().simple());
        let root = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&root).map_err(|e| {
            CommandError::failure(format!(
                "cannot create the temp dir {}: {e}",
                root.display()
            ))
            .hint("set TMPDIR to a writable directory")
        })?;
        Ok(Scratch { root, keep })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// What the steps share, so cleanup can stop whatever was started.
#[derive(Default)]
struct Running {
    lab: Option<LabHandle>,
    agent: Option<RunningAgent>,
}

impl Running {
    async fn stop(&mut self) {
        if let Some(agent) = self.agent.take() {
            agent.stop().await;
        }
        if let Some(lab) = self.lab.take() {
            let _ = lab.shutdown().await;
        }
    }
}

/// The recovered bot as the server reports it.
struct Healthy {
    instance: String,
    generation: i32,
}

/// Runs the demo, narrating each step, until it ends or `interrupt` resolves; always stops what
/// it started and removes the temp dir (unless kept).
pub async fn run(
    options: DemoOptions,
    narrator: &Narrator,
    interrupt: impl Future<Output = ()>,
) -> Result<DemoOutcome, CommandError> {
    let started = Instant::now();
    let scratch = Scratch::create(options.keep)?;
    let mut running = Running::default();
    let result = tokio::select! {
        result = steps(&scratch.root, options, narrator, &mut running) => result,
        () = interrupt => Err(CommandError::failure("interrupted")),
    };
    running.stop().await;
    let mut outcome = DemoOutcome {
        elapsed: started.elapsed(),
        bot: BOT.into(),
        instance: None,
        generation: None,
        failed: None,
        kept: options.keep.then(|| scratch.root.clone()),
        next: next_commands(),
    };
    match result {
        Ok(healthy) => {
            outcome.instance = Some(healthy.instance);
            outcome.generation = Some(healthy.generation);
        }
        Err(e) => {
            let (number, title) = narrator.current();
            outcome.failed = Some((number, title, e.message));
        }
    }
    drop(scratch);
    Ok(outcome)
}

async fn steps(
    root: &Path,
    options: DemoOptions,
    narrator: &Narrator,
    running: &mut Running,
) -> Result<Healthy, CommandError> {
    narrator.step("Start a lab auth service");
    let mut config = LabConfig::new(root.join("lab"));
    config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    config.lock_style = LockStyle::User;
    let lab = running.lab.insert(
        mwi_auth::lab::spawn(config)
            .await
            .map_err(|e| CommandError::failure(e.to_string()))?,
    );
    let ready = lab.ready().clone();
    narrator.detail(&format!(
        "listening on {}, data in {}",
        ready.addr,
        ready.data_dir.display()
    ));
    let client = admin_client(&ready.addr.to_string(), &ready.identity_path).await?;
    let target = LabTarget::from_identity(&ready.addr.to_string(), &ready.identity_path)?;

    narrator.step(&format!(
        "Create bot {BOT}, run its agent, and break it: a second agent on the same data dir"
    ));
    let opts = BreakOptions {
        scenario: Incident::GenerationMismatch,
        bot: BOT.into(),
        dir: root.join(format!("bot-{BOT}")),
        login: "bob".into(),
        db: "example".into(),
        delete: false,
    };
    let detail = |step: &str| narrator.detail(step);
    let broken = scenarios::break_bot(Some((&client, &target)), &opts, &detail).await?;
    let old_instance = stored_identity(&opts.data_dir())?
        .bot_instance_id
        .unwrap_or_default();

    narrator.step(&format!(
        "Diagnose: mwictl doctor {}",
        opts.log_path().display()
    ));
    diagnose_log(&opts.log_path(), narrator)?;

    narrator.step(&format!(
        "Recover: mwictl recover generation-mismatch --bot {BOT} --tbot-config {}",
        broken.config.display()
    ));
    recover(&client, root, &broken.config, options.interactive, narrator).await?;

    narrator.step("Restart the agent with the new token in tbot.yaml");
    let log = opts.log_path();
    let before = matching_lines(&log, RENEWED).len();
    let agent = running
        .agent
        .insert(RunningAgent::start(agent_args(&broken.config, &log)?));
    wait_for_lines(&log, RENEWED, before + 2, &[agent], WAIT_LIMIT)
        .await
        .map_err(|e| {
            wait_failed(
                e,
                "the restarted agent did not renew twice",
                &log,
                WAIT_LIMIT,
            )
        })?;
    let identity = stored_identity(&opts.data_dir())?;
    let instance = identity.bot_instance_id.unwrap_or_default();
    narrator.detail(&format!(
        "it joined with the new token as instance {instance} and renewed twice"
    ));

    narrator.step("Check the bot over gRPC: a new instance, its generation rising, no lock");
    let first = instance_generation(&client, &instance).await?;
    wait_for_lines(&log, RENEWED, before + 3, &[agent], WAIT_LIMIT)
        .await
        .map_err(|e| wait_failed(e, "the agent did not renew again", &log, WAIT_LIMIT))?;
    let (record, generation) = instance_record(&client, &instance).await?;
    if instance == old_instance || generation <= first {
        return Err(CommandError::failure(format!(
            "bot {BOT} did not recover: instance {instance} (before: {old_instance}), generation {first} then {generation}"
        )));
    }
    let locks = find_blocking_locks(&client, BOT).await?;
    if let Some(lock) = locks.first() {
        return Err(CommandError::failure(format!(
            "bot {BOT} is still locked by {} ({})",
            lock.name(),
            lock.reason
        )));
    }
    narrator.detail(&record);
    narrator.detail(&format!(
        "generation {first} → {generation}; no lock in force; the old instance {} is left to expire",
        short_id(&old_instance)
    ));
    Ok(Healthy {
        instance,
        generation,
    })
}

/// A client of the demo's lab as its admin.
async fn admin_client(addr: &str, identity: &Path) -> Result<Client, CommandError> {
    let id = ClientIdentity::load(identity)?;
    let target = Target {
        addr: addr.to_string(),
        identity: identity.to_path_buf(),
        via_proxy: false,
    };
    Ok(Client::new(connect::connect(&target, &id).await?))
}

/// Runs the log doctor on the agent's log and narrates its S1 finding.
fn diagnose_log(log: &Path, narrator: &Narrator) -> Result<(), CommandError> {
    let file = std::fs::File::open(log).map_err(|e| {
        CommandError::failure(format!(
            "cannot open the agent's log {}: {e}",
            log.display()
        ))
    })?;
    let mut doctor = Doctor::new();
    doctor
        .feed_reader(&log.display().to_string(), file)
        .map_err(|e| CommandError::failure(e.to_string()))?;
    let report = doctor.finish();
    let finding = report
        .findings
        .iter()
        .find(|f| f.incident == doctor::Incident::Product(Incident::GenerationMismatch))
        .ok_or_else(|| {
            CommandError::failure(format!(
                "the doctor found no generation mismatch in {}",
                log.display()
            ))
        })?;
    narrator.detail(&format!(
        "{} {} (bot {}), {} log lines",
        finding.incident.id(),
        finding.title,
        finding.bot.as_deref().unwrap_or("?"),
        finding.occurrences
    ));
    narrator.detail(&format!("cause: {}", finding.cause));
    if let Some(fix) = &finding.fix.mwictl {
        narrator.detail(&format!("fix: {fix}"));
    }
    Ok(())
}

/// The generation-mismatch recovery, with its journal and backups in the demo's own home.
async fn recover(
    client: &Client,
    root: &Path,
    config: &Path,
    interactive: bool,
    narrator: &Narrator,
) -> Result<(), CommandError> {
    let home = Home::at(root.join("home"));
    let input = FlowInput {
        tbot_config: Some(config.to_path_buf()),
        token_ttl_seconds: TOKEN_TTL.as_secs(),
        ..Default::default()
    };
    let state = diagnose::gather(client, BOT).await?;
    let planned = flows::generation_mismatch::plan(&state, &input);
    if interactive {
        narrator.detail(&planned.plan.render_steps());
        // The prompt blocks on the terminal: off the runtime's threads.
        let yes = tokio::task::spawn_blocking(|| {
            dialoguer::Confirm::new()
                .with_prompt("Apply this plan?")
                .default(true)
                .interact_on(&console::Term::stderr())
        })
        .await
        .map_err(|e| CommandError::failure(format!("the confirmation failed: {e}")))?
        .map_err(|e| CommandError::failure(format!("cannot read the answer: {e}")))?;
        if !yes {
            return Err(CommandError::failure("the recovery plan was declined"));
        }
    }
    // The narration says what each step did; the engine's own lines would repeat it.
    let quiet = Printer::new(Format::Text, true);
    let options = RunOptions {
        wait: None,
        progress: Progress::Quiet,
    };
    let runner = RunContext::new(
        client,
        &quiet,
        &home,
        RECOVER_JOURNALS,
        options,
        Instant::now(),
    );
    let report = runner.start(planned, input).await?;
    let record = &report.record;
    for (step, done) in record.plan.steps.iter().zip(&record.steps) {
        if let Some(output) = &done.output {
            narrator.detail(&summary(step, output));
        }
    }
    Ok(())
}

/// The generation the server last recorded for the bot's instance `id`.
async fn instance_generation(client: &Client, id: &str) -> Result<i32, CommandError> {
    Ok(instance_record(client, id).await?.1)
}

/// The bot instance `id` as one line, and its latest generation.
async fn instance_record(client: &Client, id: &str) -> Result<(String, i32), CommandError> {
    let instance = client.get_bot_instance(BOT, id).await?.value;
    let auth = latest_authentication(&instance);
    let generation = auth.map_or(0, |a| a.generation);
    let when = auth
        .and_then(|a| a.authenticated_at.as_ref())
        .map_or("n/a".into(), format_timestamp);
    let expires = instance
        .metadata
        .as_ref()
        .and_then(|m| m.expires.as_ref())
        .map_or("n/a".into(), format_timestamp);
    Ok((
        format!(
            "BotInstance {BOT}/{id}: generation {generation}, last authenticated {when}, expires {expires}"
        ),
        generation,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_line_names_the_instance_and_generation_or_the_failed_step() {
        let mut outcome = DemoOutcome {
            elapsed: Duration::from_millis(12_345),
            bot: BOT.into(),
            instance: Some("1f2e3d4c-0000-4000-8000-000000000000".into()),
            generation: Some(3),
            failed: None,
            kept: None,
            next: next_commands(),
        };
        assert_eq!(
            outcome.final_line(),
            "demo finished in 12.3s: bot example recovered (instance 1f2e3d4c…, generation 3)"
        );
        assert!(outcome.recovered());
        outcome.failed = Some((4, "Recover".into(), "boom".into()));
        assert_eq!(
            outcome.final_line(),
            "demo failed in 12.3s at step 4/6 (Recover): boom"
        );
        assert_eq!(outcome.json()["failed_step"]["number"], 4);
    }

    #[test]
    fn three_commands_to_try_next() {
        let text = DemoOutcome {
            elapsed: Duration::ZERO,
            bot: BOT.into(),
            instance: None,
            generation: None,
            failed: None,
            kept: None,
            next: next_commands(),
        }
        .text();
        assert_eq!(
            text.lines().filter(|l| l.starts_with("  mwictl ")).count(),
            3,
            "{text}"
        );
    }

    #[test]
    fn short_ids_keep_eight_characters() {
        assert_eq!(short_id("abcdefghij"), "abcdefgh…");
        assert_eq!(short_id("abc"), "abc");
    }
}
