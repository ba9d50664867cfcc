//! `mwictl get KIND[/NAME]`: prints locks, roles, join tokens, bots or bot instances, like
//! `tctl get`.

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::output::Format;
use crate::resource::ResourceRef;

/// Print resources: every one of a kind, or one by name.
///
/// KIND is lock, role, token, bot or bot_instance (plurals work too). Text is a table; JSON is
/// an array (also for one resource, as tctl prints it); YAML is one document per resource,
/// separated by `---`, in the form `tctl create` reads.
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// What to print: KIND or KIND/NAME, e.g. `locks`, `role/editor`,
    /// `bot_instance/BOT/UUID`.
    #[arg(value_name = "KIND[/NAME]")]
    pub reference: String,
}

pub async fn run(ctx: &Context, args: GetArgs) -> Result<ExitStatus, CommandError> {
    let reference = ResourceRef::parse(&args.reference).map_err(|e| {
        CommandError::usage(e.to_string())
            .hint("kinds are lock, role, token, bot and bot_instance, e.g. `mwictl get locks`")
    })?;
    let client = ctx.client().await?;
    let count = crate::ops::listing::write(client, &reference, ctx.printer()).await?;
    if count == 0 && ctx.printer().format() == Format::Text {
        let kind = reference.kind.name().replace('_', " ");
        ctx.printer().status(format!("no {kind}s found"));
    }
    Ok(ExitStatus::Success)
}
