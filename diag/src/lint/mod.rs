//! The tbot.yaml linter: schema checks (keys at every level, types, v1 and deprecated keys) and
//! the rules behind incidents S1, S5, S6, S7 and S9, with surgical in-place fixes that keep comments.
//!
//! Each rule is one file under `rules/`, registered in [`rules::RULES`] with its id, severities,
//! incident and doc; `mwictl lint --help` and the README list them from there.
//!
//! The command exits 1 when any warning or error remains, 0 when only notes (info) or nothing,
//! and 2 when a file cannot be read ([`LintError`]).

mod check;
mod fix;
mod fs;
pub mod live;
mod release;
mod render;
pub mod rules;
mod schema;
pub mod target;
pub mod tbot_env;
mod v1;
mod walk;

pub use fs::network_fs_of;
pub use live::{BoundToken, LiveTokens};
pub use target::{Target, TargetSource};

use crate::incident::Incident;
use crate::yaml::{self, edit};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Errors that stop linting or fixing. Each renders as one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum LintError {
    #[error("cannot read {path}: {error} (give a readable tbot.yaml)")]
    Read {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("{path} is a directory; give the tbot.yaml files to check, e.g. {path}/tbot.yaml")]
    Directory { path: PathBuf },
    #[error(
        "{path} is larger than {limit} bytes (1 MiB), the most a tbot.yaml is read at; give the tbot configuration file"
    )]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("--fix cannot change standard input; give the file's path instead of -")]
    FixStdin,
    #[error("cannot write {path}: {error}; the file was left as it was")]
    Write {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("{path} changed since it was linted; run mwictl lint --fix again")]
    Changed { path: PathBuf },
    #[error(
        "the fixes for {path} would not give valid YAML ({reason}); the file was left as it was, fix it by hand"
    )]
    FixInvalid { path: PathBuf, reason: String },
}

/// What the linter needs from outside the files.
#[derive(Debug, Clone)]
pub struct LintOptions {
    /// tbot's environment, when the user gave it (`--env`, `--unit`); None: unknown, so what
    /// depends on it is said to be unchecked. mwictl's own environment is not tbot's.
    pub tbot_env: Option<tbot_env::TbotEnv>,
    /// Tells whether a path is on a network file system; [`network_fs_of`] by default.
    pub network_fs: fn(&Path) -> Option<String>,
    /// Lint runs on the bot's host (`--on-host`): the checks that read this machine (see
    /// [`HOST_CHECKS`]) run; otherwise each says, as a note, that it was not checked here.
    pub on_host: bool,
    /// Asks an address whether a Teleport proxy answers there (`/webapi/find`); used only
    /// `on_host`. None: no probe (the address is then taken as unknown).
    pub proxy_probe: Option<fn(&str) -> ProxyProbe>,
    /// The Teleport release the configs are judged against, and where it came from.
    pub target: Target,
    /// The cluster's bound_keypair tokens (`--live`); None: not asked, so the rules that need
    /// the token a config joins with say, as a note, that they were not checked.
    pub live: Option<LiveTokens>,
}

impl Default for LintOptions {
    /// tbot's environment unknown, not on the bot's host, the real file systems, no probe, and
    /// the default target release, the cluster not asked.
    fn default() -> Self {
        LintOptions {
            tbot_env: None,
            network_fs: network_fs_of,
            on_host: false,
            proxy_probe: None,
            target: Target::default(),
            live: None,
        }
    }
}

/// What answered at `https://ADDRESS/webapi/find`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyProbe {
    /// A Teleport proxy: what it said about itself (`cluster example.com, Teleport 17.4.2`).
    Proxy(String),
    /// Something answered that is not a Teleport proxy (what it was, e.g. `HTTP 404`).
    NotProxy(String),
    /// Nothing usable answered (the error: refused, timed out, not TLS, ...).
    NoAnswer(String),
}

