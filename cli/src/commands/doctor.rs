//! `mwictl doctor [FILE|-]...`: reads tbot, auth, journalctl and ssh/tsh logs and names the
//! incident, its evidence, its cause and the exact fix.

use std::io::IsTerminal;

use mwi_diag::command::{self, DoctorArgs as Run, OutputFormat};
use mwi_diag::doctor::{LiveAnswer, LiveCheck};

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::output::Format;

/// Diagnose tbot from its logs: name the incident (S1–S7 or another), show the evidence lines,
/// explain the cause and print the exact fix (the mwictl command and the tctl equivalent).
///
/// Reads tbot's text and JSON logs, journalctl output, auth service logs and ssh/tsh output, in
/// any mix and any size (streamed). Related lines collapse into one finding. Exit 0 when nothing
/// is found, 1 when there are findings, 2 when an input cannot be read.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Log files to read; `-` or none reads standard input.
    #[arg(value_name = "FILE|-")]
    pub inputs: Vec<String>,

    /// Also ask the auth service whether each incident is still current (the lock still in
    /// force, the role still lacking the rule).
    #[arg(long)]
    pub live: bool,
}

pub async fn run(ctx: &Context, args: DoctorArgs) -> Result<ExitStatus, CommandError> {
    let run = Run {
        inputs: args.inputs,
        format: format(ctx)?,
        color: std::io::stdout().is_terminal(),
    };
    let client = match args.live {
        true => Some(ctx.client().await?),
        false => None,
    };
    let status = tokio::task::block_in_place(|| {
        let handle = tokio::runtime::Handle::current();
        let mut answer = |check: &LiveCheck| -> LiveAnswer {
            let client = client.expect("live checks are asked only with --live");
            handle.block_on(crate::ops::live::answer(client, check))
        };
        let live: Option<&mut dyn FnMut(&LiveCheck) -> LiveAnswer> = match client {
            Some(_) => Some(&mut answer),
            None => None,
        };
        command::doctor(
            &run,
            std::io::stdin().lock(),
            &mut std::io::stdout().lock(),
            live,
        )
    });
    finish(status)
}

/// Text or JSON; YAML is not offered by the diagnosis reports.
pub(crate) fn format(ctx: &Context) -> Result<OutputFormat, CommandError> {
    match ctx.printer().format() {
        Format::Text => Ok(OutputFormat::Text),
        Format::Json => Ok(OutputFormat::Json),
        Format::Yaml => Err(CommandError::usage(
            "--format yaml is not available for doctor and lint reports; use text or json",
        )),
    }
}

/// Maps the report's status (0 clean, 1 findings, 2 bad input) to mwictl's exit codes.
pub(crate) fn finish(
    status: Result<command::ExitStatus, command::CommandError>,
) -> Result<ExitStatus, CommandError> {
    match status {
        Ok(command::ExitStatus::Clean) => Ok(ExitStatus::Success),
        Ok(command::ExitStatus::Findings) => Ok(ExitStatus::Failure),
        Ok(command::ExitStatus::BadInput) => Err(CommandError::usage("bad input")),
        Err(e) => Err(CommandError::usage(e.to_string())),
    }
}
