//! The typed Teleport client: one method per RPC mwictl uses (locks, roles, tokens, bots, bot
//! instances, ping), each read keeping the resource's original bytes so writes lose no fields.

use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::{Buf, Bytes};
pub use mwi_identity::Version;
use mwi_proto::machineid::{
    Bot, BotInstance, DeleteBotInstanceRequest, DeleteBotRequest, GetBotInstanceRequest,
    GetBotRequest, ListBotInstancesRequest, ListBotInstancesV2Request, ListBotsRequest,
    list_bot_instances_v2_request,
};
use mwi_proto::method::{auth, bot, bot_instance};
use mwi_proto::proto::{
    DeleteLockRequest, DeleteRoleRequest, GetLockRequest, GetLocksRequest, GetRoleRequest,
    ListResourcesRequest, ListResourcesResponse, ListRolesRequest, PingResponse,
    paginated_resource,
};
use mwi_proto::raw::RawCodec;
use mwi_proto::types::{
    DatabaseServerV3, LockTarget, LockV2, ProvisionTokenV2, ResourceRequest, RoleV6,
};
use prost::Message;
use tonic::codegen::http::uri::PathAndQuery;

use crate::connect::{ConnectError, Connection};

pub mod fields;

/// Items per page asked of paged listings.
pub const PAGE_SIZE: i32 = 500;

/// A resource as the server sent it: the typed message and the exact bytes it was decoded from,
/// which carry fields this version of mwictl does not know.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched<T> {
    pub value: T,
    pub raw: Bytes,
}

impl<T: Message + Default> Fetched<T> {
    /// Decodes `raw`, keeping it.
    pub fn decode(raw: Bytes) -> Result<Fetched<T>, prost::DecodeError> {
        Ok(Fetched {
            value: T::decode(raw.clone())?,
            raw,
        })
    }
}

/// What a write sends: a freshly built message, or a [`Fetched`] resource whose `value` was edited
/// (encoded with every unknown field of the bytes it was read from).
pub trait ToWire<T> {
    fn to_wire(&self) -> Bytes;
}

impl<T: Message + prost::Name> ToWire<T> for T {
    fn to_wire(&self) -> Bytes {
        self.encode_to_vec().into()
    }
}

impl<T: Message + prost::Name> ToWire<T> for Fetched<T> {
    fn to_wire(&self) -> Bytes {
        if self.raw.is_empty() {
            return self.value.encode_to_vec().into();
        }
        mwi_proto::unknown::keep_unknown(&self.raw, &self.value).into()
    }
}

/// The resource a call was about, for error messages (`lock "x"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The resource kind as `mwictl get` spells it (`lock`, `role`, `bot_instance`).
    pub kind: &'static str,
    /// Its name, when the call named one.
    pub name: Option<String>,
}

impl Subject {
    fn named(kind: &'static str, name: impl Into<String>) -> Option<Subject> {
        Some(Subject {
            kind,
            name: Some(name.into()),
        })
    }

    fn all(kind: &'static str) -> Option<Subject> {
        Some(Subject { kind, name: None })
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{} {}", self.kind, crate::resource::shown(name)),
            None => write!(f, "{}s", self.kind),
        }
    }
}

/// The server end of a client, for error messages and hints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The address dialed.
    pub addr: String,
    /// The identity file presented.
    pub identity: PathBuf,
}

/// A failed call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{method} failed: {}: {}", .status.code(), .status.message())]
    Rpc {
        method: &'static str,
        subject: Option<Subject>,
        peer: Arc<Peer>,
        status: tonic::Status,
    },
    #[error("{method}: the server's answer does not decode: {detail}")]
    Decode {
        method: &'static str,
        detail: String,
    },
    /// A request larger than a server accepts, refused before sending.
    #[error(
        "{method}: the request is {bytes} bytes, more than the {MAX_REQUEST_BYTES} a server accepts"
    )]
    TooLarge {
        method: &'static str,
        subject: Option<Subject>,
        bytes: usize,
    },
    #[error(transparent)]
    Connect(#[from] ConnectError),
}

/// The largest request sent (the one limit the lab shares): larger ones are refused here, before
/// sending, instead of by the transport's "decoded message length too large".
pub use mwi_proto::raw::MAX_REQUEST_BYTES;

