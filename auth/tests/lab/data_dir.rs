//! The data dir: created once, reused, and refused (never overwritten) when foreign or damaged.

use mwi_identity::IdentityFile;

use mwi_testkit::Lab;
use mwi_testkit::lab::config;

#[tokio::test]
async fn first_start_writes_a_private_admin_identity_signed_by_the_lab_ca() {
    let lab = Lab::start().await;
    let path = &lab.handle.ready().identity_path;
    let loaded = IdentityFile::read(path).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let cert = loaded.identity.cert().unwrap();
    assert_eq!(cert.username, "admin");
    assert_eq!(cert.roles, ["admin"]);
    assert_eq!(cert.issuer_cluster.as_deref(), Some("lab"));
    assert!(cert.not_after - cert.not_before > 300 * 24 * 3600);
    assert!(
        loaded.identity.ssh_ca_lines[0]
            .starts_with("@cert-authority lab,*.lab ecdsa-sha2-nistp256 ")
    );
    assert!(loaded.identity.ssh_ca_lines[0].ends_with(" type=host"));
    assert!(lab.data_dir().join("lab.json").is_file());
    assert!(lab.data_dir().join("lab.db").is_file());
}

#[tokio::test]
async fn a_restart_reuses_the_ca_and_the_identity() {
    let lab = Lab::start().await;
    let before = std::fs::read_to_string(&lab.handle.ready().identity_path).unwrap();
    let mut lab = lab.restart().await;
    let after = std::fs::read_to_string(&lab.handle.ready().identity_path).unwrap();
    assert_eq!(before, after);
    assert_eq!(lab.handle.ready().cluster_name, "lab");
    // The old identity still works: same CA.
    lab.admin = IdentityFile::parse(&before).unwrap();
    assert!(
        lab.auth()
            .await
            .ping(mwi_proto::proto::PingRequest {})
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_foreign_non_empty_dir_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    std::fs::create_dir_all(&cfg.data_dir).unwrap();
    std::fs::write(cfg.data_dir.join("notes.txt"), "mine").unwrap();
    let err = mwi_auth::lab::spawn(cfg.clone())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("not a lab data dir") && err.contains("--data-dir"),
        "{err}"
    );
    assert!(!err.contains('\n'));
    let entries: Vec<_> = std::fs::read_dir(&cfg.data_dir).unwrap().collect();
    assert_eq!(entries.len(), 1);
}

async fn damaged_after(edit: impl FnOnce(&std::path::Path)) -> String {
    let lab = Lab::start().await;
    let data = lab.data_dir().to_path_buf();
    let dir = lab.dir;
    lab.handle.shutdown().await.unwrap();
    edit(&data);
    mwi_auth::lab::spawn(config(dir.path()))
        .await
        .err()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_garbled_ca_key_is_refused() {
    let err = damaged_after(|d| std::fs::write(d.join("ca.key"), "garbage").unwrap()).await;
    assert!(err.contains("ca.key") && err.contains("damaged"), "{err}");
}

#[tokio::test]
async fn a_garbled_database_is_refused() {
    let err = damaged_after(|d| {
        for f in ["lab.db-wal", "lab.db-shm"] {
            let _ = std::fs::remove_file(d.join(f));
        }
        std::fs::write(d.join("lab.db"), vec![0x5a; 8192]).unwrap()
    })
    .await;
    assert!(err.contains("lab.db") && err.contains("damaged"), "{err}");
}

#[tokio::test]
async fn a_garbled_marker_is_refused() {
    let err = damaged_after(|d| std::fs::write(d.join("lab.json"), "{not json").unwrap()).await;
    assert!(err.contains("lab.json"), "{err}");
}

#[tokio::test]
async fn a_different_cluster_name_is_refused() {
    let lab = Lab::start().await;
    let dir = lab.dir;
    lab.handle.shutdown().await.unwrap();
    let mut cfg = config(dir.path());
    cfg.cluster_name = Some("other".into());
    let err = mwi_auth::lab::spawn(cfg).await.err().unwrap().to_string();
    assert!(err.contains(r#"belongs to cluster "lab""#), "{err}");
}

#[tokio::test]
async fn a_busy_port_names_the_address_and_the_fix() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.listen = taken.local_addr().unwrap();
    let err = mwi_auth::lab::spawn(cfg).await.err().unwrap().to_string();
    assert!(
        err.contains("cannot listen on") && err.contains("--listen"),
        "{err}"
    );
}

#[tokio::test]
async fn seeding_a_database_into_a_non_lab_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = mwi_auth::lab::seed_database(dir.path(), "db", Default::default()).unwrap_err();
    assert!(err.to_string().contains("not a lab data dir"), "{err}");
}

/// Issue 11 item 9: a server certificate an older lab issued (without `*.teleport.cluster.local`)
/// is reissued at start, so clients that dial `<hex(cluster)>.teleport.cluster.local` match it.
#[tokio::test]
async fn an_older_labs_server_certificate_is_reissued_with_the_wildcard() {
    use mwi_identity::tls;
    let lab = Lab::start().await;
    let data = lab.data_dir().to_path_buf();
    let dir = lab.dir;
    lab.handle.shutdown().await.unwrap();
    // What an older lab wrote: the same CA, the API domain and loopback, no wildcard.
    let ca_key =
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(data.join("ca.key")).unwrap()).unwrap();
    let ca_pem = std::fs::read_to_string(data.join("ca.crt")).unwrap();
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca_pem, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let old = rcgen::CertificateParams::new(vec![tls::SERVER_NAME.into(), "localhost".into()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::write(data.join("server.crt"), old.pem()).unwrap();
    std::fs::write(data.join("server.key"), key.serialize_pem()).unwrap();

    let handle = mwi_auth::lab::spawn(config(dir.path())).await.unwrap();
    let reissued = std::fs::read_to_string(data.join("server.crt")).unwrap();
    assert_ne!(reissued, old.pem(), "the old certificate was kept");
    let admin = IdentityFile::read(&handle.ready().identity_path)
        .unwrap()
        .identity;
    let roots = tls::roots_from_pem(&admin.tls_ca_pems).unwrap();
    let cert = tls::ClientCert {
        cert_pem: &admin.tls_cert_pem,
        key_pem: &admin.private_key_pem,
    };
    let config = tls::client_config(tls::ServerCheck::Roots(roots), Some(cert), None).unwrap();
    tls::Dialer::new(&handle.addr().to_string(), config)
        .unwrap()
        .with_server_name(&tls::cluster_server_name("lab"))
        .unwrap()
        .dial()
        .await
        .expect("the reissued certificate matches the cluster's server name");
}
