//! The tbot log doctor: reads tbot, auth, journalctl and ssh/tsh logs as streams, finds the lines
//! that match known incident signatures, and groups them into findings with cause and exact fix.
//!
//! ```
//! use mwi_diag::doctor::Doctor;
//! let mut doctor = Doctor::new();
//! let log = "ERROR: renewable cert generation mismatch: stored=3, presented=2\n";
//! doctor.feed_reader("tbot.log", log.as_bytes()).unwrap();
//! let report = doctor.finish();
//! assert_eq!(report.findings[0].incident.id(), "S1");
//! assert_eq!(report.exit_code(), 1);
//! ```

mod advice;
mod bound_keypair;
mod correlate;
mod input;
mod line;
mod render;
mod scan;
mod signal;

pub use advice::DISCOVERED_NAME_LABEL;
pub use line::LineFormat;
pub use signal::SIGNATURES;

use aho_corasick::AhoCorasick;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::LazyLock;

/// The buffer each source is read through; the scan holds nothing else that grows with input.
const DEFAULT_BUFFER: usize = 1 << 20;

/// Built once per process: building the automaton costs more than scanning a small log.
static SEARCHER: LazyLock<AhoCorasick> = LazyLock::new(|| scan::build_searcher(&SIGNATURES));
const LONGEST_SIGNATURE: usize = {
    let mut longest = 0;
    let mut i = 0;
    while i < SIGNATURES.len() {
        if SIGNATURES[i].len() > longest {
            longest = SIGNATURES[i].len();
        }
        i += 1;
    }
    longest
};

/// Errors reading a log source. Each renders as one line naming the source.
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    #[error("cannot open {path}: {error} (give a readable log file, or - for standard input)")]
    Open {
        path: String,
        #[source]
        error: std::io::Error,
    },
    #[error(
        "cannot read {source_name}: {error} (give a readable log file, or - for standard input)"
    )]
    Read {
        source_name: String,
        #[source]
        error: std::io::Error,
    },
    #[error(
        "cannot read {source_name}: it is {format}-compressed; decompress it first: {tool} {source_name} | mwictl doctor -"
    )]
    Compressed {
        source_name: String,
        format: &'static str,
        tool: &'static str,
    },
    #[error(
        "cannot read {source_name}: it is binary, not a log (a NUL byte at offset {offset}); give a text log (gzip-compressed logs are read as they are)"
    )]
    Binary { source_name: String, offset: u64 },
}

impl DoctorError {
    fn reading(source_name: &str, error: std::io::Error) -> DoctorError {
        let source_name = source_name.to_string();
        match input::binary_cause(&error) {
            Some(&input::Binary::Compressed { format, tool }) => DoctorError::Compressed {
                source_name,
                format,
                tool,
            },
            Some(&input::Binary::Nul { offset }) => DoctorError::Binary {
                source_name,
                offset,
            },
            None => DoctorError::Read { source_name, error },
        }
    }
}

/// A report on the sources that could be read, and the errors of those that could not (opened
/// or read in part): like grep, the doctor reports what it read and then says what it could not.
#[derive(Debug)]
pub struct Sources {
    pub report: Report,
    pub errors: Vec<DoctorError>,
}

/// Reads log sources one after the other and keeps what it needs to explain them.
pub struct Doctor {
    scanner: scan::Scanner,
    sources: Vec<Source>,
    collector: correlate::Collector,
    tbot: correlate::TbotContext,
    /// The bot the logs belong to, as the user said (`doctor --bot`).
    bot: Option<String>,
}

impl Default for Doctor {
    fn default() -> Self {
        Doctor::new()
    }
}

impl Doctor {
    pub fn new() -> Doctor {
        Doctor::with_buffer_capacity(DEFAULT_BUFFER)
    }

    /// A doctor reading through a buffer of `bytes` (at least a few hundred bytes are used).
    /// Lines longer than the buffer are read in pieces; the default of 1 MiB suits any log.
    pub fn with_buffer_capacity(bytes: usize) -> Doctor {
        Doctor {
            scanner: scan::Scanner::new(&SEARCHER, LONGEST_SIGNATURE, bytes),
            sources: Vec::new(),
            collector: correlate::Collector::default(),
            tbot: correlate::TbotContext::default(),
            bot: None,
        }
    }

