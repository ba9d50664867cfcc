//! The join token in a tbot.yaml (`onboarding.token`): read it, and plan the edit that puts a new
//! one in, on the span-preserving reader ([`crate::yaml`]) and its edits, so only the token's
//! bytes change (or one line is added with the file's own indentation and line ending).

use std::path::PathBuf;

use crate::yaml::edit::{self, Edit};
use crate::yaml::{self, Entry, Node, Style, Value};

/// How the token gets into a tbot.yaml's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenEdit {
    /// The new text of the tbot.yaml (equal to the old one when it already held the token).
    Config(String),
    /// `onboarding.token` is this absolute path: tbot reads the token from that file.
    TokenFile(PathBuf),
}

/// The token `onboarding.token` holds (decoded from its quoting; empty when it is null), if any.
/// Errors are one line without the path.
pub fn current_token(text: &str) -> Result<Option<String>, String> {
    let doc = parse(text)?;
    Ok(match locate(text, doc.root.as_ref())? {
        Slot::Token(entry) => Some(decoded(entry)?),
        Slot::Missing(_) | Slot::NoOnboarding => None,
    })
}

/// Computes how `token` gets into the tbot.yaml `text`; errors are one line without the path.
pub fn plan_token_edit(text: &str, token: &str) -> Result<TokenEdit, String> {
    if token.is_empty() || token.contains(['\n', '\r']) {
        return Err("the token is empty or spans lines".into());
    }
    let doc = parse(text)?;
    let eol = edit::line_ending(text);
    let (top, step) = edit::indentation(text);
    let value = render(token);
    let edit = match locate(text, doc.root.as_ref())? {
        Slot::NoOnboarding => {
            let sep = if text.is_empty() || text.ends_with('\n') {
                ""
            } else {
                eol
            };
            Edit {
                at: text.len(),
                remove: 0,
                insert: format!(
                    "{sep}{}onboarding:{eol}{}token: {value}{eol}",
                    " ".repeat(top),
                    " ".repeat(top + step)
                ),
            }
        }
        Slot::Token(entry) => {
            let current = decoded(entry)?;
            if current == token {
                return Ok(TokenEdit::Config(text.to_string()));
            }
            if current.starts_with('/') {
                return Ok(TokenEdit::TokenFile(PathBuf::from(current)));
            }
            if text[entry.value.span.start..entry.value.span.end].contains('\n') {
                return Err("onboarding.token spans lines".into());
            }
            replace_value(text, &entry.value, token)
        }
        Slot::Missing(onboarding) => {
            let line = |indent: usize| format!("{}token: {value}", " ".repeat(indent));
            match &onboarding.value.value {
                Value::Map(map) if map.flow => {
                    // First in the mapping, so no separator before `}` needs care.
                    let (at, insert) = match map.entries.first() {
                        Some(first) => (first.key_span.start, format!("token: {value}, ")),
                        None => (onboarding.value.span.end - 1, format!("token: {value}")),
                    };
                    Edit {
                        at,
                        remove: 0,
                        insert,
                    }
                }
                Value::Map(map) => {
                    let indent = map
                        .entries
                        .first()
                        .map_or(top + step, |e| edit::column(text, e.key_span.start));
                    edit::insert_line_after(text, onboarding.key_span.start, &line(indent))
                }
                Value::Null => {
                    edit::insert_line_after(text, onboarding.key_span.start, &line(top + step))
                }
                // `onboarding: null`: the null word goes, the token line takes its place.
                _ => {
                    let colon = edit::colon_after(text, onboarding.key_span.end);
                    Edit {
                        at: colon,
                        remove: onboarding.value.span.end - colon,
                        insert: format!("{eol}{}", line(top + step)),
                    }
                }
            }
        }
    };
    Ok(TokenEdit::Config(edit::apply(text, &[edit])))
}

