//! Access pre-checks for bots: may bot X log in as LOGIN, or see database DB, judged from the
//! roles it impersonates and its traits, the way Teleport's RBAC would judge its outputs.
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
//!   (`--db-labels`); otherwise the answer says they were not checked. Label values support `*`
//!   globs; regular expressions (`^...$`) are compared literally. A deny role applies when its
//!   deny.db_labels match the given labels or are `*: *`.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use mwi_proto::types::{RoleConditions, RoleV6, Rule};
use mwi_proto::wrappers::LabelValues;

use crate::client::Client;
use crate::error::CommandError;
use crate::shell::shell_word;

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

/// Whether the bot's outputs may log in as `login`, and which roles grant which logins.
pub async fn can_ssh(
    client: &Client,
    bot: &str,
    login: &str,
) -> Result<(Decision, Vec<RoleLogins>), CommandError> {
    let answer = load_bot(client, bot).await?.ssh(login);
    Ok((answer.decision, answer.roles))
}

/// Whether the bot's outputs may reach database `db` (as `db_user`, if given). The database's
/// labels are not checked; see [`check_db`].
pub async fn can_db(
    client: &Client,
    bot: &str,
    db: &str,
    db_user: Option<&str>,
) -> Result<Decision, CommandError> {
    let query = DbQuery {
        db: db.to_string(),
        user: db_user.map(str::to_string),
        ..Default::default()
    };
    Ok(load_bot(client, bot).await?.db(&query).decision)
}

/// The full SSH answer for `bots can NAME ssh LOGIN`.
pub async fn check_ssh(client: &Client, bot: &str, login: &str) -> Result<Answer, CommandError> {
    Ok(load_bot(client, bot).await?.ssh(login))
}

/// The full database answer for `bots can NAME db DB`.
pub async fn check_db(client: &Client, bot: &str, query: &DbQuery) -> Result<Answer, CommandError> {
    Ok(load_bot(client, bot).await?.db(query))
}