/// The largest answer read. `GetLocks` and `GetTokens` have no pages: a fleet's locks (100,000
/// are about 17 MB) are far over tonic's 4 MiB default; the cap still bounds what a broken
/// server can make mwictl allocate.
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// What a failure means to the code that called, whatever the binary later makes of it: ops
/// decide with these, and only `CommandError` turns a failure into an exit status.
impl ClientError {
    /// The gRPC code of the server's refusal; `None` when no answer came or it did not decode.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            ClientError::Rpc { status, .. } => Some(status.code()),
            ClientError::Decode { .. } | ClientError::TooLarge { .. } | ClientError::Connect(_) => {
                None
            }
        }
    }

    /// Teleport's admin-action MFA refusal (`admin-level API request requires MFA verification`,
    /// api/mfa `ErrAdminActionMFARequired`; older wordings too), which no non-interactive client
    /// can answer, whatever code it comes with.
    pub fn is_admin_mfa(&self) -> bool {
        let ClientError::Rpc { status, .. } = self else {
            return false;
        };
        let m = status.message().to_ascii_lowercase();
        m.contains("admin-level api request requires mfa")
            || m.contains("admin-level mfa")
            || m.contains("mfa required")
            || m.contains("admin action mfa")
    }

    /// The resource asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(tonic::Code::NotFound) && !self.is_admin_mfa()
    }

    /// The write collides with the server's state: the resource already exists, or it changed
    /// since it was read (stale revision).
    pub fn is_conflict(&self) -> bool {
        self.is_already_exists() || self.is_stale()
    }

    /// A create found the resource already there.
    pub fn is_already_exists(&self) -> bool {
        self.code() == Some(tonic::Code::AlreadyExists) && !self.is_admin_mfa()
    }

    /// A conditional write found a newer revision on the server.
    pub fn is_stale(&self) -> bool {
        matches!(
            self.code(),
            Some(tonic::Code::FailedPrecondition | tonic::Code::Aborted)
        ) && !self.is_admin_mfa()
    }
}

/// The server's answer to the one Ping of this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    pub cluster_name: String,
    /// As the server reported it (e.g. `17.4.2`).
    pub server_version: String,
    /// Parsed `server_version`, when it is a version.
    pub version: Option<Version>,
    pub proxy_public_addr: String,
    /// Our address as the server saw it.
    pub remote_addr: String,
}

impl ServerInfo {
    fn from_ping(ping: PingResponse) -> ServerInfo {
        ServerInfo {
            version: Version::parse(&ping.server_version),
            cluster_name: ping.cluster_name,
            server_version: ping.server_version,
            proxy_public_addr: ping.proxy_public_addr,
            remote_addr: ping.remote_addr,
        }
    }
}

/// A client of one auth service. Cheap to share by reference; calls may run concurrently.
#[derive(Debug)]
pub struct Client {
    connection: Connection,
    peer: Arc<Peer>,
    server: tokio::sync::OnceCell<ServerInfo>,
    // Set once the server answered Unimplemented to the newer variant, so it is not asked again.
    no_list_roles: AtomicBool,
    no_upsert_role_v2: AtomicBool,
    no_list_bot_instances_v2: AtomicBool,
    // Calls sent so far, for the RPC counts recover reports.
    rpcs: AtomicUsize,
}

