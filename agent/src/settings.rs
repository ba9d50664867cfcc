//! The agent's command-line flags (`mwictl lab bot ...`) and the effective settings: flags
//! over tbot.yaml over tbot's defaults, checked once before anything runs.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{
    ConfigError, FileConfig, Output, OutputKind, check_join_method, parse_duration, token_value,
};
use crate::joinuri::{self, AddressKind};
use crate::log::LogFormat;

/// tbot reads a registration secret from here when neither config nor flag gives one
/// (lib/tbot/bot/onboarding/config.go `registrationSecretEnv`).
pub const REGISTRATION_SECRET_ENV: &str = "TBOT_REGISTRATION_SECRET";
/// A base64-encoded PEM static key, used when `static_private_key_path` is not set
/// (lib/tbot/bot/onboarding/config.go `BoundKeypairStaticKeyEnv`).
pub const STATIC_KEY_ENV: &str = "TBOT_BOUND_KEYPAIR_STATIC_KEY";

/// tbot's default credential lifetime.
pub const DEFAULT_CREDENTIAL_TTL: Duration = Duration::from_secs(60 * 60);
/// tbot's default renewal interval.
pub const DEFAULT_RENEWAL_INTERVAL: Duration = Duration::from_secs(20 * 60);

/// Run a lab bot agent: a minimal tbot that joins with a one-time token, renews its identity
/// on an interval (presenting its generation), sends heartbeats and writes outputs.
#[derive(Debug, Clone, clap::Args)]
pub struct AgentArgs {
    /// tbot.yaml (v2) to read; flags given here override it.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Internal data directory (tbot's storage): key, tlscert, key-cert.pub, tlscacerts,
    /// sshcacerts, tokenhash, lock.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Join token (for bound_keypair, the token's name), or an absolute path to a file holding it.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,

    /// Join method: token or bound_keypair [default: token].
    #[arg(long, value_name = "METHOD")]
    pub join_method: Option<String>,

    /// bound_keypair: the token's registration secret, for the first join without a
    /// preregistered key (else TBOT_REGISTRATION_SECRET).
    #[arg(long, value_name = "SECRET")]
    pub registration_secret: Option<String>,

    /// A joining URI as `tctl bots add` prints it, e.g.
    /// tbot+auth+bound-keypair://TOKEN:SECRET@HOST:PORT; it overrides the address, method,
    /// token and secret given otherwise.
    #[arg(long, value_name = "URI")]
    pub join_uri: Option<String>,

    /// Auth service address; `mwictl lab bot` takes it from the global `--auth-server` flag.
    #[arg(skip)]
    pub auth_server: Option<String>,

    /// Log only to --log-file, not to stderr (for agents run inside another command's output).
    #[arg(skip)]
    pub quiet_stderr: bool,

    /// Used when neither a flag nor tbot.yaml names the auth server (the saved lab profile).
    #[arg(skip)]
    pub fallback_auth_server: Option<String>,

    /// Used when neither flags nor tbot.yaml say how to trust the auth server on the first
    /// join (the CA of the saved lab).
    #[arg(skip)]
    pub fallback_ca_path: Option<PathBuf>,

    /// The CA (PEM) that verifies a proxy's web certificate: the saved lab's web CA (tbot
    /// itself uses the system roots, which hold no lab's).
    #[arg(skip)]
    pub fallback_web_ca_path: Option<PathBuf>,

    /// The value of tbot's `TBOT_USE_PROXY_ADDR` in the bot's environment (`mwictl lab bot`
    /// passes its own).
    #[arg(skip)]
    pub use_proxy_addr: Option<String>,

    /// How often to renew the bot identity (Go duration) [default: 20m].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub renewal_interval: Option<Duration>,

    /// Lifetime to request for certificates (Go duration) [default: 1h].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub credential_ttl: Option<Duration>,

    /// Join or renew once, write the outputs, and exit.
    #[arg(long)]
    pub oneshot: bool,

    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub log_format: LogFormat,

    /// Also append the log to this file.
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,

    /// Do not lock the data directory, so that two agents can share it (reproduces a
    /// generation mismatch).
    #[arg(long)]
    pub no_data_dir_lock: bool,

    /// CA certificate (PEM) that verifies the auth server on the first join.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["ca_pin", "insecure"])]
    pub ca_path: Option<PathBuf>,

    /// SHA-256 of the CA's SubjectPublicKeyInfo (`sha256:HEX`, as `tctl status` prints),
    /// verifying the auth server on the first join; repeatable.
    #[arg(long, value_name = "sha256:HEX", conflicts_with = "insecure")]
    pub ca_pin: Vec<String>,

