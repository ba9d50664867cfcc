//! Access pre-checks for bots: may bot X log in as LOGIN, or see database DB, judged from the
//! roles it impersonates and its traits, the way Teleport's RBAC would judge its outputs.
//! `load` reads the bot and its roles, `eval` judges, `templates` expands trait templates; the
//! types here are what they share and return.
//!
//! What is evaluated, and the simplifications (the checks run on the client, from the roles):
//! - The bot's roles are those its role `bot-NAME` may impersonate (the Bot's `spec.roles`); its
//!   traits are the Bot's traits. A role that does not exist fails every check, as it fails
//!   tbot's outputs.
//! - Trait templates `{{internal.X}}`, `{{external.X}}` and `{{internal["X"]}}` (with a literal
//!   prefix or suffix) expand to the values of trait X in logins, db_names, db_users and label
//!   values; an unset trait expands to nothing. Template functions (`email.local`,
//!   `regexp.replace`, ...) are not evaluated: they expand to nothing and the answer says so.
//! - SSH: allowed when some role's allow.logins holds LOGIN and no role's deny.logins holds it
//!   (or `*`). The node side (node_labels against a host's labels) is reported, not decided, as
//!   no host is named.
//! - Database: Teleport shows a database only to roles whose rules allow `read` and `list` on
//!   both `db_server` and `db` (wildcards count; rules with a `where` predicate are not
//!   evaluated and never allow, while any deny rule that matches refuses). Without that it
//!   answers `database "X" not found`. Then one role must match the database's labels and allow
//!   the database name and user asked for, and no deny condition may match. The database's own
//!   labels cannot be read with the RPCs mwictl uses, so labels are compared only when given
//!   (`--db-labels`); otherwise the answer says they were not checked. Label values match as in
//!   Teleport: `*` globs and `^...$` regular expressions. A deny role applies when its
//!   deny.db_labels match the given labels or are `*: *`.

use std::collections::BTreeMap;

use mwi_proto::types::RoleV6;

mod eval;
mod load;
mod templates;
#[cfg(test)]
mod tests;

pub use eval::{rule_covers, rules_grant_db_access};
pub use load::{can_db, can_ssh, check_db, check_ssh, load_bot};

/// A bot's traits: `logins`, `db_users`, ... to their values.
pub type Traits = BTreeMap<String, Vec<String>>;

/// The answer to "may the bot do this".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Allowed, by `by_role`; `detail` says how (and any part that was not checked).
    Allowed { by_role: String, detail: String },
    /// Denied: `missing` names exactly what is missing or what denies it, `fix_command` is the
    /// command that changes that.
    Denied {
        missing: String,
        fix_command: String,
    },
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed { .. })
    }
}

/// The logins one role grants the bot, after trait expansion.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoleLogins {
    pub role: String,
    pub logins: Vec<String>,
}

/// How one part of an evaluation came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    /// Not decidable from the roles alone (the database's labels, the node's labels).
    NotChecked,
}

/// One part of an evaluation (`rules`, `db_labels`, `logins`, ...), for the reason lines.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    pub check: &'static str,
    pub outcome: Outcome,
    pub detail: String,
}

/// A full answer: the decision, each part that led to it, and which roles grant which logins.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Answer {
    pub decision: Decision,
    pub checks: Vec<Check>,
    pub roles: Vec<RoleLogins>,
}

/// What to check database access for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbQuery {
    /// The Teleport database resource name (tbot's `service`).
    pub db: String,
    /// A database name inside it (tbot's `database`), checked against db_names.
    pub name: Option<String>,
    /// A database user (tbot's `username`), checked against db_users.
    pub user: Option<String>,
    /// The database resource's labels, when known; `None` leaves label matching unchecked.
    pub labels: Option<Vec<(String, String)>>,
}

/// A bot's roles and traits, as the checks need them.
#[derive(Debug, Clone, PartialEq)]
pub struct BotRoles {
    pub bot: String,
    /// The role names in the bot's spec, in order.
    pub role_names: Vec<String>,
    /// Those of them that exist.
    pub roles: Vec<RoleV6>,
    pub traits: Traits,
}
