//! `memory-storage-join`: memory storage loses the identity at restart; a one-time token cannot
//! join again, and neither can a bound keypair tbot manages: its key goes with the storage and
//! the registration secret works only once (the token's status clears it when a key is bound).
//! A static key lives outside the storage; `static-key-recovery-mode` judges that case.

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, Context, STATIC_KEY_ENV, Storage};

pub(crate) const RULE: Rule = Rule {
    id: "memory-storage-join",
    severities: &[Severity::Error, Severity::Warning],
    incident: None,
    doc: "memory storage with a join method that cannot join again after a restart: `token`, or `bound_keypair` without a static key (a warning while tbot's environment is unknown)",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let Storage::Memory(entry) = context.storage else {
        return;
    };
    let config = &context.config;
    let bound_keypair =
        config.join_method() == Some("bound_keypair") || config.join_uri_is_bound_keypair();
    let (method, severity, what) = if bound_keypair {
        if context.static_key().is_some() {
            return;
        }
        let lost = "the bound keypair goes with it and the registration secret works only once, so the bot cannot join again";
        match context.options.tbot_env {
            Some(_) => ("bound_keypair", Severity::Error, lost.to_string()),
            // The static key may be in tbot's environment, which was not given.
            None => (
                "bound_keypair",
                Severity::Warning,
                format!(
                    "unless tbot's environment holds a static key ({STATIC_KEY_ENV}; give it with --env or --unit), {lost}"
                ),
            ),
        }
    } else if config.join_method() == Some("token") {
        (
            "token",
            Severity::Error,
            "a one-time token cannot join again".to_string(),
        )
    } else {
        return;
    };
    let message = format!(
        "`storage` is memory with `join_method: {method}`: the identity is lost when tbot restarts, and {what}"
    );
    let fix = if bound_keypair {
        "use `storage: {type: directory, path: ...}`; where nothing can be written, use a static key (`tbot keypair create --static`, `static_private_key_path`) with a token in recovery mode insecure"
    } else {
        "use `storage: {type: directory, path: ...}`"
    };
    checker
        .add_as(&RULE, severity, entry.key_span.start, "storage", message)
        .fix = Some(fix.to_string());
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_findings as findings;
    use crate::lint::{LintOptions, Severity};

    const ID: &str = "memory-storage-join";

    fn config(onboarding: &str) -> String {
        format!("version: v2\nproxy_server: p:443\n{onboarding}storage:\n  type: memory\n")
    }

    const SECRET: &str = "onboarding:\n  join_method: bound_keypair\n  token: bot-ci-1\n  bound_keypair:\n    registration_secret_path: /s\n";

    fn with_env(pairs: &[(&str, &str)]) -> LintOptions {
        LintOptions {
            tbot_env: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..LintOptions::default()
        }
    }

    #[test]
    fn a_managed_bound_keypair_in_memory_cannot_join_again() {
        let found = findings(&config(SECRET), &with_env(&[]), ID);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Error);
        assert!(
            found[0].message.contains("works only once"),
            "{}",
            found[0].message
        );
        assert!(found[0].fix.as_deref().unwrap().contains("--static"));
        // tbot's environment unknown: it may hold the static key.
        let found = findings(&config(SECRET), &LintOptions::default(), ID);
        assert_eq!(found[0].severity, Severity::Warning);
        assert!(
            found[0].message.contains("TBOT_BOUND_KEYPAIR_STATIC_KEY"),
            "{}",
            found[0].message
        );
        let uri = config("join_uri: tbot+proxy+bound-keypair://bot-ci-1:s@p:443\n");
        assert_eq!(
            findings(&uri, &with_env(&[]), ID)[0].severity,
            Severity::Error
        );
    }

    #[test]
    fn a_static_key_is_left_to_its_own_rule() {
        let path = SECRET.replace(
            "registration_secret_path: /s",
            "static_private_key_path: /k",
        );
        assert!(findings(&config(&path), &with_env(&[]), ID).is_empty());
        let env = with_env(&[("TBOT_BOUND_KEYPAIR_STATIC_KEY", "LS0t")]);
        assert!(findings(&config(SECRET), &env, ID).is_empty());
    }

    #[test]
    fn a_one_time_token_is_an_error_and_other_methods_are_fine() {
        let token = config("onboarding:\n  join_method: token\n  token: abc\n");
        let found = findings(&token, &LintOptions::default(), ID);
        assert_eq!(found[0].severity, Severity::Error);
        assert!(found[0].message.contains("one-time token"));
        let iam = config("onboarding:\n  join_method: iam\n  token: t\n");
        assert!(findings(&iam, &LintOptions::default(), ID).is_empty());
    }
}
