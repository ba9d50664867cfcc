//! The agent's life: start-up (load, token-change detection, renew or join), the renewal loop
//! with retries and reload signals, heartbeats and outputs after each renewal, and the exit.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::backoff::{Backoff, MAX_ATTEMPTS};
use crate::bkp::{BoundKey, ClientState, StoredState};
use crate::bkp_join::{self, Ceremony};
use crate::config::OutputKind;
use crate::connect::{Route, ServerTrust};
use crate::health::Health;
use crate::identity::{Identity, unix_rfc3339};
use crate::keys::KeyPair;
use crate::log::Logger;
use crate::outputs::{self, SshProxy};
use crate::rpc::{self, Failure};
use crate::settings::{BoundKeypair, JoinMethod, JoinTrust, ProxySettings, Server, Settings};
use crate::store::{self, Store};
use crate::webapi;

/// How the agent ended; maps to the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentExit {
    /// Stopped by the shutdown future (exit 0).
    Stopped,
    /// `--oneshot` renewed and wrote every output (exit 0).
    Done,
    /// Could not start, gave up after retries, or an output failed in oneshot mode (exit 1).
    Failed,
}

impl AgentExit {
    pub fn code(self) -> u8 {
        match self {
            AgentExit::Stopped | AgentExit::Done => 0,
            AgentExit::Failed => 1,
        }
    }
}

impl From<AgentExit> for std::process::ExitCode {
    fn from(exit: AgentExit) -> std::process::ExitCode {
        std::process::ExitCode::from(exit.code())
    }
}

/// The tbot source file (and, where the seed shows it, the line) that prints each kind of
/// line, so that logs read like tbot's.
pub(crate) mod caller {
    use crate::log::Caller;
    pub const INIT: Caller = "tbot/tbot.go:204";
    pub const TOKEN_CHANGED: Caller = "tbot/tbot.go:262";
    pub const LOADED: Caller = "tbot/tbot.go:281";
    pub const ONBOARDING_IGNORED: Caller = "tbot/tbot.go:288";
    pub const EXPIRED: Caller = "tbot/tbot.go:415";
    pub const JOIN: Caller = "tbot/renew.go:174";
    pub const RENEWED: Caller = "tbot/renew.go:412";
    pub const RENEW_FAILED: Caller = "tbot/renew.go:421";
    pub const RETRY: Caller = "tbot/renew.go:470";
    pub const EXHAUSTED: Caller = "tbot/renew.go:478";
    pub const OUTPUT_FAILED: Caller = "tbot/renew.go:617";
    pub const OUTPUT_RENEWED: Caller = "tbot/renew.go:630";
    pub const SSH_CHECK: Caller = "tbot/renew.go:652";
    pub const HEARTBEAT: Caller = "tbot/heartbeat.go:98";
    pub const SIGNAL: Caller = "tbot/signals_unix.go:42";
    pub const LOOP: Caller = "tbot/tbot.go:330";
    // These two lines are not in the seed logs: the files are where Teleport prints them
    // (`proxyPingCache.ping` in lib/tbot/tbot.go, `TunnelAuthDialer` in lib/reversetunnelclient),
    // the line numbers are placeholders.
    pub const PROXY_PING: Caller = "tbot/tbot.go:617";
    pub const RESOLVER: Caller = "reversetunnelclient/api.go:134";
}

/// tbot warns when asked for certificates longer than Teleport will issue.
const MAX_RENEWABLE_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// How a renewal round ended.
enum Round {
    Renewed,
    GaveUp,
    Shutdown,
}

pub(crate) struct Agent {
    settings: Settings,
    log: Logger,
    store: Store,
    backoff: Backoff,
    started: Instant,
    /// The identity in memory, which is what the next renewal presents (as in tbot, it is not
    /// re-read from disk: two agents sharing a directory therefore collide).
    current: Option<Identity>,
    sent_startup_heartbeat: bool,
    /// Each output's health, sent with every heartbeat.
    health: Health,
    /// Through a proxy: what its `/webapi/find` said, asked once at start.
    discovered: Option<Discovered>,
    /// The proxy identity outputs write `ssh_config` for; asked once, as tbot caches its ping.
    ssh_proxy: Option<SshProxy>,
}

