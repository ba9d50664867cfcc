//! The tctl-style resource verbs `rm`, `create [-f]` and `edit`: tctl's messages, exit codes,
//! backups, the editor protocol, stale revisions, and unknown fields kept through every write.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use mwi_proto::machineid::GetBotRequest;
use mwi_proto::machineid::bot_service_client::BotServiceClient;
use mwi_proto::method::auth;
use mwi_proto::proto::{GetLockRequest, GetRoleRequest};
use mwi_proto::types::{
    Metadata, ProvisionTokenSpecV2, ProvisionTokenV2, ResourceRequest, RoleConditions, RoleOptions,
    RoleV6,
};
use mwi_testkit::fixtures::{lock, target};
use prost::Message;

use crate::harness::{BIN, Lab, raw_call, run, with_admin};
use crate::unlock::{create_bot, instance_ids, join, lock_exists, put_locks, put_token};

// ---- fixtures ----

const FUTURE: &str = "from-the-future";
const NESTED_FUTURE: &str = "nested-future";

/// `inner` as field 1 of a request message.
fn wrap(inner: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    prost::encoding::bytes::encode(1, &inner.to_vec(), &mut out);
    out
}

/// The last value of length-delimited field `field` in `buf`.
fn field_bytes(buf: &[u8], field: u32) -> Option<Vec<u8>> {
    let mut rest = buf;
    let mut found = None;
    while !rest.is_empty() {
        let (number, wire) = prost::encoding::decode_key(&mut rest).ok()?;
        if wire == prost::encoding::WireType::LengthDelimited {
            let len = prost::encoding::decode_varint(&mut rest).ok()? as usize;
            if number == field {
                found = Some(rest.get(..len)?.to_vec());
            }
            rest = rest.get(len..)?;
        } else {
            prost::encoding::skip_field(
                wire,
                number,
                &mut rest,
                prost::encoding::DecodeContext::default(),
            )
            .ok()?;
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Role `name` allowing login `alice`, sent with a field a newer Teleport would have at the top
/// level (901) and one inside `spec.options` (950).
fn create_role_with_unknown_fields(lab: &Lab, name: &str) {
    let head = RoleV6 {
        kind: "role".into(),
        version: "v7".into(),
        metadata: Some(Metadata {
            name: name.into(),
            ..Default::default()
        }),
        spec: None,
        ..Default::default()
    };
    let mut options = RoleOptions {
        max_session_ttl: 3_600_000_000_000,
        ..Default::default()
    }
    .encode_to_vec();
    prost::encoding::string::encode(950, &NESTED_FUTURE.to_string(), &mut options);
    let allow = RoleConditions {
        logins: vec!["alice".into()],
        ..Default::default()
    }
    .encode_to_vec();
    let mut spec = Vec::new();
    prost::encoding::bytes::encode(1, &options, &mut spec);
    prost::encoding::bytes::encode(2, &allow, &mut spec);
    let mut role = head.encode_to_vec();
    prost::encoding::bytes::encode(5, &spec, &mut role);
    prost::encoding::string::encode(901, &FUTURE.to_string(), &mut role);
    raw_call(lab, auth::CREATE_ROLE, wrap(&role)).expect("create role with unknown fields");
}

fn stored_role(lab: &Lab, name: &str) -> Bytes {
    let req = GetRoleRequest { name: name.into() }.encode_to_vec();
    raw_call(lab, auth::GET_ROLE, req).expect("get role")
}

/// Checks both unknown fields survived, the nested one still inside `spec.options`.
fn assert_role_keeps_unknown_fields(stored: &[u8]) {
    assert!(contains(stored, FUTURE), "top-level unknown field lost");
    let options = field_bytes(stored, 5)
        .and_then(|spec| field_bytes(&spec, 1))
        .expect("spec.options");
    assert!(
        contains(&options, NESTED_FUTURE),
        "nested unknown field lost"
    );
    assert!(mwi_proto::unknown::has_unknown::<RoleV6>(stored));
}

/// Token `name` for bot `example` with an unknown field 901.
fn create_token_with_unknown_field(lab: &Lab, name: &str) {
    let token = ProvisionTokenV2 {
        kind: "token".into(),
        version: "v2".into(),
        metadata: Some(Metadata {
            name: name.into(),
            ..Default::default()
        }),
        spec: Some(ProvisionTokenSpecV2 {
            roles: vec!["Bot".into()],
            join_method: "token".into(),
            bot_name: "example".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut bytes = token.encode_to_vec();
    prost::encoding::string::encode(901, &FUTURE.to_string(), &mut bytes);
    raw_call(lab, auth::UPSERT_TOKEN_V2, wrap(&bytes)).expect("upsert token with unknown field");
}

fn stored_token(lab: &Lab, name: &str) -> Bytes {
    let req = ResourceRequest { name: name.into() }.encode_to_vec();
    raw_call(lab, auth::GET_TOKEN, req).expect("get token")
}

fn write(lab: &Lab, file: &str, text: &str) -> String {
    let path = lab.root().join(file);
    std::fs::write(&path, text).expect("write file");
    path.display().to_string()
}

/// A private temp dir for the editor's files, so a test sees what is left behind.
fn tmp_dir(lab: &Lab) -> PathBuf {
    let dir = lab.root().join("tmp");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    dir
}

fn leftovers(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

/// `mwictl edit ARGS` with `editor` as $TELEPORT_EDITOR and temp files under the lab.
fn edit(lab: &Lab, editor: &str, args: &[&str]) -> crate::harness::Run {
    let mut all = vec!["edit"];
    all.extend_from_slice(args);
    let mut cmd = lab.cmd(&all);
    cmd.env("TELEPORT_EDITOR", editor)
        .env("TMPDIR", tmp_dir(lab))
        .env("MWICTL_BIN", BIN);
    run(&mut cmd)
}

/// An editor script: `body` runs with the file as `$1`.
fn editor_script(lab: &Lab, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = lab.root().join(name);
    std::fs::write(&path, format!("#!/bin/sh\nset -e\n{body}\n")).expect("script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.display().to_string()
}

const ROLE_YAML: &str = "kind: role
version: v7
metadata:
  name: ops
spec:
  allow:
    logins: [alice]
";

// ---- rm ----

#[test]
fn rm_lock_deletes_it_with_tctls_message_and_a_backup() {
    let lab = Lab::start();
    put_locks(&lab, vec![lock("l1", target("user", "bot-x"), "m")]);
    let out = run(&mut lab.cmd(&["rm", "lock/l1"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "lock \"l1\" has been deleted\n");
    assert!(!lock_exists(&lab, "l1"));
    let backup = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("backup: "))
        .expect("a backup line");
    let text = std::fs::read_to_string(backup).expect("backup");
    assert!(text.contains("name: l1"), "{text}");
}

#[test]
fn rm_of_a_missing_resource_is_exit_3() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["rm", "role/nope"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("error: role \"nope\" not found"),
        "{}",
        out.stderr
    );
}

#[test]
fn rm_needs_a_name() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["rm", "locks"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[test]
fn rm_role_and_token_print_tctls_messages() {
    let lab = Lab::start();
    let file = write(&lab, "role.yaml", ROLE_YAML);
    assert_eq!(run(&mut lab.cmd(&["create", &file])).code, 0);
    put_token(&lab, "tok-1", "example");
    let role = run(&mut lab.cmd(&["rm", "role/ops"]));
    assert_eq!(
        role.stdout, "role \"ops\" has been deleted\n",
        "{}",
        role.stderr
    );
    let token = run(&mut lab.cmd(&["rm", "token/tok-1"]));
    assert_eq!(
        token.stdout, "token \"tok-1\" has been deleted\n",
        "{}",
        token.stderr
    );
    assert_eq!(run(&mut lab.cmd(&["rm", "role/ops"])).code, 3);
}

#[test]
fn rm_of_a_role_bots_use_is_refused_naming_them_and_bots_show_marks_it_missing_after_force() {
    let lab = Lab::start();
    let file = write(&lab, "role.yaml", ROLE_YAML);
    assert_eq!(run(&mut lab.cmd(&["create", &file])).code, 0);
    create_bot(&lab, "b1", &["ops"]);
    create_bot(&lab, "b2", &["ops"]);
    let refused = run(&mut lab.cmd(&["rm", "role/ops"]));
    assert_eq!(refused.code, 5, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .starts_with("error: role \"ops\" is used by bots \"b1\", \"b2\""),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("--remove-roles ops"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    let shown = run(&mut lab.cmd(&["bots", "show", "b1", "--format", "json"]));
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let shown: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(shown["missing_roles"], serde_json::json!([]));
    let forced = run(&mut lab.cmd(&["rm", "role/ops", "--force"]));
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    let shown = run(&mut lab.cmd(&["bots", "show", "b1", "--format", "json"]));
    let shown: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(shown["missing_roles"], serde_json::json!(["ops"]));
    let text = run(&mut lab.cmd(&["bots", "show", "b1"]));
    assert!(text.stdout.contains("ops (MISSING"), "{}", text.stdout);
}

#[test]
fn rm_bot_warns_that_its_locks_stay() {
    let lab = Lab::start();
    create_bot(&lab, "example", &[]);
    put_locks(&lab, vec![lock("l", target("user", "bot-example"), "")]);
    let out = run(&mut lab.cmd(&["rm", "bot/example"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "Bot \"example\" has been deleted\n");
    assert!(
        out.stderr
            .contains("warning: 1 lock in force still target bot \"example\""),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("mwictl unlock --bot example"),
        "{}",
        out.stderr
    );
    assert!(lock_exists(&lab, "l"), "rm bot keeps the lock, like tctl");
    let gone = with_admin(&lab, async |channel| {
        BotServiceClient::new(channel)
            .get_bot(GetBotRequest {
                bot_name: "example".into(),
            })
            .await
            .map(drop)
    });
    assert_eq!(gone.unwrap_err().code(), tonic::Code::NotFound);
}

#[test]
fn rm_bot_instance_deletes_the_instance_record() {
    let lab = Lab::start();
    create_bot(&lab, "example", &[]);
    put_token(&lab, "t", "example");
    let instance = join(&lab, "t").expect("join");
    let reference = format!("bot_instance/example/{instance}");
    let out = run(&mut lab.cmd(&["rm", &reference]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!("bot_instance \"example/{instance}\" has been deleted\n")
    );
    assert!(instance_ids(&lab, "example").is_empty());
}

// ---- create ----

#[test]
fn create_refuses_an_existing_role_without_force_and_updates_with_it() {
    let lab = Lab::start();
    let file = write(&lab, "role.yaml", ROLE_YAML);
    let first = run(&mut lab.cmd(&["create", &file]));
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.stdout, "role \"ops\" has been created\n");
    let again = run(&mut lab.cmd(&["create", &file]));
    assert_eq!(again.code, 5, "{}", again.stderr);
    assert_eq!(
        again.stderr,
        "error: role \"ops\" already exists\nhint: use -f or --force to overwrite\n"
    );
    let forced = run(&mut lab.cmd(&["create", "-f", &file]));
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert_eq!(forced.stdout, "role \"ops\" has been updated\n");
}

#[test]
fn create_reads_several_kinds_from_stdin() {
    let lab = Lab::start();
    create_bot(&lab, "example", &[]);
    let input = format!(
        "{ROLE_YAML}---
kind: lock
version: v2
metadata:
  name: from-stdin
spec:
  target:
    user: bot-example
  message: locked by a file
---
kind: token
version: v2
metadata:
  name: stdin-token
spec:
  roles: [Bot]
  join_method: token
  bot_name: example
"
    );
    let out = run(lab.cmd(&["create", "-"]).write_stdin(input));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "role \"ops\" has been created\nlock \"from-stdin\" has been created\ntoken \"stdin-token\" has been created\n"
    );
    assert!(lock_exists(&lab, "from-stdin"));
    assert!(
        join(&lab, "stdin-token").is_err(),
        "the lock on the bot user holds"
    );
}

#[test]
fn create_refuses_an_existing_lock_without_force() {
    let lab = Lab::start();
    put_locks(&lab, vec![lock("l", target("role", "dev"), "old")]);
    let file = write(
        &lab,
        "lock.yaml",
        "kind: lock\nversion: v2\nmetadata:\n  name: l\nspec:\n  target:\n    role: dev\n  message: new\n",
    );
    let out = run(&mut lab.cmd(&["create", &file]));
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("error: lock \"l\" already exists"),
        "{}",
        out.stderr
    );
    let forced = run(&mut lab.cmd(&["create", "--force", &file]));
    assert_eq!(
        forced.stdout, "lock \"l\" has been updated\n",
        "{}",
        forced.stderr
    );
    let message = lab.admin(async |mut c| {
        c.get_lock(GetLockRequest { name: "l".into() })
            .await
            .expect("lock")
            .into_inner()
            .spec
            .map(|s| s.message)
    });
    assert_eq!(message.as_deref(), Some("new"));
}

#[test]
fn create_makes_a_bot_with_its_user_and_role() {
    let lab = Lab::start();
    let file = write(
        &lab,
        "bot.yaml",
        "kind: bot\nversion: v1\nmetadata:\n  name: made\nspec:\n  roles: [access]\n",
    );
    let out = run(&mut lab.cmd(&["create", &file]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "bot \"made\" has been created\n");
    let role = run(&mut lab.cmd(&["get", "role/bot-made", "--format", "json"]));
    assert_eq!(role.code, 0, "{}", role.stderr);
}

#[test]
fn create_refuses_bot_instances_before_writing_anything() {
    let lab = Lab::start();
    let file = write(
        &lab,
        "mixed.yaml",
        &format!(
            "{ROLE_YAML}---\nkind: bot_instance\nversion: v1\nmetadata:\n  name: x\nspec:\n  bot_name: b\n  instance_id: i\n"
        ),
    );
    let out = run(&mut lab.cmd(&["create", &file]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("read-only"), "{}", out.stderr);
    assert_eq!(run(&mut lab.cmd(&["get", "role/ops"])).code, 3);
}

#[test]
fn create_names_the_file_in_parse_errors() {
    let lab = Lab::start();
    let file = write(
        &lab,
        "bad.yaml",
        "kind: role\nversion: v7\nmetadata:\n  name: r\nspec:\n  alow: {}\n",
    );
    let out = run(&mut lab.cmd(&["create", &file]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with(&format!("error: {file}: `spec.alow`: unknown key")),
        "{}",
        out.stderr
    );
    let empty = write(&lab, "empty.yaml", "\n");
    let out = run(&mut lab.cmd(&["create", &empty]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("no resources found, empty input?"),
        "{}",
        out.stderr
    );
}

#[test]
fn create_force_keeps_the_unknown_fields_of_the_role_it_overwrites() {
    let lab = Lab::start();
    create_role_with_unknown_fields(&lab, "ops");
    let file = write(
        &lab,
        "role.yaml",
        &ROLE_YAML.replace("[alice]", "[alice, bob]"),
    );
    let out = run(&mut lab.cmd(&["create", "-f", &file]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let stored = stored_role(&lab, "ops");
    assert_role_keeps_unknown_fields(&stored);
    let role = RoleV6::decode(stored).expect("role");
    assert_eq!(
        role.spec.unwrap().allow.unwrap().logins,
        vec!["alice", "bob"]
    );
}

#[test]
fn create_force_keeps_the_unknown_fields_of_the_token_it_overwrites() {
    let lab = Lab::start();
    create_token_with_unknown_field(&lab, "tok-unknown");
    let file = write(
        &lab,
        "token.yaml",
        "kind: token\nversion: v2\nmetadata:\n  name: tok-unknown\nspec:\n  roles: [Bot]\n  join_method: token\n  bot_name: other\n",
    );
    let out = run(&mut lab.cmd(&["create", "-f", &file]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "token \"tok-unknown\" has been updated\n");
    let stored = stored_token(&lab, "tok-unknown");
    assert!(contains(&stored, FUTURE), "unknown field lost");
    let token = ProvisionTokenV2::decode(stored).expect("token");
    assert_eq!(token.spec.unwrap().bot_name, "other");
}

// ---- edit ----

#[test]
fn edit_applies_the_editors_change_to_a_role() {
    let lab = Lab::start();
    let file = write(&lab, "role.yaml", ROLE_YAML);
    assert_eq!(run(&mut lab.cmd(&["create", &file])).code, 0);
    let out = edit(&lab, "sed -i s/alice/bob/", &["role/ops"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "role \"ops\" has been updated\n");
    let role = RoleV6::decode(stored_role(&lab, "ops")).expect("role");
    assert_eq!(role.spec.unwrap().allow.unwrap().logins, vec!["bob"]);
    assert!(
        leftovers(&tmp_dir(&lab)).is_empty(),
        "the temp file is removed"
    );
}

#[test]
fn edit_writes_a_private_teleport_resource_file() {
    let lab = Lab::start();
    let file = write(&lab, "role.yaml", ROLE_YAML);
    assert_eq!(run(&mut lab.cmd(&["create", &file])).code, 0);
    let seen = lab.root().join("seen");
    let script = editor_script(
        &lab,
        "inspect.sh",
        &format!(
            "basename \"$1\" > {seen}\nstat -c %a \"$1\" >> {seen}",
            seen = seen.display()
        ),
    );
    let out = edit(&lab, &script, &["role/ops"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let seen = std::fs::read_to_string(seen).expect("the editor ran");
    let mut lines = seen.lines();
    let name = lines.next().unwrap_or_default();
    assert!(
        name.starts_with("teleport-resource") && name.ends_with(".yaml"),
        "{name}"
    );
    assert_eq!(lines.next(), Some("600"));
}

#[test]
fn edit_with_no_change_is_canceled_without_a_write() {
    let lab = Lab::start();
    let file = write(&lab, "role.yaml", ROLE_YAML);
    assert_eq!(run(&mut lab.cmd(&["create", &file])).code, 0);
    let before = stored_role(&lab, "ops");
    let out = edit(&lab, "true", &["role/ops"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "edit canceled, no changes made\n");
    assert_eq!(stored_role(&lab, "ops"), before);
}

#[test]
fn edit_skips_the_update_when_the_editor_fails() {
    let lab = Lab::start();
    let file = write(&lab, "role.yaml", ROLE_YAML);
    assert_eq!(run(&mut lab.cmd(&["create", &file])).code, 0);
    let out = edit(&lab, "false", &["role/ops"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "error: the editor `false` exited with status 1; skipping resource update\n"
    );
}

#[test]
fn edit_refuses_a_rename_and_keeps_the_edit() {
    let lab = Lab::start();
    let file = write(&lab, "role.yaml", ROLE_YAML);
    assert_eq!(run(&mut lab.cmd(&["create", &file])).code, 0);
    let out = edit(&lab, "sed -i s/name:.ops/name:\\x20renamed/", &["role/ops"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("error: renaming resources is not supported"),
        "{}",
        out.stderr
    );
    let kept = leftovers(&tmp_dir(&lab));
    assert_eq!(kept.len(), 1, "the edit is kept");
    assert!(
        out.stderr.contains(&kept[0].display().to_string()),
        "{}",
        out.stderr
    );
}

#[test]
fn edit_that_does_not_parse_keeps_the_file_and_says_where() {
    let lab = Lab::start();
    let file = write(&lab, "role.yaml", ROLE_YAML);
    assert_eq!(run(&mut lab.cmd(&["create", &file])).code, 0);
    let out = edit(&lab, "sed -i s/logins:/loginz:/", &["role/ops"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("error: the edited resource does not parse: "),
        "{}",
        out.stderr
    );
    let kept = leftovers(&tmp_dir(&lab));
    assert_eq!(kept.len(), 1);
    let text = std::fs::read_to_string(&kept[0]).expect("kept file");
    assert!(text.contains("loginz"), "{text}");
}

#[test]
fn edit_of_a_role_changed_meanwhile_is_a_conflict_unless_forced() {
    let lab = Lab::start();
    let file = write(&lab, "role.yaml", ROLE_YAML);
    assert_eq!(run(&mut lab.cmd(&["create", &file])).code, 0);
    let other = write(&lab, "other.yaml", &ROLE_YAML.replace("alice", "carol"));
    // The editor edits the file while someone else overwrites the role on the server.
    let script = editor_script(
        &lab,
        "race.sh",
        &format!("sed -i s/alice/bob/ \"$1\"\n\"$MWICTL_BIN\" create -f {other} >/dev/null"),
    );
    let out = edit(&lab, &script, &["role/ops"]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(out.stderr.contains("stale revision"), "{}", out.stderr);
    assert!(out.stderr.contains("--force"), "{}", out.stderr);
    let role = RoleV6::decode(stored_role(&lab, "ops")).expect("role");
    assert_eq!(role.spec.unwrap().allow.unwrap().logins, vec!["carol"]);
    let dave = write(&lab, "dave.yaml", &ROLE_YAML.replace("alice", "dave"));
    let script = editor_script(
        &lab,
        "race-again.sh",
        &format!("sed -i s/carol/bob/ \"$1\"\n\"$MWICTL_BIN\" create -f {dave} >/dev/null"),
    );
    let forced = edit(&lab, &script, &["role/ops", "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    let role = RoleV6::decode(stored_role(&lab, "ops")).expect("role");
    assert_eq!(role.spec.unwrap().allow.unwrap().logins, vec!["bob"]);
}

#[test]
fn edit_of_a_lock_changed_meanwhile_is_a_conflict() {
    let lab = Lab::start();
    put_locks(&lab, vec![lock("l", target("role", "dev"), "first")]);
    let other = write(
        &lab,
        "other.yaml",
        "kind: lock\nversion: v2\nmetadata:\n  name: l\nspec:\n  target:\n    role: dev\n  message: second\n",
    );
    let script = editor_script(
        &lab,
        "race.sh",
        &format!("sed -i s/first/mine/ \"$1\"\n\"$MWICTL_BIN\" create -f {other} >/dev/null"),
    );
    let out = edit(&lab, &script, &["lock/l"]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("error: lock \"l\" changed on the server while it was being edited"),
        "{}",
        out.stderr
    );
    let calm = edit(&lab, "sed -i s/second/third/", &["lock/l"]);
    assert_eq!(calm.code, 0, "{}", calm.stderr);
    assert_eq!(calm.stdout, "lock \"l\" has been updated\n");
}

#[test]
fn edit_keeps_the_unknown_fields_of_a_role() {
    let lab = Lab::start();
    create_role_with_unknown_fields(&lab, "ops");
    let out = edit(&lab, "sed -i s/alice/bob/", &["role/ops"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let stored = stored_role(&lab, "ops");
    assert_role_keeps_unknown_fields(&stored);
    let role = RoleV6::decode(stored).expect("role");
    assert_eq!(role.spec.unwrap().allow.unwrap().logins, vec!["bob"]);
}

#[test]
fn edit_keeps_the_unknown_fields_of_a_token() {
    let lab = Lab::start();
    create_token_with_unknown_field(&lab, "tok-unknown");
    let out = edit(
        &lab,
        "sed -i s/bot_name:.example/bot_name:\\x20other/",
        &["token/tok-unknown"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "token \"tok-unknown\" has been updated\n");
    let stored = stored_token(&lab, "tok-unknown");
    assert!(contains(&stored, FUTURE), "unknown field lost");
    let token = ProvisionTokenV2::decode(stored).expect("token");
    assert_eq!(token.spec.unwrap().bot_name, "other");
}

#[test]
fn edit_of_a_bot_updates_only_the_changed_spec_fields() {
    let lab = Lab::start();
    create_bot(&lab, "example", &["alpha"]);
    let out = edit(&lab, "sed -i s/alpha/beta/", &["bot/example"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "bot \"example\" has been updated\n");
    let roles = with_admin(&lab, async |channel| {
        BotServiceClient::new(channel)
            .get_bot(GetBotRequest {
                bot_name: "example".into(),
            })
            .await
            .expect("bot")
            .into_inner()
            .spec
            .map(|s| s.roles)
    });
    assert_eq!(roles, Some(vec!["beta".to_owned()]));
}

#[test]
fn edit_of_a_bot_instance_is_refused() {
    let lab = Lab::start();
    let out = edit(&lab, "true", &["bot_instance/example/0000"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("read-only"), "{}", out.stderr);
}
