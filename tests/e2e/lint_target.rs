//! `mwictl lint` judging configs against a Teleport release: `--teleport-version`, a tbot
//! binary's `tbot version` (`--tbot`, or a `tbot` on PATH), the cluster's Ping (`--live`), the
//! default, and the one-line errors for bad values.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use mwi_testkit::scripted::{Script, Scripted};

use crate::harness::{Lab, Run, mwictl_cmd, run, scripted_cmd};

/// A kubernetes output to a kubernetes_secret without `disable_exec_plugin` (S5).
const S5_CONFIG: &str = "version: v2\nproxy_server: example.teleport.sh:443\nonboarding:\n  join_method: kubernetes\n  token: kube-token\nstorage:\n  type: memory\nservices:\n  - type: kubernetes\n    kubernetes_cluster: prod\n    destination:\n      type: kubernetes_secret\n      name: identity-output\n";

/// A temp dir holding `tbot.yaml` with `config`.
fn config_dir(config: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tbot.yaml");
    std::fs::write(&path, config).expect("write config");
    (dir, path)
}

/// An executable shell script `dir/name` running `body`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// `mwictl lint ARGS` in its own home, with PATH holding only `path_dir` (so no stray tbot).
fn lint(home: &Path, path_dir: &Path, args: &[&str]) -> Run {
    let mut cmd = mwictl_cmd(home, &["lint"]);
    cmd.args(args).env("PATH", path_dir);
    run(&mut cmd)
}

fn json(out: &Run) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

fn first_line(out: &Run) -> &str {
    out.stdout.lines().next().unwrap_or("")
}

#[test]
fn the_flag_sets_the_release_and_the_report_says_so() {
    let (dir, config) = config_dir(S5_CONFIG);
    let config = config.to_str().unwrap();
    let out = lint(
        dir.path(),
        dir.path(),
        &["--teleport-version", "16.0", config],
    );
    assert_eq!(
        first_line(&out),
        "Checked for Teleport 16.0.x (from --teleport-version 16.0).",
        "{}{}",
        out.stdout,
        out.stderr
    );
    let out = lint(
        dir.path(),
        dir.path(),
        &["--format", "json", "--teleport-version", "v17.4.2", config],
    );
    let target = &json(&out)["target"];
    assert_eq!(target["version"], "17.4.2", "{target}");
    assert_eq!(target["source"], "flag");
    assert_eq!(target["from"], "v17.4.2");
}

