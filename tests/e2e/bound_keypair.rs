//! Bound-keypair joining with the real agent (`mwictl lab bot`) against the lab, and
//! `mwictl lab keypair create`, which prepares a key as `tbot keypair create` does.

use crate::harness::*;

fn key_filter(settings: &mut insta::Settings) {
    settings.add_filter(r"ssh-ed25519 [A-Za-z0-9+/=]+", "ssh-ed25519 [KEY]");
    settings.add_filter(
        r"TBOT_BOUND_KEYPAIR_STATIC_KEY=[A-Za-z0-9+/=]+",
        "TBOT_BOUND_KEYPAIR_STATIC_KEY=[PEM]",
    );
}

#[test]
fn keypair_create_prints_the_key_for_the_token_and_keeps_it() {
    let home = tempfile::tempdir().unwrap();
    let storage = home.path().join("bot");
    let dir = storage.to_str().unwrap();
    let first = run(&mut mwictl_cmd(
        home.path(),
        &["lab", "keypair", "create", "--storage", dir],
    ));
    assert_eq!(first.code, 0, "{}", first.stderr);
    let public = std::fs::read_to_string(storage.join("id_bkp.pub")).unwrap();
    assert!(
        first.stdout.contains(&format!("\t{}\n", public.trim())),
        "{}",
        first.stdout
    );
    for file in ["id_bkp", "bkp_key_history.json"] {
        assert!(storage.join(file).is_file(), "{file} missing");
    }
    assert!(
        !storage.join("bkp_state").exists(),
        "an unbound key has no join state"
    );
    let mut settings = snapshot_settings();
    key_filter(&mut settings);
    settings.bind(|| insta::assert_snapshot!("keypair_create_text", first.stdout));

    let again = run(&mut mwictl_cmd(
        home.path(),
        &[
            "lab",
            "keypair",
            "create",
            "--storage",
            dir,
            "--format",
            "json",
        ],
    ));
    assert_eq!(again.code, 0, "{}", again.stderr);
    let json: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(json, serde_json::json!({"public_key": public.trim()}));
    assert!(again.stderr.contains("--overwrite"), "{}", again.stderr);

    let replaced = run(&mut mwictl_cmd(
        home.path(),
        &[
            "lab",
            "keypair",
            "create",
            "--storage",
            dir,
            "--overwrite",
            "--format",
            "json",
        ],
    ));
    assert_eq!(replaced.code, 0, "{}", replaced.stderr);
    assert!(
        !replaced.stdout.contains(public.trim()),
        "a new key: {}",
        replaced.stdout
    );
}

#[test]
fn keypair_create_static_prints_the_env_line_or_writes_the_file() {
    let home = tempfile::tempdir().unwrap();
    let out = run(&mut mwictl_cmd(
        home.path(),
        &["lab", "keypair", "create", "--static"],
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut settings = snapshot_settings();
    key_filter(&mut settings);
    settings.bind(|| insta::assert_snapshot!("keypair_create_static_text", out.stdout));
    let path = home.path().join("static.pem");
    let out = run(&mut mwictl_cmd(
        home.path(),
        &[
            "lab",
            "keypair",
            "create",
            "--static",
            "--static-key-path",
            path.to_str().unwrap(),
            "--format",
            "json",
        ],
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        json["public_key"]
            .as_str()
            .unwrap()
            .starts_with("ssh-ed25519 ")
    );
    assert!(json["private_key"].as_str().is_some());
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    let missing = run(&mut mwictl_cmd(home.path(), &["lab", "keypair", "create"]));
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(missing.stderr.contains("--storage"), "{}", missing.stderr);
}
