//! `mwictl lint` on the labelled corpus of real tbot.yaml files in tests/fixtures/real-tbot-configs:
//! valid files lint clean for the release they target, broken ones are named for their defect.

use crate::harness::{mwictl_cmd, run};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One labelled file of `manifest.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    file: String,
    source: String,
    commit: Option<String>,
    /// The Teleport release the file was written for; lint runs with `--teleport-version` set to it.
    target: String,
    schema: String,
    join: String,
    storage: String,
    label: Label,
    /// Rule ids lint must report as warning or error (broken files only).
    #[serde(default)]
    expect: Vec<String>,
    note: String,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Label {
    Valid,
    Broken,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/real-tbot-configs")
}

fn manifest() -> Vec<Entry> {
    let path = corpus_dir().join("manifest.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_corpus_file_is_labelled_with_its_source_and_target() {
    let entries = manifest();
    let listed: Vec<&str> = entries.iter().map(|e| e.file.as_str()).collect();
    let mut on_disk: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|d| d.unwrap().file_name().into_string().unwrap())
        .filter(|name| name != "manifest.yaml")
        .collect();
    on_disk.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(
        sorted, on_disk,
        "manifest.yaml and the fixture files differ"
    );
    sorted.dedup();
    assert_eq!(sorted.len(), listed.len(), "a file is listed twice");
    for e in &entries {
        assert!(!e.source.trim().is_empty(), "{}: no source", e.file);
        assert!(!e.note.trim().is_empty(), "{}: no note", e.file);
        assert!(
            e.target.split('.').all(|part| part.parse::<u32>().is_ok()),
            "{}: target {:?} is not a release number",
            e.file,
            e.target
        );
        assert!(
            e.commit.as_ref().is_none_or(|c| c.len() == 40),
            "{}: commit is not a full hash",
            e.file
        );
        match e.label {
            Label::Valid => assert!(e.expect.is_empty(), "{}: valid with expected rules", e.file),
            Label::Broken => assert!(
                !e.expect.is_empty(),
                "{}: broken needs expected rules",
                e.file
            ),
        }
    }
    let valid = entries.iter().filter(|e| e.label == Label::Valid).count();
    let broken = entries.len() - valid;
    assert!(
        valid >= 30 && broken >= 10,
        "{valid} valid, {broken} broken: too few"
    );
}

/// Rule ids reported at warning or error, and every finding for the failure message.
fn lint(home: &Path, entry: &Entry) -> (Vec<String>, String) {
    let path = corpus_dir().join(&entry.file);
    let out = run(&mut mwictl_cmd(
        home,
        &[
            "lint",
            "--format",
            "json",
            "--teleport-version",
            &entry.target,
            path.to_str().unwrap(),
        ],
    ));
    let report: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{}: {e}: {}{}", entry.file, out.stdout, out.stderr));
    let findings = report["files"][0]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut flagged = Vec::new();
    let mut all = String::new();
    for f in &findings {
        let (rule, severity) = (f["rule"].as_str().unwrap(), f["severity"].as_str().unwrap());
        all += &format!(
            "\n    {severity} {rule}: {}",
            f["message"].as_str().unwrap_or("")
        );
        if severity == "warning" || severity == "error" {
            flagged.push(rule.to_string());
        }
    }
    let want_code = if flagged.is_empty() { 0 } else { 1 };
    assert_eq!(
        out.code, want_code,
        "{}: exit code{all}\n{}",
        entry.file, out.stderr
    );
    (flagged, all)
}

#[test]
fn real_configs_lint_as_labelled_for_their_target_release() {
    let entries = manifest();
    let home = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let (mut valid, mut clean, mut broken, mut caught) = (0, 0, 0, 0);
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for e in &entries {
        for kind in [
            format!("join {}", e.join),
            format!("schema {}", e.schema),
            format!("storage {}", e.storage),
        ] {
            *kinds.entry(kind).or_default() += 1;
        }
        let (flagged, all) = lint(home.path(), e);
        match e.label {
            Label::Valid => {
                valid += 1;
                if flagged.is_empty() {
                    clean += 1;
                } else {
                    failures.push(format!(
                        "{} (valid for {}) was flagged:{all}",
                        e.file, e.target
                    ));
                }
            }
            Label::Broken => {
                broken += 1;
                let missing: Vec<&String> =
                    e.expect.iter().filter(|r| !flagged.contains(r)).collect();
                if missing.is_empty() {
                    caught += 1;
                } else {
                    failures.push(format!(
                        "{} (broken: {}) lacks {missing:?}:{all}",
                        e.file, e.note
                    ));
                }
            }
        }
    }
    println!("real tbot.yaml corpus: valid clean {clean}/{valid}, broken caught {caught}/{broken}");
    for (kind, n) in &kinds {
        println!("  {kind}: {n}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
