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
        if let Some(verb) = verbs
            .iter()
            .find(|verb| !policy::rules_allow(&roles, verb, resource))
        {
            return Err(ApiError::denied(verb, resource));
        }
        let writes = verbs
            .iter()
            .any(|verb| matches!(*verb, "create" | "update" | "delete"));
        if self.admin_mfa && writes && !admin_mfa_exempt(&caller.id) {
            return Err(ApiError::AccessDenied(ADMIN_MFA_REQUIRED.into()));
        }
        Ok(())
    }
}

/// Teleport's refusal of an admin-level request made without an MFA response (api/mfa,
/// `ErrAdminActionMFARequired`; trace.AccessDenied, so gRPC `PermissionDenied`).
pub(crate) const ADMIN_MFA_REQUIRED: &str = "admin-level API request requires MFA verification";

/// Whether an identity may make admin-level requests without MFA, as Teleport decides
/// (lib/authz `AuthorizeAdminAction`, docs mfa-for-admin-actions): the local admin (the lab's
/// stand-in for the builtin Admin role), bots, certificates a bot impersonated (every tbot
/// output), and certificates issued by the auth host's own identity (`<host-uuid>.<cluster>`).
pub(crate) fn admin_mfa_exempt(id: &CertIdentity) -> bool {
    let local_admin = id.username == crate::datadir::ADMIN && id.impersonator.is_none();
    let bot = id.bot_name.is_some() || id.username.starts_with("bot-");
    let by_bot = id
        .impersonator
        .as_deref()
        .is_some_and(|who| who.starts_with("bot-"));
    let by_host = id.impersonator.as_deref().is_some_and(|who| {
        who.split_once('.')
            .is_some_and(|(host, _)| uuid::Uuid::parse_str(host).is_ok())
    });
    local_admin || bot || by_bot || by_host
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(username: &str, impersonator: Option<&str>) -> CertIdentity {
        CertIdentity {
            username: username.into(),
            roles: vec!["editor".into()],
            impersonator: impersonator.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn admin_mfa_exempts_admin_bots_and_what_they_or_the_host_issued_but_not_users() {
        assert!(admin_mfa_exempt(&id("admin", None)));
        assert!(admin_mfa_exempt(&id("bot-ops", None)));
        assert!(admin_mfa_exempt(&id("alice", Some("bot-ops"))));
        assert!(admin_mfa_exempt(&id(
            "alice",
            Some("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0.lab")
        )));
        assert!(!admin_mfa_exempt(&id("alice", None)));
        assert!(!admin_mfa_exempt(&id("alice", Some("admin"))));
        assert!(!admin_mfa_exempt(&id("admin", Some("alice"))));
    }
}
