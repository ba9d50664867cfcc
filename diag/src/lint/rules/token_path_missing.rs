//! `token-path-missing`: `onboarding.token` is an absolute path (tbot reads the token from that
//! file) that does not exist. The file lives on the bot's host, so it is looked for only with
//! `--on-host`; elsewhere the finding is a note that it was not checked.

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, Context};
use std::path::Path;

pub(crate) const RULE: Rule = Rule {
    id: "token-path-missing",
    severities: &[Severity::Error, Severity::Info],
    incident: None,
    doc: "`onboarding.token` is a path that does not exist (checked with `--on-host`; else a note)",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let config = &context.config;
    let Some(entry) = config.onboarding_value("token") else {
        return;
    };
    let Some(token) = entry.value.as_str() else {
        return;
    };
    // Only a path is shown: tokens themselves are secrets and never printed.
    if !token.starts_with('/') {
        return;
    }
    if !context.options.on_host {
        let message = format!(
            "`onboarding.token` is a path, `{token}`: not checked here (the file lives on the bot's host; run with --on-host there)"
        );
        checker.add_as(
            &RULE,
            Severity::Info,
            entry.value.span.start,
            "onboarding.token",
            message,
        );
        return;
    }
    if !Path::new(token).exists() {
        let message = format!(
            "`onboarding.token` is a path, `{token}`, that does not exist: tbot reads the token from that file"
        );
        checker
            .add(&RULE, entry.value.span.start, "onboarding.token", message)
            .fix = Some("write the token to that file, or fix the path".to_string());
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_findings as findings;
    use crate::lint::{LintOptions, Severity};

    const MISSING: &str = "version: v2\nproxy_server: p:443\nonboarding:\n  join_method: token\n  token: /no/such/dir/token\n";

    #[test]
    fn a_missing_token_file_is_an_error_on_the_host() {
        let options = LintOptions {
            on_host: true,
            ..LintOptions::default()
        };
        let found = findings(MISSING, &options, "token-path-missing");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Error);
        assert!(found[0].message.contains("does not exist"));
    }

    #[test]
    fn elsewhere_it_is_a_note_that_it_was_not_checked() {
        let found = findings(MISSING, &LintOptions::default(), "token-path-missing");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Info);
        assert!(found[0].message.contains("run with --on-host"));
    }

    #[test]
    fn a_token_value_or_an_empty_token_is_no_path() {
        let options = LintOptions {
            on_host: true,
            ..LintOptions::default()
        };
        for token in ["abc123", "\"\""] {
            let config = format!(
                "version: v2\nproxy_server: p:443\nonboarding:\n  join_method: token\n  token: {token}\n"
            );
            assert!(findings(&config, &options, "token-path-missing").is_empty());
        }
    }
}
