//! S4, database not found: the bot's roles lack the `db_server`/`db` read+list rule or the db
//! grants; add them to a role the bot impersonates (diff preview), or recreate the bot with an
//! added role, keeping everything else.

use crate::client::Client;
use crate::error::CommandError;
use crate::ops::access::{self, Answer, BotRoles, DbQuery, Decision, Outcome};
use crate::ops::bots::BotChanges;
use crate::recover::flows::{access_tail, token_tail};
use crate::recover::plan::{Flow, FlowInput, Plan, Planned, Prefetched};
use crate::recover::step::{Evidence, Expect, RoleEdit, Step};

/// Reads the bot's roles and plans the change that lets it see `input.db`.
pub async fn plan(client: &Client, bot: &str, input: &FlowInput) -> Result<Planned, CommandError> {
    let db = input
        .db
        .clone()
        .ok_or_else(|| CommandError::usage("recover db-access needs --db NAME"))?;
    let roles = access::load_bot(client, bot).await?;
    let query = DbQuery {
        db: db.clone(),
        name: input.db_name.clone(),
        user: input.db_user.clone(),
        labels: None,
    };
    let answer = roles.db(&query);
    let mut facts = check_lines(&answer);
    let expect = Expect::Database {
        db: db.clone(),
        name: input.db_name.clone(),
        user: input.db_user.clone(),
    };
    let mut steps = Vec::new();
    let mut after = Vec::new();
    let mut prefetched = Prefetched::default();
    let (missing, fix_command) = match &answer.decision {
        Decision::Allowed { by_role, .. } => {
            after.push(format!(
                "role {by_role:?} already grants database {db:?}; if tbot still says \"not found\", its certificates predate the change: restart tbot or send it SIGUSR1"
            ));
            steps.push(evidence(
                format!("the roles of bot {bot:?} already allow database {db:?}"),
                facts,
            ));
            steps.push(Step::Verify {
                bot: bot.to_string(),
                expect,
            });
            return Ok(planned(bot, steps, after, prefetched));
        }
        Decision::Denied {
            missing,
            fix_command,
        } => (missing.clone(), fix_command.clone()),
    };
    let headline = format!("bot {bot:?} cannot see database {db:?}: {missing}");
    if let Some(new_role) = &input.recreate_with {
        facts.extend(with_role(client, &roles, new_role, &query).await?);
        steps.push(evidence(headline, facts));
        let changes = BotChanges {
            add_roles: vec![new_role.clone()],
            ..Default::default()
        };
        steps.extend(Step::recreate_bot(
            bot,
            changes,
            Vec::new(),
            input.token_ttl_seconds,
        ));
        let known = client
            .bot_instances(Some(bot))
            .collect_all()
            .await?
            .into_iter()
            .filter_map(|i| i.value.spec.map(|s| s.instance_id))
            .collect();
        token_tail(&mut steps, &mut after, bot, known, input);
        return Ok(planned(bot, steps, after, prefetched));
    }
    if let Some(denier) = fix_command.strip_prefix("mwictl edit role/") {
        return Err(CommandError::usage(format!(
            "role {denier:?} denies database {db:?} to bot {bot:?} ({missing}); mwictl does not remove deny rules"
        ))
        .hint(format!("edit it by hand: `mwictl edit role/{denier}`")));
    }
    let role = match &input.role {
        Some(role) if !roles.role_names.contains(role) => {
            return Err(CommandError::usage(format!(
                "role {role:?} is not one of bot {bot:?}'s roles ({}): access added there does not reach the bot",
                roles.role_names.join(", ")
            ))
            .hint(format!("pick one of them, or use --recreate {role} to give the bot that role")));
        }
        Some(role) => role.clone(),
        None => suggested_role(&fix_command, &roles, bot)?,
    };
    let labels_missing = answer
        .checks
        .iter()
        .any(|c| c.check == "db_labels" && c.outcome == Outcome::Fail);
    if labels_missing && input.db_labels.is_empty() {
        return Err(CommandError::usage(format!(
            "no role of bot {bot:?} selects database {db:?} by its labels; say which labels to add with --db-labels"
        ))
        .hint("pass the database's labels (`tsh db ls` shows them), e.g. --db-labels env=dev, or --db-labels '*=*' for every database"));
    }
    let grant = crate::ops::roles::DbGrant {
        labels: input.db_labels.clone(),
        names: input.db_name.iter().cloned().collect(),
        users: input.db_user.iter().cloned().collect(),
    };
    let change = crate::ops::roles::plan_add_db_access(client, &role, &grant).await?;
    if !change.changed {
        return Err(CommandError::failure(format!(
            "role {role:?} already has the rule and grants asked for, yet bot {bot:?} cannot see database {db:?}: {missing}"
        ))
        .hint(format!("see why with `mwictl bots can {bot} db {db}`")));
    }
    facts.extend(change.warnings.iter().map(|w| format!("note: {w}")));
    steps.push(evidence(headline, facts));
    steps.push(Step::UpdateRole {
        role: role.clone(),
        edit: RoleEdit::AddDbAccess {
            labels: grant.labels,
            names: grant.names,
            users: grant.users,
        },
        diff: change.diff.clone(),
    });
    prefetched.role_change = Some(change);
    access_tail(&mut steps, &mut after, input);
    steps.push(Step::Verify {
        bot: bot.to_string(),
        expect,
    });
    Ok(planned(bot, steps, after, prefetched))
}