/// Where the token is, or goes.
enum Slot<'a> {
    /// `onboarding.token` (its value may be null).
    Token(&'a Entry),
    /// `onboarding` (a mapping, empty or null) has no `token`.
    Missing(&'a Entry),
    NoOnboarding,
}

pub(super) fn parse(text: &str) -> Result<yaml::Document, String> {
    yaml::parse(text).map_err(|e| {
        let line = text[..e.offset.min(text.len())].matches('\n').count() + 1;
        format!("not valid YAML at line {line}: {}", e.message)
    })
}

fn locate<'a>(text: &str, root: Option<&'a Node>) -> Result<Slot<'a>, String> {
    let Some(root) = root else {
        return Ok(Slot::NoOnboarding);
    };
    if text[root.span.start..].starts_with(['{', '[']) {
        return Err("the file is a single flow collection, not a block mapping".into());
    }
    let Value::Map(top) = &root.value else {
        return Err("the file is not a mapping of keys".into());
    };
    let onboarding = only(&top.entries, "onboarding")?;
    let Some(onboarding) = onboarding else {
        return Ok(Slot::NoOnboarding);
    };
    plain_value(text, onboarding, "onboarding")?;
    match &onboarding.value.value {
        Value::Null => Ok(Slot::Missing(onboarding)),
        Value::Scalar(s) if s.style == Style::Plain && is_null(&s.text) => {
            Ok(Slot::Missing(onboarding))
        }
        Value::Map(map) => match only(&map.entries, "token")? {
            Some(token) => {
                plain_value(text, token, "onboarding.token")?;
                Ok(Slot::Token(token))
            }
            None => Ok(Slot::Missing(onboarding)),
        },
        _ => Err("onboarding is not a mapping".into()),
    }
}

/// The one entry named `key`; a key given twice is refused (which one tbot reads is unclear).
pub(super) fn only<'a>(entries: &'a [Entry], key: &str) -> Result<Option<&'a Entry>, String> {
    let mut found = entries.iter().filter(|e| e.key == key);
    let first = found.next();
    if found.next().is_some() {
        let path = if key == "token" {
            "onboarding.token"
        } else {
            key
        };
        return Err(format!("{path} appears twice"));
    }
    Ok(first)
}

/// Refuses an anchor, tag or alias on `entry`'s value: the edit would change what other places
/// share, or what the tag says.
pub(super) fn plain_value(text: &str, entry: &Entry, what: &str) -> Result<(), String> {
    let gap = text
        .get(entry.key_span.end..entry.value.span.start)
        .unwrap_or("");
    let marked = gap.lines().any(edit::has_anchor_or_tag);
    if marked || matches!(entry.value.value, Value::Alias) {
        return Err(format!("{what} uses an anchor, alias or tag"));
    }
    Ok(())
}

/// The token `entry` holds; a null value is empty.
pub(super) fn decoded(entry: &Entry) -> Result<String, String> {
    match &entry.value.value {
        Value::Null => Ok(String::new()),
        Value::Scalar(s) => match s.style {
            Style::Block => Err("onboarding.token is a block scalar".into()),
            Style::Plain if is_null(&s.text) => Ok(String::new()),
            Style::Plain | Style::Quoted => Ok(s.text.clone()),
        },
        _ => Err("onboarding.token is not a scalar".into()),
    }
}

/// The edit that makes `node` (a null or one-line scalar) read `token`, keeping its quotes.
pub(super) fn replace_value(text: &str, node: &Node, token: &str) -> Edit {
    let span = &text[node.span.start..node.span.end];
    match &node.value {
        Value::Scalar(s) if s.style == Style::Quoted => {
            let quote = if span.starts_with('\'') {
                Quote::Single
            } else {
                Quote::Double
            };
            Edit {
                at: node.span.start + 1,
                remove: span.len() - 2,
                insert: escape_inner(token, quote),
            }
        }
        _ => edit::set_value(text, node, &render(token)),
    }
}

pub(super) fn is_null(text: &str) -> bool {
    matches!(text, "~" | "null" | "Null" | "NULL")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    Single,
    Double,
}

/// The token as a YAML scalar: plain when that reads back as the same string, else double-quoted.
pub(super) fn render(token: &str) -> String {
    if plain_is_safe(token) {
        token.to_string()
    } else {
        format!("\"{}\"", escape_inner(token, Quote::Double))
    }
}

fn escape_inner(token: &str, quote: Quote) -> String {
    match quote {
        Quote::Single => token.replace('\'', "''"),
        Quote::Double => token.replace('\\', "\\\\").replace('"', "\\\""),
    }
}

/// A plain scalar that YAML reads as this very string: word characters only, and not something
/// that resolves to a number, bool or null (`1234`, `1e5`, `yes`).
fn plain_is_safe(token: &str) -> bool {
    let word = token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !token.starts_with(['-', '.']);
    let looks_typed = token.parse::<f64>().is_ok()
        || token.starts_with("0x")
        || token.starts_with("0o")
        || matches!(
            token.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~"
        )
        || token.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    word && !looks_typed
}
