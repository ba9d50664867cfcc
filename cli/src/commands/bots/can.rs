//! `mwictl bots can NAME ssh LOGIN` and `bots can NAME db DB`: answers yes or no from the bot's
//! roles and traits, naming the role that grants it or the missing piece and its fix.

use serde_json::json;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::access::{self, Answer, DbQuery, Decision, Outcome};
use crate::ops::roles::parse_labels;
use crate::output::Output;

/// Check whether the bot may log in as LOGIN or read database DB, from its roles.
#[derive(Debug, clap::Args)]
#[command(after_help = CAN_HELP)]
pub struct CanArgs {
    /// The bot's name.
    pub name: String,
    #[command(subcommand)]
    pub check: CanCheck,
}

#[derive(Debug, clap::Subcommand)]
pub enum CanCheck {
    /// May the bot's outputs log in over SSH as LOGIN (be issued it as a principal)?
    ///
    /// Allowed when a role's allow.logins holds LOGIN (after expanding `{{internal.logins}}` and
    /// other traits) and no role's deny.logins does. A node still has to match the granting
    /// role's node_labels; that is shown, not checked.
    Ssh {
        /// The login (Unix user) to check.
        login: String,
    },
    Db(DbArgs),
}

/// May the bot's outputs read database DB (get a database certificate for it)?
///
/// Checked: a rule allowing read and list on db_server and db (without it Teleport answers
/// `database "DB" not found`); a role whose db_labels match the database's labels (only with
/// --db-labels: the database's labels cannot be read here; without any db_labels nothing
/// matches); the database name (--db-name) in db_names and the user (--db-user) in db_users of
/// that role; and that no deny rule or deny condition matches. Rules with a `where` predicate
/// and regular-expression label values are not evaluated.
#[derive(Debug, clap::Args)]
pub struct DbArgs {
    /// The Teleport database resource name (tbot's database output `service`).
    pub db: String,
    /// The database user to connect as (tbot's `username`), checked against db_users.
    #[arg(long = "db-user", value_name = "USER")]
    pub db_user: Option<String>,
    /// The database name inside the server (tbot's `database`), checked against db_names.
    #[arg(long = "db-name", value_name = "NAME")]
    pub db_name: Option<String>,
    /// The database resource's labels, KEY=VALUE (repeat or separate with commas), as `tsh db
    /// ls` shows them; without them label matching is not checked.
    #[arg(long = "db-labels", value_name = "KEY=VALUE")]
    pub db_labels: Vec<String>,
}

/// The long description of `bots can`, kept apart from the doc comment because the group's
/// variant doc replaces that one.
const CAN_HELP: &str = "\
The answer comes from the roles the bot impersonates (the allow.impersonate.roles of its role \
bot-NAME) and its traits, evaluated the way Teleport's RBAC does (what is simplified is listed \
in `mwictl bots can NAME db --help`). It names the role that grants the access, or the exact \
missing piece and the command that adds it.

Text: a YES or NO line, then one line per check (pass, FAIL, skip = not checked) and the fix. \
JSON: {bot, check, login, db, allowed, by_role, detail, missing, fix_command, checks: [{check, \
outcome, detail}], roles: [{role, logins}]}; absent values are null.

Exit codes: 0 allowed, 1 denied, 3 no such bot.";

/// The answer as printed.
struct CanOutput {
    bot: String,
    /// `ssh` or `db`.
    check: &'static str,
    login: Option<String>,
    db: Option<String>,
    answer: Answer,
}

impl CanOutput {
    fn question(&self) -> String {
        match (&self.login, &self.db) {
            (Some(login), _) => format!("log in as {login:?}"),
            (None, Some(db)) => format!("read database {db:?}"),
            (None, None) => String::new(),
        }
    }
}

impl Output for CanOutput {
    fn text(&self) -> String {
        let bot = &self.bot;
        let question = self.question();
        let mut out = match &self.answer.decision {
            Decision::Allowed { by_role, .. } => {
                format!("YES: bot {bot:?} may {question} (role {by_role:?})\n")
            }
            Decision::Denied { .. } => format!("NO: bot {bot:?} may not {question}\n"),
        };
        for check in &self.answer.checks {
            let mark = match check.outcome {
                Outcome::Pass => "pass",
                Outcome::Fail => "FAIL",
                Outcome::NotChecked => "skip",
            };
            out.push_str(&format!("  {mark} {}: {}\n", check.check, check.detail));
        }
        if let Decision::Denied { fix_command, .. } = &self.answer.decision {
            out.push_str(&format!("  fix: {fix_command}\n"));
            if let Some(alternative) = self.alternative() {
                out.push_str(&format!("  or:  {alternative}\n"));
            }
        }
        if self.check == "ssh" && !self.answer.roles.is_empty() {
            out.push_str("logins each role grants the bot:\n");
            let width = self
                .answer
                .roles
                .iter()
                .map(|r| r.role.chars().count())
                .max()
                .unwrap_or(0);
            for role in &self.answer.roles {
                let logins = if role.logins.is_empty() {
                    "-".to_string()
                } else {
                    role.logins.join(", ")
                };
                out.push_str(&format!("  {:<width$} {logins}\n", role.role));
            }
        }
        out
    }

    fn json(&self) -> serde_json::Value {
        let (by_role, detail, missing, fix) = match &self.answer.decision {
            Decision::Allowed { by_role, detail } => (Some(by_role), Some(detail), None, None),
            Decision::Denied {
                missing,
                fix_command,
            } => (None, None, Some(missing), Some(fix_command)),
        };
        json!({
            "bot": self.bot,
            "check": self.check,
            "login": self.login,
            "db": self.db,
            "allowed": self.answer.decision.is_allowed(),
            "by_role": by_role,
            "detail": detail,
            "missing": missing,
            "fix_command": fix,
            "checks": self.answer.checks,
            "roles": self.answer.roles,
        })
    }
}

impl CanOutput {
    /// The guided fix for database access, when the direct fix is a role grant.
    fn alternative(&self) -> Option<String> {
        let db = self.db.as_ref()?;
        match &self.answer.decision {
            Decision::Denied { fix_command, .. }
                if fix_command.starts_with("mwictl roles add-db-access") =>
            {
                Some(format!(
                    "mwictl recover db-access --bot {} --db {}",
                    crate::shell::shell_word(&self.bot),
                    crate::shell::shell_word(db)
                ))
            }
            _ => None,
        }
    }
}

pub async fn run(ctx: &Context, args: CanArgs) -> Result<ExitStatus, CommandError> {
    let output = match args.check {
        CanCheck::Ssh { login } => {
            let client = ctx.client().await?;
            let answer = access::check_ssh(client, &args.name, &login).await?;
            CanOutput {
                bot: args.name,
                check: "ssh",
                login: Some(login),
                db: None,
                answer,
            }
        }
        CanCheck::Db(db) => {
            let labels = parse_labels(&db.db_labels)?;
            let query = DbQuery {
                db: db.db.clone(),
                name: db.db_name,
                user: db.db_user,
                labels: (!labels.is_empty()).then_some(labels),
            };
            let client = ctx.client().await?;
            let answer = access::check_db(client, &args.name, &query).await?;
            CanOutput {
                bot: args.name,
                check: "db",
                login: None,
                db: Some(db.db),
                answer,
            }
        }
    };
    ctx.printer().print(&output)?;
    Ok(if output.answer.decision.is_allowed() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}
