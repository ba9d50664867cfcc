//! The subset of tbot's v2 `tbot.yaml` the agent understands (auth_server, join_uri, onboarding
//! with its bound_keypair block, storage, TTLs, oneshot, identity and database outputs), read
//! leniently with one-line errors per key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_yaml_ng::{Mapping, Value};

/// A config file that cannot be used. Each renders as one line naming the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read it: {source}", .file.display())]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not valid YAML: {reason}", .file.display())]
    Yaml { file: PathBuf, reason: String },
    #[error("{}: {key}: {reason}", .file.display())]
    Key {
        file: PathBuf,
        key: String,
        reason: String,
    },
}

/// What an output produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputKind {
    /// `type: identity`: an identity file plus key and certificates.
    Identity {
        /// Lab-only check, from the agent's `--ssh-login` flag (never from tbot.yaml, whose
        /// keys stay tbot's): the SSH login the output's certificate must allow.
        ssh_login: Option<String>,
        /// `ssh_config` is not `off`: with a proxy, write `ssh_config` and `known_hosts` too
        /// (lib/tbot/config/output_identity.go).
        ssh_config: bool,
    },
    /// `type: database`: a certificate routed to one database.
    Database {
        service: String,
        database: Option<String>,
        username: Option<String>,
    },
}

/// One `services:`/`outputs:` entry the agent serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub kind: OutputKind,
    /// The destination directory.
    pub destination: PathBuf,
    /// The roles to request; empty means "the agent-wide --roles".
    pub roles: Vec<String>,
    /// Where it was declared (`services[0]` or `--destination-dir`), for messages.
    pub origin: String,
}

/// `onboarding.bound_keypair`, with tbot's key names (lib/tbot/bot/onboarding/config.go).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoundKeypairConfig {
    pub registration_secret: Option<String>,
    pub registration_secret_path: Option<PathBuf>,
    pub static_private_key_path: Option<PathBuf>,
}

/// The join methods the lab agent serves.
pub const JOIN_METHODS: &[&str] = &["token", "bound_keypair"];

/// The parts of a tbot.yaml the agent uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileConfig {
    pub path: PathBuf,
    pub auth_server: Option<String>,
    pub proxy_server: Option<String>,
    /// `join_uri`, parsed when the settings are resolved.
    pub join_uri: Option<String>,
    /// The join token, already read from its file when the config named one.
    pub token: Option<String>,
    /// `onboarding.join_method` when given (one of [`JOIN_METHODS`]).
    pub join_method: Option<String>,
    pub bound_keypair: BoundKeypairConfig,
    pub ca_path: Option<PathBuf>,
    pub ca_pins: Vec<String>,
    pub insecure: bool,
    pub storage: Option<PathBuf>,
    pub credential_ttl: Option<Duration>,
    pub renewal_interval: Option<Duration>,
    pub oneshot: bool,
    pub outputs: Vec<Output>,
    /// Entries the agent does not serve, one line each, for the log.
    pub skipped: Vec<String>,
}

/// Reads a token value as tbot does: an absolute path names a file holding the token (trimmed).
pub fn token_value(value: &str, named_by: &str, file: &Path) -> Result<String, ConfigError> {
    if !value.starts_with('/') {
        return Ok(value.trim().to_string());
    }
    let text = std::fs::read_to_string(value).map_err(|e| ConfigError::Key {
        file: file.to_path_buf(),
        key: named_by.to_string(),
        reason: format!("cannot read the token file {value}: {e}"),
    })?;
    let token = text.trim().to_string();
    if token.is_empty() {
        return Err(ConfigError::Key {
            file: file.to_path_buf(),
            key: named_by.to_string(),
            reason: format!("the token file {value} is empty"),
        });
    }
    Ok(token)
}

impl FileConfig {
    pub fn read(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        FileConfig::parse(&text, path)
    }

