//! The calls the agent makes, on Teleport's wire: RegisterUsingToken (join), GenerateUserCerts
//! (renewal and impersonated outputs) and SubmitHeartbeat, each failing with tbot's wording.

use std::time::{Duration, SystemTime};

use mwi_proto::machineid::bot_instance_service_client::BotInstanceServiceClient;
use mwi_proto::machineid::{
    BotInstanceServiceHealth, BotInstanceStatusHeartbeat, BotKind, SubmitHeartbeatRequest,
};
use mwi_proto::proto::auth_service_client::AuthServiceClient;
use mwi_proto::proto::join_service_client::JoinServiceClient;
use mwi_proto::proto::user_certs_request::CertUsage;
use mwi_proto::proto::{Certs, RouteToDatabase, UserCertsRequest};
use mwi_proto::types::RegisterUsingTokenRequest;
use tonic::transport::Channel;

use crate::connect::{self, Route, ServerTrust};
use crate::identity::Identity;
use crate::keys::KeyPair;

/// A call that failed, with the text tbot would print for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The server's message verbatim, or the transport failure in Go's words.
    pub text: String,
    /// The server refused with AccessDenied (gRPC PermissionDenied).
    pub access_denied: bool,
}

impl Failure {
    pub fn local(text: impl Into<String>) -> Failure {
        Failure {
            text: text.into(),
            access_denied: false,
        }
    }

    pub(crate) fn status(status: &tonic::Status) -> Failure {
        Failure {
            text: connect::status_text(status),
            access_denied: status.code() == tonic::Code::PermissionDenied,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The teleport system role a bot joins with.
const BOT_ROLE: &str = "Bot";

fn expires(ttl: Duration) -> Option<prost_types::Timestamp> {
    Some((SystemTime::now() + ttl).into())
}

/// Joins with a one-time token over TLS without a client certificate.
pub async fn join(
    route: &Route,
    trust: &ServerTrust,
    token: &str,
    key: &KeyPair,
    ttl: Duration,
) -> Result<Certs, Failure> {
    let channel = connect_anonymously(route, trust).await?;
    let request = RegisterUsingTokenRequest {
        role: BOT_ROLE.into(),
        token: token.into(),
        public_tls_key: key.tls_public_pem.clone().into_bytes(),
        public_ssh_key: key.ssh_public.clone().into_bytes(),
        expires: expires(ttl),
        ..Default::default()
    };
    JoinServiceClient::new(channel)
        .register_using_token(request)
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| Failure::status(&s))
}

/// A channel without a client certificate, verifying the server with `trust` (a first join, or
/// a bound-keypair recovery once the identity expired).
pub async fn connect_anonymously(route: &Route, trust: &ServerTrust) -> Result<Channel, Failure> {
    let config = connect::tls_config(trust, None).map_err(|e| Failure::local(e.0))?;
    connect::channel(route, config)
        .await
        .map_err(|e| Failure::local(e.0))
}

/// A channel authenticated as `identity`, verifying the server with the identity's CAs.
pub async fn connect_as(route: &Route, identity: &Identity) -> Result<Channel, Failure> {
    let trust = ServerTrust::Roots(identity.tls_ca_pems.clone());
    let config = connect::tls_config(&trust, Some(identity)).map_err(|e| Failure::local(e.0))?;
    connect::channel(route, config)
        .await
        .map_err(|e| Failure::local(e.0))
}

/// The auth service's Ping: its cluster and the proxy's public address (empty without one).
pub async fn ping(channel: Channel) -> Result<mwi_proto::proto::PingResponse, Failure> {
    AuthServiceClient::new(channel)
        .ping(mwi_proto::proto::PingRequest::default())
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| Failure::status(&s))
}

/// Renews the bot's own identity: its renewable certificate is the connection's client
/// certificate (so the server reads the presented generation from it), for a new key.
pub async fn renew(
    channel: Channel,
    identity: &Identity,
    key: &KeyPair,
    ttl: Duration,
) -> Result<Certs, Failure> {
    let request = UserCertsRequest {
        username: identity.cert.username.clone(),
        expires: expires(ttl),
        ssh_public_key: key.ssh_public.clone().into_bytes(),
        tls_public_key: key.tls_public_pem.clone().into_bytes(),
        ..Default::default()
    };
    generate(channel, request).await
}

/// Impersonated (output) certificates for `roles`, optionally routed to a database.
pub async fn impersonate(
    channel: Channel,
    bot: &Identity,
    key: &KeyPair,
    ttl: Duration,
    roles: &[String],
    database: Option<RouteToDatabase>,
) -> Result<Certs, Failure> {
    let usage = if database.is_some() {
        CertUsage::Database
    } else {
        CertUsage::All
    };
    let request = UserCertsRequest {
        username: bot.cert.username.clone(),
        expires: expires(ttl),
        role_requests: roles.to_vec(),
        use_role_requests: true,
        route_to_database: database,
        usage: usage.into(),
        ssh_public_key: key.ssh_public.clone().into_bytes(),
        tls_public_key: key.tls_public_pem.clone().into_bytes(),
        ..Default::default()
    };
    generate(channel, request).await
}

async fn generate(channel: Channel, request: UserCertsRequest) -> Result<Certs, Failure> {
    AuthServiceClient::new(channel)
        .generate_user_certs(request)
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| Failure::status(&s))
}

/// The tbot release the lab agent behaves as, reported in its heartbeats and start log line
/// where tbot reports its own: bound-keypair joining is GA since 18.1.0 (teleport-bound-keypair.md
/// §1), and a lab reporting 18 or 19 supports it (an agent may be one major version behind).
pub const TBOT_VERSION: &str = "18.1.0";

/// What a heartbeat reports about this process.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    pub is_startup: bool,
    pub one_shot: bool,
    pub uptime: Duration,
    /// `token` or `bound_keypair`.
    pub join_method: &'static str,
    /// Every output's health (`service_health`).
    pub services: Vec<BotInstanceServiceHealth>,
}

/// Sends one BotInstanceService heartbeat as the bot.
pub async fn heartbeat(channel: Channel, beat: &Heartbeat) -> Result<(), Failure> {
    let heartbeat = BotInstanceStatusHeartbeat {
        recorded_at: Some(SystemTime::now().into()),
        is_startup: beat.is_startup,
        version: TBOT_VERSION.into(),
        hostname: hostname(),
        uptime: prost_types::Duration::try_from(beat.uptime).ok(),
        join_method: beat.join_method.into(),
        one_shot: beat.one_shot,
        architecture: std::env::consts::ARCH.into(),
        os: std::env::consts::OS.into(),
        kind: BotKind::Tbot.into(),
        ..Default::default()
    };
    BotInstanceServiceClient::new(channel)
        .submit_heartbeat(SubmitHeartbeatRequest {
            heartbeat: Some(heartbeat),
            service_health: beat.services.clone(),
        })
        .await
        .map(|_| ())
        .map_err(|s| Failure::status(&s))
}

/// This machine's host name (empty if the system will not say).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length, which is what we pass.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_denied_is_told_apart_from_other_refusals() {
        let denied = Failure::status(&tonic::Status::permission_denied("lock targeting"));
        assert!(denied.access_denied);
        assert_eq!(denied.to_string(), "lock targeting");
        let other = Failure::status(&tonic::Status::not_found("database \"example\" not found"));
        assert!(!other.access_denied);
    }

    #[test]
    fn hostname_is_not_empty_here() {
        assert!(!hostname().is_empty());
    }
}