/// The routes to auth through a proxy, from its `/webapi/find`.
struct Discovered {
    /// To the configured address: the first join (tbot joins through `proxy_server` itself).
    join: Route,
    /// To the address tbot uses for everything else: the advertised public address, or the
    /// configured one with `TBOT_USE_PROXY_ADDR=yes` (lib/tbot/tbot.go `proxyWebAddr`).
    client: Route,
}

impl Agent {
    /// Opens the data directory (taking its lock) and logs the start.
    pub(crate) fn open(settings: Settings, log: Logger) -> Result<Agent, String> {
        log.info(
            caller::INIT,
            "Initializing tbot",
            &[
                ("version", crate::rpc::TBOT_VERSION.into()),
                ("storage", settings.data_dir.display().to_string()),
            ],
        );
        for note in &settings.notes {
            log.warn(caller::INIT, note, &[]);
        }
        if settings.credential_ttl < settings.renewal_interval && !settings.oneshot {
            log.warn(
                caller::INIT,
                "Credential TTL is shorter than the renewal interval. This is likely an invalid configuration. Increase the credential TTL or decrease the renewal interval",
                &[
                    ("ttl", mwi_identity::duration::format(settings.credential_ttl)),
                    ("interval", mwi_identity::duration::format(settings.renewal_interval)),
                ],
            );
        }
        if settings.credential_ttl > MAX_RENEWABLE_TTL {
            log.warn(
                caller::INIT,
                "Requested certificate TTL exceeds the maximum TTL allowed and will likely be reduced by the Teleport server",
                &[
                    ("requested_ttl", mwi_identity::duration::format(settings.credential_ttl)),
                    ("maximum_ttl", mwi_identity::duration::format(MAX_RENEWABLE_TTL)),
                ],
            );
        }
        let store =
            Store::open(&settings.data_dir, settings.lock_data_dir).map_err(|e| e.to_string())?;
        Ok(Agent {
            backoff: Backoff::new(settings.retry_base),
            health: Health::new(&settings.outputs, std::time::SystemTime::now()),
            settings,
            log,
            store,
            started: Instant::now(),
            current: None,
            sent_startup_heartbeat: false,
            discovered: None,
            ssh_proxy: None,
        })
    }

    pub(crate) async fn run(mut self, shutdown: impl Future<Output = ()>) -> AgentExit {
        tokio::pin!(shutdown);
        let mut reloads = listen_for_reloads(self.log.clone());
        let started = tokio::select! {
            started = self.start_up() => Some(started),
            () = &mut shutdown => None,
        };
        match started {
            Some(true) => {}
            Some(false) => return AgentExit::Failed,
            None => return self.stopped(),
        }
        let outputs_ok = self.after_renewal().await;
        if self.settings.oneshot {
            return if outputs_ok {
                AgentExit::Done
            } else {
                AgentExit::Failed
            };
        }
        self.log.info(
            caller::LOOP,
            "Beginning bot identity renewal loop",
            &[(
                "interval",
                mwi_identity::duration::format(self.settings.renewal_interval),
            )],
        );
        loop {
            tokio::select! {
                () = &mut shutdown => return self.stopped(),
                () = tokio::time::sleep(self.settings.renewal_interval) => {}
                Some(signal) = reloads.recv() => {
                    self.log.info(
                        caller::SIGNAL,
                        "Received reload signal, renewing bot identity now",
                        &[("signal", signal.into())],
                    );
                }
            }
            match self.renewal_round(&mut shutdown).await {
                Round::Renewed => {
                    self.after_renewal().await;
                }
                Round::GaveUp => return AgentExit::Failed,
                Round::Shutdown => return self.stopped(),
            }
        }
    }

    fn stopped(&self) -> AgentExit {
        self.log
            .info(caller::LOOP, "Received shutdown signal, stopping", &[]);
        AgentExit::Stopped
    }

