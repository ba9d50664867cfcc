//! The command functions the CLI calls: inputs, output formats and the documented exit statuses
//! (0 clean, 1 findings, 2 bad input with a one-line error naming the path).

use mwi_diag::command::{self, DoctorArgs, ExitStatus, LintArgs, OutputFormat};
use mwi_diag::doctor::{LiveAnswer, LiveCheck};
use mwi_diag::lint::LintOptions;
use std::path::{Path, PathBuf};

const LOGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/logs/");
const CONFIGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/configs/");

fn local(_: &Path) -> Option<String> {
    None
}

fn doctor(
    inputs: &[&str],
    stdin: &[u8],
    format: OutputFormat,
) -> (Result<ExitStatus, command::CommandError>, String) {
    let args = DoctorArgs {
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        format,
        color: false,
    };
    let mut out = Vec::new();
    let status = command::doctor(&args, stdin, &mut out, None);
    (status, String::from_utf8(out).expect("utf-8"))
}

#[test]
fn doctor_exits_1_on_findings_and_0_when_clean() {
    let (status, _) = doctor(
        &[&format!("{LOGS}s1_legacy_seed.txt")],
        b"",
        OutputFormat::Text,
    );
    assert_eq!(status.expect("runs"), ExitStatus::Findings);
    let (status, out) = doctor(&[&format!("{LOGS}noise.log")], b"", OutputFormat::Text);
    assert_eq!(status.expect("runs").code(), 0);
    assert!(out.starts_with("No known incident found"), "{out}");
}

#[test]
fn doctor_reads_standard_input_by_default_and_for_dash() {
    let log = b"ERRO [TBOT] Identity has expired. The renewal is likely to fail.\n";
    for inputs in [&[][..], &["-"][..]] {
        let (status, out) = doctor(inputs, log, OutputFormat::Json);
        assert_eq!(status.expect("runs"), ExitStatus::Findings);
        let json: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(json["findings"][0]["incident"], "S2");
        assert_eq!(json["findings"][0]["evidence"][0]["source"], "-");
        assert_eq!(json["schema"], "mwictl.doctor/v1");
    }
}

#[test]
fn doctor_unreadable_file_is_bad_input_naming_it() {
    let (status, out) = doctor(
        &[&format!("{LOGS}noise.log"), "/nonexistent/tbot.log"],
        b"",
        OutputFormat::Text,
    );
    let err = status.expect_err("missing file");
    assert_eq!(err.exit_status().code(), 2);
    let message = err.to_string();
    assert!(
        message.starts_with("cannot open /nonexistent/tbot.log:"),
        "{message}"
    );
    assert!(!message.contains('\n'));
    assert!(out.is_empty(), "nothing is reported before all inputs open");
}

#[test]
fn doctor_live_answers_reach_the_report() {
    let args = DoctorArgs {
        inputs: vec![format!("{LOGS}s1_newest_journal.log")],
        format: OutputFormat::Json,
        color: false,
    };
    let mut asked = Vec::new();
    let mut live = |check: &LiveCheck| {
        asked.push(check.clone());
        LiveAnswer {
            current: Some(false),
            detail: "no lock targets bot deploy".to_string(),
        }
    };
    let mut out = Vec::new();
    command::doctor(&args, &b""[..], &mut out, Some(&mut live)).expect("runs");
    assert_eq!(
        asked,
        vec![LiveCheck::LockForBot {
            bot: Some("deploy".into())
        }]
    );
    let json: serde_json::Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(json["findings"][0]["live"]["current"], false);
}

fn lint_args(paths: Vec<PathBuf>, fix: bool, format: OutputFormat) -> LintArgs {
    LintArgs {
        paths,
        fix,
        format,
        color: false,
        options: LintOptions {
            use_proxy_addr: None,
            network_fs: local,
        },
    }
}

#[test]
fn lint_fix_prints_the_diff_and_exits_by_what_remains() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tbot.yaml");
    std::fs::copy(format!("{CONFIGS}s7_auth_server.yaml"), &path).expect("copy");

    let mut out = Vec::new();
    let status = command::lint(
        &lint_args(vec![path.clone()], false, OutputFormat::Text),
        &mut out,
    )
    .expect("lint");
    assert_eq!(status, ExitStatus::Findings);

    let mut out = Vec::new();
    let status = command::lint(
        &lint_args(vec![path.clone()], true, OutputFormat::Text),
        &mut out,
    )
    .expect("fix");
    let out = String::from_utf8(out).expect("utf-8");
    assert!(out.contains("+    ssh_config: \"off\""), "{out}");
    assert!(
        out.contains(&format!(
            "fixed {} (backup: {}.bak)",
            path.display(),
            path.display()
        )),
        "{out}"
    );
    assert_eq!(status, ExitStatus::Clean, "{out}");
}

#[test]
fn lint_json_lists_fixes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tbot.yaml");
    std::fs::copy(format!("{CONFIGS}s5_kube_secret.yaml"), &path).expect("copy");
    let mut out = Vec::new();
    let status =
        command::lint(&lint_args(vec![path], true, OutputFormat::Json), &mut out).expect("fix");
    assert_eq!(status, ExitStatus::Clean);
    let json: serde_json::Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(json["fixes"][0]["rules"][0], "kube-secret-exec-plugin");
    assert_eq!(json["summary"]["errors"], 0);
}

#[test]
fn lint_unreadable_file_is_bad_input() {
    let mut out = Vec::new();
    let err = command::lint(
        &lint_args(
            vec!["/nonexistent/x.yaml".into()],
            false,
            OutputFormat::Text,
        ),
        &mut out,
    )
    .expect_err("missing");
    assert_eq!(err.exit_status(), ExitStatus::BadInput);
    assert!(
        err.to_string()
            .starts_with("cannot read /nonexistent/x.yaml:")
    );
}
