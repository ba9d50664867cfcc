//! `mwictl doctor` and `mwictl lint` as commands: exit codes, JSON, `--live` answered by the lab,
//! and `lint --fix` changing only the needed bytes.

use mwi_proto::types::LockV2;
use mwi_testkit::fixtures::{lock, user};

use crate::harness::{Lab, run};

const S1_AUTH_LOG: &str = "2026-11-26T10:00:00Z [AUTH]      WARN lock targeting User:\"bot-example\" is in force: The bot user \"bot-example\" has been locked due to a certificate generation mismatch, possibly indicating a stolen certificate. auth/apiserver.go:224\n";

/// S5 as the releases that fail the output read it (`outputs:`; checked with [`S5_RELEASE`]).
const S5_CONFIG: &str = "version: v2\nproxy_server: example.teleport.sh:443\nonboarding:\n  join_method: kubernetes\n  token: kube-token\nstorage:\n  type: memory\noutputs:\n  # the cluster's credentials\n  - type: kubernetes\n    kubernetes_cluster: prod\n    destination:\n      type: kubernetes_secret\n      name: identity-output\n";

/// A release whose tbot fails a kubernetes output to a kubernetes_secret in exec plugin mode.
const S5_RELEASE: &str = "16.0.3";

fn bot_user_lock() -> LockV2 {
    lock("mismatch-lock", user("bot-example"), "locked")
}

