//! `mwictl lab start`: runs the lab auth service in the foreground, prints one ready line, saves
//! the profile so plain `mwictl` commands reach it, and stops cleanly on SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mwi_auth::lab::{LabConfig, LockStyle, ProxyConfig, Ready};

use crate::commands::flags::parse_duration;
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::output::Printer;
use crate::profile::Profile;

/// Run the lab auth service: a Teleport-compatible auth service for rehearsal and tests.
///
/// The first start creates a CA, an admin identity file and the database in the data dir; later
/// starts reuse them. When it accepts connections it prints one line to stdout,
/// `lab auth service ready: addr=ADDR identity=PATH cluster=NAME` (and ` proxy=ADDR` with
/// --proxy-listen), and saves the profile, so
/// `mwictl ping` and the other commands reach it without flags. The data dir also gets what an
/// auth host has (`host_uuid`, `proc/sqlite.db`, `teleport.yaml`), so `mwictl -c
/// DATA_DIR/teleport.yaml` works as tctl does on one. It runs until SIGINT or SIGTERM.
#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// Where the CA, the admin identity and the database live [default: $MWICTL_HOME/lab].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:3025")]
    pub listen: SocketAddr,

    /// Cluster name, fixed on the first start [default: the stored name, else "lab"].
    #[arg(long, value_name = "NAME")]
    pub cluster_name: Option<String>,

    /// What a bot's certificate generation mismatch locks: the bot's user (Teleport up to v18)
    /// or only the bot instance (newer Teleport).
    #[arg(long, value_enum, default_value_t = LockStyleArg::User)]
    pub lock_style: LockStyleArg,

    /// Leave the saved profile as it is (plain `mwictl` commands keep using the lab it names);
    /// reach this lab with --auth-server and -i.
    #[arg(long)]
    pub no_profile: bool,

    /// Also log a lab admin user in as tsh would: write a tsh profile (v17+ layout) with a normal
    /// user's certificate (role admin, 12h) into DIR and make it DIR's current profile. Use it
    /// with `TELEPORT_HOME=DIR`; its proxy is --proxy-listen's (without one, add --auth-server).
    #[arg(long, value_name = "DIR")]
    pub tsh_home: Option<PathBuf>,

    /// Lifetime of the certificates bots get, e.g. 1h or 20m.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub bot_ttl: Duration,

    /// Also run a proxy with TLS routing here (HTTPS with a lab web certificate, whose CA is
    /// DATA_DIR/web-ca.crt): it answers /webapi/find and /webapi/ping and passes
    /// `teleport-auth@…` connections to the lab auth untouched. Reach it with --proxy.
    #[arg(long, value_name = "HOST:PORT")]
    pub proxy_listen: Option<SocketAddr>,

    /// The address the proxy advertises as its public address in /webapi/find (a name only
    /// some networks resolve, to reproduce split DNS) [default: the --proxy-listen address].
    #[arg(long, value_name = "NAME:PORT", requires = "proxy_listen", value_parser = parse_public_addr)]
    pub proxy_public_addr: Option<String>,

    /// Make the proxy behave like an L7 load balancer in front of Teleport (an AWS ALB, say): it
    /// ends TLS with the web certificate and negotiates only http/1.1, so clients reach auth
    /// with the connection upgrade (GET /webapi/connectionupgrade, a WebSocket).
    #[arg(long, requires = "proxy_listen")]
    pub proxy_l7: bool,

    /// Refuse admin-level requests (writes and deletes) without MFA, as a cluster whose only
    /// second factor is WebAuthn does; exempt are bots, certificates bots issued and the lab's
    /// admin, not normal users (`mwictl lab user`).
    #[arg(long)]
    pub admin_mfa: bool,
}

/// `--lock-style` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LockStyleArg {
    /// Lock `user: bot-NAME` (Teleport v16–v18).
    User,
    /// Lock `bot_instance_id` (newest Teleport).
    Instance,
}

pub async fn run(ctx: &Context, args: StartArgs) -> Result<ExitStatus, CommandError> {
    let home = ctx.home()?;
    let data_dir = args.data_dir.unwrap_or_else(|| home.lab_dir());
    let mut config = LabConfig::new(data_dir);
    config.listen = args.listen;
    config.cluster_name = args.cluster_name;
    config.bot_ttl = args.bot_ttl;
    config.proxy = args.proxy_listen.map(|listen| ProxyConfig {
        listen,
        public_addr: args.proxy_public_addr.clone(),
        l7: args.proxy_l7,
    });
    config.admin_mfa = args.admin_mfa;
    config.lock_style = match args.lock_style {
        LockStyleArg::User => LockStyle::User,
        LockStyleArg::Instance => LockStyle::Instance,
    };
    let printer = ctx.printer();
    let tsh_home = args.tsh_home;
    let on_ready = |ready: &Ready| {
        if let Some(dir) = &tsh_home {
            write_tsh_profile(printer, dir, ready);
        }
        if let Err(e) = mwi_auth::auth_host::write(ready) {
            printer.warn(format_args!("the lab's teleport.yaml for -c: {e}"));
        }
        // The profile is saved before the ready line: whoever waits for the line may then run
        // plain `mwictl` commands at once.
        let profile = Profile {
            auth_server: ready.addr.to_string(),
            identity: absolute(&ready.identity_path),
            cluster_name: Some(ready.cluster_name.clone()),
        };
        save_profile(printer, &home.profile(), &profile, args.no_profile);
        let proxy = ready
            .proxy
            .map(|addr| format!(" proxy={addr}"))
            .unwrap_or_default();
        let line = format!(
            "lab auth service ready: addr={} identity={} cluster={}{proxy}\n",
            ready.addr,
            ready.identity_path.display(),
            ready.cluster_name
        );
        // Scripts wait for this line; without a reader there is no one to tell.
        let _ = printer.write(&line);
    };
    mwi_auth::lab::serve(config, shutdown_signal(), on_ready)
        .await
        .map_err(|e| CommandError::failure(e.to_string()))?;
    printer.status("lab auth service stopped");
    Ok(ExitStatus::Success)
}

