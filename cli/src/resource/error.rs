//! The resource module's error: every variant renders as one line that names the input (the
//! document, the field path such as `spec.allow.rules[0].verbs`) and what was expected there.

/// Why text could not become resources (or a string could not become a kind, duration or time).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    /// The input held no documents, or only blank ones (tctl's wording).
    #[error("no resources found, empty input?")]
    EmptyInput,

    /// The text is not valid YAML or JSON.
    #[error("invalid {format}: {message}")]
    Syntax {
        format: &'static str,
        message: String,
    },

    /// Input larger than any set of resources a server would take.
    #[error("the input is more than {limit} bytes; resources are far smaller")]
    TooLarge { limit: usize },

    /// Input nested deeper than any resource is.
    #[error("line {line}: nesting deeper than {limit} levels; resources are a few levels deep")]
    TooDeep { line: usize, limit: usize },

    /// A kind name mwictl does not handle.
    #[error(
        "unknown resource kind `{given}`; valid kinds: lock, role, token, bot, bot_instance{}",
        did_you_mean(.suggestion)
    )]
    UnknownKind {
        given: String,
        suggestion: Option<&'static str>,
    },

    /// A `kind/name` reference that does not fit its kind.
    #[error("invalid resource reference `{given}`: {reason}")]
    InvalidRef { given: String, reason: String },

    /// A mapping key that is not part of the resource's shape.
    #[error("{}: unknown key{}", at(.path), unknown_key_hint(.suggestion, .known))]
    UnknownKey {
        path: String,
        suggestion: Option<&'static str>,
        known: Vec<&'static str>,
    },

    /// A value of the wrong YAML/JSON type.
    #[error("{}: expected {expected}, got {got}", at(.path))]
    WrongType {
        path: String,
        expected: &'static str,
        got: String,
    },

    /// A required field that is absent, null or empty.
    #[error("{}: missing, expected {expected}", at(.path))]
    Missing {
        path: String,
        expected: &'static str,
    },

    /// A value of the right type that is still not acceptable (bad duration, unsupported version).
    #[error("{}: {message}", at(.path))]
    InvalidValue { path: String, message: String },

    /// Text that is not a Go-style duration.
    #[error("invalid duration `{given}`: {reason}")]
    InvalidDuration { given: String, reason: String },

    /// Text that is not an RFC 3339 time.
    #[error("invalid time `{given}`: expected RFC 3339, like 2026-01-02T15:04:05Z")]
    InvalidTimestamp { given: String },

    /// An error inside one document of a multi-document input.
    #[error("document {document}{}: {source}", described(.resource))]
    InDocument {
        document: usize,
        /// `kind/name` when the document got far enough to have them.
        resource: Option<String>,
        source: Box<ResourceError>,
    },
}

impl ResourceError {
    /// Puts a field-independent error (a duration, a time) at the field it came from.
    pub(crate) fn at_path(self, path: &str) -> ResourceError {
        ResourceError::InvalidValue {
            path: path.to_owned(),
            message: self.to_string(),
        }
    }
}

fn at(path: &str) -> String {
    if path.is_empty() {
        "the document".to_owned()
    } else {
        format!("`{path}`")
    }
}

fn did_you_mean(suggestion: &Option<&'static str>) -> String {
    suggestion
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}

fn unknown_key_hint(suggestion: &Option<&'static str>, known: &[&'static str]) -> String {
    match suggestion {
        Some(_) => did_you_mean(suggestion),
        None if known.is_empty() => String::new(),
        None => format!("; expected one of: {}", known.join(", ")),
    }
}

fn described(resource: &Option<String>) -> String {
    resource
        .as_ref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default()
}

/// The candidate closest to `given` within edit distance 2 (case-insensitive), if any.
pub(crate) fn closest(given: &str, candidates: &[&'static str]) -> Option<&'static str> {
    let given = given.to_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&given, &c.to_lowercase()), *c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("user", "user"), 0);
        assert_eq!(edit_distance("usr", "user"), 1);
        assert_eq!(edit_distance("users", "user"), 1);
        assert_eq!(edit_distance("uzer", "user"), 1);
        assert_eq!(edit_distance("vrebs", "verbs"), 2);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn closest_ignores_case_and_far_candidates() {
        assert_eq!(closest("Verbs", &["resources", "verbs"]), Some("verbs"));
        assert_eq!(closest("labelz", &["name", "labels"]), Some("labels"));
        assert_eq!(closest("something", &["name", "labels"]), None);
    }

    #[test]
    fn unknown_key_lists_known_keys_when_nothing_is_close() {
        let err = ResourceError::UnknownKey {
            path: "spec.options.cert_format".into(),
            suggestion: None,
            known: vec!["max_session_ttl"],
        };
        assert_eq!(
            err.to_string(),
            "`spec.options.cert_format`: unknown key; expected one of: max_session_ttl"
        );
    }

    #[test]
    fn root_path_reads_as_the_document() {
        let err = ResourceError::WrongType {
            path: String::new(),
            expected: "a mapping",
            got: "a string (\"x\")".into(),
        };
        assert_eq!(
            err.to_string(),
            "the document: expected a mapping, got a string (\"x\")"
        );
    }
}
