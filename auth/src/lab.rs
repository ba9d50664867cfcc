//! The public face of the lab auth service: its configuration, `serve` (run until shut down),
//! `spawn` (run in the background, for tests and embedding) and the one-line errors.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use crate::datadir;
pub use crate::datadir::{PROXY_ADDR, WEB_CA_CERT};
use crate::policy::Policy;
pub use crate::proxy::ProxyConfig;
use crate::proxy::{self, Proxy};
use crate::records::DatabaseRecord;
use crate::rpc::LabService;
pub use crate::seed::{
    FleetSize, Seeded, VERSIONS as SEEDED_VERSIONS, bot_name as seeded_bot_name, seed_fleet,
};
use crate::server::Auth;
use crate::store::{self, Change, Kind, Page, Store};
use crate::tls;

/// Which lock a certificate generation mismatch creates (teleport-behaviors.md §0, §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LockStyle {
    /// Teleport v16–v18: lock the bot's user `bot-NAME` (the whole bot).
    #[default]
    User,
    /// Newest Teleport: lock only the bot instance (`bot_instance_id`).
    Instance,
}

/// How to run the lab.
#[derive(Debug, Clone)]
pub struct LabConfig {
    /// Where the CA, the admin identity and the database live.
    pub data_dir: PathBuf,
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// `None`: the stored name, or "lab" on first start. A name different from the stored one
    /// is refused (the CA is bound to it).
    pub cluster_name: Option<String>,
    pub lock_style: LockStyle,
    /// Lifetime of a bot's renewable identity (Teleport's default: 1h; capped at 24h).
    pub bot_ttl: Duration,
    /// A proxy with TLS routing in front of the lab auth, when set.
    pub proxy: Option<ProxyConfig>,
    /// Refuse admin-level requests (writes and deletes) of identities that are not exempt, as
    /// a cluster whose only second factor is WebAuthn does (see `authz::admin_mfa_exempt`).
    pub admin_mfa: bool,
}

impl LabConfig {
    /// Defaults: 127.0.0.1:3025 (Teleport's auth port), stored cluster name, user locks, 1h.
    pub fn new(data_dir: PathBuf) -> Self {
        LabConfig {
            data_dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 3025)),
            cluster_name: None,
            lock_style: LockStyle::User,
            bot_ttl: Duration::from_secs(3600),
            proxy: None,
            admin_mfa: false,
        }
    }
}

/// What a started lab tells its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    /// The address it accepts connections on (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// The admin identity file (Teleport's format, mode 0600).
    pub identity_path: PathBuf,
    pub cluster_name: String,
    pub data_dir: PathBuf,
    /// The lab proxy's address, when it runs one.
    pub proxy: Option<SocketAddr>,
}

/// Why the lab cannot start or stopped; each is one line naming the input and the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    #[error(
        "data dir {path} is not empty and has no lab.json, so it is not a lab data dir; \
         choose an empty or new directory with --data-dir"
    )]
    Foreign { path: PathBuf },
    #[error(
        "data dir {path}: {file} is unusable ({reason}); the data dir is damaged: restore it \
         from a backup or start over with a new --data-dir"
    )]
    Damaged {
        path: PathBuf,
        file: String,
        reason: String,
    },
    #[error(
        "data dir {path} belongs to cluster {stored:?}, not {wanted:?}; drop --cluster-name or \
         use a new --data-dir"
    )]
    ClusterMismatch {
        path: PathBuf,
        stored: String,
        wanted: String,
    },
    #[error(
        "cluster name {name:?} is not usable; use 1–64 letters, digits, '.', '-' or '_' \
         (e.g. --cluster-name lab)"
    )]
    ClusterName { name: String },
    #[error("user name {name:?} cannot be given a lab identity: {reason}")]
    UserName { name: String, reason: String },
    #[error("cannot write {path}: {reason}; check the permissions of the data dir")]
    Io { path: PathBuf, reason: String },
    #[error(
        "cannot listen on {addr}: {reason}; pick another address with --listen (port 0 picks a free one)"
    )]
    Listen { addr: SocketAddr, reason: String },
    #[error(
        "cannot listen on {addr} for the lab proxy: {reason}; pick another address with \
         --proxy-listen (port 0 picks a free one)"
    )]
    ProxyListen { addr: SocketAddr, reason: String },
    #[error("lab certificate material could not be made: {0}; this is a bug, please report it")]
    Crypto(String),
    #[error("lab auth service failed: {0}; restart it (the data dir is safe)")]
    Serve(String),
    #[error("snapshot {path}: {reason}")]
    Snapshot { path: PathBuf, reason: String },
}

