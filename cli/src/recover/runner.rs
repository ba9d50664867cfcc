//! Running a plan for a command: finding the unfinished run it continues, opening a journal for a
//! new one, executing it with the [`Engine`] and returning the [`RunReport`]. Commands build the
//! plan, confirm it and render the report; everything between is here.

use std::path::PathBuf;
use std::time::Instant;

use crate::client::Client;
use crate::error::CommandError;
use crate::home::Home;
use crate::output::Printer;
use crate::recover::engine::{Engine, RunOptions, RunReport};
use crate::recover::journal::Journal;
use crate::recover::plan::{FlowInput, Operation, Planned, Prefetched};
use crate::recover::step::Step;

/// What a command hands the runner besides the plan: the connection, where journals and backups
/// go, how progress shows, and when the command started (for the report's time).
pub struct RunContext<'a> {
    pub client: &'a Client,
    pub printer: &'a Printer,
    /// The journals of the operation's kind (all recovery flows share one directory).
    pub journal_dir: PathBuf,
    pub backups_dir: PathBuf,
    pub options: RunOptions,
    pub started: Instant,
}

impl<'a> RunContext<'a> {
    /// A context whose journals live in `home`'s state directory under `journals` (an
    /// [`Operation::journal_dir_name`]) and whose backups go to `home`'s backups directory.
    pub fn new(
        client: &'a Client,
        printer: &'a Printer,
        home: &Home,
        journals: &str,
        options: RunOptions,
        started: Instant,
    ) -> RunContext<'a> {
        RunContext {
            client,
            printer,
            journal_dir: home.state_dir().join(journals),
            backups_dir: home.backups_dir(),
            options,
            started,
        }
    }

    /// The newest unfinished run, of `operation` and `bot` when given.
    pub fn unfinished(
        &self,
        operation: Option<Operation>,
        bot: Option<&str>,
    ) -> Result<Option<Journal>, CommandError> {
        Journal::find_unfinished(&self.journal_dir, operation, bot)
    }

    /// The unfinished run of `operation` for `bot` that running the same command again
    /// continues. With `new_run` it is marked abandoned instead (its backups stay). A rerun may
    /// name another `--tbot-config` while the token is not written yet; one started with other
    /// options is refused, naming the ways on.
    pub fn to_continue(
        &self,
        operation: Operation,
        bot: &str,
        input: &FlowInput,
        new_run: bool,
    ) -> Result<Option<Journal>, CommandError> {
        let Some(mut open) = self.unfinished(Some(operation), Some(bot))? else {
            return Ok(None);
        };
        if new_run {
            open.abandon()?;
            self.printer.status(format!(
                "abandoned the unfinished run {} (its backups stay in {})",
                open.record.run_id,
                open.record.backup_dir.display()
            ));
            return Ok(None);
        }
        if open.retarget_tbot_config(input)? {
            self.printer.status(format!(
                "run {} continues with --tbot-config {}",
                open.record.run_id,
                input
                    .tbot_config
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ));
        }
        if open.record.input != *input {
            return Err(CommandError::usage(format!(
                "an unfinished run {} of `{}` used other options",
                open.record.run_id,
                operation.command(bot)
            ))
            .hint(format!(
                "rerun with the same options, continue it with `{}`, or pass --new-run (journal {})",
                operation.resume_command(),
                open.path().display()
            )));
        }
        Ok(Some(open))
    }

    /// Where an unfinished run stopped, and its steps: shown before it continues.
    pub fn continuation(journal: &Journal) -> String {
        let r = &journal.record;
        let next = journal.first_unfinished().map_or(r.steps.len(), |i| i + 1);
        format!(
            "continuing run {} of `{}` (started {}) at step {next} of {}\n{}",
            r.run_id,
            r.operation.command(&r.bot),
            r.started_at,
            r.steps.len(),
            r.plan.render_steps()
        )
    }

    /// Opens the journal of a new run of `planned` and executes it. A run that issues a token
    /// takes over the unused one an earlier run of the bot left (one that stopped before it
    /// could report it), instead of a second one.
    pub async fn start(
        &self,
        planned: Planned,
        input: FlowInput,
    ) -> Result<RunReport, CommandError> {
        let plan = planned.plan;
        let issues_token = plan
            .steps
            .iter()
            .any(|s| matches!(s, Step::IssueToken { .. }));
        let earlier_token =
            Journal::last_token(&self.journal_dir, &plan.bot).filter(|_| issues_token);
        let mut journal = Journal::create(&self.journal_dir, &self.backups_dir, plan, input)?;
        if earlier_token.is_some() {
            journal.record.token = earlier_token;
            journal.save()?;
        }
        self.execute(journal, planned.prefetched, false).await
    }

    /// Continues an unfinished run from its first unfinished step.
    pub async fn resume(&self, mut journal: Journal) -> Result<RunReport, CommandError> {
        journal.record.resumed += 1;
        journal.save()?;
        self.execute(journal, Prefetched::default(), true).await
    }

    async fn execute(
        &self,
        mut journal: Journal,
        prefetched: Prefetched,
        resumed: bool,
    ) -> Result<RunReport, CommandError> {
        let executing = Instant::now();
        let engine = Engine::new(self.client, self.printer, self.options.clone());
        let verify = engine.run(&mut journal, prefetched).await?;
        let target = &self.client.connection().target;
        Ok(RunReport {
            journal: journal.path().to_path_buf(),
            record: journal.record,
            resumed,
            elapsed: executing.elapsed(),
            command_elapsed: self.started.elapsed(),
            rpc_count: self.client.rpc_count(),
            verify,
            auth_addr: target.addr.clone(),
            via_proxy: target.via_proxy,
        })
    }
}
