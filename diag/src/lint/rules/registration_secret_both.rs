//! `registration-secret-both`: `onboarding.bound_keypair` sets both `registration_secret` and
//! `registration_secret_path`; tbot refuses to start (lib/tbot/bot/onboarding/config.go:
//! `only one of 'registration_secret' and 'registration_secret_path' may be set`).

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, Context, set_entry};
use crate::yaml::Value;

pub(crate) const RULE: Rule = Rule {
    id: "registration-secret-both",
    severities: &[Severity::Error],
    incident: None,
    doc: "`onboarding.bound_keypair` sets both `registration_secret` and `registration_secret_path` (tbot refuses it)",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let Some(entry) = context.config.onboarding_value("bound_keypair") else {
        return;
    };
    let Value::Map(bound_keypair) = &entry.value.value else {
        return;
    };
    let (Some(_), Some(path)) = (
        set_entry(bound_keypair, "registration_secret"),
        set_entry(bound_keypair, "registration_secret_path"),
    ) else {
        return;
    };
    // The secret itself is never printed.
    checker
        .add(
            &RULE,
            path.key_span.start,
            "onboarding.bound_keypair.registration_secret_path",
            "`onboarding.bound_keypair` sets both `registration_secret` and `registration_secret_path`: tbot refuses it (only one of them may be set)".to_string(),
        )
        .fix = Some(
        "keep `registration_secret_path` (a file only tbot can read) and remove `registration_secret`"
            .to_string(),
    );
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_findings as findings;
    use crate::lint::{LintOptions, Severity};

    fn config(block: &str) -> String {
        format!(
            "version: v2\nproxy_server: p:443\nonboarding:\n  join_method: bound_keypair\n  token: bot-web-1\n  bound_keypair:\n{block}"
        )
    }

    #[test]
    fn both_set_is_an_error_that_never_shows_the_secret() {
        let yaml = config(
            "    registration_secret: 0a1b2c3d4e5f60718293a4b5c6d7e8f9\n    registration_secret_path: /etc/tbot/secret\n",
        );
        let found = findings(&yaml, &LintOptions::default(), "registration-secret-both");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Error);
        assert!(
            !found[0].message.contains("0a1b2c3d"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn one_of_them_or_an_empty_one_is_fine() {
        for block in [
            "    registration_secret: s3cret\n",
            "    registration_secret_path: /etc/tbot/secret\n",
            "    registration_secret: \"\"\n    registration_secret_path: /etc/tbot/secret\n",
            "    registration_secret: s3cret\n    registration_secret_path: ~\n",
        ] {
            let found = findings(
                &config(block),
                &LintOptions::default(),
                "registration-secret-both",
            );
            assert!(found.is_empty(), "{block}: {found:?}");
        }
    }
}
