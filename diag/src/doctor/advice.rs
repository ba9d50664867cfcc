//! What each incident means and how to fix it: the cause in a sentence or two, the mwictl
//! command, the tctl equivalent, and what the auth service can confirm live.

use super::signal::{MismatchEra, Signal};
use super::{Fix, Incident, LiveCheck, Other};
use crate::incident::Incident as Product;
use std::collections::BTreeMap;

/// tbot's default config path, used in commands when the log does not say which file it read.
const CONFIG: &str = "/etc/tbot.yaml";
/// Stands for the bot name in a command when no line named the bot; upper case so a pasted
/// command fails loudly instead of acting on a wrong name.
const BOT: &str = "BOT_NAME";
/// The label in which Teleport's discovery service keeps a discovered resource's name before it
/// added a suffix (`DiscoveredNameLabel` in teleport's api/types/constants.go, RFD 129).
pub const DISCOVERED_NAME_LABEL: &str = "teleport.internal/discovered-name";

pub(crate) struct Advice {
    pub title: String,
    pub variant: Option<String>,
    pub facts: BTreeMap<String, String>,
    pub cause: String,
    pub fix: Fix,
    pub live_check: Option<LiveCheck>,
}

/// Advice for one finding. `signals` are its lines' signals; `context` are related lines that
/// are not the incident itself (the latest impersonated renewals, for S3).
pub(crate) fn advise(
    incident: Incident,
    bot: Option<&str>,
    detail: Option<&str>,
    signals: &[&Signal],
    context: &[&Signal],
) -> Advice {
    let name = bot.unwrap_or(BOT);
    let owned_bot = bot.map(str::to_string);
    let mut facts = BTreeMap::new();
    let mut variant = None;
    let (title, cause, fix, live_check) = match incident {
        Incident::Product(Product::GenerationMismatch) => {
            let mut era = None;
            let mut target = None;
            for signal in signals {
                match signal {
                    Signal::GenerationMismatch {
                        era: e,
                        stored,
                        presented,
                        instance,
                        ..
                    } => {
                        era.get_or_insert(*e);
                        insert_once(&mut facts, "stored", stored);
                        insert_once(&mut facts, "presented", presented);
                        insert_once(&mut facts, "instance", instance);
                    }
                    Signal::Lock { target: t, .. }
                        if target.is_none() => {
                            target.clone_from(t);
                        }
                    _ => {}
                }
            }
            insert_once(&mut facts, "lock_target", &target);
            variant = Some(match (era, target.as_deref()) {
                (Some(MismatchEra::Legacy), _) => {
                    "v9–v15 wording: the generation is a label on the bot user, which is locked"
                }
                (Some(MismatchEra::BotInstance), _) => {
                    "v16–v18 wording: bot instances; the whole bot user is locked"
                }
                (Some(MismatchEra::Newest), _) => {
                    "newest wording: the bot instance (token join) or join token (bound keypair) is locked"
                }
                (Some(MismatchEra::NewestInstanceMissing), _) => {
                    "newest wording: the bot instance record was not found; the instance or join token is locked"
                }
                (None, Some(t)) if t.starts_with("bot_instance_id") => {
                    "lock on one bot instance (newest releases)"
                }
                (None, Some(t)) if t.starts_with("join_token") => {
                    "lock on the bound-keypair join token (newest releases)"
                }
                (None, _) => "lock on the bot user (v18 and older)",
            }
            .to_string());
            let counters = match (facts.get("stored"), facts.get("presented")) {
                (Some(stored), Some(presented)) => {
                    format!(" (stored {stored}, certificate {presented})")
                }
                _ => String::new(),
            };
            let locked = target.map_or_else(|| "the bot".to_string(), |t| format!("`{t}`"));
            let cause = format!(
                "The auth service refused to renew the bot's certificate because its generation \
                 counter does not match the stored one{counters}, and locked {locked}. tbot presents \
                 an old certificate when two tbot processes share one storage directory, when the \
                 storage was copied or is on a shared (NFS) volume, or after a crash between \
                 renewing and saving."
            );
            let legacy = era == Some(MismatchEra::Legacy);
            let mut tctl = vec!["tctl get locks".to_string(), "tctl rm lock/LOCK_NAME".to_string()];
            if legacy {
                tctl.push(format!("tctl bots rm {name}"));
                tctl.push(format!("tctl bots add {name} --roles=ROLES"));
            } else {
                tctl.push(format!("tctl bots instances add {name}"));
            }
            (
                Product::GenerationMismatch.title(),
                cause,
                Fix {
                    mwictl: Some(format!("mwictl recover generation-mismatch --bot {name}")),
                    tctl,
                    then: Some(format!(
                        "Put the new token in onboarding.token of {CONFIG} (or --token) and restart \
                         tbot; a reload signal is not enough. Keep one tbot per storage directory, \
                         off network file systems: `mwictl lint {CONFIG}` checks both."
                    )),
                },
                Some(LiveCheck::LockForBot { bot: owned_bot }),
            )
        }
        Incident::Product(Product::Expired) => {
            let expired = signals.iter().any(|s| matches!(s, Signal::IdentityExpired));
            let cause = if expired {
                "The bot's own certificate has expired, so the auth service rejects it in the TLS \
                 handshake (`tls: bad certificate`). A token-joined bot cannot renew an expired \
                 identity and its one-time token is spent: it needs a new token."
            } else {
                "The auth service rejected the bot's client certificate in the TLS handshake; for \
                 tbot this almost always means its identity expired (tbot was down longer than the \
                 credential TTL), and a token-joined bot then needs a new token."
            };
            (
                Product::Expired.title(),
                cause.to_string(),
                Fix {
                    mwictl: Some(format!("mwictl recover expired --bot {name}")),
                    tctl: vec![format!("tctl bots instances add {name}")],
                    then: Some(format!(
                        "Put the new token in onboarding.token of {CONFIG} (or --token) and restart \
                         tbot: it sees the new token, joins again and replaces its stored identity."
                    )),
                },
                Some(LiveCheck::InstanceExpired { bot: owned_bot }),
            )
        }
        Incident::Product(Product::SshLogin) => {
            let login = signals.iter().rev().find_map(|s| match s {
                Signal::SshLogin { login } => Some(login.clone()),
                _ => None,
            });
            let mut granted: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
            for signal in context {
                if let Signal::Impersonated {
                    destination,
                    roles,
                    principals,
                } = signal
                {
                    granted.push((destination.clone(), roles.clone(), principals.clone()));
                }
            }
            insert_once(&mut facts, "login", &login);
            if !granted.is_empty() {
                facts.insert(
                    "principals".to_string(),
                    granted
                        .iter()
                        .map(|(d, _, p)| format!("{d}: {}", p.join(" ")))
                        .collect::<Vec<_>>()
                        .join("; "),
                );
                facts.insert(
                    "roles".to_string(),
                    granted
                        .iter()
                        .map(|(d, r, _)| format!("{d}: {}", r.join(" ")))
                        .collect::<Vec<_>>()
                        .join("; "),
                );
            }
            let shown_login = login.as_deref().unwrap_or("the login you used");
            let allowed = granted
                .iter()
                .map(|(d, r, p)| format!("[{}] for {d} (roles {})", p.join(", "), r.join(", ")))
                .collect::<Vec<_>>()
                .join(", ");
            let in_cert = login
                .as_ref()
                .is_some_and(|l| granted.iter().any(|(_, _, p)| p.contains(l)));
            let cause = if in_cert {
                format!(
                    "{shown_login} is among the certificate's logins ({allowed}), so the node itself \
                     refused: check that the user exists there and that the roles' node_labels \
                     allow that node."
                )
            } else if granted.is_empty() {
                format!(
                    "The SSH certificate tbot wrote does not allow {shown_login}: none of the bot's \
                     impersonated roles grants it as a login (principal)."
                )
            } else {
                format!(
                    "The SSH certificate tbot wrote allows the logins {allowed}, not {shown_login}, \
                     so the node refuses it: a role the bot impersonates must grant that login."
                )
            };
            let login_arg = login.as_deref().unwrap_or("LOGIN");
            (
                Product::SshLogin.title(),
                cause,
                Fix {
                    mwictl: Some(format!(
                        "mwictl recover ssh-login --bot {name} --login {login_arg}"
                    )),
                    tctl: vec![format!("tctl bots update {name} --add-logins {login_arg}")],
                    then: Some(
                        "tbot picks the login up at its next renewal (20 min by default), or at \
                         once on restart or `pkill -SIGUSR1 tbot`."
                            .to_string(),
                    ),
                },
                Some(LiveCheck::LoginMissing {
                    bot: owned_bot,
                    login,
                }),
            )
        }
        Incident::Product(Product::DbAccess) => {
            let db = detail.unwrap_or("DATABASE").to_string();
            facts.insert("db".to_string(), db.clone());
            (
                Product::DbAccess.title(),
                format!(
                    "tbot asked for database \"{db}\" and the auth service showed it none by that \
                     name. Two causes give this error: the bot's roles cannot see it (bots get no \
                     read access by default, so the database looks missing although `tsh db ls` \
                     shows it: a role needs rules [{{resources: [db_server, db], verbs: [read, \
                     list]}}] and a grant for it: db_labels, db_names, db_users); or it was \
                     renamed: Teleport's discovery service adds a suffix to the names of the \
                     databases it finds and keeps the old name in the label \
                     {DISCOVERED_NAME_LABEL}, and older tbots look a database up by its exact name \
                     only. `tctl get db` tells them apart: \"{db}\" listed means RBAC, a database \
                     labelled {DISCOVERED_NAME_LABEL}={db} means renamed, neither means it is not \
                     registered; `mwictl doctor --live` checks it."
                ),
                Fix {
                    mwictl: Some(format!("mwictl recover db-access --bot {name} --db {db}")),
                    tctl: vec![
                        "tctl get db".to_string(),
                        "tctl get role/ROLE".to_string(),
                        "tctl edit role/ROLE".to_string(),
                    ],
                    then: Some(format!(
                        "For RBAC: in the role's spec.allow add rules: [{{resources: [db_server, \
                         db], verbs: [read, list]}}] and db_labels/db_names/db_users covering {db}, \
                         or recreate the bot with that role (tctl bots rm {name}; tctl bots add \
                         {name} --roles=...,ROLE). If it was renamed: set the output's `service:` \
                         in {CONFIG} to the new name, or pin the name in the discovery config. \
                         Then restart tbot or send it SIGUSR1."
                    )),
                },
                Some(LiveCheck::RoleLacksDbAccess { bot: owned_bot, db }),
            )
        }
        Incident::Product(Product::K8sSecret) => {
            let secret = detail.filter(|s| !s.is_empty());
            if let Some(secret) = secret {
                facts.insert("secret".to_string(), secret.to_string());
            }
            (
                Product::K8sSecret.title(),
                format!(
                    "A kubernetes output writes to the kubernetes_secret {}, but the exec plugin \
                     mode needs a directory destination; with `disable_exec_plugin: true` tbot \
                     writes a static kubeconfig with short-lived credentials instead.",
                    secret.unwrap_or("destination")
                ),
                Fix {
                    mwictl: Some(format!("mwictl lint --fix {CONFIG}")),
                    tctl: Vec::new(),
                    then: Some(format!(
                        "Restart tbot. ({CONFIG} is tbot's default; give the config tbot reads.)"
                    )),
                },
                None,
            )
        }
        Incident::Product(Product::NoProxy) => {
            let url = signals.iter().find_map(|s| match s {
                Signal::ProxyUnreachable { url } => url.clone(),
                _ => None,
            });
            insert_once(&mut facts, "url", &url);
            let at = url.as_deref().map_or(String::new(), |u| format!(" ({u})"));
            (
                Product::NoProxy.title(),
                format!(
                    "tbot talks to the auth service directly (auth_server), but an identity output \
                     pings the proxy to write ssh_config and the proxy{at} cannot be reached. Set \
                     ssh_config: \"off\" on identity outputs that need no ssh_config, or let tbot \
                     reach the proxy."
                ),
                Fix {
                    // The log shows this bot's host cannot reach the proxy, which is what lint
                    // needs --on-host to know before it turns ssh_config off.
                    mwictl: Some(format!("mwictl lint --on-host --fix {CONFIG}")),
                    tctl: Vec::new(),
                    then: Some(
                        "Restart tbot; if something needs ssh_config, open the network path to the \
                         proxy instead."
                            .to_string(),
                    ),
                },
                None,
            )
        }
        Incident::Product(Product::SplitDns) => {
            let addr = signals.iter().find_map(|s| match s {
                Signal::TunnelDialFailed { addr } => addr.clone(),
                _ => None,
            });
            insert_once(&mut facts, "advertised", &addr);
            let at = addr.as_deref().map_or(String::new(), |a| format!(" ({a})"));
            (
                Product::SplitDns.title(),
                format!(
                    "tbot reached the proxy at proxy_server, then dialed the address the proxy \
                     advertises{at} and could not reach it: behind split DNS that name does not \
                     lead to the proxy from here. Set TBOT_USE_PROXY_ADDR=yes (exactly `yes`) in \
                     tbot's environment so it keeps using proxy_server; this needs TLS routing on \
                     the proxy. Or make the advertised name resolve to the proxy here."
                ),
                Fix {
                    mwictl: Some(format!("mwictl lint --env TBOT_USE_PROXY_ADDR=yes {CONFIG}")),
                    tctl: Vec::new(),
                    then: Some(
                        "Restart tbot with TBOT_USE_PROXY_ADDR=yes in its environment (systemd: \
                         Environment=TBOT_USE_PROXY_ADDR=yes; the lab agent: \
                         TBOT_USE_PROXY_ADDR=yes mwictl lab bot -c tbot.yaml)."
                            .to_string(),
                    ),
                },
                None,
            )
        }
        Incident::Other(Other::BotLocked) => {
            let target = signals.iter().find_map(|s| match s {
                Signal::Lock { target, .. } => target.clone(),
                _ => None,
            });
            insert_once(&mut facts, "lock_target", &target);
            let locked = target.map_or_else(|| "the bot".to_string(), |t| format!("`{t}`"));
            (
                "bot locked",
                format!(
                    "A lock targeting {locked} is in force, set by an administrator or automation \
                     (not after a generation mismatch); every call of the bot is refused until the \
                     lock is removed or expires."
                ),
                Fix {
                    mwictl: Some(format!("mwictl unlock --bot {name}")),
                    tctl: vec!["tctl get locks".to_string(), "tctl rm lock/LOCK_NAME".to_string()],
                    then: Some("Find out why it was locked before removing the lock.".to_string()),
                },
                Some(LiveCheck::LockForBot { bot: owned_bot }),
            )
        }
        Incident::Other(Other::AccessDenied) => (
            "access denied by the auth service",
            "The auth service refused the bot's calls (`access denied`). The client side does not \
             say why; the usual cause is a lock set after a generation mismatch (S1). Add the auth \
             service's log to the input, or run with --live."
                .to_string(),
            Fix {
                mwictl: Some(format!("mwictl unlock --bot {name}")),
                tctl: vec!["tctl get locks".to_string()],
                then: Some(
                    "mwictl unlock lists the locks it finds before removing anything.".to_string(),
                ),
            },
            Some(LiveCheck::LockForBot { bot: owned_bot }),
        ),
        Incident::Other(Other::RbacDenied) => {
            let (verb, resource) = detail
                .and_then(|d| d.split_once(' '))
                .map_or(("VERB", "RESOURCE"), |(v, r)| (v, r));
            facts.insert("verb".to_string(), verb.to_string());
            facts.insert("resource".to_string(), resource.to_string());
            (
                "bot role lacks a rule",
                format!(
                    "The bot's roles do not allow \"{verb}\" on \"{resource}\": one of them needs \
                     rules [{{resources: [{resource}], verbs: [{verb}]}}]."
                ),
                Fix {
                    mwictl: None,
                    tctl: vec!["tctl get role/ROLE".to_string(), "tctl edit role/ROLE".to_string()],
                    then: Some(format!(
                        "Add {{resources: [{resource}], verbs: [{verb}]}} under spec.allow.rules, then \
                         restart tbot or send it SIGUSR1."
                    )),
                },
                Some(LiveCheck::RoleLacksRule {
                    bot: owned_bot,
                    verb: verb.to_string(),
                    resource: resource.to_string(),
                }),
            )
        }
        Incident::Product(
            bk @ (Product::BkExhausted
            | Product::BkJoinState
            | Product::BkTokenWiped
            | Product::BkKeypairLost
            | Product::BkRollback),
        ) => super::bound_keypair::advise(bk, name, bot, signals, &mut facts),
        Incident::Other(Other::BkRotationRefused) => (
            "bound keypair: key rotation refused",
            "The token asks for a key rotation (spec.bound_keypair.rotate_after), but the bot              cannot make a new key: a static key (static_private_key_path) never rotates, and              the auth service refuses the old key as the new one."
                .to_string(),
            Fix {
                mwictl: Some(format!("mwictl edit token/{}", token_of(signals))),
                tctl: vec![format!("tctl edit token/{}", token_of(signals))],
                then: Some(
                    "Remove spec.bound_keypair.rotate_after from the token of a static-key bot                      (to replace a static key, make a new one and set it as the token's                      initial_public_key), then restart tbot."
                        .to_string(),
                ),
            },
            None,
        ),
        Incident::Other(Other::JoinMethodMismatch) => {
            let (requested, supported) = signals
                .iter()
                .find_map(|s| match s {
                    Signal::JoinMethodMismatch {
                        requested,
                        supported,
                    } => Some((requested.clone(), supported.clone())),
                    _ => None,
                })
                .unwrap_or_default();
            insert_once(&mut facts, "requested", &requested);
            insert_once(&mut facts, "supported", &supported);
            (
                "join method does not match the token",
                format!(
                    "tbot asked to join with method {} but the token only allows {}:                      onboarding.join_method in tbot.yaml (or the join URI's method) does not                      match the token.",
                    requested.as_deref().unwrap_or("?"),
                    supported.as_deref().unwrap_or("another")
                ),
                Fix {
                    mwictl: Some(format!("mwictl lint {CONFIG}")),
                    tctl: Vec::new(),
                    then: Some(format!(
                        "Set onboarding.join_method in {CONFIG} to {} (or use a token of method                          {}), then restart tbot.",
                        supported.as_deref().unwrap_or("the token's method"),
                        requested.as_deref().unwrap_or("tbot's method")
                    )),
                },
                None,
            )
        }
        Incident::Other(Other::JoinTokenInvalid) => (
            "join token expired or already used",
            "The auth service does not accept the join token tbot presented: a one-time token is \
             deleted after its first successful join and tokens expire (1h by default), so tbot \
             without a usable stored identity cannot join with it."
                .to_string(),
            Fix {
                mwictl: Some(format!("mwictl recover expired --bot {name}")),
                tctl: vec![format!("tctl bots instances add {name}")],
                then: Some(format!(
                    "Put the new token in onboarding.token of {CONFIG} (or --token) and restart tbot."
                )),
            },
            Some(LiveCheck::InstanceExpired { bot: owned_bot }),
        ),
        Incident::Other(Other::LegacyReissue) => (
            "bot cannot join again (legacy auth service)",
            format!(
                "This auth service (v15 or older) refuses a second token join for a bot that \
                 already got a renewable certificate (the generation label on bot-{name} is set): \
                 the bot must be deleted and created again."
            ),
            Fix {
                mwictl: Some(format!("mwictl bots recreate {name}")),
                tctl: vec![
                    format!("tctl bots rm {name}"),
                    format!("tctl bots add {name} --roles=ROLES"),
                    "tctl get locks".to_string(),
                    "tctl rm lock/LOCK_NAME".to_string(),
                ],
                then: Some(format!(
                    "Put the new token in onboarding.token of {CONFIG} and restart tbot."
                )),
            },
            None,
        ),
        Incident::Other(Other::RenewalGaveUp) => (
            "tbot gave up renewing and exited",
            "tbot failed to renew its identity 7 times in a row and exited; the errors logged just \
             before this line say why."
                .to_string(),
            Fix {
                mwictl: None,
                tctl: Vec::new(),
                then: Some(
                    "Fix the error logged before it (give mwictl doctor the lines before it), then \
                     start tbot again, e.g. systemctl restart tbot."
                        .to_string(),
                ),
            },
            None,
        ),
        Incident::Other(Other::MissingIdentityGroups) => (
            "certificate without roles",
            format!(
                "The auth service built a certificate with no roles for the bot (\"missing \
                 identity groups\"): either bot-{name} has no roles, or a stale user_login_state \
                 record hides them (Teleport issue #63920)."
            ),
            Fix {
                mwictl: Some(format!("mwictl bots recreate {name}")),
                tctl: vec![
                    format!("tctl get bot/{name}"),
                    format!("tctl bots rm {name}"),
                    format!("tctl bots add {name} --roles=ROLES"),
                ],
                then: Some(
                    "If the bot has roles, restart tbot to retry the join; if it fails again, \
                     recreate the bot."
                        .to_string(),
                ),
            },
            Some(LiveCheck::BotHasNoRoles { bot: owned_bot }),
        ),
        Incident::Other(Other::CertIpSans) => {
            let host = detail.filter(|h| !h.is_empty());
            if let Some(host) = host {
                facts.insert("host".to_string(), host.to_string());
            }
            (
                "certificate does not cover the address",
                format!(
                    "tbot dialled {} and the certificate there does not cover that address (an IP \
                     address needs an IP SAN). With auth_server this comes from tbot also trying \
                     the address as a proxy (/webapi/find) and is secondary: the first error is \
                     the one to fix.",
                    host.unwrap_or("the server")
                ),
                Fix {
                    mwictl: Some(format!("mwictl lint {CONFIG}")),
                    tctl: Vec::new(),
                    then: Some(
                        "Use a DNS name the certificate covers in auth_server/proxy_server; to go \
                         through a proxy, set proxy_server instead of auth_server."
                            .to_string(),
                    ),
                },
                None,
            )
        }
    };
    Advice {
        title: title.to_string(),
        variant,
        facts,
        cause,
        fix,
        live_check,
    }
}

/// The join token a bound-keypair line names, or a placeholder.
fn token_of(signals: &[&Signal]) -> String {
    signals
        .iter()
        .find_map(|s| match s {
            Signal::BoundKeypair {
                token: Some(token), ..
            } => Some(token.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "TOKEN_NAME".to_string())
}

fn insert_once(facts: &mut BTreeMap<String, String>, key: &str, value: &Option<String>) {
    if let Some(value) = value {
        facts
            .entry(key.to_string())
            .or_insert_with(|| value.clone());
    }
}
