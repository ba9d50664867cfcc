//! A throwaway PKI for scripted servers: a CA, a server certificate for
//! `teleport.cluster.local` and a client identity file signed by it.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A fresh CA with one server and one client certificate.
pub struct Pki {
    ca_pem: String,
    server: (CertificateDer<'static>, PrivateKeyDer<'static>),
    client_key_pem: String,
    client_cert_pem: String,
    name: String,
}

impl Pki {
    /// `name` goes into the CA's organization and the placeholder SSH certificate.
    pub fn new(name: &str) -> Pki {
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca = rcgen::CertificateParams::default();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::OrganizationName, name);
        ca.distinguished_name = dn;
        let ca_cert = ca.self_signed(&ca_key).expect("ca");
        let issuer = rcgen::Issuer::new(ca, ca_key);

        let server_key = rcgen::KeyPair::generate().expect("key");
        let server_cert = rcgen::CertificateParams::new(vec!["teleport.cluster.local".into()])
            .expect("params")
            .signed_by(&server_key, &issuer)
            .expect("server cert");

        let client_key = rcgen::KeyPair::generate().expect("key");
        let mut client = rcgen::CertificateParams::default();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, "admin");
        client.distinguished_name = dn;
        let client_cert = client.signed_by(&client_key, &issuer).expect("client cert");
        Pki {
            ca_pem: ca_cert.pem(),
            server: (
                server_cert.der().clone(),
                PrivateKeyDer::try_from(server_key.serialize_der()).expect("server key"),
            ),
            client_key_pem: client_key.serialize_pem(),
            client_cert_pem: client_cert.pem(),
            name: name.to_string(),
        }
    }

    /// The client's identity file (as `tctl auth sign` writes one).
    pub fn client_identity(&self) -> mwi_identity::IdentityFile {
        mwi_identity::IdentityFile {
            private_key_pem: self.client_key_pem.clone(),
            ssh_cert: format!("ecdsa-sha2-nistp256-cert-v01@openssh.com AAAA{}", self.name),
            tls_cert_pem: self.client_cert_pem.clone(),
            ssh_ca_lines: vec![],
            tls_ca_pems: vec![self.ca_pem.clone()],
        }
    }

    /// A rustls server config presenting the server certificate, speaking h2.
    pub fn server_config(&self) -> rustls::ServerConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![self.server.0.clone()], self.server.1.clone_key())
            .expect("server config");
        config.alpn_protocols = vec![b"h2".to_vec()];
        config
    }
}
