//! `static-key-rotate-after`: a bound_keypair config with a static key whose token asks for a key
//! rotation (`spec.bound_keypair.rotate_after` set and not yet done). A static key cannot rotate
//! (lib/tbot/bot/onboarding/config.go, `StaticPrivateKeyPath`: "does not support rotation"), so
//! the join that must rotate fails: the bot answers with the key it has, and the auth service
//! refuses it (`public key may not be reused after rotation`, lib/auth/join_bound_keypair.go). The
//! request is the cluster's, so it is read only with `--live` (without it,
//! `static-key-recovery-mode` notes that neither was checked). Not fixable in tbot.yaml.

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, Context};

pub(crate) const RULE: Rule = Rule {
    id: "static-key-rotate-after",
    severities: &[Severity::Error],
    incident: None,
    doc: "a bound-keypair static key whose token has `rotate_after` set: the rotation is refused (checked with `--live`)",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let Some(key) = context.static_key() else {
        return;
    };
    let (Some(live), Some(name)) = (&context.options.live, context.token_name()) else {
        return;
    };
    let Ok(Some(token)) = live.token(&name) else {
        return;
    };
    let Some(after) = &token.rotation_pending else {
        return;
    };
    let message = format!(
        "`{}` is a static key, which cannot rotate, but token `{name}` on cluster {} asks for a rotation (`rotate_after: {after}`): the join that must rotate is refused (`public key may not be reused after rotation`)",
        key.key,
        live.cluster()
    );
    checker.add(&RULE, key.at, &key.key, message).fix = Some(format!(
        "clear the request: `mwictl edit token/{name}` and remove spec.bound_keypair.rotate_after; to replace a static key, make a new one (`tbot keypair create --static`) and a new token for it"
    ));
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_findings as findings;
    use crate::lint::{BoundToken, LintOptions, LiveTokens, Severity};

    const ID: &str = "static-key-rotate-after";

    const CONFIG: &str = "version: v2\nproxy_server: p:443\nonboarding:\n  join_method: bound_keypair\n  token: bot-ci-1\n  bound_keypair:\n    static_private_key_path: /etc/tbot/key\nstorage:\n  type: memory\n";

    fn live(rotation_pending: Option<&str>) -> LintOptions {
        let token = BoundToken {
            recovery_mode: "insecure".to_string(),
            rotation_pending: rotation_pending.map(str::to_string),
        };
        LintOptions {
            live: Some(LiveTokens::Read {
                cluster: "lab".to_string(),
                tokens: [("bot-ci-1".to_string(), token)].into(),
            }),
            ..LintOptions::default()
        }
    }

    #[test]
    fn a_pending_rotation_on_a_static_keys_token_is_an_error() {
        let found = findings(CONFIG, &live(Some("2026-12-06T07:00:00Z")), ID);
        assert_eq!(found.len(), 1, "{found:?}");
        let finding = &found[0];
        assert_eq!(finding.severity, Severity::Error);
        assert_eq!(
            finding.key,
            "onboarding.bound_keypair.static_private_key_path"
        );
        assert!(
            finding.message.contains("token `bot-ci-1` on cluster lab asks for a rotation (`rotate_after: 2026-12-06T07:00:00Z`)"),
            "{}",
            finding.message
        );
        assert!(
            finding
                .message
                .contains("public key may not be reused after rotation")
        );
        assert!(!finding.fixable);
        let fix = finding.fix.as_deref().unwrap();
        assert!(fix.contains("mwictl edit token/bot-ci-1"), "{fix}");
        assert!(fix.contains("rotate_after"), "{fix}");
    }

    #[test]
    fn no_pending_rotation_no_static_key_or_no_live_answer_is_silent() {
        assert!(findings(CONFIG, &live(None), ID).is_empty());
        let managed = CONFIG.replace(
            "static_private_key_path: /etc/tbot/key",
            "registration_secret_path: /s",
        );
        assert!(findings(&managed, &live(Some("2026-12-06T07:00:00Z")), ID).is_empty());
        assert!(findings(CONFIG, &LintOptions::default(), ID).is_empty());
        let other = CONFIG.replace("bot-ci-1", "bot-ci-2");
        assert!(findings(&other, &live(Some("2026-12-06T07:00:00Z")), ID).is_empty());
        let unread = LintOptions {
            live: Some(LiveTokens::Unread("denied".to_string())),
            ..LintOptions::default()
        };
        assert!(findings(CONFIG, &unread, ID).is_empty());
    }
}