/// How long connections get to finish in-flight calls after shutdown is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How often expired resources are deleted.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

fn serve_error(e: impl std::fmt::Display) -> LabError {
    LabError::Serve(e.to_string())
}

/// Loads every lock and role into the policy view (start-up only).
async fn load_policy(store: &Store, policy: &Policy) -> Result<(), LabError> {
    for kind in [Kind::Lock, Kind::Role] {
        let mut from: Option<String> = None;
        loop {
            let page = Page {
                from: from.clone(),
                limit: 1000,
                ..Default::default()
            };
            let mut rows = store
                .read(move |r| r.list(kind, &page))
                .await
                .map_err(serve_error)?;
            let more = rows.len() == 1000;
            if more {
                from = rows.pop().map(|r| r.name);
            }
            let changes: Vec<Change> = rows.into_iter().map(|r| Change::Put(kind, r)).collect();
            policy.apply(&changes);
            if !more {
                break;
            }
        }
    }
    Ok(())
}

/// Runs the lab until `shutdown` resolves (then finishes in-flight calls, up to a few seconds),
/// calling `on_ready` once when it accepts connections.
pub async fn serve(
    config: LabConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_ready: impl FnOnce(&Ready) + Send,
) -> Result<(), LabError> {
    let dir = config.data_dir.clone();
    let cluster = config.cluster_name.clone();
    let material = tokio::task::spawn_blocking(move || datadir::open(&dir, cluster.as_deref()))
        .await
        .map_err(serve_error)??;

    let policy = Arc::new(Policy::default());
    let observer = policy.clone();
    let store = Store::open(
        &material.db_path,
        Arc::new(move |changes: &[Change]| observer.apply(changes)),
    )
    .map_err(|e| LabError::Damaged {
        path: config.data_dir.clone(),
        file: datadir::DATABASE.into(),
        reason: e.to_string(),
    })?;
    load_policy(&store, &policy).await?;

    let tls_config = tls::server_config(
        &material.cluster,
        material.tls_ca.cert_pem(),
        &material.server_cert_pem,
        &material.server_key_pem,
    )
    .map_err(|e| LabError::Damaged {
        path: config.data_dir.clone(),
        file: "server.crt".into(),
        reason: e.to_string(),
    })?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| LabError::Listen {
            addr: config.listen,
            reason: e.to_string(),
        })?;
    let addr = listener.local_addr().map_err(|e| LabError::Listen {
        addr: config.listen,
        reason: e.to_string(),
    })?;

    let proxy = match &config.proxy {
        Some(proxy_config) => Some(
            start_proxy(
                proxy_config,
                &config.data_dir,
                &material.cluster,
                config.lock_style,
                addr,
            )
            .await?,
        ),
        None => None,
    };

    let proxy_addr = proxy.as_ref().map(|(_, _, addr)| proxy::reachable(*addr));
    datadir::record_proxy(&config.data_dir, proxy_addr)?;
    let ready = Ready {
        addr,
        identity_path: material.identity_path.clone(),
        cluster_name: material.cluster.clone(),
        data_dir: config.data_dir.clone(),
        proxy: proxy.as_ref().map(|(_, _, addr)| *addr),
    };
    let auth = Arc::new(Auth {
        store,
        policy,
        tls_ca: material.tls_ca,
        ssh_ca: material.ssh_ca,
        bound_keypair_ca: material.bound_keypair_ca,
        cluster: material.cluster,
        lock_style: config.lock_style,
        bot_ttl: config.bot_ttl,
        admin_mfa: config.admin_mfa,
        proxy_public_addr: proxy
            .as_ref()
            .map(|(_, proxy, _)| proxy.info.public_addr.clone())
            .unwrap_or_default(),
    });

    let (stop_tx, stop_rx) = watch::channel(false);
    let incoming = tokio_stream::wrappers::ReceiverStream::new(tls::incoming(
        listener,
        tls_config,
        stop_rx.clone(),
    ));
    let sweeper = tokio::spawn(sweep(auth.clone(), stop_rx.clone()));
    let proxy_task = proxy.map(|(listener, proxy, _)| {
        tokio::spawn(proxy::serve(listener, Arc::new(proxy), stop_rx.clone()))
    });

    on_ready(&ready);
    let signal = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    let server = tonic::transport::Server::builder().serve_with_incoming_shutdown(
        LabService { auth: auth.clone() },
        incoming,
        signal,
    );
    let mut stopped = stop_rx;
    let grace = async move {
        until_stopped(&mut stopped).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    let result = tokio::select! {
        result = server => result.map_err(serve_error),
        _ = grace => Ok(()),
    };
    sweeper.abort();
    if let Some(task) = proxy_task {
        task.abort();
    }
    auth.store.close().await;
    result
}

