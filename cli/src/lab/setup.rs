//! Getting a lab ready for an incident: where the lab's files are, the working directory of a
//! lab bot, and the bot's own role `access-BOT`, the bot and its one-time join token on the server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mwi_proto::machineid::{Bot, BotSpec};
use mwi_proto::teleport::header::v1::Metadata as HeaderMetadata;
use mwi_proto::types::{Metadata, RoleConditions, RoleSpecV6, RoleV6};
use mwi_proto::wrappers::{LabelValues, StringValues};

use crate::client::{Client, ClientError, Fetched};
use crate::error::CommandError;
use crate::exit::ExitStatus;

use super::tbot_yaml::MARKER;

/// The role lab bot `bot` gets: SSH as `alice` on every node, nothing for databases. Each bot has
/// its own, so breaking (or recovering) one bot leaves the others as they are.
pub fn access_role_name(bot: &str) -> String {
    format!("access-{bot}")
}

/// The login a lab bot's role allows.
pub const ACCESS_LOGIN: &str = "alice";

/// The label that marks a role as made by `lab break`, which may therefore reset it.
pub const OWNER_LABEL: &str = "mwictl-lab";
const OWNER_VALUE: &str = "break";

/// The lab's files a lab bot needs: its address, data dir and CA certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabTarget {
    /// `HOST:PORT` of the lab auth service.
    pub addr: String,
    /// The lab's data dir (holds `lab.json`, `ca.crt` and the admin identity).
    pub lab_dir: PathBuf,
    /// The lab's CA certificate, which agents trust on their first join.
    pub ca_path: PathBuf,
    /// The lab proxy's `HOST:PORT` when the lab runs one (it records it in the data dir).
    pub proxy: Option<String>,
    /// The lab proxy's web CA, which agents check its web certificate against.
    pub web_ca_path: PathBuf,
}

impl LabTarget {
    /// The lab whose admin identity is `identity` (the lab data dir is its directory).
    pub fn from_identity(addr: &str, identity: &Path) -> Result<LabTarget, CommandError> {
        let lab_dir = std::path::absolute(identity)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        let ca_path = lab_dir.join("ca.crt");
        if !ca_path.is_file() || !lab_dir.join("lab.json").is_file() {
            return Err(CommandError::usage(format!(
                "the identity {} is not a lab's admin identity (no ca.crt and lab.json beside it); lab break works against a lab only",
                identity.display()
            ))
            .hint("start one with `mwictl lab start`, then run lab break without --auth-server and -i"));
        }
        let proxy = std::fs::read_to_string(lab_dir.join(mwi_auth::lab::PROXY_ADDR))
            .ok()
            .map(|text| text.trim().to_string())
            .filter(|addr| !addr.is_empty());
        Ok(LabTarget {
            addr: addr.to_string(),
            web_ca_path: lab_dir.join(mwi_auth::lab::WEB_CA_CERT),
            lab_dir,
            ca_path,
            proxy,
        })
    }
}

/// Checks a bot name before anything is written: letters, digits, `-`, `_` and `.`.
pub fn check_bot_name(name: &str) -> Result<(), CommandError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !name.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(CommandError::usage(format!(
            "--bot {name:?}: use 1–64 letters, digits, '-', '_' or '.', e.g. --bot example"
        )))
    }
}

/// Makes `dir` the working directory of a lab bot: it must be new, empty, or one `lab break`
/// wrote before (its tbot.yaml starts with the marker), so nobody's real tbot files are replaced.
pub fn prepare_dir(dir: &Path) -> Result<(), CommandError> {
    let config = dir.join("tbot.yaml");
    let ours = std::fs::read_to_string(&config)
        .map(|text| text.starts_with(MARKER))
        .unwrap_or(false);
    let empty = match std::fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => {
            return Err(CommandError::usage(format!(
                "--dir {}: cannot read it: {e}",
                dir.display()
            )));
        }
    };
    if !ours && !empty {
        return Err(CommandError::usage(format!(
            "--dir {} is not empty and holds no tbot.yaml written by lab break; its files are not ours to replace",
            dir.display()
        ))
        .hint("choose a new or empty directory with --dir"));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| CommandError::failure(format!("cannot create --dir {}: {e}", dir.display())))
}

/// Writes `text` to `path` with mode 0600 (it holds a join token), replacing the file atomically.
pub fn write_private(path: &Path, text: &str) -> Result<(), CommandError> {
    let options = mwi_identity::durable::Options::mode(0o600);
    mwi_identity::durable::replace(path, text.as_bytes(), &options)
        .map(|_| ())
        .map_err(|e| {
            CommandError::failure(format!("cannot write {}: {}", path.display(), e.into_io()))
                .hint("check the permissions of --dir")
        })
}

