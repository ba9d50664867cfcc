//! `mwictl bots instances show NAME/UUID`: one instance's authentications (with the generation
//! its next renewal must present), its latest heartbeat, the health of each of its services and
//! whether a lock blocks it.

use mwi_proto::machineid::{
    BotInstance, BotInstanceServiceHealth, BotInstanceStatusAuthentication,
};
use mwi_proto::types::LockTarget;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::instances::{
    aggregate_health, duration_text, get, health_json, health_text, latest_heartbeat, or_na,
    parse_instance_ref, time_text,
};
use crate::ops::tokens::mask_token;
use crate::ops::unlock::bot_resource_name;
use crate::output::Output;
use crate::output::Table;
use crate::resource::Resource;

/// Show one bot instance: authentications, generation, latest heartbeat, services, lock state.
///
/// Status is the least healthy of the services the instance's tbot reported with its latest
/// heartbeat (unhealthy, unknown, initializing, healthy, as tctl ranks them); the services table
/// gives each one's status and, when unhealthy, the reason. The argument is `BOT/UUID`, as
/// `mwictl bots instances ls` prints it. JSON: `{bot, instance_id, status, locked, generation,
/// locks, instance}` where `instance` is the bot_instance resource as `mwictl get
/// bot_instance/BOT/UUID` prints it (its `status.service_health` lists the services). Exit 3
/// when it does not exist.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The instance, as BOT/UUID.
    #[arg(value_name = "BOT/UUID")]
    pub id: String,
}

/// The instance and the in-force locks that block it.
pub struct InstanceView {
    pub instance: BotInstance,
    pub locks: Vec<String>,
}

fn authentication_text(a: &BotInstanceStatusAuthentication) -> String {
    let token = if a.join_token.is_empty() {
        "n/a".to_owned()
    } else {
        mask_token(&a.join_token)
    };
    format!(
        "  Authenticated at: {}\n  Join method:      {}\n  Join token:       {token}\n  Generation:       {}\n  Public key:       {} bytes\n",
        time_text(a.authenticated_at.as_ref()),
        or_na(&a.join_method),
        a.generation,
        a.public_key.len(),
    )
}

/// The services table: one row per service, by name (as tctl sorts them), with the reason an
/// unhealthy one gave.
fn services_text(services: &[BotInstanceServiceHealth]) -> String {
    if services.is_empty() {
        return "\nServices: none reported\n".into();
    }
    let mut sorted: Vec<&BotInstanceServiceHealth> = services.iter().collect();
    sorted.sort_by(|a, b| service_name(a).cmp(service_name(b)));
    let mut table = Table::new(&["Status", "Name", "Type", "Reason", "Updated At"]);
    for s in sorted {
        table.push(vec![
            health_text(s.status()).into(),
            or_na(service_name(s)),
            or_na(s.service.as_ref().map_or("", |id| id.r#type.as_str())),
            s.reason
                .clone()
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "-".into()),
            time_text(s.updated_at.as_ref()),
        ]);
    }
    let rendered: String = table.render().lines().map(|l| format!("  {l}\n")).collect();
    format!("\nServices:\n{rendered}")
}

fn service_name(s: &BotInstanceServiceHealth) -> &str {
    s.service.as_ref().map_or("", |id| id.name.as_str())
}

impl Output for InstanceView {
    fn text(&self) -> String {
        let spec = self.instance.spec.clone().unwrap_or_default();
        let status = self.instance.status.clone().unwrap_or_default();
        let mut out = format!(
            "Bot:    {}\nID:     {}\nStatus: {}\nLocked: {}\n",
            spec.bot_name,
            spec.instance_id,
            aggregate_health(&status.service_health).map_or("-", health_text),
            if self.locks.is_empty() {
                "no".to_owned()
            } else {
                format!(
                    "LOCKED by {} (remove with `mwictl unlock --bot {}`)",
                    self.locks.join(", "),
                    spec.bot_name
                )
            }
        );
        if !spec.previous_instance_id.is_empty() {
            out.push_str(&format!(
                "Previous instance: {}\n",
                spec.previous_instance_id
            ));
        }
        out.push_str("\nInitial authentication:\n");
        match &status.initial_authentication {
            Some(a) => out.push_str(&authentication_text(a)),
            None => out.push_str("  none\n"),
        }
        match status.latest_authentications.last() {
            Some(a) => {
                out.push_str(&format!(
                    "\nLatest authentication ({} kept):\n",
                    status.latest_authentications.len()
                ));
                out.push_str(&authentication_text(a));
            }
            None => out.push_str("\nLatest authentication: none\n"),
        }
        match latest_heartbeat(&self.instance) {
            Some(h) => {
                let os_arch = match (h.os.as_str(), h.architecture.as_str()) {
                    ("", "") => "n/a".to_owned(),
                    (os, arch) => format!("{}/{}", or_na(os), or_na(arch)),
                };
                out.push_str(&format!(
                    "\nLatest heartbeat:\n  Recorded at: {}\n  Hostname:    {}\n  Version:     {}\n  Uptime:      {}\n  OS/Arch:     {os_arch}\n  One shot:    {}\n",
                    time_text(h.recorded_at.as_ref()),
                    or_na(&h.hostname),
                    or_na(&h.version),
                    duration_text(h.uptime.as_ref()),
                    if h.one_shot { "yes" } else { "no" },
                ));
            }
            None => out.push_str("\nLatest heartbeat: none (tbot has not sent one)\n"),
        }
        out.push_str(&services_text(&status.service_health));
        out
    }

    fn json(&self) -> serde_json::Value {
        let spec = self.instance.spec.clone().unwrap_or_default();
        let generation = self
            .instance
            .status
            .as_ref()
            .and_then(|s| s.latest_authentications.last())
            .map(|a| a.generation);
        serde_json::json!({
            "bot": spec.bot_name,
            "instance_id": spec.instance_id,
            "status": self
                .instance
                .status
                .as_ref()
                .and_then(|s| aggregate_health(&s.service_health))
                .map(health_json),
            "locked": !self.locks.is_empty(),
            "locks": self.locks,
            "generation": generation,
            "instance": Resource::BotInstance(self.instance.clone()).to_value(),
        })
    }
}

pub async fn run(ctx: &Context, args: ShowArgs) -> Result<ExitStatus, CommandError> {
    let (bot, id) = parse_instance_ref(&args.id)?;
    let client = ctx.client().await?;
    let instance = get(client, bot, id).await?;
    let user = bot_resource_name(bot);
    let targets = vec![
        LockTarget {
            user: user.clone(),
            ..Default::default()
        },
        LockTarget {
            role: user,
            ..Default::default()
        },
        LockTarget {
            bot_instance_id: id.to_owned(),
            ..Default::default()
        },
    ];
    let locks = client
        .get_locks(targets, true)
        .await?
        .iter()
        .map(|l| crate::ops::unlock::lock_name(&l.value).to_owned())
        .collect();
    ctx.printer().print(&InstanceView { instance, locks })?;
    Ok(ExitStatus::Success)
}
