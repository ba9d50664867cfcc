//! `mwictl ping`: checks the connection and shows the cluster, the server version, and which
//! address and identity were used.

use crate::context::{Context, Source};
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::output::Output;

/// Check the connection to the auth service: cluster name, server version, and which address
/// and credentials were used (from flags, the saved profile or a tsh profile).
#[derive(Debug, clap::Args)]
pub struct PingArgs {}

/// What `mwictl ping` reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PingOutput {
    pub cluster_name: String,
    pub server_version: String,
    pub auth_server: String,
    pub via_proxy: bool,
    /// How the connection reached auth: `direct` or `TLS routing` (through the proxy).
    pub route: String,
    pub identity: String,
    /// The user the identity's certificate names.
    pub user: String,
    /// Whether the address came from flags, the saved profile or a tsh profile.
    pub source: Source,
    /// What authenticated: "identity file", or "tsh profile NAME".
    pub credentials: String,
}

impl Output for PingOutput {
    fn text(&self) -> String {
        let source = match self.source {
            Source::Flags => "flags",
            Source::Profile => "profile",
            Source::TshProfile => "tsh profile",
            Source::Config => "config",
        };
        let credentials = match self.credentials.as_str() {
            "identity file" => String::new(),
            other => format!("{other}, "),
        };
        let via = if self.via_proxy {
            "proxy"
        } else {
            "auth server"
        };
        format!(
            "Cluster:        {}\nServer version: {}\n{:<16}{} (from {source})\nRoute:          {}\nIdentity:       {} ({credentials}user {})\n",
            self.cluster_name,
            self.server_version,
            format!("{}:", capitalize(via)),
            self.auth_server,
            self.route,
            self.identity,
            self.user,
        )
    }

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

pub async fn run(ctx: &Context, _args: PingArgs) -> Result<ExitStatus, CommandError> {
    let (client, resolved) = ctx.connected().await?;
    let server = client.server().await?;
    ctx.printer().print(&PingOutput {
        cluster_name: server.cluster_name.clone(),
        server_version: server.server_version.clone(),
        auth_server: resolved.target.addr.clone(),
        via_proxy: resolved.target.via_proxy,
        route: client.connection().route.to_string(),
        identity: resolved.target.identity.display().to_string(),
        user: client.connection().cert.username.clone(),
        source: resolved.source,
        credentials: resolved.credentials.describe(),
    })?;
    Ok(ExitStatus::Success)
}
