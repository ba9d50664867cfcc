//! The schema walk: every key and value of a config against the tbot.yaml v2 schema, reported
//! as the `unknown-key`, `wrong-type`, `invalid-value` and `missing-key` rules.

use super::check::{Checker, is_set, join};
use super::release;
use super::rules::{invalid_value, missing_key, unknown_key, wrong_type};
use super::schema::{self, Field, Shape};
use crate::yaml::{Entry, Map, Node, Style, Value};

impl Checker<'_> {
    fn walk(&mut self, node: &Node, shape: Shape, path: &str) {
        if matches!(node.value, Value::Null | Value::Alias) && !matches!(shape, Shape::Services) {
            return;
        }
        match shape {
            Shape::Any => {}
            Shape::Str => {
                if !matches!(node.value, Value::Scalar(_)) {
                    wrong_type::report(self, node, path, "a single value");
                }
            }
            Shape::Bool => match &node.value {
                Value::Scalar(s) if s.style == Style::Plain && is_bool(&s.text) => {}
                Value::Scalar(s) if is_bool(&s.text) => {
                    let message = format!(
                        "`{path}` must be true or false without quotes; a quoted \"{}\" is text",
                        s.text
                    );
                    self.add(&wrong_type::RULE, node.span.start, path, message);
                }
                _ => wrong_type::report(self, node, path, "true or false"),
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
                    self.add(&invalid_value::RULE, node.span.start, path, message);
                }
                _ => wrong_type::report(self, node, path, "a duration such as 20m"),
            },
            Shape::Enum(allowed) => match &node.value {
                Value::Scalar(s) if allowed.contains(&s.text.as_str()) => {
                    if let Some(why) = release::join_method_not_in(self.release, &s.text) {
                        let message = format!("`{path}: {}`: {why}", s.text);
                        self.add(&invalid_value::RULE, node.span.start, path, message)
                            .fix = Some("use another join method, or give a newer --teleport-version if tbot is newer".to_string());
                    }
                }
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
                    self.add(&invalid_value::RULE, node.span.start, path, message);
                }
                _ => wrong_type::report(self, node, path, "a single value"),
            },
            Shape::StrList => match &node.value {
                Value::Seq(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if !matches!(item.value, Value::Scalar(_)) {
                            wrong_type::report(
                                self,
                                item,
                                &format!("{path}[{i}]"),
                                "a single value",
                            );
                        }
                    }
                }
                _ => wrong_type::report(self, node, path, "a list such as [a, b]"),
            },
            Shape::StrMap => match &node.value {
                Value::Map(map) => {
                    for entry in &map.entries {
                        if matches!(entry.value.value, Value::Map(_) | Value::Seq(_)) {
                            wrong_type::report(
                                self,
                                &entry.value,
                                &format!("{path}.{}", entry.key),
                                "a single value",
                            );
                        }
                    }
                }
                _ => wrong_type::report(self, node, path, "a mapping of names to values"),
            },
            Shape::Struct(fields) => match &node.value {
                Value::Map(map) => self.walk_fields(map, fields, path),
                _ => wrong_type::report(self, node, path, "a mapping of keys"),
            },
            Shape::ListOf(fields) => match &node.value {
                Value::Seq(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let item_path = format!("{path}[{i}]");
                        match &item.value {
                            Value::Map(map) => self.walk_fields(map, fields, &item_path),
                            _ => wrong_type::report(self, item, &item_path, "a mapping of keys"),
                        }
                    }
                }
                _ => wrong_type::report(self, node, path, "a list"),
            },
            Shape::Destination => self.walk_destination(node, path),
            Shape::PathOr(fields) => match &node.value {
                Value::Scalar(_) => {}
                Value::Map(map) => self.walk_fields(map, fields, path),
                _ => wrong_type::report(self, node, path, "a path or a mapping of keys"),
            },
            Shape::Services => self.walk_services(node, path),
        }
    }

    pub(crate) fn walk_fields(&mut self, map: &Map, fields: &[Field], path: &str) {
        for entry in &map.entries {
            let key_path = join(path, &entry.key);
            match fields.iter().find(|f| f.name == entry.key) {
                Some(_) if self.refused_by_release(map, entry, path) => {}
                Some(field) => self.walk(&entry.value, field.shape, &key_path),
                None => unknown_key::report(self, entry, fields, path),
            }
        }
    }

    /// Reports a key of the schema that the target release does not have yet; true if it did.
    fn refused_by_release(&mut self, map: &Map, entry: &Entry, path: &str) -> bool {
        let Some(why) = release::key_not_in(self.release, &entry.key) else {
            return false;
        };
        unknown_key::report_not_in_release(self, map, entry, path, why);
        true
    }

    fn walk_destination(&mut self, node: &Node, path: &str) {
        let map = match &node.value {
            Value::Scalar(_) => return,
            Value::Map(map) => map,
            _ => {
                return wrong_type::report(
                    self,
                    node,
                    path,
                    "a directory path or a mapping with `type:`",
                );
            }
        };
        let Some(kind) = map.get("type") else {
            let message =
                format!("`{path}` needs `type:` (directory, memory or kubernetes_secret)");
            self.add(&missing_key::RULE, node.span.start, path, message);
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
                    self.add(&missing_key::RULE, node.span.start, path, message);
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
                    &invalid_value::RULE,
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
            _ => return wrong_type::report(self, node, path, "a list of services"),
        };
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            let Value::Map(map) = &item.value else {
                wrong_type::report(self, item, &item_path, "a mapping with `type:`");
                continue;
            };
            let Some(kind) = map.get("type") else {
                let message =
                    format!("`{item_path}` needs `type:` (identity, kubernetes, database, ...)");
                self.add(&missing_key::RULE, item.span.start, &item_path, message);
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
                    &invalid_value::RULE,
                    kind.value.span.start,
                    &join(&item_path, "type"),
                    message,
                );
                continue;
            };
            if let Some(why) = release::kind_not_in(self.release, path, kind_text) {
                let message = format!("`{item_path}.type: {kind_text}`: {why}");
                self.add(
                    &invalid_value::RULE,
                    kind.value.span.start,
                    &join(&item_path, "type"),
                    message,
                )
                .fix = Some(
                    "move the entry, or give a newer --teleport-version if tbot is newer"
                        .to_string(),
                );
                continue;
            }
            match service.fields {
                Some(fields) => self.walk_fields(map, fields, &item_path),
                None => {
                    for entry in &map.entries {
                        if let Some(field) = schema::shared_service_fields()
                            .iter()
                            .find(|f| f.name == entry.key)
                            && !self.refused_by_release(map, entry, &item_path)
                        {
                            self.walk(&entry.value, field.shape, &join(&item_path, &entry.key));
                        }
                    }
                }
            }
            self.check_required(item, map, &item_path, service);
        }
    }

    /// The keys `service` requires and its selector rule, each as tbot's `CheckAndSetDefaults`
    /// tests it: a key counts only when set ([`is_set`]: `""` or `[]` is as missing).
    fn check_required(
        &mut self,
        item: &Node,
        map: &Map,
        item_path: &str,
        service: &schema::ServiceType,
    ) {
        for required in service.required {
            let (value, span) = lookup(map, required.key);
            if value.is_some_and(is_set) {
                continue;
            }
            let message = format!(
                "`{item_path}` (type {}) needs `{}:`; tbot refuses to start: \"{}\"",
                service.name, required.key, required.tbot_says
            );
            let at = span.unwrap_or(item.span.start);
            self.add(&missing_key::RULE, at, item_path, message);
        }
        if service.name == "spiffe-svid"
            && let (Some(path), Some(at)) = lookup(map, "svid.path")
            && let Some(text) = path
                .as_str()
                .filter(|t| !t.is_empty() && !t.starts_with('/'))
        {
            let message = format!(
                "`{item_path}.svid.path: {text}` must start with /; tbot refuses to start: \"svid.path: should be prefixed with /\""
            );
            self.add(
                &invalid_value::RULE,
                at,
                &join(item_path, "svid.path"),
                message,
            );
        }
        match service.selector {
            schema::Selector::None => {}
            schema::Selector::WorkloadIdentity => {
                let key = join(item_path, "selector");
                match map.get("selector") {
                    Some(entry) => self.one_of_name_and_labels(&entry.value, &key),
                    None => {
                        let message = format!(
                            "`{item_path}` (type {}) needs `selector:` with `name` or `labels`; tbot refuses to start: \"one of ['name', 'labels'] must be set\"",
                            service.name
                        );
                        self.add(&missing_key::RULE, item.span.start, item_path, message);
                    }
                }
            }
            schema::Selector::Kubernetes => {
                let selectors = map.get("selectors");
                match selectors.and_then(|e| e.value.as_seq()) {
                    Some(items) if !items.is_empty() => {
                        for (i, selector) in items.iter().enumerate() {
                            let key = format!("{item_path}.selectors[{i}]");
                            self.one_of_name_and_labels(selector, &key);
                        }
                    }
                    // Another shape is the schema walk's `wrong-type`.
                    Some(_) | None if selectors.is_none_or(|e| !is_set(&e.value)) => {
                        let at = selectors.map_or(item.span.start, |e| e.key_span.start);
                        let message = format!(
                            "`{item_path}` (type kubernetes/v2) needs `selectors:` with at least one selector; tbot refuses to start: \"at least one selector must be provided\""
                        );
                        self.add(&missing_key::RULE, at, item_path, message);
                    }
                    _ => {}
                }
            }
        }
    }

    /// A selector mapping with exactly one of `name` and `labels` set.
    fn one_of_name_and_labels(&mut self, node: &Node, key: &str) {
        let Some(selector) = node.as_map() else {
            if !is_set(node) {
                let message = format!(
                    "`{key}` is empty: it needs `name` or `labels`; tbot refuses to start: \"one of ['name', 'labels'] must be set\""
                );
                self.add(&missing_key::RULE, node.span.start, key, message);
            }
            return;
        };
        let set = |k: &str| selector.get(k).is_some_and(|e| is_set(&e.value));
        let (message, rule) = match (set("name"), set("labels")) {
            (true, false) | (false, true) => return,
            (false, false) => (
                format!(
                    "`{key}` needs `name` or `labels`; tbot refuses to start: \"one of ['name', 'labels'] must be set\""
                ),
                &missing_key::RULE,
            ),
            (true, true) => (
                format!(
                    "`{key}` sets both `name` and `labels`; tbot refuses to start: \"at most one of ['name', 'labels'] can be set\""
                ),
                &invalid_value::RULE,
            ),
        };
        self.add(rule, node.span.start, key, message);
    }
}

