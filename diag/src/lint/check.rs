//! Checking one tbot.yaml: reads the document, runs the schema walk and every rule of
//! [`rules::RULES`] over it, and turns their issues into positioned findings with fix edits.

use super::rules::{self, Check, Rule};
use super::schema;
use super::target::Release;
use super::{FileReport, LintFinding, LintOptions, Severity};
use crate::tbot_release::OLDEST_SUPPORTED;
use crate::yaml::edit::Edit;
use crate::yaml::{self, Entry, Map, Node, Value};
use std::path::{Component, Path, PathBuf};

/// tbot's storage when the config names none.
const DEFAULT_STORAGE: &str = "/var/lib/teleport/bot";

/// Where a config keeps tbot's internal data, for the rules about storage.
#[derive(Debug, Clone)]
pub(crate) struct StorageUse {
    pub path: PathBuf,
    /// Byte offset of the path's value (0 for the default storage).
    pub at: usize,
    pub line: usize,
    pub column: usize,
    pub key: String,
    /// False for the default storage (no `storage:` key).
    pub explicit: bool,
}

/// A problem found by a rule, before it is positioned.
pub(crate) struct Issue {
    pub rule: &'static Rule,
    pub severity: Severity,
    pub at: usize,
    pub key: String,
    pub message: String,
    pub fix: Option<String>,
    pub edits: Vec<Edit>,
}

/// Collects the issues of one file.
pub(crate) struct Checker<'a> {
    pub src: &'a str,
    /// A v1 file: tbot reads it without strict decoding, so an unknown key is ignored (a
    /// warning) rather than refused (an error).
    pub v1: bool,
    /// The release the file is judged against (what its schema is).
    pub release: Release,
    issues: Vec<Issue>,
}

impl Checker<'_> {
    /// An issue of `rule` at its usual severity.
    pub fn add(
        &mut self,
        rule: &'static Rule,
        at: usize,
        key: &str,
        message: String,
    ) -> &mut Issue {
        self.add_as(rule, rule.severities[0], at, key, message)
    }

    /// An issue of `rule` at one of its other severities.
    pub fn add_as(
        &mut self,
        rule: &'static Rule,
        severity: Severity,
        at: usize,
        key: &str,
        message: String,
    ) -> &mut Issue {
        debug_assert!(rule.severities.contains(&severity), "{}", rule.id);
        self.issues.push(Issue {
            rule,
            severity,
            at,
            key: key.to_string(),
            message,
            fix: None,
            edits: Vec::new(),
        });
        let last = self.issues.len() - 1;
        &mut self.issues[last]
    }
}

/// What the config rules read: the parsed config and what surrounds it.
pub(crate) struct Context<'a> {
    pub config: Config<'a>,
    /// The directory relative paths in the config are relative to.
    pub base: Option<&'a Path>,
    pub options: &'a LintOptions,
    pub storage: Storage<'a>,
}

/// The storage a config uses.
pub(crate) enum Storage<'a> {
    /// A directory (given, or tbot's default).
    Directory(StorageUse),
    /// `storage: {type: memory}`: the entry of `storage`.
    Memory(&'a Entry),
    /// Something the rules cannot place (another type, an empty path, a wrong shape).
    Unknown,
}

impl Context<'_> {
    pub fn storage_directory(&self) -> Option<&StorageUse> {
        match &self.storage {
            Storage::Directory(storage) => Some(storage),
            _ => None,
        }
    }

    /// The static key a bound_keypair config joins with: `static_private_key_path`, else
    /// `TBOT_BOUND_KEYPAIR_STATIC_KEY` in tbot's environment (the path wins when both are set,
    /// lib/tbot/bot/onboarding/config.go); None for another join method or a managed key.
    pub fn static_key(&self) -> Option<StaticKey> {
        let config = &self.config;
        if config.join_method() != Some("bound_keypair") && !config.join_uri_is_bound_keypair() {
            return None;
        }
        let path = config
            .onboarding_value("bound_keypair")
            .and_then(|e| e.value.as_map())
            .and_then(|m| set_entry(m, "static_private_key_path"));
        if let Some(path) = path {
            return Some(StaticKey {
                at: path.value.span.start,
                key: "onboarding.bound_keypair.static_private_key_path".to_string(),
            });
        }
        let env = self.options.tbot_env.as_ref()?;
        env.get(STATIC_KEY_ENV).filter(|v| !v.is_empty())?;
        let at = config
            .map
            .get("onboarding")
            .or_else(|| config.map.get("join_uri"))
            .map_or(0, |e| e.key_span.start);
        Some(StaticKey {
            at,
            key: format!("{STATIC_KEY_ENV} (tbot's environment)"),
        })
    }

    /// The name of the join token a bound_keypair config joins with: `onboarding.token`, else
    /// the user part of `join_uri`, else `TELEPORT_BOT_TOKEN` in tbot's environment.
    pub fn token_name(&self) -> Option<String> {
        let config = &self.config;
        if let Some(token) = config
            .onboarding_value("token")
            .and_then(|e| e.value.as_str())
        {
            return Some(token.to_string());
        }
        if let Some(token) = config.join_uri_token() {
            return Some(token.to_string());
        }
        self.options
            .tbot_env
            .as_ref()?
            .get("TELEPORT_BOT_TOKEN")
            .filter(|t| !t.is_empty())
            .cloned()
    }
}

