//! `mwictl lab seed --bots N --instances N --locks N`: fills the lab with a synthetic fleet in a
//! few large transactions, for scale tests and benchmarks.

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::lab::setup::LabTarget;
use crate::output::Output;

/// Fill the lab with a synthetic fleet: bots, live instances and locks.
///
/// Bots are `seed-00000`, `seed-00001`, ...; instance i belongs to bot i mod BOTS, reports a tbot
/// version from 16.5.2 to 19.0.0 (one of six, in turn), hostname `host-NNNNNN`, was last seen up
/// to an hour ago, has one identity service (every tenth unhealthy) and a record that expires in
/// an hour. Lock i targets instance i while there are instances, then the user of a bot. Rows
/// are written straight into the lab's database in transactions of 5,000 (the lab may be
/// running: it lists them at once and enforces the locks within a second). Seeding again
/// replaces the bots and locks and adds instances. JSON: `{bots, instances, locks, seconds}`.
#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// How many bots to add.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub bots: usize,
    /// How many bot instances to add (spread over the bots; needs --bots).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub instances: usize,
    /// How many locks to add.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub locks: usize,
}

/// Most of each kind one run adds: enough for the scale benchmarks, bounded so a typo cannot
/// fill the disk.
const MAX: usize = 1_000_000;

pub async fn run(ctx: &Context, args: SeedArgs) -> Result<ExitStatus, CommandError> {
    for (flag, n) in [
        ("--bots", args.bots),
        ("--instances", args.instances),
        ("--locks", args.locks),
    ] {
        if n > MAX {
            return Err(CommandError::usage(format!(
                "{flag} {n} is more than lab seed adds in one run ({MAX})"
            )));
        }
    }
    if args.bots + args.instances + args.locks == 0 {
        return Err(CommandError::usage("nothing to seed")
            .hint("e.g. mwictl lab seed --bots 100 --instances 1000 --locks 10"));
    }
    if args.bots == 0 && (args.instances > 0 || args.locks > args.instances) {
        return Err(CommandError::usage(
            "instances and bot locks belong to bots: add --bots N too",
        ));
    }
    let (_client, resolved) = ctx.connected().await?;
    if resolved.target.via_proxy {
        return Err(CommandError::usage(
            "lab seed writes into a lab's data directory; it does not go through --proxy",
        )
        .hint("drop --proxy; start a lab with `mwictl lab start`"));
    }
    let lab = LabTarget::from_identity(&resolved.target.addr, &resolved.target.identity)?;
    let size = mwi_auth::lab::FleetSize {
        bots: args.bots,
        instances: args.instances,
        locks: args.locks,
    };
    let dir = lab.lab_dir.clone();
    let seeded = tokio::task::spawn_blocking(move || mwi_auth::lab::seed_fleet(&dir, size))
        .await
        .map_err(|e| CommandError::failure(format!("seeding the lab failed: {e}")))?
        .map_err(|e| CommandError::failure(e.to_string()))?;
    ctx.printer().print(&Report(seeded))?;
    Ok(ExitStatus::Success)
}

struct Report(mwi_auth::lab::Seeded);

impl Output for Report {
    fn text(&self) -> String {
        let size = self.0.size;
        format!(
            "seeded {} bots, {} instances and {} locks in {:.1}s\n",
            size.bots,
            size.instances,
            size.locks,
            self.0.elapsed.as_secs_f64()
        )
    }

    fn json(&self) -> serde_json::Value {
        let size = self.0.size;
        serde_json::json!({
            "bots": size.bots,
            "instances": size.instances,
            "locks": size.locks,
            "seconds": self.0.elapsed.as_secs_f64(),
        })
    }
}
