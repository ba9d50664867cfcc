//! The mwictl binary: parses arguments, runs the command, prints its error and exits with the
//! command's typed exit status. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use mwictl::cli::Cli;
use mwictl::exit::ExitStatus;
use mwictl::output::to_stderr;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitStatus::Usage.into()
            } else {
                ExitStatus::Success.into()
            };
        }
    };
    mwictl::logging::init(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            to_stderr(format_args!("error: cannot start the async runtime: {e}\n"));
            return ExitStatus::Failure.into();
        }
    };
    match runtime.block_on(mwictl::cli::run(cli)) {
        Ok(status) => status.into(),
        Err(err) => {
            to_stderr(format_args!("{}", err.render()));
            err.status.into()
        }
    }
}