/// The checks that read the machine lint runs on, with what they read; they run only with
/// `--on-host`, and `mwictl lint --help` lists them.
pub const HOST_CHECKS: &[(&str, &str)] = &[
    (
        "token-path-missing",
        "whether the file `onboarding.token` names exists",
    ),
    (
        "network-storage",
        "the file system type of the storage directory",
    ),
    (
        "auth-server-ssh-config",
        "whether a Teleport proxy answers at `auth_server` (`https://ADDRESS/webapi/find`)",
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    /// The lowercase word, as in the JSON report.
    pub fn word(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One problem in one file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LintFinding {
    pub rule: String,
    pub severity: Severity,
    /// The product incident this rule prevents (`S1`, `S5`, `S6`, `S7` in JSON), if any.
    pub incident: Option<Incident>,
    pub file: String,
    /// 1-based line and column (in characters).
    pub line: usize,
    pub column: usize,
    /// The key the finding is about, as a path: `services[1].disable_exec_plugin`.
    pub key: String,
    pub message: String,
    /// How to fix it, for a person.
    pub fix: Option<String>,
    /// `mwictl lint --fix` fixes it.
    pub fixable: bool,
}

/// The findings of one file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileReport {
    pub path: String,
    pub findings: Vec<LintFinding>,
    #[serde(skip)]
    source: String,
    #[serde(skip)]
    edits: Vec<edit::Edit>,
    #[serde(skip)]
    storage: Option<check::StorageUse>,
}

impl FileReport {
    /// The file's text after the safe fixes, or None when nothing is fixable.
    pub fn fixed_text(&self) -> Option<String> {
        (!self.edits.is_empty()).then(|| edit::apply(&self.source, &self.edits))
    }
}

/// Counts over all files.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    pub fixable: usize,
}

/// The `schema` value of the JSON report.
pub const REPORT_SCHEMA: &str = "mwictl.lint/v1";

/// The findings of all files linted together.
///
/// JSON form (stable within one `schema` value):
///
/// ```json
/// {
///   "schema": "mwictl.lint/v1",
///   "target": {"version": "18.0.0", "source": "default", "from": ""},
///   "files": [{"path": "tbot.yaml", "findings": [{
///       "rule": "kube-secret-exec-plugin", "severity": "error", "incident": "S5",
///       "file": "tbot.yaml", "line": 12, "column": 5, "key": "services[1]",
///       "message": "...", "fix": "...", "fixable": true}]}],
///   "summary": {"errors": 1, "warnings": 0, "infos": 0, "fixable": 1},
///   "fixes": [{"path": "tbot.yaml", "backup_path": "tbot.yaml.bak", "diff": "...", "rules": ["kube-secret-exec-plugin"]}]
/// }
/// ```
/// `target` is the Teleport release the files were judged against: `source` is one of `flag`
/// (`--teleport-version`), `cluster` (`--live`), `tbot` (`--tbot`), `tbotonpath` (a `tbot`
/// found on PATH) or `default` (the oldest supported release); `from` names the flag's value,
/// the cluster or the binary; an optional `note` says why a higher source was not used. Reports
/// written before it was added read as the default target.
/// `fixes` is filled by the caller after [`apply_fixes`]; it is empty otherwise.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LintReport {
    pub schema: String,
    #[serde(default)]
    pub target: Target,
    pub files: Vec<FileReport>,
    pub summary: Summary,
    pub fixes: Vec<FixOutcome>,
}

impl LintReport {
    /// 1 when any warning or error remains, else 0.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.summary.errors + self.summary.warnings > 0)
    }

    /// The report for people, one line per finding (`file:line:col: severity[rule] message`)
    /// with the fix under it, then a summary. `color` adds ANSI colors.
    pub fn render_text(&self, w: &mut impl std::io::Write, color: bool) -> std::io::Result<()> {
        render::render(self, w, color)
    }

    /// A report over files linted separately (e.g. with [`lint_source`]), sorted and counted,
    /// for the default target (set `target` when they were linted for another).
    pub fn new(mut files: Vec<FileReport>) -> LintReport {
        let mut summary = Summary::default();
        for file in &mut files {
            file.findings
                .sort_by_key(|f| (f.line, f.column, std::cmp::Reverse(f.severity)));
            for finding in &file.findings {
                match finding.severity {
                    Severity::Error => summary.errors += 1,
                    Severity::Warning => summary.warnings += 1,
                    Severity::Info => summary.infos += 1,
                }
                summary.fixable += usize::from(finding.fixable);
            }
        }
        LintReport {
            schema: REPORT_SCHEMA.to_string(),
            target: Target::default(),
            files,
            summary,
            fixes: Vec::new(),
        }
    }
}

/// What `--fix` did to one file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FixOutcome {
    pub path: String,
    /// A unified diff of the change.
    pub diff: String,
    /// The copy of the file as it was.
    pub backup_path: String,
    /// The rules whose findings were fixed.
    pub rules: Vec<String>,
}

