//! S3, SSH login not allowed: show which roles grant which logins, then add the login to a role
//! the bot impersonates or to the bot's `logins` trait, with a diff preview.

use mwi_proto::types::RoleV6;

use crate::client::Client;
use crate::error::CommandError;
use crate::ops::access::{self, Decision, Outcome};
use crate::recover::flows::access_tail;
use crate::recover::plan::{Flow, FlowInput, Plan, Planned, Prefetched};
use crate::recover::step::{Evidence, Expect, RoleEdit, Step};

/// Reads the bot's roles and plans the change that grants `input.login`.
pub async fn plan(client: &Client, bot: &str, input: &FlowInput) -> Result<Planned, CommandError> {
    let login = input
        .login
        .clone()
        .ok_or_else(|| CommandError::usage("recover ssh-login needs --login LOGIN"))?;
    let roles = access::load_bot(client, bot).await?;
    let answer = roles.ssh(&login);
    let mut facts: Vec<String> = answer
        .roles
        .iter()
        .map(|r| {
            let logins = if r.logins.is_empty() {
                "no logins".to_string()
            } else {
                r.logins.join(", ")
            };
            format!("role {:?} grants {logins}", r.role)
        })
        .collect();
    facts.extend(
        answer
            .checks
            .iter()
            .filter(|c| c.outcome != Outcome::Pass)
            .map(|c| format!("{}: {}", c.check, c.detail)),
    );
    let mut steps = Vec::new();
    let mut after = Vec::new();
    let mut prefetched = Prefetched::default();
    let headline = match &answer.decision {
        Decision::Allowed { by_role, .. } => {
            after.push(format!(
                "bot {bot:?} may already log in as {login:?} (role {by_role:?}); if tbot's certificates still lack it, they predate the change: restart tbot or send it SIGUSR1"
            ));
            format!("the roles of bot {bot:?} already allow SSH login {login:?}")
        }
        Decision::Denied { missing, .. } => {
            format!("bot {bot:?} may not log in as {login:?}: {missing}")
        }
    };
    steps.push(Step::ShowEvidence {
        evidence: Evidence {
            headline,
            facts,
            ..Default::default()
        },
    });
    if !answer.decision.is_allowed() {
        let trait_roles: Vec<&RoleV6> = roles
            .roles
            .iter()
            .filter(|r| uses_logins_trait(r))
            .collect();
        let use_trait = match (&input.role, input.use_trait) {
            (Some(_), _) => false,
            (None, true) => {
                if trait_roles.is_empty() {
                    return Err(CommandError::usage(format!(
                        "no role of bot {bot:?} takes logins from the logins trait ({{{{internal.logins}}}}), so --trait would not grant {login:?}"
                    ))
                    .hint(format!("add the login to a role instead: --role {}", first_role(&roles.roles, bot)?)));
                }
                true
            }
            (None, false) => !trait_roles.is_empty(),
        };
        if use_trait {
            steps.push(Step::UpdateBotTraits {
                bot: bot.to_string(),
                add_logins: vec![login.clone()],
            });
        } else {
            let role = match &input.role {
                Some(role) => {
                    if !roles.role_names.contains(role) {
                        return Err(CommandError::usage(format!(
                            "role {role:?} is not one of bot {bot:?}'s roles ({}): a login added there does not reach the bot",
                            roles.role_names.join(", ")
                        ))
                        .hint("pick one of the bot's roles, or add the role with `mwictl bots update NAME --add-roles ROLE`"));
                    }
                    role.clone()
                }
                None => first_role(&roles.roles, bot)?,
            };
            let change =
                crate::ops::roles::plan_add_login(client, &role, std::slice::from_ref(&login))
                    .await?;
            steps.push(Step::UpdateRole {
                role: role.clone(),
                edit: RoleEdit::AddLogins {
                    logins: vec![login.clone()],
                },
                diff: change.diff.clone(),
            });
            prefetched.role_change = Some(change);
        }
        access_tail(&mut steps, &mut after, input);
    }
    steps.push(Step::Verify {
        bot: bot.to_string(),
        expect: Expect::SshLogin { login },
    });
    Ok(Planned {
        plan: Plan {
            operation: Flow::SshLogin.into(),
            bot: bot.to_string(),
            steps,
            after,
        },
        prefetched,
    })
}

/// The first of the bot's roles that exists: the default place for the login.
fn first_role(roles: &[RoleV6], bot: &str) -> Result<String, CommandError> {
    roles
        .iter()
        .find_map(|r| r.metadata.as_ref().map(|m| m.name.clone()))
        .ok_or_else(|| {
            CommandError::usage(format!(
                "bot {bot:?} has no role that exists, so no login reaches it"
            ))
            .hint(format!(
                "give it a role: `mwictl bots update {bot} --add-roles ROLE`"
            ))
        })
}

/// Whether the role's logins come from the bot's `logins` trait (`{{internal.logins}}`).
fn uses_logins_trait(role: &RoleV6) -> bool {
    role.spec
        .as_ref()
        .and_then(|s| s.allow.as_ref())
        .is_some_and(|a| {
            a.logins
                .iter()
                .any(|l| l.replace(' ', "").contains("{{internal.logins}}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::types::{RoleConditions, RoleSpecV6};

    fn role(logins: &[&str]) -> RoleV6 {
        RoleV6 {
            spec: Some(RoleSpecV6 {
                allow: Some(RoleConditions {
                    logins: logins.iter().map(|s| s.to_string()).collect(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_logins_trait_is_recognised_with_or_without_spaces() {
        assert!(uses_logins_trait(&role(&["{{internal.logins}}"])));
        assert!(uses_logins_trait(&role(&["root", "{{ internal.logins }}"])));
        assert!(!uses_logins_trait(&role(&["root"])));
        assert!(!uses_logins_trait(&RoleV6::default()));
    }
}
