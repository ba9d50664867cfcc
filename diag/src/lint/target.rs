//! The Teleport release a lint run judges configs against, and where it came from
//! (`--teleport-version`, the cluster's Ping, a tbot binary's `version`, or the default).

use crate::tbot_release::OLDEST_SUPPORTED;
use mwi_identity::Version;
use serde::{Deserialize, Serialize};

/// The release configs are judged against: which keys and forms tbot accepts, and which
/// deprecations it has already removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// As given: `17` stands for the newest 17.x, `17.4` for the newest 17.4.x.
    #[serde(rename = "version", with = "release_text")]
    pub release: Release,
    pub source: TargetSource,
    /// What the source named: the flag's value, the cluster's name, the tbot binary's path;
    /// empty for the default.
    #[serde(default)]
    pub from: String,
    /// Why a source higher in the precedence was not used (a cluster reporting a placeholder
    /// version, a tbot on PATH that did not run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A release or a line of releases: `17` (every 17.x), `17.4` (every 17.4.x) or `17.4.2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    pub version: Version,
    /// How many of MAJOR.MINOR.PATCH were given (1 to 3); the missing ones mean the newest.
    pub parts: u8,
}

impl Release {
    pub const fn exact(version: Version) -> Release {
        Release { version, parts: 3 }
    }

    pub const fn line(major: u64) -> Release {
        Release {
            version: Version::new(major, 0, 0),
            parts: 1,
        }
    }

    /// The newest version the release stands for (a line's missing parts as large as can be).
    fn newest(self) -> Version {
        let v = self.version;
        match self.parts {
            1 => Version::new(v.major, u64::MAX, u64::MAX),
            2 => Version::new(v.major, v.minor, u64::MAX),
            _ => v,
        }
    }

    /// Whether a change that came in `since` (the first release of each line that has it,
    /// ascending, as in [`crate::tbot_release`]) is in this release: its line's entry is at or
    /// below it, or, for a line with no entry, an older line has one.
    pub fn has(self, since: &[Version]) -> bool {
        let newest = self.newest();
        match since.iter().find(|s| s.major == newest.major) {
            Some(first) => newest >= *first,
            None => since.first().is_some_and(|s| s.major < newest.major),
        }
    }
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.version;
        match self.parts {
            1 => write!(f, "{}.x", v.major),
            2 => write!(f, "{}.{}.x", v.major, v.minor),
            _ => write!(f, "{v}"),
        }
    }
}

/// Where the target came from, in order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetSource {
    /// `--teleport-version`.
    Flag,
    /// The cluster's version, from a Ping (`--live`).
    Cluster,
    /// `tbot version` of the binary given with `--tbot`.
    Tbot,
    /// `tbot version` of the `tbot` found on PATH.
    TbotOnPath,
    /// [`OLDEST_SUPPORTED`].
    Default,
}

impl Default for Target {
    /// The oldest supported release, with no note.
    fn default() -> Self {
        Target {
            release: OLDEST_SUPPORTED,
            source: TargetSource::Default,
            from: String::new(),
            note: None,
        }
    }
}

impl Target {
    pub fn new(release: Release, source: TargetSource, from: impl Into<String>) -> Target {
        Target {
            release,
            source,
            from: from.into(),
            note: None,
        }
    }

    /// The default target, saying why the sources above it were not used.
    pub fn default_because(note: impl Into<String>) -> Target {
        Target {
            note: Some(note.into()),
            ..Target::default()
        }
    }

    /// Whether the target has a change that came in `since` (see [`Release::has`]).
    pub fn has(&self, since: &[Version]) -> bool {
        self.release.has(since)
    }

    /// One line for the text report: the release and why it was chosen.
    pub fn describe(&self) -> String {
        let why = match self.source {
            TargetSource::Flag => format!("from --teleport-version {}", self.from),
            TargetSource::Cluster => format!("the version of cluster {}, from --live", self.from),
            TargetSource::Tbot => format!("from `{} version`", self.from),
            TargetSource::TbotOnPath => {
                format!("from `{} version`, the tbot found on PATH", self.from)
            }
            TargetSource::Default => "the oldest supported major, by default; set it with --teleport-version, --live or --tbot".to_string(),
        };
        match &self.note {
            Some(note) => format!("Checked for Teleport {} ({why}; {note}).", self.release),
            None => format!("Checked for Teleport {} ({why}).", self.release),
        }
    }
}

/// The release a user wrote (`17`, `17.4`, `17.4.2`, with or without a leading `v`), or None when it
/// is not of that form.
pub fn parse_release(text: &str) -> Option<Release> {
    let text = text.trim();
    let core = text.strip_prefix('v').unwrap_or(text);
    let parts: Vec<&str> = core.split('.').collect();
    let digits = |p: &&str| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit());
    if parts.len() > 3 || !parts.iter().all(digits) {
        return None;
    }
    let version = Version::parse(core).filter(|v| v.major > 0)?;
    Some(Release {
        version,
        parts: parts.len() as u8,
    })
}

/// The release in `tbot version` output (`Teleport v17.4.2 git:v17.4.2-0-g1234abc go1.23.4`,
/// or `Teleport Enterprise v17.4.2 ...`), or None when no line names one. Development builds
/// report `v0.0.0-dev`-like versions, which are no release and give None too.
pub fn parse_tbot_version(output: &str) -> Option<Version> {
    output.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        if words.next() != Some("Teleport") {
            return None;
        }
        let version = words
            .take(2)
            .find(|w| w.starts_with('v'))
            .and_then(Version::parse)?;
        (version.major > 0).then_some(version)
    })
}

