//! What every command gets: the global flags, the printer, the home directory, and a client
//! connected on first use to the auth service the flags or the saved profile name.

use std::path::PathBuf;

use clap::{ArgAction, Args};

use crate::auth_host::AuthHost;
use crate::client::Client;
use crate::connect::{self, ClientIdentity, ConnectError, Target};
use crate::environment;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::home::Home;
use crate::output::{Format, Printer};
use crate::profile::Profile;
use crate::tsh::{self, TshProfile};

/// Flags every command accepts.
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved
    /// profile.
    #[arg(
        long,
        global = true,
        env = environment::TELEPORT_AUTH_SERVER.name(),
        hide_env_values = true,
        value_name = "HOST:PORT"
    )]
    pub auth_server: Option<String>,

    /// Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved
    /// profile.
    #[arg(
        short = 'i',
        long,
        global = true,
        env = environment::TELEPORT_IDENTITY_FILE.name(),
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub identity: Option<PathBuf>,

    /// teleport.yaml of the auth host this runs on: with its auth service enabled, use the local
    /// Admin identity from its data dir, as tctl does [default: /etc/teleport.yaml if it exists].
    /// Give it before the subcommand.
    #[arg(
        short = 'c',
        long = "config",
        env = environment::TELEPORT_CONFIG_FILE.name(),
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,

    /// Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over
    /// --auth-server).
    #[arg(long, global = true, value_name = "HOST:PORT")]
    pub proxy: Option<String>,

    /// Do not check the proxy's web certificate (only the connection upgrade behind an L7 load
    /// balancer meets it; auth is still checked against the identity's CA), as tctl's --insecure.
    #[arg(long, global = true)]
    pub insecure: bool,

    /// Output format of the data written to stdout.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Answer yes to every confirmation (for scripts; no TTY needed).
    #[arg(long, global = true)]
    pub yes: bool,

    /// Log what mwictl does to stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// Print only data and errors: no status lines or warnings on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// Where the connection settings came from, for `mwictl ping` and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Flags,
    Profile,
    /// A tsh profile's web proxy address.
    TshProfile,
    /// The auth host's teleport.yaml.
    Config,
}

/// What the client authenticates with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// The identity file at `Target::identity` (from -i, its env var, or the saved profile).
    IdentityFile,
    /// A tsh profile's keys (`Target::identity` is its keys directory).
    TshProfile(TshProfile),
    /// The auth host's local Admin identity (`Target::identity` is its process storage).
    AuthHost(AuthHost),
}

impl Credentials {
    /// For `mwictl ping`: "identity file", or "tsh profile NAME".
    pub fn describe(&self) -> String {
        match self {
            Credentials::IdentityFile => "identity file".into(),
            Credentials::TshProfile(p) => format!("tsh profile {}", p.name),
            Credentials::AuthHost(h) => format!("auth host {}", h.config.display()),
        }
    }
}

/// The resolved connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub target: Target,
    /// Where the address came from.
    pub source: Source,
    pub credentials: Credentials,
}

/// The state shared by one invocation's command.
pub struct Context {
    global: GlobalArgs,
    printer: Printer,
    client: tokio::sync::OnceCell<(Client, Resolved)>,
}

impl Context {
    pub fn new(global: GlobalArgs) -> Context {
        let printer = Printer::new(global.format, global.quiet);
        Context {
            global,
            printer,
            client: tokio::sync::OnceCell::new(),
        }
    }

    pub fn global(&self) -> &GlobalArgs {
        &self.global
    }

    pub fn printer(&self) -> &Printer {
        &self.printer
    }

    /// True when `--yes` was given: confirmations are answered yes.
    pub fn assume_yes(&self) -> bool {
        self.global.yes
    }