/// The value at a dotted `key` in `map` and the offset of its key, when present.
fn lookup<'a>(map: &'a Map, key: &str) -> (Option<&'a Node>, Option<usize>) {
    let mut map = map;
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        let Some(entry) = map.get(part) else {
            return (None, None);
        };
        if parts.peek().is_none() {
            return (Some(&entry.value), Some(entry.key_span.start));
        }
        match entry.value.as_map() {
            Some(inner) => map = inner,
            None => return (None, Some(entry.key_span.start)),
        }
    }
    (None, None)
}

fn is_bool(text: &str) -> bool {
    matches!(text, "true" | "false" | "True" | "False" | "TRUE" | "FALSE")
}

#[cfg(test)]
mod tests {
    use crate::lint::{LintOptions, lint_source};

    /// `rule: message` of each schema finding of one service (`SERVICE` is its YAML lines).
    fn schema_findings(service: &str) -> Vec<String> {
        let config =
            format!("version: v2\nproxy_server: teleport.example.com:443\nservices:\n{service}");
        lint_source("tbot.yaml", &config, &LintOptions::default())
            .findings
            .into_iter()
            .filter(|f| {
                ["missing-key", "unknown-key", "invalid-value", "wrong-type"]
                    .contains(&f.rule.as_str())
            })
            .map(|f| format!("{}: {}", f.rule, f.message))
            .collect()
    }