/// Reads the bot and each of its roles; a role that does not exist is left out of `roles`.
pub async fn load_bot(client: &Client, bot: &str) -> Result<BotRoles, CommandError> {
    let fetched = client.get_bot(bot).await.map_err(|e| {
        if e.is_not_found() {
            CommandError::from(e).hint("list the bots with `mwictl get bots`")
        } else {
            e.into()
        }
    })?;
    let spec = fetched.value.spec.unwrap_or_default();
    let mut traits = Traits::new();
    for t in spec.traits {
        traits.entry(t.name).or_default().extend(t.values);
    }
    let mut roles = Vec::new();
    for name in &spec.roles {
        match client.get_role(name).await {
            Ok(role) => roles.push(role.value),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(BotRoles {
        bot: bot.to_string(),
        role_names: spec.roles,
        roles,
        traits,
    })
}

impl BotRoles {
    /// The logins each role grants, in the bot's role order.
    pub fn role_logins(&self) -> Vec<RoleLogins> {
        self.roles
            .iter()
            .map(|r| RoleLogins {
                role: role_name(r).to_string(),
                logins: expand_all(&allow(r).logins, &self.traits).values,
            })
            .collect()
    }

    /// Whether the bot may log in as `login`.
    pub fn ssh(&self, login: &str) -> Answer {
        let roles = self.role_logins();
        let (decision, checks) = match self.role_problem() {
            Some(problem) => problem,
            None => self.ssh_decision(login),
        };
        Answer {
            decision,
            checks,
            roles,
        }
    }

    fn ssh_decision(&self, login: &str) -> (Decision, Vec<Check>) {
        let bot = &self.bot;
        let denied = |missing: String, fix_command: String| {
            let check = Check {
                check: "logins",
                outcome: Outcome::Fail,
                detail: missing.clone(),
            };
            let decision = Decision::Denied {
                missing,
                fix_command,
            };
            (decision, vec![check])
        };
        for role in &self.roles {
            let refused = expand_all(&deny(role).logins, &self.traits);
            if refused.values.iter().any(|l| l == login || l == "*") {
                let name = role_name(role);
                return denied(
                    format!(
                        "role {name:?} denies login {login:?} (deny.logins: {})",
                        refused.values.join(", ")
                    ),
                    format!("mwictl edit role/{name}"),
                );
            }
        }
        let granting = self.roles.iter().find(|r| {
            expand_all(&allow(r).logins, &self.traits)
                .values
                .iter()
                .any(|l| l == login)
        });
        let Some(role) = granting else {
            let summary: Vec<String> = self.roles.iter().map(|r| self.logins_summary(r)).collect();
            let login_arg = shell_word(login);
            let fix_command = if self.roles.iter().any(uses_logins_trait) {
                format!("mwictl bots update {bot} --add-logins {login_arg}")
            } else {
                format!("mwictl roles add-login {} {login_arg}", self.first_role())
            };
            return denied(
                format!(
                    "no role of bot {bot:?} allows login {login:?}: roles {}",
                    summary.join(", ")
                ),
                fix_command,
            );
        };
        let name = role_name(role);
        let detail = if allow(role).logins.iter().any(|l| l == login) {
            format!("role {name:?} allows login {login:?}")
        } else {
            format!("role {name:?} allows login {login:?} through the bot's traits")
        };
        let node_labels = label_text(allow(role).node_labels.as_ref());
        let node_check = Check {
            check: "node_labels",
            outcome: Outcome::NotChecked,
            detail: if node_labels.is_empty() {
                format!(
                    "role {name:?} has no node_labels, so Teleport shows the bot no node to log in \
                     to as {login:?}; add some with `mwictl edit role/{name}`"
                )
            } else {
                format!("the host's labels must match node_labels {node_labels} of role {name:?}")
            },
        };
        let login_check = Check {
            check: "logins",
            outcome: Outcome::Pass,
            detail: detail.clone(),
        };
        let decision = Decision::Allowed {
            by_role: name.to_string(),
            detail,
        };
        (decision, vec![login_check, node_check])
    }

    /// Whether the bot may reach the database of `query`.
    pub fn db(&self, query: &DbQuery) -> Answer {
        let roles = self.role_logins();
        if let Some((decision, checks)) = self.role_problem() {
            return Answer {
                decision,
                checks,
                roles,
            };
        }
        let mut eval = DbEvaluation::new(self, query);
        eval.rules();
        eval.denies();
        if eval.denied_by.is_none() {
            eval.grants();
        }
        let decision = eval.decision();
        Answer {
            decision,
            checks: eval.checks,
            roles,
        }
    }

    /// A bot without roles, or with a role that does not exist, gets nothing at all.
    fn role_problem(&self) -> Option<(Decision, Vec<Check>)> {
        let bot = &self.bot;
        let (missing, fix_command) = if self.role_names.is_empty() {
            (
                format!("bot {bot:?} has no roles, so its outputs get no access"),
                format!("mwictl bots update {bot} --add-roles ROLE"),
            )
        } else {
            let absent = self
                .role_names
                .iter()
                .find(|n| !self.roles.iter().any(|r| role_name(r) == n.as_str()))?;
            (
                format!(
                    "role {absent:?} of bot {bot:?} does not exist, so tbot's outputs fail; create \
                     it or drop it from the bot"
                ),
                format!(
                    "mwictl bots update {bot} --remove-roles {}",
                    shell_word(absent)
                ),
            )
        };
        let check = Check {
            check: "roles",
            outcome: Outcome::Fail,
            detail: missing.clone(),
        };
        Some((
            Decision::Denied {
                missing,
                fix_command,
            },
            vec![check],
        ))
    }

    fn first_role(&self) -> &str {
        self.roles.first().map_or("ROLE", role_name)
    }

    /// `access (logins root, ubuntu)` or `reader (no logins)`, naming templates that expanded
    /// to nothing or could not be evaluated.
    fn logins_summary(&self, role: &RoleV6) -> String {
        let expanded = expand_all(&allow(role).logins, &self.traits);
        let mut text = if expanded.values.is_empty() {
            format!("{} (no logins", role_name(role))
        } else {
            format!("{} (logins {}", role_name(role), expanded.values.join(", "))
        };
        for template in &expanded.empty {
            text.push_str(&format!("; {template} is empty for this bot"));
        }
        for template in &expanded.unsupported {
            text.push_str(&format!("; {template} not evaluated"));
        }
        text.push(')');
        text
    }
}

/// The database evaluation: each check appends its line; denies win over grants.
struct DbEvaluation<'a> {
    bot: &'a BotRoles,
    query: &'a DbQuery,
    checks: Vec<Check>,
    /// The role whose deny condition applies, if any.
    denied_by: Option<String>,
    /// The role that grants the database, or that `roles add-db-access` should change.
    role: String,
    /// What the `roles add-db-access` fix must pass.
    add_labels: bool,
    add_name: bool,
    add_user: bool,
}

const DB_RESOURCES: [&str; 2] = ["db_server", "db"];
const DB_VERBS: [&str; 2] = ["read", "list"];

impl<'a> DbEvaluation<'a> {
    fn new(bot: &'a BotRoles, query: &'a DbQuery) -> DbEvaluation<'a> {
        DbEvaluation {
            bot,
            query,
            checks: Vec::new(),
            denied_by: None,
            role: bot.first_role().to_string(),
            add_labels: false,
            add_name: false,
            add_user: false,
        }
    }

    fn push(&mut self, check: &'static str, outcome: Outcome, detail: String) {
        self.checks.push(Check {
            check,
            outcome,
            detail,
        });
    }

    fn denied(&mut self, check: &'static str, role: &str, detail: String) {
        self.denied_by.get_or_insert_with(|| role.to_string());
        self.push(check, Outcome::Fail, detail);
    }

    /// `read` and `list` on `db_server` and `db`: without them Teleport answers "database not
    /// found".
    fn rules(&mut self) {
        let roles = &self.bot.roles;
        for role in roles {
            for resource in DB_RESOURCES {
                for verb in DB_VERBS {
                    if deny(role)
                        .rules
                        .iter()
                        .any(|r| rule_covers(r, resource, verb))
                    {
                        let name = role_name(role);
                        self.denied(
                            "rules",
                            name,
                            format!("role {name:?} denies {verb} on {resource} (deny.rules)"),
                        );
                        return;
                    }
                }
            }
        }
        let mut missing = Vec::new();
        let mut granting: Vec<String> = Vec::new();
        for resource in DB_RESOURCES {
            for verb in DB_VERBS {
                let by = roles.iter().find(|r| {
                    allow(r)
                        .rules
                        .iter()
                        .any(|rule| rule.r#where.is_empty() && rule_covers(rule, resource, verb))
                });
                match by.map(role_name) {
                    Some(name) => push_unique(&mut granting, format!("{name:?}")),
                    None => missing.push(format!("{verb} on {resource}")),
                }
            }
        }
        if missing.is_empty() {
            let (noun, verb) = if granting.len() == 1 {
                ("role", "allows")
            } else {
                ("roles", "allow")
            };
            self.push(
                "rules",
                Outcome::Pass,
                format!(
                    "{noun} {} {verb} read and list on db_server and db",
                    granting.join(", ")
                ),
            );
            return;
        }
        let missing = if missing.len() == DB_RESOURCES.len() * DB_VERBS.len() {
            "read and list on db_server and db".to_string()
        } else {
            missing.join(", ")
        };
        let mut detail = format!(
            "no role of bot {:?} allows {missing}, so Teleport answers database {:?} not found",
            self.bot.bot, self.query.db
        );
        let with_where = roles
            .iter()
            .any(|r| allow(r).rules.iter().any(|rule| !rule.r#where.is_empty()));
        if with_where {
            detail.push_str(" (rules with a `where` predicate were not evaluated)");
        }
        self.push("rules", Outcome::Fail, detail);
    }

    /// Deny conditions on labels, names and users.
    fn denies(&mut self) {
        let traits = &self.bot.traits;
        for role in &self.bot.roles {
            let d = deny(role);
            let applies = match &self.query.labels {
                Some(labels) => labels_match(d.database_labels.as_ref(), labels, traits),
                None => labels_match_everything(d.database_labels.as_ref()),
            };
            if !applies {
                continue;
            }
            let name = role_name(role);
            if d.database_names.is_empty() && d.database_users.is_empty() {
                let labels = label_text(d.database_labels.as_ref());
                self.denied(
                    "db_labels",
                    name,
                    format!("role {name:?} denies databases labeled {labels} (deny.db_labels)"),
                );
            }
            if let Some(db_name) = &self.query.name
                && list_matches(&expand_all(&d.database_names, traits).values, db_name)
            {
                self.denied(
                    "db_names",
                    name,
                    format!("role {name:?} denies database name {db_name:?} (deny.db_names)"),
                );
            }
            if let Some(user) = &self.query.user
                && list_matches(&expand_all(&d.database_users, traits).values, user)
            {
                self.denied(
                    "db_users",
                    name,
                    format!("role {name:?} denies database user {user:?} (deny.db_users)"),
                );
            }
        }
    }

    /// One role must select the database by its labels and allow the name and user asked for.
    fn grants(&mut self) {
        // Copies of the shared references, so the closures below do not borrow `self`.
        let (bot, query): (&'a BotRoles, &'a DbQuery) = (self.bot, self.query);
        let (traits, roles) = (&bot.traits, &bot.roles);
        let selects = |r: &RoleV6| {
            let selector = allow(r).database_labels.as_ref();
            match &query.labels {
                Some(labels) => labels_match(selector, labels, traits),
                None => selector.is_some_and(|s| !s.values.is_empty()),
            }
        };
        let grants = |r: &RoleV6| {
            let a = allow(r);
            let name = query
                .name
                .as_ref()
                .is_none_or(|n| list_matches(&expand_all(&a.database_names, traits).values, n));
            let user = query
                .user
                .as_ref()
                .is_none_or(|u| list_matches(&expand_all(&a.database_users, traits).values, u));
            (name, user)
        };
        // The role that grants the most of what is asked (the first on ties): among those whose
        // labels select the database, else among all, as the one the fix should extend.
        let score = |(n, u): (bool, bool)| u8::from(n) + u8::from(u);
        let most = |candidates: &mut dyn Iterator<Item = &'a RoleV6>| {
            let mut best: Option<(&'a RoleV6, (bool, bool))> = None;
            for role in candidates {
                let got = grants(role);
                if best.is_none_or(|(_, b)| score(got) > score(b)) {
                    best = Some((role, got));
                }
            }
            best
        };
        let selecting = most(&mut roles.iter().filter(|r| selects(r)));
        self.label_check(selecting.map(|(r, _)| r));
        let chosen = selecting.or_else(|| most(&mut roles.iter()));
        let (name_ok, user_ok) = chosen.map_or((false, false), |(_, g)| g);
        if let Some((role, _)) = chosen {
            self.role = role_name(role).to_string();
        }
        let role = self.role.clone();
        let nobody = match (&self.query.labels, selecting) {
            (_, None) => format!("no role of bot {:?} allows", self.bot.bot),
            (Some(_), Some(_)) => format!(
                "no role of bot {:?} whose db_labels match allows",
                self.bot.bot
            ),
            (None, Some(_)) => format!("no role of bot {:?} with db_labels allows", self.bot.bot),
        };
        if let Some(db_name) = &self.query.name {
            if name_ok {
                let detail = format!("role {role:?} allows database name {db_name:?}");
                self.push("db_names", Outcome::Pass, detail);
            } else {
                self.add_name = true;
                let detail = format!("{nobody} database name {db_name:?} (db_names)");
                self.push("db_names", Outcome::Fail, detail);
            }
        }
        if let Some(user) = &self.query.user {
            if user_ok {
                let detail = format!("role {role:?} allows database user {user:?}");
                self.push("db_users", Outcome::Pass, detail);
            } else {
                self.add_user = true;
                let detail = format!("{nobody} database user {user:?} (db_users)");
                self.push("db_users", Outcome::Fail, detail);
            }
        }
    }

    fn label_check(&mut self, selecting: Option<&RoleV6>) {
        let summary = self
            .bot
            .roles
            .iter()
            .map(|r| match label_text(allow(r).database_labels.as_ref()) {
                labels if labels.is_empty() => format!("{} (no db_labels)", role_name(r)),
                labels => format!("{} (db_labels {labels})", role_name(r)),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let (outcome, detail) = match (&self.query.labels, selecting) {
            (Some(labels), Some(role)) => (
                Outcome::Pass,
                format!(
                    "db_labels of role {:?} match the database's labels {}",
                    role_name(role),
                    pairs_text(labels)
                ),
            ),
            (Some(labels), None) => {
                self.add_labels = true;
                (
                    Outcome::Fail,
                    format!(
                        "no role's db_labels match the database's labels {}: roles {summary}",
                        pairs_text(labels)
                    ),
                )
            }
            (None, Some(_)) => (
                Outcome::NotChecked,
                format!(
                    "not checked (pass the database's labels with --db-labels): roles {summary}"
                ),
            ),
            (None, None) => {
                self.add_labels = true;
                (
                    Outcome::Fail,
                    format!(
                        "no role of bot {:?} has db_labels, so it matches no database",
                        self.bot.bot
                    ),
                )
            }
        };
        self.push("db_labels", outcome, detail);
    }

    fn decision(&self) -> Decision {
        let failed: Vec<&str> = self
            .checks
            .iter()
            .filter(|c| c.outcome == Outcome::Fail)
            .map(|c| c.detail.as_str())
            .collect();
        let role = &self.role;
        if let Some(denier) = &self.denied_by {
            return Decision::Denied {
                missing: failed.join("; "),
                fix_command: format!("mwictl edit role/{denier}"),
            };
        }
        if failed.is_empty() {
            let mut detail = format!("role {role:?} grants database {:?}", self.query.db);
            if self.query.labels.is_none() {
                detail.push_str(" if the database's labels match its db_labels (not checked)");
            }
            return Decision::Allowed {
                by_role: role.clone(),
                detail,
            };
        }
        let mut fix = format!("mwictl roles add-db-access {role}");
        if self.add_labels {
            let labels = self
                .query
                .labels
                .as_ref()
                .map_or_else(|| "KEY=VALUE".to_string(), |l| shell_word(&pairs_arg(l)));
            fix.push_str(&format!(" --db-labels {labels}"));
        }
        if let (true, Some(name)) = (self.add_name, &self.query.name) {
            fix.push_str(&format!(" --db-names {}", shell_word(name)));
        }
        if let (true, Some(user)) = (self.add_user, &self.query.user) {
            fix.push_str(&format!(" --db-users {}", shell_word(user)));
        }
        Decision::Denied {
            missing: failed.join("; "),
            fix_command: fix,
        }
    }
}

fn role_name(role: &RoleV6) -> &str {
    role.metadata.as_ref().map_or("", |m| m.name.as_str())
}

fn allow(role: &RoleV6) -> &RoleConditions {
    role.spec
        .as_ref()
        .and_then(|s| s.allow.as_ref())
        .unwrap_or(empty_conditions())
}

fn deny(role: &RoleV6) -> &RoleConditions {
    role.spec
        .as_ref()
        .and_then(|s| s.deny.as_ref())
        .unwrap_or(empty_conditions())
}

/// The conditions of a role that has none: every field empty. Built on first use rather than
/// spelled out field by field, so new wire fields need no change here.
fn empty_conditions() -> &'static RoleConditions {
    static EMPTY: LazyLock<RoleConditions> = LazyLock::new(RoleConditions::default);
    &EMPTY
}

/// Whether a role's allow.logins takes logins from the `logins` trait.
fn uses_logins_trait(role: &RoleV6) -> bool {
    allow(role)
        .logins
        .iter()
        .any(|l| matches!(parse_template(l), Template::Trait { name, .. } if name == "logins"))
}

/// Whether `rule` covers `verb` on `resource` (`*` matches any).
pub fn rule_covers(rule: &Rule, resource: &str, verb: &str) -> bool {
    let has = |list: &[String], want: &str| list.iter().any(|x| x == want || x == "*");
    has(&rule.resources, resource) && has(&rule.verbs, verb)
}

/// Whether `rules` (a role's allow rules) already grant `read` and `list` on `db_server` and
/// `db`, counting only rules without a `where` predicate.
pub fn rules_grant_db_access(rules: &[Rule]) -> bool {
    DB_RESOURCES.iter().all(|resource| {
        DB_VERBS.iter().all(|verb| {
            rules
                .iter()
                .any(|r| r.r#where.is_empty() && rule_covers(r, resource, verb))
        })
    })
}

/// A login, db name or label value as written in a role.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Template<'a> {
    Literal,
    /// `prefix{{internal.NAME}}suffix` (or `external.NAME`).
    Trait {
        prefix: &'a str,
        name: String,
        suffix: &'a str,
    },
    /// A template this module does not evaluate (a function, a malformed expression).
    Unsupported,
}

fn parse_template(value: &str) -> Template<'_> {
    let Some(start) = value.find("{{") else {
        return Template::Literal;
    };
    let Some(len) = value[start + 2..].find("}}") else {
        return Template::Unsupported;
    };
    let prefix = &value[..start];
    let expr = value[start + 2..start + 2 + len].trim();
    let suffix = &value[start + 2 + len + 2..];
    let Some(rest) = expr
        .strip_prefix("internal")
        .or_else(|| expr.strip_prefix("external"))
    else {
        return Template::Unsupported;
    };
    let name = if let Some(dotted) = rest.strip_prefix('.') {
        dotted
    } else if let Some(indexed) = rest.strip_prefix("[\"").and_then(|r| r.strip_suffix("\"]")) {
        indexed
    } else {
        return Template::Unsupported;
    };
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':'));
    if !valid || suffix.contains("{{") {
        return Template::Unsupported;
    }
    Template::Trait {
        prefix,
        name: name.to_string(),
        suffix,
    }
}

/// Values after trait expansion, and the templates that gave nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Expanded {
    values: Vec<String>,
    /// Templates whose trait is unset or empty.
    empty: Vec<String>,
    /// Templates not evaluated.
    unsupported: Vec<String>,
}