impl Client {
    pub fn new(connection: Connection) -> Client {
        let peer = Arc::new(Peer {
            addr: connection.target.addr.clone(),
            identity: connection.target.identity.clone(),
        });
        Client {
            connection,
            peer,
            server: tokio::sync::OnceCell::new(),
            no_list_roles: AtomicBool::new(false),
            no_upsert_role_v2: AtomicBool::new(false),
            no_list_bot_instances_v2: AtomicBool::new(false),
            rpcs: AtomicUsize::new(0),
        }
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// How many RPCs this client has sent (answered or not).
    pub fn rpc_count(&self) -> usize {
        self.rpcs.load(Ordering::Relaxed)
    }

    /// The server's cluster name and version, from the only Ping this process sends.
    pub async fn server(&self) -> Result<&ServerInfo, ClientError> {
        self.server
            .get_or_try_init(|| async {
                let ping: PingResponse = self.call(auth::PING, None, Bytes::new()).await?.value;
                let info = ServerInfo::from_ping(ping);
                tracing::info!(
                    cluster = %info.cluster_name,
                    version = %info.server_version,
                    "ping"
                );
                Ok(info)
            })
            .await
    }

    // ---- locks ----

    pub async fn get_lock(&self, name: &str) -> Result<Fetched<LockV2>, ClientError> {
        let req = GetLockRequest { name: name.into() };
        self.call(auth::GET_LOCK, Subject::named("lock", name), encode(&req))
            .await
    }

    /// Every lock (also expired ones unless `in_force_only`), or those matching any of `targets`.
    pub async fn get_locks(
        &self,
        targets: Vec<LockTarget>,
        in_force_only: bool,
    ) -> Result<Vec<Fetched<LockV2>>, ClientError> {
        let mut locks = Vec::new();
        self.lock_bytes(targets, in_force_only, &mut |bytes| {
            locks.push(Fetched::decode(bytes)?);
            Ok(())
        })
        .await?;
        Ok(locks)
    }

    /// Like [`Client::get_locks`], but hands each lock to `each` as soon as its bytes arrive:
    /// `GetLocks` has no pages, so a fleet-wide reader holds one lock at a time, never the
    /// whole answer (17 MB at 100,000 locks) or every decoded lock.
    pub async fn for_each_lock(
        &self,
        in_force_only: bool,
        mut each: impl FnMut(LockV2),
    ) -> Result<(), ClientError> {
        self.lock_bytes(Vec::new(), in_force_only, &mut |bytes| {
            each(LockV2::decode(bytes)?);
            Ok(())
        })
        .await
    }

    /// `GetLocks`, each lock's bytes handed to `each` as they arrive.
    async fn lock_bytes(
        &self,
        targets: Vec<LockTarget>,
        in_force_only: bool,
        each: &mut dyn FnMut(Bytes) -> Result<(), prost::DecodeError>,
    ) -> Result<(), ClientError> {
        let req = GetLocksRequest {
            targets,
            in_force_only,
        };
        self.call_streamed(
            auth::GET_LOCKS,
            Subject::all("lock"),
            encode(&req),
            &mut |field, bytes| if field == 1 { each(bytes) } else { Ok(()) },
        )
        .await
    }

    pub async fn upsert_lock(&self, lock: &impl ToWire<LockV2>) -> Result<(), ClientError> {
        self.call_raw(auth::UPSERT_LOCK, Subject::all("lock"), lock.to_wire())
            .await
            .map(drop)
    }

    pub async fn delete_lock(&self, name: &str) -> Result<(), ClientError> {
        let req = DeleteLockRequest { name: name.into() };
        self.call_raw(
            auth::DELETE_LOCK,
            Subject::named("lock", name),
            encode(&req),
        )
        .await
        .map(drop)
    }

    // ---- roles ----

    pub async fn get_role(&self, name: &str) -> Result<Fetched<RoleV6>, ClientError> {
        let req = GetRoleRequest { name: name.into() };
        self.call(auth::GET_ROLE, Subject::named("role", name), encode(&req))
            .await
    }

    /// Pages through every role: `ListRoles`, or on older servers one `GetRoles` page.
    pub fn roles(&self) -> Pager<'_, RoleV6> {
        Pager::new(self, Listing::Roles)
    }

    /// Creates a role; fails with AlreadyExists if it exists.
    pub async fn create_role(
        &self,
        role: &impl ToWire<RoleV6>,
    ) -> Result<Fetched<RoleV6>, ClientError> {
        let body = role.to_wire();
        let subject = Subject::named("role", role_name(&body));
        self.call(auth::CREATE_ROLE, subject, wrap(1, &body)).await
    }

    /// Updates a role conditionally on its `metadata.revision` (a stale one fails).
    pub async fn update_role(
        &self,
        role: &impl ToWire<RoleV6>,
    ) -> Result<Fetched<RoleV6>, ClientError> {
        let body = role.to_wire();
        let subject = Subject::named("role", role_name(&body));
        self.call(auth::UPDATE_ROLE, subject, wrap(1, &body)).await
    }