/// tbot's environment variable holding a static bound keypair (base64 of the PEM).
pub(crate) const STATIC_KEY_ENV: &str = "TBOT_BOUND_KEYPAIR_STATIC_KEY";

/// Where a config names its static bound keypair.
pub(crate) struct StaticKey {
    /// Byte offset the findings point at.
    pub at: usize,
    /// The key (or the environment variable) that names it.
    pub key: String,
}

/// Whether a value counts as set. tbot decodes YAML into Go structs and then tests each field
/// against its zero value, so a missing key, `~`/`null`, `""`, `[]` and `{}` all mean "not set"
/// (`tbot configure` writes `ca_path: ""` for an unset CA path). Every rule asks this one question.
pub(crate) fn is_set(node: &Node) -> bool {
    match &node.value {
        Value::Null => false,
        Value::Scalar(s) => {
            !(s.text.is_empty()
                || (s.style == yaml::Style::Plain
                    && matches!(s.text.as_str(), "~" | "null" | "Null" | "NULL")))
        }
        Value::Seq(items) => !items.is_empty(),
        Value::Map(map) => !map.entries.is_empty(),
        Value::Alias => true,
    }
}

/// The entry of `key` in `map` when its value is set ([`is_set`]).
pub(crate) fn set_entry<'a>(map: &'a Map, key: &str) -> Option<&'a Entry> {
    map.get(key).filter(|e| is_set(&e.value))
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Lints one file's text.
pub(crate) fn lint(
    name: &str,
    src: &str,
    base: Option<&Path>,
    options: &LintOptions,
) -> FileReport {
    let mut checker = Checker {
        src,
        v1: false,
        release: options.target.release,
        issues: Vec::new(),
    };
    let storage = check_document(&mut checker, base, options);
    finish(name, src, checker.issues, storage)
}

/// A file that is not UTF-8 text.
pub(crate) fn not_utf8(name: &str, bytes: &[u8], valid_up_to: usize) -> FileReport {
    let valid = String::from_utf8_lossy(&bytes[..valid_up_to.min(bytes.len())]).into_owned();
    let mut checker = Checker {
        src: &valid,
        v1: false,
        release: OLDEST_SUPPORTED,
        issues: Vec::new(),
    };
    checker
        .add(
            &rules::yaml_syntax::RULE,
            valid.len(),
            "",
            "the file is not UTF-8 text".to_string(),
        )
        .fix = Some("save it as UTF-8".to_string());
    let issues = checker.issues;
    finish(name, &valid, issues, None)
}

fn finish(name: &str, src: &str, issues: Vec<Issue>, storage: Option<StorageUse>) -> FileReport {
    let index = LineIndex::new(src);
    let mut edits = Vec::new();
    let findings = issues
        .into_iter()
        .map(|issue| {
            let (line, column) = index.position(issue.at);
            let fixable = !issue.edits.is_empty();
            edits.extend(issue.edits);
            LintFinding {
                rule: issue.rule.id.to_string(),
                severity: issue.severity,
                incident: issue.rule.incident,
                file: name.to_string(),
                line,
                column,
                key: issue.key,
                message: issue.message,
                fix: issue.fix,
                fixable,
            }
        })
        .collect();
    FileReport {
        path: name.to_string(),
        findings,
        source: src.to_string(),
        edits,
        storage,
    }
}

