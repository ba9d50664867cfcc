//! The command functions behind `mwictl doctor` and `mwictl lint`: open the inputs, run the
//! library, render text or JSON, and return the exit status. The CLI only parses flags.
//!
//! Exit statuses ([`ExitStatus`]): 0 nothing found, 1 findings (for lint: any warning or error),
//! 2 bad input (an unreadable file: [`CommandError`] renders as one line naming the path).

use crate::doctor::{Doctor, DoctorError, LiveAnswer, LiveCheck};
use crate::lint::{self, LintError, LintOptions};
use std::io::{self, Read, Write};
use std::path::PathBuf;

/// tbot's default config path, linted when no path is given.
pub const DEFAULT_TBOT_CONFIG: &str = "/etc/tbot.yaml";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

/// The documented exit statuses of `mwictl doctor` and `mwictl lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Nothing found.
    Clean,
    /// Findings (doctor: any; lint: a warning or an error).
    Findings,
    /// An input could not be read, or the output could not be written.
    BadInput,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Clean => 0,
            ExitStatus::Findings => 1,
            ExitStatus::BadInput => 2,
        }
    }

    fn from_code(code: i32) -> ExitStatus {
        if code == 0 {
            ExitStatus::Clean
        } else {
            ExitStatus::Findings
        }
    }
}

/// Why a command could not run; always [`ExitStatus::BadInput`].
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Doctor(#[from] DoctorError),
    #[error(transparent)]
    Lint(#[from] LintError),
    #[error("cannot open {path}: {error} (give a readable log file, or - for standard input)")]
    Open {
        path: String,
        #[source]
        error: io::Error,
    },
    #[error("cannot write the report: {0}")]
    Output(#[source] io::Error),
}

impl CommandError {
    pub fn exit_status(&self) -> ExitStatus {
        ExitStatus::BadInput
    }
}

/// `mwictl doctor [FILE|-]... [--format json] [--live]`.
#[derive(Debug, Clone, Default)]
pub struct DoctorArgs {
    /// Log files; `-` (or none at all) reads standard input.
    pub inputs: Vec<String>,
    pub format: OutputFormat,
    pub color: bool,
}

/// Runs the doctor over `args.inputs` (`stdin` for `-`), answers live checks with `live` when
/// given (`--live`), and writes the report to `out`.
pub fn doctor(
    args: &DoctorArgs,
    stdin: impl Read,
    out: &mut impl Write,
    live: Option<&mut dyn FnMut(&LiveCheck) -> LiveAnswer>,
) -> Result<ExitStatus, CommandError> {
    let names: Vec<&str> = if args.inputs.is_empty() {
        vec!["-"]
    } else {
        args.inputs.iter().map(String::as_str).collect()
    };
    // Open everything first, so a wrong path fails before minutes of reading.
    let mut files = Vec::new();
    for name in &names {
        if *name == "-" {
            files.push(None);
        } else {
            let file = std::fs::File::open(name).map_err(|error| CommandError::Open {
                path: name.to_string(),
                error,
            })?;
            files.push(Some(file));
        }
    }
    let mut doctor = Doctor::new();
    let mut stdin = Some(stdin);
    for (name, file) in names.iter().zip(files) {
        match file {
            Some(file) => doctor.feed_reader(name, file)?,
            None => {
                if let Some(stdin) = stdin.take() {
                    doctor.feed_reader("-", stdin)?;
                }
            }
        }
    }
    let mut report = doctor.finish();
    if let Some(live) = live {
        report.answer_live_checks(live);
    }
    match args.format {
        OutputFormat::Text => report.render_text(out, args.color),
        OutputFormat::Json => write_json(out, &report),
    }
    .map_err(CommandError::Output)?;
    Ok(ExitStatus::from_code(report.exit_code()))
}

/// `mwictl lint PATH... [--fix] [--format json]`.
#[derive(Debug, Clone, Default)]
pub struct LintArgs {
    /// Configs linted together; none means [`DEFAULT_TBOT_CONFIG`].
    pub paths: Vec<PathBuf>,
    pub fix: bool,
    pub format: OutputFormat,
    pub color: bool,
    /// `TBOT_USE_PROXY_ADDR` and the file-system probe; `LintOptions::default()` reads the
    /// process environment.
    pub options: LintOptions,
}

/// Lints `args.paths`; with `fix`, applies the safe fixes (diff and backup path in the report),
/// then lints again so the report and the status show what remains.
pub fn lint(args: &LintArgs, out: &mut impl Write) -> Result<ExitStatus, CommandError> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(DEFAULT_TBOT_CONFIG)]
    } else {
        args.paths.clone()
    };
    let mut report = lint::lint_paths(&paths, &args.options)?;
    if args.fix {
        let fixes = lint::apply_fixes(&report)?;
        if !fixes.is_empty() {
            report = lint::lint_paths(&paths, &args.options)?;
        }
        report.fixes = fixes;
    }
    match args.format {
        OutputFormat::Text => report.render_text(out, args.color),
        OutputFormat::Json => write_json(out, &report),
    }
    .map_err(CommandError::Output)?;
    Ok(ExitStatus::from_code(report.exit_code()))
}

fn write_json(out: &mut impl Write, value: &impl serde::Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(io::Error::other)?;
    writeln!(out)
}