/// The version a cluster reported in Ping, when it names a release (`17.4.2`, `v18.0.0+lab`);
/// None for placeholders such as `0.0.0-dev` or an empty string.
pub fn cluster_release(reported: &str) -> Option<Version> {
    Version::parse(reported).filter(|v| v.major > 0)
}

/// A release in JSON as written: `17`, `17.4` or `17.4.2`.
mod release_text {
    use super::{Release, parse_release};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(release: &Release, s: S) -> Result<S::Ok, S::Error> {
        let v = release.version;
        match release.parts {
            1 => s.collect_str(&v.major),
            2 => s.collect_str(&format_args!("{}.{}", v.major, v.minor)),
            _ => s.collect_str(&v),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Release, D::Error> {
        let text = String::deserialize(d)?;
        parse_release(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not a release: {text}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: u64, minor: u64, patch: u64) -> Version {
        Version::new(major, minor, patch)
    }

    #[test]
    fn releases_are_one_to_three_numbers() {
        let release = |text| parse_release(text).map(|r| (r.version, r.parts));
        assert_eq!(release("17"), Some((v(17, 0, 0), 1)));
        assert_eq!(release("v17.4"), Some((v(17, 4, 0), 2)));
        assert_eq!(release("17.4.2"), Some((v(17, 4, 2), 3)));
        for bad in [
            "",
            "x",
            "17.",
            "17.4.2.1",
            "17.x",
            "0",
            "-1",
            "17.4.2-dev",
            "1234567",
        ] {
            assert_eq!(parse_release(bad), None, "{bad}");
        }
        assert_eq!(
            parse_release("17").map(|r| r.to_string()).as_deref(),
            Some("17.x")
        );
        assert_eq!(
            parse_release("17.4").map(|r| r.to_string()).as_deref(),
            Some("17.4.x")
        );
    }

    #[test]
    fn a_line_has_what_any_of_its_releases_got() {
        let since = [v(15, 4, 7), v(16, 0, 4), v(17, 0, 0)];
        let has = |text| parse_release(text).expect("release").has(&since);
        assert!(!has("14.3.0") && !has("14"));
        assert!(!has("15.4.6") && has("15.4.7") && has("15") && has("15.4"));
        assert!(!has("15.3"));
        assert!(!has("16.0.3") && has("16.0.4") && has("16.0") && has("16.1.0"));
        assert!(has("17.0.0") && has("19"));
        assert!(!Release::exact(v(16, 0, 0)).has(&since));
        assert!(!Release::line(18).has(&[v(19, 0, 0)]));
        assert!(Release::line(19).has(&[v(19, 0, 0)]));
        assert!(!Release::line(19).has(&[]));
    }

    #[test]
    fn tbot_version_output_names_the_release() {
        let out = "Teleport v17.4.2 git:v17.4.2-0-g1234abc go1.23.4\n";
        assert_eq!(parse_tbot_version(out), Some(v(17, 4, 2)));
        let with_banner = "some warning\nTeleport v18.1.0 git: go1.24\n";
        assert_eq!(parse_tbot_version(with_banner), Some(v(18, 1, 0)));
        assert_eq!(
            parse_tbot_version("Teleport Enterprise v17.7.5 git:v17.7.5-0-g1 go1.24"),
            Some(v(17, 7, 5))
        );
        assert_eq!(parse_tbot_version("Teleport v0.0.0-dev git: go1.24"), None);
        assert_eq!(parse_tbot_version("Teleport is great"), None);
        assert_eq!(parse_tbot_version("tbot: command not found"), None);
        assert_eq!(parse_tbot_version(""), None);
    }

    #[test]
    fn placeholder_cluster_versions_are_no_release() {
        assert_eq!(cluster_release("18.0.0+lab"), Some(v(18, 0, 0)));
        assert_eq!(cluster_release("0.0.0-dev"), None);
        assert_eq!(cluster_release(""), None);
        assert_eq!(cluster_release("lab"), None);
    }

    #[test]
    fn the_line_says_the_release_and_why() {
        let flag = Target::new(Release::line(16), TargetSource::Flag, "16");
        assert_eq!(
            flag.describe(),
            "Checked for Teleport 16.x (from --teleport-version 16)."
        );
        let fallback = Target::default_because("cluster c reported `0.0.0-dev`, not a release");
        assert!(
            fallback.describe().contains("by default"),
            "{}",
            fallback.describe()
        );
        assert!(
            fallback
                .describe()
                .ends_with("reported `0.0.0-dev`, not a release).")
        );
    }

    #[test]
    fn json_carries_version_source_and_note() {
        let target = Target::new(
            Release::exact(v(17, 4, 2)),
            TargetSource::Tbot,
            "/usr/bin/tbot",
        );
        let json = serde_json::to_value(&target).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"version": "17.4.2", "source": "tbot", "from": "/usr/bin/tbot"})
        );
        let back: Target = serde_json::from_value(json).expect("back");
        assert_eq!(back, target);
        let line = serde_json::to_value(Target::default_because("n")).expect("json");
        assert_eq!(
            line["version"],
            OLDEST_SUPPORTED.to_string().trim_end_matches(".x")
        );
        assert_eq!(line["source"], "default");
        assert_eq!(line["note"], "n");
    }
}
