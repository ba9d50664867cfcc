//! `unknown-key`: a key tbot does not know at that level, with the nearest known key or the
//! section it belongs in; found by the schema walk. tbot rejects a v2 file with one (an error)
//! and ignores it in a v1 file, where the setting then silently has no effect (a warning).

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, join};
use crate::lint::schema::{self, Field};
use crate::yaml::{Entry, Map, edit};

pub(crate) const RULE: Rule = Rule {
    id: "unknown-key",
    severities: &[Severity::Error, Severity::Warning],
    incident: None,
    doc: "a key tbot does not know at that level (error: tbot rejects v2 files with one; warning in v1 files, where tbot ignores it)",
    check: Check::Schema,
};

/// A section with at most this many keys lists them when nothing nearer can be suggested.
const LISTED: usize = 8;

/// `entry` is not one of `fields` in the mapping at `path`.
pub(crate) fn report(checker: &mut Checker, entry: &Entry, fields: &[Field], path: &str) {
    let place = if path.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in `{path}`")
    };
    let mut message = format!("unknown key `{}` {place}", entry.key);
    let names = || fields.iter().map(|f| f.name).filter(|n| !n.is_empty());
    let fix = if let Some(now) = schema::renamed(path, &entry.key) {
        message.push_str(&format!("; tbot renamed it `{now}`"));
        Some(format!("rename it to `{now}`"))
    } else if let Some(near) =
        schema::did_you_mean(&entry.key, names()).or_else(|| schema::words_of(&entry.key, names()))
    {
        message.push_str(&format!("; did you mean `{near}`?"));
        Some(format!("rename it to `{near}`"))
    } else if let Some(home) = (!checker.v1).then(|| schema::home_of(&entry.key)).flatten() {
        message.push_str(&format!("; `{}` belongs in {home}", entry.key));
        Some(format!("move it to {home}"))
    } else {
        if names().count() <= LISTED {
            message.push_str(&format!(
                "; expected one of: {}",
                names().collect::<Vec<_>>().join(", ")
            ));
        }
        Some("remove it: tbot refuses a v2 config with an unknown key".to_string())
    };
    let severity = if checker.v1 {
        message.push_str(" (tbot ignores unknown keys in a v1 file: this setting has no effect)");
        Severity::Warning
    } else {
        Severity::Error
    };
    let fix = if checker.v1 && fix.as_deref().is_some_and(|f| f.starts_with("remove it")) {
        Some("remove it, or rewrite the file as v2".to_string())
    } else {
        fix
    };
    let issue = checker.add_as(
        &RULE,
        severity,
        entry.key_span.start,
        &join(path, &entry.key),
        message,
    );
    issue.fix = fix;
}