/// What a scenario needs of the bot's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need<'a> {
    /// Nothing particular.
    Any,
    /// It must not allow this SSH login.
    WithoutLogin(&'a str),
    /// It must not let its holder read or list database servers.
    WithoutDatabases,
}

/// Bot `bot`'s role as lab break makes it: logins [alice] on every node, nothing else.
pub fn access_role(bot: &str) -> RoleV6 {
    let mut node_labels = BTreeMap::new();
    node_labels.insert(
        "*".to_string(),
        StringValues {
            values: vec!["*".into()],
        },
    );
    RoleV6 {
        kind: "role".into(),
        version: "v7".into(),
        metadata: Some(Metadata {
            name: access_role_name(bot),
            description: "SSH as alice on every node (made by mwictl lab break)".into(),
            labels: BTreeMap::from([(OWNER_LABEL.to_string(), OWNER_VALUE.to_string())]),
            ..Default::default()
        }),
        spec: Some(access_spec(node_labels)),
        ..Default::default()
    }
}

fn access_spec(node_labels: BTreeMap<String, StringValues>) -> RoleSpecV6 {
    RoleSpecV6 {
        allow: Some(RoleConditions {
            logins: vec![ACCESS_LOGIN.into()],
            node_labels: Some(LabelValues {
                values: node_labels,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Whether `role` already grants what the scenario must lack.
pub fn conflict(role: &RoleV6, need: Need) -> Option<String> {
    let allow = role.spec.as_ref().and_then(|s| s.allow.as_ref())?;
    match need {
        Need::Any => None,
        Need::WithoutLogin(login) => allow
            .logins
            .iter()
            .any(|l| l == login)
            .then(|| format!("it already allows login {login}")),
        Need::WithoutDatabases => allow
            .rules
            .iter()
            .any(|rule| {
                let on_db = rule
                    .resources
                    .iter()
                    .any(|r| matches!(r.as_str(), "db_server" | "db" | "*"));
                let reads = rule
                    .verbs
                    .iter()
                    .any(|v| matches!(v.as_str(), "read" | "list" | "*"));
                on_db && reads
            })
            .then(|| "it already lets its holder read database servers".to_string()),
    }
}

fn is_not_found(e: &ClientError) -> bool {
    matches!(e, ClientError::Rpc { status, .. } if status.code() == tonic::Code::NotFound)
}

fn is_owned(role: &RoleV6) -> bool {
    role.metadata
        .as_ref()
        .and_then(|m| m.labels.get(OWNER_LABEL))
        .is_some_and(|v| v == OWNER_VALUE)
}

/// Makes sure bot `bot`'s role exists in the shape the scenario needs: creates it, or resets one
/// lab break made earlier (a recovery may have fixed it since). A role someone else made is only
/// used when it fits. Returns what was done, if anything.
pub async fn ensure_access_role(
    client: &Client,
    bot: &str,
    need: Need<'_>,
) -> Result<Option<String>, CommandError> {
    let name = access_role_name(bot);
    let existing: Fetched<RoleV6> = match client.get_role(&name).await {
        Ok(role) => role,
        Err(e) if is_not_found(&e) => {
            client.create_role(&access_role(bot)).await?;
            return Ok(Some(format!(
                "created role {name} (logins: {ACCESS_LOGIN}; nothing for databases)"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let Some(why) = conflict(&existing.value, need) else {
        return Ok(None);
    };
    if !is_owned(&existing.value) {
        return Err(CommandError::new(
            ExitStatus::Conflict,
            format!(
                "role {name} was not made by lab break and {why}, so the incident cannot happen"
            ),
        )
        .hint("rehearse on a fresh lab (`mwictl lab start --data-dir NEW_DIR`)"));
    }
    let mut role = existing;
    let node_labels = role
        .value
        .spec
        .as_ref()
        .and_then(|s| s.allow.as_ref())
        .and_then(|a| a.node_labels.clone())
        .map(|l| l.values)
        .unwrap_or_default();
    role.value.spec = Some(access_spec(node_labels));
    client.update_role(&role).await?;
    Ok(Some(format!(
        "reset role {name} to logins [{ACCESS_LOGIN}] and nothing for databases ({why}, probably from an earlier recovery)"
    )))
}

/// Makes sure bot `name` exists with its role `access-NAME`. Returns what was done, if anything.
pub async fn ensure_bot(client: &Client, name: &str) -> Result<Option<String>, CommandError> {
    let role = access_role_name(name);
    match client.get_bot(name).await {
        Ok(bot) => {
            let roles = bot.value.spec.map(|s| s.roles).unwrap_or_default();
            if roles.contains(&role) {
                Ok(None)
            } else {
                Err(CommandError::new(
                    ExitStatus::Conflict,
                    format!(
                        "bot {name} exists without the role {role} (roles: [{}]); its outputs could not ask for it",
                        roles.join(", ")
                    ),
                )
                .hint(format!("choose another bot name with --bot, or remove this one with `mwictl bots rm {name}`")))
            }
        }
        Err(e) if is_not_found(&e) => {
            let bot = Bot {
                kind: "bot".into(),
                version: "v1".into(),
                metadata: Some(HeaderMetadata {
                    name: name.into(),
                    ..Default::default()
                }),
                spec: Some(BotSpec {
                    roles: vec![role.clone()],
                    ..Default::default()
                }),
                ..Default::default()
            };
            client.create_bot(&bot).await?;
            Ok(Some(format!(
                "created bot {name} with role {role} (user and role bot-{name})"
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// Fails when a lock in force blocks bot `name`: its agent could neither join nor renew.
pub async fn refuse_if_locked(client: &Client, name: &str) -> Result<(), CommandError> {
    let locks = crate::ops::unlock::find_blocking_locks(client, name).await?;
    let Some(first) = locks.first() else {
        return Ok(());
    };
    Err(CommandError::new(
        ExitStatus::Conflict,
        format!(
            "bot {name} is locked (lock {}: {}), so its agent cannot join; recover it before breaking it again",
            first.name(),
            first.reason
        ),
    )
    .hint(format!("mwictl unlock --bot {name}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::types::Rule;

    #[test]
    fn bot_names_are_checked() {
        assert!(check_bot_name("example").is_ok());
        assert!(check_bot_name("ci.deploy_2").is_ok());
        for bad in ["", "a b", "a/b", "-x", &"x".repeat(65)] {
            let err = check_bot_name(bad).unwrap_err();
            assert_eq!(err.status, ExitStatus::Usage, "{bad:?}");
        }
    }

    #[test]
    fn a_foreign_non_empty_dir_is_refused_and_ours_is_reused() {
        let root = tempfile::tempdir().unwrap();
        let fresh = root.path().join("new");
        prepare_dir(&fresh).unwrap();
        assert!(fresh.is_dir());
        prepare_dir(&fresh).unwrap();

        std::fs::write(fresh.join("tbot.yaml"), format!("{MARKER} x\n")).unwrap();
        std::fs::write(fresh.join("tbot.log"), "old").unwrap();
        prepare_dir(&fresh).unwrap();

        let foreign = root.path().join("foreign");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("tbot.yaml"), "version: v2\n").unwrap();
        let err = prepare_dir(&foreign).unwrap_err();
        assert_eq!(err.status, ExitStatus::Usage);
        assert!(
            err.message.contains("not ours to replace"),
            "{}",
            err.message
        );
    }

    #[test]
    fn written_files_are_private_and_replaced_whole() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("tbot.yaml");
        write_private(&path, "one\n").unwrap();
        write_private(&path, "two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!root.path().join("tbot.yaml.tmp").exists());
    }

    #[test]
    fn the_access_role_fits_every_scenario_until_a_recovery_changes_it() {
        let mut role = access_role("example");
        assert_eq!(role.metadata.as_ref().unwrap().name, "access-example");
        assert!(is_owned(&role));
        assert_eq!(conflict(&role, Need::WithoutLogin("bob")), None);
        assert_eq!(conflict(&role, Need::WithoutDatabases), None);
        assert!(conflict(&role, Need::WithoutLogin("alice")).is_some());
        let allow = role.spec.as_mut().unwrap().allow.as_mut().unwrap();
        allow.rules.push(Rule {
            resources: vec!["db_server".into(), "db".into()],
            verbs: vec!["read".into(), "list".into()],
            ..Default::default()
        });
        assert!(conflict(&role, Need::WithoutDatabases).is_some());
        assert_eq!(conflict(&role, Need::Any), None);
    }

    #[test]
    fn a_lab_target_needs_the_labs_files_beside_the_identity() {
        let root = tempfile::tempdir().unwrap();
        let identity = root.path().join("admin.identity");
        let err = LabTarget::from_identity("127.0.0.1:1", &identity).unwrap_err();
        assert_eq!(err.status, ExitStatus::Usage);
        std::fs::write(root.path().join("ca.crt"), "").unwrap();
        std::fs::write(root.path().join("lab.json"), "{}").unwrap();
        let lab = LabTarget::from_identity("127.0.0.1:1", &identity).unwrap();
        assert_eq!(lab.ca_path, root.path().join("ca.crt"));
        assert_eq!(lab.lab_dir, root.path());
    }
}
