//! A scripted auth service for the bots commands where the lab cannot help: a stored bot whose
//! bytes carry fields no Teleport message declares (a newer server's), and any number of bot
//! instances served in pages. mTLS gRPC on a loopback port; it records every request body.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use mwi_proto::machineid::{
    BotInstance, BotInstanceSpec, BotInstanceStatus, BotInstanceStatusAuthentication,
    ListBotInstancesRequest, ListBotInstancesResponse,
};
use mwi_proto::method::{auth, bot, bot_instance};
use mwi_proto::proto::PingResponse;
use mwi_proto::raw::RawCodec;
use mwi_proto::teleport::header::v1::Metadata;
use prost::Message;
use tonic::Status;

use crate::fake_auth::Pki;

/// Appends a field number no Teleport message declares, as a newer server would send.
pub fn with_unknown(mut bytes: Vec<u8>) -> Vec<u8> {
    prost::encoding::string::encode(901, &"from-the-future".to_string(), &mut bytes);
    bytes
}

pub fn has_future_field(bytes: &[u8]) -> bool {
    bytes.windows(15).any(|w| w == b"from-the-future")
}

/// What the service holds.
#[derive(Debug, Default)]
pub struct State {
    /// The stored bot, as bytes (GetBot answers them as they are).
    pub bot: Option<Bytes>,
    /// How many instances `ListBotInstances` pages through.
    pub instances: usize,
    /// Every request: method path and body.
    pub requests: Vec<(String, Bytes)>,
}

/// A running service; it stops with its runtime when dropped.
pub struct Scripted {
    pub addr: String,
    pub identity: PathBuf,
    pub state: Arc<Mutex<State>>,
    _runtime: tokio::runtime::Runtime,
}

impl Scripted {
    /// Serves `state`; the client identity file is written into `dir`.
    pub fn start(state: State, dir: &Path) -> Scripted {
        let pki = Pki::new("scripted");
        let identity = dir.join("scripted.identity");
        pki.client_identity().write(&identity).expect("identity");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let state = Arc::new(Mutex::new(state));
        let addr = runtime.block_on(serve(state.clone(), pki.server_config()));
        Scripted {
            addr,
            identity,
            state,
            _runtime: runtime,
        }
    }

    /// `mwictl ARGS` connected to this service.
    pub fn cmd(&self, home: &Path, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = crate::harness::mwictl_cmd(home, &["--auth-server", &self.addr, "-i"]);
        cmd.arg(&self.identity).args(args);
        cmd
    }

    /// The bodies of every request to `method`, in order.
    pub fn bodies(&self, method: &str) -> Vec<Bytes> {
        let state = self.state.lock().expect("state");
        state
            .requests
            .iter()
            .filter(|(m, _)| m == method)
            .map(|(_, b)| b.clone())
            .collect()
    }
}

/// The bytes of field 1 of `body` (the bot inside CreateBot/UpdateBot requests), untouched.
pub fn field_1(body: &Bytes) -> Bytes {
    let mut buf = body.clone();
    while !buf.is_empty() {
        let (field, wire) = prost::encoding::decode_key(&mut buf).expect("key");
        if field == 1 && wire == prost::encoding::WireType::LengthDelimited {
            let len = prost::encoding::decode_varint(&mut buf).expect("len");
            return buf.split_to(usize::try_from(len).expect("len"));
        }
        prost::encoding::skip_field(wire, field, &mut buf, Default::default()).expect("skip");
    }
    Bytes::new()
}

fn answer(state: &Mutex<State>, path: &str, body: Bytes) -> Result<Bytes, Status> {
    let mut state = state.lock().map_err(|_| Status::internal("poisoned"))?;
    state.requests.push((path.to_owned(), body.clone()));
    let empty = Ok(Bytes::new());
    match path {
        auth::PING => Ok(PingResponse {
            cluster_name: "scripted".into(),
            server_version: "17.0.0".into(),
            ..Default::default()
        }
        .encode_to_vec()
        .into()),
        bot::GET_BOT => state
            .bot
            .clone()
            .ok_or_else(|| Status::not_found("bot not found")),
        bot::UPDATE_BOT | bot::CREATE_BOT => {
            let inner = field_1(&body);
            state.bot = Some(inner.clone());
            Ok(inner)
        }
        bot::DELETE_BOT => {
            state.bot = None;
            empty
        }
        auth::GET_ROLE => Err(Status::not_found("role not found")),
        auth::GET_LOCKS | auth::GET_TOKENS | auth::CREATE_TOKEN_V2 => empty,
        bot_instance::LIST_BOT_INSTANCES => {
            let req = ListBotInstancesRequest::decode(body)
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            let start: usize = req.page_token.parse().unwrap_or(0);
            let size = usize::try_from(req.page_size.clamp(1, 1000)).unwrap_or(1);
            let end = (start + size).min(state.instances);
            let page = ListBotInstancesResponse {
                bot_instances: (start..end).map(instance).collect(),
                next_page_token: if end < state.instances {
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

/// Instance `i` of bot `fleet`, with a long hostname-free record like a real one's.
fn instance(i: usize) -> BotInstance {
    let at = Some(prost_types::Timestamp {
        seconds: 1_700_000_000 + i64::try_from(i).unwrap_or(0),
        nanos: 0,
    });
    let auth = BotInstanceStatusAuthentication {
        authenticated_at: at,
        join_method: "token".into(),
        generation: 1 + i32::try_from(i % 7).unwrap_or(0),
        public_key: vec![7; 180],
        ..Default::default()
    };
    BotInstance {
        kind: "bot_instance".into(),
        version: "v1".into(),
        metadata: Some(Metadata {
            name: format!("{i:08x}-0000-4000-8000-000000000000"),
            ..Default::default()
        }),
        spec: Some(BotInstanceSpec {
            bot_name: "fleet".into(),
            instance_id: format!("{i:08x}-0000-4000-8000-000000000000"),
            ..Default::default()
        }),
        status: Some(BotInstanceStatus {
            initial_authentication: Some(auth.clone()),
            latest_authentications: vec![auth; 2],
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn serve(state: Arc<Mutex<State>>, config: rustls::ServerConfig) -> String {
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
    tokio::spawn(
        tonic::transport::Server::builder().serve_with_incoming(Service { state }, incoming),
    );
    addr
}

#[derive(Clone)]
struct Service {
    state: Arc<Mutex<State>>,
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
            state: self.state.clone(),
        };
        Box::pin(async move { Ok(tonic::server::Grpc::new(RawCodec).unary(handler, req).await) })
    }
}

struct Handler {
    path: String,
    state: Arc<Mutex<State>>,
}

impl tonic::server::UnaryService<Bytes> for Handler {
    type Response = Bytes;
    type Future = BoxFuture<Result<tonic::Response<Bytes>, Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let result = answer(&self.state, &self.path, request.into_inner());
        Box::pin(async move { result.map(tonic::Response::new) })
    }
}
