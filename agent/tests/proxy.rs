//! The agent through the lab proxy: discovery with `/webapi/find`, the advertised address versus
//! `TBOT_USE_PROXY_ADDR=yes` (split DNS, S6), `ssh_config`/`known_hosts` in identity outputs, and
//! the proxy ping of an `auth_server` bot that cannot reach its proxy (S7).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::args;
use mwi_agent::{AgentArgs, AgentExit};
use mwi_auth::lab::ProxyConfig;
use mwi_diag::doctor::{Doctor, Incident};
use mwi_diag::incident::Incident as Product;
use mwi_testkit::Lab;
use mwi_testkit::fixtures::access_role;

const LIMIT: Duration = Duration::from_secs(60);

/// A name that never resolves (RFC 6761), as a public name does not from inside split DNS.
const UNRESOLVABLE: &str = "proxy.lab.invalid:3080";

/// A lab with a proxy advertising `public_addr` (its listen address when `None`), a bot
/// `example` with role `access`, and its one-time token.
async fn lab_with_proxy(public_addr: Option<&str>) -> (Lab, String, String) {
    let public_addr = public_addr.map(str::to_string);
    let lab = Lab::start_with(|config| {
        config.proxy = Some(ProxyConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            public_addr,
            l7: false,
        });
    })
    .await;
    let proxy = lab.handle.ready().proxy.expect("a proxy").to_string();
    lab.upsert_role(access_role("access", &["alice"])).await;
    lab.create_bot("example", &["access"], &[]).await;
    let token = lab.bot_token("example").await;
    (lab, proxy, token)
}

/// tbot.yaml for a oneshot bot at `server` (`proxy_server: …` or `auth_server: …`) with one
/// identity output to `out`, `ssh_config` as given.
fn write_config(lab: &Lab, server: &str, token: &str, out: &Path, ssh_config: &str) -> PathBuf {
    let path = lab.path("tbot.yaml");
    std::fs::write(
        &path,
        format!(
            "version: v2\n{server}\nonboarding:\n  token: {token}\n  join_method: token\n  ca_path: {}\nstorage:\n  type: directory\n  path: {}\noneshot: true\nservices:\n  - type: identity\n    destination:\n      type: directory\n      path: {}\n    roles: [access]\n{ssh_config}",
            lab.ca_path.display(),
            lab.path("bot").display(),
            out.display()
        ),
    )
    .unwrap();
    path
}

/// Runs the agent once with the lab's web CA and `TBOT_USE_PROXY_ADDR` as given; its log.
async fn run(lab: &Lab, config: &Path, use_proxy_addr: Option<&str>) -> (AgentExit, String) {
    let log = lab.path("agent.log");
    let _ = std::fs::remove_file(&log);
    let agent = AgentArgs {
        use_proxy_addr: use_proxy_addr.map(str::to_string),
        fallback_web_ca_path: Some(lab.data_dir().join(mwi_auth::lab::WEB_CA_CERT)),
        ..args(&[
            "-c",
            config.to_str().unwrap(),
            "--log-file",
            log.to_str().unwrap(),
        ])
    };
    let exit = tokio::time::timeout(LIMIT, mwi_agent::run(agent, std::future::pending()))
        .await
        .expect("the agent ends by itself in time");
    (exit, std::fs::read_to_string(&log).unwrap_or_default())
}

fn doctor(text: &str) -> Vec<Incident> {
    let mut doctor = Doctor::new();
    doctor.feed_reader("tbot.log", text.as_bytes()).unwrap();
    doctor
        .finish()
        .findings
        .into_iter()
        .map(|f| f.incident)
        .collect()
}

#[tokio::test]
async fn behind_split_dns_the_advertised_address_fails_and_tbot_use_proxy_addr_fixes_it() {
    let (lab, proxy, token) = lab_with_proxy(Some(UNRESOLVABLE)).await;
    let out = lab.path("out");
    let config = write_config(&lab, &format!("proxy_server: {proxy}"), &token, &out, "");

    // The join goes through proxy_server; everything after it to the advertised name.
    let (exit, text) = run(&lab, &config, Some("true")).await;
    assert_eq!(exit, AgentExit::Failed, "{text}");
    assert!(text.contains("Fetched new bot identity"), "{text}");
    assert!(
        text.contains(
            "failed dial to auth server through reverse tunnel: dial tcp: lookup proxy.lab.invalid: no such host"
        ),
        "{text}"
    );
    assert!(!out.join("identity").exists());
    assert_eq!(
        doctor(&text),
        [Incident::Product(Product::SplitDns)],
        "{text}"
    );

    // The fix: exactly `yes` keeps tbot on the configured address.
    let (exit, text) = run(&lab, &config, Some("yes")).await;
    assert_eq!(exit, AgentExit::Done, "{text}");
    assert!(text.contains("Successfully renewed bot identity"), "{text}");
    let ssh_config = std::fs::read_to_string(out.join("ssh_config")).unwrap();
    let host = proxy.rsplit_once(':').unwrap().0;
    assert!(
        ssh_config.contains(&format!("Host *.lab {host}\n"))
            && ssh_config.contains(&format!("--proxy-server='{proxy}'")),
        "{ssh_config}"
    );
    let known_hosts = std::fs::read_to_string(out.join("known_hosts")).unwrap();
    assert!(
        known_hosts.starts_with(&format!("@cert-authority {host},lab,*.lab ")),
        "{known_hosts}"
    );
    assert!(out.join("identity").exists());
}