#[test]
fn without_a_source_the_oldest_supported_major_is_used() {
    let (dir, config) = config_dir(S5_CONFIG);
    let out = lint(dir.path(), dir.path(), &[config.to_str().unwrap()]);
    assert!(
        first_line(&out)
            .starts_with("Checked for Teleport 17.x (the oldest supported major, by default"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_bad_release_is_a_one_line_usage_error_naming_the_flag_and_the_form() {
    let (dir, config) = config_dir(S5_CONFIG);
    for bad in ["seventeen", "17.x", "17.4.2.1", "0", ""] {
        let out = lint(
            dir.path(),
            dir.path(),
            &["--teleport-version", bad, config.to_str().unwrap()],
        );
        assert_eq!(out.code, 2, "{bad}: {}", out.stderr);
        let first = out.stderr.lines().next().unwrap_or("");
        assert!(
            first.contains("--teleport-version") && first.contains("X.Y[.Z]"),
            "{bad}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{bad}: {}", out.stdout);
    }
}

#[test]
fn the_given_tbot_binary_names_the_release() {
    let (dir, config) = config_dir(S5_CONFIG);
    let tbot = script(
        dir.path(),
        "my-tbot",
        r#"[ "$1" = version ] && echo "Teleport v16.0.2 git:v16.0.2-0-gabcdef go1.22.4""#,
    );
    let out = lint(
        dir.path(),
        dir.path(),
        &[
            "--format",
            "json",
            "--tbot",
            tbot.to_str().unwrap(),
            config.to_str().unwrap(),
        ],
    );
    let target = &json(&out)["target"];
    assert_eq!(target["version"], "16.0.2", "{target}");
    assert_eq!(target["source"], "tbot");
    assert_eq!(target["from"], tbot.to_str().unwrap());
    // The flag comes first.
    let out = lint(
        dir.path(),
        dir.path(),
        &[
            "--teleport-version",
            "18",
            "--tbot",
            tbot.to_str().unwrap(),
            config.to_str().unwrap(),
        ],
    );
    assert!(first_line(&out).contains("Teleport 18.x"), "{}", out.stdout);
}

#[test]
fn a_tbot_on_path_is_used_and_named() {
    let (dir, config) = config_dir(S5_CONFIG);
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    script(
        &bin,
        "tbot",
        r#"echo "Teleport v15.4.7 git:v15.4.7-0-g1 go1.22.5""#,
    );
    let out = lint(dir.path(), &bin, &[config.to_str().unwrap()]);
    assert_eq!(
        first_line(&out),
        format!(
            "Checked for Teleport 15.4.7 (from `{} version`, the tbot found on PATH).",
            bin.join("tbot").display()
        ),
        "{}",
        out.stdout
    );
    // A file named tbot that is not executable is no tbot.
    let plain = dir.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    std::fs::write(plain.join("tbot"), "not a program").unwrap();
    let out = lint(dir.path(), &plain, &[config.to_str().unwrap()]);
    assert!(
        first_line(&out)
            .starts_with("Checked for Teleport 17.x (the oldest supported major, by default")
            && !first_line(&out).contains("PATH ("),
        "{}",
        out.stdout
    );
    // One that prints no release leaves the default, saying why.
    script(&bin, "tbot", "echo 'tbot: not today'");
    let out = lint(dir.path(), &bin, &[config.to_str().unwrap()]);
    assert!(
        first_line(&out).contains("by default") && first_line(&out).contains("the tbot on PATH"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_tbot_that_cannot_say_its_release_is_a_usage_error_naming_it() {
    let (dir, config) = config_dir(S5_CONFIG);
    let failing = script(dir.path(), "broken-tbot", "exit 3");
    let missing = dir.path().join("no-such-tbot");
    for tbot in [&failing, &missing] {
        let out = lint(
            dir.path(),
            dir.path(),
            &["--tbot", tbot.to_str().unwrap(), config.to_str().unwrap()],
        );
        assert_eq!(out.code, 2, "{}", out.stderr);
        let first = out.stderr.lines().next().unwrap_or("");
        assert!(
            first.contains("--tbot") && first.contains(tbot.to_str().unwrap()),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn live_uses_the_clusters_release() {
    let lab = Lab::start();
    let (dir, config) = config_dir(S5_CONFIG);
    let mut cmd = lab.cmd(&[
        "lint",
        "--format",
        "json",
        "--live",
        config.to_str().unwrap(),
    ]);
    cmd.env("PATH", dir.path());
    let out = run(&mut cmd);
    let target = &json(&out)["target"];
    // The lab reports 18.0.0+lab in Ping.
    assert_eq!(target["version"], "18.0.0", "{target} {}", out.stderr);
    assert_eq!(target["source"], "cluster");
}

#[test]
fn live_against_a_placeholder_version_falls_back_with_a_note() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Scripted::start(
        Script {
            server_version: "0.0.0-dev".into(),
            ..Default::default()
        },
        dir.path(),
    );
    let config = dir.path().join("tbot.yaml");
    std::fs::write(&config, S5_CONFIG).unwrap();
    let mut cmd = scripted_cmd(
        &server,
        &dir.path().join("home"),
        &["lint", "--live", config.to_str().unwrap()],
    );
    cmd.env("PATH", dir.path());
    let out = run(&mut cmd);
    let first = first_line(&out);
    assert!(
        first.contains("Teleport 17.x"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert!(
        first.contains("cluster scripted reported version `0.0.0-dev`, which is not a release"),
        "{first}"
    );
}

/// [`S5_CONFIG`] as the releases before `services:` held the output kinds read it.
fn s5_outputs() -> String {
    S5_CONFIG.replace("services:", "outputs:")
}

/// Exit code and `(rule, severity)` of each finding of `lint --format json ARGS`.
fn rules_of(out: &Run) -> (i32, Vec<(String, String)>) {
    let report = json(out);
    let findings = report["files"][0]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                f["severity"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    (out.code, findings)
}

fn has(findings: &[(String, String)], rule: &str, severity: &str) -> bool {
    findings.iter().any(|(r, s)| r == rule && s == severity)
}

#[test]
fn s5_is_an_error_where_tbot_fails_the_output_and_a_note_where_it_does_not() {
    let (dir, config) = config_dir(&s5_outputs());
    let config = config.to_str().unwrap();
    let at = |release: &str| {
        rules_of(&lint(
            dir.path(),
            dir.path(),
            &["--format", "json", "--teleport-version", release, config],
        ))
    };
    let (code, old) = at("16.0.3");
    assert_eq!(code, 1, "{old:?}");
    assert!(has(&old, "kube-secret-exec-plugin", "error"), "{old:?}");
    assert!(
        !old.iter().any(|(r, _)| r == "deprecated-outputs"),
        "{old:?}"
    );

    let (code, new) = at("16.1.0");
    assert_eq!(code, 0, "{new:?}");
    assert!(has(&new, "kube-secret-exec-plugin", "info"), "{new:?}");
    assert!(has(&new, "deprecated-outputs", "info"), "{new:?}");

    // The same boundary through a tbot binary's version.
    let tbot = script(
        dir.path(),
        "tbot-15",
        r#"echo "Teleport v15.4.7 git: go1.22""#,
    );
    let (code, via_tbot) = rules_of(&lint(
        dir.path(),
        dir.path(),
        &["--format", "json", "--tbot", tbot.to_str().unwrap(), config],
    ));
    assert_eq!(code, 0, "{via_tbot:?}");
    assert!(
        has(&via_tbot, "kube-secret-exec-plugin", "info"),
        "{via_tbot:?}"
    );
}

#[test]
fn fix_keeps_outputs_and_certificate_ttl_where_the_target_needs_them() {
    let config = format!("{}certificate_ttl: 2h\n", s5_outputs());
    let (dir, path) = config_dir(&config);
    let p = path.to_str().unwrap();
    let out = lint(
        dir.path(),
        dir.path(),
        &["--teleport-version", "16.0.3", "--fix", p],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let fixed = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        fixed,
        config.replace(
            "  - type: kubernetes\n    kubernetes_cluster: prod\n",
            "  - type: kubernetes\n    kubernetes_cluster: prod\n    disable_exec_plugin: true\n"
        ),
        "only S5 is fixed on 16.0.3"
    );
    // On a release with both new forms, --fix moves to them.
    let out = lint(
        dir.path(),
        dir.path(),
        &["--teleport-version", "18", "--fix", p],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let fixed = std::fs::read_to_string(&path).unwrap();
    assert!(
        fixed.contains("\nservices:\n") && fixed.contains("\ncredential_ttl: 2h\n"),
        "{fixed}"
    );
}

#[test]
fn per_service_roles_are_an_error_from_19() {
    let config = "version: v2\nproxy_server: example.teleport.sh:443\nonboarding:\n  join_method: iam\n  token: iam-bot\nservices:\n  - type: identity\n    roles: [access]\n    destination:\n      type: directory\n      path: /opt/machine-id\n";
    let (dir, path) = config_dir(config);
    let p = path.to_str().unwrap();
    let (code, v18) = rules_of(&lint(
        dir.path(),
        dir.path(),
        &["--format", "json", "--teleport-version", "18", p],
    ));
    assert_eq!(code, 0, "{v18:?}");
    assert!(has(&v18, "service-roles", "info"), "{v18:?}");
    let (code, v19) = rules_of(&lint(
        dir.path(),
        dir.path(),
        &["--format", "json", "--teleport-version", "19.0.0", p],
    ));
    assert_eq!(code, 1, "{v19:?}");
    assert!(has(&v19, "service-roles", "error"), "{v19:?}");
}

#[test]
fn a_misspelt_bound_keypair_key_fails_the_lint_on_18_and_19_and_the_right_keys_pass() {
    // tbot's keys under onboarding.bound_keypair (lib/tbot/bot/onboarding/config.go, v18.2+/v19).
    let good = "version: v2\nproxy_server: example.teleport.sh:443\nonboarding:\n  join_method: bound_keypair\n  token: bot-edge-1\n  bound_keypair:\n    registration_secret_path: /etc/tbot/secret\nstorage:\n  type: directory\n  path: /var/lib/teleport/bot\n";
    let bad = good.replace("registration_secret_path:", "registration_secret_pth:");
    for release in ["18.2.0", "19.0.0"] {
        let (dir, config) = config_dir(&bad);
        let out = lint(
            dir.path(),
            dir.path(),
            &["--teleport-version", release, config.to_str().unwrap()],
        );
        assert_eq!(out.code, 1, "{release}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains(
                "tbot.yaml:7:5: error[unknown-key]: unknown key `registration_secret_pth` in `onboarding.bound_keypair`; did you mean `registration_secret_path`?"
            ),
            "{release}: {}",
            out.stdout
        );
        std::fs::write(&config, good).expect("write config");
        let (code, findings) = rules_of(&lint(
            dir.path(),
            dir.path(),
            &[
                "--format",
                "json",
                "--teleport-version",
                release,
                config.to_str().unwrap(),
            ],
        ));
        assert!(
            !findings.iter().any(|(r, _)| r == "unknown-key"),
            "{release}: {findings:?}"
        );
        assert_eq!(code, 0, "{release}: {findings:?}");
    }
}