    /// Do not verify the auth server on the first join (lab use only).
    #[arg(long)]
    pub insecure: bool,

    /// Roles to request for outputs that list none; without any, an output gets every role the
    /// bot may impersonate, as in tbot 19 (which removed per-output roles).
    #[arg(long, value_delimiter = ',', value_name = "ROLE,...")]
    pub roles: Vec<String>,

    /// Add an identity output to this directory.
    #[arg(long, value_name = "DIR")]
    pub destination_dir: Option<PathBuf>,

    /// Lab only: after writing each identity output, check that its certificate allows this
    /// SSH login, logging the refusal as `ssh` would (`mwictl lab break ssh-login`).
    #[arg(long, value_name = "LOGIN")]
    pub ssh_login: Option<String>,

    /// First wait between failed renewal attempts (doubles each time).
    #[arg(long, hide = true, value_name = "DURATION", value_parser = parse_duration, default_value = "1s")]
    pub retry_base: Duration,
}

/// tbot's switch to keep using the configured `proxy_server` instead of the address the proxy
/// advertises (lib/tbot/config/config.go `useProxyAddrEnv`, since 16.4.7); only exactly `yes`
/// turns it on.
pub const USE_PROXY_ADDR_ENV: &str = "TBOT_USE_PROXY_ADDR";

/// Where the agent connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Server {
    /// Straight to the auth service at `HOST:PORT` (`auth_server`).
    Auth(String),
    /// Through a proxy with TLS routing (`proxy_server`).
    Proxy(ProxySettings),
}

/// How the agent reaches auth through a proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySettings {
    /// `HOST:PORT` as configured: where `/webapi/find` is asked and the first join goes.
    pub addr: String,
    /// `TBOT_USE_PROXY_ADDR=yes`: keep using `addr` instead of the advertised address.
    pub use_proxy_addr: bool,
}

/// How a proxy's web certificate is verified (`/webapi/find`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebTrust {
    /// The CA certificates in this PEM file (the lab's web CA).
    CaFile(PathBuf),
    /// `insecure: true` / `--insecure`: not verified.
    Insecure,
    /// Nothing to verify it with: asking a proxy fails with a hint.
    Unset,
}

/// How the auth server is verified before the agent has the cluster's CAs (first join only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinTrust {
    /// Trust the CA certificates in this PEM file.
    CaPath(PathBuf),
    /// Trust a CA whose SubjectPublicKeyInfo hashes to one of these.
    Pins(Vec<[u8; 32]>),
    /// Verify nothing (explicit --insecure or `insecure: true`).
    Insecure,
    /// Nothing given: a join is refused with a hint.
    Unset,
}

/// How the agent joins when it has no usable identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinMethod {
    /// A one-time token (RegisterUsingToken).
    Token,
    /// The bound-keypair ceremony, with the token's name as `token`.
    BoundKeypair(BoundKeypair),
}

impl JoinMethod {
    /// The method's name as Teleport spells it.
    pub fn name(&self) -> &'static str {
        match self {
            JoinMethod::Token => "token",
            JoinMethod::BoundKeypair(_) => "bound_keypair",
        }
    }
}

/// What the bound-keypair ceremony needs from the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoundKeypair {
    /// The registration secret (path > config or flag > environment, as tbot).
    pub registration_secret: Option<String>,
    /// A static private key (PEM): never rotated, nothing written to storage.
    pub static_key: Option<StaticKey>,
}

/// A static private key and where it came from, for messages.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticKey {
    pub pem: String,
    pub origin: String,
}

impl std::fmt::Debug for StaticKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key never reaches a log or a panic message.
        f.debug_struct("StaticKey")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// The effective settings of one agent run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub lock_data_dir: bool,
    pub token: Option<String>,
    pub join_method: JoinMethod,
    /// The auth service, directly or through a proxy.
    pub server: Server,
    pub join_trust: JoinTrust,
    pub web_trust: WebTrust,
    pub credential_ttl: Duration,
    pub renewal_interval: Duration,
    pub oneshot: bool,
    /// Outputs, each with its roles resolved.
    pub outputs: Vec<Output>,
    pub retry_base: Duration,
    /// Things to log once at start (skipped config entries).
    pub notes: Vec<String>,
}

