//! `mwictl lab keypair create`: a bound keypair for the lab agent, made and printed the way
//! `tbot keypair create` does (tool/tbot/keypair.go, 2025: the key for the token's
//! `initial_public_key`, a `tctl bots add` line, an example token; `--format json`).

use std::path::PathBuf;

use serde_json::json;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::output::Output;

/// Manage the lab agent's bound keypairs.
#[derive(Debug, clap::Subcommand)]
pub enum KeypairCommand {
    Create(CreateArgs),
}

/// Make a keypair to preregister in a bound_keypair token, as `tbot keypair create`.
///
/// The key goes into the storage directory the agent will use (`id_bkp`, `id_bkp.pub`,
/// `bkp_key_history.json`); an existing key there is printed instead, unless --overwrite. With
/// --static the key is kept outside the storage (the agent reads it from
/// `static_private_key_path` or TBOT_BOUND_KEYPAIR_STATIC_KEY), never rotates, and needs a token
/// in `insecure` recovery mode.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The agent's storage directory (its --data-dir / storage.path).
    #[arg(long, value_name = "DIR", required_unless_present = "static_key")]
    pub storage: Option<PathBuf>,

    /// Replace an existing key instead of printing it.
    #[arg(long)]
    pub overwrite: bool,

    /// Make a static key, printed (base64 PEM) for TBOT_BOUND_KEYPAIR_STATIC_KEY.
    #[arg(long = "static", id = "static_key")]
    pub static_key: bool,

    /// With --static: also write the private key to this file (mode 0600).
    #[arg(long, value_name = "FILE", requires = "static_key")]
    pub static_key_path: Option<PathBuf>,

    /// Ask this proxy's /webapi/find for the cluster's signature algorithm suite, which decides
    /// the key type, as tbot does (its web certificate is checked against the saved lab's web CA).
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "suite")]
    pub proxy_server: Option<String>,

    /// With --proxy-server: do not verify the proxy's web certificate (lab only).
    #[arg(long, requires = "proxy_server")]
    pub insecure: bool,

    /// The suite, without asking a proxy: Ed25519 keys, ECDSA P-256 for fips-v1 [default:
    /// legacy, the lab's].
    #[arg(long, value_name = "SUITE", value_parser = ["legacy", "balanced-v1", "fips-v1", "hsm-v1"])]
    pub suite: Option<String>,
}

pub async fn run(ctx: &Context, command: KeypairCommand) -> Result<ExitStatus, CommandError> {
    let KeypairCommand::Create(args) = command;
    let suite = match (&args.proxy_server, &args.suite) {
        (Some(proxy), _) => {
            let web_ca = match ctx.profile()? {
                Some(profile) => profile
                    .identity
                    .parent()
                    .map(|dir| dir.join(mwi_auth::lab::WEB_CA_CERT))
                    .filter(|path| path.is_file()),
                None => None,
            };
            mwi_agent::proxy_suite(proxy, web_ca.as_deref(), args.insecure)
                .await
                .map_err(|e| CommandError::failure(format!("--proxy-server {proxy}: {e}")))?
        }
        (None, Some(suite)) => suite.clone(),
        (None, None) => "legacy".into(),
    };
    let made = if args.static_key {
        mwi_agent::create_static_keypair(args.static_key_path.as_deref(), args.overwrite, &suite)
    } else {
        let storage = args.storage.clone().unwrap_or_default();
        mwi_agent::create_keypair(&storage, args.overwrite, &suite)
            .map_err(|e| mwi_agent::BkpError(format!("--storage {}: {e}", storage.display())))
    }
    .map_err(|e| CommandError::failure(e.to_string()))?;
    let printer = ctx.printer();
    match (&made.existing, &args.static_key_path, &args.storage) {
        (true, Some(path), _) => printer.status(format_args!(
            "An existing static key was found at {} and is printed; pass --overwrite to make a new one",
            path.display()
        )),
        (true, None, _) => printer.status(
            "Existing client state found, printing the existing public key; pass --overwrite to make a new one",
        ),
        (false, Some(path), _) => {
            printer.status(format_args!("The static key has been written to {}", path.display()))
        }
        (false, None, Some(storage)) if !args.static_key => printer.status(format_args!(
            "The keypair has been written to storage {}",
            storage.display()
        )),
        _ => {}
    }
    printer.print(&Created {
        made,
        static_key_path: args.static_key_path,
    })?;
    Ok(ExitStatus::Success)
}

struct Created {
    made: mwi_agent::Keypair,
    static_key_path: Option<PathBuf>,
}

impl Created {
    fn is_static(&self) -> bool {
        self.made.encoded_private_key.is_some()
    }

    /// The example token tbot prints: recovery limit 1, mode standard (insecure for static).
    fn example_token(&self) -> String {
        let mode = if self.is_static() {
            "insecure"
        } else {
            "standard"
        };
        format!(
            "kind: token\nmetadata:\n  name: example-token\nspec:\n  bot_name: example-bot\n  bound_keypair:\n    onboarding:\n      initial_public_key: {}\n    recovery:\n      limit: 1\n      mode: {mode}\n  join_method: bound_keypair\n  roles:\n  - Bot\nversion: v2\n",
            self.made.public_key
        )
    }
}

impl Output for Created {
    fn text(&self) -> String {
        let key = &self.made.public_key;
        let mut text = format!(
            "\nTo register the keypair with Teleport, include this public key in the token's\n'spec.bound_keypair.onboarding.initial_public_key' field:\n\n\t{key}\n\nOr let 'tctl' create the bot and its token:\n\n\t$ tctl bots add bot-name \\\n\t  --roles=some-role,some-other-role \\\n\t  --initial-public-key='{key}'"
        );
        if self.is_static() {
            text.push_str(" \\\n\t  --recovery-mode=insecure");
        }
        text.push_str("\n\nRefer to this token example as a reference:\n\n");
        for line in self.example_token().lines() {
            text.push_str(&format!("\t{line}\n"));
        }
        if let Some(encoded) = &self.made.encoded_private_key {
            text.push_str(
                "\nNote that you must also set 'spec.bound_keypair.recovery.mode' to 'insecure'\nto use static keys.\n",
            );
            match &self.static_key_path {
                Some(path) => text.push_str(&format!(
                    "\nThe static key has been written to: {0}\n\nConfigure your bot to use this static key by setting the following 'tbot.yaml'\nfield:\n\n\tonboarding:\n\t  join_method: bound_keypair\n\t  bound_keypair:\n\t    static_private_key_path: {0}\n",
                    path.display()
                )),
                None => text.push_str(&format!(
                    "\nConfigure your bot to use this static key by putting this value into the bot's\nenvironment:\n\n\texport {}={encoded}\n",
                    "TBOT_BOUND_KEYPAIR_STATIC_KEY"
                )),
            }
            text.push_str(
                "\nStatic keys are never rotated: a bot with one cannot join once the token's\n'rotate_after' asks for a rotation.\n",
            );
        }
        text
    }

    fn json(&self) -> serde_json::Value {
        match &self.made.encoded_private_key {
            Some(encoded) => {
                json!({"public_key": self.made.public_key, "private_key": encoded})
            }
            None => json!({"public_key": self.made.public_key}),
        }
    }
}
