//! `mwictl lab user NAME --roles R,... -o FILE`: an identity file for a normal lab user, what
//! `tsh login` gives a person (not exempt from admin MFA, unlike the lab admin and bots).

use std::path::PathBuf;
use std::time::Duration;

use crate::commands::flags::parse_duration;
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;

/// Write an identity file for a normal user of the lab (created or updated with these roles).
///
/// The user is a person, not a bot and not the lab's admin: with `lab start --admin-mfa` its
/// admin-level requests (writes and deletes) need MFA, as a tsh user's do on a cluster whose only
/// second factor is WebAuthn. The roles must exist for the lab to grant anything. Works whether
/// or not the lab is running.
#[derive(Debug, clap::Args)]
pub struct UserArgs {
    /// The user's name (not `admin`, not `bot-...`).
    #[arg(value_name = "NAME")]
    pub name: String,

    /// Roles of the user (repeatable or comma-separated).
    #[arg(long, value_name = "ROLE", value_delimiter = ',', required = true)]
    pub roles: Vec<String>,

    /// Where to write the identity file (mode 0600, replaced atomically).
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: PathBuf,

    /// How long the identity is valid, e.g. 12h or 30s.
    #[arg(long, value_name = "DURATION", default_value = "12h", value_parser = parse_duration)]
    pub ttl: Duration,

    /// The lab's data dir [default: the saved profile's lab, else $MWICTL_HOME/lab].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

pub async fn run(ctx: &Context, args: UserArgs) -> Result<ExitStatus, CommandError> {
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => match ctx.profile()? {
            Some(profile) => profile
                .identity
                .parent()
                .map_or_else(|| ctx.home().map(|h| h.lab_dir()), |d| Ok(d.to_path_buf()))?,
            None => ctx.home()?.lab_dir(),
        },
    };
    let roles: Vec<String> = args
        .roles
        .iter()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .collect();
    let (dir, name, ttl) = (data_dir.clone(), args.name.clone(), args.ttl);
    let identity = tokio::task::spawn_blocking(move || {
        mwi_auth::lab::issue_user_identity(&dir, &name, &roles, ttl)
    })
    .await
    .map_err(|e| CommandError::failure(format!("issuing the identity failed: {e}")))?
    .map_err(|e| match e {
        mwi_auth::lab::LabError::Foreign { .. } | mwi_auth::lab::LabError::UserName { .. } => {
            CommandError::usage(e.to_string())
        }
        e => CommandError::failure(e.to_string()),
    })?;
    identity
        .write(&args.out)
        .map_err(|e| CommandError::failure(e.to_string()))?;
    ctx.printer().status(format_args!(
        "wrote the identity of user {} to {} (valid for {}); use it with -i {}",
        args.name,
        args.out.display(),
        humantime::format_duration(args.ttl),
        args.out.display()
    ));
    Ok(ExitStatus::Success)
}
