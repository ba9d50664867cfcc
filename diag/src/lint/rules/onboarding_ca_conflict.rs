//! `onboarding-ca-conflict`: `onboarding.ca_path`, `onboarding.ca_pins` and `insecure` exclude
//! each other. Each counts only when set: `tbot configure` writes `ca_path: ""` for no CA path.

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, Context};

pub(crate) const RULE: Rule = Rule {
    id: "onboarding-ca-conflict",
    severities: &[Severity::Error],
    incident: None,
    doc: "`ca_path`, `ca_pins` and `insecure` combined",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let config = &context.config;
    let ca_path = config.onboarding_value("ca_path");
    let ca_pins = config.onboarding_value("ca_pins");
    if let (Some(_), Some(pins)) = (ca_path, ca_pins) {
        let message =
            "`onboarding.ca_path` and `onboarding.ca_pins` exclude each other".to_string();
        checker
            .add(&RULE, pins.key_span.start, "onboarding.ca_pins", message)
            .fix = Some("keep one of them".to_string());
    }
    let insecure = config
        .map
        .get("insecure")
        .filter(|e| e.value.as_str() == Some("true"));
    if let (Some(insecure), true) = (insecure, ca_path.is_some() || ca_pins.is_some()) {
        let message = "`insecure: true` cannot be combined with `ca_path` or `ca_pins`".to_string();
        checker
            .add(&RULE, insecure.key_span.start, "insecure", message)
            .fix = Some("remove `insecure`, or the CA settings".to_string());
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::LintOptions;
    use crate::lint::rules::test_findings;

    fn findings(onboarding: &str) -> Vec<String> {
        let config = format!("version: v2\nproxy_server: p:443\n{onboarding}");
        test_findings(&config, &LintOptions::default(), "onboarding-ca-conflict")
            .into_iter()
            .map(|f| f.key)
            .collect()
    }

    #[test]
    fn an_empty_ca_path_as_tbot_configure_writes_it_is_unset() {
        let configure = "onboarding:\n  token: t\n  ca_path: \"\"\n  ca_pins:\n    - sha256:abc\n  join_method: token\n";
        assert!(findings(configure).is_empty());
        assert!(
            findings("insecure: true\nonboarding:\n  ca_path: \"\"\n  ca_pins: []\n").is_empty()
        );
        assert!(findings("onboarding:\n  ca_path: ~\n  ca_pins: [sha256:abc]\n").is_empty());
    }

    #[test]
    fn a_real_conflict_is_still_an_error() {
        assert_eq!(
            findings("onboarding:\n  ca_path: /etc/ca.pem\n  ca_pins: [sha256:abc]\n"),
            ["onboarding.ca_pins"]
        );
        assert_eq!(
            findings("insecure: true\nonboarding:\n  ca_pins: [sha256:abc]\n"),
            ["insecure"]
        );
    }
}