/// Binds the lab proxy and gets its web certificate (for the listen and public hosts).
async fn start_proxy(
    config: &ProxyConfig,
    data_dir: &Path,
    cluster: &str,
    style: LockStyle,
    auth: SocketAddr,
) -> Result<(TcpListener, Proxy, SocketAddr), LabError> {
    let (listener, local) = proxy::bind(config.listen).await?;
    let public_addr = config
        .public_addr
        .clone()
        .unwrap_or_else(|| proxy::reachable(local).to_string());
    let public_host = mwi_identity::tls::with_default_port(&public_addr)
        .ok()
        .and_then(|a| {
            a.rsplit_once(':')
                .map(|(h, _)| h.trim_matches(['[', ']']).to_string())
        });
    let mut hosts = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    if !local.ip().is_unspecified() {
        hosts.push(local.ip().to_string());
    }
    hosts.extend(public_host);
    hosts.dedup();
    let dir = data_dir.to_path_buf();
    let cluster_name = cluster.to_string();
    let (chain, key) = tokio::task::spawn_blocking(move || {
        let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
        datadir::web_material(&dir, &cluster_name, &hosts)
    })
    .await
    .map_err(serve_error)??;
    let web = proxy::web_config(&chain, &key).map_err(LabError::Crypto)?;
    let proxy = Proxy {
        cluster: cluster.to_string(),
        auth_addr: proxy::reachable(auth),
        web: Arc::new(web),
        info: proxy::Info {
            cluster: cluster.to_string(),
            server_version: crate::server::server_version(style).to_string(),
            web_listen_addr: local.to_string(),
            public_addr,
        },
        l7: config.l7,
    };
    Ok((listener, proxy, local))
}

/// Resolves once `stop` turns true (or its sender is gone).
pub(crate) async fn until_stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

async fn sweep(auth: Arc<Auth>, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => {
                if let Err(e) = auth.store.sweep().await {
                    tracing::warn!("lab: sweeping expired resources failed: {e}");
                }
            }
            _ = until_stopped(&mut stop) => return,
        }
    }
}

/// A lab running in the background (see [`spawn`]). Dropping the handle stops the lab too,
/// without waiting for it.
pub struct LabHandle {
    ready: Ready,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), LabError>>,
}

impl LabHandle {
    pub fn ready(&self) -> &Ready {
        &self.ready
    }

    pub fn addr(&self) -> SocketAddr {
        self.ready.addr
    }

    /// Registers a database server in this lab (see [`seed_database`]).
    pub fn seed_database(
        &self,
        name: &str,
        labels: BTreeMap<String, String>,
    ) -> Result<(), LabError> {
        seed_database(&self.ready.data_dir, name, labels)
    }

    /// Stops the lab gracefully and waits until its store is closed.
    pub async fn shutdown(mut self) -> Result<(), LabError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.map_err(serve_error)?
    }
}

/// Starts the lab on the current tokio runtime; returns once it accepts connections.
pub async fn spawn(config: LabConfig) -> Result<LabHandle, LabError> {
    let (stop, stopped) = oneshot::channel::<()>();
    let (ready_tx, ready_rx) = oneshot::channel();
    let mut task = tokio::spawn(serve(
        config,
        async move {
            let _ = stopped.await;
        },
        move |ready: &Ready| {
            let _ = ready_tx.send(ready.clone());
        },
    ));
    match ready_rx.await {
        Ok(ready) => Ok(LabHandle {
            ready,
            stop: Some(stop),
            task,
        }),
        // The server ended before it was ready: its error says why.
        Err(_) => match (&mut task).await {
            Ok(Err(e)) => Err(e),
            Ok(Ok(())) => Err(LabError::Serve("it stopped before it was ready".into())),
            Err(e) => Err(serve_error(e)),
        },
    }
}

