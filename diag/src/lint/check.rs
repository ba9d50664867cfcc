//! Checking one tbot.yaml: the schema walk (keys, types, values) and the semantic rules, each
//! finding with its position and, for the safe ones, the byte edits that fix it.

use super::fix::{self, Edit};
use super::schema::{self, Field, Shape};
use super::yaml::{self, Entry, Map, Node, Style, Value};
use super::{FileReport, LintFinding, LintOptions, Severity};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// tbot's storage when the config names none.
const DEFAULT_STORAGE: &str = "/var/lib/teleport/bot";
const DEFAULT_TTL: f64 = 3600.0;
const DEFAULT_INTERVAL: f64 = 1200.0;
const MAX_TTL: f64 = 24.0 * 3600.0;

/// Where a config keeps tbot's internal data, for the rule across files.
#[derive(Debug, Clone)]
pub(crate) struct StorageUse {
    path: PathBuf,
    line: usize,
    column: usize,
    key: String,
    explicit: bool,
}

struct Issue {
    rule: &'static str,
    severity: Severity,
    incident: Option<&'static str>,
    at: usize,
    key: String,
    message: String,
    fix: Option<String>,
    edits: Vec<Edit>,
}

struct Checker<'a> {
    src: &'a str,
    issues: Vec<Issue>,
}