    /// Creates or overwrites a role unconditionally: `UpsertRoleV2`, or on older servers
    /// `UpsertRole` then `GetRole`.
    pub async fn upsert_role(
        &self,
        role: &impl ToWire<RoleV6>,
    ) -> Result<Fetched<RoleV6>, ClientError> {
        let body = role.to_wire();
        let name = role_name(&body);
        let subject = Subject::named("role", name.clone());
        if prefer(&self.no_upsert_role_v2) {
            match self
                .call(auth::UPSERT_ROLE_V2, subject.clone(), wrap(1, &body))
                .await
            {
                Err(e) if is_unimplemented(&e) => {
                    tracing::info!("the server does not implement UpsertRoleV2");
                    self.no_upsert_role_v2.store(true, Ordering::Relaxed);
                }
                other => {
                    tracing::info!("role upsert used UpsertRoleV2");
                    return other;
                }
            }
        }
        tracing::info!("role upsert used UpsertRole + GetRole (older server)");
        self.call_raw(auth::UPSERT_ROLE, subject, body).await?;
        self.get_role(&name).await
    }

    pub async fn delete_role(&self, name: &str) -> Result<(), ClientError> {
        let req = DeleteRoleRequest { name: name.into() };
        self.call_raw(
            auth::DELETE_ROLE,
            Subject::named("role", name),
            encode(&req),
        )
        .await
        .map(drop)
    }

    // ---- join tokens ----

    pub async fn get_token(&self, name: &str) -> Result<Fetched<ProvisionTokenV2>, ClientError> {
        let req = ResourceRequest { name: name.into() };
        self.call(auth::GET_TOKEN, Subject::named("token", name), encode(&req))
            .await
    }

    pub async fn get_tokens(&self) -> Result<Vec<Fetched<ProvisionTokenV2>>, ClientError> {
        let raw = self
            .call_raw(auth::GET_TOKENS, Subject::all("token"), Bytes::new())
            .await?;
        Ok(split_page(auth::GET_TOKENS, &raw)?.0)
    }

    /// Creates a token; fails with AlreadyExists if it exists.
    pub async fn create_token(
        &self,
        token: &impl ToWire<ProvisionTokenV2>,
    ) -> Result<(), ClientError> {
        self.call_raw(
            auth::CREATE_TOKEN_V2,
            Subject::all("token"),
            wrap(1, &token.to_wire()),
        )
        .await
        .map(drop)
    }

    pub async fn upsert_token(
        &self,
        token: &impl ToWire<ProvisionTokenV2>,
    ) -> Result<(), ClientError> {
        self.call_raw(
            auth::UPSERT_TOKEN_V2,
            Subject::all("token"),
            wrap(1, &token.to_wire()),
        )
        .await
        .map(drop)
    }

    pub async fn delete_token(&self, name: &str) -> Result<(), ClientError> {
        let req = ResourceRequest { name: name.into() };
        self.call_raw(
            auth::DELETE_TOKEN,
            Subject::named("token", name),
            encode(&req),
        )
        .await
        .map(drop)
    }

    // ---- bots ----

    pub async fn get_bot(&self, name: &str) -> Result<Fetched<Bot>, ClientError> {
        let req = GetBotRequest {
            bot_name: name.into(),
        };
        self.call(bot::GET_BOT, Subject::named("bot", name), encode(&req))
            .await
    }

