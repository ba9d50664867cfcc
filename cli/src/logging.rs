//! Diagnostic logging to stderr for `-v`: which address was dialed, which RPC variant (new or
//! fallback) was used, each call. Off by default; `RUST_LOG` overrides the level.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::environment;

/// Starts logging at the level `-v` counts ask for: 0 warnings only, 1 info, 2 debug, 3+ trace.
pub fn init(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // Our crates log at the chosen level; dependencies (h2, hyper, rustls) only from -vvv.
    let default = if verbose >= 3 {
        level.to_string()
    } else {
        format!("warn,mwictl={level},mwi_auth={level},mwi_identity={level}")
    };
    let filter = EnvFilter::try_from_env(environment::RUST_LOG.name())
        .unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}