    /// Asks `question` once on the terminal (stderr); `--yes` answers yes. Without a terminal
    /// and without `--yes` it fails at once with the caller's `refusal` (naming the flag)
    /// instead of waiting for input.
    pub fn confirm(
        &self,
        question: &str,
        refusal: impl FnOnce() -> CommandError,
    ) -> Result<bool, CommandError> {
        if self.assume_yes() {
            return Ok(true);
        }
        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            return Err(refusal());
        }
        dialoguer::Confirm::new()
            .with_prompt(question)
            .default(false)
            .interact_on_opt(&console::Term::stderr())
            .map(|answer| answer.unwrap_or(false)) // Esc (or q) declines
            .map_err(|e| {
                CommandError::failure(format!("cannot ask for confirmation: {e}"))
                    .hint("pass --yes to go ahead without asking")
            })
    }

    pub fn home(&self) -> Result<Home, CommandError> {
        Home::from_env().map_err(|e| CommandError::usage(e.to_string()))
    }

    /// The saved profile, if any.
    pub fn profile(&self) -> Result<Option<Profile>, CommandError> {
        let path = self.home()?.profile();
        Profile::load(&path).map_err(|e| {
            CommandError::usage(e.to_string()).hint(format!(
                "delete {} and run `mwictl lab start`, or pass --auth-server and -i",
                path.display()
            ))
        })
    }

    /// The client, connected on first use (the identity's warnings are printed then).
    pub async fn client(&self) -> Result<&Client, CommandError> {
        let (client, _) = self.connected().await?;
        Ok(client)
    }

    /// The client and the settings it was connected with.
    pub async fn connected(&self) -> Result<&(Client, Resolved), CommandError> {
        self.client
            .get_or_try_init(|| async {
                let needs_profile = self.global.identity.is_none()
                    || (self.global.auth_server.is_none() && self.global.proxy.is_none());
                let profile = if needs_profile { self.profile()? } else { None };
                let host = match self.global.identity {
                    Some(_) => None,
                    None => AuthHost::find(self.global.config.as_deref())
                        .map_err(|e| CommandError::usage(e.to_string()))?,
                };
                let tsh = match host {
                    Some(_) => None,
                    None => self.tsh_profile(profile.is_some())?,
                };
                let found = Found {
                    profile: profile.as_ref(),
                    tsh: tsh.as_ref(),
                    auth_host: host.as_ref(),
                };
                let resolved = resolve(&self.global, found)?;
                let identity = match &resolved.credentials {
                    Credentials::IdentityFile => ClientIdentity::load(&resolved.target.identity)?,
                    Credentials::TshProfile(p) => p.identity(tsh::unix_now())?,
                    Credentials::AuthHost(h) => h
                        .identity()
                        .map_err(|e| CommandError::usage(e.to_string()))?,
                };
                for warning in &identity.warnings {
                    self.printer.warn(warning);
                }
                let options = connect::Options {
                    insecure: self.global.insecure,
                };
                let connection = connect::connect_with(&resolved.target, &identity, options)
                    .await
                    .map_err(|e| self.connect_error(e, &resolved))?;
                Ok::<_, CommandError>((Client::new(connection), resolved))
            })
            .await
    }
}

impl Context {
    /// The tsh profile to use without -i, as tctl picks it: the one named after the
    /// --proxy/--auth-server host; else, when there is no saved mwictl profile (which `mwictl lab
    /// start` wrote on purpose), tsh's current profile.
    fn tsh_profile(&self, saved_profile: bool) -> Result<Option<TshProfile>, CommandError> {
        if self.global.identity.is_some() {
            return Ok(None);
        }
        let Some(home) = tsh::home() else {
            return Ok(None);
        };
        let flagged = self
            .global
            .proxy
            .as_deref()
            .or(self.global.auth_server.as_deref());
        if let Some(addr) = flagged
            && let Some(profile) = TshProfile::named(&home, tsh::host_of(addr))?
        {
            return Ok(Some(profile));
        }
        match saved_profile {
            true => Ok(None),
            false => Ok(TshProfile::current(&home)?),
        }
    }