    /// Says which bot the logs belong to: findings whose lines name no bot are about `bot` (its
    /// name goes into the fix commands and live checks); a finding whose lines name another bot
    /// keeps that name and says so in its `note`.
    pub fn assume_bot(&mut self, bot: Option<&str>) {
        self.bot = bot.map(str::to_string);
    }

    /// Reads one source to its end. `name` is how evidence refers to it (a path, or `-`).
    /// Any `Read` works; gzip-compressed input is decompressed as it is read, and other binary
    /// input (other compression, NUL bytes) is refused. A source that fails part way is still
    /// listed, so what was read of it keeps its name.
    pub fn feed_reader(&mut self, name: &str, reader: impl Read) -> Result<(), DoctorError> {
        let index = self.sources.len();
        let collector = &mut self.collector;
        let tbot = &mut self.tbot;
        let scanner = &self.scanner;
        let mut matched = 0u64;
        let scanned = input::text_of(reader).and_then(|text| {
            scanner.scan(
                text,
                |chunk| tbot.look(chunk),
                |line, bytes| {
                    matched += 1;
                    let checks = signal::checks_for(scanner.patterns_in(bytes));
                    collector.observe(index, line, bytes, checks);
                },
            )
        });
        let stats = scanned.as_ref().copied().unwrap_or_default();
        self.sources.push(Source {
            name: name.to_string(),
            lines: stats.lines,
            bytes: stats.bytes,
            matched_lines: matched,
        });
        scanned
            .map(|_| ())
            .map_err(|error| DoctorError::reading(name, error))
    }

    /// Reads the log sources `names` (`-`, or no name at all, is `stdin`) into a report. Every
    /// file is opened before any is read, so a wrong path shows at once; the sources that open
    /// are read all the same, and the report covers them (see [`Sources`]).
    /// `bot` is the bot the logs belong to, if the user said (see [`Doctor::assume_bot`]).
    pub fn read_sources(names: &[String], stdin: impl Read, bot: Option<&str>) -> Sources {
        let stdin_only = ["-".to_string()];
        let names = if names.is_empty() {
            &stdin_only[..]
        } else {
            names
        };
        let mut errors = Vec::new();
        let mut files = Vec::new();
        for name in names {
            match name.as_str() {
                "-" => files.push((name, None)),
                path => match std::fs::File::open(path) {
                    Ok(file) => files.push((name, Some(file))),
                    Err(error) => errors.push(DoctorError::Open {
                        path: path.to_string(),
                        error,
                    }),
                },
            }
        }
        let mut doctor = Doctor::new();
        doctor.assume_bot(bot);
        let mut stdin = Some(stdin);
        for (name, file) in files {
            let read = match file {
                Some(file) => doctor.feed_reader(name, file),
                None => match stdin.take() {
                    Some(stdin) => doctor.feed_reader("-", stdin),
                    None => Ok(()),
                },
            };
            errors.extend(read.err());
        }
        Sources {
            report: doctor.finish(),
            errors,
        }
    }

    /// Groups everything seen into findings.
    pub fn finish(self) -> Report {
        let findings = correlate::findings(
            self.collector,
            &self.sources,
            self.bot.as_deref(),
            self.tbot.seen(),
        );
        Report {
            schema: REPORT_SCHEMA.to_string(),
            sources: self.sources,
            findings,
        }
    }
}

/// The `schema` value of the JSON report; it changes only when a field changes meaning.
pub const REPORT_SCHEMA: &str = "mwictl.doctor/v1";

