//! The process exit codes: a typed, documented part of mwictl's interface that runbooks and
//! scripts may rely on. Every command ends in exactly one of these.

/// How `mwictl` ended. The numbers are stable; scripts may test them. What each means is
/// [`ExitStatus::meaning`], which `--help` and the man page print (EXIT STATUS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    Success,
    Failure,
    Usage,
    NotFound,
    AccessDenied,
    Conflict,
    Unreachable,
    MfaRequired,
}

impl ExitStatus {
    /// Every status, by code.
    pub const ALL: [ExitStatus; 8] = [
        ExitStatus::Success,
        ExitStatus::Failure,
        ExitStatus::Usage,
        ExitStatus::NotFound,
        ExitStatus::AccessDenied,
        ExitStatus::Conflict,
        ExitStatus::Unreachable,
        ExitStatus::MfaRequired,
    ];

    /// When a command ends with this status. The line between 2, 3 and 6: 3 is for resources on
    /// the server only; a local file that is missing or unreadable is an input error (2); a
    /// server that cannot be trusted (wrong CA) is as good as unreachable (6), with a hint.
    pub fn meaning(self) -> &'static str {
        match self {
            ExitStatus::Success => "success",
            ExitStatus::Failure => {
                "failure, or a check that produced findings (doctor, lint, triage)"
            }
            ExitStatus::Usage => {
                "usage: bad arguments or flags, or a local input file (identity, profile, log, \
                 config, resource file) that is missing, unreadable or invalid"
            }
            ExitStatus::NotFound => {
                "not found: the named resource (bot, token, role, lock, instance) does not exist \
                 on the auth server"
            }
            ExitStatus::AccessDenied => {
                "access denied: the auth server refused the action, or the identity's certificate \
                 has expired or is not yet valid"
            }
            ExitStatus::Conflict => {
                "conflict: the resource changed since it was read (stale revision), or already \
                 exists"
            }
            ExitStatus::Unreachable => {
                "unreachable: no trusted connection to the auth server: refused, timed out, not \
                 TLS, or another cluster's (its certificate is not signed by the identity's CA, \
                 or it refuses the identity's certificate)"
            }
            ExitStatus::MfaRequired => {
                "admin MFA required: the auth server requires MFA for an admin-level request \
                 (WebAuthn-only clusters, for tsh users); use a bot's identity with the role \
                 (-i) or the auth host's identity"
            }
        }
    }

    /// The numeric process exit code.
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Usage => 2,
            ExitStatus::NotFound => 3,
            ExitStatus::AccessDenied => 4,
            ExitStatus::Conflict => 5,
            ExitStatus::Unreachable => 6,
            ExitStatus::MfaRequired => 7,
        }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_numbers() {
        let codes: Vec<u8> = ExitStatus::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes, vec![0, 1, 2, 3, 4, 5, 6, 7]);
    }
}
