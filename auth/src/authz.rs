//! Who is calling and what they may do: the caller is the client certificate (CN user, O roles,
//! bot attributes); RBAC rules of those roles decide each verb; in-force locks refuse everything.

use std::net::SocketAddr;
use std::sync::Arc;

use mwi_identity::CertIdentity;

use crate::error::ApiError;
use crate::policy::{self, Target};
use crate::server::Auth;
use crate::store::now_ms;

/// The authenticated caller of one RPC.
pub(crate) struct Caller {
    pub id: Arc<CertIdentity>,
    pub remote: Option<SocketAddr>,
}

/// The lock targets an identity falls under: its user, each role, and its bot instance.
pub(crate) fn identity_targets(id: &CertIdentity) -> Vec<(Target, &str)> {
    let mut targets = vec![(Target::User, id.username.as_str())];
    targets.extend(id.roles.iter().map(|r| (Target::Role, r.as_str())));
    if let Some(instance) = &id.bot_instance_id {
        targets.push((Target::BotInstanceId, instance.as_str()));
    }
    targets
}

impl Auth {
    /// Refuses the call when an in-force lock targets the caller.
    pub(crate) fn check_caller_locks(&self, caller: &Caller) -> Result<(), ApiError> {
        self.policy
            .check_locks(&identity_targets(&caller.id), now_ms())
    }

    /// Requires every verb in `verbs` on `resource` from the caller's roles.
    pub(crate) fn authorize(
        &self,
        caller: &Caller,
        verbs: &[&str],
        resource: &str,
    ) -> Result<(), ApiError> {
        let roles = self.policy.role_set(&caller.id.roles, now_ms());
        match verbs
            .iter()
            .find(|verb| !policy::rules_allow(&roles, verb, resource))
        {
            Some(verb) => Err(ApiError::denied(verb, resource)),
            None => Ok(()),
        }
    }
}
