//! A bound-keypair bot's fresh token in its tbot.yaml (runbook C, keypair lost): the token name
//! and registration secret go where the file keeps them, changing only those bytes.
//!
//! Where they go (teleport-bound-keypair.md §7, lib/tbot/bot/onboarding/config.go): a `join_uri`
//! carries both (`tbot+KIND+bound-keypair://TOKEN:SECRET@ADDR`) and is rewritten in place;
//! otherwise `onboarding.token` takes the name (or the file its absolute path names, as tbot
//! reads it) and the secret goes into the file `registration_secret_path` names, else into
//! `onboarding.bound_keypair.registration_secret` (added when missing). tbot refuses both secret
//! keys at once, so a file that has a path never gets the inline key too.

use std::path::PathBuf;

use crate::yaml::edit::{self, Edit};
use crate::yaml::{Entry, Node, Style, Value};

use super::TokenEdit;
use super::token::{only, parse, plain_value, plan_token_edit, render, replace_value};

/// The changes that put a fresh bound-keypair token into a tbot.yaml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundKeypairEdit {
    /// The tbot.yaml's new text (equal to the old one when nothing in it changes).
    pub config: String,
    /// `onboarding.token` is an absolute path: the token goes into that file.
    pub token_file: Option<PathBuf>,
    /// `registration_secret_path`: the secret goes into that file.
    pub secret_file: Option<PathBuf>,
    /// True when the file joins by `join_uri`, which now names the token and secret.
    pub via_join_uri: bool,
}

/// Plans how `token` and `secret` (none for a preregistered key) get into the tbot.yaml `text`;
/// errors are one line without the path.
pub fn plan_bound_keypair_edit(
    text: &str,
    token: &str,
    secret: Option<&str>,
) -> Result<BoundKeypairEdit, String> {
    if secret.is_some_and(|s| s.is_empty() || s.contains(['\n', '\r', '@', '/'])) {
        return Err(
            "the registration secret is empty or has characters a join URI cannot hold".into(),
        );
    }
    let doc = parse(text)?;
    let root = doc.root.as_ref().and_then(Node::as_map);
    let uri = match root
        .map(|m| only(&m.entries, "join_uri"))
        .transpose()?
        .flatten()
    {
        Some(entry) if !scalar(entry).is_empty() => Some(entry),
        _ => None,
    };
    if let Some(entry) = uri {
        plain_value(text, entry, "join_uri")?;
        let rewritten = rewrite_join_uri(&scalar(entry), token, secret)?;
        let mut config = edit::apply(text, &[replace_value(text, &entry.value, &rewritten)]);
        // A token name beside the URI is kept in step with it.
        let mut token_file = None;
        if has_token(&config)? {
            match plan_token_edit(&config, token)? {
                TokenEdit::Config(new) => config = new,
                TokenEdit::TokenFile(path) => token_file = Some(path),
            }
        }
        return Ok(BoundKeypairEdit {
            config,
            token_file,
            secret_file: None,
            via_join_uri: true,
        });
    }
    let (mut config, token_file) = match plan_token_edit(text, token)? {
        TokenEdit::Config(new) => (new, None),
        TokenEdit::TokenFile(path) => (text.to_string(), Some(path)),
    };
    config = with_join_method(&config)?;
    let mut secret_file = None;
    if let Some(secret) = secret {
        match secret_slot(&config, secret)? {
            SecretSlot::File(path) => secret_file = Some(path),
            SecretSlot::Edit(change) => config = edit::apply(&config, &[change]),
        }
    }
    Ok(BoundKeypairEdit {
        config,
        token_file,
        secret_file,
        via_join_uri: false,
    })
}

/// `SCHEME://TOKEN[:SECRET]@ADDR` with the new token and secret; the scheme and address stay.
pub fn rewrite_join_uri(uri: &str, token: &str, secret: Option<&str>) -> Result<String, String> {
    let (scheme, rest) = uri
        .split_once("://")
        .ok_or_else(|| format!("join_uri {uri:?} is not SCHEME://TOKEN@ADDR"))?;
    let at = rest
        .rfind('@')
        .ok_or_else(|| "join_uri has no token in its user field (TOKEN@ADDR)".to_string())?;
    let secret = secret.map(|s| format!(":{s}")).unwrap_or_default();
    Ok(format!("{scheme}://{token}{secret}{}", &rest[at..]))
}

