//! Long listings stream: 100,000 bot instances reach stdout page by page in bounded memory, and
//! a `ListBotInstancesV2` the server lacks is asked once, then the older RPC carries on.

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::time::Instant;

use std::sync::Arc;

use mwi_proto::machineid::{
    BotInstance, BotInstanceSpec, BotInstanceStatus, BotInstanceStatusAuthentication,
    BotInstanceStatusHeartbeat,
};
use mwi_proto::method::{auth, bot_instance};
use mwi_testkit::scripted::{Script, Scripted};

use crate::harness::{BIN, mwictl_cmd, run};

/// A server of version `version` with `count` instances of 100 bots (`bot-0` …), each with a
/// heartbeat from a host named with `hostname_len` letters.
fn fleet_of_bots(version: &str, count: usize, hostname_len: usize) -> Script {
    Script {
        server_version: version.into(),
        instances: count,
        instance: Arc::new(move |i| instance(i, hostname_len)),
        ..Default::default()
    }
}

fn instance(i: usize, hostname_len: usize) -> BotInstance {
    let at = Some(prost_types::Timestamp {
        seconds: 1_750_000_000 + i as i64,
        nanos: 0,
    });
    let auth = BotInstanceStatusAuthentication {
        authenticated_at: at,
        join_method: "token".into(),
        generation: 1 + (i % 7) as i32,
        ..Default::default()
    };
    BotInstance {
        kind: "bot_instance".into(),
        version: "v1".into(),
        spec: Some(BotInstanceSpec {
            bot_name: format!("bot-{}", i % 100),
            instance_id: format!("00000000-0000-4000-8000-{i:012}"),
            ..Default::default()
        }),
        status: Some(BotInstanceStatus {
            initial_authentication: Some(auth.clone()),
            latest_authentications: vec![auth],
            latest_heartbeats: vec![BotInstanceStatusHeartbeat {
                recorded_at: at,
                hostname: "h".repeat(hostname_len),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn hundred_thousand_bot_instances_stream_in_bounded_memory() {
    const COUNT: usize = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let server = Scripted::start(fleet_of_bots("19.0.0", COUNT, 200), dir.path());
    let started = Instant::now();
    let mut child = std::process::Command::new(BIN)
        .args(["--auth-server", &server.addr, "-i"])
        .arg(&server.identity)
        .args(["get", "bot_instances", "--format", "json"])
        .envs(crate::harness::hermetic_env(&dir.path().join("home")))
        .env_remove("TELEPORT_AUTH_SERVER")
        .env_remove("TELEPORT_IDENTITY_FILE")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mwictl");
    let pid = child.id();
    let sampler = std::thread::spawn(move || crate::harness::sample_peak_rss(pid));
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let (mut bytes, mut items) = (0usize, 0usize);
        let (mut first, mut last) = (String::new(), String::new());
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("utf-8 line");
            bytes += line.len() + 1;
            if line.trim_start().starts_with("\"instance_id\":") {
                items += 1;
            }
            if first.is_empty() {
                first.clone_from(&line);
            }
            last = line;
        }
        (bytes, items, first, last)
    });
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .unwrap();
    // The sampler stops when the child turns zombie, so join it before reaping the child.
    let peak_kib = sampler.join().expect("sampler");
    let code = child.wait().expect("wait").code().unwrap_or(-1);
    let (bytes, items, first, last) = reader.join().expect("reader");
    let elapsed = started.elapsed();
    eprintln!(
        "streamed {items} bot instances, {} MiB of JSON, in {:.2?}; peak RSS {} MiB",
        bytes / (1 << 20),
        elapsed,
        peak_kib / 1024
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(items, COUNT);
    assert_eq!((first.as_str(), last.as_str()), ("[", "]"));
    // Holding every instance (and its JSON) would take several hundred MiB; a page is a few.
    // The bound is 50 MB whatever the count.
    assert!(
        peak_kib < 50 * 1000,
        "peak RSS {peak_kib} KiB: the listing is not streamed"
    );
    let calls = server.calls();
    // The RPC choice needs no version, so no Ping.
    assert_eq!(calls.get(auth::PING), None, "{calls:?}");
    assert_eq!(
        calls.get(bot_instance::LIST_BOT_INSTANCES_V2),
        Some(&1),
        "asked once, then remembered: {calls:?}"
    );
    assert_eq!(
        calls.get(bot_instance::LIST_BOT_INSTANCES),
        Some(&(COUNT / 500)),
        "{calls:?}"
    );
}

#[test]
fn pages_join_under_one_table_header_and_one_yaml_stream() {
    let dir = tempfile::tempdir().unwrap();
    let server = Scripted::start(fleet_of_bots("16.4.2", 1_201, 8), dir.path());
    let home = dir.path().join("home");
    let identity = server.identity.display().to_string();
    let flags = [
        "--auth-server",
        server.addr.as_str(),
        "-i",
        identity.as_str(),
    ];
    let text = run(&mut mwictl_cmd(
        &home,
        &[&flags[..], &["get", "bot_instances"]].concat(),
    ));
    assert_eq!(text.code, 0, "{}", text.stderr);
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(lines.len(), 2 + 1_201);
    assert!(lines[0].starts_with("ID "), "{}", lines[0]);
    assert_eq!(text.stdout.matches("Join Method").count(), 1);
    let cells: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(
        cells[..3],
        [
            "bot-0/00000000-0000-4000-8000-000000000000",
            "token",
            "hhhhhhhh"
        ]
    );

    let yaml = run(&mut mwictl_cmd(
        &home,
        &[&flags[..], &["get", "bot_instances", "--format", "yaml"]].concat(),
    ));
    assert_eq!(yaml.code, 0, "{}", yaml.stderr);
    assert_eq!(yaml.stdout.matches("\n---\n").count(), 1_200);
    // Whatever its version says, a server is asked for ListBotInstancesV2 once per process.
    assert_eq!(
        server.calls().get(bot_instance::LIST_BOT_INSTANCES_V2),
        Some(&2)
    );
}
