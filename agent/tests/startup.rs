//! Start-up behaviour that needs no auth service: bad input, a locked data directory, token
//! change detection, an expired stored identity, and the log formats of those lines.

mod common;

use std::time::Duration;

use common::run_to_end;
use mwi_agent::AgentExit;
use mwi_testkit::fixtures::store_identity;
use mwi_testkit::{closed_port, unix_now};

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn bad_config_value_fails_with_one_line_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tbot.yaml");
    std::fs::write(&config, "auth_server: a:3025\ncredential_ttl: 2x\n").unwrap();
    let log = dir.path().join("agent.log");
    let (exit, text) = run_to_end(&["-c", config.to_str().unwrap()], &log, LIMIT).await;
    assert_eq!(exit, AgentExit::Failed);
    assert_eq!(exit.code(), 1);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains(&format!(
            "ERROR [TBOT]      {}: credential_ttl: \"2x\" is not a duration",
            config.display()
        )),
        "{text}"
    );
}

#[tokio::test]
async fn json_log_lines_are_objects_with_teleport_keys() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("agent.log");
    let (exit, text) = run_to_end(
        &["--log-format", "json", "--auth-server", "a:1"],
        &log,
        LIMIT,
    )
    .await;
    assert_eq!(exit, AgentExit::Failed);
    let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
    assert_eq!(line["component"], "tbot");
    assert!(
        line["message"].as_str().unwrap().contains("--data-dir"),
        "{line}"
    );
    assert!(line["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn no_identity_and_no_token_fails_like_tbot() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("agent.log");
    let addr = closed_port();
    let (exit, text) = run_to_end(
        &["--data-dir", data.to_str().unwrap(), "--auth-server", &addr],
        &log,
        LIMIT,
    )
    .await;
    assert_eq!(exit, AgentExit::Failed);
    assert!(
        text.contains("no existing identity found on disk or join token configured"),
        "{text}"
    );
}

#[tokio::test]
async fn joining_without_a_way_to_verify_the_server_gives_the_flags_to_use() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("agent.log");
    let addr = closed_port();
    let (exit, text) = run_to_end(
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--auth-server",
            &addr,
            "--token",
            "t",
        ],
        &log,
        LIMIT,
    )
    .await;
    assert_eq!(exit, AgentExit::Failed);
    assert!(
        text.contains("Failed to join the cluster with the token: joining needs the cluster's CA")
            && text.contains("--ca-path FILE")
            && text.contains("--insecure"),
        "{text}"
    );
}

#[tokio::test]
async fn second_agent_on_a_locked_data_dir_is_refused() {
    use std::os::fd::AsRawFd;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // Another agent's lock, taken as the agent takes it.
    let holder = std::fs::File::create(data.join("lock")).unwrap();
    // SAFETY: the descriptor stays open for the whole call.
    assert_eq!(
        unsafe { libc::flock(holder.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    let log = dir.path().join("agent.log");
    let addr = closed_port();
    let common = [
        "--data-dir",
        data.to_str().unwrap(),
        "--auth-server",
        &addr,
        "--token",
        "t",
    ];
    let (exit, text) = run_to_end(&common, &log, LIMIT).await;
    assert_eq!(exit, AgentExit::Failed);
    assert!(
        text.contains(&format!(
            "data directory {} is in use by another agent",
            data.display()
        )) && text.contains("--no-data-dir-lock"),
        "{text}"
    );
    let mut unlocked = common.to_vec();
    unlocked.push("--no-data-dir-lock");
    let (_, text) = run_to_end(&unlocked, &log, LIMIT).await;
    assert!(
        text.contains("Failed to join the cluster"),
        "got past the lock: {text}"
    );
}

#[tokio::test]
async fn changed_token_ignores_the_stored_identity_and_joins() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let now = unix_now();
    store_identity(&data, 3, now - 60, now + 3600, "old-token");
    let log = dir.path().join("agent.log");
    let addr = closed_port();
    let (exit, text) = run_to_end(
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--auth-server",
            &addr,
            "--token",
            "new-token",
            "--insecure",
        ],
        &log,
        LIMIT,
    )
    .await;
    assert_eq!(exit, AgentExit::Failed);
    assert!(
        text.contains(
            "INFO [TBOT]      Bot identity loaded from store does not match configured token"
        ),
        "{text}"
    );
    assert!(!text.contains("Successfully loaded bot identity"), "{text}");
    assert!(
        text.contains(&format!("Failed to join the cluster with the token: dial tcp {addr}: connect: connection refused")),
        "{text}"
    );
}

#[tokio::test]
async fn same_token_loads_the_stored_identity_and_renews_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let now = unix_now();
    store_identity(&data, 3, now - 60, now + 3540, "the-token");
    let log = dir.path().join("agent.log");
    let addr = closed_port();
    let (exit, text) = run_to_end(
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--auth-server",
            &addr,
            "--token",
            "the-token",
        ],
        &log,
        LIMIT,
    )
    .await;
    assert_eq!(
        exit,
        AgentExit::Failed,
        "a failed start-up renewal ends the agent"
    );
    assert!(
        text.contains("INFO [TBOT]      Successfully loaded bot identity, valid: after=")
            && text.contains(", duration=1h0m0s | kind=tls, renewable=true, disallow-reissue=false, roles=[bot-example], principals=[], generation=3 tbot/tbot.go:281"),
        "{text}"
    );
    assert!(
        text.contains("WARN [TBOT]      Note: onboarding config ignored as identity was loaded from persistent storage"),
        "{text}"
    );
    assert!(
        text.contains(&format!("ERROR [TBOT]      Failed to renew bot identity: dial tcp {addr}: connect: connection refused")),
        "{text}"
    );
    assert!(!text.contains("Identity has expired"), "{text}");
}

#[tokio::test]
async fn expired_stored_identity_is_reported_before_the_renewal_fails() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let now = unix_now();
    store_identity(&data, 2, now - 7200, now - 3600, "the-token");
    let log = dir.path().join("agent.log");
    let addr = closed_port();
    let (exit, text) = run_to_end(
        &["--data-dir", data.to_str().unwrap(), "--auth-server", &addr],
        &log,
        LIMIT,
    )
    .await;
    assert_eq!(exit, AgentExit::Failed);
    let expired = text
        .lines()
        .position(|l| {
            l.contains(
                "ERROR [TBOT]      Identity has expired. The renewal is likely to fail. (expires: ",
            )
        })
        .unwrap_or_else(|| panic!("no expiry line: {text}"));
    let failed = text
        .lines()
        .position(|l| l.contains("Failed to renew bot identity"))
        .unwrap_or_else(|| panic!("no renewal failure: {text}"));
    assert!(expired < failed, "{text}");
}
