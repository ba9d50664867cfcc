//! `mwictl tokens rotate NAME`: asks the bot of a bound-keypair token to rotate its key at its
//! next join (tctl's `bound-keypair request-rotation`).

use std::time::SystemTime;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::bound_keypair::request_rotation;
use crate::output::Output;
use crate::resource::format_timestamp;

/// Request a key rotation for a bound_keypair token: sets `spec.bound_keypair.rotate_after` to
/// now, so the bot must make a new keypair and prove it at its next join (renewal or recovery).
///
/// Use it when the bot's key may have leaked. The token's status is kept. Exit 3 when the token
/// does not exist, 2 when it is not a bound_keypair token. JSON/YAML: `{token, rotate_after}`.
#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// The bound_keypair token.
    #[arg(value_name = "NAME")]
    pub name: String,
}

/// The rotation requested.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RotationRequested {
    pub token: String,
    /// RFC 3339.
    pub rotate_after: String,
}

impl Output for RotationRequested {
    fn text(&self) -> String {
        // tctl's message.
        "Token rotation flag has been set, rotation will be required during the next authentication attempt.\n"
            .to_owned()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

pub async fn run(ctx: &Context, args: RotateArgs) -> Result<ExitStatus, CommandError> {
    let client = ctx.client().await?;
    let at = request_rotation(client, &args.name, SystemTime::now()).await?;
    ctx.printer().print(&RotationRequested {
        token: args.name,
        rotate_after: format_timestamp(&at),
    })?;
    Ok(ExitStatus::Success)
}
