//! The gRPC front: one tower service that routes `/package.Service/Method` paths to handlers,
//! passing message bytes through untouched (raw codec), capping request size, requiring a client
//! certificate (except to join), enforcing locks, and turning any handler panic into an error.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use mwi_proto::method::{auth, bot, bot_instance, join, join_v1};
use mwi_proto::raw::RawCodec;
use prost::Message;
use tonic::Status;
use tonic::body::Body;
use tonic::server::{Grpc, StreamingService, UnaryService};

use crate::authz::Caller;
use crate::error::ApiError;
use crate::server::Auth;
use crate::store::now_ms;
use crate::tls::ConnInfo;
use crate::wire;
use mwi_proto::raw::MAX_REQUEST_BYTES;

const GRPC_STATUS: &str = "grpc-status";

macro_rules! methods {
    ($($variant:ident = $path:path),* $(,)?) => {
        /// Every RPC the lab serves.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Method { $($variant),* }

        impl Method {
            /// All of them, for tests that call every method.
            #[cfg(test)]
            pub(crate) const ALL: &'static [Method] = &[$(Method::$variant),*];

            /// The full gRPC path, e.g. `/proto.AuthService/Ping`.
            pub(crate) fn path(self) -> &'static str {
                match self { $(Method::$variant => $path),* }
            }

            pub(crate) fn from_path(path: &str) -> Option<Method> {
                match path { $(p if p == $path => Some(Method::$variant),)* _ => None }
            }
        }
    };
}

methods! {
    Ping = auth::PING,
    GetLock = auth::GET_LOCK,
    GetLocks = auth::GET_LOCKS,
    UpsertLock = auth::UPSERT_LOCK,
    DeleteLock = auth::DELETE_LOCK,
    GetRole = auth::GET_ROLE,
    GetRoles = auth::GET_ROLES,
    ListRoles = auth::LIST_ROLES,
    CreateRole = auth::CREATE_ROLE,
    UpdateRole = auth::UPDATE_ROLE,
    UpsertRoleV2 = auth::UPSERT_ROLE_V2,
    UpsertRole = auth::UPSERT_ROLE,
    DeleteRole = auth::DELETE_ROLE,
    GetToken = auth::GET_TOKEN,
    GetTokens = auth::GET_TOKENS,
    CreateTokenV2 = auth::CREATE_TOKEN_V2,
    UpsertTokenV2 = auth::UPSERT_TOKEN_V2,
    DeleteToken = auth::DELETE_TOKEN,
    GenerateUserCerts = auth::GENERATE_USER_CERTS,
    ListResources = auth::LIST_RESOURCES,
    RegisterUsingToken = join::REGISTER_USING_TOKEN,
    RegisterUsingBoundKeypair = join::REGISTER_USING_BOUND_KEYPAIR_METHOD,
    Join = join_v1::JOIN,
    GetBot = bot::GET_BOT,
    ListBots = bot::LIST_BOTS,
    CreateBot = bot::CREATE_BOT,
    UpdateBot = bot::UPDATE_BOT,
    UpsertBot = bot::UPSERT_BOT,
    DeleteBot = bot::DELETE_BOT,
    GetBotInstance = bot_instance::GET_BOT_INSTANCE,
    ListBotInstances = bot_instance::LIST_BOT_INSTANCES,
    ListBotInstancesV2 = bot_instance::LIST_BOT_INSTANCES_V2,
    DeleteBotInstance = bot_instance::DELETE_BOT_INSTANCE,
    SubmitHeartbeat = bot_instance::SUBMIT_HEARTBEAT,
}

impl Method {
    /// The join ceremonies, which are bidirectional streams rather than unary calls.
    fn is_streaming(self) -> bool {
        matches!(self, Method::RegisterUsingBoundKeypair | Method::Join)
    }
}

/// Decodes a request, naming the message type when the bytes are not one.
pub(crate) fn decode<M: Message + Default + prost::Name>(bytes: &[u8]) -> Result<M, ApiError> {
    M::decode(bytes)
        .map_err(|e| ApiError::BadParameter(format!("malformed {} request: {e}", M::full_name())))
}

