//! Changing a bound-keypair token's recovery settings (`spec.bound_keypair.recovery`: mode and
//! limit) checked against the revision it was read at, and finding a bot's bound-keypair token.

use mwi_proto::types::ProvisionTokenV2;
use mwi_proto::types::provision_token_spec_v2_bound_keypair::RecoverySpec;

use crate::client::{Client, Fetched};
use crate::error::CommandError;
use crate::ops::bound_keypair::{METHOD, RECOVERY_MODES};
use crate::resource::shown;

/// The mode a token's recovery spec names; Teleport reads `""` as `standard`.
pub fn mode_of(token: &ProvisionTokenV2) -> String {
    let mode = recovery(token).mode;
    if mode.is_empty() {
        "standard".into()
    } else {
        mode
    }
}

/// `spec.bound_keypair.recovery`, empty when unset.
pub fn recovery(token: &ProvisionTokenV2) -> RecoverySpec {
    token
        .spec
        .as_ref()
        .and_then(|s| s.bound_keypair.as_ref())
        .and_then(|b| b.recovery.clone())
        .unwrap_or_default()
}

/// `status.bound_keypair.recovery_count`: recoveries (and the onboarding) used so far.
pub fn count_of(token: &ProvisionTokenV2) -> u32 {
    token
        .status
        .as_ref()
        .and_then(|s| s.bound_keypair.as_ref())
        .map_or(0, |b| b.recovery_count)
}

pub fn name_of(token: &ProvisionTokenV2) -> String {
    token
        .metadata
        .as_ref()
        .map(|m| m.name.clone())
        .unwrap_or_default()
}

fn revision_of(token: &ProvisionTokenV2) -> String {
    token
        .metadata
        .as_ref()
        .map(|m| m.revision.clone())
        .unwrap_or_default()
}

/// The token's join method, `""` without a spec.
pub fn method_of(token: &ProvisionTokenV2) -> &str {
    token.spec.as_ref().map_or("", |s| s.join_method.as_str())
}

/// The bot the token joins, `""` without a spec.
pub fn bot_of(token: &ProvisionTokenV2) -> &str {
    token.spec.as_ref().map_or("", |s| s.bot_name.as_str())
}

/// Checks a mode given on the command line; `""` is not accepted (say `standard`).
pub fn check_mode(mode: &str) -> Result<String, CommandError> {
    if RECOVERY_MODES.contains(&mode) {
        return Ok(mode.to_string());
    }
    Err(
        CommandError::usage(format!("recovery mode {}: not a mode", shown(mode)))
            .hint(format!("use one of {}", RECOVERY_MODES.join(", "))),
    )
}

/// Reads a bound-keypair token; another join method is refused with tctl's wording.
pub async fn read(client: &Client, name: &str) -> Result<Fetched<ProvisionTokenV2>, CommandError> {
    let token = client.get_token(name).await.map_err(|e| {
        if e.is_not_found() {
            CommandError::not_found(format!("token {} not found", shown(name)))
                .hint("list tokens with `mwictl tokens ls --show-secrets`")
        } else {
            e.into()
        }
    })?;
    let method = method_of(&token.value);
    if method != METHOD {
        return Err(
            CommandError::usage(format!("token {name} is of type {method}, not {METHOD}"))
                .hint("only a bound_keypair token has a recovery mode and a bound key; nothing was changed"),
        );
    }
    Ok(token)
}

/// Writes `edit` of the recovery spec of `read`, refusing when the token changed since it was
/// read. UpsertTokenV2 writes unconditionally (Teleport's token API has no compare-and-swap
/// for admins), so the revision is compared by reading the token again right before the write;
/// the server keeps the token's status as stored whatever the write carries.
pub async fn write(
    client: &Client,
    read: &Fetched<ProvisionTokenV2>,
    edit: impl FnOnce(&mut RecoverySpec),
) -> Result<(), CommandError> {
    let name = name_of(&read.value);
    let now = client.get_token(&name).await?;
    if revision_of(&now.value) != revision_of(&read.value) {
        return Err(CommandError::conflict(format!(
            "token {name} changed since it was read (stale revision)"
        ))
        .hint("run the same command again: it reads the token anew"));
    }
    let mut value = read.value.clone();
    edit(
        value
            .spec
            .get_or_insert_with(Default::default)
            .bound_keypair
            .get_or_insert_with(Default::default)
            .recovery
            .get_or_insert_with(Default::default),
    );
    client
        .upsert_token(&Fetched {
            value,
            raw: read.raw.clone(),
        })
        .await?;
    Ok(())
}

