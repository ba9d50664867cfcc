//! The product's incident catalogue: one entry per incident (S1–S12) with its id, name, title, cause
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
    /// S8: a bound-keypair token's recovery limit is used up.
    BkExhausted,
    /// S9: a bound-keypair join state was rejected and the join token locked.
    BkJoinState,
    /// S10: a bound-keypair token was deleted or re-applied without its status.
    BkTokenWiped,
    /// S11: a bound-keypair bot lost its private key.
    BkKeypairLost,
    /// S12: join states rejected across the fleet after an auth backend restore.
    BkRollback,
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
    pub const ALL: [Incident; 12] = [
        Incident::GenerationMismatch,
        Incident::Expired,
        Incident::SshLogin,
        Incident::DbAccess,
        Incident::K8sSecret,
        Incident::SplitDns,
        Incident::NoProxy,
        Incident::BkExhausted,
        Incident::BkJoinState,
        Incident::BkTokenWiped,
        Incident::BkKeypairLost,
        Incident::BkRollback,
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
            Incident::BkExhausted => &Entry {
                id: "S8",
                name: "bk-exhausted",
                title: "bound keypair: recovery limit used up",
                cause: "The bot lost its certificates and tried to recover (or onboard) with its \
                        bound key, but the token is in recovery mode standard and \
                        recovery_count has reached recovery.limit, so the auth service refuses \
                        every further recovery.",
                fix: "Raise recovery.limit above recovery_count (+1 for one supervised \
                      recovery, +2 for a spare) or set the mode to relaxed, then let tbot \
                      retry and check that the count rose and a new instance joined.",
                flow: Some(Flow::BkExhausted),
                lab: LabScenario {
                    name: "bk-exhausted",
                    title: "bound-keypair recovery limit reached",
                    help: "a bound-keypair agent recovers until recovery_count reaches \
                           recovery.limit and the next recovery is refused",
                },
            },
            Incident::BkJoinState => &Entry {
                id: "S9",
                name: "bk-join-state",
                title: "bound keypair: join state rejected, the join token is locked",
                cause: "The bot proved its key but sent no join state or one that does not \
                        match the token (recovery counter, bot instance): two bots share one \
                        keypair, the storage was copied or restored, or the key was stolen. The \
                        auth service locked the join token.",
                fix: "Rule out a stolen key, remove the locks that block the bot, switch the \
                      token to insecure for one recovery (limit above the count), restart \
                      tbot, wait until recovery_count rises, and restore the mode.",
                flow: Some(Flow::BkJoinState),
                lab: LabScenario {
                    name: "bk-join-state",
                    title: "join state rejected, join token locked",
                    help: "two bound-keypair agents share one keypair; the second one's join \
                           state is stale and the lab locks the join token",
                },
            },
            Incident::BkTokenWiped => &Entry {
                id: "S10",
                name: "bk-token-wiped",
                title: "bound keypair: the token lost its bound key",
                cause: "The token no longer knows the bot's key: it was deleted and created \
                        again, or re-applied from a spec-only file (`create -f` without status, \
                        Teleport issue #68211).",
                fix: "Recreate the token with the bot's public key (id_bkp.pub in tbot's \
                      storage) as initial_public_key, in insecure mode for one join, then \
                      restore the mode.",
                flow: Some(Flow::BkTokenWiped),
                lab: LabScenario {
                    name: "bk-token-wiped",
                    title: "bound-keypair token re-applied without its status",
                    help: "the bot's bound-keypair token is re-applied spec-only, the way a \
                           careless `create -f` does (or deleted with --delete)",
                },
            },
            Incident::BkKeypairLost => &Entry {
                id: "S11",
                name: "bk-keypair-lost",
                title: "bound keypair: the bot lost its private key",
                cause: "The auth service challenged the key the token is bound to, but tbot \
                        holds no private key for it: its storage was wiped or replaced. The key \
                        cannot be recovered.",
                fix: "Issue a fresh token with a new registration secret, delete the old one, \
                      put the secret (or join URI) in tbot.yaml, remove the stale id_bkp*, \
                      bkp_state and bkp_key_history.json, and restart tbot.",
                flow: Some(Flow::BkKeypairLost),
                lab: LabScenario {
                    name: "bk-keypair-lost",
                    title: "bound-keypair storage wiped",
                    help: "a bound-keypair agent's storage is wiped and replaced by a new \
                           keypair the token does not know",
                },
            },
            Incident::BkRollback => &Entry {
                id: "S12",
                name: "bk-rollback",
                title: "bound keypair: join states rejected across the fleet (backend rollback)",
                cause: "Several bots fail join-state checks at once: the auth backend was \
                        restored from a snapshot, so the tokens' recovery counters and bot \
                        instances are older than the join states the bots hold.",
                fix: "Switch every bound-keypair token to insecure (old modes recorded), wait \
                      until each bot has rejoined, then restore each mode.",
                flow: Some(Flow::BkRollback),
                lab: LabScenario {
                    name: "bk-rollback",
                    title: "lab database restored from an older snapshot",
                    help: "bound-keypair agents rejoin after a `lab snapshot`, then `lab \
                           restore` rolls the lab back under them",
                },
            },
        }
    }

    /// `S1`..`S12`.
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

    /// True for the bound-keypair incidents S8–S12.
    pub fn is_bound_keypair(self) -> bool {
        matches!(
            self,
            Incident::BkExhausted
                | Incident::BkJoinState
                | Incident::BkTokenWiped
                | Incident::BkKeypairLost
                | Incident::BkRollback
        )
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
    BkExhausted,
    BkJoinState,
    BkTokenWiped,
    BkKeypairLost,
    BkRollback,
}

impl Flow {
    /// Every flow, in the order of their incidents.
    pub const ALL: [Flow; 9] = [
        Flow::GenerationMismatch,
        Flow::Expired,
        Flow::SshLogin,
        Flow::DbAccess,
        Flow::BkExhausted,
        Flow::BkJoinState,
        Flow::BkTokenWiped,
        Flow::BkKeypairLost,
        Flow::BkRollback,
    ];

    /// The incident it repairs.
    pub fn incident(self) -> Incident {
        match self {
            Flow::GenerationMismatch => Incident::GenerationMismatch,
            Flow::Expired => Incident::Expired,
            Flow::SshLogin => Incident::SshLogin,
            Flow::DbAccess => Incident::DbAccess,
            Flow::BkExhausted => Incident::BkExhausted,
            Flow::BkJoinState => Incident::BkJoinState,
            Flow::BkTokenWiped => Incident::BkTokenWiped,
            Flow::BkKeypairLost => Incident::BkKeypairLost,
            Flow::BkRollback => Incident::BkRollback,
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
            Flow::BkExhausted => "the bot's bound-keypair token has no recoveries left",
            Flow::BkJoinState => "the bot's join state was rejected and its join token is locked",
            Flow::BkTokenWiped => "the bot's bound-keypair token lost the bot's key",
            Flow::BkKeypairLost => "the bot lost the private key its token is bound to",
            Flow::BkRollback => "the bots' join states are newer than the restored tokens",
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