/// A scalar's text; empty for anything else.
fn scalar(entry: &Entry) -> String {
    match &entry.value.value {
        Value::Scalar(s) if s.style != Style::Block => s.text.clone(),
        _ => String::new(),
    }
}

fn onboarding_map(node: Option<&Node>) -> Option<&Entry> {
    node.and_then(Node::as_map)?.get("onboarding")
}

fn has_token(text: &str) -> Result<bool, String> {
    let doc = parse(text)?;
    Ok(onboarding_map(doc.root.as_ref())
        .and_then(|o| o.value.as_map())
        .is_some_and(|m| m.get("token").is_some()))
}

/// Sets `onboarding.join_method` to `bound_keypair` (adding it when missing): tbot's default is
/// the one-time `token` method.
fn with_join_method(text: &str) -> Result<String, String> {
    let doc = parse(text)?;
    let Some(onboarding) = onboarding_map(doc.root.as_ref()) else {
        return Ok(text.to_string());
    };
    let Some(map) = onboarding.value.as_map() else {
        return Err("onboarding is not a mapping".into());
    };
    match only(&map.entries, "join_method")? {
        Some(entry) if scalar(entry) == "bound_keypair" => Ok(text.to_string()),
        Some(entry) => {
            plain_value(text, entry, "onboarding.join_method")?;
            Ok(edit::apply(
                text,
                &[replace_value(text, &entry.value, "bound_keypair")],
            ))
        }
        None => {
            let insert = edit::insert_entry(
                text,
                &onboarding.value,
                "token",
                "join_method",
                "bound_keypair",
            )
            .ok_or("onboarding has no place for join_method")?;
            Ok(edit::apply(text, &[insert]))
        }
    }
}

/// Where the secret goes.
enum SecretSlot {
    /// `registration_secret_path`: tbot reads the secret from this file.
    File(PathBuf),
    /// The edit that sets (or adds) `registration_secret`.
    Edit(Edit),
}

