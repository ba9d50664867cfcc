//! `mwictl tokens ls`: the join tokens (masked unless --show-secrets), with roles, join method,
//! bot and expiry.

use mwi_proto::types::ProvisionTokenV2;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::tokens::mask_token;
use crate::output::{Format, Output, fitted_table, table_time, terminal_width};
use crate::resource::{Resource, render_yaml};

/// List join tokens: token, type (roles), join method, bot, expiry.
///
/// A token's name is its secret, so only its first 4 characters are shown (also in JSON and
/// YAML) unless --show-secrets is given; so are bound-keypair registration secrets. Expiry `never` means the token does not expire.
#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Show the tokens' full names.
    #[arg(long)]
    pub show_secrets: bool,
}

/// The listed tokens, already masked when they should be.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenList {
    pub tokens: Vec<ProvisionTokenV2>,
}

impl TokenList {
    fn resources(&self) -> Vec<Resource> {
        self.tokens.iter().cloned().map(Resource::Token).collect()
    }
}

impl Output for TokenList {
    fn text(&self) -> String {
        if self.tokens.is_empty() {
            return String::new();
        }
        let rows = self
            .tokens
            .iter()
            .map(|t| {
                let spec = t.spec.clone().unwrap_or_default();
                let meta = t.metadata.clone().unwrap_or_default();
                vec![
                    meta.name,
                    spec.roles.join(","),
                    spec.join_method,
                    spec.bot_name,
                    meta.expires
                        .as_ref()
                        .map_or_else(|| "never".to_owned(), table_time),
                ]
            })
            .collect();
        let headers = ["Token", "Type", "Join Method", "Bot", "Expires"];
        fitted_table(&headers, rows, 3, terminal_width(&console::Term::stdout())).render()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::Value::Array(self.resources().iter().map(Resource::to_value).collect())
    }

    fn yaml(&self) -> String {
        render_yaml(&self.resources())
    }
}

/// Masks the registration secrets of a bound-keypair token, in its spec and its status.
fn mask_registration_secrets(token: &mut ProvisionTokenV2) {
    let spec = token
        .spec
        .as_mut()
        .and_then(|s| s.bound_keypair.as_mut())
        .and_then(|b| b.onboarding.as_mut());
    if let Some(onboarding) = spec {
        onboarding.registration_secret = mask_token(&onboarding.registration_secret);
    }
    let status = token.status.as_mut().and_then(|s| s.bound_keypair.as_mut());
    if let Some(status) = status {
        status.registration_secret = mask_token(&status.registration_secret);
    }
}

pub async fn run(ctx: &Context, args: LsArgs) -> Result<ExitStatus, CommandError> {
    let client = ctx.client().await?;
    let mut tokens: Vec<ProvisionTokenV2> = client
        .get_tokens()
        .await?
        .into_iter()
        .map(|t| t.value)
        .collect();
    if !args.show_secrets {
        for token in &mut tokens {
            if let Some(meta) = token.metadata.as_mut() {
                meta.name = mask_token(&meta.name);
            }
            mask_registration_secrets(token);
        }
    }
    let list = TokenList { tokens };
    ctx.printer().print(&list)?;
    if list.tokens.is_empty() && ctx.printer().format() == Format::Text {
        ctx.printer().status("no tokens found");
    }
    Ok(ExitStatus::Success)
}
