//! Bound-keypair joining with the real agent (`mwictl lab bot`) against the lab, and
//! `mwictl lab keypair create`, which prepares a key as `tbot keypair create` does.

use std::path::Path;

use mwi_proto::proto::{UpsertTokenV2Request, upsert_token_v2_request};
use mwi_proto::types::provision_token_spec_v2_bound_keypair::OnboardingSpec;
use mwi_proto::types::{ProvisionTokenStatusV2BoundKeypair, ProvisionTokenV2, ResourceRequest};

use crate::bots::put_bot;
use crate::bots_bound::wait_expiry;
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
    let json = keypair_json(
        home.path(),
        &["--static", "--static-key-path", path.to_str().unwrap()],
    );
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

// ---- the agent against the lab ----

const BOT: &str = "example";
const TOKEN: &str = "bkp-token";

fn bound_token(onboarding: OnboardingSpec, limit: u32, mode: &str) -> ProvisionTokenV2 {
    mwi_testkit::fixtures::bound_keypair_token(TOKEN, BOT, onboarding, limit, mode)
}

/// Creates or replaces `token` on the lab (spec as given, status left to the server).
pub(crate) fn put_token(lab: &Lab, token: ProvisionTokenV2) {
    lab.admin(async |mut c| {
        c.upsert_token_v2(UpsertTokenV2Request {
            token: Some(upsert_token_v2_request::Token::V2(token)),
        })
        .await
        .expect("UpsertTokenV2");
    });
}

fn read_token(lab: &Lab) -> ProvisionTokenV2 {
    lab.admin(async |mut c| {
        c.get_token(ResourceRequest { name: TOKEN.into() })
            .await
            .expect("GetToken")
            .into_inner()
    })
}

fn status(lab: &Lab) -> ProvisionTokenStatusV2BoundKeypair {
    read_token(lab)
        .status
        .and_then(|s| s.bound_keypair)
        .unwrap_or_default()
}

/// A lab with bot `example` and the bound_keypair token.
fn lab_with(onboarding: OnboardingSpec, limit: u32, mode: &str) -> Lab {
    let lab = Lab::start();
    put_bot(&lab, BOT, &[], &[], None);
    put_token(&lab, bound_token(onboarding, limit, mode));
    lab
}

fn secret(text: &str) -> OnboardingSpec {
    OnboardingSpec {
        registration_secret: text.into(),
        ..Default::default()
    }
}

/// `mwictl lab bot --oneshot` with storage `dir` joining with the token, plus `extra`.
fn agent(lab: &Lab, dir: &Path, extra: &[&str]) -> Run {
    run(&mut agent_cmd(lab, dir, extra))
}

/// The command [`agent`] runs, for a caller that adds to its environment.
fn agent_cmd(lab: &Lab, dir: &Path, extra: &[&str]) -> assert_cmd::Command {
    let mut args = vec![
        "lab",
        "bot",
        "--oneshot",
        "--data-dir",
        dir.to_str().unwrap(),
        "--join-method",
        "bound_keypair",
        "--token",
        TOKEN,
    ];
    args.extend_from_slice(extra);
    lab.cmd(&args)
}

/// `mwictl lab bot --oneshot` with storage `dir` joining by `--join-uri`.
fn uri_cmd(lab: &Lab, dir: &Path, uri: &str) -> assert_cmd::Command {
    lab.cmd(&[
        "lab",
        "bot",
        "--oneshot",
        "--data-dir",
        dir.to_str().unwrap(),
        "--join-uri",
        uri,
    ])
}