impl Checker<'_> {
    fn add(
        &mut self,
        rule: &'static str,
        severity: Severity,
        at: usize,
        key: &str,
        message: String,
    ) -> &mut Issue {
        self.issues.push(Issue {
            rule,
            severity,
            incident: None,
            at,
            key: key.to_string(),
            message,
            fix: None,
            edits: Vec::new(),
        });
        let last = self.issues.len() - 1;
        &mut self.issues[last]
    }

    fn wrong_type(&mut self, node: &Node, path: &str, expected: &str) {
        let message = format!("`{path}` must be {expected}, not {}", describe(node));
        self.add(
            "wrong-type",
            Severity::Error,
            node.span.start,
            path,
            message,
        );
    }

    fn walk(&mut self, node: &Node, shape: Shape, path: &str) {
        if matches!(node.value, Value::Null | Value::Alias) && !matches!(shape, Shape::Services) {
            return;
        }
        match shape {
            Shape::Any => {}
            Shape::Str => {
                if !matches!(node.value, Value::Scalar(_)) {
                    self.wrong_type(node, path, "a single value");
                }
            }
            Shape::Bool => match &node.value {
                Value::Scalar(s) if s.style == Style::Plain && is_bool(&s.text) => {}
                Value::Scalar(s) if is_bool(&s.text) => {
                    let message = format!(
                        "`{path}` must be true or false without quotes; a quoted \"{}\" is text",
                        s.text
                    );
                    self.add(
                        "wrong-type",
                        Severity::Error,
                        node.span.start,
                        path,
                        message,
                    );
                }
                _ => self.wrong_type(node, path, "true or false"),
            },
            Shape::Duration => match &node.value {
                Value::Scalar(s) => {
                    if schema::parse_duration(&s.text).is_some() {
                        return;
                    }
                    let message = if s.style == Style::Plain
                        && s.text.bytes().all(|b| b.is_ascii_digit())
                    {
                        format!(
                            "`{path}: {}` has no unit and would be read as nanoseconds; write it like 20m or 1h",
                            s.text
                        )
                    } else {
                        format!(
                            "`{path}` is not a duration: `{}` (write it like 20m, 1h or 1h30m)",
                            s.text
                        )
                    };
                    self.add(
                        "invalid-value",
                        Severity::Error,
                        node.span.start,
                        path,
                        message,
                    );
                }
                _ => self.wrong_type(node, path, "a duration such as 20m"),
            },
            Shape::Enum(allowed) => match &node.value {
                Value::Scalar(s) if allowed.contains(&s.text.as_str()) => {}
                Value::Scalar(s) => {
                    let hint = schema::did_you_mean(&s.text, allowed.iter().copied())
                        .map_or(String::new(), |m| format!(" (did you mean `{m}`?)"));
                    let words: Vec<&str> =
                        allowed.iter().copied().filter(|w| !w.is_empty()).collect();
                    let message = format!(
                        "`{path}: {}` is not allowed{hint}; use one of: {}",
                        s.text,
                        words.join(", ")
                    );
                    self.add(
                        "invalid-value",
                        Severity::Error,
                        node.span.start,
                        path,
                        message,
                    );
                }
                _ => self.wrong_type(node, path, "a single value"),
            },
            Shape::StrList => match &node.value {
                Value::Seq(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if !matches!(item.value, Value::Scalar(_)) {
                            self.wrong_type(item, &format!("{path}[{i}]"), "a single value");
                        }
                    }
                }
                _ => self.wrong_type(node, path, "a list such as [a, b]"),
            },
            Shape::StrMap => match &node.value {
                Value::Map(map) => {
                    for entry in &map.entries {
                        if matches!(entry.value.value, Value::Map(_) | Value::Seq(_)) {
                            self.wrong_type(
                                &entry.value,
                                &format!("{path}.{}", entry.key),
                                "a single value",
                            );
                        }
                    }
                }
                _ => self.wrong_type(node, path, "a mapping of names to values"),
            },
            Shape::Struct(fields) => match &node.value {
                Value::Map(map) => self.walk_fields(map, fields, path),
                _ => self.wrong_type(node, path, "a mapping of keys"),
            },
            Shape::ListOf(fields) => match &node.value {
                Value::Seq(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let item_path = format!("{path}[{i}]");
                        match &item.value {
                            Value::Map(map) => self.walk_fields(map, fields, &item_path),
                            _ => self.wrong_type(item, &item_path, "a mapping of keys"),
                        }
                    }
                }
                _ => self.wrong_type(node, path, "a list"),
            },
            Shape::Destination => self.walk_destination(node, path),
            Shape::Services => self.walk_services(node, path),
        }
    }

    fn walk_fields(&mut self, map: &Map, fields: &[Field], path: &str) {
        for entry in &map.entries {
            let key_path = join(path, &entry.key);
            match fields.iter().find(|f| f.name == entry.key) {
                Some(field) => self.walk(&entry.value, field.shape, &key_path),
                None => self.unknown_key(entry, fields, path),
            }
        }
    }

    fn unknown_key(&mut self, entry: &Entry, fields: &[Field], path: &str) {
        let place = if path.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in `{path}`")
        };
        let mut message = format!("unknown key `{}` {place}", entry.key);
        let fix =
            if let Some(near) = schema::did_you_mean(&entry.key, fields.iter().map(|f| f.name)) {
                message.push_str(&format!("; did you mean `{near}`?"));
                Some(format!("rename it to `{near}`"))
            } else if let Some(home) = schema::home_of(&entry.key) {
                message.push_str(&format!("; `{}` belongs in {home}", entry.key));
                Some(format!("move it to {home}"))
            } else {
                Some("remove it: tbot refuses a v2 config with an unknown key".to_string())
            };
        let issue = self.add(
            "unknown-key",
            Severity::Error,
            entry.key_span.start,
            &join(path, &entry.key),
            message,
        );
        issue.fix = fix;
    }

    fn walk_destination(&mut self, node: &Node, path: &str) {
        let map = match &node.value {
            Value::Scalar(_) => return,
            Value::Map(map) => map,
            _ => return self.wrong_type(node, path, "a directory path or a mapping with `type:`"),
        };
        let Some(kind) = map.get("type") else {
            let message =
                format!("`{path}` needs `type:` (directory, memory or kubernetes_secret)");
            self.add(
                "missing-key",
                Severity::Error,
                node.span.start,
                path,
                message,
            );
            return;
        };
        let kind_text = kind.value.as_str().unwrap_or("");
        match schema::DESTINATION_TYPES
            .iter()
            .find(|(name, _)| *name == kind_text)
        {
            Some((name, fields)) => {
                self.walk_fields(map, fields, path);
                let required = match *name {
                    "directory" => Some("path"),
                    "kubernetes_secret" => Some("name"),
                    _ => None,
                };
                if let Some(required) = required.filter(|r| map.get(r).is_none()) {
                    let message = format!("`{path}` of type {name} needs `{required}:`");
                    self.add(
                        "missing-key",
                        Severity::Error,
                        node.span.start,
                        path,
                        message,
                    );
                }
            }
            None => {
                let names = schema::DESTINATION_TYPES.iter().map(|(n, _)| *n);
                let hint = schema::did_you_mean(kind_text, names.clone())
                    .map_or(String::new(), |m| format!(" (did you mean `{m}`?)"));
                let message = format!(
                    "`{path}.type: {kind_text}` is not a destination type{hint}; use one of: {}",
                    names.collect::<Vec<_>>().join(", ")
                );
                self.add(
                    "invalid-value",
                    Severity::Error,
                    kind.value.span.start,
                    &join(path, "type"),
                    message,
                );
            }
        }
    }

    fn walk_services(&mut self, node: &Node, path: &str) {
        let items = match &node.value {
            Value::Seq(items) => items,
            Value::Null => return,
            _ => return self.wrong_type(node, path, "a list of services"),
        };
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            let Value::Map(map) = &item.value else {
                self.wrong_type(item, &item_path, "a mapping with `type:`");
                continue;
            };
            let Some(kind) = map.get("type") else {
                let message =
                    format!("`{item_path}` needs `type:` (identity, kubernetes, database, ...)");
                self.add(
                    "missing-key",
                    Severity::Error,
                    item.span.start,
                    &item_path,
                    message,
                );
                continue;
            };
            let kind_text = kind.value.as_str().unwrap_or("");
            let Some(service) = schema::service_type(kind_text) else {
                let names = schema::SERVICE_TYPES.iter().map(|t| t.name);
                let hint = schema::did_you_mean(kind_text, names)
                    .map_or(String::new(), |m| format!(" (did you mean `{m}`?)"));
                let message = format!(
                    "`{item_path}.type: {kind_text}` is not a service type tbot knows{hint}"
                );
                self.add(
                    "invalid-value",
                    Severity::Error,
                    kind.value.span.start,
                    &join(&item_path, "type"),
                    message,
                );
                continue;
            };
            match service.fields {
                Some(fields) => self.walk_fields(map, fields, &item_path),
                None => {
                    for entry in &map.entries {
                        if let Some(field) = schema::shared_service_fields()
                            .iter()
                            .find(|f| f.name == entry.key)
                        {
                            self.walk(&entry.value, field.shape, &join(&item_path, &entry.key));
                        }
                    }
                }
            }
            for required in service.required {
                if map.get(required).is_none() {
                    let message =
                        format!("`{item_path}` (type {}) needs `{required}:`", service.name);
                    self.add(
                        "missing-key",
                        Severity::Error,
                        item.span.start,
                        &item_path,
                        message,
                    );
                }
            }
        }
    }
}

