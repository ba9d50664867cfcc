//! `network-storage` (S1): tbot's storage on a network file system (NFS, CIFS/SMB, ...), where
//! another node can present the same identity and get the bot locked.

use super::{Check, Rule};
use crate::incident::Incident;
use crate::lint::Severity;
use crate::lint::check::{Checker, Context};

pub(crate) const RULE: Rule = Rule {
    id: "network-storage",
    severities: &[Severity::Warning],
    incident: Some(Incident::GenerationMismatch),
    doc: "storage on a network file system (NFS, CIFS/SMB, ...)",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let Some(storage) = context.storage_directory() else {
        return;
    };
    let Some(fs) = (context.options.network_fs)(&storage.path) else {
        return;
    };
    let what = if storage.explicit {
        "storage"
    } else {
        "the default storage"
    };
    let message = format!(
        "{what} `{}` is on a network file system ({fs}): tbot's internal data shared with or copied to another node makes the auth service see an old certificate and lock the bot (generation mismatch)",
        storage.path.display()
    );
    checker.add(&RULE, storage.at, &storage.key, message).fix =
        Some("keep storage on a local disk; share only output destinations".to_string());
}
