//! Changing a bound-keypair token's recovery settings (`spec.bound_keypair.recovery`: mode and
//! limit) checked against the revision it was read at, and finding a bot's bound-keypair token.

use std::path::Path;

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
            not_found(name)
        } else {
            e.into()
        }
    })?;
    let method = method_of(&token.value);
    if method != METHOD {
        return Err(other_method(name, method));
    }
    Ok(token)
}

fn not_found(name: &str) -> CommandError {
    CommandError::not_found(format!("token {} not found", shown(name)))
        .hint("list tokens with `mwictl tokens ls --show-secrets`")
}

/// tctl's refusal of a token of another join method.
fn other_method(name: &str, method: &str) -> CommandError {
    CommandError::usage(format!("token {name} is of type {method}, not {METHOD}"))
        .hint("only a bound_keypair token has a recovery mode and a bound key; nothing was changed")
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

/// How [`bot_token`] treats a named token that is gone and a bot without a bound-keypair token.
#[derive(Debug, Clone, Copy)]
pub enum Lookup<'a> {
    /// S8, S9, S12 and bulk recover change the token in place: it must exist, and a bot without
    /// one is refused naming the methods its tokens join with.
    MustExist,
    /// S10 and S11 recreate or replace the token: the named one may have been deleted, and with
    /// none of the bot's, the one `onboarding.token` of `tbot_config` names is meant.
    MayBeDeleted { tbot_config: Option<&'a Path> },
}

/// The bot's bound-keypair token: its name, and the token unless it was deleted (only under
/// [`Lookup::MayBeDeleted`]).
#[derive(Debug, Clone)]
pub struct BotToken {
    pub name: String,
    pub token: Option<Fetched<ProvisionTokenV2>>,
}

/// The bound-keypair token a recovery of `bot` works on: the one `--token` names (which must be
/// a bound-keypair token of the bot), else the bot's only one; what else `lookup` accepts is
/// said there. Several without `--token`, or a token of another method, are refused with one
/// line; `None` only under [`Lookup::MayBeDeleted`] when nothing names a token.
pub async fn bot_token(
    client: &Client,
    bot: &str,
    named: Option<&str>,
    lookup: Lookup<'_>,
) -> Result<Option<BotToken>, CommandError> {
    if let Some(name) = named {
        return named_token(client, bot, name, "--token", lookup)
            .await
            .map(Some);
    }
    if let Lookup::MustExist = lookup {
        crate::ops::tokens::check_bot_exists(client, bot).await?;
    }
    let (mut bound, other): (Vec<_>, Vec<_>) = client
        .get_tokens()
        .await?
        .into_iter()
        .filter(|t| bot_of(&t.value) == bot)
        .partition(|t| method_of(&t.value) == METHOD);
    if bound.len() > 1 {
        let names: Vec<String> = bound.iter().map(|t| name_of(&t.value)).collect();
        return Err(lookup.several(bot, &names));
    }
    if let Some(token) = bound.pop() {
        return Ok(Some(BotToken {
            name: name_of(&token.value),
            token: Some(token),
        }));
    }
    match lookup {
        Lookup::MustExist => {
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
        Lookup::MayBeDeleted {
            tbot_config: Some(config),
        } => named_in_config(client, bot, config, lookup).await,
        Lookup::MayBeDeleted { tbot_config: None } => Ok(None),
    }
}

/// [`bot_token`] under [`Lookup::MustExist`], which answers with a token read or an error.
pub async fn existing_bot_token(
    client: &Client,
    bot: &str,
    named: Option<&str>,
) -> Result<Fetched<ProvisionTokenV2>, CommandError> {
    let found = bot_token(client, bot, named, Lookup::MustExist).await?;
    // Lookup::MustExist refuses a missing token and a bot without one, so this is not reached.
    found.and_then(|f| f.token).ok_or_else(|| {
        CommandError::failure(format!(
            "bot {bot:?}: its bound-keypair token was not found"
        ))
    })
}

/// The token `onboarding.token` of tbot.yaml names; `None` when it names none (or a token file).
async fn named_in_config(
    client: &Client,
    bot: &str,
    config: &Path,
    lookup: Lookup<'_>,
) -> Result<Option<BotToken>, CommandError> {
    match config_token(config)? {
        Some((name, source)) => named_token(client, bot, &name, &source, lookup)
            .await
            .map(Some),
        None => Ok(None),
    }
}

/// The token tbot.yaml at `config` joins with, and where it was found: `onboarding.token`, or
/// the file it names when it is an absolute path (tbot reads the token from there). `None`
/// when it names none; a file that cannot be read or parsed is an error naming it.
fn config_token(config: &Path) -> Result<Option<(String, String)>, CommandError> {
    let shown = config.display();
    let text = std::fs::read_to_string(config)
        .map_err(|e| CommandError::usage(format!("--tbot-config {shown}: cannot read it: {e}")))?;
    let named = mwi_diag::tbot_config::current_token(&text).map_err(|e| {
        CommandError::usage(format!("--tbot-config {shown}: {e}"))
            .hint("check it with `mwictl lint`, or pass --token NAME; nothing was changed")
    })?;
    let Some(name) = named.filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if !name.starts_with('/') {
        return Ok(Some((name, "onboarding.token of --tbot-config".into())));
    }
    let file = std::fs::read_to_string(&name).map_err(|e| {
        CommandError::usage(format!(
            "--tbot-config {shown}: onboarding.token is the file {name}, which cannot be read: {e}"
        ))
        .hint("pass --token NAME with the token's name; nothing was changed")
    })?;
    let token = file.trim();
    if token.is_empty() {
        return Err(CommandError::usage(format!(
            "--tbot-config {shown}: the token file {name} is empty"
        ))
        .hint("pass --token NAME with the token's name; nothing was changed"));
    }
    Ok(Some((token.to_owned(), format!("the token file {name}"))))
}

/// The token `name` (from `source`), which must be a bound-keypair token of `bot`.
async fn named_token(
    client: &Client,
    bot: &str,
    name: &str,
    source: &str,
    lookup: Lookup<'_>,
) -> Result<BotToken, CommandError> {
    let token = match client.get_token(name).await {
        Ok(token) => token,
        Err(e) if e.is_not_found() => {
            if let Lookup::MustExist = lookup {
                return Err(not_found(name));
            }
            // Gone, as after S10 — unless the bot has another bound-keypair token: then the name
            // may be a typo, and a recovery planned for a deleted token would leave that one
            // behind beside the new one.
            let others: Vec<String> = client
                .get_tokens()
                .await?
                .iter()
                .filter(|t| bot_of(&t.value) == bot && method_of(&t.value) == METHOD)
                .map(|t| name_of(&t.value))
                .collect();
            if !others.is_empty() {
                return Err(CommandError::usage(format!(
                    "{source} {name}: no such token, and bot {bot:?} has the bound-keypair token {}",
                    others.join(", ")
                ))
                .hint("pass --token with that name if it is the one tbot.yaml's onboarding.token names; nothing was changed"));
            }
            return Ok(BotToken {
                name: name.to_string(),
                token: None,
            });
        }
        Err(e) => return Err(e.into()),
    };
    lookup.check(&token.value, name, bot, source)?;
    Ok(BotToken {
        name: name.to_string(),
        token: Some(token),
    })
}

impl Lookup<'_> {
    /// Checks that `token` is a bound-keypair token of `bot`; `source` names where `name` came
    /// from. Each lookup keeps the wording its commands have always printed.
    fn check(
        self,
        token: &ProvisionTokenV2,
        name: &str,
        bot: &str,
        source: &str,
    ) -> Result<(), CommandError> {
        let method = method_of(token);
        if method != METHOD {
            return Err(match self {
                Lookup::MustExist => other_method(name, method),
                Lookup::MayBeDeleted { .. } => CommandError::usage(format!(
                    "{source} {name}: the token's join method is {method:?}, not {METHOD}"
                ))
                .hint("name the bot's bound-keypair token (`mwictl tokens ls` shows each token's method); nothing was changed"),
            });
        }
        let owner = bot_of(token);
        if owner != bot {
            return Err(match self {
                Lookup::MustExist => CommandError::usage(format!(
                    "token {name} belongs to bot {}, not {bot:?}",
                    shown(owner)
                ))
                .hint("name one of the bot's tokens (`mwictl bots show BOT`); nothing was changed"),
                Lookup::MayBeDeleted { .. } => CommandError::usage(format!(
                    "{source} {name}: the token belongs to bot {owner:?}, not {bot:?}"
                ))
                .hint(format!(
                    "name a token of this bot, or recover bot {owner:?}; nothing was changed"
                )),
            });
        }
        Ok(())
    }

    /// The refusal of a bot with several bound-keypair tokens (`names`) and none named.
    fn several(self, bot: &str, names: &[String]) -> CommandError {
        match self {
            Lookup::MustExist => CommandError::usage(format!(
                "bot {bot:?} has {} bound_keypair tokens ({})",
                names.len(),
                names.join(", ")
            ))
            .hint("name the one tbot joins with: --token NAME; nothing was changed"),
            Lookup::MayBeDeleted { .. } => CommandError::usage(format!(
                "bot {bot:?} has {} bound-keypair tokens ({}): which one is meant is unclear",
                names.len(),
                names.join(", ")
            ))
            .hint("pass --token NAME with the one tbot.yaml's onboarding.token names; nothing was changed"),
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
            out.push(existing_bot_token(client, bot, None).await?);
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
pub(crate) mod tests {
    use super::*;

    /// The docs' bound token (bot `example`, bound to the key of its status).
    pub(crate) fn bound_token() -> ProvisionTokenV2 {
        use crate::resource::{Resource, parse_documents};
        let body: String = include_str!("../resource/testdata/tokens/bound_keypair_bound.yaml")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        let Resource::Token(t) = parse_documents(&body).unwrap().remove(0) else {
            panic!("not a token")
        };
        t
    }

    #[test]
    fn a_named_token_must_be_the_bots_bound_keypair_token() {
        let lookup = Lookup::MayBeDeleted { tbot_config: None };
        let t = bound_token();
        assert!(
            lookup
                .check(&t, "example-token", "example", "--token")
                .is_ok()
        );
        let err = lookup
            .check(&t, "example-token", "other", "--token")
            .unwrap_err();
        assert_eq!(
            err.message,
            "--token example-token: the token belongs to bot \"example\", not \"other\""
        );
        assert_eq!(
            err.hints,
            ["name a token of this bot, or recover bot \"example\"; nothing was changed"]
        );
        let mut iam = t.clone();
        iam.spec.as_mut().unwrap().join_method = "iam".into();
        let err = lookup
            .check(&iam, "example-token", "example", "--token")
            .unwrap_err();
        assert_eq!(
            err.message,
            "--token example-token: the token's join method is \"iam\", not bound_keypair"
        );
        // The S8/S9/S12 commands keep tctl's wording.
        let err = Lookup::MustExist
            .check(&t, "example-token", "other", "--token")
            .unwrap_err();
        assert_eq!(
            err.message,
            "token example-token belongs to bot \"example\", not \"other\""
        );
        let err = Lookup::MustExist
            .check(&iam, "example-token", "example", "--token")
            .unwrap_err();
        assert_eq!(
            err.message,
            "token example-token is of type iam, not bound_keypair"
        );
    }

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

    #[test]
    fn tbot_yaml_names_its_token_inline_or_through_a_token_file_and_bad_files_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let inline = write("inline.yaml", "version: v2\nonboarding:\n  token: bk-1\n");
        assert_eq!(
            config_token(&inline).unwrap(),
            Some(("bk-1".into(), "onboarding.token of --tbot-config".into()))
        );
        let token_file = write("token", "bk-2\n");
        let via_file = write(
            "file.yaml",
            &format!("onboarding:\n  token: {}\n", token_file.display()),
        );
        let (name, source) = config_token(&via_file).unwrap().unwrap();
        assert_eq!(name, "bk-2");
        assert_eq!(source, format!("the token file {}", token_file.display()));
        let none = write("none.yaml", "onboarding:\n  join_method: bound_keypair\n");
        assert_eq!(config_token(&none).unwrap(), None);
        let broken = write("broken.yaml", "onboarding: [\n");
        let err = config_token(&broken).unwrap_err();
        assert!(err.message.starts_with("--tbot-config "), "{}", err.message);
        assert!(err.hints[0].contains("mwictl lint"), "{:?}", err.hints);
        let missing = write(
            "missing.yaml",
            "onboarding:\n  token: /nonexistent/mwictl-token\n",
        );
        let err = config_token(&missing).unwrap_err();
        assert!(
            err.message.contains(
                "onboarding.token is the file /nonexistent/mwictl-token, which cannot be read"
            ),
            "{}",
            err.message
        );
        let empty_file = write("empty", "\n");
        let empty = write(
            "empty.yaml",
            &format!("onboarding:\n  token: {}\n", empty_file.display()),
        );
        assert!(
            config_token(&empty)
                .unwrap_err()
                .message
                .ends_with("is empty")
        );
    }
}