    /// Valid services of every checked kind, as Teleport's docs write them: no schema finding.
    #[test]
    fn valid_services_of_every_checked_kind_pass() {
        for service in [
            "  - type: identity\n    destination:\n      type: directory\n      path: /opt/machine-id\n    ssh_config: \"off\"\n    delegation_session_id: abc\n",
            "  - type: database-tunnel\n    listen: tcp://127.0.0.1:25432\n    service: postgres\n    database: postgres\n    username: postgres\n",
            "  - type: application-tunnel\n    app_name: dumper\n    listen: tcp://127.0.0.1:1234\n    name: dumper-tunnel\n",
            "  - type: application\n    app_name: grafana\n    specific_tls_naming: true\n    destination: {type: directory, path: /opt/app}\n",
            "  - type: ssh_host\n    principals: [host.example.com]\n    destination: {type: directory, path: /opt/ssh}\n",
            "  - type: kubernetes/v2\n    selectors:\n      - name: prod\n        default_namespace: apps\n      - labels: {env: dev}\n    destination: {type: directory, path: /opt/kube}\n",
            "  - type: workload-identity-x509\n    selector:\n      name: my-wi\n    destination: {type: directory, path: /opt/svid}\n",
            "  - type: workload-identity-jwt\n    selector:\n      labels:\n        env: [prod]\n    audiences: [example.com]\n    destination: {type: directory, path: /opt/jwt}\n",
            "  - type: workload-identity-api\n    listen: unix:///opt/workload.sock\n    selector: {name: my-wi}\n    attestors:\n      kubernetes:\n        enabled: true\n",
            "  - type: workload-identity-aws-roles-anywhere\n    selector: {name: aws}\n    role_arn: arn:aws:iam::123456789012:role/example\n    profile_arn: arn:aws:rolesanywhere:us-east-1:123456789012:profile/p\n    trust_anchor_arn: arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/t\n    session_duration: 6h\n    destination: {type: directory, path: /opt/aws}\n",
            "  - type: spiffe-svid\n    svid:\n      path: /svc/foo\n      sans: {dns: [foo.example.com]}\n    jwts:\n      - audience: example.com\n        file_name: foo.jwt\n    destination: {type: directory, path: /opt/spiffe}\n",
        ] {
            assert_eq!(schema_findings(service), Vec::<String>::new(), "{service}");
        }
    }

