//! `--proxy` behind an L7 load balancer (`lab start --proxy-l7`): the connection upgrade detected
//! as Teleport detects it, `TELEPORT_TLS_ROUTING_CONN_UPGRADE` both ways, the web certificate
//! checked with `SSL_CERT_FILE` or skipped with `--insecure`, and the one-line errors.

use std::time::{Duration, Instant};

use crate::harness::{Lab, Run, mwictl_cmd, run};

const ENV: &str = "TELEPORT_TLS_ROUTING_CONN_UPGRADE";

/// A lab whose proxy (on a free loopback port) is `--proxy-l7` when `l7`; its address and the
/// lab web CA (`web-ca.crt` beside the data).
fn lab_with_proxy(l7: bool) -> (Lab, String, String) {
    let mut args = vec!["--proxy-listen", "127.0.0.1:0"];
    if l7 {
        args.push("--proxy-l7");
    }
    let lab = Lab::start_with(&args);
    let proxy = lab.proxy.clone().expect("the ready line names the proxy");
    let web_ca = lab.identity.parent().unwrap().join("web-ca.crt");
    assert!(web_ca.is_file());
    (lab, proxy, web_ca.display().to_string())
}

/// `mwictl --proxy PROXY -i IDENTITY ARGS` with `env` set (and, by the harness, no Teleport or
/// CA bundle variables otherwise), and how long it took.
fn via(proxy: &str, lab: &Lab, args: &[&str], env: &[(&str, &str)]) -> (Run, Duration) {
    let home = tempfile::tempdir().unwrap();
    let identity = lab.identity.display().to_string();
    let mut full = vec!["--proxy", proxy, "-i", &identity];
    full.extend_from_slice(args);
    let mut cmd = mwictl_cmd(home.path(), &full);
    cmd.envs(env.iter().copied());
    let started = Instant::now();
    let out = run(&mut cmd);
    (out, started.elapsed())
}

fn route(out: &Run) -> &str {
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("Route:"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no route in {}{}", out.stdout, out.stderr))
}

/// Each error: one line naming the address and saying what, one hint with the fix, quickly.
fn assert_named(out: &Run, took: Duration, addr: &str, says: &str, fix: &str) {
    assert_eq!(out.code, 6, "{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(addr) && lines[0].contains(says),
        "{}",
        out.stderr
    );
    assert!(
        lines[1].starts_with("hint: ") && lines[1].contains(fix),
        "{}",
        out.stderr
    );
    assert!(took < Duration::from_secs(15), "{took:?}");
}

#[test]
fn locks_ls_and_ping_through_an_l7_load_balancer_use_the_connection_upgrade() {
    let (lab, proxy, web_ca) = lab_with_proxy(true);
    let trust = [("SSL_CERT_FILE", web_ca.as_str())];
    let (ls, _) = via(&proxy, &lab, &["locks", "ls"], &trust);
    assert_eq!(ls.code, 0, "{}", ls.stderr);
    assert_eq!(ls.stderr, "no locks found\n");

    let (ping, _) = via(&proxy, &lab, &["ping"], &trust);
    assert_eq!(ping.code, 0, "{}", ping.stderr);
    assert_eq!(route(&ping), "connection upgrade");
    assert!(
        ping.stdout.contains("Cluster:        lab\n"),
        "{}",
        ping.stdout
    );
    let (json, _) = via(&proxy, &lab, &["ping", "--format", "json"], &trust);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["route"], "connection upgrade");
    assert_eq!(json["via_proxy"], true);
}

#[test]
fn a_proxy_reached_directly_keeps_tls_routing() {
    let (lab, proxy, _) = lab_with_proxy(false);
    let (ping, _) = via(&proxy, &lab, &["ping"], &[]);
    assert_eq!(ping.code, 0, "{}", ping.stderr);
    assert_eq!(route(&ping), "TLS routing");
}

#[test]
fn the_environment_overrides_detection_both_ways() {
    // On: the proxy itself serves the upgrade too, as Teleport's does.
    let (lab, proxy, web_ca) = lab_with_proxy(false);
    for value in ["true", "yes", &format!("other:443=no;{proxy}=1")] {
        let (ping, _) = via(
            &proxy,
            &lab,
            &["ping"],
            &[(ENV, value), ("SSL_CERT_FILE", web_ca.as_str())],
        );
        assert_eq!(ping.code, 0, "{value}: {}", ping.stderr);
        assert_eq!(route(&ping), "connection upgrade", "{value}");
    }
    let (ping, _) = via(
        &proxy,
        &lab,
        &["ping"],
        &[(ENV, "other.example.com:443=true")],
    );
    assert_eq!(
        route(&ping),
        "TLS routing",
        "another address's item does not apply"
    );

    // Off in front of an L7 load balancer: TLS routing meets the load balancer's TLS.
    let (l7, l7_proxy, l7_ca) = lab_with_proxy(true);
    let (out, took) = via(
        &l7_proxy,
        &l7,
        &["ping"],
        &[(ENV, "false"), ("SSL_CERT_FILE", l7_ca.as_str())],
    );
    assert_named(
        &out,
        took,
        &l7_proxy,
        "neither gRPC (h2) nor Teleport's auth routing",
        "--proxy",
    );
}

