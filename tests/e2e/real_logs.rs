//! `mwictl doctor` on log excerpts people pasted in public issues (tests/fixtures/real-logs):
//! each must name exactly the incidents its manifest entry expects, with the low-confidence
//! notes it expects; the run reports the rate.

use std::collections::BTreeSet;
use std::path::Path;

use crate::harness::{mwictl_cmd, run};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/real-logs");

/// What doctor's JSON report names: (high-confidence incidents, low-confidence notes).
fn named(report: &serde_json::Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut incidents = BTreeSet::new();
    let mut notes = BTreeSet::new();
    for finding in report["findings"].as_array().into_iter().flatten() {
        let id = finding["incident"].as_str().unwrap_or_default().to_string();
        match finding["confidence"].as_str() {
            Some("low") => notes.insert(id),
            _ => incidents.insert(id),
        };
    }
    (incidents, notes)
}

fn strings(value: &serde_json::Value) -> BTreeSet<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

#[test]
fn doctor_names_the_right_incident_in_every_real_log_excerpt() {
    let dir = Path::new(CORPUS);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap())
            .expect("manifest.json is JSON");
    let entries = manifest.as_array().expect("a list of entries");
    assert!(entries.len() >= 20, "at least 20 excerpts");
    let home = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    for entry in entries {
        let file = entry["file"].as_str().expect("file");
        assert!(
            entry["source"]
                .as_str()
                .is_some_and(|s| s.starts_with("https://github.com/")),
            "{file}: every excerpt names its source"
        );
        let path = dir.join(file);
        let out = run(&mut mwictl_cmd(
            home.path(),
            &["doctor", "--format", "json", path.to_str().unwrap()],
        ));
        let report: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{file}: {e}: {}{}", out.stdout, out.stderr));
        let (incidents, notes) = named(&report);
        let expected = (strings(&entry["incidents"]), strings(&entry["notes"]));
        let exit = i32::from(!expected.0.is_empty());
        if (incidents.clone(), notes.clone()) != expected || out.code != exit {
            wrong.push(format!(
                "{file}: named {incidents:?} (notes {notes:?}, exit {}), expected {:?} (notes {:?}, exit {exit})",
                out.code, expected.0, expected.1
            ));
        }
    }
    let right = entries.len() - wrong.len();
    eprintln!("real logs: {right}/{} right", entries.len());
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
