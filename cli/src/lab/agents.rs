//! Lab bot agents run inside mwictl (`mwi_agent::run` on a tokio task), their arguments built in
//! code, and the waits on their logs that tell when an incident has happened.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mwi_agent::{AgentArgs, AgentExit};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::error::CommandError;

/// How often a log or the server is polled while waiting for an incident.
pub const POLL: Duration = Duration::from_millis(100);

/// How long a stopped agent may take to finish its current call.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// Renewal interval of lab agents: short, so an incident shows within a second.
pub const RENEWAL_INTERVAL: Duration = Duration::from_millis(300);

/// First wait between failed renewals (tbot's is 1s): the seven tries then end within seconds.
pub const RETRY_BASE: Duration = Duration::from_millis(100);

/// Parses the agent's own flags, so every field not set here keeps the default of
/// `mwictl lab bot`.
#[derive(clap::Parser)]
#[command(name = "lab-agent")]
struct AgentCli {
    #[command(flatten)]
    agent: AgentArgs,
}

/// The arguments of an agent that reads `config`, logs to `log` and renews every
/// [`RENEWAL_INTERVAL`], retrying from [`RETRY_BASE`].
pub fn agent_args(config: &Path, log: &Path) -> Result<AgentArgs, CommandError> {
    let mut args = <AgentCli as clap::Parser>::try_parse_from(["lab-agent"])
        .map_err(|e| {
            CommandError::failure(format!(
                "the lab agent's default arguments do not parse ({e}); this is a bug, please report it"
            ))
        })?
        .agent;
    args.config = Some(config.to_path_buf());
    args.log_file = Some(log.to_path_buf());
    args.quiet_stderr = true;
    args.renewal_interval = Some(RENEWAL_INTERVAL);
    args.retry_base = RETRY_BASE;
    Ok(args)
}

/// An agent running on a task of the current runtime.
pub struct RunningAgent {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<AgentExit>,
}

impl RunningAgent {
    pub fn start(args: AgentArgs) -> RunningAgent {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(mwi_agent::run(args, async move {
            let _ = stopped.await;
        }));
        RunningAgent {
            stop: Some(stop),
            task,
        }
    }

    /// True once the agent ended by itself (gave up, or finished a oneshot run).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Asks the agent to stop and waits for it; `None` if it did not end in time (it is then
    /// aborted) or its task failed.
    pub async fn stop(mut self) -> Option<AgentExit> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.wait(STOP_WAIT).await
    }

    /// Waits up to `limit` for the agent to end by itself; aborts it after that.
    pub async fn wait(mut self, limit: Duration) -> Option<AgentExit> {
        match tokio::time::timeout(limit, &mut self.task).await {
            Ok(Ok(exit)) => Some(exit),
            Ok(Err(_)) => None,
            Err(_) => {
                self.task.abort();
                None
            }
        }
    }
}

impl Drop for RunningAgent {
    /// An agent whose owner is gone (an error path) must not keep renewing in the background.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The lines of `log` that contain `needle`.
pub fn matching_lines(log: &Path, needle: &str) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// A log line without its timestamp, level padding and caller, for summaries:
/// `ERROR [TBOT]      Failed … tbot/renew.go:617` → `ERROR Failed …`.
pub fn log_excerpt(line: &str) -> String {
    let mut words = line.split_whitespace().peekable();
    // tbot's text lines start with an RFC 3339 timestamp.
    if words
        .peek()
        .is_some_and(|w| w.len() >= 20 && w.as_bytes().get(4) == Some(&b'-'))
    {
        words.next();
    }
    let mut out: Vec<&str> = words.filter(|w| *w != "[TBOT]").collect();
    if out
        .last()
        .is_some_and(|w| w.starts_with("tbot/") && w.contains(".go:"))
    {
        out.pop();
    }
    out.join(" ")
}

/// Why a wait ended without the awaited event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitError {
    /// `limit` passed.
    TimedOut,
    /// Every agent ended first.
    AgentsEnded,
}

/// Polls `log` until it holds `count` lines containing `needle`; returns them. Gives up after
/// `limit`, or as soon as every agent in `agents` has ended and the log still lacks them.
pub async fn wait_for_lines(
    log: &Path,
    needle: &str,
    count: usize,
    agents: &[&RunningAgent],
    limit: Duration,
) -> Result<Vec<String>, WaitError> {
    let deadline = Instant::now() + limit;
    loop {
        let ended = !agents.is_empty() && agents.iter().all(|a| a.is_finished());
        let lines = matching_lines(log, needle);
        if lines.len() >= count {
            return Ok(lines);
        }
        if ended {
            return Err(WaitError::AgentsEnded);
        }
        if Instant::now() >= deadline {
            return Err(WaitError::TimedOut);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The failure of a wait, as one line naming what was awaited and the log to read.
pub fn wait_failed(error: WaitError, what: &str, log: &Path, limit: Duration) -> CommandError {
    let why = match error {
        WaitError::TimedOut => format!("not within {}", humantime::format_duration(limit)),
        WaitError::AgentsEnded => "the agent ended first".to_string(),
    };
    CommandError::failure(format!("{what}: {why}")).hint(format!(
        "read the agent's log {} for what happened",
        log.display()
    ))
}

/// The stored identity's certificate in the agent's data directory (tbot's `tlscert`).
pub fn stored_identity(data_dir: &Path) -> Result<mwi_identity::CertIdentity, CommandError> {
    let path: PathBuf = data_dir.join("tlscert");
    let pem = std::fs::read_to_string(&path).map_err(|e| {
        CommandError::failure(format!(
            "cannot read the agent's certificate {}: {e}",
            path.display()
        ))
    })?;
    mwi_identity::CertIdentity::from_pem(&pem).map_err(|e| {
        CommandError::failure(format!(
            "the agent's certificate {} is unusable: {e}",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_args_read_the_config_log_and_short_intervals() {
        let args = agent_args(Path::new("/d/tbot.yaml"), Path::new("/d/tbot.log")).unwrap();
        assert_eq!(args.config.as_deref(), Some(Path::new("/d/tbot.yaml")));
        assert_eq!(args.log_file.as_deref(), Some(Path::new("/d/tbot.log")));
        assert_eq!(args.renewal_interval, Some(RENEWAL_INTERVAL));
        assert_eq!(args.retry_base, RETRY_BASE);
        assert!(!args.oneshot && !args.no_data_dir_lock);
    }

    #[test]
    fn excerpt_drops_time_component_and_caller() {
        let line = "2025-01-02T03:04:05Z ERROR [TBOT]      Failed to renew bot identity: boom attempt:1/7 tbot/renew.go:421";
        assert_eq!(
            log_excerpt(line),
            "ERROR Failed to renew bot identity: boom attempt:1/7"
        );
        assert_eq!(log_excerpt("plain words"), "plain words");
    }

    #[test]
    fn matching_lines_of_a_missing_log_are_none() {
        assert!(matching_lines(Path::new("/nonexistent/tbot.log"), "x").is_empty());
    }

    #[tokio::test]
    async fn waiting_on_a_log_that_never_shows_the_line_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("tbot.log");
        std::fs::write(&log, "one\ntwo\n").unwrap();
        let found = wait_for_lines(&log, "two", 1, &[], Duration::from_millis(10)).await;
        assert_eq!(found, Ok(vec!["two".to_string()]));
        let missing = wait_for_lines(&log, "three", 1, &[], Duration::from_millis(10)).await;
        assert_eq!(missing, Err(WaitError::TimedOut));
    }
}