fn is_bool(text: &str) -> bool {
    matches!(text, "true" | "false" | "True" | "False" | "TRUE" | "FALSE")
}

fn describe(node: &Node) -> String {
    match &node.value {
        Value::Null => "nothing".to_string(),
        Value::Alias => "an alias".to_string(),
        Value::Map(_) => "a mapping".to_string(),
        Value::Seq(_) => "a list".to_string(),
        Value::Scalar(s) => {
            let shown: String = s.text.chars().take(40).collect();
            format!("`{shown}`")
        }
    }
}

fn join(path: &str, key: &str) -> String {
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
        issues: Vec::new(),
    };
    let storage = check_document(&mut checker, base, options);
    finish(name, src, checker.issues, storage)
}

/// A file that is not UTF-8 text.
pub(crate) fn not_utf8(name: &str, bytes: &[u8], valid_up_to: usize) -> FileReport {
    let valid = String::from_utf8_lossy(&bytes[..valid_up_to.min(bytes.len())]).into_owned();
    let issue = Issue {
        rule: "yaml-syntax",
        severity: Severity::Error,
        incident: None,
        at: valid.len(),
        key: String::new(),
        message: "the file is not UTF-8 text".to_string(),
        fix: Some("save it as UTF-8".to_string()),
        edits: Vec::new(),
    };
    finish(name, &valid, vec![issue], None)
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
                rule: issue.rule.to_string(),
                severity: issue.severity,
                incident: issue.incident.map(str::to_string),
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
                "yaml-syntax",
                Severity::Error,
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
            "yaml-syntax",
            Severity::Error,
            at,
            "",
            format!("not valid YAML: {message}"),
        );
        return None;
    }
    for (key, span) in &doc.duplicates {
        let message = format!("`{key}` is given twice in one mapping; tbot rejects that");
        checker
            .add("duplicate-key", Severity::Error, span.start, key, message)
            .fix = Some("keep one of them".to_string());
    }
    let Some(root) = doc.root else {
        let message =
            "the file holds no settings; a tbot config needs at least `version: v2`".to_string();
        checker.add("missing-key", Severity::Error, 0, "", message);
        return None;
    };
    let Value::Map(map) = &root.value else {
        checker.wrong_type(&root, "(top level)", "a mapping of keys");
        return None;
    };

    match map.get("version") {
        Some(version) if version.value.as_str() == Some("v1") => {
            let message = "`version: v1` is deprecated: tbot migrates it in memory; rewrite it as v2 (`services:` entries with `type:`, `storage:` with `type:`)".to_string();
            checker.add(
                "config-v1",
                Severity::Warning,
                version.value.span.start,
                "version",
                message,
            );
            return None;
        }
        Some(_) => {}
        None if looks_v1(map) => {
            let message = "a v1 config (no `version:`, v1 keys): deprecated, tbot migrates it in memory; rewrite it as v2".to_string();
            checker.add(
                "config-v1",
                Severity::Warning,
                root.span.start,
                "version",
                message,
            );
            return None;
        }
        None => {
            let message = "no `version:` key: tbot reads such a file as a v1 config, and v2 keys then fail; add `version: v2`".to_string();
            let edit = insert_first_line(src, map, "version: v2");
            let issue = checker.add(
                "config-v1",
                Severity::Warning,
                root.span.start,
                "version",
                message,
            );
            issue.fix = Some("add `version: v2` as the first key".to_string());
            issue.edits.extend(edit);
        }
    }

    checker.walk_fields(map, schema::TOP, "");
    let config = Config::read(map);
    rules(checker, &config, base, options)
}