    /// Pages through every bot.
    pub fn bots(&self) -> Pager<'_, Bot> {
        Pager::new(self, Listing::Bots)
    }

    /// Creates a bot (and its user and role `bot-NAME`); fails if any exists.
    pub async fn create_bot(&self, bot: &impl ToWire<Bot>) -> Result<Fetched<Bot>, ClientError> {
        self.call(
            bot::CREATE_BOT,
            Subject::all("bot"),
            wrap(1, &bot.to_wire()),
        )
        .await
    }

    /// Updates the fields of a bot named by `paths` (`spec.roles`, `spec.traits`,
    /// `spec.max_session_ttl`).
    pub async fn update_bot(
        &self,
        bot: &impl ToWire<Bot>,
        paths: &[&str],
    ) -> Result<Fetched<Bot>, ClientError> {
        let mut body = wrap(1, &bot.to_wire()).to_vec();
        let mask = prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        };
        prost::encoding::message::encode(2, &mask, &mut body);
        self.call(bot::UPDATE_BOT, Subject::all("bot"), body.into())
            .await
    }

    pub async fn upsert_bot(&self, bot: &impl ToWire<Bot>) -> Result<Fetched<Bot>, ClientError> {
        self.call(
            bot::UPSERT_BOT,
            Subject::all("bot"),
            wrap(1, &bot.to_wire()),
        )
        .await
    }

    pub async fn delete_bot(&self, name: &str) -> Result<(), ClientError> {
        let req = DeleteBotRequest {
            bot_name: name.into(),
        };
        self.call_raw(bot::DELETE_BOT, Subject::named("bot", name), encode(&req))
            .await
            .map(drop)
    }

    // ---- bot instances ----

    pub async fn get_bot_instance(
        &self,
        bot_name: &str,
        instance_id: &str,
    ) -> Result<Fetched<BotInstance>, ClientError> {
        let req = GetBotInstanceRequest {
            bot_name: bot_name.into(),
            instance_id: instance_id.into(),
        };
        let subject = Subject::named("bot_instance", format!("{bot_name}/{instance_id}"));
        self.call(bot_instance::GET_BOT_INSTANCE, subject, encode(&req))
            .await
    }

    /// Pages through the instances of `bot_name` (every bot's when `None`), page by page, so a
    /// caller can stream any number of them: `ListBotInstancesV2`, else `ListBotInstances`.
    pub fn bot_instances(&self, bot_name: Option<&str>) -> Pager<'_, BotInstance> {
        self.bot_instances_where(InstanceFilter {
            bot_name: bot_name.unwrap_or_default().to_string(),
            ..Default::default()
        })
    }

    /// [`Client::bot_instances`] searched, queried and sorted by the server. A server without
    /// `ListBotInstancesV2` gets the bot and search term only (see [`Pager::filtered_by_server`]).
    pub fn bot_instances_where(&self, filter: InstanceFilter) -> Pager<'_, BotInstance> {
        Pager::new(self, Listing::BotInstances(filter))
    }

    pub async fn delete_bot_instance(
        &self,
        bot_name: &str,
        instance_id: &str,
    ) -> Result<(), ClientError> {
        let req = DeleteBotInstanceRequest {
            bot_name: bot_name.into(),
            instance_id: instance_id.into(),
        };
        let subject = Subject::named("bot_instance", format!("{bot_name}/{instance_id}"));
        self.call_raw(bot_instance::DELETE_BOT_INSTANCE, subject, encode(&req))
            .await
            .map(drop)
    }

    // ---- databases ----

    /// Every database server the caller may see: `ListResources` with `db_server`, paged, as
    /// tctl and tbot find databases (read only, so the resources' bytes are not kept).
    pub async fn database_servers(&self) -> Result<Vec<DatabaseServerV3>, ClientError> {
        let method = auth::LIST_RESOURCES;
        let mut servers = Vec::new();
        let mut start_key = String::new();
        loop {
            let req = ListResourcesRequest {
                resource_type: "db_server".into(),
                limit: PAGE_SIZE,
                start_key: start_key.clone(),
                ..Default::default()
            };
            let page: Fetched<ListResourcesResponse> = self
                .call(method, Subject::all("db_server"), encode(&req))
                .await?;
            let page = page.value;
            // The one kind modelled; a resource of another kind arrives empty and is skipped.
            servers.extend(page.resources.into_iter().filter_map(|r| {
                r.resource
                    .map(|paginated_resource::Resource::DatabaseServer(server)| server)
            }));
            if page.next_key.is_empty() {
                return Ok(servers);
            }
            if page.next_key == start_key {
                return Err(ClientError::Decode {
                    method,
                    detail: "the server returned the same page token again".into(),
                });
            }
            start_key = page.next_key;
        }
    }

    // ---- plumbing ----

    async fn list_page(
        &self,
        listing: &Listing,
        token: &str,
    ) -> Result<(Bytes, &'static str), ClientError> {
        match listing {
            Listing::Roles => {
                if prefer(&self.no_list_roles) {
                    let req = ListRolesRequest {
                        limit: PAGE_SIZE,
                        start_key: token.into(),
                        filter: None,
                    };
                    match self
                        .call_raw(auth::LIST_ROLES, Subject::all("role"), encode(&req))
                        .await
                    {
                        Err(e) if is_unimplemented(&e) => {
                            tracing::info!("the server does not implement ListRoles");
                            self.no_list_roles.store(true, Ordering::Relaxed)
                        }
                        other => {
                            tracing::info!("role listing used ListRoles");
                            return other.map(|raw| (raw, auth::LIST_ROLES));
                        }
                    }
                }
                tracing::info!("role listing used GetRoles (older server)");
                let raw = self
                    .call_raw(auth::GET_ROLES, Subject::all("role"), Bytes::new())
                    .await?;
                Ok((raw, auth::GET_ROLES))
            }
            Listing::Bots => {
                let req = ListBotsRequest {
                    page_size: PAGE_SIZE,
                    page_token: token.into(),
                };
                let raw = self
                    .call_raw(bot::LIST_BOTS, Subject::all("bot"), encode(&req))
                    .await?;
                Ok((raw, bot::LIST_BOTS))
            }
            Listing::BotInstances(filter) => {
                let subject = Subject::all("bot_instance");
                if prefer(&self.no_list_bot_instances_v2) {
                    let req = ListBotInstancesV2Request {
                        page_size: PAGE_SIZE,
                        page_token: token.into(),
                        sort_field: filter.sort_field.clone(),
                        sort_desc: filter.sort_desc,
                        filter: Some(list_bot_instances_v2_request::Filters {
                            bot_name: filter.bot_name.clone(),
                            search_term: filter.search.clone(),
                            query: filter.query.clone(),
                        }),
                    };
                    let method = bot_instance::LIST_BOT_INSTANCES_V2;
                    match self.call_raw(method, subject.clone(), encode(&req)).await {
                        Err(e) if is_unimplemented(&e) => {
                            tracing::info!("the server does not implement ListBotInstancesV2");
                            self.no_list_bot_instances_v2.store(true, Ordering::Relaxed)
                        }
                        other => {
                            tracing::info!("bot instance listing used ListBotInstancesV2");
                            return other.map(|raw| (raw, method));
                        }
                    }
                }
                tracing::info!("bot instance listing used ListBotInstances");
                let req = ListBotInstancesRequest {
                    filter_bot_name: filter.bot_name.clone(),
                    page_size: PAGE_SIZE,
                    page_token: token.into(),
                    filter_search_term: filter.search.clone(),
                };
                let method = bot_instance::LIST_BOT_INSTANCES;
                let raw = self.call_raw(method, subject, encode(&req)).await?;
                Ok((raw, method))
            }
        }
    }

    async fn call<T: Message + Default>(
        &self,
        method: &'static str,
        subject: Option<Subject>,
        body: Bytes,
    ) -> Result<Fetched<T>, ClientError> {
        let raw = self.call_raw(method, subject, body).await?;
        Fetched::decode(raw).map_err(|e| ClientError::Decode {
            method,
            detail: e.to_string(),
        })
    }

    /// Admits a request about to be sent: refused when larger than a server accepts, else
    /// counted. Gives `subject` back for the call's errors.
    fn send(
        &self,
        method: &'static str,
        subject: Option<Subject>,
        body: &Bytes,
    ) -> Result<Option<Subject>, ClientError> {
        if body.len() > MAX_REQUEST_BYTES {
            return Err(ClientError::TooLarge {
                method,
                subject,
                bytes: body.len(),
            });
        }
        self.rpcs.fetch_add(1, Ordering::Relaxed);
        Ok(subject)
    }

    /// One unary call with bytes in and bytes out, so resources keep every field.
    async fn call_raw(
        &self,
        method: &'static str,
        subject: Option<Subject>,
        body: Bytes,
    ) -> Result<Bytes, ClientError> {
        tracing::debug!(method, "call");
        let subject = self.send(method, subject, &body)?;
        let mut grpc = tonic::client::Grpc::new(self.connection.channel.clone())
            .max_decoding_message_size(MAX_RESPONSE_BYTES);
        let result = match grpc.ready().await {
            Ok(()) => {
                grpc.unary(
                    tonic::Request::new(body),
                    PathAndQuery::from_static(method),
                    RawCodec,
                )
                .await
            }
            Err(e) => Err(tonic::Status::from_error(Box::new(e))),
        };
        result
            .map(tonic::Response::into_inner)
            .map_err(|status| self.rpc_error(method, subject, status))
    }

    /// One unary call whose answer is read as it arrives (see [`fields`]): `each` gets the
    /// number and bytes of every top-level length-delimited field of the answer as soon as it is
    /// complete, so the answer is never held whole and has no size limit.
    async fn call_streamed(
        &self,
        method: &'static str,
        subject: Option<Subject>,
        body: Bytes,
        each: &mut dyn FnMut(u32, Bytes) -> Result<(), prost::DecodeError>,
    ) -> Result<(), ClientError> {
        tracing::debug!(method, "call (answer streamed)");
        let subject = self.send(method, subject, &body)?;
        match fields::call(self.connection.channel.clone(), method, body, each).await {
            Ok(()) => Ok(()),
            Err(fields::Failure::Status(status)) => Err(self.rpc_error(method, subject, status)),
            Err(fields::Failure::Split(e)) => Err(ClientError::Decode {
                method,
                detail: e.to_string(),
            }),
        }
    }

    /// A failed call; TLS failures seen only now (TLS 1.3 reports a refused client certificate
    /// after the handshake) become the connection errors they are.
    fn rpc_error(
        &self,
        method: &'static str,
        subject: Option<Subject>,
        status: tonic::Status,
    ) -> ClientError {
        tracing::debug!(method, error = %mwi_identity::tls::error_chain(&status), "call failed");
        if let Some(tls) = mwi_identity::tls::find_rustls_error(&status) {
            return ClientError::Connect(crate::connect::tls_failure(
                &self.peer.addr,
                self.connection.target.via_proxy,
                &self.peer.identity,
                tls,
            ));
        }
        ClientError::Rpc {
            method,
            subject,
            peer: self.peer.clone(),
            status,
        }
    }
}