/// Expands every value of a role field with the bot's traits; duplicates are dropped.
fn expand_all(values: &[String], traits: &Traits) -> Expanded {
    let mut out = Expanded::default();
    for value in values {
        match parse_template(value) {
            Template::Literal => push_unique(&mut out.values, value.clone()),
            Template::Trait {
                prefix,
                name,
                suffix,
            } => {
                let got: Vec<&String> = traits.get(&name).into_iter().flatten().collect();
                if got.is_empty() {
                    out.empty.push(value.clone());
                }
                for v in got {
                    push_unique(&mut out.values, format!("{prefix}{v}{suffix}"));
                }
            }
            Template::Unsupported => out.unsupported.push(value.clone()),
        }
    }
    out
}

fn push_unique(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) {
        list.push(value);
    }
}

/// Whether `list` (db_names, db_users) allows `want`: an exact entry or `*`.
fn list_matches(list: &[String], want: &str) -> bool {
    list.iter().any(|v| v == want || v == "*")
}

/// Whether a role's label selector matches a resource with `labels`, with Teleport's semantics
/// (`mwi_identity::labels`: globs, `^...$` regular expressions, `*: *`) after the selector's
/// values are expanded with the bot's traits.
fn labels_match(
    selector: Option<&LabelValues>,
    labels: &[(String, String)],
    traits: &Traits,
) -> bool {
    let Some(selector) = selector else {
        return false;
    };
    let expanded: Vec<(&str, Vec<String>)> = selector
        .values
        .iter()
        .map(|(key, wanted)| (key.as_str(), expand_all(&wanted.values, traits).values))
        .collect();
    mwi_identity::labels::labels_match(
        expanded
            .iter()
            .map(|(key, values)| (*key, values.as_slice())),
        |key| {
            labels
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        },
    )
}

