//! The errors an RPC handler returns, named after Teleport's trace kinds, and their gRPC codes.
//! The mapping is Teleport's own (gravitational/trace `trail.ToGRPC`), so clients decode them alike.

use tonic::{Code, Status};

/// An RPC failure, in Teleport's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ApiError {
    /// trace.NotFound → `NotFound`.
    #[error("{0}")]
    NotFound(String),
    /// trace.AlreadyExists → `AlreadyExists`.
    #[error("{0}")]
    AlreadyExists(String),
    /// trace.AccessDenied → `PermissionDenied`.
    #[error("{0}")]
    AccessDenied(String),
    /// trace.CompareFailed → `FailedPrecondition`.
    #[error("{0}")]
    CompareFailed(String),
    /// trace.BadParameter → `InvalidArgument`.
    #[error("{0}")]
    BadParameter(String),
    /// No client certificate where one is required → `Unauthenticated`.
    #[error("{0}")]
    Unauthenticated(String),
    /// trace.NotImplemented → `Unimplemented` (a join method the lab does not serve).
    #[error("{0}")]
    NotImplemented(String),
    /// A plain (untyped) Go error in Teleport, e.g. go-jose's → `Unknown`.
    #[error("{0}")]
    Unknown(String),
    /// A fault of the lab itself (store, signing) → `Internal`.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The AccessDenied Teleport returns when RBAC refuses `verb` on `resource`.
    pub(crate) fn denied(verb: &str, resource: &str) -> ApiError {
        ApiError::AccessDenied(format!(
            "access denied to perform action {verb:?} on {resource:?}"
        ))
    }

    /// The CompareFailed Teleport's backend returns on a stale revision (ErrIncorrectRevision).
    pub(crate) fn stale_revision() -> ApiError {
        ApiError::CompareFailed(
            "resource revision does not match, it may have been concurrently \
             created|modified|deleted; please work from the latest state, or use --force to \
             overwrite"
                .into(),
        )
    }

    /// The gRPC code Teleport's `trail.ToGRPC` gives this kind.
    pub(crate) fn code(&self) -> Code {
        match self {
            ApiError::NotFound(_) => Code::NotFound,
            ApiError::AlreadyExists(_) => Code::AlreadyExists,
            ApiError::AccessDenied(_) => Code::PermissionDenied,
            ApiError::CompareFailed(_) => Code::FailedPrecondition,
            ApiError::BadParameter(_) => Code::InvalidArgument,
            ApiError::Unauthenticated(_) => Code::Unauthenticated,
            ApiError::NotImplemented(_) => Code::Unimplemented,
            ApiError::Unknown(_) => Code::Unknown,
            ApiError::Internal(_) => Code::Internal,
        }
    }
}

impl From<ApiError> for Status {
    fn from(err: ApiError) -> Status {
        Status::new(err.code(), err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teleport_kinds_map_to_teleports_grpc_codes() {
        assert_eq!(
            ApiError::denied("list", "lock").code(),
            Code::PermissionDenied
        );
        assert_eq!(ApiError::stale_revision().code(), Code::FailedPrecondition);
        assert_eq!(ApiError::NotFound(String::new()).code(), Code::NotFound);
        assert_eq!(
            ApiError::NotImplemented(String::new()).code(),
            Code::Unimplemented
        );
    }

    #[test]
    fn rbac_refusal_names_the_verb_and_the_resource() {
        let status = Status::from(ApiError::denied("list", "lock"));
        assert_eq!(
            status.message(),
            r#"access denied to perform action "list" on "lock""#
        );
    }
}
