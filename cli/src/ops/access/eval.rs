//! The evaluation, the way Teleport's RBAC judges a bot's outputs: SSH logins (allow and deny),
//! database visibility rules, label selectors, names and users, and the fix each denial names.

use std::sync::LazyLock;

use mwi_proto::types::{RoleConditions, RoleV6, Rule};
use mwi_proto::wrappers::LabelValues;

use crate::shell::shell_word;

use super::templates::{Template, expand_all, parse_template, push_unique};
use super::{Answer, BotRoles, Check, DbQuery, Decision, Outcome, RoleLogins, Traits};

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

pub(super) fn role_name(role: &RoleV6) -> &str {
    role.metadata.as_ref().map_or("", |m| m.name.as_str())
}

pub(super) fn allow(role: &RoleV6) -> &RoleConditions {
    role.spec
        .as_ref()
        .and_then(|s| s.allow.as_ref())
        .unwrap_or(empty_conditions())
}

pub(super) fn deny(role: &RoleV6) -> &RoleConditions {
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

/// Whether `list` (db_names, db_users) allows `want`: an exact entry or `*`.
fn list_matches(list: &[String], want: &str) -> bool {
    list.iter().any(|v| v == want || v == "*")
}

/// Whether a role's label selector matches a resource with `labels`, with Teleport's semantics
/// (`mwi_identity::labels`: globs, `^...$` regular expressions, `*: *`) after the selector's
/// values are expanded with the bot's traits.
pub(super) fn labels_match(
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
