//! `mwictl lab bot`: runs the lab bot agent, a tbot-like agent that joins, renews and writes
//! outputs the way tbot does, so incidents can be reproduced and recovered for real.

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;

/// Run a tbot-like bot agent against the lab (or, as far as the wire allows, a real auth service).
///
/// It joins with a one-time token or, with `--join-method bound_keypair` (or a `--join-uri`), by
/// the bound-keypair ceremony on every join and renewal (a registration secret, a key from `lab
/// keypair create`, or a static key). It keeps its identity in DATA_DIR with tbot's file names, renews
/// on an interval presenting its certificate generation, sends heartbeats and writes outputs; it
/// logs in tbot's formats so `mwictl doctor` reads its logs like tbot's. SIGUSR1 or SIGHUP renew
/// at once; SIGINT or SIGTERM stop it. Without --auth-server or an `auth_server` in the config it
/// uses the saved lab profile, and trusts that lab's CA for the first join.
///
/// With `proxy_server` it asks the proxy's /webapi/find (its web certificate checked against
/// the saved lab's web CA, or not with `insecure: true`) and, as tbot does, connects to the
/// address the proxy advertises unless TBOT_USE_PROXY_ADDR=yes; identity outputs then also get ssh_config and
/// known_hosts (unless `ssh_config: off`).
#[derive(Debug, clap::Args)]
pub struct BotArgs {
    #[command(flatten)]
    pub agent: mwi_agent::AgentArgs,
}

pub async fn run(ctx: &Context, args: BotArgs) -> Result<ExitStatus, CommandError> {
    let mut agent = args.agent;
    agent.auth_server = ctx.global().auth_server.clone();
    agent.use_proxy_addr = crate::environment::TBOT_USE_PROXY_ADDR.get();
    if let Some(profile) = ctx.profile()? {
        let lab_dir = profile.identity.parent();
        let ca = lab_dir.map(|dir| dir.join("ca.crt"));
        agent.fallback_ca_path = ca.filter(|path| path.is_file());
        let web_ca = lab_dir.map(|dir| dir.join(mwi_auth::lab::WEB_CA_CERT));
        agent.fallback_web_ca_path = web_ca.filter(|path| path.is_file());
        agent.fallback_auth_server = Some(profile.auth_server);
    }
    let exit = mwi_agent::run(agent, super::start::shutdown_signal()).await;
    Ok(match exit.code() {
        0 => ExitStatus::Success,
        _ => ExitStatus::Failure,
    })
}
