//! `mwictl doctor [FILE|-]...`: reads tbot, auth, journalctl and ssh/tsh logs and names the
//! incident, its evidence, its cause and the exact fix.

use std::io::IsTerminal;

use mwi_diag::doctor::{Doctor, LiveAnswer, LiveCheck, Sources};

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::output::Output;

/// Diagnose tbot from its logs: name the incident (S1–S7 or another), show the evidence lines,
/// explain the cause and print the exact fix (the mwictl command and the tctl equivalent).
///
/// Reads tbot's text and JSON logs, journalctl output, auth service logs and ssh/tsh output, in
/// any mix and any size (streamed), plain or gzip-compressed (rotated logs); other binary input
/// is refused. Related lines collapse into one finding. A finding the input cannot prove (an SSH
/// refusal with no tbot in the input: S3 is a bot's incident) is a low-confidence note. Exit 0
/// when nothing is found (or only notes), 1 when there are findings, 2 when an input cannot be
/// read (the report covers the others).
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Log files to read; `-` or none reads standard input.
    #[arg(value_name = "FILE|-")]
    pub inputs: Vec<String>,

    /// Also ask the auth service whether each incident is still current (the lock still in
    /// force, the role still lacking the rule; for `database "x" not found`, whether x is
    /// registered, was renamed by auto-discovery, or is not registered at all; for the
    /// bound-keypair incidents S8–S12, each token's recovery mode, count and limit, bound key
    /// and instance, and the locks on its bot).
    #[arg(long)]
    pub live: bool,

    /// The bot the logs belong to: named in the fix commands and checked by --live when the
    /// lines do not name it (a finding whose lines name another bot says so).
    #[arg(long, value_name = "NAME")]
    pub bot: Option<String>,
}

pub async fn run(ctx: &Context, args: DoctorArgs) -> Result<ExitStatus, CommandError> {
    let client = match args.live {
        true => Some(ctx.client().await?),
        false => None,
    };
    let reads_stdin = args.inputs.is_empty() || args.inputs.iter().any(|i| i == "-");
    if reads_stdin && std::io::stdin().is_terminal() {
        eprintln!("reading from stdin (Ctrl-D to end)");
    }
    let Sources { report, errors } = tokio::task::block_in_place(|| {
        let mut sources =
            Doctor::read_sources(&args.inputs, std::io::stdin().lock(), args.bot.as_deref());
        if let Some(client) = client {
            let handle = tokio::runtime::Handle::current();
            sources
                .report
                .answer_live_checks(|check: &LiveCheck| -> LiveAnswer {
                    handle.block_on(crate::ops::live::answer(client, check))
                });
        }
        sources
    });
    // Like grep: the report on what could be read, then what could not, and exit 2.
    let inputs = args.inputs.len().max(1);
    if errors.len() < inputs || !report.findings.is_empty() {
        ctx.printer().print(&Report {
            report: &report,
            render: |r, w, color| r.render_text(w, color),
        })?;
    }
    match errors.split_last() {
        None => Ok(status(report.exit_code())),
        Some((last, others)) => {
            for error in others {
                eprintln!("error: {error}");
            }
            Err(CommandError::usage(last.to_string()))
        }
    }
}

/// A diag report for the Printer: its own text (colored when stdout is a terminal) and its
/// serialized form for JSON and YAML.
pub(crate) struct Report<'a, R> {
    pub report: &'a R,
    pub render: fn(&R, &mut Vec<u8>, bool) -> std::io::Result<()>,
}

impl<R: serde::Serialize> Output for Report<'_, R> {
    fn text(&self) -> String {
        let mut out = Vec::new();
        // Writing into memory cannot fail.
        let _ = (self.render)(self.report, &mut out, std::io::stdout().is_terminal());
        String::from_utf8_lossy(&out).into_owned()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self.report).unwrap_or_default()
    }
}

/// The report's exit code (0 clean, 1 findings) as mwictl's status.
pub(crate) fn status(code: i32) -> ExitStatus {
    match code {
        0 => ExitStatus::Success,
        _ => ExitStatus::Failure,
    }
}
