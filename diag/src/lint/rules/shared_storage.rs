//! `shared-storage` (S1): one storage directory in several configs linted together means two
//! tbot processes share it.

use super::{Check, Rule};
use crate::incident::Incident;
use crate::lint::{FileReport, LintFinding, Severity};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub(crate) const RULE: Rule = Rule {
    id: "shared-storage",
    severities: &[Severity::Error],
    incident: Some(Incident::GenerationMismatch),
    doc: "one storage directory in several configs linted together",
    check: Check::AcrossFiles,
};

/// Adds a finding to each file whose storage directory another file also uses.
pub(crate) fn check(files: &mut [FileReport]) {
    let mut users: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    for (i, file) in files.iter().enumerate() {
        if let Some(storage) = &file.storage {
            users.entry(storage.path.clone()).or_default().push(i);
        }
    }
    for (path, indices) in users {
        if indices.len() < 2 {
            continue;
        }
        for &i in &indices {
            let others: Vec<String> = indices
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| files[j].path.clone())
                .collect();
            let file = &mut files[i];
            let Some(storage) = &file.storage else {
                continue;
            };
            let what = if storage.explicit {
                "storage"
            } else {
                "the default storage"
            };
            file.findings.push(LintFinding {
                rule: RULE.id.to_string(),
                severity: RULE.severities[0],
                incident: RULE.incident,
                file: file.path.clone(),
                line: storage.line,
                column: storage.column,
                key: storage.key.clone(),
                message: format!(
                    "{what} `{}` is also used by {}: two tbot processes sharing one storage directory present each other's old certificates and get the bot locked (generation mismatch)",
                    path.display(),
                    others.join(", ")
                ),
                fix: Some("give each tbot its own `storage.path`".to_string()),
                fixable: false,
            });
        }
    }
}
