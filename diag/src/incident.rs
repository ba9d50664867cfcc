//! The product's incident catalogue: one entry per incident (S1–S7) with its id, name, title, cause
//! and fix, the recover flow that repairs it and the `lab break` scenario that causes it.
//!
//! Doctor, lint, recover and the lab take every per-incident name and text from here and match on
//! [`Incident`], never on id strings. Adding an incident (the bound-keypair S8–S12) is one variant,
//! one entry in [`Incident::ALL`] and one arm in [`Incident::entry`]; the compiler then points at
//! each `match` that needs its code.
//!
//! ```
//! use mwi_diag::incident::{Flow, Incident};
//! let s1 = Incident::from_id("S1").unwrap();
//! assert_eq!(s1.name(), "generation-mismatch");
//! assert_eq!(s1.flow(), Some(Flow::GenerationMismatch));
//! assert_eq!(serde_json::to_string(&s1).unwrap(), "\"S1\"");
//! ```

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One of the product's incidents. Text and JSON name it by its id (`S1`); see [`Entry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Incident {
    GenerationMismatch,
    Expired,
    SshLogin,
    DbAccess,
    K8sSecret,
    SplitDns,
    NoProxy,
}

/// What the catalogue says about one incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// `S1`: the id of the product's incident table, used in text and JSON.
    pub id: &'static str,
    /// `generation-mismatch`: the short name, as `lab break` and `recover` spell it.
    pub name: &'static str,
    /// What went wrong, as the doctor heads a finding.
    pub title: &'static str,
    /// Why it happens, in a sentence or two.
    pub cause: &'static str,
    /// How to fix it, in a sentence or two.
    pub fix: &'static str,
    /// The `mwictl recover` flow that repairs it; `None` when `mwictl lint --fix` is the fix.
    pub flow: Option<Flow>,
    /// The `mwictl lab break` scenario that causes it, to rehearse diagnosis and recovery.
    pub lab: LabScenario,
}

/// How `mwictl lab break` causes an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabScenario {
    /// The SCENARIO argument.
    pub name: &'static str,
    /// The state the scenario leaves the bot in, in a few words.
    pub title: &'static str,
    /// What the scenario does, as `lab break --help` lists it after the id.
    pub help: &'static str,
}

impl Incident {
    /// Every incident, in id order.
    pub const ALL: [Incident; 7] = [
        Incident::GenerationMismatch,
        Incident::Expired,
        Incident::SshLogin,
        Incident::DbAccess,
        Incident::K8sSecret,
        Incident::SplitDns,
        Incident::NoProxy,
    ];