/// What the doctor found in all sources.
///
/// The JSON form (`serde_json::to_string(&report)`) is stable within one `schema` value:
///
/// ```json
/// {
///   "schema": "mwictl.doctor/v1",
///   "sources": [{"name": "tbot.log", "lines": 120, "bytes": 9000, "matched_lines": 3}],
///   "findings": [{
///     "incident": "S1",               // S1..S12, or a named other: bot-locked, access-denied,
///                                     // rbac-denied, join-token-invalid, legacy-reissue,
///                                     // renewal-gave-up, missing-identity-groups, cert-ip-sans,
///                                     // bk-rotation-refused, join-method-mismatch
///     "title": "...",
///     "confidence": "high",           // or "low": the lines look like the incident but the
///                                     // input lacks what proves it (S3 without any tbot in
///                                     // the input); `note` names what is missing
///     "bot": "example",               // or null when no line (and no --bot) names the bot
///     "note": "...",                  // when the lines name another bot than --bot, or why
///                                     // the confidence is low
///     "variant": "...",               // which Teleport release family wrote it, or null
///     "facts": {"stored": "3", "presented": "2"},   // incident-specific names and values
///     "evidence": [{"source": "tbot.log", "line": 17, "text": "...", "message": null,
///                   "format": "text", "also_at": [306], "repeats": 1}],
///     "occurrences": 2,               // matching lines, including repeats not listed
///     "cause": "...",
///     "fix": {"mwictl": "mwictl recover ...", "tctl": ["tctl get locks", "..."], "then": "..."},
///     "live_check": {"kind": "lock_for_bot", "bot": "example"},   // or null
///     "live": {"current": true, "detail": "..."}                   // null unless answered
///   }]
/// }
/// ```
///
/// The command exits 1 when `findings` holds a finding of high confidence, 0 when it holds none
/// (no finding, or only low-confidence notes), and 2 when a source could not be read (see
/// [`Report::exit_code`] and [`DoctorError`]). Text shows a low-confidence finding with
/// `(low confidence)` after its title and the missing context as its `note:`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub sources: Vec<Source>,
    pub findings: Vec<Finding>,
}

impl Report {
    /// 1 when there is a finding of high confidence, 0 when there is none (low-confidence
    /// findings are notes: shown, but they do not fail the run).
    pub fn exit_code(&self) -> i32 {
        i32::from(
            self.findings
                .iter()
                .any(|f| f.confidence == Confidence::High),
        )
    }

    /// Asks `answer` about every finding that has a live check, and records the answers.
    pub fn answer_live_checks(&mut self, mut answer: impl FnMut(&LiveCheck) -> LiveAnswer) {
        for finding in &mut self.findings {
            if let Some(check) = &finding.live_check {
                finding.live = Some(answer(check));
            }
        }
    }

    /// The report for people: one block per finding, then a summary line. `color` adds ANSI colors.
    pub fn render_text(&self, w: &mut impl std::io::Write, color: bool) -> std::io::Result<()> {
        render::render(self, w, color)
    }
}

/// One log source that was read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Source {
    pub name: String,
    pub lines: u64,
    pub bytes: u64,
    /// Lines that held a signature and were parsed.
    pub matched_lines: u64,
}

/// One incident: the lines that show it, its cause and the fix.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    pub incident: Incident,
    pub title: String,
    /// How sure the doctor is that this is the incident (reports before this field read as high).
    #[serde(default)]
    pub confidence: Confidence,
    pub bot: Option<String>,
    /// Set when the lines name a bot other than the one `--bot` gave, or, for a low-confidence
    /// finding, to say what the input lacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub variant: Option<String>,
    pub facts: BTreeMap<String, String>,
    pub evidence: Vec<Evidence>,
    pub occurrences: u64,
    pub cause: String,
    pub fix: Fix,
    pub live_check: Option<LiveCheck>,
    pub live: Option<LiveAnswer>,
}

/// How sure the doctor is that a finding is its incident.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// The lines and their context show the incident.
    #[default]
    High,
    /// The lines look like the incident, but what would prove it is missing from the input
    /// (the finding's `note` says what); such a finding does not fail the run.
    Low,
}

/// A log line that shows an incident.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evidence {
    pub source: String,
    /// 1-based line number in the source.
    pub line: u64,
    /// The line as written (cut at 1024 bytes).
    pub text: String,
    /// For JSON lines, the same as one readable line: `LEVEL [component] message key=value ...`.
    pub message: Option<String>,
    pub format: LineFormat,
    /// Further lines with the same message (up to 8 listed).
    pub also_at: Vec<u64>,
    /// How many further lines had the same message, listed or not.
    pub repeats: u64,
}

