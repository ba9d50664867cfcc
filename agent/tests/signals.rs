//! Reload signals: SIGUSR1 and SIGHUP make a running agent renew at once. Alone in its own
//! test binary, because a signal reaches every agent in the process.

mod common;

use std::path::Path;
use std::time::Duration;

use common::args;
use mwi_agent::AgentExit;
use mwi_testkit::Lab;

async fn wait_for(log: &Path, needle: &str, count: usize) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.lines().filter(|l| l.contains(needle)).count() >= count {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {count}× {needle:?}; log:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn sigusr1_and_sighup_renew_at_once() {
    let lab = Lab::start().await;
    lab.create_bot("example", &[], &[]).await;
    let token = lab.bot_token("example").await;
    let data = lab.path("bot");
    let log = lab.path("agent.log");
    let list = [
        "--data-dir",
        data.to_str().unwrap(),
        "--auth-server",
        &lab.addr,
        "--token",
        &token,
        "--ca-path",
        lab.ca_path.to_str().unwrap(),
        "--renewal-interval",
        "1h",
        "--log-file",
        log.to_str().unwrap(),
    ];
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(mwi_agent::run(args(&list), async move {
        let _ = stopped.await;
    }));
    wait_for(&log, "Beginning bot identity renewal loop", 1).await;
    for (signal, renewals) in [(libc::SIGUSR1, 1), (libc::SIGHUP, 2)] {
        // SAFETY: raising a signal this process handles (tokio listens for both).
        assert_eq!(unsafe { libc::raise(signal) }, 0);
        let text = wait_for(&log, "Successfully renewed bot identity", renewals).await;
        assert!(
            text.contains("Received reload signal, renewing bot identity now"),
            "{text}"
        );
    }
    let _ = stop.send(());
    assert_eq!(agent.await.unwrap(), AgentExit::Stopped);
}