/// `mwictl lab keypair create ARGS --format json` in `home`, which must succeed; its JSON.
fn keypair_json(home: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["lab", "keypair", "create"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let out = run(&mut mwictl_cmd(home, &all));
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

/// The run failed (exit 1) and its stderr says `says`.
#[track_caller]
fn assert_failed_saying(out: &Run, says: &str) {
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains(says), "{}", out.stderr);
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_default()
}

/// The bot instance the stored identity names (its certificate's BotInstanceID).
fn instance_of(dir: &Path) -> String {
    let pem = read(dir, "tlscert");
    mwi_identity::CertIdentity::from_pem(&pem)
        .expect("stored tlscert")
        .bot_instance_id
        .expect("a bot certificate")
}

#[test]
fn onboarding_by_secret_binds_the_agents_key_and_refreshes_with_the_ceremony() {
    let lab = lab_with(secret("s3cret"), 1, "standard");
    let dir = lab.root().join("bot");
    let wrong = agent(&lab, &dir, &["--registration-secret", "wrong"]);
    assert_failed_saying(&wrong, "a valid registration secret is required");
    let out = agent(&lab, &dir, &["--registration-secret", "s3cret"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("join_method:bound_keypair"),
        "{}",
        out.stderr
    );
    let s = status(&lab);
    assert_eq!(s.bound_public_key, read(&dir, "id_bkp.pub").trim());
    assert_eq!(s.registration_secret, "", "the secret is spent");
    assert_eq!(s.recovery_count, 1, "onboarding counts");
    assert_eq!(s.bound_bot_instance_id, instance_of(&dir));
    assert!(!read(&dir, "bkp_state").is_empty());
    let history: serde_json::Value =
        serde_json::from_str(&read(&dir, "bkp_key_history.json")).unwrap();
    assert_eq!(history["entries"].as_array().unwrap().len(), 1);

    // Refresh: the identity is valid, so the ceremony runs as the bot; nothing is counted and
    // the secret (still configured) is not sent again.
    let again = agent(&lab, &dir, &["--registration-secret", "s3cret"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("Successfully renewed bot identity"),
        "{}",
        again.stderr
    );
    let after = status(&lab);
    assert_eq!(after.recovery_count, 1);
    assert_eq!(after.bound_bot_instance_id, s.bound_bot_instance_id);
    assert_eq!(after.bound_public_key, s.bound_public_key);
}

#[test]
fn onboarding_by_join_uri_and_by_environment_secret() {
    let lab = lab_with(secret("from-uri"), 2, "standard");
    let dir = lab.root().join("bot");
    let uri = format!("tbot+auth+bound-keypair://{TOKEN}:from-uri@{}", lab.addr);
    let out = run(&mut uri_cmd(&lab, &dir, &uri));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        status(&lab).bound_public_key,
        read(&dir, "id_bkp.pub").trim()
    );

    let lab = lab_with(secret("from-env"), 1, "standard");
    let dir = lab.root().join("bot");
    let out = run(agent_cmd(&lab, &dir, &[]).env("TBOT_REGISTRATION_SECRET", "from-env"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let missing = run(&mut uri_cmd(
        &lab,
        &lab.root().join("other"),
        &format!("tbot+auth+bound-keypair://@{}", lab.addr),
    ));
    assert_failed_saying(
        &missing,
        "--join-uri: invalid joining URI: must contain join token in user field",
    );
}

#[test]
fn onboarding_by_preregistered_key_without_a_secret() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("bot");
    let made = keypair_json(home.path(), &["--storage", dir.to_str().unwrap()]);
    let public = made["public_key"].as_str().unwrap().to_string();
    let lab = lab_with(
        OnboardingSpec {
            initial_public_key: public.clone(),
            ..Default::default()
        },
        1,
        "standard",
    );
    let no_key = agent(&lab, &lab.root().join("empty"), &[]);
    assert_failed_saying(&no_key, "mwictl lab keypair create --storage");
    assert!(
        no_key
            .stderr
            .contains("Failed to join the cluster with the token")
            && no_key.stderr.contains("join_method:bound_keypair"),
        "{}",
        no_key.stderr
    );
    let out = agent(&lab, &dir, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let s = status(&lab);
    assert_eq!(s.bound_public_key, public);
    assert_eq!(s.recovery_count, 1);
    assert_eq!(read(&dir, "id_bkp.pub").trim(), public);
}

#[test]
fn onboarding_by_static_key_in_insecure_mode_stores_no_keypair() {
    let lab0 = tempfile::tempdir().unwrap();
    let key_path = lab0.path().join("static.pem");
    let json = keypair_json(
        lab0.path(),
        &["--static", "--static-key-path", key_path.to_str().unwrap()],
    );
    let public = json["public_key"].as_str().unwrap().to_string();
    let lab = lab_with(
        OnboardingSpec {
            initial_public_key: public.clone(),
            ..Default::default()
        },
        1,
        "insecure",
    );
    let dir = lab.root().join("bot");
    let config = lab.root().join("tbot.yaml");
    std::fs::write(
        &config,
        format!(
            "version: v2\nonboarding:\n  join_method: bound_keypair\n  token: {TOKEN}\n  bound_keypair:\n    static_private_key_path: {}\nstorage:\n  type: directory\n  path: {}\n",
            key_path.display(),
            dir.display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    for round in 0..2 {
        let out = run(&mut lab.cmd(&["lab", "bot", "-c", config, "--oneshot"]));
        assert_eq!(out.code, 0, "round {round}: {}", out.stderr);
    }
    assert_eq!(status(&lab).bound_public_key, public);
    assert!(
        !dir.join("id_bkp").exists(),
        "a static key is not copied into storage"
    );
    assert!(!dir.join("bkp_state").exists());

    // The same key from the environment variable.
    let encoded = json["private_key"].as_str().unwrap();
    let out =
        run(agent_cmd(&lab, &lab.root().join("env"), &[])
            .env("TBOT_BOUND_KEYPAIR_STATIC_KEY", encoded));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn rotate_after_makes_the_agent_rotate_once_and_keep_the_old_key_in_history() {
    let lab = lab_with(secret("s3cret"), 1, "standard");
    let dir = lab.root().join("bot");
    assert_eq!(
        agent(&lab, &dir, &["--registration-secret", "s3cret"]).code,
        0
    );
    let old = read(&dir, "id_bkp.pub");
    let mut token = read_token(&lab);
    token
        .spec
        .as_mut()
        .unwrap()
        .bound_keypair
        .as_mut()
        .unwrap()
        .rotate_after = Some(std::time::SystemTime::now().into());
    put_token(&lab, token);
    let out = agent(&lab, &dir, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("Server has requested keypair rotation"),
        "{}",
        out.stderr
    );
    let new = read(&dir, "id_bkp.pub");
    assert_ne!(new, old);
    let s = status(&lab);
    assert_eq!(s.bound_public_key, new.trim());
    assert!(s.last_rotated_at.is_some());
    assert_eq!(s.recovery_count, 1, "a rotation is not a recovery");
    let history: serde_json::Value =
        serde_json::from_str(&read(&dir, "bkp_key_history.json")).unwrap();
    assert_eq!(history["entries"].as_array().unwrap().len(), 2);
    // Rotated once: the next refresh is not asked again.
    let out = agent(&lab, &dir, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("rotation"), "{}", out.stderr);
    assert_eq!(read(&dir, "id_bkp.pub"), new);
}

#[test]
fn an_expired_identity_recovers_anonymously_until_the_limit() {
    let lab = lab_with(secret("s3cret"), 2, "standard");
    let dir = lab.root().join("bot");
    let ttl = ["--credential-ttl", "2s", "--registration-secret", "s3cret"];
    assert_eq!(agent(&lab, &dir, &ttl).code, 0);
    let first = instance_of(&dir);
    wait_expiry(&dir);
    let out = agent(&lab, &dir, &ttl);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("Identity has expired"),
        "{}",
        out.stderr
    );
    let s = status(&lab);
    assert_eq!(s.recovery_count, 2, "a recovery counts");
    assert!(s.last_recovered_at.is_some());
    let second = instance_of(&dir);
    assert_ne!(second, first, "a recovery makes a new bot instance");
    assert_eq!(s.bound_bot_instance_id, second);

    // Limit 2 reached: the next recovery is refused and nothing changes.
    wait_expiry(&dir);
    let out = agent(&lab, &dir, &ttl);
    assert_failed_saying(&out, "no rejoins remaining");
    let after = status(&lab);
    assert_eq!(after.recovery_count, 2);
    assert_eq!(after.bound_bot_instance_id, second);
}

#[test]
fn a_stale_join_state_locks_the_join_token() {
    let lab = lab_with(secret("s3cret"), 5, "standard");
    let dir = lab.root().join("bot");
    let ttl = ["--credential-ttl", "2s", "--registration-secret", "s3cret"];
    assert_eq!(agent(&lab, &dir, &ttl).code, 0);
    let stale = read(&dir, "bkp_state");
    wait_expiry(&dir);
    assert_eq!(agent(&lab, &dir, &ttl).code, 0, "first recovery");
    // A copy of the storage taken before the recovery: its join state is one recovery behind.
    std::fs::write(dir.join("bkp_state"), &stale).unwrap();
    wait_expiry(&dir);
    let out = agent(&lab, &dir, &ttl);
    assert_failed_saying(&out, "join state verification failed");
    let out = agent(&lab, &dir, &ttl);
    assert_failed_saying(
        &out,
        &format!("lock targeting JoinToken:\"{TOKEN}\" is in force"),
    );
    assert_eq!(
        status(&lab).recovery_count,
        2,
        "nothing counted after the lock"
    );
}

#[test]
fn lint_accepts_the_bound_keypair_keys_the_agent_reads() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("tbot.yaml");
    std::fs::write(
        &config,
        "version: v2\njoin_uri: tbot+proxy+bound-keypair://bot-example:abc@proxy.example.com:443\nonboarding:\n  join_method: bound_keypair\n  token: bot-example\n  bound_keypair:\n    registration_secret_path: /etc/tbot/secret\n    static_private_key_path: /etc/tbot/static.pem\nstorage:\n  type: directory\n  path: /var/lib/teleport/bot\n",
    )
    .unwrap();
    let out = run(&mut mwictl_cmd(
        home.path(),
        &[
            "lint",
            config.to_str().unwrap(),
            "--teleport-version",
            "18.2.0",
        ],
    ));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("0 errors, 0 warnings") || out.stderr.contains("0 errors, 0 warnings"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn the_proxy_join_uri_joins_through_the_lab_proxy() {
    let lab = Lab::start_with(&["--proxy-listen", "127.0.0.1:0"]);
    put_bot(&lab, BOT, &[], &[], None);
    put_token(&lab, bound_token(secret("via-proxy"), 1, "standard"));
    let proxy = lab.proxy.clone().expect("the lab proxy");
    let dir = lab.root().join("bot");
    let uri = format!("tbot+proxy+bound-keypair://{TOKEN}:via-proxy@{proxy}");
    let mut cmd = uri_cmd(&lab, &dir, &uri);
    cmd.env_remove("TBOT_USE_PROXY_ADDR");
    let out = run(&mut cmd);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("proxy_server:{proxy}")),
        "{}",
        out.stderr
    );
    assert_eq!(
        status(&lab).bound_public_key,
        read(&dir, "id_bkp.pub").trim()
    );
    // The refresh goes through the proxy too.
    let mut cmd = uri_cmd(&lab, &dir, &uri);
    cmd.env_remove("TBOT_USE_PROXY_ADDR");
    let out = run(&mut cmd);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(status(&lab).recovery_count, 1);
}

#[test]
fn keypair_create_asks_the_proxy_for_the_suite_as_tbot_does() {
    let lab = Lab::start_with(&["--proxy-listen", "127.0.0.1:0"]);
    let proxy = lab.proxy.clone().expect("the lab proxy");
    let dir = lab.root().join("bot");
    let out = run(&mut lab.cmd(&[
        "lab",
        "keypair",
        "create",
        "--storage",
        dir.to_str().unwrap(),
        "--proxy-server",
        &proxy,
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("ssh-ed25519 "),
        "the lab's suite: {}",
        out.stdout
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = closed.local_addr().unwrap().to_string();
    drop(closed);
    let out = run(&mut lab.cmd(&[
        "lab",
        "keypair",
        "create",
        "--storage",
        lab.root().join("other").to_str().unwrap(),
        "--proxy-server",
        &gone,
    ]));
    assert_failed_saying(
        &out,
        &format!(
            "--proxy-server {gone}: pinging proxy to determine signature algorithm suite: Get \"https://{gone}/webapi/find\": dial tcp {gone}: connect: connection refused"
        ),
    );
    assert!(
        !lab.root().join("other").join("id_bkp").exists(),
        "nothing written"
    );
}

#[test]
fn a_running_agent_renews_by_the_ceremony_on_every_interval() {
    let lab = lab_with(secret("s3cret"), 1, "standard");
    let dir = lab.root().join("bot");
    let log = lab.root().join("agent.log");
    let mut child = std::process::Command::new(BIN)
        .args([
            "lab",
            "bot",
            "--data-dir",
            dir.to_str().unwrap(),
            "--join-method",
            "bound_keypair",
            "--token",
            TOKEN,
            "--registration-secret",
            "s3cret",
            "--renewal-interval",
            "300ms",
        ])
        .envs(hermetic_env(&lab.home()))
        .env_remove("TELEPORT_AUTH_SERVER")
        .env_remove("TELEPORT_IDENTITY_FILE")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn mwictl lab bot");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.matches("Successfully renewed bot identity").count() >= 3 {
            break text;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the agent exited ({status}):\n{text}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no renewals in time:\n{text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    mwi_testkit::process::terminate(&mut child, std::time::Duration::from_secs(5));
    assert!(!text.contains("Failed"), "{text}");
    let s = status(&lab);
    assert_eq!(
        s.recovery_count, 1,
        "renewals are refreshes, never recoveries"
    );
    assert_eq!(s.bound_bot_instance_id, instance_of(&dir));
    assert_eq!(s.bound_public_key, read(&dir, "id_bkp.pub").trim());
}