/// v1 files name outputs under `destinations:` and storage as `storage: {directory: ...}`.
fn looks_v1(map: &Map) -> bool {
    map.get("destinations").is_some()
        || map
            .get("storage")
            .and_then(|e| e.value.as_map())
            .is_some_and(|s| s.get("directory").is_some() || s.get("memory").is_some())
}

/// A new first line for the top-level mapping, with its indentation.
fn insert_first_line(src: &str, map: &Map, line: &str) -> Option<Edit> {
    let first = map.entries.first()?;
    let start = src[..first.key_span.start].rfind('\n').map_or(0, |i| i + 1);
    let indent = first.key_span.start - start;
    let eol = if src.contains("\r\n") { "\r\n" } else { "\n" };
    Some(Edit {
        at: start,
        remove: 0,
        insert: format!("{}{line}{eol}", " ".repeat(indent)),
    })
}

/// The parts of a config the semantic rules read.
struct Config<'a> {
    map: &'a Map,
    auth_server: Option<&'a Entry>,
    proxy_server: Option<&'a Entry>,
    onboarding: Option<&'a Map>,
    storage: Option<&'a Entry>,
    services: Vec<Service<'a>>,
}

struct Service<'a> {
    path: String,
    node: &'a Node,
    map: &'a Map,
    kind: &'a str,
}

impl<'a> Config<'a> {
    fn read(map: &'a Map) -> Config<'a> {
        let set = |key: &str| {
            map.get(key)
                .filter(|e| e.value.as_str().is_some_and(|s| !s.is_empty()))
        };
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

    fn onboarding_value(&self, key: &str) -> Option<&'a Entry> {
        self.onboarding.and_then(|o| o.get(key))
    }

    fn join_method(&self) -> Option<&'a str> {
        match self
            .onboarding_value("join_method")
            .and_then(|e| e.value.as_str())
        {
            Some(method) if !method.is_empty() => Some(method),
            // tbot joins with `token` when a token is given and no method is.
            _ => self.onboarding_value("token").map(|_| "token"),
        }
    }
}

fn rules(
    checker: &mut Checker,
    config: &Config,
    base: Option<&Path>,
    options: &LintOptions,
) -> Option<StorageUse> {
    outputs_key(checker, config);
    if let Some(entry) = config.map.get("certificate_ttl") {
        let message = "`certificate_ttl` is the old name of `credential_ttl`".to_string();
        checker
            .add(
                "deprecated-key",
                Severity::Warning,
                entry.key_span.start,
                "certificate_ttl",
                message,
            )
            .fix = Some("rename it to `credential_ttl`".to_string());
    }
    if let (Some(_), Some(proxy)) = (config.auth_server, config.proxy_server) {
        let message =
            "`auth_server` and `proxy_server` are both set; tbot accepts only one".to_string();
        checker.add("auth-and-proxy", Severity::Error, proxy.key_span.start, "proxy_server", message).fix = Some(
            "keep `proxy_server` to go through the proxy (needed for ssh_config and TLS routing), or `auth_server` to reach the auth service directly".to_string(),
        );
    }
    exec_plugin(checker, config);
    ssh_config_without_proxy(checker, config);
    use_proxy_addr(checker, config, options);
    ca_conflict(checker, config);
    ttl(checker, config);
    token_path(checker, config);
    let storage = storage(checker, config, base, options);
    duplicate_destinations(checker, config, base, storage.as_ref());
    storage
}

