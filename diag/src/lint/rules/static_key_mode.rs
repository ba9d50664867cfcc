//! `static-key-recovery-mode` (S9): a bound_keypair config with a static key
//! (`static_private_key_path`, or `TBOT_BOUND_KEYPAIR_STATIC_KEY` in tbot's environment) whose
//! token is not in recovery mode `insecure`. A static key keeps no join state, and the auth
//! service asks for one on every join once `recovery_count` is above zero unless the mode is
//! `insecure`; tbot's own config docs say a static key "must be used with a token in `insecure`
//! recovery mode" (lib/tbot/bot/onboarding/config.go, `StaticPrivateKeyPath`), and `tbot keypair
//! create --static` suggests `--recovery-mode=insecure`. The mode is the cluster's, so it is
//! read only with `--live`; elsewhere the finding is a note. Not fixable here: the fix is on the
//! token, not in tbot.yaml.

use super::{Check, Rule};
use crate::incident::Incident;
use crate::lint::Severity;
use crate::lint::check::{Checker, Context, Storage};

pub(crate) const RULE: Rule = Rule {
    id: "static-key-recovery-mode",
    severities: &[Severity::Error, Severity::Warning, Severity::Info],
    incident: Some(Incident::BkJoinState),
    doc: "a bound-keypair static key whose token is not in recovery mode `insecure` (checked with `--live`; else a note)",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let Some(key) = context.static_key() else {
        return;
    };
    let Some(live) = &context.options.live else {
        let message = format!(
            "`{}` is a static key: its token must be in recovery mode insecure with no `rotate_after`; not checked here (run with --live to ask the cluster)",
            key.key
        );
        checker.add_as(&RULE, Severity::Info, key.at, &key.key, message);
        return;
    };
    let Some(name) = context.token_name() else {
        let message = format!(
            "`{}` is a static key, but the config names no join token (`onboarding.token` or `join_uri`), so its recovery mode was not checked",
            key.key
        );
        checker.add_as(&RULE, Severity::Info, key.at, &key.key, message);
        return;
    };
    let cluster = live.cluster();
    let token = match live.token(&name) {
        Err(why) => {
            let message = format!(
                "`{}` is a static key; the recovery mode of token `{name}` was not checked: {why}",
                key.key
            );
            checker.add_as(&RULE, Severity::Info, key.at, &key.key, message);
            return;
        }
        Ok(None) => {
            let message = format!(
                "cluster {cluster} has no bound_keypair token named `{name}`: tbot cannot join with this static key"
            );
            checker
                .add_as(&RULE, Severity::Warning, key.at, &key.key, message)
                .fix = Some(
                "make one with the static key's public key and mode insecure, `mwictl tokens add --bot BOT --join-method bound_keypair --initial-public-key KEY --recovery-mode insecure`, and put its name in `onboarding.token` (`mwictl tokens ls` lists the tokens)".to_string(),
            );
            return;
        }
        Ok(Some(token)) => token,
    };
    if token.recovery_mode == "insecure" {
        return;
    }
    let storage = match context.storage {
        Storage::Memory(_) => " (memory storage keeps nothing across restarts either)",
        _ => "",
    };
    let message = format!(
        "`{}` is a static key, but token `{name}` on cluster {cluster} is in recovery mode {}: a static key keeps no join state{storage}, so after its first join every renewal and recovery is refused (`join state verification failed`)",
        key.key, token.recovery_mode
    );
    checker.add(&RULE, key.at, &key.key, message).fix = Some(format!(
        "set the token's mode to insecure, as `tbot keypair create --static` advises: `mwictl edit token/{name}`, spec.bound_keypair.recovery.mode: insecure; or drop the static key and keep tbot's storage in a writable directory"
    ));
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_findings as findings;
    use crate::lint::{BoundToken, LintOptions, LiveTokens, Severity};

    const ID: &str = "static-key-recovery-mode";

    fn config(storage: &str) -> String {
        format!(
            "version: v2\nproxy_server: p:443\nonboarding:\n  join_method: bound_keypair\n  token: bot-ci-1\n  bound_keypair:\n    static_private_key_path: /etc/tbot/key\nstorage:\n{storage}"
        )
    }

    fn live(mode: &str) -> LintOptions {
        let token = BoundToken {
            recovery_mode: mode.to_string(),
            rotation_pending: None,
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
    fn a_static_key_with_a_token_not_in_insecure_is_an_error_naming_the_mode_and_the_fix() {
        for mode in ["standard", "relaxed"] {
            let found = findings(&config("  type: memory\n"), &live(mode), ID);
            assert_eq!(found.len(), 1, "{mode}: {found:?}");
            let finding = &found[0];
            assert_eq!(finding.severity, Severity::Error);
            assert_eq!(
                finding.key,
                "onboarding.bound_keypair.static_private_key_path"
            );
            assert_eq!((finding.line, finding.column), (7, 30));
            assert!(
                finding.message.contains(&format!(
                    "token `bot-ci-1` on cluster lab is in recovery mode {mode}"
                )),
                "{}",
                finding.message
            );
            assert!(
                finding.message.contains("memory storage"),
                "{}",
                finding.message
            );
            assert!(!finding.fixable);
            let fix = finding.fix.as_deref().unwrap();
            assert!(fix.contains("mwictl edit token/bot-ci-1"), "{fix}");
            assert!(fix.contains("recovery.mode: insecure"), "{fix}");
        }
        let directory = findings(
            &config("  type: directory\n  path: /var/lib/tbot\n"),
            &live("standard"),
            ID,
        );
        assert!(!directory[0].message.contains("memory"), "{directory:?}");
    }

    #[test]
    fn insecure_mode_or_a_managed_key_is_fine() {
        assert!(findings(&config("  type: memory\n"), &live("insecure"), ID).is_empty());
        let managed = config("  type: memory\n").replace(
            "    static_private_key_path: /etc/tbot/key\n",
            "    registration_secret_path: /etc/tbot/secret\n",
        );
        assert!(findings(&managed, &live("standard"), ID).is_empty());
        let other_method =
            config("  type: memory\n").replace("bound_keypair\n  token", "token\n  token");
        assert!(findings(&other_method, &live("standard"), ID).is_empty());
    }

    #[test]
    fn the_environments_static_key_and_the_join_uris_token_count() {
        let yaml = "version: v2\njoin_uri: tbot+proxy+bound-keypair://bot-ci-1@p:443\nstorage:\n  type: memory\n";
        let mut options = live("standard");
        assert!(findings(yaml, &options, ID).is_empty(), "no static key");
        options.tbot_env = Some(
            [(
                "TBOT_BOUND_KEYPAIR_STATIC_KEY".to_string(),
                "LS0tLS1CRUdJTg==".to_string(),
            )]
            .into(),
        );
        let found = findings(yaml, &options, ID);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].severity, Severity::Error);
        assert_eq!(
            found[0].key,
            "TBOT_BOUND_KEYPAIR_STATIC_KEY (tbot's environment)"
        );
        assert_eq!(found[0].line, 2);
        assert!(!found[0].message.contains("LS0t"), "{}", found[0].message);
    }

    #[test]
    fn the_token_may_come_from_tbots_environment() {
        let yaml = config("  type: memory\n").replace("  token: bot-ci-1\n", "");
        let with_token = |value: &str| LintOptions {
            tbot_env: Some([("TELEPORT_BOT_TOKEN".to_string(), value.to_string())].into()),
            ..live("standard")
        };
        let found = findings(&yaml, &with_token("bot-ci-1"), ID);
        assert_eq!(found[0].severity, Severity::Error, "{found:?}");
        assert!(
            found[0].message.contains("token `bot-ci-1`"),
            "{}",
            found[0].message
        );
        // An empty variable names no token, as tbot reads it.
        let found = findings(&yaml, &with_token(""), ID);
        assert_eq!(found[0].severity, Severity::Info, "{found:?}");
        assert!(
            found[0].message.contains("names no join token"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn without_live_or_without_the_token_it_is_a_note_and_a_missing_token_a_warning() {
        let yaml = config("  type: memory\n");
        let found = findings(&yaml, &LintOptions::default(), ID);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Info);
        assert!(
            found[0].message.contains("run with --live"),
            "{}",
            found[0].message
        );

        let unread = LintOptions {
            live: Some(LiveTokens::Unread("permission denied".to_string())),
            ..LintOptions::default()
        };
        let found = findings(&yaml, &unread, ID);
        assert_eq!(found[0].severity, Severity::Info);
        assert!(
            found[0].message.ends_with("not checked: permission denied"),
            "{}",
            found[0].message
        );

        let found = findings(&yaml.replace("bot-ci-1", "bot-ci-2"), &live("insecure"), ID);
        assert_eq!(found[0].severity, Severity::Warning);
        assert!(
            found[0]
                .message
                .contains("cluster lab has no bound_keypair token named `bot-ci-2`"),
            "{}",
            found[0].message
        );

        let nameless = yaml.replace("  token: bot-ci-1\n", "");
        let found = findings(&nameless, &live("standard"), ID);
        assert_eq!(found[0].severity, Severity::Info);
        assert!(
            found[0].message.contains("names no join token"),
            "{}",
            found[0].message
        );
    }
}
