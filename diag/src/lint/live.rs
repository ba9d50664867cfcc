//! What `mwictl lint --live` read from the auth service for the rules that judge a config
//! against the token it joins with: each bound_keypair token's recovery mode and rotation request.

use std::collections::BTreeMap;

/// The cluster's bound_keypair tokens, or why they could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveTokens {
    /// The tokens of cluster `cluster`, by name.
    Read {
        cluster: String,
        tokens: BTreeMap<String, BoundToken>,
    },
    /// Reading them failed: one line why (the rules then say what they could not check).
    Unread(String),
}

/// What the rules need of one bound_keypair token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundToken {
    /// `standard`, `relaxed` or `insecure` (an empty mode is standard).
    pub recovery_mode: String,
    /// `spec.bound_keypair.rotate_after` (RFC 3339) when a rotation is requested and has not
    /// happened since (`status.bound_keypair.last_rotated_at` is older or unset).
    pub rotation_pending: Option<String>,
}

impl LiveTokens {
    /// The token named `name`: `Ok(None)` when the cluster has no bound_keypair token by that
    /// name, `Err(why)` when the tokens were not read.
    pub fn token(&self, name: &str) -> Result<Option<&BoundToken>, &str> {
        match self {
            LiveTokens::Read { tokens, .. } => Ok(tokens.get(name)),
            LiveTokens::Unread(why) => Err(why),
        }
    }

    /// The cluster's name, or `the cluster` when the tokens were not read.
    pub fn cluster(&self) -> &str {
        match self {
            LiveTokens::Read { cluster, .. } => cluster,
            LiveTokens::Unread(_) => "the cluster",
        }
    }
}
