//! Per-service health, as tbot reports it with each heartbeat: every output starts
//! `initializing`, turns `healthy` after a successful refresh and `unhealthy` (with the error as
//! the reason) after a failed one; `updated_at` moves only when the health changes.

use std::time::SystemTime;

use mwi_proto::machineid::{
    BotInstanceHealthStatus, BotInstanceServiceHealth, BotInstanceServiceIdentifier,
};

use crate::config::{Output, OutputKind};

/// tbot trims a service's name to 64 bytes and its reason to 256 before sending them
/// (tbot's heartbeat service, `statusToServiceHealth`).
const NAME_MAX: usize = 64;
const REASON_MAX: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Service {
    kind: &'static str,
    name: String,
    status: BotInstanceHealthStatus,
    reason: Option<String>,
    updated_at: SystemTime,
}

/// The health of each configured output, in the configuration's order.
#[derive(Debug, Clone)]
pub(crate) struct Health {
    services: Vec<Service>,
}

/// The service type tbot reports for an output.
fn kind(output: &Output) -> &'static str {
    match output.kind {
        OutputKind::Identity { .. } => "identity",
        OutputKind::Database { .. } => "database",
    }
}

/// `s` cut to at most `max` bytes on a character boundary.
fn trim(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

impl Health {
    /// Every output `initializing`. Unnamed services get tbot's generated name, `TYPE-N` (N
    /// counts from 1 in the configuration's order).
    pub(crate) fn new(outputs: &[Output], now: SystemTime) -> Health {
        let services = outputs
            .iter()
            .enumerate()
            .map(|(i, output)| Service {
                kind: kind(output),
                name: trim(&format!("{}-{}", kind(output), i + 1), NAME_MAX),
                status: BotInstanceHealthStatus::Initializing,
                reason: None,
                updated_at: now,
            })
            .collect();
        Health { services }
    }

    fn set(&mut self, index: usize, status: BotInstanceHealthStatus, reason: Option<String>) {
        let Some(service) = self.services.get_mut(index) else {
            return;
        };
        let reason = reason.map(|r| trim(&r, REASON_MAX));
        if service.status != status || service.reason != reason {
            service.status = status;
            service.reason = reason;
            service.updated_at = SystemTime::now();
        }
    }

    pub(crate) fn healthy(&mut self, index: usize) {
        self.set(index, BotInstanceHealthStatus::Healthy, None);
    }

    pub(crate) fn unhealthy(&mut self, index: usize, reason: &str) {
        self.set(
            index,
            BotInstanceHealthStatus::Unhealthy,
            Some(reason.to_owned()),
        );
    }

    /// What the next heartbeat carries (`SubmitHeartbeatRequest.service_health`).
    pub(crate) fn report(&self) -> Vec<BotInstanceServiceHealth> {
        self.services
            .iter()
            .map(|s| BotInstanceServiceHealth {
                service: Some(BotInstanceServiceIdentifier {
                    r#type: s.kind.to_owned(),
                    name: s.name.clone(),
                }),
                status: s.status.into(),
                reason: s.reason.clone(),
                updated_at: Some(s.updated_at.into()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn output(kind: OutputKind) -> Output {
        Output {
            kind,
            destination: PathBuf::from("/out"),
            roles: vec![],
            origin: "services[0]".into(),
        }
    }

    fn outputs() -> Vec<Output> {
        vec![
            output(OutputKind::Identity {
                ssh_login: None,
                ssh_config: false,
            }),
            output(OutputKind::Database {
                service: "db".into(),
                database: None,
                username: None,
            }),
        ]
    }

    #[test]
    fn services_start_initializing_with_generated_names() {
        let health = Health::new(&outputs(), SystemTime::UNIX_EPOCH);
        let report = health.report();
        let names: Vec<_> = report
            .iter()
            .map(|h| {
                let id = h.service.clone().unwrap();
                (id.r#type, id.name, h.status())
            })
            .collect();
        assert_eq!(
            names,
            [
                (
                    "identity".into(),
                    "identity-1".into(),
                    BotInstanceHealthStatus::Initializing
                ),
                (
                    "database".into(),
                    "database-2".into(),
                    BotInstanceHealthStatus::Initializing
                ),
            ]
        );
        assert!(report.iter().all(|h| h.reason.is_none()));
    }

    #[test]
    fn a_failure_carries_its_reason_and_a_success_clears_it() {
        let mut health = Health::new(&outputs(), SystemTime::UNIX_EPOCH);
        health.unhealthy(1, "access denied");
        let report = health.report();
        assert_eq!(report[1].status(), BotInstanceHealthStatus::Unhealthy);
        assert_eq!(report[1].reason.as_deref(), Some("access denied"));
        assert_ne!(report[1].updated_at, report[0].updated_at);
        health.healthy(1);
        let report = health.report();
        assert_eq!(report[1].status(), BotInstanceHealthStatus::Healthy);
        assert_eq!(report[1].reason, None);
    }

    #[test]
    fn an_unchanged_health_keeps_its_time() {
        let mut health = Health::new(&outputs(), SystemTime::UNIX_EPOCH);
        health.healthy(0);
        let first = health.report()[0].updated_at;
        health.healthy(0);
        assert_eq!(health.report()[0].updated_at, first);
    }

    #[test]
    fn long_reasons_are_cut_on_a_character_boundary() {
        let mut health = Health::new(&outputs(), SystemTime::UNIX_EPOCH);
        health.unhealthy(0, &"é".repeat(200));
        let reason = health.report()[0].reason.clone().unwrap();
        assert_eq!(reason.len(), 256);
        assert!(reason.chars().all(|c| c == 'é'));
    }
}