/// Saves `profile` (unless `--no-profile`), saying so when it replaces one naming another lab:
/// plain commands then reach this lab, not the one they reached before.
fn save_profile(printer: &Printer, path: &Path, profile: &Profile, keep: bool) {
    let old = Profile::load(path).ok().flatten();
    if keep {
        printer.status(format_args!(
            "left the profile {} as it is (--no-profile); reach this lab with --auth-server {} -i {}",
            path.display(),
            profile.auth_server,
            profile.identity.display()
        ));
        return;
    }
    if let Err(e) = profile.save(path) {
        printer.warn(format_args!(
            "{e}; pass --auth-server and -i to other commands"
        ));
        return;
    }
    if let Some(old) = old
        && (old.auth_server != profile.auth_server || old.identity != profile.identity)
    {
        printer.status(format_args!(
            "the profile {} now points at this lab: {} (was {}, identity {}); plain `mwictl` commands use this lab (start with --no-profile to leave the profile as it is)",
            path.display(),
            profile.auth_server,
            old.auth_server,
            old.identity.display()
        ));
    }
}

/// The user `--tsh-home` logs in, and for how long (tsh's default session TTL).
const TSH_USER: &str = "lab-admin";
const TSH_TTL: Duration = Duration::from_secs(12 * 3600);

/// Writes the `--tsh-home` profile: its proxy is the lab proxy (TLS routing) when the lab runs
/// one; else the auth address without TLS routing, so it is used with --auth-server (mwictl
/// says so without).
fn write_tsh_profile(printer: &Printer, dir: &Path, ready: &Ready) {
    let (web_proxy_addr, tls_routing) = match ready.proxy {
        Some(proxy) => (proxy, true),
        None => (ready.addr, false),
    };
    let roles = ["admin".to_string()];
    let written = mwi_auth::lab::issue_user_identity(&ready.data_dir, TSH_USER, &roles, TSH_TTL)
        .map_err(|e| e.to_string())
        .and_then(|identity| {
            crate::tsh::write_profile(
                &absolute(dir),
                &web_proxy_addr.to_string(),
                tls_routing,
                &ready.cluster_name,
                &identity,
            )
            .map_err(|e| e.to_string())
        });
    match written {
        Ok(profile) => printer.status(format_args!(
            "tsh profile {} for user {} written to {} (TELEPORT_HOME={} mwictl --auth-server {} ...)",
            profile.name,
            profile.user,
            dir.display(),
            dir.display(),
            ready.addr
        )),
        Err(e) => printer.warn(format_args!("--tsh-home: {e}")),
    }
}

/// The profile outlives the working directory it was started from.
fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed here, before the lab
/// starts, so a signal sent right after the ready line stops it gracefully instead of killing it.
pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                // Without handlers the default actions still stop the process.
                _ => std::future::pending::<()>().await,
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// `--proxy-public-addr`: a DNS name or IP address and a port, as clients will dial it (the web
/// certificate names the host).
fn parse_public_addr(text: &str) -> Result<String, String> {
    let bad = || format!("{text:?} is not NAME:PORT (e.g. teleport.example.com:443)");
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let host_ok = host.parse::<std::net::IpAddr>().is_ok()
        || host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .is_some_and(|h| h.parse::<std::net::Ipv6Addr>().is_ok())
        || (!host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            }));
    match port.parse::<u16>() {
        Ok(p) if p != 0 && host_ok && !port.starts_with('+') => Ok(text.to_string()),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_public_addr;

    #[test]
    fn a_public_address_is_a_name_or_ip_and_a_port() {
        for good in [
            "teleport.example.com:443",
            "proxy:3080",
            "10.0.0.1:443",
            "[::1]:443",
        ] {
            assert_eq!(parse_public_addr(good).as_deref(), Ok(good));
        }
        for bad in [
            "teleport.example.com",
            "a b:443",
            "x:0",
            "x:+1",
            ":443",
            "a..b:443",
            "é.com:443",
            "[zz]:443",
        ] {
            let err = parse_public_addr(bad).unwrap_err();
            assert!(err.contains("is not NAME:PORT"), "{bad}: {err}");
        }
    }
}
