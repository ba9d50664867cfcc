//! The auth server's shared state (store, policy view, certificate authorities, settings) and
//! the calls that belong to no resource (Ping).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mwi_proto::proto::PingResponse;
use prost::Message;

use crate::authz::Caller;
use crate::error::ApiError;
use crate::lab::LockStyle;
use crate::pki::{JwtCa, TlsCa};
use crate::policy::Policy;
use crate::sshca::SshCa;
use crate::store::Store;

/// The version the lab reports in Ping. Build metadata (`+lab`) marks it as the lab without
/// lowering its semver precedence, so "18.0.0+lab" passes a `>= 18.0.0` feature check while
/// "18.0.0-lab" (a pre-release) would not. The newest lock style reports the next major.
pub(crate) fn server_version(style: LockStyle) -> &'static str {
    match style {
        LockStyle::User => "18.0.0+lab",
        LockStyle::Instance => "19.0.0+lab",
    }
}

pub(crate) struct Auth {
    pub store: Store,
    pub policy: Arc<Policy>,
    pub tls_ca: TlsCa,
    pub ssh_ca: SshCa,
    pub bound_keypair_ca: JwtCa,
    pub cluster: String,
    pub lock_style: LockStyle,
    pub bot_ttl: Duration,
    pub admin_mfa: bool,
    /// The lab proxy's public address, which Ping reports as `proxy_public_addr` (tbot with
    /// `auth_server` asks for it to reach the proxy); empty without a lab proxy.
    pub proxy_public_addr: String,
}

impl Auth {
    pub(crate) fn ping(&self, caller: &Caller) -> Result<Bytes, ApiError> {
        let response = PingResponse {
            cluster_name: self.cluster.clone(),
            server_version: server_version(self.lock_style).to_string(),
            remote_addr: caller.remote.map(|a| a.to_string()).unwrap_or_default(),
            proxy_public_addr: self.proxy_public_addr.clone(),
            ..Default::default()
        };
        Ok(response.encode_to_vec().into())
    }
}