#[tokio::test]
async fn through_a_reachable_proxy_the_identity_output_gets_ssh_config_unless_off() {
    let (lab, proxy, token) = lab_with_proxy(None).await;
    let out = lab.path("out");
    let config = write_config(&lab, &format!("proxy_server: {proxy}"), &token, &out, "");
    let (exit, text) = run(&lab, &config, None).await;
    assert_eq!(exit, AgentExit::Done, "{text}");
    for file in ["identity", "ssh_config", "known_hosts", "key-cert.pub"] {
        assert!(out.join(file).is_file(), "{file}: {text}");
    }

    let off = lab.path("off");
    let config = write_config(
        &lab,
        &format!("proxy_server: {proxy}"),
        &token,
        &off,
        "    ssh_config: \"off\"\n",
    );
    let (exit, text) = run(&lab, &config, None).await;
    assert_eq!(exit, AgentExit::Done, "{text}");
    assert!(off.join("identity").is_file(), "{text}");
    assert!(!off.join("ssh_config").exists() && !off.join("known_hosts").exists());
}

#[tokio::test]
async fn an_auth_server_bot_that_cannot_reach_its_proxy_fails_until_ssh_config_is_off() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let unreachable = closed.local_addr().unwrap().to_string();
    drop(closed);
    let (lab, _, token) = lab_with_proxy(Some(&unreachable)).await;
    let out = lab.path("out");
    let server = format!("auth_server: {}", lab.addr);
    let config = write_config(&lab, &server, &token, &out, "");
    let (exit, text) = run(&lab, &config, None).await;
    assert_eq!(exit, AgentExit::Failed, "{text}");
    assert!(
        text.contains("Failed to ping proxy.")
            && text.contains(&format!(
                "Get \"https://{unreachable}/webapi/find\": dial tcp {unreachable}: connect: connection refused"
            )),
        "{text}"
    );
    assert_eq!(
        doctor(&text),
        [Incident::Product(Product::NoProxy)],
        "{text}"
    );

    // The fix doctor and lint give: ssh_config "off" (the stored identity renews).
    let config = write_config(&lab, &server, &token, &out, "    ssh_config: \"off\"\n");
    let (exit, text) = run(&lab, &config, None).await;
    assert_eq!(exit, AgentExit::Done, "{text}");
    assert!(out.join("identity").is_file(), "{text}");
}

/// Runs the agent once against a proxy stand-in at `proxy` (web certificate not checked); its
/// exit and log.
fn run_against(proxy: &str) -> (AgentExit, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tbot.yaml");
    std::fs::write(
        &config,
        format!(
            "version: v2\nproxy_server: {proxy}\ninsecure: true\nonboarding:\n  token: t\nstorage:\n  type: directory\n  path: {}\noneshot: true\n",
            dir.path().join("bot").display()
        ),
    )
    .unwrap();
    let log = dir.path().join("agent.log");
    let agent = args(&[
        "-c",
        config.to_str().unwrap(),
        "--log-file",
        log.to_str().unwrap(),
    ]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let exit = runtime.block_on(async {
        tokio::time::timeout(LIMIT, mwi_agent::run(agent, std::future::pending()))
            .await
            .expect("the agent ends by itself in time")
    });
    (exit, std::fs::read_to_string(&log).unwrap_or_default())
}

#[test]
fn a_proxy_without_tls_routing_or_not_teleport_is_one_line_and_no_join() {
    let find = r#"{"cluster_name":"lab","proxy":{"ssh":{"public_addr":"p:443"},"tls_routing_enabled":false}}"#;
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{find}",
        find.len()
    );
    let proxy = mwi_testkit::web::WebServer::answering(&["localhost"], &response);
    let (exit, text) = run_against(&proxy.addr);
    assert_eq!(exit, AgentExit::Failed, "{text}");
    assert!(
        text.contains(&format!(
            "proxy_server {}: the proxy has TLS routing off",
            proxy.addr
        )),
        "{text}"
    );
    assert!(!text.contains("Joining the cluster"), "{text}");

    let html = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 6\r\nConnection: close\r\n\r\n<html>";
    let web = mwi_testkit::web::WebServer::answering(&["localhost"], html);
    let (exit, text) = run_against(&web.addr);
    assert_eq!(exit, AgentExit::Failed, "{text}");
    assert!(
        text.contains("Failed to resolve tunnel address")
            && text.contains(&format!(
                "cannot parse server response; is \\\"https://{}\\\" a Teleport server?",
                web.addr
            )),
        "{text}"
    );
}