#[test]
fn doctor_names_the_incident_and_exits_1() {
    let lab = Lab::start();
    let log = lab.root().join("auth.log");
    std::fs::write(&log, S1_AUTH_LOG).unwrap();
    let out = run(&mut lab.bare_cmd(&["doctor", log.to_str().unwrap()]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout.contains("S1 generation mismatch"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("mwictl recover generation-mismatch --bot example"),
        "{}",
        out.stdout
    );
}

#[test]
fn doctor_on_a_clean_log_exits_0() {
    let lab = Lab::start();
    let log = lab.root().join("quiet.log");
    std::fs::write(&log, "2026-11-26T10:00:00Z INFO [TBOT]      Starting\n").unwrap();
    let out = run(&mut lab.bare_cmd(&["doctor", log.to_str().unwrap()]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

#[test]
fn doctor_reads_standard_input_and_writes_json() {
    let lab = Lab::start();
    let out = run(lab
        .bare_cmd(&["doctor", "--format", "json"])
        .write_stdin(S1_AUTH_LOG));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("json report");
    assert_eq!(report["findings"][0]["incident"], "S1", "{report}");
}

#[test]
fn doctor_unreadable_file_is_a_usage_error_naming_it() {
    let lab = Lab::start();
    let out = run(&mut lab.bare_cmd(&["doctor", "/nonexistent/tbot.log"]));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("/nonexistent/tbot.log"),
        "{}",
        out.stderr
    );
}

#[test]
fn doctor_live_says_whether_the_lock_is_still_in_force() {
    let lab = Lab::start();
    let log = lab.root().join("auth.log");
    std::fs::write(&log, S1_AUTH_LOG).unwrap();
    let args = ["doctor", "--live", log.to_str().unwrap()];

    let before = run(&mut lab.cmd(&args));
    assert!(
        before.stdout.contains("resolved: no lock"),
        "{}",
        before.stdout
    );

    lab.admin(async |mut client| {
        client
            .upsert_lock(bot_user_lock())
            .await
            .expect("upsert lock");
    });
    let after = run(&mut lab.cmd(&args));
    assert_eq!(after.code, 1);
    assert!(after.stdout.contains("still current"), "{}", after.stdout);
    assert!(after.stdout.contains("mismatch-lock"), "{}", after.stdout);
}

#[test]
fn lint_finds_s5_and_fix_changes_only_the_needed_bytes() {
    let lab = Lab::start();
    let path = lab.root().join("tbot.yaml");
    std::fs::write(&path, S5_CONFIG).unwrap();
    let p = path.to_str().unwrap();

    let found = run(&mut lab.bare_cmd(&["lint", "--teleport-version", S5_RELEASE, p]));
    assert_eq!(found.code, 1);
    assert!(
        found.stdout.contains("kube-secret-exec-plugin"),
        "{}",
        found.stdout
    );

    let fixed = run(&mut lab.bare_cmd(&["lint", "--teleport-version", S5_RELEASE, "--fix", p]));
    assert!(
        fixed.stdout.contains("+    disable_exec_plugin: true"),
        "{}",
        fixed.stdout
    );
    let after = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        after.replace("    disable_exec_plugin: true\n", ""),
        S5_CONFIG,
        "only the added line differs"
    );
    let backup = std::fs::read_to_string(lab.root().join("tbot.yaml.bak")).unwrap();
    assert_eq!(backup, S5_CONFIG);

    let clean = run(&mut lab.bare_cmd(&["lint", "--teleport-version", S5_RELEASE, p]));
    assert!(
        !clean.stdout.contains("kube-secret-exec-plugin"),
        "{}",
        clean.stdout
    );
}

#[test]
fn doctor_and_lint_write_yaml_like_every_command() {
    let lab = Lab::start();
    let out = run(lab
        .bare_cmd(&["doctor", "--format", "yaml"])
        .write_stdin(S1_AUTH_LOG));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report: serde_yaml_ng::Value = serde_yaml_ng::from_str(&out.stdout).expect("yaml report");
    assert_eq!(report["schema"], "mwictl.doctor/v1", "{}", out.stdout);
    assert_eq!(report["findings"][0]["incident"], "S1", "{}", out.stdout);

    let path = lab.root().join("tbot.yaml");
    std::fs::write(&path, S5_CONFIG).unwrap();
    let out = run(&mut lab.bare_cmd(&[
        "lint",
        "--format",
        "yaml",
        "--teleport-version",
        S5_RELEASE,
        path.to_str().unwrap(),
    ]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report: serde_yaml_ng::Value = serde_yaml_ng::from_str(&out.stdout).expect("yaml report");
    assert_eq!(report["schema"], "mwictl.lint/v1", "{}", out.stdout);
    let rules: Vec<&str> = report["files"][0]["findings"]
        .as_sequence()
        .expect("findings")
        .iter()
        .filter_map(|f| f["rule"].as_str())
        .collect();
    assert!(rules.contains(&"kube-secret-exec-plugin"), "{}", out.stdout);

    let missing = run(&mut lab.bare_cmd(&["lint", "--format", "yaml", "/nonexistent/x.yaml"]));
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("/nonexistent/x.yaml"),
        "{}",
        missing.stderr
    );
}

/// tbot lines that name no bot: S4's failed database output and S2's expired identity.
const UNNAMED_LOG: &str = "2026-11-26T10:00:00Z ERROR [TBOT]      Failed to generate impersonated certs for directory /opt/db: database \"example\" not found tbot/renew.go:1\n2026-11-26T10:00:01Z ERROR [TBOT]      Identity has expired. tbot/renew.go:2\n";

#[test]
fn doctor_bot_names_the_bot_in_fixes_and_live_checks_when_the_log_does_not() {
    let lab = Lab::start();
    let log = lab.root().join("tbot.log");
    std::fs::write(&log, UNNAMED_LOG).unwrap();
    let log = log.to_str().unwrap();

    let unnamed = run(&mut lab.cmd(&["doctor", "--live", log]));
    assert_eq!(unnamed.code, 1, "{}", unnamed.stderr);
    assert!(
        unnamed.stdout.contains("--bot BOT_NAME"),
        "{}",
        unnamed.stdout
    );
    assert!(
        unnamed.stdout.contains("the log does not name the bot"),
        "{}",
        unnamed.stdout
    );

    let named = run(&mut lab.cmd(&["doctor", "--live", "--bot", "example", log]));
    assert_eq!(named.code, 1, "{}", named.stderr);
    assert!(!named.stdout.contains("BOT_NAME"), "{}", named.stdout);
    assert!(
        named
            .stdout
            .contains("mwictl recover db-access --bot example --db example"),
        "{}",
        named.stdout
    );
    assert!(
        named
            .stdout
            .contains("mwictl recover expired --bot example"),
        "{}",
        named.stdout
    );
    assert!(
        named
            .stdout
            .contains("bot example has no unexpired instance"),
        "--live checks the bot --bot named:\n{}",
        named.stdout
    );
    let json = run(&mut lab.cmd(&["doctor", "--format", "json", "--bot", "example", log]));
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["bot"] == "example" && f.get("note").is_none()),
        "{}",
        json.stdout
    );
}

#[test]
fn doctor_bot_says_when_the_log_names_another_bot() {
    let lab = Lab::start();
    let log = lab.root().join("auth.log");
    std::fs::write(&log, S1_AUTH_LOG).unwrap();
    let out = run(&mut lab.bare_cmd(&["doctor", "--bot", "other", log.to_str().unwrap()]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("these lines name bot example, not other (--bot)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("mwictl recover generation-mismatch --bot example"),
        "the evidence's bot keeps the fix:\n{}",
        out.stdout
    );
}

/// tbot's error report with HTML-escaped quotes (as some releases print it): S4 for `pg-prod`.
const S4_ESCAPED_LOG: &str = "2026-11-26T10:00:00Z ERRO [TBOT:OUTP] Failed to generate impersonated certs for directory /opt/machine-id error:[\nERROR REPORT:\nOriginal Error: *trace.NotFoundError database &#34;pg-prod&#34; not found\n]\n";

/// A person's `tsh ssh` refused: nothing in it is tbot's.
const TSH_ONLY_LOG: &str = "$ tsh ssh root@db-1\nERROR: ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain\n";

#[test]
fn doctor_reads_html_escaped_quotes_in_tbot_error_reports() {
    let lab = Lab::start();
    let log = lab.root().join("tbot.log");
    std::fs::write(&log, S4_ESCAPED_LOG).unwrap();
    let log = log.to_str().unwrap();
    let out = run(&mut lab.bare_cmd(&["doctor", log]));
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("mwictl recover db-access --bot BOT_NAME --db pg-prod"),
        "{}",
        out.stdout
    );
    let json = run(&mut lab.bare_cmd(&["doctor", "--format", "json", log]));
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let finding = &report["findings"][0];
    assert_eq!(finding["incident"], "S4", "{report}");
    assert_eq!(finding["facts"]["db"], "pg-prod", "{report}");
    assert!(
        finding["evidence"][0]["text"]
            .as_str()
            .unwrap()
            .contains("&#34;pg-prod&#34;"),
        "evidence shows the line as written: {report}"
    );
}

#[test]
fn doctor_on_a_persons_tsh_output_gives_a_low_confidence_s3_note() {
    let lab = Lab::start();
    let log = lab.root().join("tsh.txt");
    std::fs::write(&log, TSH_ONLY_LOG).unwrap();
    let log = log.to_str().unwrap();
    let out = run(&mut lab.bare_cmd(&["doctor", log]));
    assert_eq!(out.code, 0, "a note alone does not fail: {}", out.stdout);
    assert!(
        out.stdout
            .contains("S3 SSH login not allowed by the bot's certificate (low confidence)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Nothing in the input shows tbot"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("No known incident found; 1 low-confidence note"),
        "{}",
        out.stdout
    );
    let json = run(&mut lab.bare_cmd(&["doctor", "--format", "json", log]));
    assert_eq!(json.code, 0);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["findings"][0]["incident"], "S3", "{report}");
    assert_eq!(report["findings"][0]["confidence"], "low", "{report}");

    // The user saying whose it is makes it the bot's incident.
    let named = run(&mut lab.bare_cmd(&["doctor", "--format", "json", "--bot", "ci", log]));
    assert_eq!(named.code, 1, "{}", named.stdout);
    let report: serde_json::Value = serde_json::from_str(&named.stdout).unwrap();
    assert_eq!(report["findings"][0]["confidence"], "high", "{report}");
}

#[test]
fn doctor_live_tells_a_hidden_database_from_a_renamed_and_an_unregistered_one() {
    let lab = Lab::start();
    let log = lab.root().join("tbot.log");
    std::fs::write(&log, S4_ESCAPED_LOG).unwrap();
    let log = log.to_str().unwrap();
    // The live answer of the one finding, as JSON says it: (current, detail).
    let live = |extra: &[&str]| {
        let mut args = vec!["doctor", "--live", "--format", "json"];
        args.extend_from_slice(extra);
        args.push(log);
        let out = run(&mut lab.cmd(&args));
        assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
        let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let answer = &report["findings"][0]["live"];
        (
            answer["current"].clone(),
            answer["detail"].as_str().unwrap_or_default().to_string(),
        )
    };

    // (c) Nothing registered by that name or discovered as it.
    let (current, detail) = live(&[]);
    assert_eq!(current, true);
    assert!(
        detail.starts_with(
            "no database named pg-prod is registered and none was discovered as pg-prod"
        ),
        "{detail}"
    );

    // (b) Auto-discovery renamed it: the old name lives on in the discovered-name label.
    let added = run(&mut lab.cmd(&[
        "lab",
        "db",
        "add",
        "pg-prod-rds-us-east-1-123456789012",
        "--label",
        "teleport.internal/discovered-name=pg-prod,env=prod",
    ]));
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert!(
        added
            .stdout
            .contains("registered database pg-prod-rds-us-east-1-123456789012"),
        "{}",
        added.stdout
    );
    let (current, detail) = live(&[]);
    assert_eq!(current, true);
    assert!(
        detail.starts_with(
            "no database is named pg-prod, but auto-discovery renamed it: \
             pg-prod-rds-us-east-1-123456789012 (its teleport.internal/discovered-name label is \
             pg-prod)"
        ),
        "{detail}"
    );
    assert!(
        detail.contains("`service:` in tbot.yaml at pg-prod-rds-us-east-1-123456789012"),
        "{detail}"
    );
    let text = run(&mut lab.cmd(&["doctor", "--live", log]));
    assert!(
        text.stdout
            .contains("live:  still current: no database is named pg-prod"),
        "{}",
        text.stdout
    );

    // (a) A database of that name exists: the bot's roles hide it.
    let added = run(&mut lab.cmd(&["lab", "db", "add", "pg-prod", "--label", "env=prod"]));
    assert_eq!(added.code, 0, "{}", added.stderr);
    let (current, detail) = live(&[]);
    assert_eq!(current, serde_json::Value::Null, "unknown without the bot");
    assert!(
        detail.starts_with("database pg-prod is registered, so the cause is RBAC"),
        "{detail}"
    );
    crate::roles::create_bot(&lab, "reporting", &["access"], &[]);
    let (current, detail) = live(&["--bot", "reporting"]);
    assert_eq!(current, true);
    assert!(
        detail.starts_with("database pg-prod is registered, so the cause is RBAC: still missing"),
        "{detail}"
    );
}