/// Issues an identity file for a normal user `name` with `roles`, valid for `ttl`, signed by the
/// lab at `data_dir`: what `tsh login` would give a person, so not exempt from admin MFA. Works
/// whether or not the lab is running.
pub fn issue_user_identity(
    data_dir: &Path,
    name: &str,
    roles: &[String],
    ttl: Duration,
) -> Result<mwi_identity::IdentityFile, LabError> {
    datadir::issue_user(data_dir, name, roles, ttl)
}

/// Registers (or replaces) a database server named `name` with `labels` in the lab at
/// `data_dir`, so that bots can be given (or denied) database access. Lab-only: Teleport learns
/// databases from its database agents. Works whether or not the lab is running.
pub fn seed_database(
    data_dir: &Path,
    name: &str,
    labels: BTreeMap<String, String>,
) -> Result<(), LabError> {
    if !data_dir.join(datadir::MARKER).is_file() {
        return Err(LabError::Foreign {
            path: data_dir.to_path_buf(),
        });
    }
    let record = DatabaseRecord {
        name: name.to_string(),
        labels,
    };
    store::upsert_record(
        &data_dir.join(datadir::DATABASE),
        Kind::DbServer,
        name,
        &record.to_bytes(),
    )
    .map_err(|e| LabError::Damaged {
        path: data_dir.to_path_buf(),
        file: datadir::DATABASE.into(),
        reason: e.to_string(),
    })
}

/// Writes a consistent copy of the lab database at `data_dir` to the new file `out` (its
/// directory is created), whether or not the lab is running; returns how many resources it
/// holds. The copy is written beside `out` and renamed into place, so `out` is whole or absent.
pub fn snapshot(data_dir: &Path, out: &Path) -> Result<u64, LabError> {
    check_lab_dir(data_dir)?;
    let refused = |reason: String| LabError::Snapshot {
        path: out.to_path_buf(),
        reason,
    };
    if out.exists() {
        return Err(refused(
            "it already exists; choose another path or remove it".into(),
        ));
    }
    let dir = out.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| refused(format!("cannot create its directory: {e}")))?;
    }
    let name = out
        .file_name()
        .ok_or_else(|| refused("it names no file".into()))?;
    let partial = out.with_file_name(format!(".{}.partial", name.to_string_lossy()));
    let _ = std::fs::remove_file(&partial);
    let written = store::snapshot(&data_dir.join(datadir::DATABASE), &partial)
        .map_err(|e| damaged(data_dir, e))
        .and_then(|rows| {
            std::fs::File::open(&partial)
                .and_then(|f| f.sync_all())
                .and_then(|()| std::fs::rename(&partial, out))
                .map(|()| rows)
                .map_err(|e| refused(format!("cannot write it: {e}")))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// Replaces every resource of the lab at `data_dir` with those of the snapshot `from`, in one
/// transaction; returns how many there are now. A running lab serves the restored state at
/// once and reloads its locks and roles within a fraction of a second.
pub fn restore(data_dir: &Path, from: &Path) -> Result<u64, LabError> {
    check_lab_dir(data_dir)?;
    check_snapshot(from)?;
    store::restore(&data_dir.join(datadir::DATABASE), from).map_err(|e| damaged(data_dir, e))
}

/// Checks that `path` is a lab database snapshot; returns how many resources it holds.
pub fn check_snapshot(path: &Path) -> Result<u64, LabError> {
    let refused = |reason: String| LabError::Snapshot {
        path: path.to_path_buf(),
        reason,
    };
    if !path.is_file() {
        return Err(refused(
            "no such file; `mwictl lab snapshot` prints the path it wrote".into(),
        ));
    }
    store::check_snapshot(path).map_err(|e| refused(format!("not a lab database snapshot: {e}")))
}

fn check_lab_dir(data_dir: &Path) -> Result<(), LabError> {
    if data_dir.join(datadir::MARKER).is_file() {
        Ok(())
    } else {
        Err(LabError::Foreign {
            path: data_dir.to_path_buf(),
        })
    }
}

fn damaged(data_dir: &Path, e: store::OpenError) -> LabError {
    LabError::Damaged {
        path: data_dir.to_path_buf(),
        file: datadir::DATABASE.into(),
        reason: e.to_string(),
    }
}