/// Reads the document and runs the rules; returns the storage directory for the rules across
/// files.
fn check_document(
    checker: &mut Checker,
    base: Option<&Path>,
    options: &LintOptions,
) -> Option<StorageUse> {
    let src = checker.src;
    let doc = match yaml::parse(src) {
        Ok(doc) => doc,
        Err(e) => {
            checker.add(
                &rules::yaml_syntax::RULE,
                e.offset,
                "",
                format!("not valid YAML: {}", e.message),
            );
            return None;
        }
    };
    // A full YAML parser has the last word on syntax, so nothing this reader tolerates slips by.
    if doc.duplicates.is_empty()
        && let Err(e) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(src)
    {
        let at = e
            .location()
            .map_or(0, |l| LineIndex::new(src).offset(l.line(), l.column()));
        let message = e.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_string();
        checker.add(
            &rules::yaml_syntax::RULE,
            at,
            "",
            format!("not valid YAML: {message}"),
        );
        return None;
    }
    rules::duplicate_key::check(checker, &doc.duplicates);
    let Some(root) = doc.root else {
        let message =
            "the file holds no settings; a tbot config needs at least `version: v2`".to_string();
        checker.add(&rules::missing_key::RULE, 0, "", message);
        return None;
    };
    let Value::Map(map) = &root.value else {
        rules::wrong_type::report(checker, &root, "(top level)", "a mapping of keys");
        return None;
    };
    if !rules::config_v1::check(checker, &root, map) {
        checker.v1 = true;
        super::v1::check(checker, map);
        let context = Context {
            config: Config::read(map),
            base,
            options,
            storage: Storage::Unknown,
        };
        for rule in super::v1::CONFIG_RULES {
            if let Check::Config(check) = rule.check {
                check(checker, &context);
            }
        }
        return None;
    }

    checker.walk_fields(map, schema::TOP, "");
    let config = Config::read(map);
    let storage = storage_of(src, &config, base);
    let context = Context {
        config,
        base,
        options,
        storage,
    };
    for rule in rules::RULES {
        if let Check::Config(check) = rule.check {
            check(checker, &context);
        }
    }
    match context.storage {
        Storage::Directory(storage) => Some(storage),
        _ => None,
    }
}

/// The storage `config` names, or tbot's default.
fn storage_of<'a>(src: &str, config: &Config<'a>, base: Option<&Path>) -> Storage<'a> {
    let (path_text, at, key, explicit) = match config.storage {
        None => (DEFAULT_STORAGE.to_string(), 0, "storage".to_string(), false),
        Some(entry) => match &entry.value.value {
            Value::Scalar(s) => (
                s.text.clone(),
                entry.value.span.start,
                "storage".to_string(),
                true,
            ),
            Value::Map(map) => {
                let kind = map.get("type").and_then(|e| e.value.as_str()).unwrap_or("");
                if kind == "memory" {
                    return Storage::Memory(entry);
                }
                if kind != "directory" {
                    return Storage::Unknown;
                }
                match map.get("path") {
                    Some(path) => (
                        path.value.as_str().unwrap_or("").to_string(),
                        path.value.span.start,
                        "storage.path".to_string(),
                        true,
                    ),
                    None => return Storage::Unknown,
                }
            }
            _ => return Storage::Unknown,
        },
    };
    if path_text.is_empty() {
        return Storage::Unknown;
    }
    let (line, column) = LineIndex::new(src).position(at);
    Storage::Directory(StorageUse {
        path: resolve(base, &path_text),
        at,
        line,
        column,
        key,
        explicit,
    })
}

/// The parts of a config the semantic rules read.
pub(crate) struct Config<'a> {
    pub map: &'a Map,
    pub auth_server: Option<&'a Entry>,
    pub proxy_server: Option<&'a Entry>,
    pub onboarding: Option<&'a Map>,
    pub storage: Option<&'a Entry>,
    pub services: Vec<Service<'a>>,
}

pub(crate) struct Service<'a> {
    pub path: String,
    pub node: &'a Node,
    pub map: &'a Map,
    pub kind: &'a str,
}

/// A place where `credential_ttl` and `renewal_interval` apply: the top level, or a service
/// that sets either.
pub(crate) struct TtlScope<'a> {
    /// `""` for the top level, else the service's path.
    pub path: String,
    pub ttl_entry: Option<&'a Entry>,
    pub interval_entry: Option<&'a Entry>,
    /// The values in force there, in seconds (inherited or tbot's defaults when not set).
    pub ttl: f64,
    pub interval: f64,
}

const DEFAULT_TTL: f64 = 3600.0;
const DEFAULT_INTERVAL: f64 = 1200.0;

fn duration_of(entry: Option<&Entry>) -> Option<f64> {
    entry
        .and_then(|e| e.value.as_str())
        .and_then(schema::parse_duration)
}

impl<'a> Config<'a> {
    fn read(map: &'a Map) -> Config<'a> {
        let set = |key: &str| set_entry(map, key).filter(|e| e.value.as_str().is_some());
        let mut services = Vec::new();
        for list in ["services", "outputs"] {
            let Some(items) = map.get(list).and_then(|e| e.value.as_seq()) else {
                continue;
            };
            for (i, node) in items.iter().enumerate() {
                if let Some(service_map) = node.as_map() {
                    services.push(Service {
                        path: format!("{list}[{i}]"),
                        node,
                        map: service_map,
                        kind: service_map
                            .get("type")
                            .and_then(|e| e.value.as_str())
                            .unwrap_or(""),
                    });
                }
            }
        }
        Config {
            map,
            auth_server: set("auth_server"),
            proxy_server: set("proxy_server"),
            onboarding: map.get("onboarding").and_then(|e| e.value.as_map()),
            storage: map.get("storage"),
            services,
        }
    }

    /// `onboarding.KEY` when it is set ([`is_set`]).
    pub fn onboarding_value(&self, key: &str) -> Option<&'a Entry> {
        self.onboarding.and_then(|o| set_entry(o, key))
    }