    /// The route to auth for the bot's own calls.
    fn route(&self) -> Route {
        match (&self.settings.server, &self.discovered) {
            (_, Some(discovered)) => discovered.client.clone(),
            (Server::Auth(addr) | Server::Proxy(ProxySettings { addr, .. }), None) => {
                Route::direct(addr)
            }
        }
    }

    /// Through a proxy: asks its `/webapi/find` for the cluster and the address it advertises,
    /// as tbot's tunnel resolver does (lib/reversetunnelclient `WebClientResolver`). The lab
    /// agent reaches auth only with TLS routing (tbot would fall back to the SSH tunnel).
    async fn discover(&mut self) -> Result<(), String> {
        let Server::Proxy(proxy) = &self.settings.server else {
            return Ok(());
        };
        let pong = match webapi::find(&proxy.addr, &self.settings.web_trust).await {
            Ok(pong) => pong,
            Err(e) => {
                self.log.error(
                    caller::RESOLVER,
                    "Failed to resolve tunnel address",
                    &[("error", e)],
                );
                return Err(format!(
                    "proxy_server {}: the proxy's /webapi/find did not answer; check the address, and the lab's web CA or insecure",
                    proxy.addr
                ));
            }
        };
        if !pong.tls_routing {
            return Err(format!(
                "proxy_server {}: the proxy has TLS routing off; the lab agent reaches auth through a proxy only with TLS routing (tbot would use the SSH reverse tunnel)",
                proxy.addr
            ));
        }
        let client_addr = if proxy.use_proxy_addr || pong.public_addr.is_empty() {
            proxy.addr.clone()
        } else {
            pong.public_addr.clone()
        };
        let route = |addr: &str| Route {
            addr: addr.to_string(),
            proxy_cluster: Some(pong.cluster_name.clone()),
        };
        self.discovered = Some(Discovered {
            join: route(&proxy.addr),
            client: route(&client_addr),
        });
        self.ssh_proxy = Some(SshProxy {
            addr: client_addr,
            cluster: pong.cluster_name,
        });
        Ok(())
    }

    /// tbot's identity initialisation. False when the agent cannot go on.
    async fn start_up(&mut self) -> bool {
        if let Err(e) = self.discover().await {
            self.log.error(caller::INIT, &e, &[]);
            return false;
        }
        let token = self.settings.token.clone();
        self.log.info(
            caller::INIT,
            "Loading existing bot identity from store",
            &[("store", self.store.dir().display().to_string())],
        );
        let stored = match self.store.load() {
            Ok(stored) => stored,
            Err(e) => {
                self.log.warn(
                    caller::INIT,
                    "Unable to load the stored bot identity; treating it as absent",
                    &[("error", e.to_string())],
                );
                None
            }
        };
        let stored_hash = self.store.token_hash().unwrap_or_else(|e| {
            self.log.warn(
                caller::INIT,
                "Unable to read the stored token hash",
                &[("error", e.to_string())],
            );
            None
        });
        let mut usable = stored;
        if usable.is_some() && store::token_changed(stored_hash.as_deref(), token.as_deref()) {
            self.log.info(
                caller::TOKEN_CHANGED,
                "Bot identity loaded from store does not match configured token, attempting to fetch new identity",
                &[],
            );
            usable = None;
        }
        match (usable, token) {
            (Some(identity), token) => {
                self.log.info(
                    caller::LOADED,
                    &format!("Successfully loaded bot identity, {}", identity.describe()),
                    &[],
                );
                let now = unix_now();
                if identity.expired_at(now) {
                    self.log.error(
                        caller::EXPIRED,
                        &format!(
                            "Identity has expired. The renewal is likely to fail. (expires: {}, current time: {})",
                            unix_rfc3339(identity.cert.not_after),
                            unix_rfc3339(now)
                        ),
                        &[],
                    );
                }
                if token.is_some() {
                    self.log.warn(
                        caller::ONBOARDING_IGNORED,
                        "Note: onboarding config ignored as identity was loaded from persistent storage",
                        &[],
                    );
                }
                self.current = Some(identity);
                // As in tbot, a failed start-up renewal ends the process: there is no fallback
                // to the token, which a token-joined bot has already spent.
                match self.renew_once().await {
                    Ok(()) => true,
                    Err(failure) => {
                        self.renew_failed(&failure, &[]);
                        false
                    }
                }
            }
            (None, Some(token)) => match self.join(&token).await {
                Ok(()) => true,
                Err(failure) => {
                    self.log.error(
                        caller::JOIN,
                        &format!("Failed to join the cluster with the token: {failure}"),
                        &[("join_method", self.settings.join_method.name().into())],
                    );
                    false
                }
            },
            (None, None) => {
                self.log.error(
                    caller::INIT,
                    "no existing identity found on disk or join token configured; pass --token TOKEN or set onboarding.token",
                    &[],
                );
                false
            }
        }
    }

