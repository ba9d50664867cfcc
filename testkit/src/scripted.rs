//! The scripted auth service, for what the lab cannot stage: a stored bot whose bytes carry
//! fields no Teleport message declares (a newer server's), any number of bot instances served
//! in pages, a server that lacks `ListBotInstancesV2` or either role upsert, or reports a
//! placeholder version. It speaks mTLS gRPC on a loopback port with its own CA, writes a
//! matching identity file and records every request.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use mwi_proto::machineid::{
    BotInstance, BotInstanceSpec, BotInstanceStatus, BotInstanceStatusAuthentication,
    ListBotInstancesRequest, ListBotInstancesResponse,
};
use mwi_proto::method::{auth, bot, bot_instance};
use mwi_proto::proto::{GetRoleRequest, GetRolesResponse, ListRolesResponse, PingResponse};
use mwi_proto::raw::RawCodec;
use mwi_proto::teleport::header::v1::Metadata;
use mwi_proto::types::RoleV6;
use prost::Message;
use tonic::Status;

use crate::pki::Pki;
use crate::wire::field_1;

/// Instance `i` of a listing.
pub type InstanceFn = Arc<dyn Fn(usize) -> BotInstance + Send + Sync>;

/// What the service answers. Any method it has no answer for is `Unimplemented`, as on a
/// server that lacks it.
#[derive(Clone)]
pub struct Script {
    pub cluster_name: String,
    pub server_version: String,
    /// The stored bot, as bytes (GetBot answers them as they are; Create/UpdateBot store the
    /// bot they carry, DeleteBot removes it).
    pub bot: Option<Bytes>,
    /// How many instances `ListBotInstances` pages through.
    pub instances: usize,
    /// What instance `i` looks like.
    pub instance: InstanceFn,
    /// Methods answered `Unimplemented` although scripted, as on a server that dropped them.
    pub lacks: Vec<&'static str>,
}

impl Default for Script {
    fn default() -> Script {
        Script {
            cluster_name: "scripted".into(),
            server_version: "17.0.0".into(),
            bot: None,
            instances: 0,
            instance: Arc::new(fleet_instance),
            lacks: Vec::new(),
        }
    }
}

/// Instance `i` of bot `fleet`, with a public key and two authentications like a real one's.
pub fn fleet_instance(i: usize) -> BotInstance {
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

struct State {
    script: Script,
    /// Roles by name, as the bytes they were upserted with.
    roles: BTreeMap<String, Bytes>,
    /// Every request: method path and body.
    requests: Vec<(String, Bytes)>,
}

/// A running service; it stops with its runtime when dropped.
pub struct Scripted {
    pub addr: String,
    /// The client identity file, in the temp dir given to `start`.
    pub identity: PathBuf,
    state: Arc<Mutex<State>>,
    _runtime: tokio::runtime::Runtime,
}

impl Scripted {
    /// Serves `script`; the client identity file is written into `dir`.
    pub fn start(script: Script, dir: &Path) -> Scripted {
        let pki = Pki::new(&script.cluster_name);
        let identity = dir.join(format!("{}.identity", script.cluster_name));
        pki.client_identity().write(&identity).expect("identity");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let state = Arc::new(Mutex::new(State {
            script,
            roles: BTreeMap::new(),
            requests: Vec::new(),
        }));
        let addr = runtime.block_on(serve(state.clone(), pki.server_config()));
        Scripted {
            addr,
            identity,
            state,
            _runtime: runtime,
        }
    }

    /// The global flags that point mwictl at this service.
    pub fn flags(&self) -> Vec<String> {
        vec![
            "--auth-server".into(),
            self.addr.clone(),
            "-i".into(),
            self.identity.display().to_string(),
        ]
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

    /// How many times each method was called.
    pub fn calls(&self) -> BTreeMap<String, usize> {
        let state = self.state.lock().expect("state");
        let mut calls = BTreeMap::new();
        for (method, _) in &state.requests {
            *calls.entry(method.clone()).or_default() += 1;
        }
        calls
    }
}

fn answer(state: &Mutex<State>, path: &str, body: Bytes) -> Result<Bytes, Status> {
    let mut state = state.lock().map_err(|_| Status::internal("poisoned"))?;
    state.requests.push((path.to_owned(), body.clone()));
    if state.script.lacks.contains(&path) {
        return Err(Status::unimplemented(format!("{path} is not implemented")));
    }
    let State { script, roles, .. } = &mut *state;
    let empty = Ok(Bytes::new());
    match path {
        auth::PING => Ok(PingResponse {
            cluster_name: script.cluster_name.clone(),
            server_version: script.server_version.clone(),
            ..Default::default()
        }
        .encode_to_vec()
        .into()),
        bot::GET_BOT => script
            .bot
            .clone()
            .ok_or_else(|| Status::not_found("bot not found")),
        bot::UPDATE_BOT | bot::CREATE_BOT => {
            let inner = field_1(&body);
            script.bot = Some(inner.clone());
            Ok(inner)
        }
        bot::DELETE_BOT => {
            script.bot = None;
            empty
        }
        auth::GET_ROLE => {
            let req = GetRoleRequest::decode(body)
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            roles
                .get(&req.name)
                .cloned()
                .ok_or_else(|| Status::not_found(format!("role {:?} not found", req.name)))
        }
        // UpsertRoleV2 wraps the role in its request and answers it; UpsertRole takes it bare.
        auth::UPSERT_ROLE_V2 => {
            let role = field_1(&body);
            roles.insert(role_name(&role)?, role.clone());
            Ok(role)
        }
        auth::UPSERT_ROLE => {
            roles.insert(role_name(&body)?, body);
            empty
        }
        auth::LIST_ROLES => Ok(ListRolesResponse {
            roles: decode_roles(roles)?,
            next_key: String::new(),
        }
        .encode_to_vec()
        .into()),
        auth::GET_ROLES => Ok(GetRolesResponse {
            roles: decode_roles(roles)?,
        }
        .encode_to_vec()
        .into()),
        auth::GET_LOCKS | auth::GET_TOKENS | auth::CREATE_TOKEN_V2 => empty,
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
            let end = (start + size).min(script.instances);
            let page = ListBotInstancesResponse {
                bot_instances: (start..end).map(|i| (script.instance)(i)).collect(),
                next_page_token: if end < script.instances {
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

fn role_name(role: &Bytes) -> Result<String, Status> {
    RoleV6::decode(role.clone())
        .map(|r| r.metadata.map(|m| m.name).unwrap_or_default())
        .map_err(|e| Status::invalid_argument(e.to_string()))
}

fn decode_roles(roles: &BTreeMap<String, Bytes>) -> Result<Vec<RoleV6>, Status> {
    roles
        .values()
        .map(|r| RoleV6::decode(r.clone()).map_err(|e| Status::internal(e.to_string())))
        .collect()
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
