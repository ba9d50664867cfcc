//! What the key flows S10 (token wiped) and S11 (keypair lost) read before planning: the bot's
//! state and token (`recovery_mode::bot_token`, which may have been deleted), and a public key
//! from tbot's storage (`id_bkp.pub`) or `--public-key`. Bad input is one line naming the flag.

use std::path::Path;

use mwi_proto::types::ProvisionTokenV2;

use crate::client::Client;
use crate::error::CommandError;
use crate::ops::bound_keypair::{self, PUBLIC_KEY_FILE};
use crate::ops::recovery_mode::{self, BotToken, Lookup};
use crate::recover::diagnose::{self, BotState};
use crate::recover::plan::FlowInput;
use crate::resource::shown;

/// Where a public key came from, as errors and plans name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// One authorized_keys line, comment dropped.
    pub key: String,
    pub fingerprint: String,
    /// `--public-key`, or the `id_bkp.pub` file read.
    pub source: String,
}

/// One public key: the first field pair of an authorized_keys line (a comment is dropped, as
/// the server compares the key alone).
fn parse_key(text: &str, source: &str, fix: &str) -> Result<PublicKey, CommandError> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let key: String = line
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    match bound_keypair::fingerprint(&key) {
        Some((fingerprint, _)) => Ok(PublicKey {
            key,
            fingerprint,
            source: source.to_string(),
        }),
        None => Err(CommandError::usage(format!(
            "{source}: {} is not an SSH public key",
            shown(line)
        ))
        .hint(fix.to_string())),
    }
}

/// The bot's state, then its bound-keypair token as S10/S11 look for it: the one `--token`
/// names (which may have been deleted), else its only one, else the one tbot.yaml names.
pub async fn state_and_token(
    client: &Client,
    bot: &str,
    input: &FlowInput,
) -> Result<(BotState, Option<BotToken>), CommandError> {
    let state = diagnose::gather(client, bot).await?;
    let found = recovery_mode::bot_token(
        client,
        bot,
        input.token.as_deref(),
        Lookup::MayBeDeleted {
            tbot_config: input.tbot_config.as_deref(),
        },
    )
    .await?;
    Ok((state, found))
}

/// The key `--public-key` gives: the key itself, or `@FILE` holding it.
pub fn key_from_flag(value: &str) -> Result<PublicKey, CommandError> {
    let fix = "pass tbot's public key in authorized_keys form (`ssh-ed25519 AAAA...`, the content of id_bkp.pub) or @FILE holding it; nothing was changed";
    match value.strip_prefix('@') {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                CommandError::usage(format!("--public-key @{path}: cannot read it: {e}")).hint(fix)
            })?;
            parse_key(&text, &format!("--public-key @{path}"), fix)
        }
        None => parse_key(value, "--public-key", fix),
    }
}

/// The key in tbot's storage directory (`id_bkp.pub`), `None` when the file (or the wiped
/// directory) is not there.
pub fn key_in_storage(storage: &Path) -> Result<Option<PublicKey>, CommandError> {
    if !storage.exists() {
        return Ok(None);
    }
    if !storage.is_dir() {
        return Err(CommandError::usage(format!(
            "--storage {}: not a directory",
            storage.display()
        ))
        .hint("give tbot's storage directory (storage.path in tbot.yaml); nothing was changed"));
    }
    let path = storage.join(PUBLIC_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_key(
            &text,
            &path.display().to_string(),
            "tbot writes its public key there in authorized_keys form; pass the key with --public-key instead; nothing was changed",
        )
        .map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CommandError::usage(format!("cannot read {}: {e}", path.display()))),
    }
}

/// The key tbot's storage holds, required: S10 rebinds the token to it.
pub fn required_key_in_storage(storage: &Path) -> Result<PublicKey, CommandError> {
    key_in_storage(storage)?.ok_or_else(|| {
        CommandError::usage(format!(
            "--storage {}: no {PUBLIC_KEY_FILE} in it",
            storage.display()
        ))
        .hint("give tbot's storage directory (storage.path in tbot.yaml), or pass the bot's key with --public-key; nothing was changed")
    })
}

/// The bound public key in a token's status, if any.
pub fn bound_key(token: &ProvisionTokenV2) -> Option<String> {
    token
        .status
        .as_ref()
        .and_then(|s| s.bound_keypair.as_ref())
        .map(|b| b.bound_public_key.trim().to_string())
        .filter(|k| !k.is_empty())
}

/// Whether two authorized_keys lines are the same key (comments aside).
pub fn same_key(a: &str, b: &str) -> bool {
    let fa = bound_keypair::fingerprint(a);
    fa.is_some() && fa == bound_keypair::fingerprint(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGsqVA9xfvZBF+SY1+fE/bs+O7A7n6iSE3Z2l+Lud9Jy";

    #[test]
    fn keys_are_read_without_their_comment_and_bad_ones_name_the_flag() {
        let k = key_from_flag(&format!("{KEY} bot@host\n")).unwrap();
        assert_eq!(k.key, KEY);
        assert!(k.fingerprint.starts_with("SHA256:"));
        let err = key_from_flag("ssh-ed25519 nope").unwrap_err();
        assert!(err.message.starts_with("--public-key: "), "{}", err.message);
        let err = key_from_flag("@/nonexistent/key.pub").unwrap_err();
        assert!(
            err.message
                .starts_with("--public-key @/nonexistent/key.pub: cannot read"),
            "{}",
            err.message
        );
        assert!(same_key(KEY, &format!("{KEY} comment")));
        assert!(!same_key("x", "x"));
    }

    #[test]
    fn a_storage_without_the_public_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(key_in_storage(dir.path()).unwrap(), None);
        let err = required_key_in_storage(dir.path()).unwrap_err();
        assert!(
            err.message.ends_with("no id_bkp.pub in it"),
            "{}",
            err.message
        );
        std::fs::write(dir.path().join("id_bkp.pub"), format!("{KEY}\n")).unwrap();
        assert_eq!(required_key_in_storage(dir.path()).unwrap().key, KEY);
        std::fs::write(dir.path().join("id_bkp.pub"), "garbage\n").unwrap();
        assert!(key_in_storage(dir.path()).is_err());
    }

    /// Only a missing key file (or storage) is "no key"; an unreadable one or a storage that is
    /// a file is refused.
    #[test]
    fn an_unreadable_key_or_a_storage_that_is_a_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(key_in_storage(&dir.path().join("wiped")).unwrap(), None);
        std::fs::create_dir(dir.path().join("id_bkp.pub")).unwrap();
        let err = key_in_storage(dir.path()).unwrap_err();
        assert!(err.message.starts_with("cannot read "), "{}", err.message);
        let file = dir.path().join("file");
        std::fs::write(&file, KEY).unwrap();
        let err = key_in_storage(&file).unwrap_err();
        assert!(
            err.message.ends_with(": not a directory"),
            "{}",
            err.message
        );
    }

    #[test]
    fn the_bound_key_is_the_statuss_and_a_spec_only_token_has_none() {
        let mut t = crate::ops::recovery_mode::tests::bound_token();
        assert_eq!(bound_key(&t).as_deref(), Some(KEY));
        t.status
            .as_mut()
            .and_then(|s| s.bound_keypair.as_mut())
            .unwrap()
            .bound_public_key = " ".into();
        assert_eq!(bound_key(&t), None);
        t.status = None;
        assert_eq!(bound_key(&t), None);
    }
}
