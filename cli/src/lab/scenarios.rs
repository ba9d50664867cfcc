//! `mwictl lab break`'s work: how each incident of the catalogue ([`mwi_diag::incident`]) is caused
//! for real, by running lab agents into it (S1–S4, the bound-keypair S8–S12 in [`super::bk`]) or
//! by writing the tbot.yaml mistake lint finds (S5–S7).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mwi_diag::incident::Incident;

use crate::client::Client;
use crate::error::CommandError;
use crate::ops::tokens::{DEFAULT_TOKEN_TTL, issue_bot_token};
use crate::ops::unlock::find_blocking_locks;
use crate::output::Output;
use crate::shell::shell_word;

use super::agents::{
    self, RunningAgent, agent_args, log_excerpt, matching_lines, stored_identity, wait_failed,
    wait_for_lines,
};
use super::bk::{self, Bk};
use super::setup::{self, LabTarget, Need};
use super::tbot_yaml::{self, Inputs};

/// How long any one wait of a scenario may take; each normally takes well under a second.
pub const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// The credential TTL the S2 agent asks for: the lab issues min(this, its bot TTL).
pub const SHORT_TTL: Duration = Duration::from_secs(2);

/// How long S1 waits for an agent to log the lock after the lab created it.
const LOCK_LINE_WAIT: Duration = Duration::from_secs(3);

/// The label of the S4 database (the seed's `tsh db ls` shows `env=dev`).
pub const DB_LABEL_KEY: &str = "env";
pub const DB_LABEL_VALUE: &str = "dev";

/// What the S6 agent logs when the address the proxy advertises cannot be dialed.
pub const SPLIT_DNS_FAILURE: &str = "failed dial to auth server through reverse tunnel";

/// What the S7 agent logs when its identity output cannot reach the proxy.
pub const NO_PROXY_FAILURE: &str = "Failed to ping proxy";

/// The log line tbot writes when the SSH login check fails.
pub const SSH_REFUSED: &str = "ssh: unable to authenticate";

/// The SCENARIO argument of `lab break`: an incident, named by its lab scenario in the
/// catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario(pub Incident);

static SCENARIOS: LazyLock<Vec<Scenario>> = LazyLock::new(|| Incident::ALL.map(Scenario).to_vec());

impl clap::ValueEnum for Scenario {
    fn value_variants<'a>() -> &'a [Self] {
        &SCENARIOS
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let lab = self.0.lab();
        let kind = match cause(self.0) {
            Cause::Agents(_) | Cause::BoundKeypair(_) => "",
            Cause::Config(_) => " (lint)",
        };
        Some(clap::builder::PossibleValue::new(lab.name).help(format!(
            "{}{kind}: {}",
            self.0.id(),
            lab.help
        )))
    }
}

/// How `lab break` causes an incident: by running lab agents into it, or by writing the tbot.yaml
/// mistake lint finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    Agents(Run),
    Config(Mistake),
    /// The bound-keypair incidents S8–S12.
    BoundKeypair(Bk),
}

/// The incidents lab agents are run into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    GenerationMismatch,
    Expired,
    SshLogin,
    DbAccess,
}

/// The tbot.yaml mistakes written for lint to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mistake {
    KubeSecret,
    SplitDns,
    NoProxy,
}

/// The one place that says how each incident is caused; a new incident gets its arm here.
fn cause(incident: Incident) -> Cause {
    match incident {
        Incident::GenerationMismatch => Cause::Agents(Run::GenerationMismatch),
        Incident::Expired => Cause::Agents(Run::Expired),
        Incident::SshLogin => Cause::Agents(Run::SshLogin),
        Incident::DbAccess => Cause::Agents(Run::DbAccess),
        Incident::K8sSecret => Cause::Config(Mistake::KubeSecret),
        Incident::SplitDns => Cause::Config(Mistake::SplitDns),
        Incident::NoProxy => Cause::Config(Mistake::NoProxy),
        Incident::BkExhausted => Cause::BoundKeypair(Bk::Exhausted),
        Incident::BkJoinState => Cause::BoundKeypair(Bk::JoinState),
        Incident::BkTokenWiped => Cause::BoundKeypair(Bk::TokenWiped),
        Incident::BkKeypairLost => Cause::BoundKeypair(Bk::KeypairLost),
        Incident::BkRollback => Cause::BoundKeypair(Bk::Rollback),
    }
}

