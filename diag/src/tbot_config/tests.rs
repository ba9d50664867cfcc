//! The token writer changes the token's bytes and nothing else, whatever the file's style.

use super::*;
use std::os::unix::fs::PermissionsExt;

const NEW: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

fn edited(text: &str) -> String {
    match plan_token_edit(text, NEW).unwrap() {
        TokenEdit::Config(new) => new,
        TokenEdit::TokenFile(p) => panic!("unexpected token file {}", p.display()),
    }
}

/// What YAML itself reads as `onboarding.token`.
fn yaml_token(text: &str) -> String {
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).unwrap();
    doc["onboarding"]["token"].as_str().unwrap().to_string()
}

/// Asserts `new` is `old` with exactly one span replaced by text containing the token.
fn only_token_changed(old: &str, new: &str) {
    let prefix = old
        .bytes()
        .zip(new.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let suffix = old[prefix..]
        .bytes()
        .rev()
        .zip(new[prefix..].bytes().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let inserted = &new[prefix..new.len() - suffix];
    let removed = &old[prefix..old.len() - suffix];
    assert!(
        inserted.contains(NEW) || NEW.contains(inserted),
        "changed {removed:?} into {inserted:?}"
    );
    assert!(!removed.contains('\n'), "removed a line break: {removed:?}");
}

const COMMENTED: &str = "\
# tbot for the build runners (owner: platform team)
version: v2
proxy_server: teleport.example.com:443   # through the LB

onboarding:
  # rotated by mwictl recover
  join_method: token
  token: 3f7c0e7d8a8f4d7b9e2f11a4c5d6e7f8  # one-time
  ca_pins:
    - sha256:abc

storage:
  type: directory
  path: /var/lib/teleport/bot
services:
  - type: identity
    destination:
      type: directory
      path: /opt/machine-id
";

#[test]
fn plain_token_is_replaced_and_every_other_byte_stays() {
    let new = edited(COMMENTED);
    assert_eq!(
        new,
        COMMENTED.replace("3f7c0e7d8a8f4d7b9e2f11a4c5d6e7f8", NEW)
    );
    only_token_changed(COMMENTED, &new);
    assert_eq!(yaml_token(&new), NEW);
}

#[test]
fn crlf_files_keep_their_line_endings() {
    let old = COMMENTED.replace('\n', "\r\n");
    let new = edited(&old);
    only_token_changed(&old, &new);
    assert_eq!(new.matches("\r\n").count(), old.matches("\r\n").count());
}

#[test]
fn quoted_tokens_keep_their_quotes() {
    for (old, want) in [
        (
            "onboarding:\n  token: \"old\"\n",
            format!("onboarding:\n  token: \"{NEW}\"\n"),
        ),
        (
            "onboarding:\n  token: 'old' # c\n",
            format!("onboarding:\n  token: '{NEW}' # c\n"),
        ),
    ] {
        let new = edited(old);
        assert_eq!(new, want);
        assert_eq!(yaml_token(&new), NEW);
    }
}

#[test]
fn flow_mapping_value_is_replaced_in_place() {
    let old = "version: v2\nonboarding: {join_method: token, token: old, ca_path: /ca.pem} # x\n";
    let new = edited(old);
    assert_eq!(new, old.replace("old", NEW));
    assert_eq!(yaml_token(&new), NEW);
}

#[test]
fn flow_mapping_without_token_gets_one_first() {
    let new = edited("onboarding: { join_method: token }\n");
    assert_eq!(
        new,
        format!("onboarding: {{ token: {NEW}, join_method: token }}\n")
    );
    assert_eq!(yaml_token(&new), NEW);
    let new = edited("onboarding: {}\n");
    assert_eq!(new, format!("onboarding: {{token: {NEW}}}\n"));
    assert_eq!(yaml_token(&new), NEW);
}

#[test]
fn multi_line_flow_mapping_is_understood() {
    let old = "onboarding: {\n  join_method: token,  # how\n  \"token\": 'a''b'\n}\n";
    let new = edited(old);
    assert_eq!(new, old.replace("a''b", NEW));
}

#[test]
fn missing_token_is_inserted_with_the_siblings_indentation() {
    let old = "version: v2\nonboarding:\n    join_method: token\n    ca_path: /ca.pem\nstorage:\n    type: memory\n";
    let new = edited(old);
    assert_eq!(
        new,
        format!(
            "version: v2\nonboarding:\n    token: {NEW}\n    join_method: token\n    ca_path: /ca.pem\nstorage:\n    type: memory\n"
        )
    );
    assert_eq!(yaml_token(&new), NEW);
}

#[test]
fn missing_onboarding_is_appended_with_the_files_indentation() {
    let old = "version: v2\nstorage:\n   type: memory\n# end";
    let new = edited(old);
    assert_eq!(new, format!("{old}\nonboarding:\n   token: {NEW}\n"));
    assert_eq!(yaml_token(&new), NEW);
    assert_eq!(edited(""), format!("onboarding:\n  token: {NEW}\n"));
}

#[test]
fn empty_and_null_values_are_filled() {
    for old in [
        "onboarding:\n  token:\n  join_method: token\n",
        "onboarding:\n  token: \n  join_method: token\n",
        "onboarding:\n  token: # fill me\n  join_method: token\n",
        "onboarding:\n  token: ~\n",
        "onboarding: null\nversion: v2\n",
        "onboarding:\nversion: v2\n",
    ] {
        let new = edited(old);
        assert_eq!(yaml_token(&new), NEW, "{old:?} became {new:?}");
        assert!(new.contains("# fill me") == old.contains("# fill me"));
    }
}

#[test]
fn value_on_the_next_line_is_replaced_there() {
    let old = "onboarding:\n  token:\n    oldtoken\n  join_method: token\n";
    let new = edited(old);
    assert_eq!(new, old.replace("oldtoken", NEW));
}

#[test]
fn an_absolute_path_means_the_token_file() {
    let plan = plan_token_edit("onboarding:\n  token: /etc/tbot/token\n", NEW).unwrap();
    assert_eq!(plan, TokenEdit::TokenFile("/etc/tbot/token".into()));
}

#[test]
fn the_same_token_changes_nothing() {
    let old = format!("onboarding:\n  token: \"{NEW}\"\n");
    assert_eq!(edited(&old), old);
    assert_eq!(current_token(&old).unwrap().as_deref(), Some(NEW));
}

#[test]
fn token_that_yaml_would_read_as_a_number_is_quoted() {
    let digits = "12345678901234567890123456789012";
    let TokenEdit::Config(new) = plan_token_edit("onboarding:\n  token: x\n", digits).unwrap()
    else {
        panic!()
    };
    assert_eq!(new, format!("onboarding:\n  token: \"{digits}\"\n"));
    assert_eq!(yaml_token(&new), digits);
    let TokenEdit::Config(new) = plan_token_edit("a: 1\n", "1e10").unwrap() else {
        panic!()
    };
    assert_eq!(yaml_token(&new), "1e10");
}

#[test]
fn shapes_it_cannot_edit_safely_are_refused() {
    for (old, why) in [
        ("onboarding:\n  token: |\n    x\n", "block scalar"),
        ("onboarding:\n  token: *tok\n", "alias"),
        ("onboarding: x\n", "not a mapping"),
        ("onboarding:\n  token: a\n  token: b\n", "twice"),
        ("{onboarding: {token: a}}\n", "flow collection"),
        ("onboarding:\n  token: \"a\n", "not closed"),
    ] {
        let err = plan_token_edit(old, NEW).unwrap_err();
        assert!(err.contains(why), "{old:?}: {err}");
    }
}

#[test]
fn keys_that_only_look_alike_are_left_alone() {
    let old = "services:\n  - type: x\n    onboarding:\n      token: nested\nonboarding_extra: 1\n";
    let new = edited(old);
    assert!(new.starts_with(old));
    assert!(new.contains("token: nested"));
}

#[test]
fn write_keeps_mode_makes_a_backup_and_is_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tbot.yaml");
    fs::write(&path, COMMENTED).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    let written = write_token(&path, NEW, "recover-1").unwrap();
    assert!(written.changed && !written.via_token_file);
    let backup = written.backup.unwrap();
    assert_eq!(backup, dir.path().join("tbot.yaml.recover-1.bak"));
    assert_eq!(fs::read_to_string(&backup).unwrap(), COMMENTED);
    let new = fs::read_to_string(&path).unwrap();
    only_token_changed(COMMENTED, &new);
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o640
    );
    let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 2, "no temp file is left behind");
    let again = write_token(&path, NEW, "recover-1").unwrap();
    assert!(!again.changed && again.backup.is_none());
}

