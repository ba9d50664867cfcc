//! `secret-as-token`: with `join_method: bound_keypair`, `onboarding.token` is the token's name,
//! not its registration secret. A value equal to the configured secret (or the one in tbot's
//! environment, `TBOT_REGISTRATION_SECRET`), or shaped like a generated one (32 hex characters,
//! lib/auth/join_bound_keypair.go), was pasted in the wrong place.

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, Context, set_entry};
use crate::yaml::Value;

pub(crate) const RULE: Rule = Rule {
    id: "secret-as-token",
    severities: &[Severity::Error, Severity::Warning],
    incident: None,
    doc: "a bound-keypair `onboarding.token` that is the registration secret (error) or looks like one, 32 hex characters (warning)",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let config = &context.config;
    if config.join_method() != Some("bound_keypair") {
        return;
    }
    let Some(entry) = config.onboarding_value("token") else {
        return;
    };
    let Some(token) = entry.value.as_str() else {
        return;
    };
    let secret = config
        .onboarding_value("bound_keypair")
        .and_then(|e| match &e.value.value {
            Value::Map(map) => set_entry(map, "registration_secret"),
            _ => None,
        })
        .and_then(|e| e.value.as_str());
    // tbot also takes the secret from its environment (lib/tbot/bot/onboarding/config.go).
    let env_secret = context
        .options
        .tbot_env
        .as_ref()
        .and_then(|env| env.get("TBOT_REGISTRATION_SECRET"))
        .filter(|s| !s.is_empty());
    // Neither value is ever printed: both are secrets, or may be.
    let (severity, message) = if secret == Some(token) {
        (
            Severity::Error,
            "`onboarding.token` is the registration secret: it must name the join token (the secret goes in `bound_keypair.registration_secret` only)",
        )
    } else if env_secret.is_some_and(|s| s == token) {
        (
            Severity::Error,
            "`onboarding.token` is the registration secret TBOT_REGISTRATION_SECRET in tbot's environment holds: it must name the join token",
        )
    } else if looks_like_secret(token) {
        (
            Severity::Warning,
            "`onboarding.token` looks like a generated registration secret (32 hex characters), not a join token's name",
        )
    } else {
        return;
    };
    checker
        .add_as(
            &RULE,
            severity,
            entry.value.span.start,
            "onboarding.token",
            message.to_string(),
        )
        .fix = Some("set `onboarding.token` to the token's name (`mwictl tokens ls` lists them with their bots) and the secret in `bound_keypair.registration_secret` or `registration_secret_path`".to_string());
}

/// The shape of a secret the auth service generates: 32 hex characters (16 random bytes).
fn looks_like_secret(value: &str) -> bool {
    value.len() == 32 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::test_findings as findings;
    use crate::lint::{LintOptions, Severity};

    fn config(method: &str, token: &str, secret: &str) -> String {
        format!(
            "version: v2\nproxy_server: p:443\nonboarding:\n  join_method: {method}\n  token: {token}\n  bound_keypair:\n    registration_secret: {secret}\n"
        )
    }

    const HEX: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

    #[test]
    fn the_secret_as_the_token_is_an_error() {
        let found = findings(
            &config("bound_keypair", "my-secret", "my-secret"),
            &LintOptions::default(),
            "secret-as-token",
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Error);
        assert!(!found[0].message.contains("my-secret"));
    }

    #[test]
    fn a_generated_secrets_shape_is_a_warning() {
        let found = findings(
            &config("bound_keypair", HEX, "other"),
            &LintOptions::default(),
            "secret-as-token",
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Warning);
        assert!(!found[0].message.contains(HEX));
    }

    #[test]
    fn the_secret_from_tbots_environment_as_the_token_is_an_error() {
        let yaml = "version: v2\nproxy_server: p:443\nonboarding:\n  join_method: bound_keypair\n  token: my-secret\n";
        let env = |value: &str| LintOptions {
            tbot_env: Some([("TBOT_REGISTRATION_SECRET".to_string(), value.to_string())].into()),
            ..LintOptions::default()
        };
        let found = findings(yaml, &env("my-secret"), "secret-as-token");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Error);
        assert!(
            found[0].message.contains("TBOT_REGISTRATION_SECRET"),
            "{}",
            found[0].message
        );
        assert!(!found[0].message.contains("my-secret"));
        for other in ["another", ""] {
            assert!(
                findings(yaml, &env(other), "secret-as-token").is_empty(),
                "{other:?}"
            );
        }
    }

    #[test]
    fn a_token_name_or_another_method_is_fine() {
        for yaml in [
            config("bound_keypair", "bot-web-5f2a9c1e", HEX),
            // A `token`-method token is 32 hex characters by design.
            config("token", HEX, "x"),
        ] {
            assert!(
                findings(&yaml, &LintOptions::default(), "secret-as-token").is_empty(),
                "{yaml}"
            );
        }
    }

    #[test]
    fn the_shape_is_exactly_32_hex_characters() {
        assert!(looks_like_secret(HEX));
        assert!(looks_like_secret(&HEX.to_uppercase()));
        assert!(!looks_like_secret(&HEX[1..]));
        assert!(!looks_like_secret(&format!("{HEX}0")));
        assert!(!looks_like_secret("0a1b2c3d4e5f60718293a4b5c6d7e8fg"));
    }
}