/// True when `lab break` runs agents against a lab for the incident (S1–S4); the others only
/// write a file, or, see [`runs_agents_with_a_proxy`], run one when the lab has a proxy.
pub fn runs_agents(incident: Incident) -> bool {
    matches!(cause(incident), Cause::Agents(_) | Cause::BoundKeypair(_))
}

/// True for the incidents that need the network path to a proxy (S6, S7): `lab break` runs an
/// agent into them when the lab runs a proxy that advertises an address this host cannot reach,
/// and writes the lint-only file otherwise.
pub fn runs_agents_with_a_proxy(incident: Incident) -> bool {
    matches!(
        cause(incident),
        Cause::Config(Mistake::SplitDns | Mistake::NoProxy)
    )
}

/// How to start a lab in which S6 and S7 happen for real.
pub const PROXY_LAB_HINT: &str = "mwictl lab start --proxy-listen 127.0.0.1:3080 --proxy-public-addr proxy.lab.invalid:3080 (a public name this host cannot resolve)";

/// What to break and where.
#[derive(Debug, Clone)]
pub struct BreakOptions {
    pub scenario: Incident,
    pub bot: String,
    /// The working directory: tbot.yaml, tbot.log, data/ and out/.
    pub dir: PathBuf,
    /// The SSH login the S3 output asks for (the role allows only `alice`).
    pub login: String,
    /// The database the S4 output asks for (seeded into the lab).
    pub db: String,
    /// S10: delete the token instead of re-applying it without its status.
    pub delete: bool,
}

impl BreakOptions {
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("tbot.yaml")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("tbot.log")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn out_dir(&self) -> PathBuf {
        self.dir.join("out")
    }
}

/// What a break did and what to run next.
#[derive(Debug, Clone, PartialEq)]
pub struct Broken {
    pub scenario: Incident,
    pub bot: String,
    /// The incident as it now stands, in one sentence.
    pub headline: String,
    pub dir: PathBuf,
    pub config: PathBuf,
    /// The agents' log (S1–S4).
    pub log: Option<PathBuf>,
    /// The steps taken, in order.
    pub did: Vec<String>,
    /// What shows the incident happened: log lines, locks.
    pub seen: Vec<String>,
    /// Commands to diagnose and fix it.
    pub next: Vec<String>,
    /// The ID of the lock the lab created (S1, S9).
    pub lock: Option<String>,
    /// The bound-keypair token the bot joins with (S8–S12).
    pub token: Option<String>,
    pub elapsed: Duration,
}

impl Output for Broken {
    fn text(&self) -> String {
        let mut out = format!(
            "{} {}: {}\n",
            self.scenario.id(),
            self.scenario.lab().name,
            self.headline
        );
        out.push_str("did:\n");
        for step in &self.did {
            out.push_str(&format!("  - {step}\n"));
        }
        if !self.seen.is_empty() {
            out.push_str("seen:\n");
            for line in &self.seen {
                out.push_str(&format!("  {line}\n"));
            }
        }
        if let Some(log) = &self.log {
            out.push_str(&format!("log:    {}\n", log.display()));
        }
        out.push_str(&format!("config: {}\n", self.config.display()));
        out.push_str("next:\n");
        for command in &self.next {
            out.push_str(&format!("  {command}\n"));
        }
        out.push_str(&format!("took {:.1}s\n", self.elapsed.as_secs_f64()));
        out
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "scenario": self.scenario.lab().name,
            "incident": self.scenario.id(),
            "title": self.scenario.lab().title,
            "bot": self.bot,
            "headline": self.headline,
            "dir": self.dir.display().to_string(),
            "config": self.config.display().to_string(),
            "log": self.log.as_ref().map(|l| l.display().to_string()),
            "did": self.did,
            "seen": self.seen,
            "next": self.next,
            "lock": self.lock,
            "token": self.token,
            "seconds": (self.elapsed.as_secs_f64() * 10.0).round() / 10.0,
        })
    }
}

/// Receives each step as it is taken (the command prints it as status).
pub type Progress<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// Records steps and reports them as they happen.
pub(super) struct Steps<'a> {
    did: Vec<String>,
    progress: Progress<'a>,
}

impl Steps<'_> {
    pub(super) fn add(&mut self, step: impl Into<String>) {
        let step = step.into();
        (self.progress)(&step);
        self.did.push(step);
    }
}

