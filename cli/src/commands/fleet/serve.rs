//! `mwictl fleet serve --listen ADDR [--interval 30s]`: the triage as Prometheus metrics over
//! HTTP, refreshed in the background.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use crate::commands::flags::parse_duration;
use crate::commands::triage::TriageArgs;
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::triage::{serve, triage};

/// Serve the fleet's triage as Prometheus metrics at http://ADDR/metrics.
///
/// The metrics are those of `mwictl triage --format prometheus` (per bot: locked, live
/// instances, recoveries remaining, seconds until the identity expires, unhealthy services,
/// heartbeat age; per cluster: bots, bots needing attention, bots per reason), plus
/// mwictl_refresh_failures_total and mwictl_refresh_duration_seconds. The triage is refreshed
/// every --interval in the background; when a refresh fails, the last good one is still served
/// and the failure is counted and logged. The first triage must succeed before anything is
/// served. Other paths answer 404. Runs until interrupted (Ctrl-C).
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The address to listen on, like 127.0.0.1:9464 (port 0: any free port, printed).
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: SocketAddr,

    /// How often to refresh the triage.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub interval: Duration,

    #[command(flatten)]
    pub triage: TriageArgs,
}

pub async fn run(ctx: &Context, args: ServeArgs) -> Result<ExitStatus, CommandError> {
    let listener = serve::bind(args.listen).await?;
    let addr = listener.local_addr().unwrap_or(args.listen);
    let state_dir = ctx.home()?.state_dir();
    let client = ctx.client().await?;
    let limits = args.triage.limits();
    let started = Instant::now();
    let switched = crate::recover::insecure::switched(&state_dir);
    let first = triage(client, SystemTime::now(), limits, &switched).await?;
    let duration = started.elapsed();
    ctx.printer().status(format!(
        "Serving the triage of cluster {} ({} bots) at http://{addr}/metrics, refreshed every {}",
        first.cluster,
        first.bots.len(),
        humantime::format_duration(args.interval)
    ));
    let printer = ctx.printer();
    let serving = serve::serve(
        client,
        listener,
        (first, duration),
        args.interval,
        limits,
        &state_dir,
        |e| {
            printer.warn(format!(
                "refreshing the triage failed (serving the last good one): {}",
                e.message
            ))
        },
    );
    tokio::select! {
        result = serving => result.map(|()| ExitStatus::Success),
        _ = tokio::signal::ctrl_c() => Ok(ExitStatus::Success),
    }
}
