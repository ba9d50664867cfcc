//! Reading resources by reference (`lock`, `role/NAME`, `bot_instance/BOT/UUID`) and writing them
//! out page by page, with each kind's tctl-like table row; `mwictl get` is built on it.

use mwi_proto::machineid::{Bot, BotInstance, BotInstanceStatusAuthentication};
use mwi_proto::types::{LockV2, ProvisionTokenV2, RoleV6};
use mwi_proto::wrappers::LabelValues;

use crate::client::{Client, Fetched, Pager};
use crate::error::CommandError;
use crate::output::{ListWriter, Listed, Printer};
use crate::resource::{
    Kind, Resource, ResourceRef, format_timestamp, lock_target_text, render_yaml,
};

/// The table columns of each kind.
pub fn headers(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Lock => &["ID", "Target", "Message", "Expires"],
        Kind::Role => &[
            "Role",
            "Allowed to login as",
            "Node Labels",
            "Access to resources",
        ],
        Kind::Token => &["Token", "Type", "Join Method", "Bot", "Expiry Time (UTC)"],
        Kind::Bot => &["Bot", "User", "Roles"],
        Kind::BotInstance => &[
            "ID",
            "Join Method",
            "Hostname",
            "Joined",
            "Last Seen",
            "Generation",
        ],
    }
}

impl Listed for Resource {
    fn row(&self) -> Vec<String> {
        match self {
            Resource::Lock(lock) => lock_row(lock),
            Resource::Role(role) => role_row(role),
            Resource::Token(token) => token_row(token),
            Resource::Bot(bot) => bot_row(bot),
            Resource::BotInstance(instance) => bot_instance_row(instance),
        }
    }

    fn json(&self) -> serde_json::Value {
        self.to_value()
    }

    fn yaml(&self) -> String {
        render_yaml(std::slice::from_ref(self))
    }
}

/// Writes the resources `reference` names to stdout in the printer's format, a page at a time
/// (bot instances and roles are never all held in memory); returns how many there were. A named
/// resource that does not exist is a not-found error.
pub async fn write(
    client: &Client,
    reference: &ResourceRef,
    printer: &Printer,
) -> Result<usize, CommandError> {
    let mut out = ListWriter::new(printer, headers(reference.kind));
    match (&reference.kind, reference.name.as_deref()) {
        (Kind::Lock, Some(name)) => {
            out.page(&[Resource::Lock(client.get_lock(name).await?.value)])?
        }
        (Kind::Lock, None) => out.page(&resources(
            client.get_locks(vec![], false).await?,
            Resource::Lock,
        ))?,
        (Kind::Role, Some(name)) => {
            out.page(&[Resource::Role(client.get_role(name).await?.value)])?
        }
        (Kind::Role, None) => stream(client.roles(), Resource::Role, &mut out, printer).await?,
        (Kind::Token, Some(name)) => {
            out.page(&[Resource::Token(client.get_token(name).await?.value)])?
        }
        (Kind::Token, None) => out.page(&resources(client.get_tokens().await?, Resource::Token))?,
        (Kind::Bot, Some(name)) => out.page(&[Resource::Bot(client.get_bot(name).await?.value)])?,
        (Kind::Bot, None) => stream(client.bots(), Resource::Bot, &mut out, printer).await?,
        (Kind::BotInstance, Some(name)) => {
            let (bot, id) = name.split_once('/').unwrap_or((name, ""));
            let instance = client.get_bot_instance(bot, id).await?.value;
            out.page(&[Resource::BotInstance(instance)])?
        }
        (Kind::BotInstance, None) => {
            stream(
                client.bot_instances(None),
                Resource::BotInstance,
                &mut out,
                printer,
            )
            .await?
        }
    }
    out.finish()
}

fn resources<T>(items: Vec<Fetched<T>>, wrap: fn(T) -> Resource) -> Vec<Resource> {
    items.into_iter().map(|f| wrap(f.value)).collect()
}

async fn stream<T: prost::Message + Default>(
    mut pager: Pager<'_, T>,
    wrap: fn(T) -> Resource,
    out: &mut ListWriter<'_>,
    printer: &Printer,
) -> Result<(), CommandError> {
    while let Some(page) = pager.next_page().await? {
        out.page(&resources(page, wrap))?;
        if printer.is_closed() {
            break;
        }
    }
    Ok(())
}

fn lock_row(lock: &LockV2) -> Vec<String> {
    let spec = lock.spec.clone().unwrap_or_default();
    vec![
        lock.metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default(),
        spec.target
            .as_ref()
            .map(lock_target_text)
            .unwrap_or_default(),
        spec.message,
        spec.expires
            .as_ref()
            .map_or_else(|| "never".into(), format_timestamp),
    ]
}