/// Causes the incident. S1–S4 need `lab` (a client as the lab's admin and the lab's files);
/// S5–S7 only write a file.
pub async fn break_bot(
    lab: Option<(&Client, &LabTarget)>,
    opts: &BreakOptions,
    progress: Progress<'_>,
) -> Result<Broken, CommandError> {
    let started = Instant::now();
    if opts.delete && opts.scenario != Incident::BkTokenWiped {
        return Err(CommandError::usage(format!(
            "--delete is for bk-token-wiped only, not {}",
            opts.scenario.lab().name
        ))
        .hint("drop --delete"));
    }
    setup::check_bot_name(&opts.bot)?;
    setup::prepare_dir(&opts.dir)?;
    let mut steps = Steps {
        did: Vec::new(),
        progress,
    };
    let mut broken = Broken {
        scenario: opts.scenario,
        bot: opts.bot.clone(),
        headline: String::new(),
        dir: opts.dir.clone(),
        config: opts.config_path(),
        log: None,
        did: Vec::new(),
        seen: Vec::new(),
        next: Vec::new(),
        lock: None,
        token: None,
        elapsed: Duration::ZERO,
    };
    match (cause(opts.scenario), lab) {
        (Cause::Agents(run), Some((client, target))) => {
            run_agents(client, target, run, opts, &mut steps, &mut broken).await?;
        }
        (Cause::BoundKeypair(bk), Some((client, target))) => {
            bk::break_bound(client, target, bk, opts, &mut steps, &mut broken).await?;
        }
        (Cause::Agents(_) | Cause::BoundKeypair(_), None) => {
            return Err(CommandError::usage(format!(
                "lab break {} runs agents against a lab, and none is configured",
                opts.scenario.lab().name
            ))
            .hint("start one with `mwictl lab start`"));
        }
        (Cause::Config(mistake), Some((client, target)))
            if runs_agents_with_a_proxy(opts.scenario) && target.proxy.is_some() =>
        {
            through_the_proxy(client, target, mistake, opts, &mut steps, &mut broken).await?;
        }
        (Cause::Config(mistake), _) => write_lint_config(mistake, opts, &mut steps, &mut broken)?,
    }
    broken.did = steps.did;
    if broken.next.is_empty() {
        broken.next = next_commands(opts);
    }
    broken.elapsed = started.elapsed();
    Ok(broken)
}

fn write_lint_config(
    mistake: Mistake,
    opts: &BreakOptions,
    steps: &mut Steps,
    broken: &mut Broken,
) -> Result<(), CommandError> {
    let (data_dir, out_dir) = (opts.data_dir(), opts.out_dir());
    let text = tbot_yaml::render(&Inputs {
        scenario: opts.scenario,
        bot: &opts.bot,
        auth_server: tbot_yaml::EXAMPLE_AUTH,
        proxy_server: None,
        token: tbot_yaml::PLACEHOLDER_TOKEN,
        registration_secret: None,
        ca_path: None,
        data_dir: &data_dir,
        out_dir: &out_dir,
        login: &opts.login,
        db: &opts.db,
    });
    setup::write_private(&opts.config_path(), &text)?;
    let config = opts.config_path().display().to_string();
    let (step, headline) = match mistake {
        Mistake::KubeSecret => (
            format!(
                "wrote {config} with a kubernetes output to the kubernetes_secret identity-output, without disable_exec_plugin: true"
            ),
            "tbot would fail the output: the exec plugin needs a directory destination".to_string(),
        ),
        Mistake::SplitDns => (
            format!(
                "wrote {config} with proxy_server {}; TBOT_USE_PROXY_ADDR is unset, so tbot would use the address the proxy advertises",
                tbot_yaml::EXAMPLE_PROXY
            ),
            "behind split DNS tbot would connect to the proxy's public address, not the name configured".to_string(),
        ),
        Mistake::NoProxy => (
            format!(
                "wrote {config} with auth_server {} and an identity output without ssh_config: \"off\"",
                tbot_yaml::EXAMPLE_AUTH
            ),
            "tbot would ping a proxy for ssh_config and fail with `connection refused`".to_string(),
        ),
    };
    steps.add(step);
    steps.add("ran no agent: lint reads the file offline (the cluster in it is the example one)");
    if runs_agents_with_a_proxy(opts.scenario) {
        steps.add(format!(
            "to have an agent fail this way for real, run lab break against a lab with a proxy that advertises an address this host cannot reach: {PROXY_LAB_HINT}"
        ));
    }
    broken.headline = headline;
    Ok(())
}

