//! The process exit codes: a typed, documented part of mwictl's interface that runbooks and
//! scripts may rely on. Every command ends in exactly one of these.

/// How `mwictl` ended. The numbers are stable; scripts may test them.
///
/// | code | meaning |
/// |---|---|
/// | 0 | success |
/// | 1 | failure, or a check that produced findings (doctor, lint) |
/// | 2 | usage: bad arguments, flags or input files (identity, profile) |
/// | 3 | not found: the named resource does not exist |
/// | 4 | access denied: the identity may not do this, or its certificate is not valid (expired) |
/// | 5 | conflict: the resource changed since it was read (stale revision), or already exists |
/// | 6 | unreachable: cannot connect to the auth server, TLS or CA mismatch |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    Success,
    Failure,
    Usage,
    NotFound,
    AccessDenied,
    Conflict,
    Unreachable,
}

impl ExitStatus {
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
        let all = [
            ExitStatus::Success,
            ExitStatus::Failure,
            ExitStatus::Usage,
            ExitStatus::NotFound,
            ExitStatus::AccessDenied,
            ExitStatus::Conflict,
            ExitStatus::Unreachable,
        ];
        let codes: Vec<u8> = all.iter().map(|s| s.code()).collect();
        assert_eq!(codes, vec![0, 1, 2, 3, 4, 5, 6]);
    }
}