/// The process's value of one of the agent's variables. Each is read by its literal name, so the
/// CLI's check that every variable the code reads is documented sees them; other names read nothing.
fn process_env(name: &str) -> Option<String> {
    match name {
        REGISTRATION_SECRET_ENV => std::env::var("TBOT_REGISTRATION_SECRET").ok(),
        STATIC_KEY_ENV => std::env::var("TBOT_BOUND_KEYPAIR_STATIC_KEY").ok(),
        USE_PROXY_ADDR_ENV => std::env::var("TBOT_USE_PROXY_ADDR").ok(),
        _ => None,
    }
}

/// Settings that cannot be used, as one line naming the flag or the file and key.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Invalid(String),
}

impl Settings {
    pub fn resolve(args: &AgentArgs) -> Result<Settings, SettingsError> {
        Settings::resolve_with_env(args, &process_env)
    }

    /// [`Settings::resolve`] with the environment given (tests set it without touching the
    /// process's).
    pub fn resolve_with_env(
        args: &AgentArgs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, SettingsError> {
        let mut file = match &args.config {
            Some(path) => FileConfig::read(path)?,
            None => FileConfig::default(),
        };
        let join_uri = match (&args.join_uri, &file.join_uri) {
            (Some(uri), _) if !uri.trim().is_empty() => Some((uri.clone(), "--join-uri".into())),
            (_, Some(uri)) => Some((uri.clone(), format!("{}: join_uri", file.path.display()))),
            _ => None,
        };
        let mut args = args.clone();
        if let Some((text, origin)) = join_uri {
            apply_join_uri(&text, &origin, &mut args, &mut file)?;
        }
        let args = &args;
        let from_file = |key: &str| match &args.config {
            Some(path) => format!(" or set {key} in {}", path.display()),
            None => format!(" or set {key} in tbot.yaml (-c FILE)"),
        };
        let invalid = |text: String| SettingsError::Invalid(text);

        let data_dir = args
            .data_dir
            .clone()
            .or(file.storage.clone())
            .ok_or_else(|| {
                invalid(format!(
                    "no data directory: pass --data-dir DIR{}",
                    from_file("storage.path")
                ))
            })?;
        let server = server(args, &file, &from_file)?;
        let token = match &args.token {
            Some(value) if !value.trim().is_empty() => Some(
                token_value(value, "--token", std::path::Path::new("--token")).map_err(
                    |e| match e {
                        ConfigError::Key { reason, .. } => invalid(format!("--token: {reason}")),
                        other => other.into(),
                    },
                )?,
            ),
            _ => file.token.clone(),
        };
        let join_method = join_method(args, &file, env)?;
        let join_trust = join_trust(args, &file)?;
        let web_trust = match (&join_trust, &args.fallback_web_ca_path) {
            (JoinTrust::Insecure, _) => WebTrust::Insecure,
            (_, Some(path)) => WebTrust::CaFile(path.clone()),
            (_, None) => WebTrust::Unset,
        };
        let credential_ttl = args
            .credential_ttl
            .or(file.credential_ttl)
            .unwrap_or(DEFAULT_CREDENTIAL_TTL);
        let renewal_interval = args
            .renewal_interval
            .or(file.renewal_interval)
            .unwrap_or(DEFAULT_RENEWAL_INTERVAL);
        if credential_ttl.is_zero() {
            return Err(invalid(
                "credential TTL is zero; use a duration like 1h".into(),
            ));
        }
        if renewal_interval.is_zero() {
            return Err(invalid(
                "renewal interval is zero; use a duration like 20m".into(),
            ));
        }

        let mut outputs = file.outputs.clone();
        if let Some(dir) = &args.destination_dir {
            outputs.push(Output {
                // tbot's --destination-dir output writes ssh_config as its default does.
                kind: OutputKind::Identity {
                    ssh_login: None,
                    ssh_config: true,
                },
                destination: dir.clone(),
                roles: Vec::new(),
                origin: "--destination-dir".into(),
            });
        }
        for output in &mut outputs {
            if let OutputKind::Identity { ssh_login, .. } = &mut output.kind {
                ssh_login.clone_from(&args.ssh_login);
            }
            if output.roles.is_empty() {
                // Still empty: the request asks for every role the bot may impersonate.
                output.roles = args.roles.clone();
            }
        }
        Ok(Settings {
            data_dir,
            lock_data_dir: !args.no_data_dir_lock,
            token,
            join_method,
            server,
            join_trust,
            web_trust,
            credential_ttl,
            renewal_interval,
            oneshot: args.oneshot || file.oneshot,
            outputs,
            retry_base: args.retry_base,
            notes: file.skipped,
        })
    }
}

/// Merges a joining URI on top of the flags and the file, as tbot does: its address (auth or
/// proxy), join method, token and, for bound_keypair, registration secret win.
fn apply_join_uri(
    text: &str,
    origin: &str,
    args: &mut AgentArgs,
    file: &mut FileConfig,
) -> Result<(), SettingsError> {
    let uri = joinuri::parse(text).map_err(|e| SettingsError::Invalid(format!("{origin}: {e}")))?;
    check_join_method(&uri.join_method)
        .map_err(|e| SettingsError::Invalid(format!("{origin}: join method {e}")))?;
    match uri.kind {
        AddressKind::Auth => {
            args.auth_server = Some(uri.address);
            file.proxy_server = None;
        }
        AddressKind::Proxy => {
            args.auth_server = None;
            file.auth_server = None;
            file.proxy_server = Some(uri.address);
        }
    }
    if uri.join_method == "bound_keypair" && !uri.parameter.is_empty() {
        args.registration_secret = Some(uri.parameter);
    }
    args.join_method = Some(uri.join_method);
    args.token = Some(uri.token);
    Ok(())
}

/// The join method and, for bound_keypair, its secret and static key with tbot's precedence:
/// `registration_secret_path` > `registration_secret` (flag over file) > TBOT_REGISTRATION_SECRET;
/// `static_private_key_path` > TBOT_BOUND_KEYPAIR_STATIC_KEY.
fn join_method(
    args: &AgentArgs,
    file: &FileConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<JoinMethod, SettingsError> {
    let invalid = SettingsError::Invalid;
    let method = match &args.join_method {
        Some(method) if !method.trim().is_empty() => {
            let method = method.trim();
            check_join_method(method).map_err(|e| invalid(format!("--join-method: {e}")))?;
            method.to_string()
        }
        _ => file.join_method.clone().unwrap_or_else(|| "token".into()),
    };
    if method != "bound_keypair" {
        return Ok(JoinMethod::Token);
    }
    let config = &file.bound_keypair;
    let secret_value = args
        .registration_secret
        .clone()
        .filter(|s| !s.is_empty())
        .or(config.registration_secret.clone());
    // tbot's wording (BoundKeypairOnboardingConfig.RegistrationSecret).
    if secret_value.is_some() && config.registration_secret_path.is_some() {
        return Err(invalid(format!(
            "{}: onboarding.bound_keypair: only one of 'registration_secret' and 'registration_secret_path' may be set",
            file.path.display()
        )));
    }
    let registration_secret = match &config.registration_secret_path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                invalid(format!(
                    "{}: onboarding.bound_keypair.registration_secret_path: cannot read {}: {e}",
                    file.path.display(),
                    path.display()
                ))
            })?;
            Some(text.trim().to_string())
        }
        None => secret_value.or_else(|| env(REGISTRATION_SECRET_ENV)),
    }
    .filter(|s| !s.is_empty());
    let static_key = match &config.static_private_key_path {
        Some(path) => Some(StaticKey {
            pem: std::fs::read_to_string(path).map_err(|e| {
                invalid(format!(
                    "{}: onboarding.bound_keypair.static_private_key_path: reading static key from {}: {e}",
                    file.path.display(),
                    path.display()
                ))
            })?,
            origin: path.display().to_string(),
        }),
        None => match env(STATIC_KEY_ENV) {
            Some(encoded) => {
                use base64ct::Encoding;
                let bytes = base64ct::Base64::decode_vec(encoded.trim())
                    .map_err(|e| {
                        invalid(format!(
                            "{STATIC_KEY_ENV}: decoding private key from environment: {e}"
                        ))
                    })?;
                let pem = String::from_utf8(bytes).map_err(|_| {
                    invalid(format!(
                        "{STATIC_KEY_ENV}: decoding private key from environment: not a PEM text"
                    ))
                })?;
                Some(StaticKey {
                    pem,
                    origin: STATIC_KEY_ENV.into(),
                })
            }
            None => None,
        },
    };
    Ok(JoinMethod::BoundKeypair(BoundKeypair {
        registration_secret,
        static_key,
    }))
}

