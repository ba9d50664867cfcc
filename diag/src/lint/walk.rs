//! The schema walk: every key and value of a config against the tbot.yaml v2 schema, reported
//! as the `unknown-key`, `wrong-type`, `invalid-value` and `missing-key` rules.

use super::check::{Checker, join};
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
            for required in service.required {
                if map.get(required).is_none() {
                    let message =
                        format!("`{item_path}` (type {}) needs `{required}:`", service.name);
                    self.add(&missing_key::RULE, item.span.start, &item_path, message);
                }
            }
        }
    }
}

fn is_bool(text: &str) -> bool {
    matches!(text, "true" | "false" | "True" | "False" | "TRUE" | "FALSE")
}