    /// The catalogue entry.
    pub fn entry(self) -> &'static Entry {
        match self {
            Incident::GenerationMismatch => &Entry {
                id: "S1",
                name: "generation-mismatch",
                title: "generation mismatch: the bot is locked",
                cause: "A renewal presented an older certificate generation than the auth service \
                        stored, so it locked the bot: two tbot processes shared one storage \
                        directory, or the storage was copied or is on a network file system.",
                fix: "Remove the lock, issue a new join token, put it in tbot.yaml and restart \
                      tbot; keep one tbot per storage directory, off network file systems.",
                flow: Some(Flow::GenerationMismatch),
                lab: LabScenario {
                    name: "generation-mismatch",
                    title: "locked after a certificate generation mismatch",
                    help: "two agents share one data dir; a renewal presents a stale \
                           generation and the lab locks the bot",
                },
            },
            Incident::Expired => &Entry {
                id: "S2",
                name: "expired",
                title: "bot identity expired",
                cause: "tbot was down longer than its credential TTL, so its certificate expired; \
                        a token-joined bot cannot renew it and its one-time token is spent.",
                fix: "Issue a new join token, put it in tbot.yaml and restart tbot.",
                flow: Some(Flow::Expired),
                lab: LabScenario {
                    name: "expired",
                    title: "identity expired, one-time token spent",
                    help: "the agent stops and its short-lived identity expires; its token is \
                           spent",
                },
            },
            Incident::SshLogin => &Entry {
                id: "S3",
                name: "ssh-login",
                title: "SSH login not allowed by the bot's certificate",
                cause: "None of the roles the bot impersonates grants the SSH login, so the node \
                        refuses the certificate tbot wrote.",
                fix: "Add the login to a role the bot uses (or to the bot's logins trait); tbot \
                      picks it up at its next renewal.",
                flow: Some(Flow::SshLogin),
                lab: LabScenario {
                    name: "ssh-login",
                    title: "SSH login not allowed by the bot's roles",
                    help: "the bot's roles lack the SSH login its identity output needs",
                },
            },
            Incident::DbAccess => &Entry {
                id: "S4",
                name: "db-access",
                title: "database not visible to the bot",
                cause: "The bot's roles cannot read db_server and db or grant no access to the \
                        database, so tbot finds none although `tsh db ls` shows it.",
                fix: "Give a role of the bot read and list on db_server and db and a grant for \
                      the database (db_labels, db_names, db_users).",
                flow: Some(Flow::DbAccess),
                lab: LabScenario {
                    name: "db-access",
                    title: "database hidden by RBAC",
                    help: "the bot's role cannot read database servers, so its database \
                           output finds none",
                },
            },
            Incident::K8sSecret => &Entry {
                id: "S5",
                name: "k8s-secret",
                title: "kubernetes output to a secret needs disable_exec_plugin",
                cause: "A kubernetes output writes to a kubernetes_secret, but the exec plugin \
                        mode needs a directory destination.",
                fix: "Set `disable_exec_plugin: true` on the output (`mwictl lint --fix`) and \
                      restart tbot.",
                flow: None,
                lab: LabScenario {
                    name: "k8s-secret",
                    title: "kubernetes output to a kubernetes_secret without disable_exec_plugin",
                    help: "kubernetes output to a kubernetes_secret without \
                           disable_exec_plugin",
                },
            },
            Incident::SplitDns => &Entry {
                id: "S6",
                name: "split-dns",
                title: "proxy_server behind split DNS without TBOT_USE_PROXY_ADDR",
                cause: "Behind split DNS the proxy's name resolves to an internal address, but \
                        tbot connects to the public address the proxy advertises unless \
                        TBOT_USE_PROXY_ADDR is set; its dial then fails (`failed dial to auth \
                        server through reverse tunnel`).",
                fix: "Set TBOT_USE_PROXY_ADDR=yes in tbot's environment; `mwictl lint` says what \
                      it does with this config.",
                flow: None,
                lab: LabScenario {
                    name: "split-dns",
                    title: "proxy_server behind split DNS without TBOT_USE_PROXY_ADDR",
                    help: "proxy_server behind split DNS, TBOT_USE_PROXY_ADDR unset",
                },
            },
            Incident::NoProxy => &Entry {
                id: "S7",
                name: "no-proxy",
                title: "proxy unreachable while auth_server is set",
                cause: "tbot talks to the auth service directly, but an identity output pings the \
                        proxy to write ssh_config and the proxy cannot be reached.",
                fix: "Set `ssh_config: \"off\"` on identity outputs that need no ssh_config \
                      (`mwictl lint --fix`), or let tbot reach the proxy.",
                flow: None,
                lab: LabScenario {
                    name: "no-proxy",
                    title: "auth_server with an identity output that needs the proxy",
                    help: "auth_server with an identity output whose ssh_config is not \
                           off",
                },
            },
        }
    }

    /// `S1`..`S7`.
    pub fn id(self) -> &'static str {
        self.entry().id
    }

    /// `generation-mismatch`, `expired`, ...
    pub fn name(self) -> &'static str {
        self.entry().name
    }

    pub fn title(self) -> &'static str {
        self.entry().title
    }

    pub fn flow(self) -> Option<Flow> {
        self.entry().flow
    }

    pub fn lab(self) -> &'static LabScenario {
        &self.entry().lab
    }

    /// The incident with this id (`S1`).
    pub fn from_id(id: &str) -> Option<Incident> {
        Incident::ALL.into_iter().find(|i| i.id() == id)
    }

    /// The incident whose `lab break` scenario has this name.
    pub fn from_lab_scenario(name: &str) -> Option<Incident> {
        Incident::ALL.into_iter().find(|i| i.lab().name == name)
    }
}

impl fmt::Display for Incident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Incident {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

impl<'de> Deserialize<'de> for Incident {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Incident, D::Error> {
        let id = String::deserialize(deserializer)?;
        Incident::from_id(&id).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown incident {id:?} (expected one of {})",
                Incident::ALL.map(Incident::id).join(", ")
            ))
        })
    }
}

