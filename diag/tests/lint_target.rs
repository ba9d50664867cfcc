//! The linter's rules on both sides of each release boundary of `mwi_diag::tbot_release`: a
//! deprecated form is a note until a release removes it, a form that came later is refused
//! before it, and `--fix` never rewrites into a form the target refuses.

use mwi_diag::lint::{self, FileReport, LintFinding, LintOptions, Severity, Target, TargetSource};
use std::path::Path;

fn local(_: &Path) -> Option<String> {
    None
}

/// Lints `src` for `release` (as `--teleport-version` gives it).
fn lint_at(release: &str, src: &str) -> FileReport {
    let options = LintOptions {
        network_fs: local,
        target: Target::new(
            lint::target::parse_release(release).expect("release"),
            TargetSource::Flag,
            release,
        ),
        ..LintOptions::default()
    };
    lint::lint_source("tbot.yaml", src, &options)
}

fn findings<'a>(file: &'a FileReport, rule: &str) -> Vec<&'a LintFinding> {
    file.findings.iter().filter(|f| f.rule == rule).collect()
}

/// The one finding of `rule`, or a panic listing what there is.
fn one<'a>(file: &'a FileReport, rule: &str) -> &'a LintFinding {
    let found = findings(file, rule);
    assert_eq!(found.len(), 1, "{rule}: {:#?}", file.findings);
    found[0]
}

/// The findings that are not notes.
fn problems(file: &FileReport) -> Vec<&LintFinding> {
    file.findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .collect()
}

const HEAD: &str = "version: v2\nproxy_server: example.teleport.sh:443\nonboarding:\n  join_method: token\n  token: /var/lib/teleport/token\n";

fn with(rest: &str) -> String {
    format!("{HEAD}{rest}")
}

const OUTPUTS: &str = "outputs:\n  - type: identity\n    destination:\n      type: directory\n      path: /opt/machine-id\n";

#[test]
fn outputs_is_the_form_before_services_held_the_output_kinds() {
    let config = with(OUTPUTS);
    for release in ["15.4.8", "16.0.4", "16.0"] {
        let file = lint_at(release, &config);
        assert!(
            findings(&file, "deprecated-outputs").is_empty(),
            "{release}"
        );
        assert!(
            problems(&file).is_empty(),
            "{release}: {:#?}",
            file.findings
        );
        assert_eq!(
            file.fixed_text(),
            None,
            "{release}: no rename into services:"
        );
    }
}

#[test]
fn outputs_is_a_fixable_note_once_services_hold_them() {
    let config = with(OUTPUTS);
    for release in ["15.4.9", "16.1.0", "17", "19.0.0"] {
        let file = lint_at(release, &config);
        let finding = one(&file, "deprecated-outputs");
        assert_eq!(finding.severity, Severity::Info, "{release}");
        assert!(finding.fixable, "{release}");
        assert!(
            problems(&file).is_empty(),
            "{release}: {:#?}",
            file.findings
        );
        let fixed = file.fixed_text().expect("fixable");
        assert!(fixed.contains("\nservices:\n  - type: identity"), "{fixed}");
        let again = lint_at(release, &fixed);
        assert!(
            again
                .findings
                .iter()
                .all(|f| f.rule != "deprecated-outputs")
        );
        assert!(
            problems(&again).is_empty(),
            "{release}: {:#?}",
            again.findings
        );
    }
    // With `services:` too, tbot merges them: a note, moved by hand.
    let both = with(&format!("{OUTPUTS}services:\n  - type: example\n"));
    let file = lint_at("17", &both);
    let finding = one(&file, "deprecated-outputs");
    assert_eq!(finding.severity, Severity::Info);
    assert!(!finding.fixable);
}

#[test]
fn output_kinds_under_services_are_refused_before_their_release() {
    let services = with(&OUTPUTS.replace("outputs:", "services:"));
    let old = lint_at("16.0.4", &services);
    let finding = one(&old, "invalid-value");
    assert_eq!(finding.severity, Severity::Error);
    assert_eq!(finding.key, "services[0].type");
    assert!(
        finding.message.contains("only under `outputs:`"),
        "{}",
        finding.message
    );
    for release in ["16.1.0", "15.4.9", "17"] {
        assert!(
            problems(&lint_at(release, &services)).is_empty(),
            "{release}"
        );
    }
    // The service kinds of those releases stay under `services:`.
    let tunnel = with(
        "services:\n  - type: database-tunnel\n    listen: tcp://127.0.0.1:25432\n    service: pg\n    database: app\n    username: app\n",
    );
    assert!(findings(&lint_at("16.0.4", &tunnel), "invalid-value").is_empty());
    let under_outputs = tunnel.replace("services:", "outputs:");
    assert_eq!(
        one(&lint_at("16.0.4", &under_outputs), "invalid-value").key,
        "outputs[0].type"
    );
    assert!(findings(&lint_at("16.1.0", &under_outputs), "invalid-value").is_empty());
}

#[test]
fn a_service_kind_is_refused_before_it_came() {
    let config = with(
        "services:\n  - type: application-tunnel\n    listen: tcp://127.0.0.1:8080\n    app_name: grafana\n",
    );
    let old = lint_at("16.1.0", &config);
    assert!(
        one(&old, "invalid-value")
            .message
            .contains("`application-tunnel` service came in Teleport 15.4.10, 16.1.1 or 17.0.0")
    );
    assert!(findings(&lint_at("16.1.1", &config), "invalid-value").is_empty());
    assert!(findings(&lint_at("15.4.10", &config), "invalid-value").is_empty());
}