/// Whether to try the newer of two RPC variants: yes until this server answered it with
/// `Unimplemented`. The server's version is not consulted: dev builds and forks report
/// placeholders such as `0.0.0-dev`, and a version says nothing about which RPCs a fork kept.
fn prefer(refused: &AtomicBool) -> bool {
    !refused.load(Ordering::Relaxed)
}

fn is_unimplemented(e: &ClientError) -> bool {
    matches!(e, ClientError::Rpc { status, .. } if status.code() == tonic::Code::Unimplemented)
}

fn encode(m: &impl Message) -> Bytes {
    m.encode_to_vec().into()
}

/// A message whose only field `field` holds the already-encoded message `inner`, so a nested
/// resource goes out with its unknown fields.
fn wrap(field: u32, inner: &Bytes) -> Bytes {
    let mut out = Vec::with_capacity(inner.len() + 8);
    prost::encoding::encode_key(field, prost::encoding::WireType::LengthDelimited, &mut out);
    prost::encoding::encode_varint(inner.len() as u64, &mut out);
    out.extend_from_slice(inner);
    out.into()
}

/// The name in an encoded role, for messages (empty if it does not decode).
fn role_name(role: &Bytes) -> String {
    RoleV6::decode(role.clone())
        .ok()
        .and_then(|r| r.metadata)
        .map(|m| m.name)
        .unwrap_or_default()
}