/// S6 and S7 for real, with the lab proxy advertising an address this host cannot reach. S6: a
/// `proxy_server` bot joins through the proxy, then dials the advertised address and fails.
/// S7: an `auth_server` bot's identity output pings the proxy auth names, and fails.
async fn through_the_proxy(
    client: &Client,
    target: &LabTarget,
    mistake: Mistake,
    opts: &BreakOptions,
    steps: &mut Steps<'_>,
    broken: &mut Broken,
) -> Result<(), CommandError> {
    let proxy = target.proxy.clone().unwrap_or_default();
    if let Some(step) = setup::ensure_access_role(client, &opts.bot, Need::Any).await? {
        steps.add(step);
    }
    if let Some(step) = setup::ensure_bot(client, &opts.bot).await? {
        steps.add(step);
    }
    setup::refuse_if_locked(client, &opts.bot).await?;
    // A one-time `token` join (`bots add --legacy`), not tctl 19's bound-keypair default: the
    // incidents reproduced here are those of token-joined bots.
    let token = issue_bot_token(client, &opts.bot, DEFAULT_TOKEN_TTL).await?;
    steps.add(format!(
        "issued a one-time join token for bot {} (valid {})",
        opts.bot,
        humantime::format_duration(DEFAULT_TOKEN_TTL)
    ));
    let (data_dir, out_dir) = (opts.data_dir(), opts.out_dir());
    let split_dns = mistake == Mistake::SplitDns;
    let text = tbot_yaml::render(&Inputs {
        scenario: opts.scenario,
        bot: &opts.bot,
        auth_server: &target.addr,
        proxy_server: split_dns.then_some(proxy.as_str()),
        token: &token.name,
        registration_secret: None,
        ca_path: Some(&target.ca_path),
        data_dir: &data_dir,
        out_dir: &out_dir,
        login: &opts.login,
        db: &opts.db,
    });
    let (config, log) = (opts.config_path(), opts.log_path());
    setup::write_private(&config, &text)?;
    std::fs::write(&log, "").map_err(|e| {
        CommandError::failure(format!("cannot start the log {}: {e}", log.display()))
    })?;
    broken.log = Some(log.clone());
    steps.add(if split_dns {
        format!(
            "wrote {} with proxy_server {proxy} (the lab proxy) and an identity output; TBOT_USE_PROXY_ADDR unset",
            config.display()
        )
    } else {
        format!(
            "wrote {} with auth_server {} and an identity output without ssh_config: \"off\"",
            config.display(),
            target.addr
        )
    });
    let mut args = agent_args(&config, &log)?;
    args.oneshot = true;
    args.fallback_web_ca_path = Some(target.web_ca_path.clone());
    let exit = RunningAgent::start(args).wait(WAIT_LIMIT).await;
    let needle = if split_dns {
        SPLIT_DNS_FAILURE
    } else {
        NO_PROXY_FAILURE
    };
    if matching_lines(&log, needle).is_empty() {
        return Err(CommandError::failure(format!(
            "the agent did not fail with `{needle}` (exit: {exit:?}): the address the lab proxy advertises is reachable from here"
        ))
        .hint(format!("restart the lab with a public address this host cannot reach: {PROXY_LAB_HINT}"))
        .hint(format!("read the agent's log {}", log.display())));
    }
    let (restart, fix) = (
        format!(
            "mwictl lab bot -c {}",
            shell_word(&config.display().to_string())
        ),
        format!("mwictl doctor {}", shell_word(&log.display().to_string())),
    );
    if split_dns {
        steps.add("ran the agent once: it joined through proxy_server, then dialed the address the proxy advertises and could not reach it");
        broken.headline = format!(
            "bot {} cannot reach the proxy at the address it advertises (split DNS)",
            opts.bot
        );
        broken.next = vec![fix, format!("TBOT_USE_PROXY_ADDR=yes {restart}")];
    } else {
        steps.add("ran the agent once: it joined, then its identity output pinged the proxy auth names for ssh_config and could not reach it");
        broken.headline = format!(
            "bot {}'s identity output fails: it cannot reach the proxy for ssh_config",
            opts.bot
        );
        broken.next = vec![
            fix,
            format!(
                "mwictl lint --on-host --fix {}",
                shell_word(&config.display().to_string())
            ),
            restart,
        ];
    }
    broken.seen = first_lines(&log, &[needle]);
    Ok(())
}

