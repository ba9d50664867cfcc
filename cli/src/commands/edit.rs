//! `mwictl edit KIND/NAME`: opens a lock, role, join token or bot in the user's editor as YAML and
//! writes the change back, conditional on the revision it started from.

use crate::context::Context;
use crate::environment::EnvVar;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::editor::{EditOutcome, edit_resource, editor_command};
use crate::output::Output;
use crate::resource::ResourceRef;

/// Edit a resource in your editor: lock/NAME, role/NAME, token/NAME or bot/NAME.
///
/// The resource is written as YAML to a private temp file `teleport-resource*.yaml` and opened
/// with $TELEPORT_EDITOR, else $VISUAL, else $EDITOR, else vi. An unchanged file cancels the edit
/// ("edit canceled, no changes made"); a non-zero editor exit skips the update. The write is
/// conditional on the revision the edit started from: when someone changed the resource
/// meanwhile it is refused (exit 5) unless --force. Renaming is not supported. Fields this
/// version of mwictl does not know are kept. For a bot only spec.roles, spec.traits and
/// spec.max_session_ttl can change. When the edit cannot be applied, the temp file is kept and
/// named, so nothing typed is lost. JSON/YAML: `{kind, name, updated}`.
#[derive(Debug, clap::Args)]
pub struct EditArgs {
    /// What to edit, e.g. `role/editor`.
    #[arg(value_name = "KIND/NAME")]
    pub reference: String,

    /// Overwrite even when the resource changed on the server since the edit began.
    #[arg(long)]
    pub force: bool,
}

/// The result of an edit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Edited {
    pub kind: String,
    pub name: String,
    /// False when the file came back unchanged and nothing was sent.
    pub updated: bool,
}

impl Output for Edited {
    fn text(&self) -> String {
        if self.updated {
            format!(
                "{} {} has been updated\n",
                self.kind,
                crate::resource::shown(&self.name)
            )
        } else {
            "edit canceled, no changes made\n".to_owned()
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

pub async fn run(ctx: &Context, args: EditArgs) -> Result<ExitStatus, CommandError> {
    let reference = ResourceRef::parse(&args.reference).map_err(|e| {
        CommandError::usage(e.to_string()).hint("name one resource, e.g. `mwictl edit role/NAME`")
    })?;
    let editor = editor_command(EnvVar::get);
    let client = ctx.client().await?;
    let outcome = edit_resource(client, &reference, args.force, &editor).await?;
    let out = match outcome {
        EditOutcome::Canceled => Edited {
            kind: reference.kind.name().to_owned(),
            name: reference.name.clone().unwrap_or_default(),
            updated: false,
        },
        EditOutcome::Updated { kind, name } => Edited {
            kind: kind.name().to_owned(),
            name,
            updated: true,
        },
    };
    ctx.printer().print(&out)?;
    Ok(ExitStatus::Success)
}