/// A recovery flow: `mwictl recover NAME` (unattended) or the wizard's choice, and the name a
/// journal records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flow {
    GenerationMismatch,
    Expired,
    SshLogin,
    DbAccess,
}

impl Flow {
    /// Every flow, in the order of their incidents.
    pub const ALL: [Flow; 4] = [
        Flow::GenerationMismatch,
        Flow::Expired,
        Flow::SshLogin,
        Flow::DbAccess,
    ];

    /// The incident it repairs.
    pub fn incident(self) -> Incident {
        match self {
            Flow::GenerationMismatch => Incident::GenerationMismatch,
            Flow::Expired => Incident::Expired,
            Flow::SshLogin => Incident::SshLogin,
            Flow::DbAccess => Incident::DbAccess,
        }
    }

    /// The `mwictl recover` subcommand: the incident's name.
    pub fn name(self) -> &'static str {
        self.incident().name()
    }

    /// The incident as a recovery plan states it.
    pub fn title(self) -> &'static str {
        match self {
            Flow::GenerationMismatch => "certificate generation mismatch: the bot is locked",
            Flow::Expired => "the bot's identity expired and its one-time token is spent",
            Flow::SshLogin => "the bot's roles do not grant the SSH login",
            Flow::DbAccess => "the bot's roles cannot see the database",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_and_names_are_unique_and_ids_parse_back() {
        let mut ids = HashSet::new();
        let mut names = HashSet::new();
        for incident in Incident::ALL {
            assert!(ids.insert(incident.id()), "{incident:?}: id reused");
            assert!(names.insert(incident.name()), "{incident:?}: name reused");
            assert_eq!(Incident::from_id(incident.id()), Some(incident));
            let json = serde_json::to_string(&incident).unwrap();
            assert_eq!(json, format!("\"{}\"", incident.id()));
            assert_eq!(serde_json::from_str::<Incident>(&json).unwrap(), incident);
        }
        assert_eq!(Incident::from_id("S0"), None);
        let err = serde_json::from_str::<Incident>("\"S0\"").unwrap_err();
        assert!(err.to_string().contains("unknown incident \"S0\""), "{err}");
    }

    #[test]
    fn all_is_in_id_order_and_entries_have_text() {
        let mut sorted = Incident::ALL;
        sorted.sort();
        assert_eq!(sorted, Incident::ALL);
        for incident in Incident::ALL {
            let e = incident.entry();
            for text in [e.title, e.cause, e.fix] {
                assert!(!text.trim().is_empty(), "{incident:?}");
                assert!(!text.contains("  "), "{incident:?}: {text:?}");
            }
        }
    }

    #[test]
    fn each_flow_belongs_to_exactly_its_incident() {
        for flow in Flow::ALL {
            assert_eq!(flow.incident().flow(), Some(flow), "{flow:?}");
            let json = serde_json::to_string(&flow).unwrap();
            assert_eq!(json, format!("\"{}\"", flow.name()));
        }
        let with_flow: Vec<Flow> = Incident::ALL.iter().filter_map(|i| i.flow()).collect();
        assert_eq!(with_flow, Flow::ALL);
        let titles: HashSet<&str> = Flow::ALL.iter().map(|f| f.title()).collect();
        assert_eq!(titles.len(), Flow::ALL.len(), "each flow has its own title");
        assert!(titles.iter().all(|t| t.contains("bot")), "{titles:?}");
    }

    #[test]
    fn an_incident_displays_as_its_id() {
        for incident in Incident::ALL {
            assert_eq!(incident.to_string(), incident.id());
        }
        assert_eq!(Incident::GenerationMismatch.to_string(), "S1");
    }

    #[test]
    fn lab_scenario_names_are_unique_and_parse_back() {
        let mut names = HashSet::new();
        for incident in Incident::ALL {
            let lab = incident.lab();
            assert!(names.insert(lab.name), "{incident:?}: scenario reused");
            assert_eq!(Incident::from_lab_scenario(lab.name), Some(incident));
            assert!(
                !lab.help.contains(incident.id()),
                "{incident:?}: the id is added"
            );
        }
        assert_eq!(Incident::from_lab_scenario("nothing"), None);
    }
}