async fn run_agents(
    client: &Client,
    target: &LabTarget,
    run: Run,
    opts: &BreakOptions,
    steps: &mut Steps<'_>,
    broken: &mut Broken,
) -> Result<(), CommandError> {
    let need = match run {
        Run::GenerationMismatch | Run::Expired => Need::Any,
        Run::SshLogin => Need::WithoutLogin(&opts.login),
        Run::DbAccess => Need::WithoutDatabases,
    };
    if let Some(step) = setup::ensure_access_role(client, &opts.bot, need).await? {
        steps.add(step);
    }
    if let Some(step) = setup::ensure_bot(client, &opts.bot).await? {
        steps.add(step);
    }
    setup::refuse_if_locked(client, &opts.bot).await?;
    // A one-time `token` join (`bots add --legacy`), not tctl 19's bound-keypair default: the
    // incidents reproduced here are those of token-joined bots.
    let token = issue_bot_token(client, &opts.bot, DEFAULT_TOKEN_TTL).await?;
    steps.add(format!(
        "issued a one-time join token for bot {} (valid {})",
        opts.bot,
        humantime::format_duration(DEFAULT_TOKEN_TTL)
    ));
    let (data_dir, out_dir) = (opts.data_dir(), opts.out_dir());
    let text = tbot_yaml::render(&Inputs {
        scenario: opts.scenario,
        bot: &opts.bot,
        auth_server: &target.addr,
        proxy_server: None,
        token: &token.name,
        registration_secret: None,
        ca_path: Some(&target.ca_path),
        data_dir: &data_dir,
        out_dir: &out_dir,
        login: &opts.login,
        db: &opts.db,
    });
    setup::write_private(&opts.config_path(), &text)?;
    let log = opts.log_path();
    // A fresh log: the doctor should read this incident, not an earlier one.
    std::fs::write(&log, "").map_err(|e| {
        CommandError::failure(format!("cannot start the log {}: {e}", log.display()))
    })?;
    steps.add(format!(
        "wrote {} (token in onboarding.token, storage {})",
        opts.config_path().display(),
        data_dir.display()
    ));
    broken.log = Some(log);
    match run {
        Run::GenerationMismatch => generation_mismatch(client, opts, steps, broken).await,
        Run::Expired => expired(opts, steps, broken).await,
        Run::SshLogin => ssh_login(opts, steps, broken).await,
        Run::DbAccess => db_access(target, opts, steps, broken).await,
    }
}

/// S1: a second agent on the first one's data dir renews the shared identity; the first then
/// presents the older generation and the lab locks the bot.
async fn generation_mismatch(
    client: &Client,
    opts: &BreakOptions,
    steps: &mut Steps<'_>,
    broken: &mut Broken,
) -> Result<(), CommandError> {
    let (config, log) = (opts.config_path(), opts.log_path());
    let mut args = agent_args(&config, &log)?;
    args.no_data_dir_lock = true;
    let first = RunningAgent::start(args.clone());
    wait_for_lines(&log, "Fetched new bot identity", 1, &[&first], WAIT_LIMIT)
        .await
        .map_err(|e| wait_failed(e, "the first agent did not join", &log, WAIT_LIMIT))?;
    steps.add("started agent 1: it joined with the token (a new bot instance, generation 1)");
    let second = RunningAgent::start(args);
    steps.add(
        "started agent 2 on the same data dir (--no-data-dir-lock): it renewed the shared identity",
    );
    let deadline = Instant::now() + WAIT_LIMIT;
    let lock = loop {
        let locks = find_blocking_locks(client, &opts.bot).await?;
        if let Some(lock) = locks.into_iter().next() {
            break lock;
        }
        let ended = first.is_finished() && second.is_finished();
        if ended || Instant::now() >= deadline {
            return Err(wait_failed(
                if ended {
                    agents::WaitError::AgentsEnded
                } else {
                    agents::WaitError::TimedOut
                },
                &format!("the lab did not lock bot {}", opts.bot),
                &log,
                WAIT_LIMIT,
            ));
        }
        tokio::time::sleep(agents::POLL).await;
    };
    // The agent's next try is refused by the lock; its line completes the picture the doctor
    // reads, but the incident has happened without it.
    let _ = wait_for_lines(&log, "is in force", 1, &[&first, &second], LOCK_LINE_WAIT).await;
    first.stop().await;
    second.stop().await;
    steps.add(format!(
        "the next renewal presented a stale generation; the lab locked the bot (lock {}, {})",
        lock.name(),
        lock.reason
    ));
    steps.add("stopped both agents");
    broken.lock = Some(lock.name().to_string());
    broken.seen = first_lines(&log, &["generation mismatch", "is in force"]);
    broken.headline = format!(
        "bot {} is locked after a certificate generation mismatch",
        opts.bot
    );
    Ok(())
}