    /// How the auth server is verified on a join without an identity.
    fn first_join_trust(&self) -> Result<ServerTrust, Failure> {
        Ok(match &self.settings.join_trust {
            JoinTrust::CaPath(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Failure::local(format!("--ca-path {}: cannot read it: {e}", path.display()))
                })?;
                ServerTrust::Roots(store::pem_blocks(&text))
            }
            JoinTrust::Pins(pins) => ServerTrust::Pins(pins.clone()),
            JoinTrust::Insecure => ServerTrust::Insecure,
            JoinTrust::Unset => {
                return Err(Failure::local(
                    "joining needs the cluster's CA to verify the auth server: pass --ca-path FILE (PEM) or --ca-pin sha256:HEX (onboarding.ca_path / ca_pins), or --insecure to skip verification (lab only)",
                ));
            }
        })
    }

    async fn join(&mut self, token: &str) -> Result<(), Failure> {
        let trust = self.first_join_trust()?;
        let join_route = match &self.discovered {
            Some(discovered) => discovered.join.clone(),
            None => self.route(),
        };
        let via = if join_route.proxy_cluster.is_some() {
            "proxy_server"
        } else {
            "auth_server"
        };
        self.log.info(
            caller::JOIN,
            "Joining the cluster with a token",
            &[
                ("join_method", self.settings.join_method.name().into()),
                (via, join_route.addr.clone()),
            ],
        );
        let identity = if let JoinMethod::BoundKeypair(config) = &self.settings.join_method {
            let config = config.clone();
            let channel = rpc::connect_anonymously(&join_route, &trust).await?;
            self.bound_keypair_join(&config, token, channel).await?
        } else {
            let key = KeyPair::generate().map_err(|e| Failure::local(e.to_string()))?;
            let certs = rpc::join(
                &join_route,
                &trust,
                token,
                &key,
                self.settings.credential_ttl,
            )
            .await?;
            Identity::from_certs(&key, &certs)
                .map_err(|e| Failure::local(format!("the server's answer is unusable: {e}")))?
        };
        self.store
            .save(&identity, Some(&store::token_hash(token)))
            .map_err(|e| Failure::local(e.to_string()))?;
        self.log.info(
            caller::JOIN,
            &format!("Fetched new bot identity, {}", identity.describe()),
            &[],
        );
        self.current = Some(identity);
        Ok(())
    }

    /// The bound-keypair ceremony over `channel`, with the client state from storage (or the
    /// static key); the state is stored as the ceremony changes it.
    async fn bound_keypair_join(
        &mut self,
        config: &BoundKeypair,
        token: &str,
        channel: tonic::transport::Channel,
    ) -> Result<Identity, Failure> {
        let mut state = self.bound_keypair_state(config)?;
        let key = KeyPair::generate().map_err(|e| Failure::local(e.to_string()))?;
        let ceremony = Ceremony {
            token,
            key: &key,
            ttl: self.settings.credential_ttl,
            secret: config.registration_secret.as_deref(),
            store: &self.store,
            log: &self.log,
        };
        let (certs, _) = bkp_join::run(channel, &ceremony, &mut state).await?;
        Identity::from_certs(&key, &certs)
            .map_err(|e| Failure::local(format!("the server's answer is unusable: {e}")))
    }

    /// The static key, else the stored state, else (with a registration secret) an empty one.
    fn bound_keypair_state(&self, config: &BoundKeypair) -> Result<ClientState, Failure> {
        if let Some(key) = &config.static_key {
            if config.registration_secret.is_some() {
                self.log.warn(
                    caller::JOIN,
                    "A registration secret was specified while using a static private key and will be ignored",
                    &[],
                );
            }
            return BoundKey::from_pem(&key.pem)
                .map(ClientState::Static)
                .map_err(|e| Failure::local(format!("static key {}: {e}", key.origin)));
        }
        match StoredState::load(&self.store).map_err(|e| Failure::local(e.to_string()))? {
            Some((state, problem)) => {
                if let Some(problem) = problem {
                    self.log.warn(
                        caller::JOIN,
                        "unable to read key history, may be unable to recover in the event of a cluster rollback",
                        &[("error", problem)],
                    );
                }
                Ok(ClientState::Stored(state))
            }
            None if config.registration_secret.is_some() => {
                self.log.info(
                    caller::JOIN,
                    "No existing client state found, will attempt to join with provided registration secret",
                    &[],
                );
                Ok(ClientState::Stored(StoredState::default()))
            }
            None => Err(Failure::local(format!(
                "no bound keypair in {} (id_bkp) and no registration secret: make a keypair with `mwictl lab keypair create --storage {}` and put its public key in the token's spec.bound_keypair.onboarding.initial_public_key, or pass --registration-secret (onboarding.bound_keypair.registration_secret, {})",
                self.store.dir().display(),
                self.store.dir().display(),
                crate::settings::REGISTRATION_SECRET_ENV
            ))),
        }
    }

    /// One renewal: storage check, then a new identity for a new key — by GenerateUserCerts as
    /// the current identity when its certificate is renewable, else (bound_keypair, as tbot) by
    /// the join ceremony, as the bot while the identity is valid and anonymously (a recovery)
    /// once it expired — save, and only then the success line and the switch to it.
    async fn renew_once(&mut self) -> Result<(), Failure> {
        self.store
            .check_writable()
            .map_err(|e| Failure::local(e.to_string()))?;
        let current = self
            .current
            .clone()
            .ok_or_else(|| Failure::local("no bot identity to renew"))?;
        let identity = match &self.settings.join_method {
            JoinMethod::BoundKeypair(config) if !current.cert.renewable => {
                let config = config.clone();
                let token = self.settings.token.clone().ok_or_else(|| {
                    Failure::local(
                        "renewing a bound_keypair identity needs the join token's name: pass --token NAME or set onboarding.token",
                    )
                })?;
                let route = self.route();
                let channel = if current.expired_at(unix_now()) {
                    let trust = ServerTrust::Roots(current.tls_ca_pems.clone());
                    rpc::connect_anonymously(&route, &trust).await?
                } else {
                    rpc::connect_as(&route, &current).await?
                };
                self.bound_keypair_join(&config, &token, channel).await?
            }
            _ => {
                let key = KeyPair::generate().map_err(|e| Failure::local(e.to_string()))?;
                let channel = rpc::connect_as(&self.route(), &current).await?;
                let certs =
                    rpc::renew(channel, &current, &key, self.settings.credential_ttl).await?;
                Identity::from_certs(&key, &certs)
                    .map_err(|e| Failure::local(format!("the server's answer is unusable: {e}")))?
            }
        };
        self.store
            .save(&identity, None)
            .map_err(|e| Failure::local(e.to_string()))?;
        self.log.info(
            caller::RENEWED,
            &format!("Successfully renewed bot identity, {}", identity.describe()),
            &[],
        );
        self.current = Some(identity);
        Ok(())
    }

    fn renew_failed(&self, failure: &Failure, extra: &[(&str, String)]) {
        let mut fields = extra.to_vec();
        if failure.access_denied {
            fields.push(("error", "auth API: access denied [00]".into()));
        }
        self.log.error(
            caller::RENEW_FAILED,
            &format!("Failed to renew bot identity: {failure}"),
            &fields,
        );
    }

    /// Up to [`MAX_ATTEMPTS`] renewals with backoff; a shutdown interrupts the waits.
    async fn renewal_round(&mut self, shutdown: &mut (impl Future<Output = ()> + Unpin)) -> Round {
        for attempt in 1..=MAX_ATTEMPTS {
            let failure = match self.renew_once().await {
                Ok(()) => return Round::Renewed,
                Err(failure) => failure,
            };
            let progress = format!("{attempt}/{MAX_ATTEMPTS}");
            self.renew_failed(&failure, &[("attempt", progress.clone())]);
            if attempt == MAX_ATTEMPTS {
                break;
            }
            let delay = self.backoff.delay(attempt, &mut rand::thread_rng());
            self.log.warn(
                caller::RETRY,
                "Bot identity renewal failed. Retrying after backoff",
                &[
                    ("attempt", progress),
                    ("backoff", mwi_identity::duration::format(delay)),
                ],
            );
            tokio::select! {
                () = &mut *shutdown => return Round::Shutdown,
                () = tokio::time::sleep(delay) => {}
            }
        }
        self.log.error(
            caller::EXHAUSTED,
            "All retry attempts exhausted. Exiting",
            &[("attempts", MAX_ATTEMPTS.to_string())],
        );
        Round::GaveUp
    }

    /// Heartbeat and outputs with the fresh identity. True when every output was written.
    async fn after_renewal(&mut self) -> bool {
        let Some(bot) = self.current.clone() else {
            return false;
        };
        let channel = match rpc::connect_as(&self.route(), &bot).await {
            Ok(channel) => channel,
            Err(failure) => {
                self.log.warn(
                    caller::HEARTBEAT,
                    "Failed to connect to send the heartbeat and refresh outputs",
                    &[("error", failure.text.clone())],
                );
                for (index, output) in self.settings.outputs.iter().enumerate() {
                    self.output_failed(&output.destination, &failure);
                    self.health.unhealthy(index, &failure.text);
                }
                return self.settings.outputs.is_empty();
            }
        };
        let beat = rpc::Heartbeat {
            is_startup: !self.sent_startup_heartbeat,
            one_shot: self.settings.oneshot,
            uptime: self.started.elapsed(),
            join_method: self.settings.join_method.name(),
            services: self.health.report(),
        };
        match rpc::heartbeat(channel.clone(), &beat).await {
            Ok(()) => self.sent_startup_heartbeat = true,
            Err(failure) => self.log.warn(
                caller::HEARTBEAT,
                "Failed to send bot instance heartbeat",
                &[("error", failure.text)],
            ),
        }
        let ssh_proxy = self.ssh_proxy(&channel).await;
        let mut all_ok = true;
        for (index, output) in self.settings.outputs.iter().enumerate() {
            let ttl = self.settings.credential_ttl;
            let ssh = match (&output.kind, &ssh_proxy) {
                (
                    OutputKind::Identity {
                        ssh_config: true, ..
                    },
                    Err(failure),
                ) => {
                    all_ok = false;
                    self.output_failed(&output.destination, failure);
                    self.health.unhealthy(index, &failure.text);
                    continue;
                }
                (_, Ok(ssh)) => ssh.as_ref(),
                (_, Err(_)) => None,
            };
            match outputs::refresh(channel.clone(), &bot, output, ttl, ssh).await {
                Ok(identity) => {
                    self.health.healthy(index);
                    self.log.info(
                        caller::OUTPUT_RENEWED,
                        &format!(
                            "Successfully renewed impersonated certificates for directory {}, {}",
                            output.destination.display(),
                            identity.describe()
                        ),
                        &[],
                    );
                    if let Some(login) = outputs::refused_login(&output.kind, &identity) {
                        self.log.info(
                            caller::SSH_CHECK,
                            &format!(
                                "ssh_login check (lab only): Authenticating to {} as '{login}'",
                                output.destination.display()
                            ),
                            &[],
                        );
                        self.log.error(
                            caller::SSH_CHECK,
                            outputs::SSH_UNABLE_TO_AUTHENTICATE,
                            &[
                                ("login", login.to_string()),
                                (
                                    "principals",
                                    format!("[{}]", identity.principals().join(" ")),
                                ),
                            ],
                        );
                    }
                }
                Err(failure) => {
                    all_ok = false;
                    self.output_failed(&output.destination, &failure);
                    self.health.unhealthy(index, &failure.text);
                }
            }
        }
        all_ok
    }

    /// The proxy for `ssh_config`, needed only by identity outputs with it on. With
    /// `auth_server`, tbot asks auth's Ping for the proxy's public address and then the proxy's
    /// `/webapi/find`, logging `Failed to ping proxy.` when it cannot (lib/tbot/tbot.go
    /// `proxyPingCache.ping`). A lab auth without a proxy names none: the lab agent then writes
    /// no ssh_config (tbot would fail to ping the empty address).
    async fn ssh_proxy(
        &mut self,
        channel: &tonic::transport::Channel,
    ) -> Result<Option<SshProxy>, Failure> {
        let wanted = self.settings.outputs.iter().any(|o| {
            matches!(
                o.kind,
                OutputKind::Identity {
                    ssh_config: true,
                    ..
                }
            )
        });
        if !wanted || self.ssh_proxy.is_some() {
            return Ok(self.ssh_proxy.clone());
        }
        let pong = rpc::ping(channel.clone()).await?;
        if pong.proxy_public_addr.is_empty() {
            return Ok(None);
        }
        match webapi::find(&pong.proxy_public_addr, &self.settings.web_trust).await {
            Ok(found) => {
                let addr = if found.public_addr.is_empty() {
                    pong.proxy_public_addr
                } else {
                    found.public_addr
                };
                self.ssh_proxy = Some(SshProxy {
                    addr,
                    cluster: found.cluster_name,
                });
                Ok(self.ssh_proxy.clone())
            }
            Err(e) => {
                self.log.error(
                    caller::PROXY_PING,
                    "Failed to ping proxy.",
                    &[("error", e.clone())],
                );
                Err(Failure::local(e))
            }
        }
    }

    fn output_failed(&self, destination: &std::path::Path, failure: &Failure) {
        self.log.error(
            caller::OUTPUT_FAILED,
            &format!(
                "Failed to generate impersonated certs for directory {}: {failure}",
                destination.display()
            ),
            &[],
        );
    }
}