/// Splits a listing answer: the resources of field 1 (each with its own bytes) and the next-page
/// token of field 2. Every listing RPC we call uses that layout.
fn split_page<T: Message + Default>(
    method: &'static str,
    raw: &Bytes,
) -> Result<(Vec<Fetched<T>>, String), ClientError> {
    let mut items = Vec::new();
    let token = walk_page(method, raw, |bytes| {
        items.push(Fetched::decode(bytes)?);
        Ok(())
    })?;
    Ok((items, token))
}

/// Walks a listing answer: hands the bytes of each resource (field 1) to `item` in order and
/// returns the next-page token (field 2).
fn walk_page(
    method: &'static str,
    raw: &Bytes,
    mut item: impl FnMut(Bytes) -> Result<(), prost::DecodeError>,
) -> Result<String, ClientError> {
    let bad = |detail: String| ClientError::Decode { method, detail };
    let mut buf = raw.clone();
    let mut token = String::new();
    while buf.has_remaining() {
        let (field, wire_type) =
            prost::encoding::decode_key(&mut buf).map_err(|e| bad(e.to_string()))?;
        match (field, wire_type) {
            (1 | 2, prost::encoding::WireType::LengthDelimited) => {
                let len =
                    prost::encoding::decode_varint(&mut buf).map_err(|e| bad(e.to_string()))?;
                let len = usize::try_from(len)
                    .ok()
                    .filter(|&l| l <= buf.remaining())
                    .ok_or_else(|| bad(format!("field {field} is longer than the message")))?;
                let bytes = buf.split_to(len);
                if field == 1 {
                    item(bytes).map_err(|e| bad(e.to_string()))?;
                } else {
                    token = String::from_utf8(bytes.to_vec())
                        .map_err(|_| bad("the page token is not UTF-8".into()))?;
                }
            }
            _ => prost::encoding::skip_field(
                wire_type,
                field,
                &mut buf,
                prost::encoding::DecodeContext::default(),
            )
            .map_err(|e| bad(e.to_string()))?,
        }
    }
    Ok(token)
}