    /// Parses the text of `path`. Unknown keys are ignored (linting is `mwictl lint`'s job).
    pub fn parse(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
        let value: Value = serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Yaml {
            file: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let doc = Doc { file: path };
        let root = match &value {
            Value::Mapping(map) => map.clone(),
            Value::Null => Mapping::new(),
            _ => return Err(doc.bad("(top level)", "expected a mapping of settings")),
        };
        if let Some(version) = doc.string(&root, "version", "version")?
            && version != "v2"
        {
            return Err(doc.bad(
                "version",
                &format!("{version:?} is not supported; the agent reads v2 configs"),
            ));
        }
        let mut config = FileConfig {
            path: path.to_path_buf(),
            auth_server: doc.string(&root, "auth_server", "auth_server")?,
            proxy_server: doc.string(&root, "proxy_server", "proxy_server")?,
            join_uri: doc
                .string(&root, "join_uri", "join_uri")?
                .filter(|uri| !uri.trim().is_empty()),
            insecure: doc.boolean(&root, "insecure", "insecure")?,
            credential_ttl: doc.duration(&root, "credential_ttl", "credential_ttl")?,
            renewal_interval: doc.duration(&root, "renewal_interval", "renewal_interval")?,
            oneshot: doc.boolean(&root, "oneshot", "oneshot")?,
            ..Default::default()
        };
        if config.credential_ttl.is_none() {
            config.credential_ttl = doc.duration(&root, "certificate_ttl", "certificate_ttl")?;
        }
        if let Some(onboarding) = doc.mapping(&root, "onboarding", "onboarding")? {
            config.read_onboarding(&doc, &onboarding)?;
        }
        if let Some(storage) = doc.mapping(&root, "storage", "storage")? {
            config.storage = Some(doc.directory(&storage, "storage")?);
        }
        for section in ["services", "outputs"] {
            let Some(items) = root.get(section) else {
                continue;
            };
            let items = match items {
                Value::Sequence(items) => items,
                Value::Null => continue,
                _ => return Err(doc.bad(section, "expected a list of entries")),
            };
            for (index, item) in items.iter().enumerate() {
                let at = format!("{section}[{index}]");
                let Value::Mapping(item) = item else {
                    return Err(doc.bad(&at, "expected a mapping with a type"));
                };
                config.read_output(&doc, item, at)?;
            }
        }
        Ok(config)
    }

    fn read_onboarding(&mut self, doc: &Doc, map: &Mapping) -> Result<(), ConfigError> {
        if let Some(method) = doc.string(map, "join_method", "onboarding.join_method")?
            && !method.is_empty()
        {
            check_join_method(&method).map_err(|e| doc.bad("onboarding.join_method", &e))?;
            self.join_method = Some(method);
        }
        if let Some(block) = doc.mapping(map, "bound_keypair", "onboarding.bound_keypair")? {
            let key = |name: &str| format!("onboarding.bound_keypair.{name}");
            let path = |name: &str| -> Result<Option<PathBuf>, ConfigError> {
                Ok(doc
                    .string(&block, name, &key(name))?
                    .filter(|p| !p.trim().is_empty())
                    .map(PathBuf::from))
            };
            self.bound_keypair = BoundKeypairConfig {
                registration_secret: doc
                    .string(&block, "registration_secret", &key("registration_secret"))?
                    .filter(|s| !s.is_empty()),
                registration_secret_path: path("registration_secret_path")?,
                static_private_key_path: path("static_private_key_path")?,
            };
        }
        if let Some(token) = doc.string(map, "token", "onboarding.token")?
            && !token.trim().is_empty()
        {
            self.token = Some(token_value(&token, "onboarding.token", doc.file)?);
        }
        self.ca_path = doc
            .string(map, "ca_path", "onboarding.ca_path")?
            .map(PathBuf::from);
        self.ca_pins = doc.strings(map, "ca_pins", "onboarding.ca_pins")?;
        Ok(())
    }

    fn read_output(&mut self, doc: &Doc, item: &Mapping, at: String) -> Result<(), ConfigError> {
        let kind = doc
            .string(item, "type", &format!("{at}.type"))?
            .ok_or_else(|| doc.bad(&format!("{at}.type"), "missing; every entry needs a type"))?;
        let roles = doc.strings(item, "roles", &format!("{at}.roles"))?;
        let kind = match kind.as_str() {
            "identity" => {
                let ssh_config = doc.string(item, "ssh_config", &format!("{at}.ssh_config"))?;
                if let Some(value) = &ssh_config
                    && !matches!(value.as_str(), "" | "on" | "off")
                {
                    return Err(doc.bad(
                        &format!("{at}.ssh_config"),
                        &format!("unrecognized value {value:?}; use \"on\" or \"off\""),
                    ));
                }
                OutputKind::Identity {
                    ssh_login: None,
                    ssh_config: ssh_config.as_deref() != Some("off"),
                }
            }
            "database" => OutputKind::Database {
                service: doc
                    .string(item, "service", &format!("{at}.service"))?
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        doc.bad(
                            &format!("{at}.service"),
                            "missing; a database output needs the database service name",
                        )
                    })?,
                database: doc.string(item, "database", &format!("{at}.database"))?,
                username: doc.string(item, "username", &format!("{at}.username"))?,
            },
            other => {
                self.skipped.push(format!(
                    "{}: {at}: type {other:?} is not served by the lab agent; skipped",
                    doc.file.display()
                ));
                return Ok(());
            }
        };
        let key = format!("{at}.destination");
        let Some(destination) = doc.mapping(item, "destination", &key)? else {
            return Err(doc.bad(&key, "missing; use {type: directory, path: DIR}"));
        };
        let destination = match doc.string(&destination, "type", &format!("{key}.type"))? {
            Some(kind) if kind != "directory" => {
                self.skipped.push(format!(
                    "{}: {key}: destination type {kind:?} is not served by the lab agent; skipped",
                    doc.file.display()
                ));
                return Ok(());
            }
            _ => doc.directory(&destination, &key)?,
        };
        self.outputs.push(Output {
            kind,
            destination,
            roles,
            origin: at,
        });
        Ok(())
    }
}

