//! The agent's own test helpers (the lab, fixtures and a stored identity in tbot's layout are in
//! `mwi_testkit`): argument parsing as the CLI embeds the agent, and running it to its end.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use clap::Parser;
use mwi_agent::{AgentArgs, AgentExit};

#[derive(Parser)]
struct Cli {
    /// As mwictl's global flag, which `mwictl lab bot` hands to the agent.
    #[arg(long)]
    auth_server: Option<String>,
    #[command(flatten)]
    agent: AgentArgs,
}

pub fn args(list: &[&str]) -> AgentArgs {
    let cli = Cli::try_parse_from(std::iter::once("bot").chain(list.iter().copied()))
        .expect("test arguments parse");
    AgentArgs {
        auth_server: cli.auth_server,
        ..cli.agent
    }
}

/// Runs the agent until it ends by itself (it must, within `limit`) and returns its log.
pub async fn run_to_end(list: &[&str], log: &Path, limit: Duration) -> (AgentExit, String) {
    let mut list = list.to_vec();
    let log_arg = log.to_str().expect("utf-8 temp path").to_string();
    list.extend(["--log-file", &log_arg]);
    let exit = tokio::time::timeout(limit, mwi_agent::run(args(&list), std::future::pending()))
        .await
        .expect("the agent ends by itself in time");
    (exit, std::fs::read_to_string(log).unwrap_or_default())
}
