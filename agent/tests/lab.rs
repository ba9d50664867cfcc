//! The agent against the lab auth service: join and renewals raise the generation, the data
//! directory lock, two agents sharing a directory (mismatch, lock, give up), token change at
//! start, outputs, and an expired identity.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{args, run_to_end};
use mwi_agent::AgentExit;
use mwi_auth::lab::LockStyle;
use mwi_diag::doctor::{Doctor, Incident};
use mwi_diag::incident::Incident as Product;
use mwi_testkit::Lab;
use mwi_testkit::fixtures::{access_role, sha256_hex};
use mwi_testkit::lab::generation;
use tokio::sync::oneshot;

const LIMIT: Duration = Duration::from_secs(60);

/// A running agent: stop it with `stop()`; its log is in `log`.
struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<AgentExit>,
}

impl Running {
    fn start(list: &[&str], log: &Path) -> Running {
        let mut list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        list.push("--log-file".into());
        list.push(log.display().to_string());
        let refs: Vec<&str> = list.iter().map(String::as_str).collect();
        let args = args(&refs);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(mwi_agent::run(args, async move {
            let _ = stopped.await;
        }));
        Running {
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) -> AgentExit {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.wait().await
    }

    async fn wait(self) -> AgentExit {
        tokio::time::timeout(LIMIT, self.task)
            .await
            .expect("the agent ends in time")
            .expect("the agent task does not panic")
    }
}

/// Waits until `log` holds `count` lines containing `needle`.
async fn wait_for(log: &Path, needle: &str, count: usize) -> String {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.lines().filter(|l| l.contains(needle)).count() >= count {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {count}× {needle:?} in time; log:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What `mwictl doctor` makes of the agent's logs: each incident with the bot it names.
fn doctor(logs: &[&Path]) -> Vec<(Incident, Option<String>)> {
    let mut doctor = Doctor::new();
    for log in logs {
        let file = std::fs::File::open(log).unwrap();
        doctor
            .feed_reader(&log.display().to_string(), file)
            .unwrap();
    }
    doctor
        .finish()
        .findings
        .into_iter()
        .map(|f| (f.incident, f.bot))
        .collect()
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

#[tokio::test]
async fn joins_with_only_a_ca_pin_of_the_lab() {
    use sha2::Digest;
    let lab = Lab::start().await;
    lab.create_bot("example", &[], &[]).await;
    let token = lab.bot_token("example").await;
    let ca_pem = std::fs::read_to_string(&lab.ca_path).unwrap();
    let (_, block) = x509_parser::pem::parse_x509_pem(ca_pem.as_bytes()).unwrap();
    let (_, ca) = x509_parser::parse_x509_certificate(&block.contents).unwrap();
    let pin = format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(ca.tbs_certificate.subject_pki.raw))
    );
    let data = lab.path("bot");
    let log = lab.path("agent.log");
    let args = [
        "--data-dir",
        s(&data),
        "--auth-server",
        &lab.addr,
        "--token",
        &token,
        "--ca-pin",
        &pin,
        "--oneshot",
    ];
    let (exit, text) = run_to_end(&args, &log, LIMIT).await;
    assert_eq!(exit, AgentExit::Done, "{text}");
    assert!(text.contains("Fetched new bot identity"), "{text}");

    let wrong = format!("sha256:{}", "00".repeat(32));
    let other = lab.path("other");
    let token = lab.bot_token("example").await;
    let args = [
        "--data-dir",
        s(&other),
        "--auth-server",
        &lab.addr,
        "--token",
        &token,
        "--ca-pin",
        &wrong,
        "--oneshot",
    ];
    let (exit, text) = run_to_end(&args, &lab.path("other.log"), LIMIT).await;
    assert_eq!(exit, AgentExit::Failed, "{text}");
    assert!(text.contains("no CA matching --ca-pin"), "{text}");
}

#[tokio::test]
async fn joins_then_renews_and_the_generation_rises() {
    let lab = Lab::start().await;
    lab.create_bot("example", &[], &[]).await;
    let token = lab.bot_token("example").await;
    let data = lab.path("bot");
    let log = lab.path("agent.log");
    let agent = Running::start(
        &[
            "--data-dir",
            s(&data),
            "--auth-server",
            &lab.addr,
            "--token",
            &token,
            "--ca-path",
            s(&lab.ca_path),
            "--renewal-interval",
            "200ms",
        ],
        &log,
    );
    let text = wait_for(&log, "Successfully renewed bot identity", 2).await;
    assert_eq!(agent.stop().await, AgentExit::Stopped);

    assert!(
        text.contains("INFO [TBOT]      Fetched new bot identity, valid: after="),
        "{text}"
    );
    let renewed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Successfully renewed bot identity"))
        .collect();
    assert!(
        renewed[0]
            .contains("| kind=tls, renewable=true, disallow-reissue=false, roles=[bot-example], ")
            && renewed[0].contains(", generation=2 tbot/renew.go:"),
        "{}",
        renewed[0]
    );
    assert!(
        renewed[1].contains(", generation=3 tbot/renew.go:"),
        "{}",
        renewed[1]
    );

    let instances = lab.bot_instances("example").await;
    assert_eq!(instances.len(), 1, "{instances:?}");
    assert!(generation(&instances[0]) >= 3, "{instances:?}");
    let status = instances[0].status.clone().unwrap_or_default();
    let first = status.initial_heartbeat.expect("a start-up heartbeat");
    assert!(
        first.is_startup && first.join_method == "token" && !first.one_shot,
        "{first:?}"
    );
    assert!(!first.hostname.is_empty());

    for file in [
        "key",
        "key.pub",
        "tlscert",
        "key-cert.pub",
        "tlscacerts",
        "sshcacerts",
        "tokenhash",
        "lock",
    ] {
        assert!(data.join(file).exists(), "{file} missing from the data dir");
    }
    assert_eq!(
        std::fs::read_to_string(data.join("tokenhash")).unwrap(),
        sha256_hex(&token)
    );
}

#[tokio::test]
async fn a_second_agent_on_a_running_agents_data_dir_is_refused() {
    let lab = Lab::start().await;
    lab.create_bot("example", &[], &[]).await;
    let token = lab.bot_token("example").await;
    let data = lab.path("bot");
    let common = [
        "--data-dir",
        s(&data),
        "--auth-server",
        &lab.addr,
        "--token",
        &token,
        "--ca-path",
        s(&lab.ca_path),
    ];
    let first_log = lab.path("first.log");
    let first = Running::start(&common, &first_log);
    wait_for(&first_log, "Fetched new bot identity", 1).await;
    let (exit, text) = run_to_end(&common, &lab.path("second.log"), LIMIT).await;
    assert_eq!(exit, AgentExit::Failed);
    assert!(text.contains("is in use by another agent"), "{text}");
    assert_eq!(first.stop().await, AgentExit::Stopped);
}

#[tokio::test]
async fn two_agents_sharing_a_data_dir_collide_get_the_bot_locked_and_give_up() {
    let lab = Lab::start().await;
    lab.create_bot("example", &[], &[]).await;
    let token = lab.bot_token("example").await;
    let data = lab.path("bot");
    let common = [
        "--data-dir",
        s(&data),
        "--auth-server",
        &lab.addr,
        "--token",
        &token,
        "--ca-path",
        s(&lab.ca_path),
        "--no-data-dir-lock",
        "--renewal-interval",
        "300ms",
        "--retry-base",
        "10ms",
    ];
    let (first_log, second_log) = (lab.path("first.log"), lab.path("second.log"));
    let first = Running::start(&common, &first_log);
    wait_for(&first_log, "Fetched new bot identity", 1).await;
    let second = Running::start(&common, &second_log);
    let (first_exit, second_exit) = (first.wait().await, second.wait().await);
    assert_eq!(
        (first_exit, second_exit),
        (AgentExit::Failed, AgentExit::Failed)
    );

    let logs = std::fs::read_to_string(&first_log).unwrap()
        + &std::fs::read_to_string(&second_log).unwrap();
    assert!(
        logs.contains("ERROR [TBOT]      Failed to renew bot identity: renewable cert generation mismatch for bot example/"),
        "{logs}"
    );
    assert!(
        logs.contains(
            r#"Failed to renew bot identity: lock targeting User:"bot-example" is in force: "#
        ) && logs.contains(r#"error:"auth API: access denied [00]""#),
        "{logs}"
    );
    assert!(
        logs.contains("ERROR [TBOT]      All retry attempts exhausted. Exiting attempts:7"),
        "{logs}"
    );
    let found = doctor(&[&first_log, &second_log]);
    assert!(
        found.contains(&(
            Incident::Product(Product::GenerationMismatch),
            Some("example".into())
        )),
        "the doctor reads the agent's logs as tbot's: {found:?}"
    );
    let locks = lab.locks().await;
    assert!(
        locks.iter().any(|l| l
            .spec
            .as_ref()
            .and_then(|s| s.target.as_ref())
            .is_some_and(|t| t.user == "bot-example")),
        "{locks:?}"
    );
}

#[tokio::test]
async fn newest_lock_style_locks_the_shared_instance_and_both_agents_give_up() {
    let lab = Lab::start_with(|config| config.lock_style = LockStyle::Instance).await;
    lab.create_bot("example", &[], &[]).await;
    let token = lab.bot_token("example").await;
    let data = lab.path("bot");
    let common = [
        "--data-dir",
        s(&data),
        "--auth-server",
        &lab.addr,
        "--token",
        &token,
        "--ca-path",
        s(&lab.ca_path),
        "--no-data-dir-lock",
        "--renewal-interval",
        "300ms",
        "--retry-base",
        "10ms",
    ];
    let (first_log, second_log) = (lab.path("first.log"), lab.path("second.log"));
    let first = Running::start(&common, &first_log);
    wait_for(&first_log, "Fetched new bot identity", 1).await;
    let second = Running::start(&common, &second_log);
    assert_eq!(
        (first.wait().await, second.wait().await),
        (AgentExit::Failed, AgentExit::Failed)
    );
    let logs = std::fs::read_to_string(&first_log).unwrap()
        + &std::fs::read_to_string(&second_log).unwrap();
    assert!(
        logs.contains("Failed to renew bot identity: cert generation mismatch for bot example/"),
        "{logs}"
    );
    assert!(logs.contains("lock targeting BotInstanceID:"), "{logs}");
    let found = doctor(&[&first_log, &second_log]);
    assert!(
        found.contains(&(
            Incident::Product(Product::GenerationMismatch),
            Some("example".into())
        )),
        "{found:?}"
    );
}

#[tokio::test]
async fn a_new_token_makes_the_agent_rejoin_at_start_as_a_new_instance() {
    let lab = Lab::start().await;
    lab.create_bot("example", &[], &[]).await;
    let data = lab.path("bot");
    let log = lab.path("agent.log");
    let first_token = lab.bot_token("example").await;
    let run = |token: String| {
        let data = data.clone();
        let log = log.clone();
        let (addr, ca) = (lab.addr.clone(), lab.ca_path.clone());
        async move {
            run_to_end(
                &[
                    "--data-dir",
                    s(&data),
                    "--auth-server",
                    &addr,
                    "--token",
                    &token,
                    "--ca-path",
                    s(&ca),
                    "--oneshot",
                    "--log-format",
                    "json",
                ],
                &log,
                LIMIT,
            )
            .await
        }
    };
    assert_eq!(run(first_token.clone()).await.0, AgentExit::Done);
    assert_eq!(lab.bot_instances("example").await.len(), 1);

    let second_token = lab.bot_token("example").await;
    let (exit, text) = run(second_token.clone()).await;
    assert_eq!(exit, AgentExit::Done, "{text}");
    let messages: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON lines"))
        .map(|v| v["message"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        messages.iter().any(
            |m| m.starts_with("Bot identity loaded from store does not match configured token")
        ),
        "{messages:?}"
    );
    let instances = lab.bot_instances("example").await;
    assert_eq!(instances.len(), 2, "a new instance: {instances:?}");
    assert_eq!(
        std::fs::read_to_string(data.join("tokenhash")).unwrap(),
        sha256_hex(&second_token)
    );

    // Same token again: the stored identity is loaded and renewed, no join.
    let (exit, text) = run(second_token).await;
    assert_eq!(exit, AgentExit::Done, "{text}");
    assert_eq!(lab.bot_instances("example").await.len(), 2);
    assert!(text.contains("onboarding config ignored"), "{text}");
}

#[tokio::test]
async fn identity_output_logs_roles_and_principals_and_checks_the_ssh_login() {
    let lab = Lab::start().await;
    lab.upsert_role(access_role("access", &["alice"])).await;
    lab.create_bot("example", &["access"], &[]).await;
    let token = lab.bot_token("example").await;
    let out = lab.path("machine-id");
    let config = lab.path("tbot.yaml");
    std::fs::write(
        &config,
        format!(
            "version: v2\nauth_server: {}\nonboarding:\n  token: {token}\n  join_method: token\n  ca_path: {}\nstorage:\n  type: directory\n  path: {}\noneshot: true\nservices:\n  - type: identity\n    destination:\n      type: directory\n      path: {}\n    roles: [access]\n",
            lab.addr, lab.ca_path.display(), lab.path("bot").display(), out.display()
        ),
    )
    .unwrap();
    let (exit, text) = run_to_end(
        &["-c", s(&config), "--ssh-login", "bob"],
        &lab.path("agent.log"),
        LIMIT,
    )
    .await;
    assert_eq!(exit, AgentExit::Done, "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("Successfully renewed impersonated certificates for directory"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains(&format!("for directory {}, valid: after=", out.display()))
            && line.contains("| kind=tls, renewable=false, ")
            && line.contains("roles=[access], principals=[alice")
            && line.ends_with("tbot/renew.go:630"),
        "{line}"
    );
    assert!(
        text.contains("Authenticating to ") && text.contains(" as 'bob'"),
        "{text}"
    );
    assert!(
        text.contains("ERROR [TBOT]      ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain"),
        "{text}"
    );
    let found = doctor(&[&lab.path("agent.log")]);
    assert!(
        found
            .iter()
            .any(|(incident, _)| *incident == Incident::Product(Product::SshLogin)),
        "{found:?}"
    );
    let identity = mwi_identity::IdentityFile::read(&out.join("identity")).unwrap();
    assert_eq!(identity.identity.cert().unwrap().roles, vec!["access"]);
    for file in [
        "key",
        "key.pub",
        "tlscert",
        "key-cert.pub",
        "teleport-host-ca.crt",
    ] {
        assert!(out.join(file).exists(), "{file} missing from the output");
    }
}

#[tokio::test]
async fn database_output_hidden_by_rbac_fails_like_tbot_without_stopping_renewal() {
    let lab = Lab::start().await;
    mwi_auth::lab::seed_database(lab.data_dir(), "example", Default::default()).unwrap();
    lab.upsert_role(access_role("access", &["alice"])).await;
    lab.create_bot("example", &["access"], &[]).await;
    let token = lab.bot_token("example").await;
    let out = lab.path("db-out");
    let config = lab.path("tbot.yaml");
    std::fs::write(
        &config,
        format!(
            "auth_server: {}\nonboarding: {{token: {token}, ca_path: {}}}\nstorage: {{path: {}}}\nservices:\n  - type: database\n    service: example\n    database: example\n    username: alice\n    roles: [access]\n    destination: {{type: directory, path: {}}}\n",
            lab.addr, lab.ca_path.display(), lab.path("bot").display(), out.display()
        ),
    )
    .unwrap();
    let log = lab.path("agent.log");
    let agent = Running::start(&["-c", s(&config), "--renewal-interval", "200ms"], &log);
    let text = wait_for(&log, "Failed to generate impersonated certs", 2).await;
    assert_eq!(
        agent.stop().await,
        AgentExit::Stopped,
        "output failures do not end the agent"
    );
    assert!(
        text.contains(&format!(
            "ERROR [TBOT]      Failed to generate impersonated certs for directory {}: database \"example\" not found",
            out.display()
        )),
        "{text}"
    );
    assert!(text.contains("Successfully renewed bot identity"), "{text}");
    let found = doctor(&[&log]);
    assert!(
        found
            .iter()
            .any(|(incident, _)| *incident == Incident::Product(Product::DbAccess)),
        "{found:?}"
    );
}

#[tokio::test]
async fn an_expired_identity_is_reported_and_the_tls_handshake_refuses_it() {
    let lab = Lab::start().await;
    lab.create_bot("example", &[], &[]).await;
    let token = lab.bot_token("example").await;
    let data = lab.path("bot");
    let log = lab.path("agent.log");
    let common = [
        "--data-dir",
        s(&data),
        "--auth-server",
        &lab.addr,
        "--ca-path",
        s(&lab.ca_path),
    ];
    let mut first = common.to_vec();
    first.extend(["--token", &token, "--oneshot", "--credential-ttl", "2s"]);
    let (exit, text) = run_to_end(&first, &log, LIMIT).await;
    assert_eq!(exit, AgentExit::Done, "{text}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (exit, text) = run_to_end(&common, &log, LIMIT).await;
    assert_eq!(exit, AgentExit::Failed);
    assert!(
        text.contains("ERROR [TBOT]      Identity has expired. The renewal is likely to fail."),
        "{text}"
    );
    assert!(
        // The seed's symptom: the lab refuses an expired client certificate as Teleport does.
        text.contains("Failed to renew bot identity: remote error: tls: bad certificate"),
        "{text}"
    );
}
