//! The tbot.yaml linter over the config corpus: one sample per rule, the text report
//! snapshotted, and `--fix` checked to change only the needed bytes, atomically, with a backup.

use mwi_diag::incident::Incident;
use mwi_diag::lint::{
    self, BoundToken, FileReport, LintOptions, LintReport, LiveTokens, Severity, Target,
    TargetSource, target,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/configs/");

fn local(_: &Path) -> Option<String> {
    None
}

fn nfs_under_mnt(path: &Path) -> Option<String> {
    path.starts_with("/mnt/shared").then(|| "NFS".to_string())
}

/// On the host (the corpus checks include the host checks), local file systems, no probe.
fn options() -> LintOptions {
    LintOptions {
        tbot_env: None,
        network_fs: local,
        on_host: true,
        ..LintOptions::default()
    }
}

fn source(name: &str) -> String {
    std::fs::read_to_string(format!("{CORPUS}{name}")).expect("corpus file")
}

fn lint_one(name: &str, options: &LintOptions) -> FileReport {
    lint::lint_source(name, &source(name), options)
}

fn report_of(files: Vec<FileReport>) -> LintReport {
    LintReport::new(files)
}

fn text(report: &LintReport) -> String {
    let mut out = Vec::new();
    report.render_text(&mut out, false).expect("render");
    String::from_utf8(out).expect("utf-8")
}

fn rules(report: &FileReport) -> BTreeSet<String> {
    report.findings.iter().map(|f| f.rule.clone()).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The corpus file copied into a fresh temp dir, for tests that write.
fn copy_to_temp(names: &[&str]) -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = names
        .iter()
        .map(|name| {
            let path = dir.path().join(name);
            std::fs::write(&path, source(name)).expect("copy");
            path
        })
        .collect();
    (dir, paths)
}

#[test]
fn clean_config_has_only_a_note() {
    let report = report_of(vec![lint_one("clean.yaml", &options())]);
    assert_eq!(report.exit_code(), 0);
    assert_eq!(rules(&report.files[0]), set(&["use-proxy-addr"]));
    assert_eq!(report.files[0].findings[0].severity, Severity::Info);
    insta::assert_snapshot!(text(&report));
}

/// [`options`] for the given release (`--teleport-version`).
fn at(release: &str) -> LintOptions {
    LintOptions {
        target: Target::new(
            target::parse_release(release).expect("release"),
            TargetSource::Flag,
            release,
        ),
        ..options()
    }
}

#[test]
fn kubernetes_secret_without_disable_exec_plugin_is_s5() {
    // 16.0.3 still fails the output (the exec plugin is turned off from 16.0.4); its tbot reads
    // kubernetes outputs under `outputs:` only.
    let outputs = source("s5_kube_secret.yaml").replace("services:", "outputs:");
    let file = lint::lint_source("s5_kube_secret.yaml", &outputs, &at("16.0.3"));
    let s5: Vec<_> = file
        .findings
        .iter()
        .filter(|f| f.rule == "kube-secret-exec-plugin")
        .collect();
    assert_eq!(s5.len(), 2);
    assert!(
        s5.iter()
            .all(|f| f.incident == Some(Incident::K8sSecret) && f.fixable)
    );
    assert_eq!((s5[0].line, s5[0].column), (9, 5));
    assert_eq!(s5[1].key, "outputs[1].disable_exec_plugin");
    assert!(s5.iter().all(|f| f.severity == Severity::Error));
    let mut report = report_of(vec![file]);
    report.target = at("16.0.3").target;
    insta::assert_snapshot!(text(&report));
}

#[test]
fn s5_is_a_fixable_note_where_tbot_turns_the_plugin_off() {
    for release in ["15.4.7", "16.0.4", "17"] {
        let file = lint_one("s5_kube_secret.yaml", &at(release));
        let s5: Vec<_> = file
            .findings
            .iter()
            .filter(|f| f.rule == "kube-secret-exec-plugin")
            .collect();
        assert_eq!(s5.len(), 2, "{release}");
        assert!(
            s5.iter().all(|f| f.severity == Severity::Info && f.fixable),
            "{release}"
        );
        assert!(
            s5[0].message.contains("logs that it did"),
            "{}",
            s5[0].message
        );
    }
    let old = lint_one("s5_kube_secret.yaml", &at("15.4.6"));
    assert!(
        old.findings
            .iter()
            .filter(|f| f.rule == "kube-secret-exec-plugin")
            .all(|f| f.severity == Severity::Error)
    );
}

#[test]
fn auth_server_with_ssh_config_is_s7() {
    let file = lint_one("s7_auth_server.yaml", &options());
    let s7: Vec<_> = file
        .findings
        .iter()
        .filter(|f| f.rule == "auth-server-ssh-config")
        .collect();
    assert_eq!(s7.len(), 2);
    assert!(
        s7.iter()
            .all(|f| f.severity == Severity::Warning && f.fixable)
    );
    insta::assert_snapshot!(text(&report_of(vec![file])));
}

#[test]
fn schema_errors_name_the_key_and_suggest() {
    let file = lint_one("schema_errors.yaml", &options());
    let report = report_of(vec![file]);
    let rendered = text(&report);
    assert!(
        rendered.contains(
            "unknown key `renewal_intervall` at the top level; did you mean `renewal_interval`?"
        ),
        "{rendered}"
    );
    assert!(
        rendered.contains("`disable_exec_plugin` belongs in a `type: kubernetes` service"),
        "{rendered}"
    );
    assert!(
        rendered.contains("`onboarding.join_method: tokn` is not allowed (did you mean `token`?)"),
        "{rendered}"
    );
    assert!(rendered.contains("`services[0].type: identiy` is not a service type tbot knows (did you mean `identity`?)"), "{rendered}");
    assert!(rendered.contains("quoted \"true\""), "{rendered}");
    assert!(rendered.contains("nanoseconds"), "{rendered}");
    assert_eq!(
        rules(&report.files[0]),
        set(&[
            "invalid-value",
            "missing-key",
            "unknown-key",
            "wrong-type",
            "use-proxy-addr"
        ])
    );
    insta::assert_snapshot!(rendered);
}

#[test]
fn v1_config_is_flagged_and_not_checked_as_v2() {
    let file = lint_one("v1.yaml", &options());
    assert_eq!(rules(&file), set(&["config-v1"]));
    // Every release read still migrates v1 in memory: a note, not a warning.
    assert_eq!(file.findings[0].severity, Severity::Info);
}

#[test]
fn missing_version_is_fixable() {
    let file = lint_one("no_version.yaml", &options());
    let finding = file
        .findings
        .iter()
        .find(|f| f.rule == "config-v1")
        .expect("config-v1");
    assert!(finding.fixable);
    let fixed = file.fixed_text().expect("fixable");
    assert_eq!(
        fixed,
        format!(
            "# no version line\nversion: v2\n{}",
            &source("no_version.yaml")[18..]
        )
    );
}

#[test]
fn semantic_rules_fire() {
    let file = lint_one("semantic.yaml", &options());
    assert_eq!(
        rules(&file),
        set(&[
            "auth-and-proxy",
            "duplicate-destination",
            "memory-storage-join",
            "onboarding-ca-conflict",
            "token-path-missing",
            "ttl-below-interval",
            "ttl-over-24h",
            "use-proxy-addr",
        ])
    );
    let report = report_of(vec![file]);
    insta::assert_snapshot!(text(&report));
}

#[test]
fn bound_keypair_config_mistakes_are_named_without_the_secret() {
    let secret = lint_one("bk_secret.yaml", &options());
    assert_eq!(
        rules(&secret),
        set(&[
            "registration-secret-both",
            "secret-as-token",
            "use-proxy-addr"
        ])
    );
    let uri = lint_one("bk_join_uri.yaml", &options());
    assert_eq!(rules(&uri), set(&["join-uri-malformed"]));
    let report = report_of(vec![secret, uri]);
    let shown = text(&report);
    assert!(!shown.contains("0a1b2c3d4e5f"), "{shown}");
    insta::assert_snapshot!(shown);
}

#[test]
fn misspelt_bound_keypair_keys_are_named_with_the_key_meant() {
    let file = lint_one("bk_misspelt_keys.yaml", &options());
    assert_eq!(rules(&file), set(&["unknown-key", "use-proxy-addr"]));
    let unknown: Vec<_> = file
        .findings
        .iter()
        .filter(|f| f.rule == "unknown-key")
        .map(|f| (f.line, f.severity, f.key.as_str()))
        .collect();
    assert_eq!(
        unknown,
        [
            (
                8,
                Severity::Error,
                "onboarding.bound_keypair.registration_secrett"
            ),
            (
                9,
                Severity::Error,
                "onboarding.bound_keypair.static_key_path"
            ),
            (
                10,
                Severity::Error,
                "onboarding.bound_keypair.initial_join_secret"
            ),
        ]
    );
    let shown = text(&report_of(vec![file]));
    assert!(!shown.contains("0a1b2c3d4e5f"), "{shown}");
    insta::assert_snapshot!(shown);
}

#[test]
fn a_static_key_is_judged_against_its_token_with_live_and_noted_without() {
    let live = |mode: &str, rotation: Option<&str>| LintOptions {
        live: Some(LiveTokens::Read {
            cluster: "example".to_string(),
            tokens: [(
                "bot-ci-static".to_string(),
                BoundToken {
                    recovery_mode: mode.to_string(),
                    rotation_pending: rotation.map(str::to_string),
                },
            )]
            .into(),
        }),
        ..options()
    };
    let bad = lint_one(
        "bk_static_key.yaml",
        &live("standard", Some("2026-12-01T00:00:00Z")),
    );
    // tbot's environment is not given, so use-proxy-addr says what it could not check.
    let static_rules = |file: &FileReport| {
        let mut found = rules(file);
        found.retain(|r| r != "use-proxy-addr");
        found
    };
    assert_eq!(
        static_rules(&bad),
        set(&["static-key-recovery-mode", "static-key-rotate-after"])
    );
    let fine = lint_one("bk_static_key.yaml", &live("insecure", None));
    assert!(static_rules(&fine).is_empty(), "{:?}", fine.findings);
    let offline = lint_one("bk_static_key.yaml", &options());
    assert_eq!(static_rules(&offline), set(&["static-key-recovery-mode"]));
    assert!(
        offline
            .findings
            .iter()
            .all(|f| f.severity == Severity::Info),
        "{:?}",
        offline.findings
    );
    insta::assert_snapshot!(text(&report_of(vec![bad, offline])));
}

#[test]
fn token_path_that_exists_is_fine() {
    let dir = tempfile::tempdir().expect("temp dir");
    let token = dir.path().join("token");
    std::fs::write(&token, "secret").expect("write");
    let config = format!(
        "version: v2\nproxy_server: p:443\nonboarding:\n  join_method: token\n  token: {}\n",
        token.display()
    );
    let file = lint::lint_source("tbot.yaml", &config, &options());
    assert!(!rules(&file).contains("token-path-missing"));
    assert!(file.findings.iter().all(|f| !f.message.contains("secret")));
}

#[test]
fn shared_storage_across_configs_is_s1() {
    let (dir, paths) = copy_to_temp(&["shared_a.yaml", "shared_b.yaml"]);
    let report = lint::lint_paths(&paths, &options()).expect("lint");
    for file in &report.files {
        let shared: Vec<_> = file
            .findings
            .iter()
            .filter(|f| f.rule == "shared-storage")
            .collect();
        assert_eq!(shared.len(), 1, "{}", text(&report));
        assert_eq!(shared[0].incident, Some(Incident::GenerationMismatch));
    }
    let tmp = dir.path().display().to_string();
    insta::with_settings!({filters => vec![(tmp.as_str(), "[TMP]")]}, {
        insta::assert_snapshot!(text(&report));
    });
}

#[test]
fn default_storage_in_two_configs_is_shared() {
    let config = "version: v2\nproxy_server: p:443\nonboarding:\n  join_method: iam\n  token: t\n";
    let dir = tempfile::tempdir().expect("temp dir");
    let paths: Vec<PathBuf> = ["a.yaml", "b.yaml"]
        .iter()
        .map(|n| dir.path().join(n))
        .collect();
    for path in &paths {
        std::fs::write(path, config).expect("write");
    }
    let report = lint::lint_paths(&paths, &options()).expect("lint");
    assert!(report.files.iter().all(|f| f.findings.iter().any(|x| {
        x.rule == "shared-storage"
            && x.message
                .starts_with("the default storage `/var/lib/teleport/bot`")
    })));
}

#[test]
fn storage_on_a_network_file_system_is_flagged() {
    let config = "version: v2\nproxy_server: p:443\nonboarding:\n  join_method: iam\n  token: t\nstorage:\n  type: directory\n  path: /mnt/shared/tbot\n";
    let options = LintOptions {
        network_fs: nfs_under_mnt,
        ..options()
    };
    let file = lint::lint_source("tbot.yaml", config, &options);
    let finding = file
        .findings
        .iter()
        .find(|f| f.rule == "network-storage")
        .expect("network-storage");
    assert_eq!((finding.line, finding.column), (8, 9));
    assert!(finding.message.contains("(NFS)"));
    assert_eq!(finding.incident, Some(Incident::GenerationMismatch));
}

#[test]
fn use_proxy_addr_depends_on_the_servers() {
    let with = |value: &str| LintOptions {
        tbot_env: Some(env(&[("TBOT_USE_PROXY_ADDR", value)])),
        ..options()
    };
    let proxy =
        "version: v2\nproxy_server: p.example.com:443\nonboarding: {join_method: iam, token: t}\n";
    let auth =
        "version: v2\nauth_server: a.example.com:3025\nonboarding: {join_method: iam, token: t}\n";
    let severity = |src: &str, options: &LintOptions| {
        lint::lint_source("tbot.yaml", src, options)
            .findings
            .iter()
            .find(|f| f.rule == "use-proxy-addr")
            .map(|f| f.severity)
    };
    assert_eq!(severity(proxy, &with("yes")), Some(Severity::Info));
    assert_eq!(severity(auth, &with("yes")), Some(Severity::Error));
    assert_eq!(severity(proxy, &with("true")), Some(Severity::Warning));
    assert_eq!(severity(proxy, &options()), Some(Severity::Info));
    assert_eq!(severity(auth, &options()), None);
    // Known and unset: still a note, as DNS cannot be checked offline, but a plain one.
    let unset = LintOptions {
        tbot_env: Some(env(&[("OTHER", "1")])),
        ..options()
    };
    assert_eq!(severity(proxy, &unset), Some(Severity::Info));
    assert_eq!(severity(auth, &unset), None);
    // `yes` with neither server set is no complaint about the value.
    let neither = "version: v2\nonboarding: {join_method: iam, token: t}\n";
    assert_eq!(severity(neither, &with("yes")), None);
    let message = |options: &LintOptions| {
        lint::lint_source("tbot.yaml", proxy, options)
            .findings
            .into_iter()
            .find(|f| f.rule == "use-proxy-addr")
            .map(|f| f.message)
            .unwrap_or_default()
    };
    assert!(
        message(&options()).contains("tbot's environment was not given"),
        "{}",
        message(&options())
    );
    assert!(
        message(&unset).contains("TBOT_USE_PROXY_ADDR is not set in tbot's environment"),
        "{}",
        message(&unset)
    );
    assert!(message(&unset).contains("cannot be checked offline"));
}

fn env(pairs: &[(&str, &str)]) -> lint::tbot_env::TbotEnv {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn broken_yaml_is_one_syntax_error_with_position() {
    let file = lint_one("yaml_syntax.yaml", &options());
    assert_eq!(rules(&file), set(&["yaml-syntax"]));
    assert_eq!((file.findings[0].line, file.findings[0].column), (3, 1));
    let file = lint::lint_source(
        "x.yaml",
        "version: v2\nservices:\n  - type: identity\n   destination: /x\n",
        &options(),
    );
    assert_eq!(rules(&file), set(&["yaml-syntax"]));
    assert_eq!(file.findings[0].line, 4);
}

#[test]
fn duplicate_keys_are_errors() {
    let file = lint::lint_source(
        "x.yaml",
        "version: v2\nproxy_server: a:443\nproxy_server: b:443\n",
        &options(),
    );
    let dup = file
        .findings
        .iter()
        .find(|f| f.rule == "duplicate-key")
        .expect("duplicate-key");
    assert_eq!((dup.line, dup.column), (3, 1));
}

#[test]
fn unreadable_file_is_an_error_naming_it() {
    let err = lint::lint_paths(&["/nonexistent/tbot.yaml"], &options()).expect_err("missing file");
    let message = err.to_string();
    assert!(
        message.starts_with("cannot read /nonexistent/tbot.yaml:"),
        "{message}"
    );
    assert!(!message.contains('\n'));
}

#[test]
fn a_directory_asks_for_the_files_in_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = lint::lint_paths(&[dir.path()], &options()).expect_err("directory");
    assert!(matches!(err, lint::LintError::Directory { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("is a directory; give the tbot.yaml files"),
        "{message}"
    );
    assert!(!message.contains('\n'));
}

#[test]
fn a_file_over_the_size_limit_is_refused_quickly_naming_it_and_the_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("huge.yaml");
    let file = std::fs::File::create(&path).expect("create");
    // Sparse: 50 MB without writing 50 MB.
    file.set_len(50 * 1024 * 1024).expect("size");
    let started = std::time::Instant::now();
    let err = lint::lint_paths(&[&path], &options()).expect_err("too large");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    let message = err.to_string();
    assert_eq!(
        message,
        format!(
            "{} is larger than 1048576 bytes (1 MiB), the most a tbot.yaml is read at; give the tbot configuration file",
            path.display()
        )
    );
    // Exactly at the limit is still read.
    std::fs::write(&path, vec![b'#'; lint::MAX_CONFIG_BYTES as usize]).expect("write");
    lint::lint_paths(&[&path], &options()).expect("at the limit");
}

#[test]
fn fix_refuses_standard_input() {
    let err = lint::lint_and_fix(&[PathBuf::from("-")], true, &options()).expect_err("stdin");
    assert!(
        err.to_string()
            .starts_with("--fix cannot change standard input"),
        "{err}"
    );
}

#[test]
fn not_utf8_is_a_syntax_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tbot.yaml");
    std::fs::write(&path, b"version: v2\nproxy_server: \xff\n").expect("write");
    let report = lint::lint_paths(&[&path], &options()).expect("lint");
    let finding = &report.files[0].findings[0];
    assert_eq!(
        (finding.rule.as_str(), finding.line, finding.column),
        ("yaml-syntax", 2, 15)
    );
}

#[test]
fn json_report_is_stable() {
    let options = at("16.0.3");
    let outputs = source("s5_kube_secret.yaml").replace("services:", "outputs:");
    let file = lint::lint_source("s5_kube_secret.yaml", &outputs, &options);
    let mut report = report_of(vec![file]);
    report.target = options.target;
    insta::assert_snapshot!(serde_json::to_string_pretty(&report).expect("json"));
}

fn fix_and_check(name: &str, fixed_rules: &[&str]) -> (String, String) {
    let (dir, paths) = copy_to_temp(&[name]);
    let before = source(name);
    let report = lint::lint_paths(&paths, &options()).expect("lint");
    let outcomes = lint::apply_fixes(&report).expect("fix");
    assert_eq!(outcomes.len(), 1);
    let outcome = &outcomes[0];
    assert_eq!(
        outcome.rules,
        fixed_rules
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        PathBuf::from(&outcome.backup_path),
        dir.path().join(format!("{name}.bak"))
    );
    assert_eq!(
        std::fs::read_to_string(&outcome.backup_path).expect("backup"),
        before
    );
    let after = std::fs::read_to_string(&paths[0]).expect("fixed file");
    // Every original line is still there (comments included): fixes only add or change values.
    let again = lint::lint_paths(&paths, &options()).expect("lint again");
    for rule in fixed_rules {
        assert!(
            again.files[0].findings.iter().all(|f| f.rule != *rule),
            "{rule} still fires:\n{after}"
        );
    }
    let leftovers = std::fs::read_dir(dir.path()).expect("dir").count();
    assert_eq!(leftovers, 2, "only the file and its backup");
    let tmp = dir.path().display().to_string();
    let diff = outcome.diff.replace(&tmp, "[TMP]");
    (diff, after)
}

#[test]
fn fix_adds_disable_exec_plugin_keeping_comments() {
    let (diff, after) = fix_and_check("s5_kube_secret.yaml", &["kube-secret-exec-plugin"]);
    for line in source("s5_kube_secret.yaml").lines() {
        if !line.contains("disable_exec_plugin: false") {
            assert!(after.contains(line), "lost line {line:?}");
        }
    }
    assert!(after.contains("    disable_exec_plugin: true   # copied from an old example\n"));
    insta::assert_snapshot!(diff);
}

#[test]
fn fix_sets_ssh_config_off_on_identity_outputs() {
    let (diff, after) = fix_and_check("s7_auth_server.yaml", &["auth-server-ssh-config"]);
    assert_eq!(after.matches("ssh_config: \"off\"").count(), 2, "{after}");
    insta::assert_snapshot!(diff);
}

#[test]
fn fix_renames_outputs_to_services() {
    let (diff, after) = fix_and_check("deprecated_outputs.yaml", &["deprecated-outputs"]);
    assert!(after.contains("services: # old name\n"));
    insta::assert_snapshot!(diff);
}

#[test]
fn fix_keeps_crlf_line_endings() {
    let config = "version: v2\r\nauth_server: a:3025\r\nonboarding: {join_method: iam, token: t}\r\nservices:\r\n  - type: identity\r\n    destination: /opt/x\r\n";
    let file = lint::lint_source("tbot.yaml", config, &options());
    let fixed = file.fixed_text().expect("fixable");
    assert_eq!(fixed, format!("{config}    ssh_config: \"off\"\r\n"));
}

#[test]
fn fix_in_flow_style_output() {
    let config = "version: v2\nproxy_server: p:443\nonboarding: {join_method: kubernetes, token: k}\nservices:\n  - {type: kubernetes, kubernetes_cluster: c, destination: {type: kubernetes_secret, name: s}}\n";
    let fixed = lint::lint_source("tbot.yaml", config, &options())
        .fixed_text()
        .expect("fixable");
    assert!(
        fixed.contains("name: s}, disable_exec_plugin: true}\n"),
        "{fixed}"
    );
    let again = lint::lint_source("tbot.yaml", &fixed, &options());
    assert!(
        again
            .findings
            .iter()
            .all(|f| f.rule != "kube-secret-exec-plugin")
    );
}

#[test]
fn nothing_to_fix_writes_nothing() {
    let (dir, paths) = copy_to_temp(&["clean.yaml"]);
    let report = lint::lint_paths(&paths, &options()).expect("lint");
    assert!(lint::apply_fixes(&report).expect("fix").is_empty());
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
}

#[test]
fn every_finding_matches_its_registered_rule() {
    let mut seen = BTreeSet::new();
    let dir = std::fs::read_dir(CORPUS).expect("corpus");
    let mut paths: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
    paths.sort();
    for (use_proxy_addr, on_host) in [
        (None, true),
        (Some(""), false),
        (Some("yes"), true),
        (Some("1"), false),
    ] {
        let options = LintOptions {
            tbot_env: use_proxy_addr.map(|v| env(&[("TBOT_USE_PROXY_ADDR", v)])),
            network_fs: nfs_under_mnt,
            on_host,
            // `--live` in half the runs: the corpus's static-key token in mode standard with a
            // rotation pending.
            live: on_host.then(|| LiveTokens::Read {
                cluster: "example".to_string(),
                tokens: [(
                    "bot-ci-static".to_string(),
                    BoundToken {
                        recovery_mode: "standard".to_string(),
                        rotation_pending: Some("2026-12-01T00:00:00Z".to_string()),
                    },
                )]
                .into(),
            }),
            ..LintOptions::default()
        };
        let mut report = lint::lint_paths(&paths, &options).expect("lint");
        // Rules the corpus files do not show.
        let extra = "version: v2\nversion: v2\nproxy_server: p:443\ncertificate_ttl: 1h\nstorage:\n  type: directory\n  path: /mnt/shared/tbot\nservices:\n  - type: identity\n    roles: [access]\n    destination: /opt/id\n";
        report
            .files
            .push(lint::lint_source("extra.yaml", extra, &options));
        for finding in report.files.iter().flat_map(|f| &f.findings) {
            let rule = lint::rules::rule(&finding.rule).expect("a registered rule");
            assert!(
                rule.severities.contains(&finding.severity),
                "{} at {:?}",
                rule.id,
                finding.severity
            );
            assert_eq!(finding.incident, rule.incident, "{}", rule.id);
            seen.insert(rule.id);
        }
    }
    let all: BTreeSet<&str> = lint::rules::RULES.iter().map(|r| r.id).collect();
    let unseen: Vec<&&str> = all.difference(&seen).collect();
    assert!(
        unseen.is_empty(),
        "rules with no sample in the corpus: {unseen:?}"
    );
}

#[test]
fn lint_and_fix_prints_the_diff_and_exits_by_what_remains() {
    let (_dir, paths) = copy_to_temp(&["s7_auth_server.yaml"]);
    let path = &paths[0];
    let report = lint::lint_and_fix(&paths, false, &options()).expect("lint");
    assert_eq!(report.exit_code(), 1);

    let report = lint::lint_and_fix(&paths, true, &options()).expect("fix");
    let out = text(&report);
    assert!(out.contains("+    ssh_config: \"off\""), "{out}");
    assert!(
        out.contains(&format!(
            "fixed {} (backup: {}.bak)",
            path.display(),
            path.display()
        )),
        "{out}"
    );
    assert_eq!(report.exit_code(), 0, "{out}");
}

#[test]
fn lint_and_fix_json_lists_fixes() {
    let (_dir, paths) = copy_to_temp(&["s5_kube_secret.yaml"]);
    let report = lint::lint_and_fix(&paths, true, &options()).expect("fix");
    assert_eq!(report.exit_code(), 0);
    let json = serde_json::to_value(&report).expect("json");
    assert_eq!(json["fixes"][0]["rules"][0], "kube-secret-exec-plugin");
    assert_eq!(json["summary"]["errors"], 0);
}

#[test]
fn lint_and_fix_of_an_unreadable_file_is_an_error_naming_it() {
    let err = lint::lint_and_fix(&[PathBuf::from("/nonexistent/x.yaml")], false, &options())
        .expect_err("missing");
    assert!(
        err.to_string()
            .starts_with("cannot read /nonexistent/x.yaml:")
    );
}

/// The findings of one rule in an inline config.
fn findings_of(rule: &str, yaml: &str) -> Vec<lint::LintFinding> {
    lint::lint_source("inline.yaml", yaml, &options())
        .findings
        .into_iter()
        .filter(|f| f.rule == rule)
        .collect()
}

#[test]
fn s7_needs_auth_server_alone() {
    let identity = "services:\n  - type: identity\n    destination: {type: directory, path: ./d}\n";
    let both = format!(
        "version: v2\nauth_server: a.example.com:3025\nproxy_server: p.example.com:443\n{identity}"
    );
    let neither = format!("version: v2\n{identity}");
    assert!(findings_of("auth-server-ssh-config", &both).is_empty());
    assert!(findings_of("auth-server-ssh-config", &neither).is_empty());
}

#[test]
fn a_non_scalar_value_is_reported_but_not_fixed_in_place() {
    let s7 = "version: v2\nauth_server: a.example.com:3025\nservices:\n  - type: identity\n    ssh_config: {mode: on}\n    destination: {type: directory, path: ./d}\n";
    let found = findings_of("auth-server-ssh-config", s7);
    assert_eq!(found.len(), 1);
    assert!(!found[0].fixable, "a mapping is not overwritten by --fix");

    let s5 = "version: v2\nproxy_server: p.example.com:443\nservices:\n  - type: kubernetes/v2\n    selectors: [{name: staging}]\n    disable_exec_plugin: [false]\n    destination: {type: kubernetes_secret, name: out}\n";
    let found = findings_of("kube-secret-exec-plugin", s5);
    assert_eq!(found.len(), 1);
    assert!(!found[0].fixable, "a list is not overwritten by --fix");
}
