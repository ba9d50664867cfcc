//! The lab proxy: webapi answers over its own web certificate, `teleport-auth@…` connections
//! reach the lab auth end to end (the client sees auth's certificate, auth sees the client's),
//! and odd input (plain HTTP, another cluster, a truncated or silent hello) ends only that
//! connection.

use std::sync::Arc;
use std::time::Duration;

use mwi_auth::lab::ProxyConfig;
use mwi_identity::tls::{self, ClientCert, Dialer, ServerCheck};
use mwi_proto::proto::PingRequest;
use mwi_proto::proto::auth_service_client::AuthServiceClient;
use mwi_testkit::Lab;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn lab_with_proxy(public_addr: Option<&str>) -> (Lab, String) {
    let lab = Lab::start_with(|config| {
        config.proxy = Some(ProxyConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            public_addr: public_addr.map(str::to_string),
            l7: false,
        })
    })
    .await;
    let proxy = lab
        .handle
        .ready()
        .proxy
        .expect("the proxy address")
        .to_string();
    (lab, proxy)
}

/// A dialer through `proxy` to `cluster`'s auth, as the admin.
fn routed(lab: &Lab, proxy: &str, cluster: &str) -> Dialer {
    let roots = tls::roots_from_pem(&lab.admin.tls_ca_pems).unwrap();
    let cert = ClientCert {
        cert_pem: &lab.admin.tls_cert_pem,
        key_pem: &lab.admin.private_key_pem,
    };
    let config = tls::client_config(ServerCheck::Roots(roots), Some(cert), Some(cluster)).unwrap();
    Dialer::new(proxy, config)
        .unwrap()
        .with_server_name(&tls::cluster_server_name(cluster))
        .unwrap()
}

/// `GET path` over TLS trusting only the lab's web CA; the whole answer.
async fn https_get(lab: &Lab, proxy: &str, path: &str) -> String {
    let web_ca = std::fs::read_to_string(lab.data_dir().join("web-ca.crt")).unwrap();
    let roots = tls::roots_from_pem(&[web_ca]).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(proxy).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer).await;
    answer
}

fn json_body(answer: &str) -> serde_json::Value {
    serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap()
}

#[tokio::test]
async fn webapi_find_and_ping_answer_with_the_cluster_over_the_web_certificate() {
    let (lab, proxy) = lab_with_proxy(Some("proxy.example.com:443")).await;
    for path in ["/webapi/find", "/webapi/ping", "/v1/webapi/find"] {
        let answer = https_get(&lab, &proxy, path).await;
        assert!(
            answer.starts_with("HTTP/1.1 200 OK\r\n"),
            "{path}: {answer}"
        );
        let body = json_body(&answer);
        assert_eq!(body["cluster_name"], "lab");
        assert_eq!(body["server_version"], "18.0.0+lab");
        assert_eq!(body["proxy"]["tls_routing_enabled"], true);
        assert_eq!(body["proxy"]["ssh"]["public_addr"], "proxy.example.com:443");
        assert_eq!(body["proxy"]["ssh"]["web_listen_addr"], proxy);
    }
    // The web CA is the lab's own, not the cluster's.
    let web_ca = std::fs::read_to_string(lab.data_dir().join("web-ca.crt")).unwrap();
    assert!(!lab.admin.tls_ca_pems.concat().contains(web_ca.trim()));
}

#[tokio::test]
async fn teleport_auth_connections_reach_auth_end_to_end() {
    let (lab, proxy) = lab_with_proxy(None).await;
    let stream = routed(&lab, &proxy, "lab").dial().await.unwrap();
    // The session is auth's: ALPN h2 negotiated with it, its certificate checked with the cluster CA.
    assert_eq!(
        stream.get_ref().get_ref().1.alpn_protocol(),
        Some(&b"h2"[..])
    );
    drop(stream);
    let channel = routed(&lab, &proxy, "lab").channel().await.unwrap();
    let ping = AuthServiceClient::new(channel)
        .ping(PingRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ping.cluster_name, "lab");
    // The default public address is the listen address.
    let body = json_body(&https_get(&lab, &proxy, "/webapi/find").await);
    assert_eq!(body["proxy"]["ssh"]["public_addr"], proxy);
}

#[tokio::test]
async fn another_cluster_plain_http_and_broken_hellos_end_only_that_connection() {
    let (lab, proxy) = lab_with_proxy(None).await;
    let err = routed(&lab, &proxy, "other").dial().await.unwrap_err();
    assert!(err.to_string().contains(&proxy), "{err}");

    let mut plain = TcpStream::connect(&proxy).await.unwrap();
    plain
        .write_all(b"GET /webapi/find HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    plain.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.0 400 Bad Request"), "{answer}");

    // A truncated hello, then the client goes away; garbage; a client that says nothing.
    let mut truncated = TcpStream::connect(&proxy).await.unwrap();
    truncated
        .write_all(b"\x16\x03\x01\x02\x00\x01\x00")
        .await
        .unwrap();
    drop(truncated);
    let mut garbage = TcpStream::connect(&proxy).await.unwrap();
    garbage
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0x02, 0x09, 0x09])
        .await
        .unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), garbage.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "a malformed hello is closed at once");
    let _silent = TcpStream::connect(&proxy).await.unwrap();

    // The proxy still routes.
    routed(&lab, &proxy, "lab").dial().await.unwrap();
}
