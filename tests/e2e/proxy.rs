//! `lab start --proxy-listen` and `--proxy`: the lab proxy with TLS routing, reached the way
//! admins reach a Teleport proxy, and the one-line errors for addresses that are not one.

use crate::harness::{Lab, mwictl_cmd, run};

/// A lab with a proxy on a free loopback port; its `127.0.0.1:PORT`.
fn lab_with_proxy(extra: &[&str]) -> (Lab, String) {
    let mut args = vec!["--proxy-listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let lab = Lab::start_with(&args);
    let proxy = lab.proxy.clone().expect("the ready line names the proxy");
    (lab, proxy)
}

#[test]
fn the_ready_line_names_the_proxy_and_the_web_ca_is_beside_the_data() {
    let (lab, proxy) = lab_with_proxy(&[]);
    assert!(
        proxy.starts_with("127.0.0.1:") && proxy != "127.0.0.1:0",
        "{proxy}"
    );
    assert!(
        lab.ready_line
            .ends_with(&format!(" cluster=lab proxy={proxy}")),
        "{}",
        lab.ready_line
    );
    let data = lab.identity.parent().unwrap();
    assert!(data.join("web-ca.crt").is_file());
    // The web CA is the lab proxy's own: it is not among the CAs an admin identity trusts.
    let web_ca = std::fs::read_to_string(data.join("web-ca.crt")).unwrap();
    let identity = std::fs::read_to_string(&lab.identity).unwrap();
    assert!(!identity.contains(web_ca.trim()));
}

#[test]
fn locks_ls_through_the_lab_proxy_as_the_admin() {
    let (lab, proxy) = lab_with_proxy(&[]);
    let home = tempfile::tempdir().unwrap();
    let identity = lab.identity.display().to_string();
    let out = run(&mut mwictl_cmd(
        home.path(),
        &["--proxy", &proxy, "-i", &identity, "locks", "ls"],
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "no locks found\n");
}

#[test]
fn ping_says_the_route_taken() {
    let (lab, proxy) = lab_with_proxy(&[]);
    let home = tempfile::tempdir().unwrap();
    let identity = lab.identity.display().to_string();
    let routed = run(&mut mwictl_cmd(
        home.path(),
        &["--proxy", &proxy, "-i", &identity, "ping"],
    ));
    assert_eq!(routed.code, 0, "{}", routed.stderr);
    assert!(
        routed
            .stdout
            .contains(&format!("Proxy:          {proxy} (from flags)\n"))
    );
    assert!(
        routed.stdout.contains("Route:          TLS routing\n"),
        "{}",
        routed.stdout
    );
    let direct = run(&mut mwictl_cmd(
        home.path(),
        &[
            "--auth-server",
            &lab.addr,
            "-i",
            &identity,
            "ping",
            "--format",
            "json",
        ],
    ));
    assert_eq!(direct.code, 0, "{}", direct.stderr);
    let json: serde_json::Value = serde_json::from_str(&direct.stdout).unwrap();
    assert_eq!(json["route"], "direct");
}

/// `mwictl --proxy ADDR -i IDENTITY ping` against what answers at `addr`: exit code, stderr.
fn ping_via(addr: &str, identity: &str) -> (i32, String, std::time::Duration) {
    let home = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = run(&mut mwictl_cmd(
        home.path(),
        &["--proxy", addr, "-i", identity, "ping"],
    ));
    (out.code, out.stderr, started.elapsed())
}

/// Bad input: each an error line naming the address, a hint with the fix, well within the
/// bounded timeouts.
fn assert_named(stderr: &str, addr: &str, says: &str, fix: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(addr),
        "{stderr}"
    );
    assert!(lines[0].contains(says), "{stderr}");
    assert!(
        lines[1].starts_with("hint: ") && lines[1].contains(fix),
        "{stderr}"
    );
}

#[test]
fn a_plain_https_server_is_not_a_teleport_proxy() {
    let lab = Lab::start();
    let web = mwi_testkit::web::WebServer::answering(
        &["localhost"],
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
    );
    let (code, stderr, took) = ping_via(&web.addr, &lab.identity.display().to_string());
    assert_eq!(code, 6, "{stderr}");
    assert_named(
        &stderr,
        &web.addr,
        "is not a Teleport proxy: https://",
        "--proxy the HTTPS web address of a Teleport proxy",
    );
    assert!(stderr.contains("\"HTTP/1.1 404 Not Found\""), "{stderr}");
    assert!(took.as_secs() < 15, "{took:?}");
}

#[test]
fn a_plain_http_server_does_not_speak_tls() {
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
    let (code, stderr, took) = ping_via(&addr, &lab.identity.display().to_string());
    assert_eq!(code, 6, "{stderr}");
    assert_named(
        &stderr,
        &addr,
        "does not speak TLS",
        "--proxy the HTTPS web address",
    );
    assert!(took.as_secs() < 15, "{took:?}");
}

#[test]
fn a_proxy_without_tls_routing_is_named_with_the_setting() {
    let lab = Lab::start();
    let body = r#"{"cluster_name":"lab","server_version":"17.0.0","proxy":{"tls_routing_enabled":false,"ssh":{"public_addr":"localhost:3080"}}}"#;
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let proxy = mwi_testkit::web::WebServer::answering(&["localhost"], &response);
    let (code, stderr, _) = ping_via(&proxy.addr, &lab.identity.display().to_string());
    assert_eq!(code, 6, "{stderr}");
    assert_named(
        &stderr,
        &proxy.addr,
        "(cluster lab) has TLS routing off",
        "proxy_listener_mode: multiplex",
    );
}

#[test]
fn an_identity_of_another_cluster_names_both_clusters() {
    let (_lab, proxy) = lab_with_proxy(&[]);
    let other = Lab::start_with(&["--cluster-name", "other"]);
    let identity = other.identity.display().to_string();
    let (code, stderr, _) = ping_via(&proxy, &identity);
    assert_eq!(code, 6, "{stderr}");
    assert_named(
        &stderr,
        &proxy,
        &format!("serves cluster \"lab\", not \"other\" (the cluster of {identity})"),
        "use an identity file of cluster \"lab\"",
    );
}

#[test]
fn the_public_address_is_advertised_and_named_by_the_web_certificate() {
    let (lab, _proxy) = lab_with_proxy(&["--proxy-public-addr", "teleport.example.com:443"]);
    let web = std::fs::read(lab.identity.parent().unwrap().join("web.crt")).unwrap();
    let leaf = rustls_pemfile::certs(&mut web.as_slice())
        .next()
        .unwrap()
        .unwrap();
    let names = mwi_identity::tls::dns_names(leaf.as_ref()).unwrap();
    assert!(
        names.iter().any(|n| n == "teleport.example.com"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.contains("teleport.cluster.local")),
        "{names:?}"
    );

    let home = tempfile::tempdir().unwrap();
    let out = run(&mut mwictl_cmd(
        home.path(),
        &[
            "lab",
            "start",
            "--proxy-listen",
            "127.0.0.1:0",
            "--proxy-public-addr",
            "no port",
        ],
    ));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("\"no port\" is not NAME:PORT"),
        "{}",
        out.stderr
    );
}