#[test]
fn a_second_write_in_the_same_run_keeps_the_first_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tbot.yaml");
    fs::write(&path, "onboarding:\n  token: original\n").unwrap();
    write_token(&path, "firsttoken", "run").unwrap();
    write_token(&path, "secondtoken", "run").unwrap();
    let backup = backup_path(&path, "run");
    assert_eq!(
        fs::read_to_string(backup).unwrap(),
        "onboarding:\n  token: original\n"
    );
}

#[test]
fn symlinked_config_stays_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.yaml");
    let link = dir.path().join("tbot.yaml");
    fs::write(&real, "onboarding:\n  token: old\n").unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    write_token(&link, NEW, "t").unwrap();
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(yaml_token(&fs::read_to_string(&real).unwrap()), NEW);
}

#[test]
fn token_file_named_by_the_config_gets_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    fs::write(&token_file, "old\n").unwrap();
    let config = dir.path().join("tbot.yaml");
    let text = format!("onboarding:\n  token: {}\n", token_file.display());
    fs::write(&config, &text).unwrap();
    let written = write_token(&config, NEW, "t").unwrap();
    assert!(written.via_token_file && written.changed);
    assert_eq!(fs::read_to_string(&token_file).unwrap(), format!("{NEW}\n"));
    assert_eq!(fs::read_to_string(&config).unwrap(), text);
    assert_eq!(
        fs::read_to_string(written.backup.unwrap()).unwrap(),
        "old\n"
    );
    let missing = dir.path().join("new-token");
    fs::write(
        &config,
        format!("onboarding:\n  token: {}\n", missing.display()),
    )
    .unwrap();
    write_token(&config, NEW, "t").unwrap();
    assert_eq!(fs::read_to_string(&missing).unwrap(), format!("{NEW}\n"));
    assert_eq!(
        fs::metadata(&missing).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn a_missing_config_is_an_error_naming_it() {
    let err = write_token(Path::new("/nonexistent/tbot.yaml"), NEW, "t").unwrap_err();
    assert!(err.to_string().contains("/nonexistent/tbot.yaml"), "{err}");
}

#[test]
fn a_token_is_added_under_an_onboarding_key_that_ends_the_file() {
    assert_eq!(
        edited("version: v2\nonboarding:"),
        format!("version: v2\nonboarding:\n  token: {NEW}\n")
    );
}

#[test]
fn mutated_configs_are_edited_or_refused_but_never_panic() {
    let base = "version: v2\nauth_server: auth:3025\n# the one-time token\nonboarding:\n  join_method: token\n  token: \"abc\" # from tctl\nstorage: {type: directory, path: /var/lib/teleport/bot}\nservices:\n  - type: identity\n    destination: {type: directory, path: /opt/machine-id}\n";
    let token = "0123456789abcdef0123456789abcdef";
    crate::testing::for_each_mutation(base, 3000, |text| {
        let _ = current_token(text);
        if let Ok(TokenEdit::Config(edited)) = plan_token_edit(text, token) {
            assert_eq!(
                current_token(&edited),
                Ok(Some(token.to_string())),
                "input {text:?}\nedited {edited:?}"
            );
        }
    });
}

#[test]
fn anchors_tags_and_values_over_lines_are_refused() {
    for (old, why) in [
        ("onboarding:\n  token: &t abc\n", "anchor, alias or tag"),
        ("onboarding:\n  token: !!str abc\n", "anchor, alias or tag"),
        ("onboarding: &o\n  token: abc\n", "anchor, alias or tag"),
        ("onboarding:\n  token: abc\n    def\n", "spans lines"),
        ("- onboarding\n", "not a mapping"),
        ("onboarding:\n\t token: a\n", "not valid YAML at line 2"),
    ] {
        let err = plan_token_edit(old, NEW).unwrap_err();
        assert!(err.contains(why), "{old:?}: {err}");
    }
    let old = "onboarding:\n  token: # A&B!\n    old\n";
    assert_eq!(edited(old), old.replace("old", NEW));
}

#[test]
fn only_a_mapping_with_tbots_keys_is_a_tbot_config() {
    let good = "version: v2\nauth_server: a:3025\nonboarding:\n  token: x\nstorage:\n  type: memory\nservices: []\n";
    assert_eq!(super::check_config_text(good), Ok(()));
    let outputs = good
        .replace("services", "outputs")
        .replace("auth_server", "proxy_server");
    assert_eq!(super::check_config_text(&outputs), Ok(()));
    for (text, named) in [
        ("#!/bin/sh\necho hi\n", "mapping"),
        ("- a\n- b\n", "mapping"),
        ("root:x:0:0:root:/root:/bin/bash\n", "mapping"),
        (
            "version: v2\nstorage: {}\n",
            "no onboarding, no services or outputs, no proxy_server or auth_server",
        ),
        ("a: [\n", "not YAML"),
    ] {
        let err = super::check_config_text(text).unwrap_err();
        assert!(err.contains(named), "{text:?}: {err}");
    }
}
