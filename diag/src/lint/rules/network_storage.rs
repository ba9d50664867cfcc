//! `network-storage` (S1): tbot's storage on a network file system (NFS, CIFS/SMB, ...), where
//! another node can present the same identity and get the bot locked. The file system is the
//! bot's host's, so it is read only with `--on-host`; elsewhere the finding is a note.

use super::{Check, Rule};
use crate::incident::Incident;
use crate::lint::Severity;
use crate::lint::check::{Checker, Context};

pub(crate) const RULE: Rule = Rule {
    id: "network-storage",
    severities: &[Severity::Warning, Severity::Info],
    incident: Some(Incident::GenerationMismatch),
    doc: "storage on a network file system (NFS, CIFS/SMB, ...) (checked with `--on-host`; else a note)",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let Some(storage) = context.storage_directory() else {
        return;
    };
    let what = if storage.explicit {
        "storage"
    } else {
        "the default storage"
    };
    if !context.options.on_host {
        let message = format!(
            "the file system of {what} `{}` is not checked here (it lives on the bot's host; run with --on-host there)",
            storage.path.display()
        );
        checker.add_as(&RULE, Severity::Info, storage.at, &storage.key, message);
        return;
    }
    let Some(fs) = (context.options.network_fs)(&storage.path) else {
        return;
    };
    let message = format!(
        "{what} `{}` is on a network file system ({fs}): tbot's internal data shared with or copied to another node makes the auth service see an old certificate and lock the bot (generation mismatch)",
        storage.path.display()
    );
    checker.add(&RULE, storage.at, &storage.key, message).fix =
        Some("keep storage on a local disk; share only output destinations".to_string());
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_findings as findings;
    use crate::lint::{LintOptions, Severity};
    use std::path::Path;

    fn nfs(_: &Path) -> Option<String> {
        Some("NFS".to_string())
    }

    const CONFIG: &str =
        "version: v2\nproxy_server: p:443\nstorage:\n  type: directory\n  path: /mnt/tbot\n";

    #[test]
    fn network_storage_is_a_warning_on_the_host() {
        let options = LintOptions {
            on_host: true,
            network_fs: nfs,
            ..LintOptions::default()
        };
        let found = findings(CONFIG, &options, "network-storage");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Warning);
        assert!(found[0].message.contains("(NFS)"));
    }

    #[test]
    fn elsewhere_the_file_system_is_not_read() {
        let options = LintOptions {
            network_fs: nfs,
            ..LintOptions::default()
        };
        let found = findings(CONFIG, &options, "network-storage");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Info);
        assert!(found[0].message.contains("not checked here"));
    }
}