/// S2: one run with a short credential TTL, a wait past its expiry, and a restart that finds
/// the identity expired and is refused by the TLS handshake.
async fn expired(
    opts: &BreakOptions,
    steps: &mut Steps<'_>,
    broken: &mut Broken,
) -> Result<(), CommandError> {
    let (config, log) = (opts.config_path(), opts.log_path());
    let mut args = agent_args(&config, &log)?;
    args.oneshot = true;
    args.credential_ttl = Some(SHORT_TTL);
    let exit = RunningAgent::start(args).wait(WAIT_LIMIT).await;
    if exit != Some(mwi_agent::AgentExit::Done) {
        return Err(
            CommandError::failure(format!("the agent did not join (exit: {exit:?})"))
                .hint(format!("read the agent's log {}", log.display())),
        );
    }
    let identity = stored_identity(&opts.data_dir())?;
    steps.add(format!(
        "ran the agent once with --credential-ttl {}: it joined (spending the token) and stopped",
        humantime::format_duration(SHORT_TTL)
    ));
    let expires = UNIX_EPOCH + Duration::from_secs(u64::try_from(identity.not_after).unwrap_or(0));
    // Certificate times have whole seconds; one more makes sure the agent sees it expired.
    let until = expires + Duration::from_secs(1);
    let wait = until
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO)
        .min(WAIT_LIMIT);
    tokio::time::sleep(wait).await;
    steps.add(format!(
        "waited {:.1}s for its identity to expire",
        wait.as_secs_f64()
    ));
    let exit = RunningAgent::start(agent_args(&config, &log)?)
        .wait(WAIT_LIMIT)
        .await;
    if matching_lines(&log, "Identity has expired").is_empty() {
        return Err(CommandError::failure(format!(
            "the restarted agent did not find its identity expired (exit: {exit:?})"
        ))
        .hint(format!("read the agent's log {}", log.display())));
    }
    steps.add("started it again: the identity had expired, the renewal was refused and it exited");
    broken.seen = first_lines(
        &log,
        &["Identity has expired", "Failed to renew bot identity"],
    );
    broken.headline = format!(
        "bot {}'s identity expired and its one-time token is spent",
        opts.bot
    );
    Ok(())
}

/// S3: the identity output's certificate carries the role's logins only; the agent's lab-only
/// `--ssh-login` check (a flag, so tbot.yaml keeps only tbot's keys) then fails as `ssh bob@node` would.
async fn ssh_login(
    opts: &BreakOptions,
    steps: &mut Steps<'_>,
    broken: &mut Broken,
) -> Result<(), CommandError> {
    let log = opts.log_path();
    let mut args = agent_args(&opts.config_path(), &log)?;
    args.ssh_login = Some(opts.login.clone());
    let agent = RunningAgent::start(args);
    let found = wait_for_lines(&log, SSH_REFUSED, 1, &[&agent], WAIT_LIMIT).await;
    agent.stop().await;
    found.map_err(|e| {
        wait_failed(
            e,
            &format!(
                "the agent's SSH check for login {} did not fail",
                opts.login
            ),
            &log,
            WAIT_LIMIT,
        )
    })?;
    steps.add(format!(
        "ran the agent with an identity output for role {} and --ssh-login {}: its certificate allows only {}",
        setup::access_role_name(&opts.bot),
        opts.login,
        setup::ACCESS_LOGIN
    ));
    steps.add("the SSH check failed (`unable to authenticate`); stopped the agent");
    broken.seen = first_lines(&log, &[SSH_REFUSED]);
    broken.headline = format!(
        "bot {}'s certificates do not allow SSH login {}",
        opts.bot, opts.login
    );
    Ok(())
}