/// Checks that a `google.protobuf.Empty` request is well-formed (unknown fields are fine).
pub(crate) fn decode_empty(bytes: &[u8]) -> Result<(), ApiError> {
    <() as Message>::decode(bytes).map_err(|e| {
        ApiError::BadParameter(format!("malformed google.protobuf.Empty request: {e}"))
    })
}

/// The response bytes of `google.protobuf.Empty`.
pub(crate) fn empty() -> Bytes {
    Bytes::new()
}

/// Encodes stored messages as repeated field `number` of a response, bytes unchanged.
pub(crate) fn repeated(number: u32, items: &[Bytes]) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.iter().map(|i| i.len() + 6).sum());
    for item in items {
        wire::put_bytes(&mut out, number, item);
    }
    out
}

pub(crate) fn not_found(kind: &str, name: &str) -> ApiError {
    ApiError::NotFound(format!("{kind} {name:?} not found"))
}

pub(crate) fn require_name(kind: &str, name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::BadParameter(format!(
            "missing {kind} name: set metadata.name"
        )));
    }
    Ok(())
}

async fn dispatch(
    auth: Arc<Auth>,
    method: Method,
    conn: Option<ConnInfo>,
    body: Bytes,
) -> Result<Bytes, ApiError> {
    if method == Method::RegisterUsingToken {
        // Joining is how a bot gets its first certificate, so it needs none.
        return auth.register_using_token(body).await;
    }
    let remote = conn.as_ref().and_then(|c| c.remote);
    let id = conn.and_then(|c| c.caller).ok_or_else(|| {
        ApiError::Unauthenticated(format!(
            "{} needs a client certificate signed by the cluster CA; connect with an identity \
             file (-i)",
            method.path()
        ))
    })?;
    // TLS checks validity only at the handshake; a connection may outlive its certificate.
    if id.expired_at(now_ms() / 1000) {
        return Err(ApiError::Unauthenticated(format!(
            "the client certificate of {:?} has expired; renew it (or join again with a new \
             token) and reconnect",
            id.username
        )));
    }
    let caller = Caller { id, remote };
    auth.check_caller_locks(&caller)?;
    match method {
        Method::Ping => auth.ping(&caller),
        Method::GetLock => auth.get_lock(&caller, &body),
        Method::GetLocks => auth.get_locks(&caller, &body),
        Method::UpsertLock => auth.upsert_lock(&caller, body).await,
        Method::DeleteLock => auth.delete_lock(&caller, &body).await,
        Method::GetRole => auth.get_role(&caller, &body),
        Method::GetRoles => auth.get_roles(&caller, &body),
        Method::ListRoles => auth.list_roles(&caller, &body),
        Method::CreateRole => auth.create_role(&caller, &body).await,
        Method::UpdateRole => auth.update_role(&caller, &body).await,
        Method::UpsertRoleV2 => auth.upsert_role_v2(&caller, &body).await,
        Method::UpsertRole => auth.upsert_role(&caller, body).await,
        Method::DeleteRole => auth.delete_role(&caller, &body).await,
        Method::GetToken => auth.get_token(&caller, &body).await,
        Method::GetTokens => auth.get_tokens(&caller, &body).await,
        Method::CreateTokenV2 => auth.create_token(&caller, &body, false).await,
        Method::UpsertTokenV2 => auth.create_token(&caller, &body, true).await,
        Method::DeleteToken => auth.delete_token(&caller, &body).await,
        Method::GenerateUserCerts => auth.generate_user_certs(&caller, &body).await,
        Method::ListResources => auth.list_resources(&caller, &body).await,
        Method::RegisterUsingToken => auth.register_using_token(body).await,
        Method::RegisterUsingBoundKeypair | Method::Join => Err(ApiError::BadParameter(format!(
            "{} is a streaming RPC; open a stream",
            method.path()
        ))),
        Method::GetBot => auth.get_bot(&caller, &body).await,
        Method::ListBots => auth.list_bots(&caller, &body).await,
        Method::CreateBot => auth.create_bot(&caller, &body).await,
        Method::UpdateBot => auth.update_bot(&caller, &body).await,
        Method::UpsertBot => auth.upsert_bot(&caller, &body).await,
        Method::DeleteBot => auth.delete_bot(&caller, &body).await,
        Method::GetBotInstance => auth.get_bot_instance(&caller, &body).await,
        Method::ListBotInstances => auth.list_bot_instances(&caller, &body).await,
        Method::ListBotInstancesV2 => auth.list_bot_instances_v2(&caller, &body).await,
        Method::DeleteBotInstance => auth.delete_bot_instance(&caller, &body).await,
        Method::SubmitHeartbeat => auth.submit_heartbeat(&caller, &body).await,
    }
}