/// `--auth-server` over the file's `auth_server` or `proxy_server` (tbot refuses both in one
/// file), then the saved lab; `TBOT_USE_PROXY_ADDR=yes` needs a proxy, as in tbot
/// (lib/tbot/tbot.go, Bot.Run).
fn server(
    args: &AgentArgs,
    file: &FileConfig,
    from_file: &dyn Fn(&str) -> String,
) -> Result<Server, SettingsError> {
    let invalid = |text: String| SettingsError::Invalid(text);
    let present = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let (file_auth, file_proxy) = (present(&file.auth_server), present(&file.proxy_server));
    if file_auth.is_some() && file_proxy.is_some() {
        return Err(invalid(format!(
            "{}: auth_server and proxy_server cannot both be set; keep one",
            file.path.display()
        )));
    }
    let use_proxy_addr = args.use_proxy_addr.as_deref() == Some("yes");
    let server = match (present(&args.auth_server), file_auth, file_proxy) {
        (Some(addr), _, _) | (None, Some(addr), _) => Server::Auth(addr),
        (None, None, Some(addr)) => Server::Proxy(ProxySettings {
            addr,
            use_proxy_addr,
        }),
        (None, None, None) => match present(&args.fallback_auth_server) {
            Some(addr) => Server::Auth(addr),
            None => {
                return Err(invalid(format!(
                    "no auth server: pass --auth-server HOST:PORT{}",
                    from_file("auth_server")
                )));
            }
        },
    };
    if use_proxy_addr && matches!(server, Server::Auth(_)) {
        return Err(invalid(format!(
            "{USE_PROXY_ADDR_ENV} requires that a proxy address is set using --proxy-server or proxy_server"
        )));
    }
    Ok(server)
}