/// Whether a selector is `*: *`, which matches every resource.
fn labels_match_everything(selector: Option<&LabelValues>) -> bool {
    selector.is_some_and(|s| {
        s.values
            .get("*")
            .is_some_and(|v| v.values.iter().any(|w| w == "*"))
    })
}

/// Labels as `k=v k2=v2|v3`, for messages.
fn label_text(labels: Option<&LabelValues>) -> String {
    labels
        .map(|l| {
            l.values
                .iter()
                .map(|(k, v)| format!("{k}={}", v.values.join("|")))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn pairs_text(labels: &[(String, String)]) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn pairs_arg(labels: &[(String, String)]) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::types::{Metadata, RoleSpecV6};
    use mwi_proto::wrappers::StringValues;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn labels(pairs: &[(&str, &[&str])]) -> Option<LabelValues> {
        Some(LabelValues {
            values: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), StringValues { values: strings(v) }))
                .collect(),
        })
    }

    fn rule(resources: &[&str], verbs: &[&str]) -> Rule {
        Rule {
            resources: strings(resources),
            verbs: strings(verbs),
            ..Default::default()
        }
    }

    fn role(name: &str, allow: RoleConditions, deny: RoleConditions) -> RoleV6 {
        RoleV6 {
            kind: "role".into(),
            version: "v7".into(),
            metadata: Some(Metadata {
                name: name.into(),
                ..Default::default()
            }),
            spec: Some(RoleSpecV6 {
                allow: Some(allow),
                deny: Some(deny),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn logins_role(name: &str, logins: &[&str]) -> RoleV6 {
        role(
            name,
            RoleConditions {
                logins: strings(logins),
                ..Default::default()
            },
            RoleConditions::default(),
        )
    }

    fn bot(roles: Vec<RoleV6>, traits: &[(&str, &[&str])]) -> BotRoles {
        BotRoles {
            bot: "example".into(),
            role_names: roles.iter().map(|r| role_name(r).to_string()).collect(),
            roles,
            traits: traits
                .iter()
                .map(|(k, v)| (k.to_string(), strings(v)))
                .collect(),
        }
    }

    fn db_role(name: &str, allow: RoleConditions) -> RoleV6 {
        role(
            name,
            RoleConditions {
                rules: vec![rule(&["db_server", "db"], &["read", "list"])],
                ..allow
            },
            RoleConditions::default(),
        )
    }

    fn query(db: &str) -> DbQuery {
        DbQuery {
            db: db.into(),
            ..Default::default()
        }
    }

    fn denied(answer: &Answer) -> (String, String) {
        match &answer.decision {
            Decision::Denied {
                missing,
                fix_command,
            } => (missing.clone(), fix_command.clone()),
            other => panic!("expected a denial, got {other:?}"),
        }
    }

    fn allowed_by(answer: &Answer) -> &str {
        match &answer.decision {
            Decision::Allowed { by_role, .. } => by_role,
            other => panic!("expected allowed, got {other:?}"),
        }
    }

    #[test]
    fn traits_expand_in_logins_with_prefix_and_suffix() {
        let traits: Traits = [("logins".to_string(), strings(&["alice", "bob"]))].into();
        let out = expand_all(
            &strings(&["root", "{{internal.logins}}", "x-{{ external.logins }}-y"]),
            &traits,
        );
        assert_eq!(
            out.values,
            strings(&["root", "alice", "bob", "x-alice-y", "x-bob-y"])
        );
        let indexed = expand_all(&strings(&["{{internal[\"logins\"]}}"]), &traits);
        assert_eq!(indexed.values, strings(&["alice", "bob"]));
    }

    #[test]
    fn unset_traits_and_functions_expand_to_nothing_and_are_named() {
        let out = expand_all(
            &strings(&["{{internal.db_users}}", "{{email.local(external.email)}}"]),
            &Traits::new(),
        );
        assert!(out.values.is_empty());
        assert_eq!(out.empty, strings(&["{{internal.db_users}}"]));
        assert_eq!(
            out.unsupported,
            strings(&["{{email.local(external.email)}}"])
        );
    }

    #[test]
    fn ssh_is_allowed_by_the_role_that_lists_the_login() {
        let b = bot(
            vec![logins_role("a", &["ubuntu"]), logins_role("b", &["root"])],
            &[],
        );
        let answer = b.ssh("root");
        assert_eq!(allowed_by(&answer), "b");
        assert_eq!(answer.roles[0].logins, strings(&["ubuntu"]));
    }

    #[test]
    fn ssh_login_from_the_logins_trait_is_allowed() {
        let b = bot(
            vec![logins_role("access", &["{{internal.logins}}"])],
            &[("logins", &["deploy"])],
        );
        let answer = b.ssh("deploy");
        assert_eq!(allowed_by(&answer), "access");
        assert_eq!(answer.roles[0].logins, strings(&["deploy"]));
    }

    #[test]
    fn ssh_denial_names_each_role_and_adds_the_login_to_the_first() {
        let b = bot(
            vec![logins_role("a", &["root"]), logins_role("b", &[])],
            &[],
        );
        let answer = b.ssh("deploy");
        let (missing, fix) = denied(&answer);
        assert_eq!(
            missing,
            "no role of bot \"example\" allows login \"deploy\": roles a (logins root), b (no logins)"
        );
        assert_eq!(fix, "mwictl roles add-login a deploy");
    }

    #[test]
    fn ssh_denial_suggests_the_bot_trait_when_a_role_uses_it() {
        let b = bot(vec![logins_role("a", &["{{internal.logins}}"])], &[]);
        let answer = b.ssh("deploy");
        let (missing, fix) = denied(&answer);
        assert!(
            missing.contains("{{internal.logins}} is empty for this bot"),
            "{missing}"
        );
        assert_eq!(fix, "mwictl bots update example --add-logins deploy");
    }

    #[test]
    fn deny_logins_win_over_allow() {
        let denier = role(
            "no-root",
            RoleConditions::default(),
            RoleConditions {
                logins: strings(&["root"]),
                ..Default::default()
            },
        );
        let b = bot(vec![logins_role("a", &["root"]), denier], &[]);
        let answer = b.ssh("root");
        let (missing, fix) = denied(&answer);
        assert!(
            missing.starts_with("role \"no-root\" denies login \"root\""),
            "{missing}"
        );
        assert_eq!(fix, "mwictl edit role/no-root");
    }

    #[test]
    fn a_bot_without_roles_or_with_a_missing_role_gets_nothing() {
        let none = bot(vec![], &[]);
        assert_eq!(
            denied(&none.ssh("root")).1,
            "mwictl bots update example --add-roles ROLE"
        );
        let mut gone = bot(vec![logins_role("a", &["root"])], &[]);
        gone.role_names.push("ghost".into());
        let answer = gone.db(&query("pg"));
        let (missing, fix) = denied(&answer);
        assert!(missing.starts_with("role \"ghost\" of bot \"example\" does not exist"));
        assert_eq!(fix, "mwictl bots update example --remove-roles ghost");
    }

    #[test]
    fn db_without_the_rule_is_not_found_and_the_fix_adds_it() {
        let b = bot(
            vec![role(
                "access",
                RoleConditions {
                    database_labels: labels(&[("*", &["*"])]),
                    ..Default::default()
                },
                RoleConditions::default(),
            )],
            &[],
        );
        let answer = b.db(&query("example"));
        let (missing, fix) = denied(&answer);
        assert!(
            missing.contains("database \"example\" not found"),
            "{missing}"
        );
        assert!(
            missing.starts_with(
                "no role of bot \"example\" allows read and list on db_server and db,"
            ),
            "{missing}"
        );
        assert_eq!(fix, "mwictl roles add-db-access access");
        let partial = bot(
            vec![db_role_with_rules(
                "access",
                vec![rule(&["db_server"], &["read", "list"])],
            )],
            &[],
        );
        let (missing, _) = denied(&partial.db(&query("example")));
        assert!(
            missing.contains("allows read on db, list on db,"),
            "{missing}"
        );
    }

    fn db_role_with_rules(name: &str, rules: Vec<Rule>) -> RoleV6 {
        role(
            name,
            RoleConditions {
                rules,
                database_labels: labels(&[("*", &["*"])]),
                ..Default::default()
            },
            RoleConditions::default(),
        )
    }

    #[test]
    fn wildcard_rules_grant_db_access() {
        let b = bot(
            vec![role(
                "admin",
                RoleConditions {
                    rules: vec![rule(&["*"], &["*"])],
                    database_labels: labels(&[("*", &["*"])]),
                    ..Default::default()
                },
                RoleConditions::default(),
            )],
            &[],
        );
        let answer = b.db(&query("pg"));
        assert_eq!(allowed_by(&answer), "admin");
        assert!(
            answer
                .checks
                .iter()
                .any(|c| c.check == "db_labels" && c.outcome == Outcome::NotChecked)
        );
    }

    #[test]
    fn rules_may_come_from_one_role_and_labels_from_another() {
        let rules = role(
            "db-rules",
            RoleConditions {
                rules: vec![
                    rule(&["db_server"], &["read", "list"]),
                    rule(&["db"], &["*"]),
                ],
                ..Default::default()
            },
            RoleConditions::default(),
        );
        let grants = role(
            "db-prod",
            RoleConditions {
                database_labels: labels(&[("env", &["prod"])]),
                database_users: strings(&["{{internal.db_users}}"]),
                ..Default::default()
            },
            RoleConditions::default(),
        );
        let b = bot(vec![rules, grants], &[("db_users", &["reader"])]);
        let answer = b.db(&DbQuery {
            db: "pg".into(),
            user: Some("reader".into()),
            labels: Some(vec![("env".into(), "prod".into())]),
            ..Default::default()
        });
        assert_eq!(allowed_by(&answer), "db-prod");
        assert!(
            answer.checks.iter().all(|c| c.outcome == Outcome::Pass),
            "{:?}",
            answer.checks
        );
    }

    #[test]
    fn labels_that_do_not_match_are_the_missing_piece() {
        let b = bot(
            vec![db_role(
                "db",
                RoleConditions {
                    database_labels: labels(&[("env", &["dev"])]),
                    ..Default::default()
                },
            )],
            &[],
        );
        let answer = b.db(&DbQuery {
            db: "pg".into(),
            labels: Some(vec![("env".into(), "prod".into())]),
            ..Default::default()
        });
        let (missing, fix) = denied(&answer);
        assert_eq!(
            missing,
            "no role's db_labels match the database's labels env=prod: roles db (db_labels env=dev)"
        );
        assert_eq!(fix, "mwictl roles add-db-access db --db-labels env=prod");
    }

    #[test]
    fn a_user_the_role_already_allows_is_not_part_of_the_fix() {
        let b = bot(
            vec![role(
                "db-reader",
                RoleConditions {
                    database_users: strings(&["reader"]),
                    ..Default::default()
                },
                RoleConditions::default(),
            )],
            &[],
        );
        let answer = b.db(&DbQuery {
            db: "example".into(),
            user: Some("reader".into()),
            labels: Some(vec![("env".into(), "prod".into())]),
            ..Default::default()
        });
        let (_, fix) = denied(&answer);
        assert_eq!(
            fix,
            "mwictl roles add-db-access db-reader --db-labels env=prod"
        );
        let users = answer.checks.iter().find(|c| c.check == "db_users");
        assert_eq!(users.map(|c| c.outcome), Some(Outcome::Pass));
    }

    #[test]
    fn no_db_labels_at_all_matches_no_database_even_unchecked() {
        let b = bot(vec![db_role("db", RoleConditions::default())], &[]);
        let (missing, fix) = denied(&b.db(&query("pg")));
        assert!(
            missing.contains("has db_labels, so it matches no database"),
            "{missing}"
        );
        assert_eq!(fix, "mwictl roles add-db-access db --db-labels KEY=VALUE");
    }

    #[test]
    fn missing_user_is_added_to_the_role_whose_labels_match() {
        let b = bot(
            vec![
                db_role("first", RoleConditions::default()),
                db_role(
                    "prod",
                    RoleConditions {
                        database_labels: labels(&[("env", &["prod-*"])]),
                        ..Default::default()
                    },
                ),
            ],
            &[],
        );
        let answer = b.db(&DbQuery {
            db: "pg".into(),
            user: Some("reader".into()),
            name: Some("app".into()),
            labels: Some(vec![("env".into(), "prod-eu".into())]),
        });
        let (_, fix) = denied(&answer);
        assert_eq!(
            fix,
            "mwictl roles add-db-access prod --db-names app --db-users reader"
        );
    }

    #[test]
    fn deny_conditions_on_db_users_win() {
        let denier = role(
            "no-admin",
            RoleConditions::default(),
            RoleConditions {
                database_labels: labels(&[("*", &["*"])]),
                database_users: strings(&["admin"]),
                ..Default::default()
            },
        );
        let b = bot(
            vec![
                db_role(
                    "db",
                    RoleConditions {
                        database_labels: labels(&[("*", &["*"])]),
                        database_users: strings(&["*"]),
                        ..Default::default()
                    },
                ),
                denier,
            ],
            &[],
        );
        let mut q = query("pg");
        q.user = Some("admin".into());
        let (missing, fix) = denied(&b.db(&q));
        assert_eq!(
            missing,
            "role \"no-admin\" denies database user \"admin\" (deny.db_users)"
        );
        assert_eq!(fix, "mwictl edit role/no-admin");
        q.user = Some("reader".into());
        assert_eq!(allowed_by(&b.db(&q)), "db");
    }

    #[test]
    fn deny_rules_win_over_allow_rules() {
        let denier = role(
            "no-db",
            RoleConditions::default(),
            RoleConditions {
                rules: vec![rule(&["db"], &["list"])],
                ..Default::default()
            },
        );
        let b = bot(
            vec![
                db_role(
                    "db",
                    RoleConditions {
                        database_labels: labels(&[("*", &["*"])]),
                        ..Default::default()
                    },
                ),
                denier,
            ],
            &[],
        );
        let (missing, fix) = denied(&b.db(&query("pg")));
        assert_eq!(missing, "role \"no-db\" denies list on db (deny.rules)");
        assert_eq!(fix, "mwictl edit role/no-db");
    }

    #[test]
    fn rules_with_where_do_not_grant() {
        let mut r = db_role(
            "db",
            RoleConditions {
                database_labels: labels(&[("*", &["*"])]),
                ..Default::default()
            },
        );
        if let Some(allow) = r.spec.as_mut().and_then(|s| s.allow.as_mut()) {
            allow.rules[0].r#where = "contains(user.spec.traits[\"x\"], \"y\")".into();
        }
        let (missing, _) = denied(&bot(vec![r], &[]).db(&query("pg")));
        assert!(missing.contains("`where` predicate"), "{missing}");
    }

    #[test]
    fn label_selectors_match_like_teleport() {
        let db = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let none = Traits::new();
        let sel = labels(&[("env", &["prod", "staging"]), ("team", &["*"])]);
        assert!(labels_match(
            sel.as_ref(),
            &db(&[("env", "prod"), ("team", "x")]),
            &none
        ));
        assert!(!labels_match(sel.as_ref(), &db(&[("env", "prod")]), &none));
        assert!(!labels_match(
            sel.as_ref(),
            &db(&[("env", "dev"), ("team", "x")]),
            &none
        ));
        assert!(labels_match(
            labels(&[("*", &["*"])]).as_ref(),
            &db(&[]),
            &none
        ));
        assert!(!labels_match(
            labels(&[]).as_ref(),
            &db(&[("env", "prod")]),
            &none
        ));
        assert!(!labels_match(None, &db(&[("env", "prod")]), &none));
        let regex = labels(&[("env", &["^(prod|staging)$"])]);
        assert!(labels_match(regex.as_ref(), &db(&[("env", "prod")]), &none));
        assert!(!labels_match(regex.as_ref(), &db(&[("env", "dev")]), &none));
        let traits: Traits = [("env".to_string(), strings(&["prod"]))].into();
        let templated = labels(&[("env", &["{{internal.env}}"])]);
        assert!(labels_match(
            templated.as_ref(),
            &db(&[("env", "prod")]),
            &traits
        ));
    }

    #[test]
    fn fix_commands_quote_what_the_shell_would_read() {
        assert_eq!(shell_word("root"), "root");
        assert_eq!(shell_word("*=*"), "'*=*'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
