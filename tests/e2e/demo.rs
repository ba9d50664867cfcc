//! `mwictl demo` without a terminal, as CI runs it: it recovers the bot, prints the final line,
//! touches nothing outside its temp dir and removes that dir unless `--keep`.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::{mwictl_cmd, run};

/// The README promises the demo finishes in under 30 seconds.
const LIMIT: Duration = Duration::from_secs(30);

/// The demo's temp dirs under `tmp`.
fn demo_dirs(tmp: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(tmp)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("mwictl-demo-"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn demo_recovers_the_bot_without_a_terminal_and_cleans_up() {
    let root = tempfile::tempdir().unwrap();
    let (home, tmp) = (root.path().join("home"), root.path().join("tmp"));
    std::fs::create_dir(&tmp).unwrap();
    let started = Instant::now();
    let out = run(mwictl_cmd(&home, &["demo"]).env("TMPDIR", &tmp));
    let took = started.elapsed();
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    assert!(took < LIMIT, "the demo took {took:?}");

    let first = out.stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("demo finished in ")
            && first.contains("s: bot example recovered (instance ")
            && first.contains(", generation "),
        "{first}"
    );
    assert_eq!(
        out.stdout
            .lines()
            .filter(|l| l.starts_with("  mwictl "))
            .count(),
        3,
        "three commands to try next:\n{}",
        out.stdout
    );
    for step in 1..=6 {
        assert!(
            out.stderr.contains(&format!("[{step}/6] ")),
            "step {step} is narrated:\n{}",
            out.stderr
        );
    }
    assert!(
        out.stderr.contains("S1 generation mismatch"),
        "{}",
        out.stderr
    );
    assert!(!home.exists(), "MWICTL_HOME is not touched");
    assert!(demo_dirs(&tmp).is_empty(), "the temp dir is removed");
}

#[test]
fn demo_keep_leaves_the_files_and_json_reports_the_instance() {
    let root = tempfile::tempdir().unwrap();
    let (home, tmp) = (root.path().join("home"), root.path().join("tmp"));
    std::fs::create_dir(&tmp).unwrap();
    let out = run(
        mwictl_cmd(&home, &["demo", "--keep", "--format", "json", "--quiet"]).env("TMPDIR", &tmp),
    );
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(v["recovered"], true);
    assert!(v["generation"].as_i64().is_some_and(|g| g >= 3), "{v}");
    let instance = v["instance"].as_str().expect("instance");

    let dirs = demo_dirs(&tmp);
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    assert_eq!(v["kept"], dirs[0].display().to_string().as_str());
    let config = std::fs::read_to_string(dirs[0].join("bot-example/tbot.yaml")).unwrap();
    assert!(config.contains("token: "), "{config}");
    let pem = std::fs::read_to_string(dirs[0].join("bot-example/data/tlscert")).unwrap();
    let cert = mwi_identity::CertIdentity::from_pem(&pem).unwrap();
    assert_eq!(cert.bot_instance_id.as_deref(), Some(instance));
    assert!(
        dirs[0].join("home/backups").is_dir(),
        "the recovery's lock backup is in the demo's own home"
    );
    assert!(!home.exists(), "MWICTL_HOME is not touched");
}