fn planned(bot: &str, steps: Vec<Step>, after: Vec<String>, prefetched: Prefetched) -> Planned {
    Planned {
        plan: Plan {
            operation: Flow::DbAccess.into(),
            bot: bot.to_string(),
            steps,
            after,
        },
        prefetched,
    }
}

fn evidence(headline: String, facts: Vec<String>) -> Step {
    Step::ShowEvidence {
        evidence: Evidence {
            headline,
            facts,
            ..Default::default()
        },
    }
}

/// One line per part of the access evaluation.
fn check_lines(answer: &Answer) -> Vec<String> {
    answer
        .checks
        .iter()
        .map(|c| {
            let outcome = match c.outcome {
                Outcome::Pass => "ok",
                Outcome::Fail => "MISSING",
                Outcome::NotChecked => "not checked",
            };
            format!("{}: {outcome}: {}", c.check, c.detail)
        })
        .collect()
}

/// The role the access check's fix names (`mwictl roles add-db-access ROLE ...`), else the
/// bot's first role.
fn suggested_role(fix_command: &str, roles: &BotRoles, bot: &str) -> Result<String, CommandError> {
    let from_fix = fix_command
        .strip_prefix("mwictl roles add-db-access ")
        .and_then(|rest| rest.split_whitespace().next())
        .filter(|r| roles.role_names.iter().any(|n| n == r));
    from_fix
        .map(str::to_string)
        .or_else(|| {
            roles
                .roles
                .iter()
                .find_map(|r| r.metadata.as_ref().map(|m| m.name.clone()))
        })
        .ok_or_else(|| {
            CommandError::usage(format!(
                "bot {bot:?} has no role that exists to add database access to"
            ))
            .hint(format!(
                "give it a role with `mwictl recover db-access --bot {bot} --db DB --recreate ROLE`"
            ))
        })
}

/// Whether the bot would see the database with `new_role` added, as evidence lines.
async fn with_role(
    client: &Client,
    roles: &BotRoles,
    new_role: &str,
    query: &DbQuery,
) -> Result<Vec<String>, CommandError> {
    let role = client.get_role(new_role).await.map_err(|e| {
        let err = CommandError::from(e);
        err.hint("--recreate needs an existing role that grants the database; list them with `mwictl roles ls`")
    })?;
    let mut with = roles.clone();
    with.role_names.push(new_role.to_string());
    with.roles.push(role.value);
    let answer = with.db(query);
    Ok(vec![match answer.decision {
        Decision::Allowed { detail, .. } => format!("with role {new_role:?} added: {detail}"),
        Decision::Denied { missing, .. } => format!(
            "WARNING: even with role {new_role:?} added the bot would not see it: {missing}"
        ),
    }])
}