#[test]
fn the_web_certificate_needs_trust_or_insecure_which_skips_only_that_check() {
    let (lab, proxy, web_ca) = lab_with_proxy(true);
    // Neither the system's roots nor another CA's bundle trust the lab web CA.
    let other_ca = lab.identity.parent().unwrap().join("other-ca.pem");
    let key = rcgen::KeyPair::generate().unwrap();
    let other = rcgen::CertificateParams::new(vec!["ca.example".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(&other_ca, other.pem()).unwrap();
    let other_ca = other_ca.display().to_string();
    for env in [vec![], vec![("SSL_CERT_FILE", other_ca.as_str())]] {
        let (out, took) = via(&proxy, &lab, &["locks", "ls"], &env);
        assert_named(
            &out,
            took,
            &proxy,
            "web certificate of the proxy at",
            "SSL_CERT_FILE=CA.pem",
        );
        assert!(out.stderr.contains("not trusted"), "{}", out.stderr);
        assert!(out.stderr.contains("--insecure"), "{}", out.stderr);
    }

    let (ok, _) = via(&proxy, &lab, &["--insecure", "locks", "ls"], &[]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let (ok, _) = via(
        &proxy,
        &lab,
        &["locks", "ls"],
        &[("SSL_CERT_FILE", &web_ca)],
    );
    assert_eq!(ok.code, 0, "{}", ok.stderr);

    // --insecure does not reach the inner TLS: an identity of another cluster is still refused.
    let other_lab = Lab::start_with(&["--cluster-name", "other"]);
    let (out, took) = via(&proxy, &other_lab, &["--insecure", "ping"], &[]);
    assert_named(
        &out,
        took,
        &proxy,
        "serves cluster \"lab\", not \"other\"",
        "use an identity file of cluster \"lab\"",
    );
}

#[test]
fn an_unreadable_ssl_cert_file_is_named() {
    let (lab, proxy, _) = lab_with_proxy(true);
    let (out, took) = via(
        &proxy,
        &lab,
        &["ping"],
        &[("SSL_CERT_FILE", "/nonexistent/ca.pem")],
    );
    assert_named(
        &out,
        took,
        "/nonexistent/ca.pem",
        "CA bundle /nonexistent/ca.pem from SSL_CERT_FILE",
        "SSL_CERT_FILE",
    );
}

#[test]
fn a_plain_http_server_does_not_speak_tls_even_when_upgrading() {
    let lab = Lab::start();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut conn in listener.incoming().flatten() {
            let _ = conn.read(&mut [0u8; 4096]);
            let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
        }
    });
    let (out, took) = via(&addr, &lab, &["ping"], &[(ENV, "true")]);
    assert_named(
        &out,
        took,
        &addr,
        "does not speak TLS",
        "--proxy the HTTPS web address",
    );
}

#[test]
fn an_https_server_that_is_not_teleport_is_named_after_its_404() {
    let lab = Lab::start();
    let web = mwi_testkit::web::WebServer::answering(
        &["localhost"],
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
    );
    // It negotiates only h2 and http/1.1, so the probe asks for the upgrade.
    let (out, took) = via(&web.addr, &lab, &["--insecure", "ping"], &[]);
    assert_named(
        &out,
        took,
        &web.addr,
        "is not a Teleport proxy: https://",
        "--proxy the HTTPS web address of a Teleport proxy",
    );
    assert!(
        out.stderr.contains("\"HTTP/1.1 404 Not Found\""),
        "{}",
        out.stderr
    );
}

#[test]
fn a_load_balancer_that_refuses_the_upgrade_is_named() {
    let lab = Lab::start();
    // A Teleport proxy's /webapi/find answer, given to every request: the upgrade gets a 200.
    let body = r#"{"cluster_name":"lab","server_version":"17.0.0","proxy":{"tls_routing_enabled":true,"ssh":{"public_addr":"localhost:443"}}}"#;
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let web = mwi_testkit::web::WebServer::answering(&["localhost"], &response);
    let (out, took) = via(&web.addr, &lab, &["--insecure", "ping"], &[]);
    assert_named(
        &out,
        took,
        &web.addr,
        "refused the connection upgrade: failed to switch Protocols HTTP/1.1 200 OK",
        "WebSocket upgrades on /webapi/connectionupgrade",
    );
}
