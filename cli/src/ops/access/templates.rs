//! Trait templates in role values (`{{internal.X}}`, `{{external.X}}`, `{{internal["X"]}}` with
//! a literal prefix or suffix): expanded from the bot's traits; functions are named, not run.

use super::Traits;

/// A login, db name or label value as written in a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Template<'a> {
    Literal,
    /// `prefix{{internal.NAME}}suffix` (or `external.NAME`).
    Trait {
        prefix: &'a str,
        name: String,
        suffix: &'a str,
    },
    /// A template this module does not evaluate (a function, a malformed expression).
    Unsupported,
}

pub(super) fn parse_template(value: &str) -> Template<'_> {
    let Some(start) = value.find("{{") else {
        return Template::Literal;
    };
    let Some(len) = value[start + 2..].find("}}") else {
        return Template::Unsupported;
    };
    let prefix = &value[..start];
    let expr = value[start + 2..start + 2 + len].trim();
    let suffix = &value[start + 2 + len + 2..];
    let Some(rest) = expr
        .strip_prefix("internal")
        .or_else(|| expr.strip_prefix("external"))
    else {
        return Template::Unsupported;
    };
    let name = if let Some(dotted) = rest.strip_prefix('.') {
        dotted
    } else if let Some(indexed) = rest.strip_prefix("[\"").and_then(|r| r.strip_suffix("\"]")) {
        indexed
    } else {
        return Template::Unsupported;
    };
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':'));
    if !valid || suffix.contains("{{") {
        return Template::Unsupported;
    }
    Template::Trait {
        prefix,
        name: name.to_string(),
        suffix,
    }
}

/// Values after trait expansion, and the templates that gave nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Expanded {
    pub(super) values: Vec<String>,
    /// Templates whose trait is unset or empty.
    pub(super) empty: Vec<String>,
    /// Templates not evaluated.
    pub(super) unsupported: Vec<String>,
}

/// Expands every value of a role field with the bot's traits; duplicates are dropped.
pub(super) fn expand_all(values: &[String], traits: &Traits) -> Expanded {
    let mut out = Expanded::default();
    for value in values {
        match parse_template(value) {
            Template::Literal => push_unique(&mut out.values, value.clone()),
            Template::Trait {
                prefix,
                name,
                suffix,
            } => {
                let got: Vec<&String> = traits.get(&name).into_iter().flatten().collect();
                if got.is_empty() {
                    out.empty.push(value.clone());
                }
                for v in got {
                    push_unique(&mut out.values, format!("{prefix}{v}{suffix}"));
                }
            }
            Template::Unsupported => out.unsupported.push(value.clone()),
        }
    }
    out
}

pub(super) fn push_unique(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) {
        list.push(value);
    }
}