/// Which bot instances a listing asks for, and in which order (ListBotInstancesV2's filters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceFilter {
    /// Only this bot's instances (all when empty).
    pub bot_name: String,
    /// Teleport's search term (empty for none).
    pub search: String,
    /// A predicate language query (empty for none).
    pub query: String,
    /// `bot_name`, `active_at_latest`, `version_latest` or `host_name_latest`; empty for the
    /// server's default.
    pub sort_field: String,
    pub sort_desc: bool,
}

enum Listing {
    Roles,
    Bots,
    BotInstances(InstanceFilter),
}

/// A paged listing, read one page per call so any number of resources can be streamed.
pub struct Pager<'c, T> {
    client: &'c Client,
    listing: Listing,
    /// The token of the next page; `None` once the last page was read.
    next: Option<String>,
    /// The RPC that answered the last page.
    method: Option<&'static str>,
    _items: PhantomData<T>,
}

impl<'c, T: Message + Default> Pager<'c, T> {
    fn new(client: &'c Client, listing: Listing) -> Pager<'c, T> {
        Pager {
            client,
            listing,
            next: Some(String::new()),
            method: None,
            _items: PhantomData,
        }
    }

    /// The next page, or `None` after the last one. A page may be empty.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Fetched<T>>>, ClientError> {
        let Some(token) = self.next.take() else {
            return Ok(None);
        };
        let (raw, method) = self.client.list_page(&self.listing, &token).await?;
        self.method = Some(method);
        let (items, next) = split_page(method, &raw)?;
        if !next.is_empty() && next == token {
            return Err(ClientError::Decode {
                method,
                detail: "the server returned the same page token again".into(),
            });
        }
        self.next = (!next.is_empty()).then_some(next);
        Ok(Some(items))
    }

    /// Whether the server applied every filter and the order of the listing: false after a
    /// bot instance page came from `ListBotInstances` (an older server), which knows no query
    /// and no sort field, so the caller has to apply them.
    pub fn filtered_by_server(&self) -> bool {
        self.method != Some(bot_instance::LIST_BOT_INSTANCES)
    }

    /// Every remaining resource, in one vector.
    pub async fn collect_all(mut self) -> Result<Vec<Fetched<T>>, ClientError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::proto::ListRolesResponse;
    use mwi_proto::types::Metadata;

    fn role(name: &str) -> RoleV6 {
        RoleV6 {
            kind: "role".into(),
            version: "v7".into(),
            metadata: Some(Metadata {
                name: name.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_page_splits_into_resources_with_their_own_bytes() {
        let mut second = role("b").encode_to_vec();
        prost::encoding::string::encode(900, &"future".to_string(), &mut second);
        let mut raw = Vec::new();
        prost::encoding::message::encode(1, &role("a"), &mut raw);
        prost::encoding::bytes::encode(1, &second, &mut raw);
        prost::encoding::string::encode(2, &"next".to_string(), &mut raw);
        let raw = Bytes::from(raw);
        let typed = ListRolesResponse::decode(raw.clone()).unwrap();
        let (items, token) = split_page::<RoleV6>("m", &raw).unwrap();
        assert_eq!(token, "next");
        assert_eq!(items.len(), typed.roles.len());
        assert_eq!(items[1].raw.as_ref(), second.as_slice());
        assert!(mwi_proto::unknown::has_unknown::<RoleV6>(
            &items[1].to_wire()
        ));
    }

    #[test]
    fn truncated_page_is_an_error_not_a_panic() {
        let mut raw = Vec::new();
        prost::encoding::message::encode(1, &role("a"), &mut raw);
        raw.truncate(raw.len() - 2);
        assert!(split_page::<RoleV6>("m", &Bytes::from(raw)).is_err());
    }

    #[test]
    fn wrapped_resource_decodes_as_the_request() {
        let inner = Bytes::from(role("r").encode_to_vec());
        let req = mwi_proto::proto::UpsertRoleRequest::decode(wrap(1, &inner)).unwrap();
        assert_eq!(req.role, Some(role("r")));
    }

    #[test]
    fn subject_names_the_resource() {
        assert_eq!(
            Subject::named("lock", "x").unwrap().to_string(),
            "lock \"x\""
        );
        assert_eq!(Subject::all("role").unwrap().to_string(), "roles");
    }
}