/// Refuses a join method the lab agent does not serve, naming the ones it does.
pub fn check_join_method(method: &str) -> Result<(), String> {
    if JOIN_METHODS.contains(&method) {
        Ok(())
    } else {
        Err(format!(
            "{method:?} is not supported; the lab agent joins with `token` or `bound_keypair`"
        ))
    }
}

/// Typed reads from a YAML mapping with errors that name the file and the dotted key.
struct Doc<'a> {
    file: &'a Path,
}

impl Doc<'_> {
    fn bad(&self, key: &str, reason: &str) -> ConfigError {
        ConfigError::Key {
            file: self.file.to_path_buf(),
            key: key.to_string(),
            reason: reason.to_string(),
        }
    }

    fn string(&self, map: &Mapping, name: &str, key: &str) -> Result<Option<String>, ConfigError> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            // YAML 1.1 readers turn `on`/`off` into booleans; tbot's ssh_config means the same.
            Some(Value::Bool(b)) if name == "ssh_config" => {
                Ok(Some(if *b { "on" } else { "off" }.to_string()))
            }
            Some(Value::Bool(_)) => Err(self.bad(key, "expected text, found true/false; quote it")),
            Some(_) => Err(self.bad(key, "expected text")),
        }
    }

    fn boolean(&self, map: &Mapping, name: &str, key: &str) -> Result<bool, ConfigError> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(self.bad(key, "expected true or false")),
        }
    }

    fn duration(
        &self,
        map: &Mapping,
        name: &str,
        key: &str,
    ) -> Result<Option<Duration>, ConfigError> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => parse_duration(s).map(Some).map_err(|e| self.bad(key, &e)),
            Some(_) => Err(self.bad(key, "expected a duration with a unit, like 20m or 1h")),
        }
    }

    fn strings(&self, map: &Mapping, name: &str, key: &str) -> Result<Vec<String>, ConfigError> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Sequence(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(self.bad(key, "expected a list of text values")),
                })
                .collect(),
            Some(_) => Err(self.bad(key, "expected a list, like [a, b]")),
        }
    }

    fn mapping(
        &self,
        map: &Mapping,
        name: &str,
        key: &str,
    ) -> Result<Option<Mapping>, ConfigError> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Mapping(m)) => Ok(Some(m.clone())),
            // tbot accepts a bare path where a directory destination is expected.
            Some(Value::String(path)) => {
                let mut m = Mapping::new();
                m.insert("path".into(), path.clone().into());
                Ok(Some(m))
            }
            Some(_) => Err(self.bad(key, "expected a mapping")),
        }
    }

    /// A `{type: directory, path: DIR}` destination (the type may be left out).
    fn directory(&self, map: &Mapping, key: &str) -> Result<PathBuf, ConfigError> {
        match self.string(map, "type", &format!("{key}.type"))? {
            Some(kind) if kind != "directory" => {
                return Err(self.bad(
                    &format!("{key}.type"),
                    &format!("{kind:?} is not supported by the lab agent; use directory"),
                ));
            }
            _ => {}
        }
        self.string(map, "path", &format!("{key}.path"))?
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| self.bad(&format!("{key}.path"), "missing; name the directory"))
    }
}