    #[test]
    fn a_database_tunnel_without_database_is_refused_as_tbot_does() {
        let found = schema_findings(
            "  - type: database-tunnel\n    listen: tcp://127.0.0.1:25432\n    service: postgres\n    username: postgres\n",
        );
        assert_eq!(
            found,
            [
                "missing-key: `services[0]` (type database-tunnel) needs `database:`; tbot refuses to start: \"database: should not be empty\""
            ]
        );
        // An empty value is as missing, as tbot tests the zero value.
        let empty = schema_findings(
            "  - type: database-tunnel\n    listen: tcp://127.0.0.1:25432\n    service: postgres\n    database: \"\"\n    username: postgres\n",
        );
        assert_eq!(empty.len(), 1, "{empty:?}");
    }

    #[test]
    fn required_keys_of_each_kind() {
        let cases = [
            (
                "  - type: application-tunnel\n    listen: tcp://127.0.0.1:1\n",
                "`app_name:`",
            ),
            (
                "  - type: ssh_host\n    principals: []\n    destination: /opt/ssh\n",
                "at least one principal",
            ),
            (
                "  - type: identity\n    ssh_config: \"off\"\n",
                "no destination configured for output",
            ),
            (
                "  - type: workload-identity-jwt\n    selector: {name: a}\n    destination: /opt/jwt\n",
                "audiences: must have at least one value",
            ),
            (
                "  - type: spiffe-svid\n    svid: {hint: x}\n    destination: /opt/s\n",
                "svid.path: should not be empty",
            ),
            (
                "  - type: spiffe-svid\n    svid: {path: svc/foo}\n    destination: /opt/s\n",
                "should be prefixed with /",
            ),
            (
                "  - type: workload-identity-x509\n    destination: /opt/x\n",
                "one of ['name', 'labels'] must be set",
            ),
            (
                "  - type: workload-identity-x509\n    selector: {name: a, labels: {env: [x]}}\n    destination: /opt/x\n",
                "at most one of",
            ),
            (
                "  - type: kubernetes/v2\n    destination: /opt/k\n",
                "at least one selector must be provided",
            ),
            (
                "  - type: kubernetes/v2\n    selectors: [{}]\n    destination: /opt/k\n",
                "one of ['name', 'labels'] must be set",
            ),
            (
                "  - type: workload-identity-aws-roles-anywhere\n    selector: {name: a}\n    destination: /opt/a\n    role_arn: r\n    profile_arn: p\n",
                "trust_anchor_arn: must be set",
            ),
        ];
        for (service, expected) in cases {
            let found = schema_findings(service);
            assert!(
                found.len() == 1 && found[0].contains(expected),
                "{service}: {found:?}"
            );
        }
    }

    #[test]
    fn misspelt_keys_of_newly_checked_kinds_are_caught() {
        let found = schema_findings(
            "  - type: database-tunnel\n    listen: tcp://127.0.0.1:25432\n    service: postgres\n    database: postgres\n    usrname: postgres\n",
        );
        assert!(
            found
                .iter()
                .any(|f| f.contains("unknown key `usrname`")
                    && f.contains("did you mean `username`")),
            "{found:?}"
        );
        let found = schema_findings(
            "  - type: application\n    app_name: a\n    specific_tls_extensions: true\n    destination: /opt/a\n",
        );
        assert!(
            found
                .iter()
                .any(|f| f.contains("unknown key `specific_tls_extensions`")),
            "{found:?}"
        );
    }
}
