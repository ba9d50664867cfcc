//! A scripted auth service for what the lab cannot stage: any number of bot instances served in
//! pages, an older server that lacks `ListBotInstancesV2`. It speaks mTLS gRPC on a loopback
//! port with its own CA and writes a matching identity file; it counts the calls it gets.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use mwi_proto::machineid::{
    BotInstance, BotInstanceSpec, BotInstanceStatus, BotInstanceStatusAuthentication,
    BotInstanceStatusHeartbeat, ListBotInstancesRequest, ListBotInstancesResponse,
};
use mwi_proto::method::{auth, bot_instance};
use mwi_proto::proto::PingResponse;
use mwi_proto::raw::RawCodec;
use prost::Message;
use tonic::Status;

/// What the fake serves.
#[derive(Debug, Clone)]
pub struct Script {
    pub server_version: String,
    /// How many bot instances `ListBotInstances` pages through.
    pub bot_instances: usize,
    /// Length of each instance's hostname, to make instances as big as wanted.
    pub hostname_len: usize,
}

/// A running fake; stops with its runtime when dropped.
pub struct FakeAuth {
    pub addr: String,
    pub identity: PathBuf,
    calls: Arc<Mutex<BTreeMap<String, usize>>>,
    _runtime: tokio::runtime::Runtime,
}

impl FakeAuth {
    /// Starts serving `script`; the client identity is written into `dir`.
    pub fn start(script: Script, dir: &Path) -> FakeAuth {
        let pki = Pki::new("fake");
        let identity = dir.join("fake.identity");
        pki.client_identity()
            .write(&identity)
            .expect("write identity");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let calls = Arc::new(Mutex::new(BTreeMap::new()));
        let service = Service {
            script: Arc::new(script),
            calls: calls.clone(),
        };
        let addr = runtime.block_on(serve(service, pki.server_config()));
        FakeAuth {
            addr,
            identity,
            calls,
            _runtime: runtime,
        }
    }

    /// How many times each method was called.
    pub fn calls(&self) -> BTreeMap<String, usize> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

async fn serve(service: Service, config: rustls::ServerConfig) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let _ = tx.send(Ok::<_, std::io::Error>(tls)).await;
                }
            });
        }
    });
    let incoming = tokio_stream::wrappers::ReceiverStream::new(rx);
    tokio::spawn(tonic::transport::Server::builder().serve_with_incoming(service, incoming));
    addr
}

#[derive(Clone)]
struct Service {
    script: Arc<Script>,
    calls: Arc<Mutex<BTreeMap<String, usize>>>,
}

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl tower::Service<http::Request<tonic::body::Body>> for Service {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let handler = Handler {
            path: req.uri().path().to_string(),
            service: self.clone(),
        };
        Box::pin(async move { Ok(tonic::server::Grpc::new(RawCodec).unary(handler, req).await) })
    }
}

struct Handler {
    path: String,
    service: Service,
}

impl tonic::server::UnaryService<Bytes> for Handler {
    type Response = Bytes;
    type Future = BoxFuture<Result<tonic::Response<Bytes>, Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        if let Ok(mut calls) = self.service.calls.lock() {
            *calls.entry(self.path.clone()).or_default() += 1;
        }
        let result = answer(&self.service.script, &self.path, request.into_inner());
        Box::pin(async move { result.map(tonic::Response::new) })
    }
}

fn answer(script: &Script, path: &str, body: Bytes) -> Result<Bytes, Status> {
    match path {
        auth::PING => Ok(PingResponse {
            cluster_name: "fake".into(),
            server_version: script.server_version.clone(),
            ..Default::default()
        }
        .encode_to_vec()
        .into()),
        bot_instance::LIST_BOT_INSTANCES => {
            let req = ListBotInstancesRequest::decode(body)
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            let start: usize = if req.page_token.is_empty() {
                0
            } else {
                req.page_token
                    .parse()
                    .map_err(|_| Status::invalid_argument("bad page token"))?
            };
            let size = usize::try_from(req.page_size.clamp(1, 1000)).unwrap_or(1);
            let end = (start + size).min(script.bot_instances);
            let page = ListBotInstancesResponse {
                bot_instances: (start..end)
                    .map(|i| instance(i, script.hostname_len))
                    .collect(),
                next_page_token: if end < script.bot_instances {
                    end.to_string()
                } else {
                    String::new()
                },
            };
            Ok(page.encode_to_vec().into())
        }
        other => Err(Status::unimplemented(format!("{other} is not scripted"))),
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

/// A CA, a server certificate for `teleport.cluster.local` and a client identity, all fresh;
/// shared by the scripted servers of the e2e tests.
pub(crate) struct Pki {
    ca_pem: String,
    server: (
        rustls::pki_types::CertificateDer<'static>,
        rustls::pki_types::PrivateKeyDer<'static>,
    ),
    client_key_pem: String,
    client_cert_pem: String,
    name: String,
}

impl Pki {
    /// `name` goes into the CA's organization and the placeholder SSH certificate.
    pub(crate) fn new(name: &str) -> Pki {
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
                rustls::pki_types::PrivateKeyDer::try_from(server_key.serialize_der())
                    .expect("server key"),
            ),
            client_key_pem: client_key.serialize_pem(),
            client_cert_pem: client_cert.pem(),
            name: name.to_string(),
        }
    }

    pub(crate) fn client_identity(&self) -> mwi_identity::IdentityFile {
        mwi_identity::IdentityFile {
            private_key_pem: self.client_key_pem.clone(),
            ssh_cert: format!("ecdsa-sha2-nistp256-cert-v01@openssh.com AAAA{}", self.name),
            tls_cert_pem: self.client_cert_pem.clone(),
            ssh_ca_lines: vec![],
            tls_ca_pems: vec![self.ca_pem.clone()],
        }
    }

    pub(crate) fn server_config(&self) -> rustls::ServerConfig {
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