/// Turns a panic while polling the handler into an Internal error, so one bad request cannot
/// take its connection (or the lab) down.
struct CatchPanic<F> {
    inner: Pin<Box<F>>,
}

impl<F: Future<Output = Result<Bytes, ApiError>>> Future for CatchPanic<F> {
    type Output = Result<Bytes, ApiError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.inner.as_mut();
        std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))).unwrap_or_else(|_| {
            Poll::Ready(Err(ApiError::Internal(
                "the lab auth service failed on this request (a bug); see its log".into(),
            )))
        })
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// One unary call of `method`.
struct Unary {
    auth: Arc<Auth>,
    method: Method,
}

impl UnaryService<Bytes> for Unary {
    type Response = Bytes;
    type Future = BoxFuture<Result<tonic::Response<Bytes>, Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let auth = self.auth.clone();
        let method = self.method;
        Box::pin(async move {
            let conn = request.extensions().get::<ConnInfo>().cloned();
            let body = request.into_inner();
            let handled = CatchPanic {
                inner: Box::pin(dispatch(auth, method, conn, body)),
            };
            handled
                .await
                .map(tonic::Response::new)
                .map_err(Status::from)
        })
    }
}

/// One join stream of `method`.
struct JoinStream {
    auth: Arc<Auth>,
    method: Method,
}

impl StreamingService<Bytes> for JoinStream {
    type Response = Bytes;
    type ResponseStream = crate::join_stream::ResponseStream;
    type Future = BoxFuture<Result<tonic::Response<Self::ResponseStream>, Status>>;

    fn call(&mut self, request: tonic::Request<tonic::Streaming<Bytes>>) -> Self::Future {
        let auth = self.auth.clone();
        let method = self.method;
        Box::pin(async move {
            let conn = request.extensions().get::<ConnInfo>().cloned();
            let inbound = request.into_inner();
            Ok(tonic::Response::new(crate::join_stream::serve(
                auth, method, conn, inbound,
            )))
        })
    }
}

/// The lab's gRPC service, for `tonic::transport::Server::serve_with_incoming_shutdown`.
#[derive(Clone)]
pub(crate) struct LabService {
    pub auth: Arc<Auth>,
}

impl tower::Service<http::Request<Body>> for LabService {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let auth = self.auth.clone();
        Box::pin(async move {
            let path = request.uri().path();
            let Some(method) = Method::from_path(path) else {
                let status = Status::unimplemented(format!(
                    "{path} is not implemented by the lab auth service"
                ));
                return Ok(status.into_http());
            };
            if method.is_streaming() {
                let mut grpc = Grpc::new(RawCodec).max_decoding_message_size(MAX_REQUEST_BYTES);
                return Ok(grpc.streaming(JoinStream { auth, method }, request).await);
            }
            let mut grpc = Grpc::new(RawCodec).max_decoding_message_size(MAX_REQUEST_BYTES);
            let mut response = grpc.unary(Unary { auth, method }, request).await;
            // tonic refuses an oversized request with OutOfRange; grpc-go, which Teleport and
            // its clients use, says ResourceExhausted. No handler returns OutOfRange.
            let headers = response.headers_mut();
            if headers.get(GRPC_STATUS).is_some_and(|v| v == "11") {
                headers.insert(GRPC_STATUS, http::HeaderValue::from_static("8"));
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_method_is_routed() {
        let declared = [
            auth::ALL,
            join::ALL,
            join_v1::ALL,
            bot::ALL,
            bot_instance::ALL,
        ]
        .concat();
        assert_eq!(declared.len(), Method::ALL.len());
        for path in declared {
            let method = Method::from_path(path).unwrap_or_else(|| panic!("{path} not routed"));
            assert_eq!(method.path(), path);
        }
        assert_eq!(Method::from_path("/proto.AuthService/Nope"), None);
    }
}
