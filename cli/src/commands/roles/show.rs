//! `mwictl roles show NAME`: one role as a tctl-shaped YAML document (also in text mode, as
//! `tctl get role/NAME` prints it), or as a JSON object.

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::output::Output;
use crate::resource::{Resource, render_yaml};

/// Show one role as YAML (the default, also for --format text) or JSON.
///
/// The document is in the shape `tctl create` and `mwictl create` read. JSON is one object (not
/// an array).
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The role's name.
    pub name: String,
}

/// A role, rendered as its resource document.
struct RoleDocument(Resource);

impl Output for RoleDocument {
    fn text(&self) -> String {
        self.yaml()
    }

    fn json(&self) -> serde_json::Value {
        self.0.to_value()
    }

    fn yaml(&self) -> String {
        render_yaml(std::slice::from_ref(&self.0))
    }
}

pub async fn run(ctx: &Context, args: ShowArgs) -> Result<ExitStatus, CommandError> {
    let client = ctx.client().await?;
    let role = client.get_role(&args.name).await?;
    ctx.printer()
        .print(&RoleDocument(Resource::Role(role.value)))?;
    Ok(ExitStatus::Success)
}
