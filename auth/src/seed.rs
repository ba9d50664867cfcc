//! A synthetic fleet for scale tests and benchmarks (`mwictl lab seed`): bots, live instances
//! with varied versions, hostnames, last-seen times and service health, and locks, written
//! straight into a lab's database in large transactions (not one RPC per row).

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use mwi_proto::machineid::{
    BotInstance, BotInstanceHealthStatus, BotInstanceServiceHealth, BotInstanceServiceIdentifier,
    BotInstanceSpec, BotInstanceStatus, BotInstanceStatusAuthentication,
    BotInstanceStatusHeartbeat, BotKind,
};
use mwi_proto::teleport::header::v1::Metadata as HeaderMetadata;
use mwi_proto::types::{LockSpecV2, LockTarget, LockV2, Metadata};
use prost::Message;

use crate::bots::new_bot_rows;
use crate::datadir;
use crate::instances::key;
use crate::lab::LabError;
use crate::store::{self, Kind};

/// How many of each to add.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetSize {
    pub bots: usize,
    pub instances: usize,
    pub locks: usize,
}

/// What was added, and how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeded {
    pub size: FleetSize,
    pub elapsed: Duration,
}

/// Rows per transaction: large enough that a commit's sync is paid rarely, small enough that a
/// lab serving at the same time waits at most a moment for the write lock.
const BATCH: usize = 5_000;

/// The tbot versions seeded instances report, oldest first (so queries like
/// `older_than(version, "18.0.0")` and sorts by version have something to find).
pub const VERSIONS: &[&str] = &[
    "16.5.2",
    "17.4.8",
    "18.0.0-rc.1",
    "18.0.0",
    "18.1.5",
    "19.0.0",
];

/// The name of seeded bot `i`.
pub fn bot_name(i: usize) -> String {
    format!("seed-{i:05}")
}

fn timestamp(t: SystemTime) -> prost_types::Timestamp {
    t.into()
}

/// Instance `i`, of bot `i % bots`: version `VERSIONS[i % len]`, host `host-{i}`, last seen
/// `i % 3600` seconds ago, every tenth unhealthy. Its record expires in an hour.
fn instance(i: usize, bots: usize, now: SystemTime) -> (String, Vec<u8>, i64) {
    let bot = bot_name(i % bots.max(1));
    let id = uuid::Uuid::new_v4().to_string();
    let seen = now - Duration::from_secs((i % 3600) as u64);
    let expires = now + Duration::from_secs(3600);
    let unhealthy = i % 10 == 9;
    let heartbeat = BotInstanceStatusHeartbeat {
        recorded_at: Some(timestamp(seen)),
        version: VERSIONS[i % VERSIONS.len()].into(),
        hostname: format!("host-{i:06}"),
        uptime: Some(prost_types::Duration {
            seconds: 600,
            nanos: 0,
        }),
        join_method: "bound_keypair".into(),
        architecture: "amd64".into(),
        os: "linux".into(),
        kind: BotKind::Tbot.into(),
        ..Default::default()
    };
    let auth = BotInstanceStatusAuthentication {
        authenticated_at: Some(timestamp(seen)),
        join_method: "bound_keypair".into(),
        generation: 1 + (i % 50) as i32,
        ..Default::default()
    };
    let value = BotInstance {
        kind: "bot_instance".into(),
        version: "v1".into(),
        metadata: Some(HeaderMetadata {
            name: id.clone(),
            expires: Some(timestamp(expires)),
            ..Default::default()
        }),
        spec: Some(BotInstanceSpec {
            bot_name: bot.clone(),
            instance_id: id.clone(),
            ..Default::default()
        }),
        status: Some(BotInstanceStatus {
            initial_authentication: Some(auth.clone()),
            latest_authentications: vec![auth],
            initial_heartbeat: Some(heartbeat.clone()),
            latest_heartbeats: vec![heartbeat],
            service_health: vec![BotInstanceServiceHealth {
                service: Some(BotInstanceServiceIdentifier {
                    r#type: "identity".into(),
                    name: "identity-1".into(),
                }),
                status: if unhealthy {
                    BotInstanceHealthStatus::Unhealthy
                } else {
                    BotInstanceHealthStatus::Healthy
                }
                .into(),
                reason: unhealthy.then(|| "access denied: seeded failure".into()),
                updated_at: Some(timestamp(seen)),
            }],
        }),
        ..Default::default()
    }
    .encode_to_vec();
    let expires_ms = crate::store::now_ms() + 3_600_000;
    (key(&bot, &id), value, expires_ms)
}

/// Lock `i`: on seeded instance `instance_ids[i]` while there are instances left, then on the
/// user of bot `i % bots`.
fn lock(i: usize, target: LockTarget, now: SystemTime) -> (String, Vec<u8>) {
    let name = format!("seed-lock-{i:06}");
    let value = LockV2 {
        kind: "lock".into(),
        version: "v2".into(),
        metadata: Some(Metadata {
            name: name.clone(),
            ..Default::default()
        }),
        spec: Some(LockSpecV2 {
            target: Some(target),
            message: "seeded by mwictl lab seed".into(),
            created_at: Some(timestamp(now)),
            created_by: "mwictl lab seed".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec();
    (name, value)
}

/// Adds `size` to the lab at `data_dir` (running or not). Names start at 0, so seeding twice
/// replaces the bots and locks and adds instances. A running lab lists the new rows at once and
/// enforces the new locks within a second (it notices the outside write).
pub fn seed_fleet(data_dir: &Path, size: FleetSize) -> Result<Seeded, LabError> {
    if !data_dir.join(datadir::MARKER).is_file() {
        return Err(LabError::Foreign {
            path: data_dir.to_path_buf(),
        });
    }
    let started = Instant::now();
    let now = SystemTime::now();
    let bots = (0..size.bots).flat_map(|i| {
        new_bot_rows(&bot_name(i), "mwictl lab seed")
            .into_iter()
            .map(|(kind, name, value)| (kind, name, value, None))
    });
    let mut instance_ids = Vec::with_capacity(size.instances.min(size.locks));
    let instances = (0..size.instances).map(|i| {
        let (name, value, expires) = instance(i, size.bots, now);
        if instance_ids.len() < size.locks {
            instance_ids.push(name.rsplit('/').next().unwrap_or_default().to_owned());
        }
        (Kind::BotInstance, name, value, Some(expires))
    });
    let damaged = |e: store::OpenError| LabError::Damaged {
        path: data_dir.to_path_buf(),
        file: datadir::DATABASE.into(),
        reason: e.to_string(),
    };
    let path = data_dir.join(datadir::DATABASE);
    store::insert_bulk(&path, bots.chain(instances), BATCH).map_err(damaged)?;
    let locks = (0..size.locks).map(|i| {
        let target = match instance_ids.get(i) {
            Some(id) => LockTarget {
                bot_instance_id: id.clone(),
                ..Default::default()
            },
            None => LockTarget {
                user: mwi_identity::bot_resource_name(&bot_name(i % size.bots.max(1))),
                ..Default::default()
            },
        };
        let (name, value) = lock(i, target, now);
        (Kind::Lock, name, value, None)
    });
    store::insert_bulk(&path, locks, BATCH).map_err(damaged)?;
    Ok(Seeded {
        size,
        elapsed: started.elapsed(),
    })
}
