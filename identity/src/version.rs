//! A Teleport release number (`MAJOR.MINOR.PATCH`) as servers, tbot binaries and users write it;
//! shared by the client (what a server reported) and the linter (the release a config targets).

/// A version `MAJOR.MINOR.PATCH`, with an optional leading `v` and any pre-release or build
/// suffix ignored; a missing minor or patch is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Version {
    pub const fn new(major: u64, minor: u64, patch: u64) -> Version {
        Version {
            major,
            minor,
            patch,
        }
    }

    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim();
        let text = text.strip_prefix('v').unwrap_or(text);
        let core = text.split(['-', '+']).next()?;
        let mut parts = core.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        let patch = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        if parts.next().is_some() {
            return None;
        }
        Some(Version {
            major,
            minor,
            patch,
        })
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_with_prefix_and_suffix() {
        let v = |major, minor, patch| Some(Version::new(major, minor, patch));
        assert_eq!(Version::parse("17.4.2"), v(17, 4, 2));
        assert_eq!(Version::parse("v16.0.0-dev.3"), v(16, 0, 0));
        assert_eq!(Version::parse("18.1"), v(18, 1, 0));
        assert_eq!(Version::parse("lab"), None);
        assert_eq!(Version::parse("1.2.3.4"), None);
    }

    #[test]
    fn versions_order_by_number_not_text() {
        assert!(Version::new(17, 10, 0) > Version::new(17, 9, 5));
        assert!(Version::new(9, 0, 0) < Version::new(10, 0, 0));
        assert_eq!(Version::new(18, 1, 0).to_string(), "18.1.0");
    }
}