/// Reload requests from SIGUSR1 and SIGHUP; the listeners stop when this is dropped.
struct Reloads {
    rx: mpsc::Receiver<&'static str>,
    listeners: Vec<tokio::task::JoinHandle<()>>,
}

impl Reloads {
    async fn recv(&mut self) -> Option<&'static str> {
        self.rx.recv().await
    }
}

impl Drop for Reloads {
    fn drop(&mut self) {
        for listener in &self.listeners {
            listener.abort();
        }
    }
}

/// SIGUSR1 and SIGHUP queue one immediate renewal, as tbot's reload; a second signal while one
/// is queued is dropped with a warning.
fn listen_for_reloads(log: Logger) -> Reloads {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = mpsc::channel(1);
    let mut listeners = Vec::new();
    for (kind, name) in [
        (SignalKind::user_defined1(), "SIGUSR1"),
        (SignalKind::hangup(), "SIGHUP"),
    ] {
        let mut stream = match signal(kind) {
            Ok(stream) => stream,
            Err(e) => {
                log.warn(
                    caller::SIGNAL,
                    "Cannot listen for a reload signal",
                    &[("signal", name.into()), ("error", e.to_string())],
                );
                continue;
            }
        };
        let tx = tx.clone();
        let log = log.clone();
        listeners.push(tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(name) {
                    log.warn(
                        caller::SIGNAL,
                        "A reload is already queued, ignoring this reload signal",
                        &[("signal", name.into())],
                    );
                }
            }
        }));
    }
    Reloads { rx, listeners }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