/// The bound-keypair tokens a recovery of `bot` works on: the one named by `--token` (which must
/// be a bound-keypair token of the bot), else the bot's only one. Several without `--token`, none,
/// or a token of another method are refused with one line.
pub async fn bot_token(
    client: &Client,
    bot: &str,
    named: Option<&str>,
) -> Result<Fetched<ProvisionTokenV2>, CommandError> {
    if let Some(name) = named {
        let token = read(client, name).await?;
        let owner = bot_of(&token.value);
        if owner != bot {
            return Err(CommandError::usage(format!(
                "token {name} belongs to bot {}, not {bot:?}",
                shown(owner)
            ))
            .hint("name one of the bot's tokens (`mwictl bots show BOT`); nothing was changed"));
        }
        return Ok(token);
    }
    crate::ops::tokens::check_bot_exists(client, bot).await?;
    let all = client.get_tokens().await?;
    let mine: Vec<Fetched<ProvisionTokenV2>> = all
        .into_iter()
        .filter(|t| bot_of(&t.value) == bot)
        .collect();
    let (bound, other): (Vec<_>, Vec<_>) = mine
        .into_iter()
        .partition(|t| method_of(&t.value) == METHOD);
    match bound.len() {
        1 => Ok(bound.into_iter().next().expect("one token")),
        0 => {
            let methods: Vec<&str> = other.iter().map(|t| method_of(&t.value)).collect();
            Err(CommandError::usage(if methods.is_empty() {
                format!("bot {bot:?} has no bound_keypair token")
            } else {
                format!(
                    "bot {bot:?} has no bound_keypair token (its tokens join with {})",
                    methods.join(", ")
                )
            })
            .hint("this recovery is for bound-keypair bots; `mwictl recover BOT` diagnoses others"))
        }
        _ => {
            let names: Vec<String> = bound.iter().map(|t| name_of(&t.value)).collect();
            Err(CommandError::usage(format!(
                "bot {bot:?} has {} bound_keypair tokens ({})",
                names.len(),
                names.join(", ")
            ))
            .hint("name the one tbot joins with: --token NAME; nothing was changed"))
        }
    }
}

/// Every bound-keypair token, or those of `bots` when given (each must have exactly one).
pub async fn fleet_tokens(
    client: &Client,
    bots: &[String],
) -> Result<Vec<Fetched<ProvisionTokenV2>>, CommandError> {
    if !bots.is_empty() {
        let mut out = Vec::new();
        for bot in bots {
            out.push(bot_token(client, bot, None).await?);
        }
        return Ok(out);
    }
    let mut all: Vec<Fetched<ProvisionTokenV2>> = client
        .get_tokens()
        .await?
        .into_iter()
        .filter(|t| method_of(&t.value) == METHOD)
        .collect();
    all.sort_by_key(|t| name_of(&t.value));
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_mode_is_standard_and_modes_are_checked() {
        let t = crate::ops::bound_keypair::token(
            "n",
            "b",
            &crate::ops::bound_keypair::Onboarding {
                initial_public_key: None,
                must_register_before: None,
                recovery_mode: String::new(),
                recovery_limit: 2,
            },
        );
        assert_eq!(mode_of(&t), "standard");
        assert_eq!(recovery(&t).limit, 2);
        assert_eq!(count_of(&t), 0);
        assert_eq!(check_mode("insecure").unwrap(), "insecure");
        let e = check_mode("lax").unwrap_err();
        assert_eq!(e.message, "recovery mode \"lax\": not a mode");
    }
}