fn outputs_key(checker: &mut Checker, config: &Config) {
    let Some(outputs) = config.map.get("outputs") else {
        return;
    };
    if config.map.get("services").is_some() {
        let message =
            "`outputs:` is deprecated and `services:` is also set; tbot merges them".to_string();
        checker
            .add(
                "deprecated-outputs",
                Severity::Warning,
                outputs.key_span.start,
                "outputs",
                message,
            )
            .fix = Some("move the `outputs:` entries into `services:`".to_string());
    } else {
        let message = "`outputs:` is deprecated; it is now called `services:`".to_string();
        let issue = checker.add(
            "deprecated-outputs",
            Severity::Warning,
            outputs.key_span.start,
            "outputs",
            message,
        );
        issue.fix = Some("rename `outputs:` to `services:`".to_string());
        issue
            .edits
            .push(fix::rename_key(outputs.key_span, "services"));
    }
}

/// S5: a kubernetes output writing to a kubernetes_secret must not use the exec plugin.
fn exec_plugin(checker: &mut Checker, config: &Config) {
    let src = checker.src;
    for service in &config.services {
        if service.kind != "kubernetes" && service.kind != "kubernetes/v2" {
            continue;
        }
        let Some(destination) = service
            .map
            .get("destination")
            .and_then(|e| e.value.as_map())
        else {
            continue;
        };
        if destination.get("type").and_then(|e| e.value.as_str()) != Some("kubernetes_secret") {
            continue;
        }
        let current = service.map.get("disable_exec_plugin");
        if current.is_some_and(|e| matches!(&e.value.value, Value::Scalar(s) if s.style == Style::Plain && s.text.eq_ignore_ascii_case("true"))) {
            continue;
        }
        let secret = destination
            .get("name")
            .and_then(|e| e.value.as_str())
            .unwrap_or("");
        let (at, key) = match current {
            Some(entry) => (
                entry.key_span.start,
                join(&service.path, "disable_exec_plugin"),
            ),
            None => (service.node.span.start, service.path.clone()),
        };
        let message = format!(
            "kubernetes output `{}` writes to the kubernetes_secret `{secret}` but `disable_exec_plugin` is not true: tbot fails the output with \"must be a directory in exec plugin mode\" (newer releases turn the plugin off and log it)",
            service.path
        );
        let edit = match current {
            Some(entry) if matches!(entry.value.value, Value::Scalar(_) | Value::Null) => {
                Some(fix::set_value(&entry.value, "true"))
            }
            Some(_) => None,
            None => fix::insert_entry(
                src,
                service.node,
                "kubernetes_cluster",
                "disable_exec_plugin",
                "true",
            ),
        };
        let issue = checker.add(
            "kube-secret-exec-plugin",
            Severity::Error,
            at,
            &key,
            message,
        );
        issue.incident = Some("S5");
        issue.fix = Some("add `disable_exec_plugin: true` to this output".to_string());
        issue.edits.extend(edit);
    }
}

/// S7: with only auth_server, an identity output writing ssh_config needs the proxy anyway.
fn ssh_config_without_proxy(checker: &mut Checker, config: &Config) {
    if config.auth_server.is_none() || config.proxy_server.is_some() {
        return;
    }
    let src = checker.src;
    for service in config.services.iter().filter(|s| s.kind == "identity") {
        let current = service.map.get("ssh_config");
        if current.and_then(|e| e.value.as_str()) == Some("off") {
            continue;
        }
        let (at, key) = match current {
            Some(entry) => (entry.key_span.start, join(&service.path, "ssh_config")),
            None => (service.node.span.start, service.path.clone()),
        };
        let message = format!(
            "identity output `{}` writes ssh_config, which needs the proxy, but only `auth_server` is set: when tbot cannot reach the proxy it logs \"Failed to ping proxy\" and the output fails. Set `ssh_config: \"off\"` if nothing needs ssh_config; otherwise give tbot network access to the proxy",
            service.path
        );
        let edit = match current {
            Some(entry) if matches!(entry.value.value, Value::Scalar(_) | Value::Null) => {
                Some(fix::set_value(&entry.value, "\"off\""))
            }
            Some(_) => None,
            None => fix::insert_entry(src, service.node, "", "ssh_config", "\"off\""),
        };
        let issue = checker.add(
            "auth-server-ssh-config",
            Severity::Warning,
            at,
            &key,
            message,
        );
        issue.incident = Some("S7");
        issue.fix = Some("set `ssh_config: \"off\"` on this output".to_string());
        issue.edits.extend(edit);
    }
}