    /// A failed connection in the user's words. When nothing answers at an address from the saved
    /// profile, the likely cause is that the lab which wrote it is gone: say so, and where the
    /// address came from.
    fn connect_error(&self, e: ConnectError, resolved: &Resolved) -> CommandError {
        let gone = matches!(
            e,
            ConnectError::Refused { .. }
                | ConnectError::Timeout { .. }
                | ConnectError::Unreachable { .. }
        );
        let mut err = CommandError::from(e);
        if gone && resolved.source == Source::Profile {
            let profile = self
                .home()
                .map(|h| h.profile().display().to_string())
                .unwrap_or_else(|_| "profile.json".into());
            err.hints = vec![format!(
                "{} is the address in the saved profile {profile}, written by the last `mwictl lab start`; that lab is not running: start it again, or pass --auth-server HOST:PORT -i FILE",
                resolved.target.addr
            )];
        }
        err
    }
}

/// What was found on disk for this invocation besides the flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct Found<'a> {
    /// mwictl's saved profile.
    pub profile: Option<&'a Profile>,
    /// The tsh profile tctl would pick.
    pub tsh: Option<&'a TshProfile>,
    /// The auth host's config, with its auth service enabled.
    pub auth_host: Option<&'a AuthHost>,
}

/// Picks the address and credentials. An identity file from -i (or its env var) wins; else the
/// auth host's local Admin identity (`auth_host`, at --auth-server or the config's address); else
/// a tsh
/// profile found for this invocation (`tsh`), with the flags' address or else the profile's
/// proxy; else each from the flags when given, else from the saved profile. `--proxy` takes
/// precedence over `--auth-server`.
pub fn resolve(flags: &GlobalArgs, found: Found<'_>) -> Result<Resolved, CommandError> {
    let Found {
        profile,
        tsh,
        auth_host,
    } = found;
    if flags.identity.is_none()
        && let Some(host) = auth_host
    {
        let (addr, source) = match &flags.auth_server {
            Some(addr) => (addr.clone(), Source::Flags),
            None => (host.addr.clone(), Source::Config),
        };
        return Ok(Resolved {
            target: Target {
                addr,
                identity: host.data_dir.join("proc").join("sqlite.db"),
                via_proxy: false,
            },
            source,
            credentials: Credentials::AuthHost(host.clone()),
        });
    }
    if flags.identity.is_none()
        && let Some(tsh) = tsh
    {
        let (addr, via_proxy, source) = match (&flags.proxy, &flags.auth_server) {
            (Some(proxy), _) => (proxy.clone(), true, Source::Flags),
            (None, Some(addr)) => (addr.clone(), false, Source::Flags),
            (None, None) => (tsh.address()?, true, Source::TshProfile),
        };
        return Ok(Resolved {
            target: Target {
                addr,
                identity: tsh.keys_dir(),
                via_proxy,
            },
            source,
            credentials: Credentials::TshProfile(tsh.clone()),
        });
    }
    let (addr, via_proxy, source) = match (&flags.proxy, &flags.auth_server, profile) {
        (Some(proxy), _, _) => (proxy.clone(), true, Source::Flags),
        (None, Some(addr), _) => (addr.clone(), false, Source::Flags),
        (None, None, Some(p)) => (p.auth_server.clone(), false, Source::Profile),
        (None, None, None) => {
            return Err(CommandError::usage("no auth server configured").hint(
                "start a lab with `mwictl lab start`, or pass --auth-server HOST:PORT and -i FILE",
            ));
        }
    };
    let identity = match (&flags.identity, profile) {
        (Some(path), _) => path.clone(),
        (None, Some(p)) => p.identity.clone(),
        (None, None) => {
            return Err(CommandError::new(ExitStatus::Usage, "no identity file configured")
                .hint("pass -i FILE with an identity from `tctl auth sign`, or start a lab with `mwictl lab start`"));
        }
    };
    Ok(Resolved {
        target: Target {
            addr,
            identity,
            via_proxy,
        },
        source,
        credentials: Credentials::IdentityFile,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile {
            auth_server: "127.0.0.1:3025".into(),
            identity: "/p/admin.identity".into(),
            cluster_name: Some("lab".into()),
        }
    }

    #[test]
    fn flags_win_over_the_profile() {
        let flags = GlobalArgs {
            auth_server: Some("auth:3025".into()),
            identity: Some("/f/id".into()),
            ..Default::default()
        };
        let r = resolve(
            &flags,
            Found {
                profile: Some(&profile()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.target.addr, "auth:3025");
        assert_eq!(r.target.identity, std::path::Path::new("/f/id"));
        assert_eq!(r.source, Source::Flags);
    }

    #[test]
    fn profile_fills_what_the_flags_leave_out() {
        let flags = GlobalArgs {
            identity: Some("/f/id".into()),
            ..Default::default()
        };
        let r = resolve(
            &flags,
            Found {
                profile: Some(&profile()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.target.addr, "127.0.0.1:3025");
        assert_eq!(r.target.identity, std::path::Path::new("/f/id"));
        assert_eq!(r.source, Source::Profile);
    }

    #[test]
    fn proxy_takes_precedence_and_routes() {
        let flags = GlobalArgs {
            proxy: Some("proxy:443".into()),
            auth_server: Some("auth:3025".into()),
            ..Default::default()
        };
        let r = resolve(
            &flags,
            Found {
                profile: Some(&profile()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.target.addr, "proxy:443");
        assert!(r.target.via_proxy);
    }

    fn tsh(tls_routing_enabled: bool) -> TshProfile {
        TshProfile {
            name: "proxy.example.com".into(),
            home: "/h/.tsh".into(),
            web_proxy_addr: "proxy.example.com:443".into(),
            user: "alice".into(),
            cluster: "example".into(),
            tls_routing_enabled,
        }
    }

    #[test]
    fn a_tsh_profile_without_flags_dials_its_proxy_with_tls_routing() {
        let r = resolve(
            &GlobalArgs::default(),
            Found {
                profile: Some(&profile()),
                tsh: Some(&tsh(true)),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.target.addr, "proxy.example.com:443");
        assert!(r.target.via_proxy);
        assert_eq!(
            r.target.identity,
            std::path::Path::new("/h/.tsh/keys/proxy.example.com")
        );
        assert_eq!(r.source, Source::TshProfile);
        assert_eq!(r.credentials.describe(), "tsh profile proxy.example.com");
        let err = resolve(
            &GlobalArgs::default(),
            Found {
                tsh: Some(&tsh(false)),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(
            err.message.contains("has no TLS routing"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_tsh_profile_takes_the_flags_address_and_an_identity_file_wins_over_it() {
        let flags = GlobalArgs {
            auth_server: Some("127.0.0.1:3025".into()),
            ..Default::default()
        };
        let r = resolve(
            &flags,
            Found {
                tsh: Some(&tsh(false)),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.target.addr, "127.0.0.1:3025");
        assert!(!r.target.via_proxy);
        assert_eq!(r.source, Source::Flags);
        assert!(matches!(r.credentials, Credentials::TshProfile(_)));
        let flags = GlobalArgs {
            identity: Some("/f/id".into()),
            ..flags
        };
        let r = resolve(
            &flags,
            Found {
                tsh: Some(&tsh(true)),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.credentials, Credentials::IdentityFile);
        assert_eq!(r.target.identity, std::path::Path::new("/f/id"));
    }

    #[test]
    fn nothing_configured_says_how_to_start() {
        let err = resolve(&GlobalArgs::default(), Found::default()).unwrap_err();
        assert_eq!(err.message, "no auth server configured");
        assert!(err.hints[0].contains("mwictl lab start"));
        assert_eq!(err.status, ExitStatus::Usage);
    }

    #[test]
    fn address_without_identity_is_refused() {
        let flags = GlobalArgs {
            auth_server: Some("auth:3025".into()),
            ..Default::default()
        };
        let err = resolve(&flags, Found::default()).unwrap_err();
        assert_eq!(err.message, "no identity file configured");
    }
}