/// Flags decide the trust when any trust flag is given; otherwise the file's onboarding does.
fn join_trust(args: &AgentArgs, file: &FileConfig) -> Result<JoinTrust, SettingsError> {
    let (ca_path, pins, insecure, source) =
        if args.ca_path.is_some() || !args.ca_pin.is_empty() || args.insecure {
            (
                args.ca_path.clone(),
                args.ca_pin.clone(),
                args.insecure,
                "flags".to_string(),
            )
        } else {
            (
                file.ca_path.clone(),
                file.ca_pins.clone(),
                file.insecure,
                file.path.display().to_string(),
            )
        };
    let given =
        usize::from(ca_path.is_some()) + usize::from(!pins.is_empty()) + usize::from(insecure);
    if given > 1 {
        return Err(SettingsError::Invalid(format!(
            "{source}: ca_path, ca_pins and insecure exclude each other; give one"
        )));
    }
    if let Some(path) = ca_path {
        return Ok(JoinTrust::CaPath(path));
    }
    if insecure {
        return Ok(JoinTrust::Insecure);
    }
    if pins.is_empty() {
        return Ok(match &args.fallback_ca_path {
            Some(path) => JoinTrust::CaPath(path.clone()),
            None => JoinTrust::Unset,
        });
    }
    pins.iter()
        .map(|pin| parse_pin(pin).map_err(SettingsError::Invalid))
        .collect::<Result<Vec<_>, _>>()
        .map(JoinTrust::Pins)
}