/// S4: the lab holds the database, but the role cannot read database servers, so the output's
/// request for it fails with `not found`.
async fn db_access(
    target: &LabTarget,
    opts: &BreakOptions,
    steps: &mut Steps<'_>,
    broken: &mut Broken,
) -> Result<(), CommandError> {
    let (lab_dir, db) = (target.lab_dir.clone(), opts.db.clone());
    let labels = BTreeMap::from([(DB_LABEL_KEY.to_string(), DB_LABEL_VALUE.to_string())]);
    tokio::task::spawn_blocking(move || mwi_auth::lab::seed_database(&lab_dir, &db, labels))
        .await
        .map_err(|e| CommandError::failure(format!("seeding the database failed: {e}")))?
        .map_err(|e| CommandError::failure(e.to_string()))?;
    steps.add(format!(
        "registered database {} ({DB_LABEL_KEY}={DB_LABEL_VALUE}) in the lab",
        opts.db
    ));
    let log = opts.log_path();
    let needle = format!("database \"{}\" not found", opts.db);
    let agent = RunningAgent::start(agent_args(&opts.config_path(), &log)?);
    let found = wait_for_lines(&log, &needle, 1, &[&agent], WAIT_LIMIT).await;
    agent.stop().await;
    found.map_err(|e| {
        wait_failed(
            e,
            &format!("the agent's database output for {} did not fail", opts.db),
            &log,
            WAIT_LIMIT,
        )
    })?;
    steps.add(format!(
        "ran the agent with a database output for {} as role {}, which has no db_server/db read or list rule",
        opts.db,
        setup::access_role_name(&opts.bot)
    ));
    steps.add(format!(
        "the output failed: {needle} (RBAC hides it); stopped the agent"
    ));
    broken.seen = first_lines(&log, &["Failed to generate impersonated certs"]);
    broken.headline = format!(
        "bot {}'s roles hide database {}, so its output cannot find it",
        opts.bot, opts.db
    );
    Ok(())
}

/// For each needle, the first log line holding it, shortened for the summary.
pub(super) fn first_lines(log: &Path, needles: &[&str]) -> Vec<String> {
    needles
        .iter()
        .filter_map(|needle| matching_lines(log, needle).into_iter().next())
        .map(|line| log_excerpt(&line))
        .collect()
}

/// `--restart-cmd` and `--wait` for a bound-keypair recovery: each bot's agent once, which joins
/// without its expired certificates (see [`bk::BK_TTL`]), and a wait for its recovery.
fn bk_restart(configs: &[PathBuf]) -> String {
    let runs: Vec<String> = configs
        .iter()
        .map(|c| {
            format!(
                "mwictl lab bot -c {} --oneshot",
                shell_word(&c.display().to_string())
            )
        })
        .collect();
    format!(
        "--restart-cmd {} --wait 30s",
        shell_word(&runs.join(" && "))
    )
}