/// `entry` is in the schema but not in the target release (`why` says since when). At the top
/// level, `credential_ttl` goes back to `certificate_ttl` (fixable when that is not set too).
pub(crate) fn report_not_in_release(
    checker: &mut Checker,
    map: &Map,
    entry: &Entry,
    path: &str,
    why: String,
) {
    let older_name = (path.is_empty() && entry.key == "credential_ttl")
        .then_some("certificate_ttl")
        .filter(|old| map.get(old).is_none());
    let issue = checker.add(
        &RULE,
        entry.key_span.start,
        &join(path, &entry.key),
        format!("{why}; give a newer --teleport-version if tbot is newer"),
    );
    match older_name {
        Some(old) => {
            issue.fix = Some(format!("rename it to `{old}`, its name in that release"));
            issue.edits.push(edit::rename_key(entry.key_span, old));
        }
        None => {
            issue.fix = Some("remove it: that release has no such setting here".to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_findings as findings;
    use crate::lint::target::{Target, TargetSource, parse_release};
    use crate::lint::{LintOptions, Severity};

    const ID: &str = "unknown-key";

    fn bound_keypair(keys: &str) -> String {
        format!(
            "version: v2\nproxy_server: p:443\nonboarding:\n  join_method: bound_keypair\n  token: bot-ci-1\n  bound_keypair:\n{keys}storage:\n  type: directory\n  path: /var/lib/teleport/bot\n"
        )
    }

    #[test]
    fn every_bound_keypair_key_tbot_knows_passes() {
        // lib/tbot/bot/onboarding/config.go (v18.2+, v19): the three keys of
        // BoundKeypairOnboardingConfig, each checked alone (tbot refuses the two secrets together,
        // a rule of its own).
        for key in [
            "registration_secret: s3cret\n",
            "registration_secret_path: /etc/tbot/secret\n",
            "static_private_key_path: /etc/tbot/key\n",
        ] {
            let yaml = bound_keypair(&format!("    {key}"));
            assert!(
                findings(&yaml, &LintOptions::default(), ID).is_empty(),
                "{key}"
            );
        }
    }

    #[test]
    fn a_misspelt_bound_keypair_key_is_an_error_on_its_line_with_the_key_meant() {
        let yaml = bound_keypair("    registration_secrett: s3cret\n");
        let found = findings(&yaml, &LintOptions::default(), ID);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Error);
        assert_eq!((found[0].line, found[0].column), (7, 5));
        assert_eq!(
            found[0].key,
            "onboarding.bound_keypair.registration_secrett"
        );
        assert_eq!(
            found[0].message,
            "unknown key `registration_secrett` in `onboarding.bound_keypair`; did you mean `registration_secret`?"
        );
        assert_eq!(
            found[0].fix.as_deref(),
            Some("rename it to `registration_secret`")
        );
        assert!(!found[0].message.contains("s3cret"));
    }

    #[test]
    fn a_key_with_a_word_left_out_names_the_full_key() {
        let found = findings(
            &bound_keypair("    static_key_path: /etc/tbot/key\n"),
            &LintOptions::default(),
            ID,
        );
        assert_eq!(found.len(), 1);
        assert!(
            found[0]
                .message
                .ends_with("did you mean `static_private_key_path`?"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn the_early_secret_name_is_named_as_renamed() {
        for old in ["initial_join_secret", "initialjoinsecret"] {
            let found = findings(
                &bound_keypair(&format!("    {old}: s3cret\n")),
                &LintOptions::default(),
                ID,
            );
            assert_eq!(found.len(), 1, "{old}");
            assert!(
                found[0]
                    .message
                    .ends_with("tbot renamed it `registration_secret`"),
                "{}",
                found[0].message
            );
            assert_eq!(
                found[0].fix.as_deref(),
                Some("rename it to `registration_secret`")
            );
        }
        // Elsewhere the old name is just unknown.
        let top = "version: v2\nproxy_server: p:443\ninitial_join_secret: s\n";
        let found = findings(top, &LintOptions::default(), ID);
        assert!(
            !found[0].message.contains("renamed"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_key_far_from_any_lists_the_keys_of_a_small_section() {
        let found = findings(
            &bound_keypair("    public_key: x\n"),
            &LintOptions::default(),
            ID,
        );
        assert_eq!(
            found[0].message,
            "unknown key `public_key` in `onboarding.bound_keypair`; expected one of: registration_secret, registration_secret_path, static_private_key_path"
        );
        assert_eq!(
            found[0].fix.as_deref(),
            Some("remove it: tbot refuses a v2 config with an unknown key")
        );
        // The top level has too many keys to list.
        let top = "version: v2\nproxy_server: p:443\nzzz_unrelated: 1\n";
        let found = findings(top, &LintOptions::default(), ID);
        assert_eq!(
            found[0].message,
            "unknown key `zzz_unrelated` at the top level"
        );
    }

    #[test]
    fn a_bound_keypair_key_directly_under_onboarding_belongs_one_level_down() {
        let yaml = "version: v2\nproxy_server: p:443\nonboarding:\n  join_method: bound_keypair\n  token: bot-ci-1\n  registration_secret_path: /etc/tbot/secret\n";
        let found = findings(yaml, &LintOptions::default(), ID);
        assert_eq!(found.len(), 1);
        assert!(
            found[0]
                .message
                .ends_with("`registration_secret_path` belongs in `onboarding.bound_keypair:`"),
            "{}",
            found[0].message
        );
        assert_eq!(found[0].line, 6);
    }

    #[test]
    fn a_misspelt_bound_keypair_key_in_a_v1_file_is_a_warning() {
        let yaml = "onboarding:\n  join_method: bound_keypair\n  token: bot-ci-1\n  bound_keypair:\n    registration_secrett: s\nstorage:\n  directory: /var/lib/teleport/bot\n";
        let found = findings(yaml, &LintOptions::default(), ID);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].severity, Severity::Warning);
        assert!(
            found[0]
                .message
                .contains("did you mean `registration_secret`?")
        );
    }

    fn at(release: &str) -> LintOptions {
        LintOptions {
            target: Target::new(
                parse_release(release).expect("release"),
                TargetSource::Flag,
                release,
            ),
            ..LintOptions::default()
        }
    }

    #[test]
    fn credential_ttl_before_its_release_goes_back_to_certificate_ttl_at_the_top_only() {
        let top = "version: v2\nproxy_server: p:443\ncredential_ttl: 1h\n";
        let found = findings(top, &at("17.2.0"), ID);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].message.contains("came in Teleport"),
            "{}",
            found[0].message
        );
        assert_eq!(
            found[0].fix.as_deref(),
            Some("rename it to `certificate_ttl`, its name in that release")
        );
        assert!(found[0].fixable);
        // Both set: renaming would make a duplicate key.
        let both = format!("{top}certificate_ttl: 1h\n");
        let found = findings(&both, &at("17.2.0"), ID);
        assert_eq!(
            found[0].fix.as_deref(),
            Some("remove it: that release has no such setting here")
        );
        assert!(!found[0].fixable);
        // The older name is offered at the top level only.
        let service = "version: v2\nproxy_server: p:443\nservices:\n  - type: identity\n    destination: /opt/a\n    credential_ttl: 1h\n";
        let found = findings(service, &at("17.2.0"), ID);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].fix.as_deref(),
            Some("remove it: that release has no such setting here")
        );
        assert!(findings(top, &at("17.3.0"), ID).is_empty());
    }
}