fn role_row(role: &RoleV6) -> Vec<String> {
    let allow = role
        .spec
        .as_ref()
        .and_then(|s| s.allow.clone())
        .unwrap_or_default();
    let rules: Vec<String> = allow
        .rules
        .iter()
        .map(|r| format!("{}:{}", r.resources.join(","), r.verbs.join(",")))
        .collect();
    vec![
        role.metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default(),
        allow.logins.join(","),
        allow
            .node_labels
            .as_ref()
            .map(labels_text)
            .unwrap_or_default(),
        rules.join(" "),
    ]
}

fn labels_text(labels: &LabelValues) -> String {
    labels
        .values
        .iter()
        .map(|(k, v)| format!("{k}={}", v.values.join(",")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn token_row(token: &ProvisionTokenV2) -> Vec<String> {
    let spec = token.spec.clone().unwrap_or_default();
    let meta = token.metadata.clone().unwrap_or_default();
    vec![
        meta.name,
        spec.roles.join(","),
        spec.join_method,
        spec.bot_name,
        meta.expires
            .as_ref()
            .map_or_else(|| "never".into(), format_timestamp),
    ]
}

fn bot_row(bot: &Bot) -> Vec<String> {
    let status = bot.status.clone().unwrap_or_default();
    vec![
        bot.metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default(),
        status.user_name,
        bot.spec
            .as_ref()
            .map(|s| s.roles.join(","))
            .unwrap_or_default(),
    ]
}

fn bot_instance_row(instance: &BotInstance) -> Vec<String> {
    let spec = instance.spec.clone().unwrap_or_default();
    let status = instance.status.clone().unwrap_or_default();
    let latest_auth: Option<&BotInstanceStatusAuthentication> = status
        .latest_authentications
        .last()
        .or(status.initial_authentication.as_ref());
    let heartbeat = status
        .latest_heartbeats
        .last()
        .or(status.initial_heartbeat.as_ref());
    let time = |ts: Option<&prost_types::Timestamp>| {
        ts.map(format_timestamp).unwrap_or_else(|| "n/a".into())
    };
    let last_seen = heartbeat
        .and_then(|h| h.recorded_at.as_ref())
        .or(latest_auth.and_then(|a| a.authenticated_at.as_ref()));
    vec![
        format!("{}/{}", spec.bot_name, spec.instance_id),
        latest_auth
            .map(|a| a.join_method.clone())
            .unwrap_or_default(),
        heartbeat.map(|h| h.hostname.clone()).unwrap_or_default(),
        time(
            status
                .initial_authentication
                .as_ref()
                .and_then(|a| a.authenticated_at.as_ref()),
        ),
        time(last_seen),
        status
            .latest_authentications
            .last()
            .map_or_else(|| "n/a".into(), |a| a.generation.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::machineid::{BotInstanceSpec, BotInstanceStatus, BotInstanceStatusHeartbeat};
    use mwi_proto::types::{LockSpecV2, LockTarget, Metadata};

    fn ts(seconds: i64) -> Option<prost_types::Timestamp> {
        Some(prost_types::Timestamp { seconds, nanos: 0 })
    }

    #[test]
    fn lock_row_shows_target_and_never_expiring() {
        let lock = LockV2 {
            metadata: Some(Metadata {
                name: "l1".into(),
                ..Default::default()
            }),
            spec: Some(LockSpecV2 {
                target: Some(LockTarget {
                    user: "bot-example".into(),
                    ..Default::default()
                }),
                message: "generation mismatch".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            Resource::Lock(lock).row(),
            vec!["l1", "User:\"bot-example\"", "generation mismatch", "never"]
        );
    }

    #[test]
    fn bot_instance_row_takes_the_latest_generation() {
        let auth = |generation, at| BotInstanceStatusAuthentication {
            authenticated_at: ts(at),
            join_method: "token".into(),
            generation,
            ..Default::default()
        };
        let instance = BotInstance {
            spec: Some(BotInstanceSpec {
                bot_name: "example".into(),
                instance_id: "u1".into(),
                ..Default::default()
            }),
            status: Some(BotInstanceStatus {
                initial_authentication: Some(auth(1, 0)),
                latest_authentications: vec![auth(1, 0), auth(3, 60)],
                latest_heartbeats: vec![BotInstanceStatusHeartbeat {
                    recorded_at: ts(120),
                    hostname: "host-a".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let row = Resource::BotInstance(instance).row();
        assert_eq!(row[0], "example/u1");
        assert_eq!(row[1], "token");
        assert_eq!(row[2], "host-a");
        assert_eq!(row[5], "3");
        assert!(row[3].starts_with("1970-01-01T00:00:00"), "{}", row[3]);
        assert!(row[4].starts_with("1970-01-01T00:02:00"), "{}", row[4]);
    }

    #[test]
    fn instance_without_authentications_has_no_generation() {
        let row = Resource::BotInstance(BotInstance::default()).row();
        assert_eq!(row[5], "n/a");
        assert_eq!(row.len(), headers(Kind::BotInstance).len());
    }
}