/// A Go duration as tbot reads it (surrounding spaces ignored), with the agent's wording for
/// one that is not.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    mwi_identity::duration::parse(text.trim()).map_err(|e| {
        format!(
            "{:?} is not a duration like 20m, 1h or 1h30m ({})",
            e.text(),
            e.reason()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FileConfig, ConfigError> {
        FileConfig::parse(text, Path::new("/etc/tbot.yaml"))
    }

    const FULL: &str = r#"
version: v2
auth_server: 127.0.0.1:3025
onboarding:
  token: abc123
  join_method: token
storage:
  type: directory
  path: /var/lib/bot
credential_ttl: 1h
renewal_interval: 20m
oneshot: false
debug: true
services:
  - type: identity
    destination:
      type: directory
      path: /opt/machine-id
    ssh_config: "off"
    roles: [access]
  - type: kubernetes
    kubernetes_cluster: k8s
    destination: {type: kubernetes_secret, name: identity-output}
outputs:
  - type: database
    service: pg
    database: example
    username: alice
    destination: {type: directory, path: /opt/db}
"#;

    #[test]
    fn reads_the_tbot_v2_subset_and_ignores_unknown_keys() {
        let config = parse(FULL).unwrap();
        assert_eq!(config.auth_server.as_deref(), Some("127.0.0.1:3025"));
        assert_eq!(config.token.as_deref(), Some("abc123"));
        assert_eq!(config.storage, Some(PathBuf::from("/var/lib/bot")));
        assert_eq!(config.credential_ttl, Some(Duration::from_secs(3600)));
        assert_eq!(config.renewal_interval, Some(Duration::from_secs(1200)));
        assert_eq!(config.outputs.len(), 2);
        assert_eq!(
            config.outputs[0],
            Output {
                kind: OutputKind::Identity {
                    ssh_login: None,
                    ssh_config: false,
                },
                destination: "/opt/machine-id".into(),
                roles: vec!["access".into()],
                origin: "services[0]".into(),
            }
        );
        assert_eq!(
            config.outputs[1].kind,
            OutputKind::Database {
                service: "pg".into(),
                database: Some("example".into()),
                username: Some("alice".into()),
            }
        );
        assert_eq!(config.skipped.len(), 1);
        assert!(
            config.skipped[0].contains("services[1]") && config.skipped[0].contains("kubernetes")
        );
    }

    #[test]
    fn token_from_an_absolute_path_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "  secret-token\n").unwrap();
        let config = parse(&format!("onboarding:\n  token: {}\n", file.display())).unwrap();
        assert_eq!(config.token.as_deref(), Some("secret-token"));
    }

    #[test]
    fn missing_token_file_names_the_key_and_the_file() {
        let err = parse("onboarding:\n  token: /nonexistent/token\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "/etc/tbot.yaml: onboarding.token: cannot read the token file /nonexistent/token"
            ),
            "{err}"
        );
    }

    #[test]
    fn bad_values_give_one_line_naming_file_and_key() {
        let cases = [
            ("credential_ttl: 2x\n", "credential_ttl"),
            ("renewal_interval: 60\n", "renewal_interval"),
            ("oneshot: maybe\n", "oneshot"),
            (
                "onboarding:\n  join_method: github\n",
                "onboarding.join_method",
            ),
            ("storage:\n  type: memory\n", "storage.type"),
            (
                "services:\n  - destination: {path: /x}\n",
                "services[0].type",
            ),
            ("services:\n  - type: identity\n", "services[0].destination"),
            (
                "services:\n  - type: identity\n    ssh_config: maybe\n    destination: /x\n",
                "services[0].ssh_config",
            ),
            (
                "services:\n  - type: database\n    destination: /x\n",
                "services[0].service",
            ),
            (
                "services:\n  - type: identity\n    roles: access\n    destination: /x\n",
                "services[0].roles",
            ),
            ("version: v1\n", "version"),
            ("services: 3\n", "services"),
        ];
        for (text, key) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("/etc/tbot.yaml: {key}: ")),
                "{text:?} gave {err:?}"
            );
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }

    #[test]
    fn yaml_syntax_error_names_the_file() {
        let err = parse("auth_server: [unclosed\n").unwrap_err().to_string();
        assert!(err.starts_with("/etc/tbot.yaml: not valid YAML: "), "{err}");
    }

    #[test]
    fn empty_file_is_an_empty_config() {
        assert_eq!(parse("").unwrap().outputs, vec![]);
    }

    #[test]
    fn bare_string_destination_and_boolean_ssh_config_are_accepted() {
        let config =
            parse("services:\n  - type: identity\n    ssh_config: off\n    destination: /opt/id\n")
                .unwrap();
        assert_eq!(config.outputs[0].destination, PathBuf::from("/opt/id"));
        assert_eq!(
            config.outputs[0].kind,
            OutputKind::Identity {
                ssh_login: None,
                ssh_config: false
            }
        );
        let config = parse("services:\n  - type: identity\n    destination: /opt/id\n").unwrap();
        assert_eq!(
            config.outputs[0].kind,
            OutputKind::Identity {
                ssh_login: None,
                ssh_config: true
            },
            "ssh_config is on unless it says off"
        );
    }

    #[test]
    fn bound_keypair_onboarding_uses_tbots_keys() {
        let config = parse(
            "join_uri: tbot+proxy+bound-keypair://bot-x:s3cret@proxy.example.com:443\nonboarding:\n  join_method: bound_keypair\n  token: bot-x\n  bound_keypair:\n    registration_secret: s3cret\n    registration_secret_path: /etc/secret\n    static_private_key_path: /etc/static\n",
        )
        .unwrap();
        assert_eq!(config.join_method.as_deref(), Some("bound_keypair"));
        assert_eq!(config.token.as_deref(), Some("bot-x"));
        assert_eq!(
            config.join_uri.as_deref(),
            Some("tbot+proxy+bound-keypair://bot-x:s3cret@proxy.example.com:443")
        );
        assert_eq!(
            config.bound_keypair,
            BoundKeypairConfig {
                registration_secret: Some("s3cret".into()),
                registration_secret_path: Some("/etc/secret".into()),
                static_private_key_path: Some("/etc/static".into()),
            }
        );
        let err = parse("onboarding:\n  bound_keypair:\n    registration_secret: [a]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("/etc/tbot.yaml: onboarding.bound_keypair.registration_secret: "),
            "{err}"
        );
    }

    #[test]
    fn certificate_ttl_is_the_deprecated_alias() {
        let config = parse("certificate_ttl: 30m\n").unwrap();
        assert_eq!(config.credential_ttl, Some(Duration::from_secs(1800)));
    }
}
