//! Admin MFA and runbook automation against a lab started with `--admin-mfa`: a normal user's
//! identity is refused on admin-level requests with one line and exit 7 and changes nothing;
//! the lab admin and a bot's identity output (written by `lab bot --oneshot`) are exempt.

use std::path::{Path, PathBuf};

use mwi_testkit::fixtures::{lock, target};

use crate::harness::{Lab, Run, run};
use crate::unlock::{create_bot, lock_exists, put_locks};

/// The role of the runbook in the README: what `unlock --bot` and `recover` need (locks, bots,
/// their instances, join tokens), nothing else. Not named `editor`: on a real cluster that is
/// Teleport's preset role, which `create -f` would replace.
const RUNBOOK_ROLE: &str = "kind: role
version: v7
metadata:
  name: runbook-editor
spec:
  allow:
    rules:
      - resources: [lock, bot, bot_instance, token]
        verbs: [list, read, create, update, delete]
      - resources: [role, user]
        verbs: [list, read]
";

fn ok(out: Run) -> Run {
    assert_eq!(
        out.code, 0,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    out
}

fn path_str(path: &Path) -> String {
    path.display().to_string()
}

/// Creates the runbook role as the lab admin (exempt from admin MFA).
fn create_runbook_role(lab: &Lab) {
    let file = lab.root().join("runbook-editor.yaml");
    std::fs::write(&file, RUNBOOK_ROLE).expect("write role");
    ok(run(&mut lab.cmd(&["create", "-f", &path_str(&file)])));
}

/// A normal user's identity (what `tsh login` gives a person) with the runbook role.
fn user_identity(lab: &Lab, name: &str, ttl: &str) -> PathBuf {
    let out = lab.root().join(format!("{name}.identity"));
    let args = [
        "lab",
        "user",
        name,
        "--roles",
        "runbook-editor",
        "--ttl",
        ttl,
        "-o",
        &path_str(&out),
    ];
    ok(run(&mut lab.cmd(&args)));
    out
}

/// The runbook: bot `ops` with the runbook role, its tbot.yaml with an identity output, one
/// `lab bot --oneshot` run; returns the identity output's file.
fn ops_bot_identity(lab: &Lab) -> PathBuf {
    ops_bot_identity_with(lab)
}

/// Runs the `ops` bot once more (`lab bot -c tbot.yaml --oneshot EXTRA`): renews and rewrites its
/// outputs.
fn rerun_ops_bot(lab: &Lab, extra: &[&str]) {
    let config = path_str(&lab.root().join("ops").join("tbot.yaml"));
    let mut args = vec!["lab", "bot", "-c", &config, "--oneshot"];
    args.extend_from_slice(extra);
    ok(run(&mut lab.cmd(&args)));
}

fn ops_bot_identity_with(lab: &Lab) -> PathBuf {
    let added = ok(run(&mut lab.cmd(&[
        "bots",
        "add",
        "ops",
        "--legacy",
        "--roles",
        "runbook-editor",
        "--format",
        "json",
    ])));
    let added: serde_json::Value = serde_json::from_str(&added.stdout).expect("bots add JSON");
    let token = added["token_id"].as_str().expect("a token");
    let dir = lab.root().join("ops");
    let config = dir.join("tbot.yaml");
    std::fs::create_dir_all(&dir).expect("bot dir");
    std::fs::write(
        &config,
        format!(
            "version: v2\n\
             onboarding:\n  join_method: token\n  token: {token}\n\
             storage:\n  type: directory\n  path: {storage}\n\
             services:\n  - type: identity\n    roles: [runbook-editor]\n    destination:\n      type: directory\n      path: {out}\n",
            storage = dir.join("data").display(),
            out = dir.join("out").display(),
        ),
    )
    .expect("write tbot.yaml");
    ok(run(&mut lab.cmd(&[
        "lab",
        "bot",
        "-c",
        &path_str(&config),
        "--oneshot",
    ])));
    let identity = dir.join("out").join("identity");
    assert!(identity.is_file(), "the identity output is written once");
    identity
}

/// A lock on bot `other`'s user, as a generation mismatch leaves it.
fn lock_other(lab: &Lab) {
    create_bot(lab, "other", &[]);
    put_locks(
        lab,
        vec![lock(
            "other-lock",
            target("user", "bot-other"),
            "generation mismatch",
        )],
    );
}

/// The one error line and the hint of an admin-MFA refusal.
fn assert_admin_mfa_refusal(out: &Run, identity: &Path) {
    assert_eq!(out.code, 7, "stderr: {}", out.stderr);
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{}", out.stderr);
    for words in [
        "admin-level API request requires MFA verification",
        "WebAuthn",
        &path_str(identity),
    ] {
        assert!(errors[0].contains(words), "{words:?} in {}", errors[0]);
    }
    let hint = out
        .stderr
        .lines()
        .find(|l| l.starts_with("hint: "))
        .unwrap_or_default();
    assert!(hint.contains("bot's identity output"), "{hint}");
    assert!(hint.contains("auth host"), "{hint}");
}

#[test]
fn admin_mfa_refuses_a_normal_users_writes_in_one_line_exit_7_and_changes_nothing() {
    let lab = Lab::start_with(&["--admin-mfa"]);
    create_runbook_role(&lab);
    lock_other(&lab);
    let alice = user_identity(&lab, "alice", "1h");
    let alice_flag = path_str(&alice);

    // Reads are not admin-level.
    let ls = ok(run(&mut lab.cmd(&["-i", &alice_flag, "locks", "ls"])));
    assert!(ls.stdout.contains("other-lock"), "{}", ls.stdout);

    for args in [
        vec!["-i", &alice_flag, "rm", "lock/other-lock"],
        vec!["-i", &alice_flag, "unlock", "other-lock", "--yes"],
        vec!["-i", &alice_flag, "unlock", "--bot", "other", "--yes"],
    ] {
        let out = run(&mut lab.cmd(&args));
        assert_admin_mfa_refusal(&out, &alice);
        // The server state, read back: the lock is still there.
        assert!(lock_exists(&lab, "other-lock"), "{args:?} changed nothing");
    }
}

#[test]
fn admin_mfa_exempts_the_lab_admin_and_a_bots_identity_output() {
    let lab = Lab::start_with(&["--admin-mfa"]);
    create_runbook_role(&lab);
    let ops = ops_bot_identity(&lab);

    lock_other(&lab);
    ok(run(&mut lab.cmd(&["rm", "lock/other-lock"])));
    assert!(!lock_exists(&lab, "other-lock"));

    lock_other_again(&lab);
    ok(run(&mut lab.cmd(&[
        "-i",
        &path_str(&ops),
        "rm",
        "lock/other-lock",
    ])));
    assert!(!lock_exists(&lab, "other-lock"));
}

fn lock_other_again(lab: &Lab) {
    put_locks(
        lab,
        vec![lock(
            "other-lock",
            target("user", "bot-other"),
            "generation mismatch",
        )],
    );
}

#[test]
fn runbook_an_ops_bots_identity_unlocks_and_recovers_with_admin_mfa_on() {
    let lab = Lab::start_with(&["--admin-mfa"]);
    create_runbook_role(&lab);
    let ops = path_str(&ops_bot_identity(&lab));

    lock_other(&lab);
    ok(run(
        &mut lab.cmd(&["-i", &ops, "unlock", "--bot", "other", "--yes"])
    ));
    assert!(!lock_exists(&lab, "other-lock"), "unlock removed the lock");

    lock_other_again(&lab);
    let out = ok(run(&mut lab.cmd(&[
        "-i",
        &ops,
        "recover",
        "generation-mismatch",
        "--bot",
        "other",
        "--yes",
        "--format",
        "json",
    ])));
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("recover JSON");
    assert_eq!(report["schema"], "mwictl.recover/v1", "{report}");
    assert_eq!(report["bot"], "other", "{report}");
    assert!(report["created"]["token"]["name"].is_string(), "{report}");
    assert!(!lock_exists(&lab, "other-lock"), "recover removed the lock");
}

#[test]
fn an_expired_bot_identity_is_named_with_tbots_renewal_and_read_again_on_every_run() {
    let lab = Lab::start();
    create_runbook_role(&lab);
    let ops = ops_bot_identity(&lab);
    let ops_flag = path_str(&ops);
    ok(run(&mut lab.cmd(&["-i", &ops_flag, "locks", "ls"])));

    // A second instance of the bot (its own storage, a new token) rewrites the output with a
    // short-lived certificate; the next run reads the new file.
    let added = ok(run(&mut lab.cmd(&[
        "bots",
        "instances",
        "add",
        "ops",
        "--legacy",
        "--format",
        "json",
    ])));
    let added: serde_json::Value = serde_json::from_str(&added.stdout).expect("instances add JSON");
    let token = added["token_id"].as_str().expect("a token");
    let storage = path_str(&lab.root().join("ops").join("short"));
    rerun_ops_bot(
        &lab,
        &[
            "--credential-ttl",
            "2s",
            "--data-dir",
            &storage,
            "--token",
            token,
        ],
    );
    std::thread::sleep(std::time::Duration::from_secs(3));
    let out = run(&mut lab.cmd(&["-i", &ops_flag, "locks", "ls"]));
    assert_eq!(out.code, 4, "{}", out.stderr);
    let mut lines = out.stderr.lines();
    let error = lines.next().unwrap_or_default();
    assert!(
        error.starts_with(&format!(
            "error: the client certificate in {ops_flag} expired at "
        )),
        "{error}"
    );
    let hint = lines.next().unwrap_or_default();
    let named = format!("hint: {ops_flag} is bot ops's identity output");
    for words in [
        named.as_str(),
        "tbot renews every 20 minutes",
        "mwictl lab bot -c FILE --oneshot",
    ] {
        assert!(hint.contains(words), "{words:?} in {hint}");
    }

    // The first instance renews and rewrites it: the same command works again.
    rerun_ops_bot(&lab, &[]);
    ok(run(&mut lab.cmd(&["-i", &ops_flag, "locks", "ls"])));
}

/// The role the tests grant is the one the README's runbook shows.
#[test]
fn the_readme_runbook_shows_the_role_these_tests_grant() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let block = readme
        .split("# runbook-editor.yaml:")
        .nth(1)
        .and_then(|rest| rest.split_once('\n'))
        .and_then(|(_, yaml)| yaml.split("```").next())
        .expect("the runbook role in README.md");
    assert_eq!(block, RUNBOOK_ROLE);
}
