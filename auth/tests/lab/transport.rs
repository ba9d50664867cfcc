//! mTLS, routing and request hygiene: who may connect, and what odd requests get back.

use mwi_identity::tls;
use mwi_proto::proto::PingRequest;
use tonic::Code;

use mwi_testkit::Lab;
use mwi_testkit::wire::raw_call;

#[tokio::test]
async fn ping_reports_cluster_version_and_remote_addr() {
    let lab = Lab::start().await;
    let ping = lab
        .auth()
        .await
        .ping(PingRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ping.cluster_name, "lab");
    assert_eq!(ping.server_version, "18.0.0+lab");
    assert!(
        ping.remote_addr.starts_with("127.0.0.1:"),
        "{}",
        ping.remote_addr
    );
}

#[tokio::test]
async fn a_call_without_a_client_certificate_is_unauthenticated() {
    let lab = Lab::start().await;
    let mut client =
        mwi_proto::proto::auth_service_client::AuthServiceClient::new(lab.anonymous().await);
    let err = client.ping(PingRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err}");
}

#[tokio::test]
async fn a_client_certificate_from_a_foreign_ca_fails_the_handshake() {
    let lab = Lab::start().await;
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "lab");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "admin");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "admin");
    let cert = params.signed_by(&key, &issuer).unwrap();
    drop(ca);
    let result = match lab.channel_as(&cert.pem(), &key.serialize_pem()).await {
        Err(e) => Err(e.to_string()),
        Ok(channel) => mwi_proto::proto::auth_service_client::AuthServiceClient::new(channel)
            .ping(PingRequest {})
            .await
            .map(|_| ())
            .map_err(|s| s.to_string()),
    };
    assert!(result.is_err(), "a foreign certificate was accepted");
}

#[tokio::test]
async fn an_unknown_method_is_unimplemented() {
    let lab = Lab::start().await;
    let err = raw_call(
        lab.admin_channel().await,
        "/proto.AuthService/NoSuchThing",
        vec![],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
}

#[tokio::test]
async fn an_oversized_request_is_resource_exhausted() {
    let lab = Lab::start().await;
    let big = vec![0u8; 5 * 1024 * 1024];
    let err = raw_call(
        lab.admin_channel().await,
        mwi_proto::method::auth::UPSERT_LOCK,
        big,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err}");
}

#[tokio::test]
async fn malformed_bytes_name_the_message_type() {
    let lab = Lab::start().await;
    let err = raw_call(
        lab.admin_channel().await,
        mwi_proto::method::auth::GET_LOCK,
        vec![0x0a, 0x05, 0x61],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("proto.GetLockRequest"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn random_bytes_to_every_method_get_an_error_or_answer_never_a_crash() {
    use rand::{Rng, SeedableRng};
    let lab = Lab::start().await;
    let channel = lab.admin_channel().await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let all = [
        mwi_proto::method::auth::ALL,
        mwi_proto::method::join::ALL,
        mwi_proto::method::bot::ALL,
        mwi_proto::method::bot_instance::ALL,
    ]
    .concat();
    for path in all {
        for _ in 0..20 {
            let len = rng.gen_range(0..64);
            let body: Vec<u8> = (0..len).map(|_| rng.r#gen()).collect();
            if let Err(status) = raw_call(channel.clone(), path, body).await {
                assert!(
                    !matches!(
                        status.code(),
                        Code::Internal | Code::Unknown | Code::Unavailable
                    ),
                    "{path}: {status}"
                );
            }
        }
    }
    let ping = lab.auth().await.ping(PingRequest {}).await;
    assert!(
        ping.is_ok(),
        "the lab stopped answering after random requests"
    );
}

#[tokio::test]
async fn a_connection_that_outlives_its_certificate_is_refused() {
    let lab = Lab::start_with(|c| c.bot_ttl = std::time::Duration::from_secs(2)).await;
    lab.create_bot("example", &[], &[]).await;
    let bot = lab.join_bot(&lab.bot_token("example").await).await.unwrap();
    let mut client =
        mwi_proto::proto::auth_service_client::AuthServiceClient::new(lab.channel_of(&bot).await);
    client.ping(PingRequest {}).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let err = client.ping(PingRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err}");
    assert!(err.message().contains("has expired"), "{}", err.message());
}

/// A channel to `addr` as `identity`, naming `server_name` in the handshake.
async fn dial_naming(
    addr: &str,
    identity: &mwi_identity::IdentityFile,
    server_name: &str,
) -> Result<tonic::transport::Channel, tls::DialError> {
    let roots = tls::roots_from_pem(&identity.tls_ca_pems).unwrap();
    let cert = tls::ClientCert {
        cert_pem: &identity.tls_cert_pem,
        key_pem: &identity.private_key_pem,
    };
    let config = tls::client_config(tls::ServerCheck::Roots(roots), Some(cert), None).unwrap();
    tls::Dialer::new(addr, config)
        .unwrap()
        .with_server_name(server_name)
        .unwrap()
        .channel()
        .await
}

async fn cluster_of(channel: tonic::transport::Channel) -> String {
    mwi_proto::proto::auth_service_client::AuthServiceClient::new(channel)
        .ping(PingRequest {})
        .await
        .unwrap()
        .into_inner()
        .cluster_name
}

/// Issue 11 item 9: tctl, from a tsh profile, dials `<hex(cluster)>.teleport.cluster.local`. The
/// lab's certificate answers to it (`*.teleport.cluster.local`, as Teleport's), and a name of
/// another cluster gets its client certificate refused: the lab has no CA of that cluster, as
/// Teleport's auth server picks the client CAs by the cluster the name encodes.
#[tokio::test]
async fn a_cluster_server_name_is_answered_for_the_labs_cluster_only() {
    let lab = Lab::start().await;
    let own = tls::cluster_server_name("lab");
    assert_eq!(own, "6c6162.teleport.cluster.local");
    let channel = dial_naming(&lab.addr, &lab.admin, &own).await.unwrap();
    assert_eq!(cluster_of(channel).await, "lab");
    // Names that encode no cluster keep the lab's own CA, as Teleport's do.
    for name in [tls::SERVER_NAME, "not-hex.teleport.cluster.local"] {
        let channel = dial_naming(&lab.addr, &lab.admin, name).await.unwrap();
        assert_eq!(cluster_of(channel).await, "lab", "{name}");
    }
    let other = tls::cluster_server_name("other.example.com");
    let err = dial_naming(&lab.addr, &lab.admin, &other)
        .await
        .expect_err("another cluster's name is refused");
    assert_eq!(
        tls::find_rustls_error(&err),
        Some(&rustls::Error::AlertReceived(
            rustls::AlertDescription::BadCertificate
        )),
        "{err}"
    );
}