/// S6: what TBOT_USE_PROXY_ADDR means for this config.
fn use_proxy_addr(checker: &mut Checker, config: &Config, options: &LintOptions) {
    let value = options.use_proxy_addr.as_deref().filter(|v| !v.is_empty());
    let (severity, at, key, message, fix) = match (value, config.proxy_server, config.auth_server) {
        (Some("yes"), Some(proxy), _) => (
            Severity::Info,
            proxy.key_span.start,
            "proxy_server",
            format!(
                "TBOT_USE_PROXY_ADDR=yes: tbot connects to `{}` as written, not to the address the proxy advertises (split DNS); this needs TLS routing (multiplexing) on the proxy",
                proxy.value.as_str().unwrap_or("")
            ),
            None,
        ),
        (Some("yes"), None, Some(auth)) => (
            Severity::Error,
            auth.key_span.start,
            "auth_server",
            "TBOT_USE_PROXY_ADDR=yes needs `proxy_server`, but only `auth_server` is set: tbot refuses to start".to_string(),
            Some("unset TBOT_USE_PROXY_ADDR, or connect through the proxy with `proxy_server`".to_string()),
        ),
        (Some(other), _, _) if other != "yes" => (
            Severity::Warning,
            0,
            "",
            format!("TBOT_USE_PROXY_ADDR is `{other}`, but tbot honours only exactly `yes`"),
            Some("set TBOT_USE_PROXY_ADDR=yes, or unset it".to_string()),
        ),
        (None, Some(proxy), _) => (
            Severity::Info,
            proxy.key_span.start,
            "proxy_server",
            "if tbot must reach the proxy under this name while the proxy advertises another (split DNS), set TBOT_USE_PROXY_ADDR=yes in tbot's environment (needs TLS routing)".to_string(),
            None,
        ),
        _ => return,
    };
    let issue = checker.add("use-proxy-addr", severity, at, key, message);
    issue.incident = Some("S6");
    issue.fix = fix;
}

fn ca_conflict(checker: &mut Checker, config: &Config) {
    let ca_path = config.onboarding_value("ca_path");
    let ca_pins = config.onboarding_value("ca_pins");
    if let (Some(_), Some(pins)) = (ca_path, ca_pins) {
        let message =
            "`onboarding.ca_path` and `onboarding.ca_pins` exclude each other".to_string();
        checker
            .add(
                "onboarding-ca-conflict",
                Severity::Error,
                pins.key_span.start,
                "onboarding.ca_pins",
                message,
            )
            .fix = Some("keep one of them".to_string());
    }
    let insecure = config
        .map
        .get("insecure")
        .filter(|e| e.value.as_str() == Some("true"));
    if let (Some(insecure), true) = (insecure, ca_path.is_some() || ca_pins.is_some()) {
        let message = "`insecure: true` cannot be combined with `ca_path` or `ca_pins`".to_string();
        checker
            .add(
                "onboarding-ca-conflict",
                Severity::Error,
                insecure.key_span.start,
                "insecure",
                message,
            )
            .fix = Some("remove `insecure`, or the CA settings".to_string());
    }
}

fn duration_of(entry: Option<&Entry>) -> Option<f64> {
    entry
        .and_then(|e| e.value.as_str())
        .and_then(schema::parse_duration)
}

