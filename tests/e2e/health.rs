//! Service health end to end: the real lab agent heartbeats each output's health (initializing,
//! then healthy or unhealthy with the error) and `bots instances show` and `ls` print it.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::bots::{json, put_bot, put_roles, settings};
use crate::harness::{BIN, Lab, run};
use crate::instances::new_token;
use crate::unlock::instance_ids;

/// `mwictl lab bot` renewing every 300 ms with one identity output at `destination`; stopped
/// when dropped.
pub(crate) struct Agent(Child);

impl Agent {
    pub(crate) fn start(lab: &Lab, token: &str, data_dir: &Path, destination: &Path) -> Agent {
        let child = std::process::Command::new(BIN)
            .args([
                "lab",
                "bot",
                "--renewal-interval",
                "300ms",
                "--token",
                token,
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--destination-dir")
            .arg(destination)
            .envs(crate::harness::hermetic_env(&lab.home()))
            .env_remove("TELEPORT_AUTH_SERVER")
            .env_remove("TELEPORT_IDENTITY_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mwictl lab bot");
        Agent(child)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        mwi_testkit::process::terminate(&mut self.0, Duration::from_secs(5));
    }
}

/// Polls `bots instances show` of the bot's only instance until its JSON status is `want`;
/// returns the text output then.
pub(crate) fn wait_for_status(lab: &Lab, bot: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(id) = instance_ids(lab, bot).pop() {
            let reference = format!("{bot}/{id}");
            let out =
                run(&mut lab.cmd(&["bots", "instances", "show", &reference, "--format", "json"]));
            if json(&out.stdout)["status"] == want {
                let text = run(&mut lab.cmd(&["bots", "instances", "show", &reference]));
                assert_eq!(text.code, 0, "{}", text.stderr);
                return text.stdout;
            }
        }
        assert!(
            Instant::now() < deadline,
            "bot {bot:?} never reported {want:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn show_settings() -> insta::Settings {
    let mut settings = settings();
    for field in ["Hostname:", "Version:", "Uptime:", "OS/Arch:"] {
        settings.add_filter(&format!(r"(?m)^(  {field}\s+).*$"), "$1[VARIES]");
    }
    // The agent renews every 300 ms: how many renewals happened before the snapshot varies,
    // and so does the width of a time's fraction (the rule under Updated At).
    settings.add_filter(r"(?m)^(  Generation:\s+)\d+$", "$1[N]");
    settings.add_filter(r"\(\d+ kept\)", "([N] kept)");
    settings.add_filter(r"(?m) -{10,}$", " [RULE]");
    settings
}

#[test]
fn a_running_agent_reports_a_healthy_output_in_show_and_ls() {
    let lab = Lab::start();
    put_roles(&lab, &["access"]);
    put_bot(&lab, "example", &["access"], &[], None);
    let token = new_token(&lab, "example");
    let _agent = Agent::start(
        &lab,
        &token,
        &lab.root().join("tbot-data"),
        &lab.root().join("out"),
    );
    let text = wait_for_status(&lab, "example", "healthy");
    show_settings().bind(|| insta::assert_snapshot!("instances_show_healthy_service", text));

    let out = run(&mut lab.cmd(&["bots", "instances", "ls", "--format", "json"]));
    let rows = json(&out.stdout);
    assert_eq!(rows[0]["status"], "healthy");
    // The lab agent reports itself as tbot 18.1.0 (agent/src/rpc.rs TBOT_VERSION).
    assert_eq!(rows[0]["version"], "18.1.0");
}

/// Bot `bot` (role `access`) with a running agent whose identity output's parent directory is
/// a file (`not-a-dir`), so that output reports unhealthy.
pub fn agent_that_cannot_write(lab: &Lab, bot: &str) -> Agent {
    put_roles(lab, &["access"]);
    put_bot(lab, bot, &["access"], &[], None);
    let token = new_token(lab, bot);
    let blocker = lab.root().join("not-a-dir");
    std::fs::write(&blocker, "a file where the output's parent should be").expect("file");
    Agent::start(
        lab,
        &token,
        &lab.root().join("tbot-data"),
        &blocker.join("out"),
    )
}

#[test]
fn an_output_that_cannot_be_written_is_unhealthy_with_the_error() {
    let lab = Lab::start();
    let _agent = agent_that_cannot_write(&lab, "example");
    let text = wait_for_status(&lab, "example", "unhealthy");
    assert!(text.contains("Status: Unhealthy\n"), "{text}");
    let services = text.split("\nServices:\n").nth(1).expect("services table");
    let row = services.lines().nth(2).expect("a service row");
    assert!(
        row.trim_start().starts_with("Unhealthy identity-1 "),
        "{row}"
    );
    assert!(
        row.contains("not-a-dir"),
        "the reason names the path: {row}"
    );

    let out = run(&mut lab.cmd(&["bots", "instances", "ls"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(" Unhealthy "), "{}", out.stdout);
}
