//! Teleport identity files (the format `tctl auth sign`, tbot and `mwictl lab start` write), the
//! Teleport certificate subject (who a client certificate names), and TLS with an auth service.

pub mod durable;
pub mod duration;
mod file;
pub mod jose;
pub mod keys;
pub mod labels;
mod subject;
pub mod tls;
mod version;
pub mod websocket;

pub use file::{IdentityFile, Loaded};
pub use subject::{BOT_PREFIX, CertIdentity, bot_resource_name, oid};
pub use version::Version;

use std::path::PathBuf;

/// Errors reading or interpreting an identity. Each renders as one line naming the input.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("identity file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("{0}")]
    Malformed(String),
    #[error("certificate: {0}")]
    Certificate(String),
}

impl IdentityError {
    pub(crate) fn at(self, path: &std::path::Path) -> IdentityError {
        match self {
            IdentityError::File { .. } => self,
            other => IdentityError::File {
                path: path.to_path_buf(),
                reason: other.to_string(),
            },
        }
    }
}