fn ttl(checker: &mut Checker, config: &Config) {
    let top_ttl_entry = config
        .map
        .get("credential_ttl")
        .or_else(|| config.map.get("certificate_ttl"));
    let top_interval_entry = config.map.get("renewal_interval");
    let top_ttl = duration_of(top_ttl_entry).unwrap_or(DEFAULT_TTL);
    let top_interval = duration_of(top_interval_entry).unwrap_or(DEFAULT_INTERVAL);
    let mut scopes = vec![(
        String::new(),
        top_ttl_entry,
        top_interval_entry,
        top_ttl,
        top_interval,
    )];
    for service in &config.services {
        let ttl_entry = service.map.get("credential_ttl");
        let interval_entry = service.map.get("renewal_interval");
        if ttl_entry.is_none() && interval_entry.is_none() {
            continue;
        }
        scopes.push((
            service.path.clone(),
            ttl_entry,
            interval_entry,
            duration_of(ttl_entry).unwrap_or(top_ttl),
            duration_of(interval_entry).unwrap_or(top_interval),
        ));
    }
    for (path, ttl_entry, interval_entry, ttl, interval) in scopes {
        if let Some(entry) = ttl_entry.filter(|_| ttl > MAX_TTL) {
            let message = format!(
                "`{}: {}` is over 24h: the auth service caps bot certificates at 24h (and the bot role's max_session_ttl, 12h by default)",
                join(&path, &entry.key),
                entry.value.as_str().unwrap_or("")
            );
            checker
                .add(
                    "ttl-over-24h",
                    Severity::Warning,
                    entry.key_span.start,
                    &join(&path, &entry.key),
                    message,
                )
                .fix = Some("use 24h or less".to_string());
        }
        if interval >= ttl && (ttl_entry.is_some() || interval_entry.is_some()) {
            let Some(entry) = interval_entry.or(ttl_entry) else {
                continue;
            };
            let message = format!(
                "`renewal_interval` ({}) is not shorter than `credential_ttl` ({}){}: certificates expire before tbot renews them",
                seconds(interval),
                seconds(ttl),
                if path.is_empty() {
                    String::new()
                } else {
                    format!(" in `{path}`")
                }
            );
            checker
                .add(
                    "ttl-below-interval",
                    Severity::Warning,
                    entry.key_span.start,
                    &join(&path, &entry.key),
                    message,
                )
                .fix = Some(
                "make renewal_interval about a third of credential_ttl (defaults: 20m and 1h)"
                    .to_string(),
            );
        }
    }
}

fn seconds(value: f64) -> String {
    let whole = value.round() as i64;
    if whole % 3600 == 0 {
        format!("{}h", whole / 3600)
    } else if whole % 60 == 0 {
        format!("{}m", whole / 60)
    } else {
        format!("{whole}s")
    }
}

fn token_path(checker: &mut Checker, config: &Config) {
    let Some(entry) = config.onboarding_value("token") else {
        return;
    };
    let Some(token) = entry.value.as_str() else {
        return;
    };
    // Only a path is shown: tokens themselves are secrets and never printed.
    if token.starts_with('/') && !Path::new(token).exists() {
        let message = format!(
            "`onboarding.token` is a path, `{token}`, that does not exist: tbot reads the token from that file"
        );
        checker
            .add(
                "token-path-missing",
                Severity::Error,
                entry.value.span.start,
                "onboarding.token",
                message,
            )
            .fix = Some("write the token to that file, or fix the path".to_string());
    }
}

fn storage(
    checker: &mut Checker,
    config: &Config,
    base: Option<&Path>,
    options: &LintOptions,
) -> Option<StorageUse> {
    let index = LineIndex::new(checker.src);
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
                    memory_storage(checker, config, entry);
                    return None;
                }
                if kind != "directory" {
                    return None;
                }
                match map.get("path") {
                    Some(path) => (
                        path.value.as_str().unwrap_or("").to_string(),
                        path.value.span.start,
                        "storage.path".to_string(),
                        true,
                    ),
                    None => return None,
                }
            }
            _ => return None,
        },
    };
    if path_text.is_empty() {
        return None;
    }
    let path = resolve(base, &path_text);
    if let Some(fs) = (options.network_fs)(&path) {
        let what = if explicit {
            "storage"
        } else {
            "the default storage"
        };
        let message = format!(
            "{what} `{}` is on a network file system ({fs}): tbot's internal data shared with or copied to another node makes the auth service see an old certificate and lock the bot (generation mismatch)",
            path.display()
        );
        let issue = checker.add("network-storage", Severity::Warning, at, &key, message);
        issue.incident = Some("S1");
        issue.fix =
            Some("keep storage on a local disk; share only output destinations".to_string());
    }
    let (line, column) = index.position(at);
    Some(StorageUse {
        path,
        line,
        column,
        key,
        explicit,
    })
}

