//! The lab bot agent (`mwictl lab bot`): a minimal tbot that joins with a one-time token or a
//! bound keypair, renews its identity on an interval (presenting its generation, or re-running
//! the bound-keypair ceremony), and logs in tbot's formats.
//!
//! It keeps tbot's storage layout (`key`, `tlscert`, `tokenhash`, `lock`, ...), detects a changed
//! token at start and rejoins, retries a failed renewal 7 times with backoff and then exits 1,
//! renews at once on SIGUSR1/SIGHUP, sends BotInstance heartbeats (with each output's health) and
//! writes identity and
//! database outputs. Its logs are what `mwictl doctor` reads, so they follow tbot's wording.
//!
//! ```no_run
//! # async fn example(args: mwi_agent::AgentArgs) {
//! let exit = mwi_agent::run(args, async { let _ = tokio::signal::ctrl_c().await; }).await;
//! std::process::exit(i32::from(exit.code()));
//! # }
//! ```

mod agent;
mod backoff;
mod bkp;
mod bkp_join;
mod config;
mod connect;
mod health;
mod identity;
mod joinuri;
mod keys;
mod log;
mod outputs;
mod rpc;
mod settings;
mod store;
mod webapi;

use std::future::Future;

pub use agent::AgentExit;
pub use bkp::{BkpError, Keypair, create_keypair, create_static_keypair, proxy_suite};
pub use log::LogFormat;
pub use settings::AgentArgs;

/// Runs the agent until `shutdown` completes (exit [`AgentExit::Stopped`]), `--oneshot` finishes
/// ([`AgentExit::Done`]) or it gives up ([`AgentExit::Failed`]). Everything it has to say,
/// including a bad flag or config, goes to its log (stderr and `--log-file`).
pub async fn run(args: AgentArgs, shutdown: impl Future<Output = ()>) -> AgentExit {
    let log = match log::Logger::new(args.log_format, args.log_file.as_deref(), args.quiet_stderr) {
        Ok(log) => log,
        Err(e) => {
            let path = args
                .log_file
                .as_deref()
                .unwrap_or(std::path::Path::new("-"));
            log::Logger::stderr(args.log_format).error(
                agent::caller::INIT,
                &format!("--log-file {}: cannot open it: {e}", path.display()),
                &[],
            );
            return AgentExit::Failed;
        }
    };
    let settings = match settings::Settings::resolve(&args) {
        Ok(settings) => settings,
        Err(e) => {
            log.error(agent::caller::INIT, &e.to_string(), &[]);
            return AgentExit::Failed;
        }
    };
    match agent::Agent::open(settings, log.clone()) {
        Ok(agent) => agent.run(shutdown).await,
        Err(e) => {
            log.error(agent::caller::INIT, &e, &[]);
            AgentExit::Failed
        }
    }
}