fn secret_slot(text: &str, secret: &str) -> Result<SecretSlot, String> {
    let doc = parse(text)?;
    let onboarding =
        onboarding_map(doc.root.as_ref()).ok_or("the file has no onboarding section")?;
    let map = onboarding
        .value
        .as_map()
        .ok_or("onboarding is not a mapping")?;
    let empty = || "onboarding.bound_keypair is empty; give it a mapping or remove it".to_string();
    let Some(block) = only(&map.entries, "bound_keypair")? else {
        let value = format!("{{registration_secret: {}}}", render(secret));
        return edit::insert_entry(text, &onboarding.value, "token", "bound_keypair", &value)
            .map(SecretSlot::Edit)
            .ok_or_else(|| "onboarding has no place for bound_keypair".to_string());
    };
    plain_value(text, block, "onboarding.bound_keypair")?;
    let inner = block.value.as_map().ok_or_else(empty)?;
    if let Some(path) = only(&inner.entries, "registration_secret_path")? {
        let path = scalar(path);
        if path.starts_with('/') {
            return Ok(SecretSlot::File(PathBuf::from(path)));
        }
        if !path.is_empty() {
            return Err(format!(
                "onboarding.bound_keypair.registration_secret_path {path:?} is not an absolute path"
            ));
        }
    }
    match only(&inner.entries, "registration_secret")? {
        Some(entry) => {
            plain_value(text, entry, "onboarding.bound_keypair.registration_secret")?;
            if matches!(&entry.value.value, Value::Scalar(s) if s.style == Style::Block) {
                return Err(
                    "onboarding.bound_keypair.registration_secret is a block scalar".into(),
                );
            }
            Ok(SecretSlot::Edit(replace_value(text, &entry.value, secret)))
        }
        None => edit::insert_entry(
            text,
            &block.value,
            "",
            "registration_secret",
            &render(secret),
        )
        .map(SecretSlot::Edit)
        .ok_or_else(empty),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "bot-example-0a6f812a";
    const SECRET: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

    fn planned(text: &str, secret: Option<&str>) -> BoundKeypairEdit {
        plan_bound_keypair_edit(text, TOKEN, secret).unwrap()
    }

    /// What YAML itself reads at `path`.
    fn read(text: &str, path: &[&str]) -> String {
        let mut v: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).unwrap();
        for key in path {
            v = v[*key].clone();
        }
        v.as_str().unwrap_or_default().to_string()
    }

    const COMMENTED: &str = "\
# bound-keypair runner (owner: platform)
version: v2
auth_server: auth.example.com:3025  # direct
onboarding:
  join_method: bound_keypair
  token: bot-example-11111111  # not secret
  bound_keypair:
    registration_secret: 'old-secret'   # rotated by mwictl
storage:
  type: directory
  path: /var/lib/teleport/bot
";

    #[test]
    fn token_and_secret_replace_only_their_bytes_keeping_comments_and_quotes() {
        let edit = planned(COMMENTED, Some(SECRET));
        let want = COMMENTED
            .replace("bot-example-11111111", TOKEN)
            .replace("'old-secret'", &format!("'{SECRET}'"));
        assert_eq!(edit.config, want);
        assert_eq!(
            (edit.token_file, edit.secret_file, edit.via_join_uri),
            (None, None, false)
        );
        // Already there: nothing changes.
        assert_eq!(planned(&want, Some(SECRET)).config, want);
    }

    #[test]
    fn a_missing_method_and_secret_are_added_with_the_files_indentation() {
        let text = "version: v2\nonboarding:\n    join_method: token\n    token: old\nstorage:\n    type: memory\n";
        let new = planned(text, Some(SECRET)).config;
        assert_eq!(read(&new, &["onboarding", "join_method"]), "bound_keypair");
        assert_eq!(read(&new, &["onboarding", "token"]), TOKEN);
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&new).unwrap();
        assert_eq!(
            doc["onboarding"]["bound_keypair"]["registration_secret"].as_str(),
            Some(SECRET),
            "{new}"
        );
        assert!(new.ends_with("storage:\n    type: memory\n"), "{new}");
        let bare = "version: v2\nonboarding:\n  token: old\n  bound_keypair:\n    static_private_key_path: /k\n";
        let new = planned(bare, Some(SECRET)).config;
        assert_eq!(
            read(
                &new,
                &["onboarding", "bound_keypair", "registration_secret"]
            ),
            SECRET
        );
        assert_eq!(read(&new, &["onboarding", "join_method"]), "bound_keypair");
    }

    #[test]
    fn a_secret_path_gets_the_secret_in_its_file_and_a_token_path_the_token() {
        let text = "onboarding:\n  join_method: bound_keypair\n  token: /etc/tbot/token\n  bound_keypair:\n    registration_secret_path: /etc/tbot/secret\n";
        let edit = planned(text, Some(SECRET));
        assert_eq!(edit.config, text);
        assert_eq!(edit.token_file, Some(PathBuf::from("/etc/tbot/token")));
        assert_eq!(edit.secret_file, Some(PathBuf::from("/etc/tbot/secret")));
        let relative = text.replace("/etc/tbot/secret", "secret.txt");
        let err = plan_bound_keypair_edit(&relative, TOKEN, Some(SECRET)).unwrap_err();
        assert!(err.contains("not an absolute path"), "{err}");
    }

    #[test]
    fn a_join_uri_is_rewritten_keeping_its_scheme_and_address() {
        let text = "version: v2\njoin_uri: tbot+proxy+bound-keypair://bot-example-11111111:old@proxy.example.com:443\nstorage:\n  type: directory\n  path: /b\n";
        let edit = planned(text, Some(SECRET));
        assert!(edit.via_join_uri);
        assert_eq!(
            read(&edit.config, &["join_uri"]),
            format!("tbot+proxy+bound-keypair://{TOKEN}:{SECRET}@proxy.example.com:443")
        );
        assert!(
            edit.config
                .ends_with("storage:\n  type: directory\n  path: /b\n")
        );
        let keyed = planned(text, None);
        assert_eq!(
            read(&keyed.config, &["join_uri"]),
            format!("tbot+proxy+bound-keypair://{TOKEN}@proxy.example.com:443")
        );
        assert!(rewrite_join_uri("tbot+proxy+bound-keypair://proxy:443", TOKEN, None).is_err());
    }

    #[test]
    fn a_preregistered_key_changes_the_token_only() {
        let edit = planned(COMMENTED, None);
        assert_eq!(
            edit.config,
            COMMENTED.replace("bot-example-11111111", TOKEN)
        );
    }
}