/// How to fix an incident: the mwictl command, the tctl equivalent, and what to do after.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Fix {
    pub mwictl: Option<String>,
    pub tctl: Vec<String>,
    pub then: Option<String>,
}

/// What a finding is about: one of the product's incidents (see [`crate::incident`]), or another
/// problem the doctor knows by name. Text and JSON show the product incident's id (`S1`) or the other's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Incident {
    Product(crate::incident::Incident),
    Other(Other),
}

/// The problems the doctor knows besides the product's incidents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Other {
    BotLocked,
    AccessDenied,
    RbacDenied,
    JoinTokenInvalid,
    LegacyReissue,
    RenewalGaveUp,
    MissingIdentityGroups,
    CertIpSans,
    /// A bound-keypair rotation refused: the bot answered with its old key (a static key).
    BkRotationRefused,
    /// tbot asked for another join method than the token's.
    JoinMethodMismatch,
}

impl Incident {
    /// True for the bound-keypair incidents S8–S12.
    pub fn is_bound_keypair(self) -> bool {
        matches!(self, Incident::Product(p) if p.is_bound_keypair())
    }

    /// The id used in text and JSON output: `S1`..`S12` or the named other's name.
    pub fn id(self) -> &'static str {
        match self {
            Incident::Product(incident) => incident.id(),
            Incident::Other(other) => other.name(),
        }
    }
}

impl Other {
    /// The name used in text and JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Other::BotLocked => "bot-locked",
            Other::AccessDenied => "access-denied",
            Other::RbacDenied => "rbac-denied",
            Other::JoinTokenInvalid => "join-token-invalid",
            Other::LegacyReissue => "legacy-reissue",
            Other::RenewalGaveUp => "renewal-gave-up",
            Other::MissingIdentityGroups => "missing-identity-groups",
            Other::CertIpSans => "cert-ip-sans",
            Other::BkRotationRefused => "bk-rotation-refused",
            Other::JoinMethodMismatch => "join-method-mismatch",
        }
    }
}

/// What `mwictl doctor --live` should ask the auth service to tell whether an incident is still
/// current. Bot names come from the evidence (`bot-example` → `example`); `None` when no line
/// named the bot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LiveCheck {
    /// Is a lock in force that targets the bot (its user, one of its instances or join tokens)?
    LockForBot { bot: Option<String> },
    /// Has the bot no unexpired instance left (the identity expired and the token is spent)?
    InstanceExpired { bot: Option<String> },
    /// Do the bot's roles (and `logins` trait) still not grant this SSH login?
    LoginMissing {
        bot: Option<String>,
        login: Option<String>,
    },
    /// Do the bot's roles still lack `db_server`/`db` read+list or a grant for this database?
    RoleLacksDbAccess { bot: Option<String>, db: String },
    /// Do the bot's roles still lack a rule allowing `verb` on `resource`?
    RoleLacksRule {
        bot: Option<String>,
        verb: String,
        resource: String,
    },
    /// Does the bot (its user) have no roles?
    BotHasNoRoles { bot: Option<String> },
    /// Is the bound-keypair incident `incident` (S8–S12) still current? Answered from each
    /// token's mode, recovery count and limit, bound key and bot instance, and the locks on its
    /// bot (user, instances, join tokens). `tokens` are the join tokens the lines name; when they
    /// name none, the bot's bound_keypair tokens (for S12 without a bot: every one).
    BoundKeypair {
        incident: crate::incident::Incident,
        bot: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tokens: Vec<String>,
    },
}

/// The auth service's answer to a [`LiveCheck`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveAnswer {
    /// `Some(true)`: the incident is still current; `Some(false)`: it is resolved; `None`: unknown.
    pub current: Option<bool>,
    /// One line on what was checked, e.g. `lock 5cee949f-… targeting user: bot-example is in force`.
    pub detail: String,
}