/// `sha256:<64 hex digits>` → the digest.
pub fn parse_pin(pin: &str) -> Result<[u8; 32], String> {
    let bad = || format!("CA pin {pin:?} is not sha256:<64 hex digits>");
    let hex_part = pin.trim().strip_prefix("sha256:").ok_or_else(bad)?;
    let bytes = hex::decode(hex_part).map_err(|_| bad())?;
    bytes.try_into().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        /// As mwictl's global flag, which `mwictl lab bot` hands to the agent.
        #[arg(long)]
        auth_server: Option<String>,
        #[command(flatten)]
        agent: AgentArgs,
    }

    fn args(list: &[&str]) -> AgentArgs {
        let cli = Cli::try_parse_from(std::iter::once("bot").chain(list.iter().copied())).unwrap();
        AgentArgs {
            auth_server: cli.auth_server,
            ..cli.agent
        }
    }

    fn resolve(list: &[&str]) -> Result<Settings, String> {
        Settings::resolve(&args(list)).map_err(|e| e.to_string())
    }

    #[test]
    fn flags_alone_give_tbot_defaults() {
        let s = resolve(&[
            "--data-dir",
            "/d",
            "--token",
            "t",
            "--auth-server",
            "a:3025",
        ])
        .unwrap();
        assert_eq!(s.credential_ttl, DEFAULT_CREDENTIAL_TTL);
        assert_eq!(s.renewal_interval, DEFAULT_RENEWAL_INTERVAL);
        assert!(s.lock_data_dir && !s.oneshot);
        assert_eq!(s.join_trust, JoinTrust::Unset);
        assert_eq!(s.retry_base, Duration::from_secs(1));
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tbot.yaml");
        std::fs::write(
            &path,
            "auth_server: file:3025\nonboarding: {token: filetoken, ca_pins: [\"sha256:0000000000000000000000000000000000000000000000000000000000000000\"]}\nstorage: {type: directory, path: /from-file}\nrenewal_interval: 5m\noneshot: true\n",
        )
        .unwrap();
        let config = path.to_str().unwrap();
        let s = resolve(&[
            "-c",
            config,
            "--auth-server",
            "flag:3025",
            "--renewal-interval",
            "200ms",
        ])
        .unwrap();
        assert_eq!(s.server, Server::Auth("flag:3025".into()));
        assert_eq!(s.renewal_interval, Duration::from_millis(200));
        assert_eq!(s.data_dir, PathBuf::from("/from-file"));
        assert_eq!(s.token.as_deref(), Some("filetoken"));
        assert!(s.oneshot);
        assert_eq!(s.join_trust, JoinTrust::Pins(vec![[0; 32]]));
        let s = resolve(&["-c", config, "--token", "flagtoken", "--insecure"]).unwrap();
        assert_eq!(s.token.as_deref(), Some("flagtoken"));
        assert_eq!(s.join_trust, JoinTrust::Insecure);
    }

    #[test]
    fn missing_data_dir_or_auth_server_says_which_flag() {
        let err = resolve(&["--auth-server", "a:1"]).unwrap_err();
        assert!(
            err.contains("--data-dir") && err.contains("storage.path"),
            "{err}"
        );
        let err = resolve(&["--data-dir", "/d"]).unwrap_err();
        assert!(
            err.contains("--auth-server") && err.contains("auth_server"),
            "{err}"
        );
    }

    #[test]
    fn outputs_take_roles_from_the_flag_or_else_every_role_of_the_bot() {
        let s = resolve(&[
            "--data-dir",
            "/d",
            "--auth-server",
            "a:1",
            "--destination-dir",
            "/out",
        ])
        .unwrap();
        assert!(s.outputs[0].roles.is_empty(), "{:?}", s.outputs[0].roles);
        let s = resolve(&[
            "--data-dir",
            "/d",
            "--auth-server",
            "a:1",
            "--destination-dir",
            "/out",
            "--roles",
            "access,db",
        ])
        .unwrap();
        assert_eq!(s.outputs[0].roles, vec!["access", "db"]);
    }

    #[test]
    fn bad_pin_and_conflicting_trust_are_refused() {
        let err = resolve(&[
            "--data-dir",
            "/d",
            "--auth-server",
            "a:1",
            "--ca-pin",
            "md5:00",
        ])
        .unwrap_err();
        assert!(err.contains("sha256:<64 hex digits>"), "{err}");
        assert!(
            Cli::try_parse_from(["bot", "--ca-path", "/ca", "--insecure"]).is_err(),
            "clap refuses --ca-path with --insecure"
        );
    }

    #[test]
    fn proxy_server_goes_through_the_proxy_and_excludes_auth_server() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tbot.yaml");
        std::fs::write(&path, "proxy_server: p:443\nstorage: {path: /d}\n").unwrap();
        let config = path.to_str().unwrap();
        let s = resolve(&["-c", config]).unwrap();
        assert_eq!(
            s.server,
            Server::Proxy(ProxySettings {
                addr: "p:443".into(),
                use_proxy_addr: false,
            })
        );
        assert_eq!(s.web_trust, WebTrust::Unset);
        std::fs::write(
            &path,
            "proxy_server: p:443\nauth_server: a:3025\nstorage: {path: /d}\n",
        )
        .unwrap();
        let err = resolve(&["-c", config]).unwrap_err();
        assert!(
            err.contains("auth_server and proxy_server cannot both be set"),
            "{err}"
        );
    }

    #[test]
    fn tbot_use_proxy_addr_counts_only_when_exactly_yes_and_needs_a_proxy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tbot.yaml");
        std::fs::write(&path, "proxy_server: p:443\nstorage: {path: /d}\n").unwrap();
        let with_env = |value: &str, list: &[&str]| {
            Settings::resolve(&AgentArgs {
                use_proxy_addr: Some(value.to_string()),
                ..args(list)
            })
            .map_err(|e| e.to_string())
        };
        let config = path.to_str().unwrap();
        for (value, on) in [("yes", true), ("true", false), ("YES", false), ("1", false)] {
            let s = with_env(value, &["-c", config]).unwrap();
            assert_eq!(
                s.server,
                Server::Proxy(ProxySettings {
                    addr: "p:443".into(),
                    use_proxy_addr: on,
                }),
                "{value}"
            );
        }
        let err = with_env("yes", &["--data-dir", "/d", "--auth-server", "a:3025"]).unwrap_err();
        assert_eq!(
            err,
            "TBOT_USE_PROXY_ADDR requires that a proxy address is set using --proxy-server or proxy_server"
        );
    }

    #[test]
    fn the_web_ca_is_the_labs_and_insecure_skips_it() {
        let base = || args(&["--data-dir", "/d", "--auth-server", "a:1"]);
        let web = |a: AgentArgs| Settings::resolve(&a).unwrap().web_trust;
        assert_eq!(web(base()), WebTrust::Unset);
        assert_eq!(
            web(AgentArgs {
                fallback_web_ca_path: Some("/lab/web-ca.crt".into()),
                ..base()
            }),
            WebTrust::CaFile("/lab/web-ca.crt".into())
        );
        assert_eq!(
            web(AgentArgs {
                fallback_web_ca_path: Some("/lab/web-ca.crt".into()),
                insecure: true,
                ..base()
            }),
            WebTrust::Insecure
        );
    }

    #[test]
    fn token_flag_may_name_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tok");
        std::fs::write(&path, "from-file\n").unwrap();
        let s = resolve(&[
            "--data-dir",
            "/d",
            "--auth-server",
            "a:1",
            "--token",
            path.to_str().unwrap(),
        ])
        .unwrap();
        assert_eq!(s.token.as_deref(), Some("from-file"));
        let err = resolve(&[
            "--data-dir",
            "/d",
            "--auth-server",
            "a:1",
            "--token",
            "/missing/tok",
        ])
        .unwrap_err();
        assert!(
            err.starts_with("--token: cannot read the token file /missing/tok"),
            "{err}"
        );
    }

    fn resolve_env(list: &[&str], env: &[(&str, &str)]) -> Result<Settings, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        Settings::resolve_with_env(&args(list), &lookup).map_err(|e| e.to_string())
    }

    fn bound(s: &Settings) -> &BoundKeypair {
        match &s.join_method {
            JoinMethod::BoundKeypair(b) => b,
            JoinMethod::Token => panic!("token method"),
        }
    }

    const BASE: &[&str] = &["--data-dir", "/d", "--auth-server", "a:1", "--token", "t"];

    #[test]
    fn join_method_defaults_to_token_and_refuses_others() {
        let s = resolve(BASE).unwrap();
        assert_eq!(s.join_method, JoinMethod::Token);
        let err = resolve(&[BASE, &["--join-method", "github"]].concat()).unwrap_err();
        assert!(
            err.starts_with("--join-method: \"github\" is not supported"),
            "{err}"
        );
    }

    #[test]
    fn registration_secret_precedence_is_tbots() {
        let dir = tempfile::tempdir().unwrap();
        let secret_file = dir.path().join("secret");
        std::fs::write(&secret_file, " from-file\n").unwrap();
        let config = dir.path().join("tbot.yaml");
        let env = [(REGISTRATION_SECRET_ENV, "from-env")];
        let with = |block: &str| {
            std::fs::write(
                &config,
                format!("onboarding:\n  join_method: bound_keypair\n  bound_keypair:\n{block}"),
            )
            .unwrap();
        };
        let c = config.to_str().unwrap();
        with("    registration_secret: from-config\n");
        let s = resolve_env(&[BASE, &["-c", c]].concat(), &env).unwrap();
        assert_eq!(
            bound(&s).registration_secret.as_deref(),
            Some("from-config")
        );
        let s = resolve_env(
            &[BASE, &["-c", c, "--registration-secret", "from-flag"]].concat(),
            &env,
        )
        .unwrap();
        assert_eq!(bound(&s).registration_secret.as_deref(), Some("from-flag"));
        with(&format!(
            "    registration_secret_path: {}\n",
            secret_file.display()
        ));
        let s = resolve_env(&[BASE, &["-c", c]].concat(), &env).unwrap();
        assert_eq!(bound(&s).registration_secret.as_deref(), Some("from-file"));
        with("    static_private_key_path: \"\"\n");
        let s = resolve_env(&[BASE, &["-c", c]].concat(), &env).unwrap();
        assert_eq!(bound(&s).registration_secret.as_deref(), Some("from-env"));
        let s = resolve_env(&[BASE, &["-c", c]].concat(), &[]).unwrap();
        assert_eq!(bound(&s).registration_secret, None);
        with(&format!(
            "    registration_secret: x\n    registration_secret_path: {}\n",
            secret_file.display()
        ));
        let err = resolve_env(&[BASE, &["-c", c]].concat(), &[]).unwrap_err();
        assert!(
            err.ends_with(
                "only one of 'registration_secret' and 'registration_secret_path' may be set"
            ),
            "{err}"
        );
    }

    #[test]
    fn static_key_comes_from_the_path_or_the_environment() {
        use base64ct::Encoding;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("static");
        std::fs::write(&key, "PEM-FROM-FILE").unwrap();
        let config = dir.path().join("tbot.yaml");
        std::fs::write(
            &config,
            format!(
                "onboarding:\n  join_method: bound_keypair\n  bound_keypair:\n    static_private_key_path: {}\n",
                key.display()
            ),
        )
        .unwrap();
        let encoded = base64ct::Base64::encode_string(b"PEM-FROM-ENV");
        let env = [(STATIC_KEY_ENV, encoded.as_str())];
        let s = resolve_env(&[BASE, &["-c", config.to_str().unwrap()]].concat(), &env).unwrap();
        assert_eq!(bound(&s).static_key.as_ref().unwrap().pem, "PEM-FROM-FILE");
        let s = resolve_env(&[BASE, &["--join-method", "bound_keypair"]].concat(), &env).unwrap();
        assert_eq!(bound(&s).static_key.as_ref().unwrap().pem, "PEM-FROM-ENV");
        assert!(
            !format!("{s:?}").contains("PEM-FROM-ENV"),
            "debug hides the key"
        );
        let err = resolve_env(
            &[BASE, &["--join-method", "bound_keypair"]].concat(),
            &[(STATIC_KEY_ENV, "not base64!")],
        )
        .unwrap_err();
        assert!(
            err.starts_with("TBOT_BOUND_KEYPAIR_STATIC_KEY: decoding private key"),
            "{err}"
        );
        std::fs::remove_file(&key).unwrap();
        let err =
            resolve_env(&[BASE, &["-c", config.to_str().unwrap()]].concat(), &[]).unwrap_err();
        assert!(
            err.contains("static_private_key_path: reading static key from"),
            "{err}"
        );
    }

    #[test]
    fn join_uri_sets_address_method_token_and_secret() {
        let s = resolve(&[
            "--data-dir",
            "/d",
            "--join-uri",
            "tbot+auth+bound-keypair://bot-tok:s3cret@127.0.0.1:3025",
        ])
        .unwrap();
        assert_eq!(s.server, Server::Auth("127.0.0.1:3025".into()));
        assert_eq!(s.token.as_deref(), Some("bot-tok"));
        assert_eq!(bound(&s).registration_secret.as_deref(), Some("s3cret"));
        let err = resolve(&[
            "--data-dir",
            "/d",
            "--join-uri",
            "tbot+auth+bound-keypair://127.0.0.1:3025",
        ])
        .unwrap_err();
        assert_eq!(
            err,
            "--join-uri: invalid joining URI: must contain join token in user field"
        );
        let err =
            resolve(&["--data-dir", "/d", "--join-uri", "tbot+auth+github://t@h:1"]).unwrap_err();
        assert!(
            err.starts_with("--join-uri: join method \"github\""),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("tbot.yaml");
        std::fs::write(
            &config,
            "auth_server: other:3025\njoin_uri: tbot+auth+bound-keypair://file-tok@file:3025\n",
        )
        .unwrap();
        let s = resolve(&["--data-dir", "/d", "-c", config.to_str().unwrap()]).unwrap();
        assert_eq!(s.server, Server::Auth("file:3025".into()));
        assert_eq!(s.token.as_deref(), Some("file-tok"));
        assert_eq!(bound(&s).registration_secret, None);
        let s = resolve(&[
            "--data-dir",
            "/d",
            "-c",
            config.to_str().unwrap(),
            "--join-uri",
            "tbot+proxy+bound-keypair://tok:sec@proxy.example.com:443",
        ])
        .unwrap();
        assert_eq!(
            s.server,
            Server::Proxy(ProxySettings {
                addr: "proxy.example.com:443".into(),
                use_proxy_addr: false
            })
        );
        assert_eq!(bound(&s).registration_secret.as_deref(), Some("sec"));
    }

    #[test]
    fn pin_parses_hex_digest() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_pin(&format!("sha256:{hex}")), Ok([0xab; 32]));
        assert!(parse_pin("sha256:abcd").is_err());
    }
}