    /// `join_uri`'s scheme names the bound-keypair method (`bound-keypair` or `boundkeypair`).
    pub fn join_uri_is_bound_keypair(&self) -> bool {
        set_entry(self.map, "join_uri")
            .and_then(|e| e.value.as_str())
            .and_then(|uri| uri.split_once("://"))
            .is_some_and(|(scheme, _)| {
                matches!(
                    scheme.rsplit('+').next(),
                    Some("bound-keypair" | "boundkeypair")
                )
            })
    }

    /// The join token `join_uri` names (its user part, before any `:SECRET`).
    pub fn join_uri_token(&self) -> Option<&'a str> {
        let uri = set_entry(self.map, "join_uri")?.value.as_str()?;
        let (_, rest) = uri.split_once("://")?;
        let authority = rest.split(['/', '?', '#']).next()?;
        let (user, _) = authority.rsplit_once('@')?;
        user.split(':').next().filter(|t| !t.is_empty())
    }

    pub fn join_method(&self) -> Option<&'a str> {
        match self
            .onboarding_value("join_method")
            .and_then(|e| e.value.as_str())
        {
            Some(method) => Some(method),
            // tbot joins with `token` when a token is given and no method is.
            None => self.onboarding_value("token").map(|_| "token"),
        }
    }

    /// The top level, then each service that sets its own TTL or interval.
    pub fn ttl_scopes(&self) -> Vec<TtlScope<'a>> {
        let top_ttl_entry = self
            .map
            .get("credential_ttl")
            .or_else(|| self.map.get("certificate_ttl"));
        let top_interval_entry = self.map.get("renewal_interval");
        let top_ttl = duration_of(top_ttl_entry).unwrap_or(DEFAULT_TTL);
        let top_interval = duration_of(top_interval_entry).unwrap_or(DEFAULT_INTERVAL);
        let mut scopes = vec![TtlScope {
            path: String::new(),
            ttl_entry: top_ttl_entry,
            interval_entry: top_interval_entry,
            ttl: top_ttl,
            interval: top_interval,
        }];
        for service in &self.services {
            let ttl_entry = service.map.get("credential_ttl");
            let interval_entry = service.map.get("renewal_interval");
            if ttl_entry.is_none() && interval_entry.is_none() {
                continue;
            }
            scopes.push(TtlScope {
                path: service.path.clone(),
                ttl_entry,
                interval_entry,
                ttl: duration_of(ttl_entry).unwrap_or(top_ttl),
                interval: duration_of(interval_entry).unwrap_or(top_interval),
            });
        }
        scopes
    }
}

/// `path` made absolute against `base`, with `.` and `..` folded away (no file system access).
pub(crate) fn resolve(base: Option<&Path>, path: &str) -> PathBuf {
    let path = Path::new(path);
    let joined = match base {
        Some(base) if path.is_relative() => base.join(path),
        _ => path.to_path_buf(),
    };
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Line starts of a text, to turn byte offsets into 1-based line and column (in characters).
pub(crate) struct LineIndex<'a> {
    src: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(src: &'a str) -> LineIndex<'a> {
        let mut starts = vec![0];
        starts.extend(
            src.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { src, starts }
    }

    pub fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.src.len());
        while !self.src.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = self.src[start..offset].chars().count() + 1;
        (line, column)
    }

    /// The offset of a 1-based line and column (in characters), clamped to the text.
    fn offset(&self, line: usize, column: usize) -> usize {
        let Some(&start) = self.starts.get(line.saturating_sub(1)) else {
            return self.src.len();
        };
        self.src[start..]
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(self.src.len(), |(i, _)| start + i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters() {
        let index = LineIndex::new("a: é\nbé: 2\n");
        assert_eq!(index.position(0), (1, 1));
        assert_eq!(index.position(6), (2, 1));
        assert_eq!(index.position(9), (2, 3));
        assert_eq!(index.offset(2, 3), 9);
        assert_eq!(index.position(1000), (3, 1));
    }

    #[test]
    fn resolve_folds_dots() {
        assert_eq!(
            resolve(Some(Path::new("/etc/tbot")), "./storage/../data"),
            PathBuf::from("/etc/tbot/data")
        );
        assert_eq!(
            resolve(Some(Path::new("/etc")), "/var/x"),
            PathBuf::from("/var/x")
        );
        assert_eq!(resolve(None, "../x"), PathBuf::from("../x"));
    }
}