/// Lints one text (the file is not read; `name` labels findings and is the base for relative
/// paths in it). Cross-file rules need [`lint_paths`].
pub fn lint_source(name: &str, text: &str, options: &LintOptions) -> FileReport {
    let base = Path::new(name).parent().map(Path::to_path_buf);
    check::lint(name, text, base.as_deref(), options)
}

/// Lints the files together: each alone, then the rules across files (a storage directory used
/// by several configs).
pub fn lint_paths(
    paths: &[impl AsRef<Path>],
    options: &LintOptions,
) -> Result<LintReport, LintError> {
    let mut files = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let bytes = read_config(path)?;
        let name = path.display().to_string();
        let report = match String::from_utf8(bytes) {
            Ok(text) => lint_source(&name, &text, options),
            Err(e) => check::not_utf8(&name, e.as_bytes(), e.utf8_error().valid_up_to()),
        };
        files.push(report);
    }
    rules::shared_storage::check(&mut files);
    let mut report = LintReport::new(files);
    report.target = options.target.clone();
    Ok(report)
}

/// The most of one tbot.yaml that is read: real ones are a few KiB, and a file far larger is not
/// a tbot configuration (checking it would take seconds and gigabytes).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The bytes of the config at `path` (`-`: standard input), refusing directories and anything
/// over [`MAX_CONFIG_BYTES`] before reading it whole.
fn read_config(path: &Path) -> Result<Vec<u8>, LintError> {
    use std::io::Read;
    let read_error = |error| LintError::Read {
        path: path.to_path_buf(),
        error,
    };
    let too_large = || LintError::TooLarge {
        path: path.to_path_buf(),
        limit: MAX_CONFIG_BYTES,
    };
    let mut bytes = Vec::new();
    let read = if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .take(MAX_CONFIG_BYTES + 1)
            .read_to_end(&mut bytes)
    } else {
        let file = std::fs::File::open(path).map_err(read_error)?;
        let metadata = file.metadata().map_err(read_error)?;
        if metadata.is_dir() {
            return Err(LintError::Directory {
                path: path.to_path_buf(),
            });
        }
        if metadata.len() > MAX_CONFIG_BYTES {
            return Err(too_large());
        }
        // A file that grows while it is read (or a device) stops at the limit too.
        file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes)
    };
    read.map_err(read_error)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// tbot's default config path, linted when no path is given.
pub const DEFAULT_TBOT_CONFIG: &str = "/etc/tbot.yaml";

/// What `mwictl lint` does: lints `paths` together (none means [`DEFAULT_TBOT_CONFIG`]); with
/// `fix`, applies the safe fixes and lints again, so the report shows the fixes (diff and backup)
/// and what remains.
pub fn lint_and_fix(
    paths: &[PathBuf],
    fix: bool,
    options: &LintOptions,
) -> Result<LintReport, LintError> {
    let default = [PathBuf::from(DEFAULT_TBOT_CONFIG)];
    let paths = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    if fix && paths.iter().any(|p| p == Path::new("-")) {
        return Err(LintError::FixStdin);
    }
    let mut report = lint_paths(paths, options)?;
    if fix {
        let fixes = apply_fixes(&report)?;
        if !fixes.is_empty() {
            report = lint_paths(paths, options)?;
        }
        report.fixes = fixes;
    }
    Ok(report)
}

/// Applies the safe fixes of every file in `report`: each file is checked to be unchanged since
/// it was linted, then rewritten by the durable writer (atomic, same mode and owner) after a
/// backup `PATH.bak` (or `PATH.bak.N`) is written. Lint again afterwards for the remaining
/// findings and the exit status; [`lint_and_fix`] does both.
pub fn apply_fixes(report: &LintReport) -> Result<Vec<FixOutcome>, LintError> {
    let mut outcomes = Vec::new();
    for file in &report.files {
        let Some(fixed) = file.fixed_text() else {
            continue;
        };
        let path = PathBuf::from(&file.path);
        if let Err(e) = yaml::parse(&fixed) {
            return Err(LintError::FixInvalid {
                path,
                reason: e.message,
            });
        }
        let backup = fix::write_atomically(&path, file.source.as_bytes(), fixed.as_bytes())?;
        let mut rules: Vec<String> = file
            .findings
            .iter()
            .filter(|f| f.fixable)
            .map(|f| f.rule.clone())
            .collect();
        rules.dedup();
        outcomes.push(FixOutcome {
            path: file.path.clone(),
            diff: fix::diff(&file.path, &file.source, &fixed),
            backup_path: backup.display().to_string(),
            rules,
        });
    }
    Ok(outcomes)
}