fn memory_storage(checker: &mut Checker, config: &Config, entry: &Entry) {
    let (severity, what) = match config.join_method() {
        Some("token") => (Severity::Error, "a one-time token cannot join again"),
        Some("bound_keypair") => (
            Severity::Warning,
            "the bound keypair is lost and each restart spends a recovery",
        ),
        _ => return,
    };
    let method = config.join_method().unwrap_or("");
    let message = format!(
        "`storage` is memory with `join_method: {method}`: the identity is lost when tbot restarts, and {what}"
    );
    checker
        .add(
            "memory-storage-join",
            severity,
            entry.key_span.start,
            "storage",
            message,
        )
        .fix = Some("use `storage: {type: directory, path: ...}`".to_string());
}

/// Two outputs writing to one place (or to the storage directory) overwrite each other.
fn duplicate_destinations(
    checker: &mut Checker,
    config: &Config,
    base: Option<&Path>,
    storage: Option<&StorageUse>,
) {
    let index = LineIndex::new(checker.src);
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    if let Some(storage) = storage {
        seen.insert(
            format!("dir:{}", storage.path.display()),
            format!("the storage (line {})", storage.line),
        );
    }
    for service in &config.services {
        let Some(destination) = service.map.get("destination") else {
            continue;
        };
        let place = match &destination.value.value {
            Value::Scalar(s) => Some(format!("dir:{}", resolve(base, &s.text).display())),
            Value::Map(map) => match map.get("type").and_then(|e| e.value.as_str()) {
                Some("directory") => map
                    .get("path")
                    .and_then(|e| e.value.as_str())
                    .map(|p| format!("dir:{}", resolve(base, p).display())),
                Some("kubernetes_secret") => map
                    .get("name")
                    .and_then(|e| e.value.as_str())
                    .map(|n| format!("secret:{n}")),
                _ => None,
            },
            _ => None,
        };
        let Some(place) = place else {
            continue;
        };
        let (line, _) = index.position(destination.value.span.start);
        let here = format!("`{}` (line {line})", service.path);
        match seen.get(&place) {
            Some(first) => {
                let message = format!(
                    "`{}` writes to the same destination as {first}; they overwrite each other",
                    service.path
                );
                checker
                    .add(
                        "duplicate-destination",
                        Severity::Error,
                        destination.value.span.start,
                        &join(&service.path, "destination"),
                        message,
                    )
                    .fix = Some("give each output its own destination".to_string());
            }
            None => {
                seen.insert(place, here);
            }
        }
    }
}

/// `path` made absolute against `base`, with `.` and `..` folded away (no file system access).
fn resolve(base: Option<&Path>, path: &str) -> PathBuf {
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

/// S1 across files: one storage directory in several configs means two tbots share it.
pub(crate) fn shared_storage(files: &mut [FileReport]) {
    let mut users: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    for (i, file) in files.iter().enumerate() {
        if let Some(storage) = &file.storage {
            users.entry(storage.path.clone()).or_default().push(i);
        }
    }
    for (path, indices) in users {
        if indices.len() < 2 {
            continue;
        }
        for &i in &indices {
            let others: Vec<String> = indices
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| files[j].path.clone())
                .collect();
            let file = &mut files[i];
            let Some(storage) = &file.storage else {
                continue;
            };
            let what = if storage.explicit {
                "storage"
            } else {
                "the default storage"
            };
            file.findings.push(LintFinding {
                rule: "shared-storage".to_string(),
                severity: Severity::Error,
                incident: Some("S1".to_string()),
                file: file.path.clone(),
                line: storage.line,
                column: storage.column,
                key: storage.key.clone(),
                message: format!(
                    "{what} `{}` is also used by {}: two tbot processes sharing one storage directory present each other's old certificates and get the bot locked (generation mismatch)",
                    path.display(),
                    others.join(", ")
                ),
                fix: Some("give each tbot its own `storage.path`".to_string()),
                fixable: false,
            });
        }
    }
}

/// Line starts of a text, to turn byte offsets into 1-based line and column (in characters).
struct LineIndex<'a> {
    src: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(src: &'a str) -> LineIndex<'a> {
        let mut starts = vec![0];
        starts.extend(
            src.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { src, starts }
    }

    fn position(&self, offset: usize) -> (usize, usize) {
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