/// The commands that diagnose and fix the incident, then restart the agent.
pub fn next_commands(opts: &BreakOptions) -> Vec<String> {
    let bot = shell_word(&opts.bot);
    let config = shell_word(&opts.config_path().display().to_string());
    let log = shell_word(&opts.log_path().display().to_string());
    let doctor = format!("mwictl doctor {log}");
    let restart = format!("mwictl lab bot -c {config}");
    match opts.scenario {
        Incident::GenerationMismatch => vec![
            doctor,
            format!("mwictl recover generation-mismatch --bot {bot} --tbot-config {config} --yes"),
            restart,
        ],
        Incident::Expired => vec![
            doctor,
            format!("mwictl recover expired --bot {bot} --tbot-config {config} --yes"),
            restart,
        ],
        Incident::SshLogin => vec![
            doctor,
            format!(
                "mwictl recover ssh-login --bot {bot} --login {} --role {} --yes",
                shell_word(&opts.login),
                shell_word(&setup::access_role_name(&opts.bot))
            ),
            format!("{restart} --ssh-login {}", shell_word(&opts.login)),
        ],
        Incident::DbAccess => vec![
            doctor,
            format!(
                "mwictl recover db-access --bot {bot} --db {} --db-labels {DB_LABEL_KEY}={DB_LABEL_VALUE} --role {} --yes",
                shell_word(&opts.db),
                shell_word(&setup::access_role_name(&opts.bot))
            ),
            restart,
        ],
        Incident::K8sSecret | Incident::NoProxy => vec![
            format!("mwictl lint {config}"),
            format!("mwictl lint --fix {config}"),
        ],
        Incident::SplitDns => vec![
            format!("mwictl lint {config}"),
            format!("TBOT_USE_PROXY_ADDR=yes mwictl lint {config}"),
        ],
        Incident::BkExhausted | Incident::BkJoinState => vec![
            doctor,
            format!(
                "mwictl recover {} --bot {bot} --tbot-config {config} {} --yes",
                opts.scenario.name(),
                bk_restart(&[opts.config_path()])
            ),
            restart,
        ],
        // The fix reads the bot's public key (S10) or clears its stale files (S11) in storage.
        Incident::BkTokenWiped | Incident::BkKeypairLost => vec![
            doctor,
            format!(
                "mwictl recover {} --bot {bot} --storage {} --tbot-config {config} {} --yes",
                opts.scenario.name(),
                shell_word(&opts.data_dir().display().to_string()),
                bk_restart(&[opts.config_path()])
            ),
            restart,
        ],
        Incident::BkRollback => {
            let configs: Vec<PathBuf> = std::iter::once(opts.config_path())
                .chain(
                    (2..=bk::FLEET)
                        .map(|n| opts.dir.join(bk::fleet_bot(&opts.bot, n)).join("tbot.yaml")),
                )
                .collect();
            let mut next = vec![
                doctor,
                format!(
                    "mwictl recover {} {} --yes",
                    opts.scenario.name(),
                    bk_restart(&configs)
                ),
            ];
            next.extend(
                configs
                    .iter()
                    .map(|c| format!("mwictl lab bot -c {}", shell_word(&c.display().to_string()))),
            );
            next
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    fn opts(scenario: Incident, dir: &Path) -> BreakOptions {
        BreakOptions {
            scenario,
            bot: "example".into(),
            dir: dir.to_path_buf(),
            login: "bob".into(),
            db: "example".into(),
            delete: false,
        }
    }

    #[test]
    fn scenario_names_are_the_command_line_values_and_parse_back() {
        for scenario in Scenario::value_variants() {
            let value = scenario.to_possible_value().unwrap();
            let name = scenario.0.lab().name;
            assert_eq!(value.get_name(), name);
            assert_eq!(Scenario::from_str(name, false), Ok(*scenario));
            let help = value.get_help().unwrap().to_string();
            assert!(help.starts_with(scenario.0.id()), "{help}");
            assert_eq!(help.contains("(lint)"), !runs_agents(scenario.0), "{help}");
        }
        let incidents: Vec<&str> = Scenario::value_variants()
            .iter()
            .map(|s| s.0.id())
            .collect();
        assert_eq!(
            incidents,
            [
                "S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "S10", "S11", "S12"
            ]
        );
    }

    #[test]
    fn next_commands_quote_awkward_paths() {
        let next = next_commands(&opts(Incident::GenerationMismatch, Path::new("/a b/x")));
        assert_eq!(
            next,
            [
                "mwictl doctor '/a b/x/tbot.log'",
                "mwictl recover generation-mismatch --bot example --tbot-config '/a b/x/tbot.yaml' --yes",
                "mwictl lab bot -c '/a b/x/tbot.yaml'",
            ]
        );
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }

    #[test]
    fn lint_scenarios_suggest_lint_and_its_fix() {
        let next = next_commands(&opts(Incident::K8sSecret, Path::new("/d")));
        assert_eq!(
            next,
            ["mwictl lint /d/tbot.yaml", "mwictl lint --fix /d/tbot.yaml"]
        );
        let next = next_commands(&opts(Incident::SshLogin, Path::new("/d")));
        assert!(
            next[1].contains("--login bob --role access-example"),
            "{next:?}"
        );
    }

    #[tokio::test]
    async fn lint_scenarios_write_their_file_without_a_lab() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("bot");
        let broken = break_bot(None, &opts(Incident::NoProxy, &dir), &|_| {})
            .await
            .unwrap();
        assert_eq!(broken.log, None);
        assert_eq!(broken.config, dir.join("tbot.yaml"));
        let text = std::fs::read_to_string(dir.join("tbot.yaml")).unwrap();
        assert!(
            text.contains("auth_server: teleport.example.com:3025"),
            "{text}"
        );
        let json = broken.json();
        assert_eq!(json["incident"], "S7");
        assert_eq!(json["log"], serde_json::Value::Null);
        assert!(
            broken.text().contains("next:\n  mwictl lint "),
            "{}",
            broken.text()
        );
    }

    #[tokio::test]
    async fn agent_scenarios_without_a_lab_say_how_to_start_one() {
        let root = tempfile::tempdir().unwrap();
        let err = break_bot(None, &opts(Incident::Expired, root.path()), &|_| {})
            .await
            .unwrap_err();
        assert!(err.hints[0].contains("mwictl lab start"), "{err:?}");
    }
}
