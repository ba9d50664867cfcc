//! `mwictl tokens show NAME`: one join token; for a bound-keypair token its bound key, bot
//! instance, recovery count against the limit, and rotation.

use mwi_proto::types::ProvisionTokenV2;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::bound_keypair::{self, State};
use crate::output::Output;
use crate::resource::{format_timestamp, shown};

/// Show a join token. For a bound_keypair token: the bound key's fingerprint (as `ssh-keygen
/// -l` prints it), the bound bot instance, recoveries used and left against the limit (mode
/// standard enforces it), the recovery mode, the last recovery and rotation, and whether a
/// rotation is pending.
///
/// Exit 3 when the token does not exist. JSON/YAML: `{name, bot, roles, join_method, expires,
/// bound_keypair: {bound_key_fingerprint, bound_bot_instance_id, recovery_count, recovery_limit,
/// recoveries_left, recovery_mode, last_recovered_at, last_rotated_at, rotate_after,
/// rotation_pending, ...}, insecure: {run_id, restore, message}}`; `insecure` is there only for a
/// token in mode insecure, with the unfinished recover run that switched it (or a null run_id).
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The token (its full name, as `mwictl tokens ls --show-secrets` shows it).
    #[arg(value_name = "NAME")]
    pub name: String,
}

/// One token as `tokens show` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenShown {
    pub name: String,
    pub bot: String,
    pub roles: Vec<String>,
    pub join_method: String,
    /// RFC 3339, or `never`.
    pub expires: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound_keypair: Option<State>,
    /// For a token in mode insecure: the recover run that switched it, and how to restore it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insecure: Option<crate::recover::insecure::InsecureFlag>,
}

impl TokenShown {
    pub fn new(token: &ProvisionTokenV2) -> TokenShown {
        let spec = token.spec.clone().unwrap_or_default();
        let meta = token.metadata.clone().unwrap_or_default();
        TokenShown {
            name: meta.name,
            bot: spec.bot_name,
            roles: spec.roles,
            join_method: spec.join_method,
            expires: meta
                .expires
                .as_ref()
                .map_or_else(|| "never".to_owned(), format_timestamp),
            bound_keypair: bound_keypair::state(token),
            insecure: None,
        }
    }
}

fn line(out: &mut String, key: &str, value: &str) {
    out.push_str(&format!("{:<16}{value}\n", format!("{key}:")));
}

impl Output for TokenShown {
    fn text(&self) -> String {
        let mut out = String::new();
        line(&mut out, "Token", &self.name);
        line(
            &mut out,
            "Bot",
            if self.bot.is_empty() { "-" } else { &self.bot },
        );
        line(&mut out, "Roles", &self.roles.join(","));
        line(&mut out, "Join method", &self.join_method);
        line(&mut out, "Expires", &self.expires);
        let Some(s) = &self.bound_keypair else {
            return out;
        };
        let key = match (&s.bound_key_fingerprint, &s.bound_key_algorithm) {
            (Some(fp), Some(alg)) => format!("{fp} ({alg})"),
            _ => match (s.onboarding, &s.initial_key_fingerprint) {
                ("initial_public_key", Some(fp)) => {
                    format!("none yet; the first join must prove the preregistered key {fp}")
                }
                _ => format!(
                    "none yet; the first join registers one with the registration secret{}",
                    s.must_register_before
                        .as_ref()
                        .map(|t| format!(" (before {t})"))
                        .unwrap_or_default()
                ),
            },
        };
        line(&mut out, "Bound key", &key);
        line(
            &mut out,
            "Bound instance",
            s.bound_bot_instance_id.as_deref().unwrap_or("none"),
        );
        let recoveries = match s.recoveries_left {
            Some(left) => format!(
                "{} of {} used, {left} left (mode {})",
                s.recovery_count, s.recovery_limit, s.recovery_mode
            ),
            None => format!(
                "{} used, limit {} not enforced (mode {})",
                s.recovery_count, s.recovery_limit, s.recovery_mode
            ),
        };
        line(&mut out, "Recoveries", &recoveries);
        line(
            &mut out,
            "Last recovery",
            s.last_recovered_at.as_deref().unwrap_or("never"),
        );
        line(
            &mut out,
            "Last rotation",
            s.last_rotated_at.as_deref().unwrap_or("never"),
        );
        let rotation = match (&s.rotate_after, s.rotation_pending) {
            (None, _) => "not requested".to_owned(),
            (Some(at), true) => {
                format!(
                    "pending (requested for after {at}); the bot rotates its key at its next join"
                )
            }
            (Some(at), false) => format!("done (requested for after {at})"),
        };
        line(&mut out, "Rotation", &rotation);
        if let Some(flag) = &self.insecure {
            line(
                &mut out,
                "WARNING",
                &format!("mode insecure: {}", flag.message),
            );
        }
        out
    }

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

pub async fn run(ctx: &Context, args: ShowArgs) -> Result<ExitStatus, CommandError> {
    let client = ctx.client().await?;
    let token = client.get_token(&args.name).await.map_err(|e| {
        if e.is_not_found() {
            CommandError::not_found(format!("token {} not found", shown(&args.name)))
                .hint("list tokens with `mwictl tokens ls --show-secrets`")
        } else {
            e.into()
        }
    })?;
    let mut shown = TokenShown::new(&token.value);
    if let Some(s) = &shown.bound_keypair {
        let switched = crate::recover::insecure::switched(&ctx.home()?.state_dir());
        shown.insecure = crate::recover::insecure::flag(&shown.name, &s.recovery_mode, &switched);
    }
    ctx.printer().print(&shown)?;
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{Resource, parse_documents};

    fn fixture(text: &str) -> ProvisionTokenV2 {
        let body: String = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        match parse_documents(&body).unwrap().remove(0) {
            Resource::Token(t) => t,
            _ => panic!("not a token"),
        }
    }

    #[test]
    fn a_bound_token_after_a_recovery_and_a_requested_rotation() {
        let token = fixture(include_str!(
            "../../resource/testdata/tokens/bound_keypair_bound.yaml"
        ));
        insta::assert_snapshot!(TokenShown::new(&token).text());
    }

    #[test]
    fn a_token_waiting_for_its_registration_secret() {
        let token = fixture(include_str!(
            "../../resource/testdata/tokens/bound_keypair_secret.yaml"
        ));
        insta::assert_snapshot!(TokenShown::new(&token).text());
    }

    #[test]
    fn a_relaxed_token_past_its_limit_and_a_plain_token() {
        let mut token = fixture(include_str!(
            "../../resource/testdata/tokens/bound_keypair_bound.yaml"
        ));
        let bk = token.spec.as_mut().unwrap().bound_keypair.as_mut().unwrap();
        bk.recovery.as_mut().unwrap().mode = "relaxed".into();
        bk.rotate_after = None;
        token
            .status
            .as_mut()
            .unwrap()
            .bound_keypair
            .as_mut()
            .unwrap()
            .recovery_count = 7;
        insta::assert_snapshot!(TokenShown::new(&token).text());
        let token = fixture(include_str!("../../resource/testdata/tokens/token.yaml"));
        insta::assert_snapshot!(TokenShown::new(&token).text());
    }
}
