//! Reading what the checks need from the server: the bot's roles (those that exist) and its
//! traits, and the questions `bots can`, doctor's live checks and recover ask of them.

use crate::client::Client;
use crate::error::CommandError;

use super::{Answer, BotRoles, DbQuery, Decision, RoleLogins, Traits};

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