#[test]
fn certificate_ttl_is_right_before_credential_ttl_and_a_fixable_note_after() {
    let config = with("certificate_ttl: 2h\n");
    for release in ["16", "17.2.9"] {
        let file = lint_at(release, &config);
        assert!(
            file.findings.iter().all(|f| f.rule != "deprecated-key"),
            "{release}"
        );
        assert_eq!(
            file.fixed_text(),
            None,
            "{release}: no rename into credential_ttl"
        );
    }
    for release in ["17.3.0", "18.0.0", "19"] {
        let file = lint_at(release, &config);
        let finding = one(&file, "deprecated-key");
        assert_eq!(finding.severity, Severity::Info, "{release}");
        assert!(finding.fixable, "{release}");
        let fixed = file.fixed_text().expect("fixable");
        assert!(fixed.ends_with("credential_ttl: 2h\n"), "{fixed}");
        assert!(
            lint_at(release, &fixed)
                .findings
                .iter()
                .all(|f| f.rule != "deprecated-key")
        );
    }
    let both = with("certificate_ttl: 2h\ncredential_ttl: 1h\n");
    let file = lint_at("18", &both);
    let finding = one(&file, "deprecated-key");
    assert!(!finding.fixable && finding.message.contains("both are set"));
}

#[test]
fn credential_ttl_is_an_unknown_key_before_it_came() {
    let config = with("credential_ttl: 2h\n");
    let file = lint_at("17.2.9", &config);
    let finding = one(&file, "unknown-key");
    assert_eq!(finding.severity, Severity::Error);
    assert!(
        finding
            .message
            .contains("came in Teleport 17.3.0 or 18.0.0"),
        "{}",
        finding.message
    );
    assert!(finding.fixable);
    let fixed = file.fixed_text().expect("fixable");
    assert!(fixed.ends_with("certificate_ttl: 2h\n"), "{fixed}");
    assert!(problems(&lint_at("17.2.9", &fixed)).is_empty());
    assert!(problems(&lint_at("17.3.0", &config)).is_empty());

    // Per output there is no older name: reported, not rewritten.
    let per_output = with(&format!("{}    credential_ttl: 10m\n", OUTPUTS));
    let file = lint_at("16.1.0", &per_output);
    let finding = one(&file, "unknown-key");
    assert_eq!(finding.key, "outputs[0].credential_ttl");
    assert!(!finding.fixable);
    assert!(findings(&lint_at("18", &per_output), "unknown-key").is_empty());
}

#[test]
fn bound_keypair_is_refused_before_its_release() {
    let config = "version: v2\nproxy_server: example.teleport.sh:443\nonboarding:\n  join_method: bound_keypair\n  token: my-bot\n  bound_keypair:\n    registration_secret: s3cret\n";
    let old = lint_at("17.7.4", config);
    let method = one(&old, "invalid-value");
    assert_eq!(method.key, "onboarding.join_method");
    assert!(
        method.message.contains("17.7.5 or 18.0.0"),
        "{}",
        method.message
    );
    assert_eq!(one(&old, "unknown-key").key, "onboarding.bound_keypair");
    for release in ["17.7.5", "18.1"] {
        assert!(problems(&lint_at(release, config)).is_empty(), "{release}");
    }
}

#[test]
fn per_service_roles_are_a_note_before_19_and_an_error_from_19() {
    let config = with(&OUTPUTS.replace("outputs:", "services:").replace(
        "  - type: identity\n",
        "  - type: identity\n    roles: [access, editor]\n",
    ));
    let before = one(&lint_at("18.4.1", &config), "service-roles").clone();
    assert_eq!(before.severity, Severity::Info);
    assert_eq!(before.key, "services[0].roles");
    assert!(
        !before.fixable,
        "dropping roles widens access: never automatic"
    );
    for release in ["19.0.0", "19"] {
        let after = lint_at(release, &config);
        let finding = one(&after, "service-roles");
        assert_eq!(finding.severity, Severity::Error, "{release}");
        assert!(
            finding.message.contains("refuses it"),
            "{}",
            finding.message
        );
    }
    let empty = config.replace("roles: [access, editor]", "roles: []");
    assert!(findings(&lint_at("19", &empty), "service-roles").is_empty());
}

#[test]
fn v1_is_a_note_while_tbot_migrates_it_and_a_missing_version_a_warning() {
    let v1 = "auth_server: example.teleport.sh:443\nonboarding:\n  token: abc\nstorage:\n  directory: /var/lib/teleport/bot\ndestinations:\n  - directory: /opt/machine-id\n";
    for release in ["15", "17", "19.0.0"] {
        assert_eq!(
            one(&lint_at(release, v1), "config-v1").severity,
            Severity::Info,
            "{release}"
        );
    }
    let no_version = HEAD.replace("version: v2\n", "");
    let finding = one(&lint_at("17", &no_version), "config-v1").clone();
    assert_eq!(finding.severity, Severity::Warning);
    assert!(finding.fixable);
}

#[test]
fn the_report_names_the_release_it_judged_against() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tbot.yaml");
    std::fs::write(&path, with(OUTPUTS)).expect("write");
    let options = LintOptions {
        network_fs: local,
        target: Target::new(
            lint::target::parse_release("16.0").expect("release"),
            TargetSource::Flag,
            "16.0",
        ),
        ..LintOptions::default()
    };
    let report = lint::lint_paths(&[&path], &options).expect("lint");
    assert_eq!(report.target, options.target);
    let mut text = Vec::new();
    report.render_text(&mut text, false).expect("render");
    let text = String::from_utf8(text).expect("utf-8");
    assert_eq!(
        text.lines().next(),
        Some("Checked for Teleport 16.0.x (from --teleport-version 16.0).")
    );
}
