//! `mwictl recover bk-keypair-lost` (S11) and `bk-token-wiped` (S10) against the lab with a real
//! bound-keypair lab agent: the incident caused for real, recovered with `--yes --restart-cmd
//! --wait`, the agent renewing afterwards, and the server state read back over gRPC; bad input
//! refused in one line with nothing changed.

use std::path::{Path, PathBuf};

use mwi_proto::types::{ProvisionTokenV2, ResourceRequest};

use crate::bots::put_roles;
use crate::harness::*;

const BOT: &str = "example";

/// A bound-keypair bot joined by the lab agent from a tbot.yaml: `bots add` (a bound-keypair
/// token, as tctl 19), its joining URI's token and secret in onboarding, storage `data/`.
struct Joined {
    dir: PathBuf,
    config: PathBuf,
    token: String,
}

impl Joined {
    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn config_arg(&self) -> String {
        self.config.display().to_string()
    }

    fn restart(&self) -> String {
        format!("{BIN} lab bot -c {} --oneshot", self.config.display())
    }
}

fn join_bot(lab: &Lab) -> Joined {
    put_roles(lab, &["access"]);
    let out = run(&mut lab.cmd(&["bots", "add", BOT, "--roles", "access"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let uri = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("The bot joining URI: "))
        .expect("the joining URI line");
    let (token, secret) = uri
        .strip_prefix("tbot+auth+bound-keypair://")
        .and_then(|rest| rest.split('@').next())
        .and_then(|user| user.split_once(':'))
        .expect("token and secret in the URI");
    let dir = lab.root().join("bk-bot");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("tbot.yaml");
    std::fs::write(
        &config,
        format!(
            "# bound-keypair bot (owner: platform)\nversion: v2\nauth_server: {}\nonboarding:\n  join_method: bound_keypair\n  token: {token}  # not a secret\n  bound_keypair:\n    registration_secret: {secret}\nstorage:\n  type: directory\n  path: {}\nservices:\n  - type: identity\n    destination:\n      type: directory\n      path: {}\n",
            lab.addr,
            dir.join("data").display(),
            dir.join("out").display()
        ),
    )
    .unwrap();
    let joined = Joined {
        dir,
        config,
        token: token.to_string(),
    };
    let first = agent(lab, &joined);
    assert_eq!(first.code, 0, "{}", first.stderr);
    joined
}

fn agent(lab: &Lab, joined: &Joined) -> Run {
    run(&mut lab.cmd(&["lab", "bot", "-c", &joined.config_arg(), "--oneshot"]))
}

fn get_token(lab: &Lab, name: &str) -> Option<ProvisionTokenV2> {
    lab.admin(async |mut c| {
        c.get_token(ResourceRequest { name: name.into() })
            .await
            .ok()
            .map(|r| r.into_inner())
    })
}

fn bot_tokens(lab: &Lab) -> Vec<ProvisionTokenV2> {
    crate::recover::bot_tokens(lab, BOT)
        .iter()
        .filter_map(|n| get_token(lab, n))
        .collect()
}

fn status(t: &ProvisionTokenV2) -> mwi_proto::types::ProvisionTokenStatusV2BoundKeypair {
    t.status
        .clone()
        .and_then(|s| s.bound_keypair)
        .unwrap_or_default()
}

fn recover(lab: &Lab, args: &[&str]) -> (i32, serde_json::Value, String) {
    crate::recover::recover_json(lab, args)
}

/// A plan's text as a snapshot, with the run's token names, keys and hosts hidden.
fn plan_snapshot(name: &str, text: &str) {
    let mut settings = snapshot_settings();
    settings.add_filter(r"bot-example-[0-9a-f]{8}", "[BKTOKEN]");
    settings.add_filter(r"SHA256:[A-Za-z0-9+/]+", "SHA256:[FP]");
    settings.add_filter(r"host \S+ generation", "host [HOST] generation");
    settings.bind(|| insta::assert_snapshot!(name, text));
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn keypair_lost_issues_a_fresh_token_rewrites_tbot_yaml_and_the_agent_joins_again() {
    let lab = Lab::start();
    let joined = join_bot(&lab);
    let old_secret_line = read(&joined.config);
    // The storage is wiped and holds a new key the token does not know.
    std::fs::remove_dir_all(joined.data()).unwrap();
    let data = joined.data().display().to_string();
    let made = run(&mut lab.cmd(&["lab", "keypair", "create", "--storage", &data]));
    assert_eq!(made.code, 0, "{}", made.stderr);
    let stranger = read(&joined.data().join("id_bkp.pub"));
    let locked_out = agent(&lab, &joined);
    assert_ne!(locked_out.code, 0, "{}", locked_out.stderr);

    let plan = run(&mut lab.cmd(&[
        "recover",
        "bk-keypair-lost",
        "--bot",
        BOT,
        "--tbot-config",
        &joined.config_arg(),
        "--storage",
        &data,
        "--plan",
        "--format",
        "json",
    ]));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let kinds: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "show_evidence",
            "issue_bound_keypair_token",
            "delete_token",
            "update_tbot_bound_keypair",
            "move_stale_keypair",
            "verify"
        ]
    );
    assert!(
        get_token(&lab, &joined.token).is_some(),
        "--plan changes nothing"
    );
    let text = run(&mut lab.cmd(&[
        "recover",
        "bk-keypair-lost",
        "--bot",
        BOT,
        "--tbot-config",
        &joined.config_arg(),
        "--storage",
        &data,
        "--plan",
    ]));
    assert_eq!(text.code, 0, "{}", text.stderr);
    plan_snapshot("recover_bk_keypair_lost_plan", &lab.redact(&text.stdout));

    let restart = joined.restart();
    let (code, json, stderr) = recover(
        &lab,
        &[
            "bk-keypair-lost",
            "--bot",
            BOT,
            "--tbot-config",
            &joined.config_arg(),
            "--storage",
            &data,
            "--restart-cmd",
            &restart,
            "--wait",
            "30s",
            "--yes",
        ],
    );
    assert_eq!(code, 0, "{stderr}\n{json:#}");
    assert_eq!(json["verification"]["state"], "verified", "{json:#}");
    let fresh = json["created"]["bound_keypair_token"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let secret = json["created"]["bound_keypair_token"]["registration_secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(fresh, joined.token);

    // Server: the old token is gone, the fresh one bound to the key the agent now holds, one
    // recovery used by the onboarding.
    assert!(get_token(&lab, &joined.token).is_none());
    let tokens = bot_tokens(&lab);
    assert_eq!(tokens.len(), 1);
    let s = status(&tokens[0]);
    let key = read(&joined.data().join("id_bkp.pub"));
    assert_eq!(s.bound_public_key, key.trim());
    assert_ne!(key, stranger);
    assert_eq!((s.recovery_count, s.registration_secret.as_str()), (1, ""));

    // tbot.yaml: only the token and the secret changed; the backup holds the old file.
    let new_config = read(&joined.config);
    let old_token_and_secret = old_secret_line
        .lines()
        .find(|l| l.trim_start().starts_with("registration_secret:"))
        .unwrap()
        .trim_start()
        .trim_start_matches("registration_secret: ")
        .to_string();
    assert_eq!(
        new_config,
        old_secret_line
            .replace(&joined.token, &fresh)
            .replace(&old_token_and_secret, &secret)
    );
    let backups: Vec<String> = json["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_string())
        .collect();
    assert!(
        backups
            .iter()
            .any(|b| read(Path::new(b)) == old_secret_line),
        "{backups:?}"
    );
    // The stale files were moved into the run's backups, not deleted.
    let moved = backups
        .iter()
        .map(PathBuf::from)
        .find(|b| b.ends_with("storage"))
        .expect("the storage backup");
    assert_eq!(read(&moved.join("id_bkp.pub")), stranger);
    // The old token's backup restores it whole (status included).
    let token_backup = backups
        .iter()
        .find(|b| b.contains(&format!("token-{}", joined.token)))
        .expect("the token backup");
    assert!(read(Path::new(token_backup)).contains("bound_public_key"));

    // The agent keeps renewing with the fresh token.
    let renewed = agent(&lab, &joined);
    assert_eq!(renewed.code, 0, "{}", renewed.stderr);
    assert!(
        renewed.stderr.contains("Successfully renewed bot identity"),
        "{}",
        renewed.stderr
    );
}

/// Runs `recover ARGS --bot example --yes`, which must fail with a usage error whose first line
/// holds `needle`, leaving the bot's tokens and tbot.yaml as they were.
fn refused(lab: &Lab, joined: &Joined, args: &[&str], needle: &str) {
    let (tokens, config) = (bot_tokens(lab), read(&joined.config));
    let mut all = vec!["recover"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--bot", BOT, "--yes"]);
    let out = run(&mut lab.cmd(&all));
    assert_eq!(out.code, 2, "{args:?}: {}\n{}", out.stdout, out.stderr);
    let first = out.stderr.lines().next().unwrap_or_default();
    assert!(first.contains(needle), "{args:?}: {}", out.stderr);
    assert_eq!(bot_tokens(lab), tokens, "{args:?} changed a token");
    assert_eq!(read(&joined.config), config, "{args:?} changed tbot.yaml");
}

#[test]
fn bad_input_is_one_line_naming_it_and_changes_nothing() {
    let lab = Lab::start();
    let joined = join_bot(&lab);
    refused(
        &lab,
        &joined,
        &["bk-keypair-lost", "--public-key", "ssh-ed25519 garbage"],
        "--public-key: ",
    );
    let legacy = crate::instances::new_token(&lab, BOT);
    refused(
        &lab,
        &joined,
        &["bk-keypair-lost", "--token", &legacy],
        "not bound_keypair",
    );
    // A --token that names no token while the bot has one: a typo, not a wiped token.
    refused(
        &lab,
        &joined,
        &["bk-keypair-lost", "--token", "no-such-token"],
        "--token no-such-token: no such token, and bot \"example\" has the bound-keypair token ",
    );
    // A second bound-keypair token: which one is meant is unclear without --token.
    let second = run(&mut lab.cmd(&["bots", "instances", "add", BOT]));
    assert_eq!(second.code, 0, "{}", second.stderr);
    refused(&lab, &joined, &["bk-keypair-lost"], "bound-keypair tokens");
}

/// A run killed after each step continues on the rerun: one fresh token (the journaled one, not
/// a second), the old one deleted once, tbot.yaml written once, and the agent joins.
#[test]
fn keypair_lost_killed_after_any_step_converges_on_the_rerun() {
    for crash_after in ["2", "3", "4:unjournaled"] {
        let lab = Lab::start();
        let joined = join_bot(&lab);
        std::fs::remove_dir_all(joined.data()).unwrap();
        let data = joined.data().display().to_string();
        let restart = joined.restart();
        let config = joined.config_arg();
        let args = [
            "recover",
            "bk-keypair-lost",
            "--bot",
            BOT,
            "--tbot-config",
            &config,
            "--storage",
            &data,
            "--restart-cmd",
            &restart,
            "--wait",
            "30s",
            "--yes",
            "--format",
            "json",
        ];
        let crashed = run(lab
            .cmd(&args)
            .env("MWICTL_TEST_CRASH_AFTER_STEP", crash_after));
        assert_ne!(crashed.code, 0, "{crash_after}: {}", crashed.stderr);
        let again = run(&mut lab.cmd(&args));
        assert_eq!(again.code, 0, "{crash_after}: {}", again.stderr);
        let json: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
        assert_eq!(json["resumed"], true, "{crash_after}");
        assert_eq!(json["verification"]["state"], "verified", "{crash_after}");
        let tokens = bot_tokens(&lab);
        assert_eq!(tokens.len(), 1, "{crash_after}: one fresh token");
        let fresh = tokens[0].metadata.as_ref().unwrap().name.clone();
        assert_ne!(fresh, joined.token, "{crash_after}");
        assert_eq!(
            crate::recover::config_token(&joined.config),
            fresh,
            "{crash_after}"
        );
        assert_eq!(status(&tokens[0]).recovery_count, 1, "{crash_after}");
    }
}

/// Wipes the token the way a careless `create -f` of a spec-only file did (teleport#68211): the
/// token deleted and created again from its spec, without status.
fn wipe_token(lab: &Lab, name: &str) -> ProvisionTokenV2 {
    let mut spec_only = get_token(lab, name).expect("the token");
    spec_only.status = None;
    if let Some(m) = spec_only.metadata.as_mut() {
        m.revision.clear();
    }
    let rm = run(&mut lab.cmd(&["tokens", "rm", name]));
    assert_eq!(rm.code, 0, "{}", rm.stderr);
    crate::bound_keypair::put_token(lab, spec_only);
    let wiped = get_token(lab, name).expect("the wiped token");
    assert_eq!(status(&wiped).bound_public_key, "");
    wiped
}

fn mode_of(t: &ProvisionTokenV2) -> String {
    t.spec
        .as_ref()
        .and_then(|s| s.bound_keypair.as_ref())
        .and_then(|b| b.recovery.as_ref())
        .map(|r| r.mode.clone())
        .unwrap_or_default()
}

#[test]
fn token_wiped_is_recreated_from_the_storage_the_agent_renews_and_the_mode_is_back() {
    let lab = Lab::start();
    let joined = join_bot(&lab);
    let before = get_token(&lab, &joined.token).unwrap();
    let bound_before = status(&before);
    wipe_token(&lab, &joined.token);
    let refused = agent(&lab, &joined);
    assert_ne!(refused.code, 0, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("cannot perform first bound keypair join with existing credentials"),
        "{}",
        refused.stderr
    );

    let data = joined.data().display().to_string();
    let text = run(&mut lab.cmd(&[
        "recover",
        "bk-token-wiped",
        "--bot",
        BOT,
        "--storage",
        &data,
        "--plan",
    ]));
    assert_eq!(text.code, 0, "{}", text.stderr);
    plan_snapshot("recover_bk_token_wiped_plan", &lab.redact(&text.stdout));

    let restart = joined.restart();
    let (code, json, stderr) = recover(
        &lab,
        &[
            "bk-token-wiped",
            "--bot",
            BOT,
            "--storage",
            &data,
            "--restart-cmd",
            &restart,
            "--wait",
            "30s",
            "--yes",
        ],
    );
    assert_eq!(code, 0, "{stderr}\n{json:#}");
    let kinds: Vec<&str> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "show_evidence",
            "recreate_bound_keypair_token",
            "run_restart",
            "wait_for_recovery",
            "restore_token_mode",
            "ensure_recovery_headroom"
        ]
    );
    // The token is bound again to the bot's key and instance, back in its old mode.
    let after = get_token(&lab, &joined.token).unwrap();
    let s = status(&after);
    assert_eq!(s.bound_public_key, bound_before.bound_public_key);
    assert_eq!(s.bound_bot_instance_id, bound_before.bound_bot_instance_id);
    assert_eq!(mode_of(&after), mode_of(&before));
    assert_eq!(crate::recover::bot_user_locks(&lab, BOT), 0);
    // The agent keeps renewing in that mode: its join state matches the token.
    for _ in 0..2 {
        let renewed = agent(&lab, &joined);
        assert_eq!(renewed.code, 0, "{}", renewed.stderr);
        assert!(
            renewed.stderr.contains("Successfully renewed bot identity"),
            "{}",
            renewed.stderr
        );
    }
}

#[test]
fn token_wiped_bad_input_is_one_line_and_changes_nothing() {
    let lab = Lab::start();
    let joined = join_bot(&lab);
    let empty = lab.root().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let empty = empty.display().to_string();
    refused(
        &lab,
        &joined,
        &["bk-token-wiped", "--storage", &empty],
        "no id_bkp.pub in it",
    );
    refused(
        &lab,
        &joined,
        &["bk-token-wiped", "--public-key", "not-a-key"],
        "--public-key: ",
    );
    // Another bot's key does not match the key the token is still bound to.
    let other = lab.root().join("other");
    let other_dir = other.display().to_string();
    let made = run(&mut lab.cmd(&["lab", "keypair", "create", "--storage", &other_dir]));
    assert_eq!(made.code, 0, "{}", made.stderr);
    let other_key = format!("@{}", other.join("id_bkp.pub").display());
    refused(
        &lab,
        &joined,
        &["bk-token-wiped", "--public-key", &other_key],
        "does not match the key token",
    );
    let legacy = crate::instances::new_token(&lab, BOT);
    refused(
        &lab,
        &joined,
        &[
            "bk-token-wiped",
            "--token",
            &legacy,
            "--storage",
            &other_dir,
        ],
        "not bound_keypair",
    );
    let second = run(&mut lab.cmd(&["bots", "instances", "add", BOT]));
    assert_eq!(second.code, 0, "{}", second.stderr);
    refused(
        &lab,
        &joined,
        &["bk-token-wiped", "--storage", &other_dir],
        "bound-keypair tokens",
    );
}

/// Killed after every step (and inside the recreation, before its end is journaled), `recover
/// --resume` finishes the run: the token back in its old mode, bound to the bot, which renews.
#[test]
fn token_wiped_killed_after_every_step_converges_on_resume_with_the_mode_restored() {
    let lab = Lab::start();
    let joined = join_bot(&lab);
    let data = joined.data().display().to_string();
    let restart = joined.restart();
    let args = [
        "recover",
        "bk-token-wiped",
        "--bot",
        BOT,
        "--storage",
        &data,
        "--restart-cmd",
        &restart,
        "--wait",
        "30s",
        "--yes",
    ];
    // Evidence, recreate, restart, wait, restore, headroom.
    for crash in ["1", "2:unjournaled", "2", "3", "4", "5", "6"] {
        wipe_token(&lab, &joined.token);
        let crashed = run(lab.cmd(&args).env("MWICTL_TEST_CRASH_AFTER_STEP", crash));
        assert_ne!(crashed.code, 0, "{crash}: {}", crashed.stderr);
        let resumed = run(&mut lab.cmd(&["recover", "--resume", "--yes", "--wait", "30s"]));
        let expected = if crash == "6" { 3 } else { 0 };
        assert_eq!(
            resumed.code, expected,
            "resume after {crash}: {}\n{}",
            resumed.stdout, resumed.stderr
        );
        let token = get_token(&lab, &joined.token).unwrap();
        assert_eq!(mode_of(&token), "standard", "{crash}: the mode is back");
        assert_ne!(status(&token).bound_public_key, "", "{crash}: bound again");
        let renewed = agent(&lab, &joined);
        assert_eq!(renewed.code, 0, "{crash}: {}", renewed.stderr);
    }
}

/// Without --wait the run stops before restoring, exits non-zero and says how to restore;
/// `recover --resume --wait` then restores once the bot joined.
#[test]
fn token_wiped_without_wait_stops_unfinished_with_the_restore_command() {
    let lab = Lab::start();
    let joined = join_bot(&lab);
    wipe_token(&lab, &joined.token);
    let data = joined.data().display().to_string();
    let out = run(&mut lab.cmd(&[
        "recover",
        "bk-token-wiped",
        "--bot",
        BOT,
        "--storage",
        &data,
        "--yes",
    ]));
    assert_ne!(out.code, 0, "{}", out.stderr);
    let restore = format!("mwictl tokens mode {} standard", joined.token);
    assert!(
        out.stdout.contains(&restore) || out.stderr.contains(&restore),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(
        mode_of(&get_token(&lab, &joined.token).unwrap()),
        "insecure"
    );
    let joined_again = agent(&lab, &joined);
    assert_eq!(joined_again.code, 0, "{}", joined_again.stderr);
    let resumed = run(&mut lab.cmd(&["recover", "--resume", "--yes", "--wait", "30s"]));
    assert_eq!(resumed.code, 0, "{}\n{}", resumed.stdout, resumed.stderr);
    assert_eq!(
        mode_of(&get_token(&lab, &joined.token).unwrap()),
        "standard"
    );
}

/// A bot whose certificates expired after the token was wiped recovers on the recreated token
/// instead of refreshing: the wait sees recovery_count rise, the mode is restored, and the bot,
/// holding the new join state, refreshes in that mode.
#[test]
fn token_wiped_with_the_identity_expired_recovers_and_the_mode_is_back() {
    let lab = Lab::start();
    let joined = join_bot(&lab);
    let ttl = ["--credential-ttl", "3s"];
    let config = joined.config_arg();
    let short = |lab: &Lab| {
        let mut args = vec!["lab", "bot", "-c", config.as_str(), "--oneshot"];
        args.extend_from_slice(&ttl);
        run(&mut lab.cmd(&args))
    };
    assert_eq!(short(&lab).code, 0, "a short-lived identity");
    let count = status(&get_token(&lab, &joined.token).unwrap()).recovery_count;
    wipe_token(&lab, &joined.token);
    crate::bots_bound::wait_expiry(&joined.data());
    let data = joined.data().display().to_string();
    let restart = format!("{} --credential-ttl 3s", joined.restart());
    let (code, json, stderr) = recover(
        &lab,
        &[
            "bk-token-wiped",
            "--bot",
            BOT,
            "--storage",
            &data,
            "--restart-cmd",
            &restart,
            "--wait",
            "30s",
            "--yes",
        ],
    );
    assert_eq!(code, 0, "{stderr}\n{json:#}");
    let token = get_token(&lab, &joined.token).unwrap();
    assert_eq!(status(&token).recovery_count, count + 1, "a recovery");
    assert_eq!(mode_of(&token), "standard");
    let limit = token
        .spec
        .as_ref()
        .and_then(|s| s.bound_keypair.as_ref())
        .and_then(|b| b.recovery.as_ref())
        .map_or(0, |r| r.limit);
    assert!(
        limit > count + 1,
        "back in standard with a recovery spare: limit {limit}, count {}",
        count + 1
    );
    let renewed = short(&lab);
    assert_eq!(renewed.code, 0, "{}", renewed.stderr);
}
