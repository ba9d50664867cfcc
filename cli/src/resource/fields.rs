//! Strict reading of resource documents (every key known, every value of the right type, errors
//! naming the field path) and building of output documents that omit empty values like tctl.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::{ResourceError, closest};
use super::units::parse_timestamp;

type Result<T> = std::result::Result<T, ResourceError>;

/// One mapping of an input document, read key by key. Each key asked for is remembered, so that
/// [`Fields::finish`] can reject the keys nobody asked for and suggest the nearest known one.
pub(crate) struct Fields {
    path: String,
    map: Map<String, Value>,
    known: Vec<&'static str>,
}

impl Fields {
    /// Reads `value` (at `path`) as a mapping.
    pub(crate) fn new(path: &str, value: Value) -> Result<Fields> {
        match value {
            Value::Object(map) => Ok(Fields {
                path: path.to_owned(),
                map,
                known: Vec::new(),
            }),
            other => Err(wrong_type(path, "a mapping", &other)),
        }
    }

    /// The path of `key` inside this mapping.
    pub(crate) fn path_of(&self, key: &str) -> String {
        join_key(&self.path, key)
    }

    /// The value of `key`, with null treated as absent (as tctl's JSON decoding does).
    fn take(&mut self, key: &'static str) -> Option<(String, Value)> {
        self.known.push(key);
        match self.map.remove(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some((self.path_of(key), v)),
        }
    }

    /// Reads `key` with `read` when it is present.
    pub(crate) fn with<T>(
        &mut self,
        key: &'static str,
        read: impl FnOnce(&str, Value) -> Result<T>,
    ) -> Result<Option<T>> {
        self.take(key).map(|(path, v)| read(&path, v)).transpose()
    }

    /// Accepts `key` with any value and drops it (fields tctl prints that the wire has no
    /// room for, such as the `id` of older releases).
    pub(crate) fn ignore(&mut self, key: &'static str) {
        self.take(key);
    }

    pub(crate) fn string(&mut self, key: &'static str) -> Result<String> {
        Ok(self.with(key, as_string)?.unwrap_or_default())
    }

    pub(crate) fn required_string(&mut self, key: &'static str) -> Result<String> {
        match self.with(key, as_string)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(ResourceError::Missing {
                path: self.path_of(key),
                expected: "a non-empty string",
            }),
        }
    }

    pub(crate) fn strings(&mut self, key: &'static str) -> Result<Vec<String>> {
        Ok(self.with(key, as_strings)?.unwrap_or_default())
    }

    pub(crate) fn bool(&mut self, key: &'static str) -> Result<bool> {
        Ok(self.with(key, as_bool)?.unwrap_or_default())
    }

    pub(crate) fn timestamp(
        &mut self,
        key: &'static str,
    ) -> Result<Option<prost_types::Timestamp>> {
        self.with(key, |path, v| {
            parse_timestamp(&as_string(path, v)?).map_err(|e| e.at_path(path))
        })
    }

    pub(crate) fn labels(&mut self, key: &'static str) -> Result<BTreeMap<String, String>> {
        Ok(self
            .with(key, |path, v| Fields::new(path, v)?.entries(as_string))?
            .unwrap_or_default())
    }

    /// The nested mapping at `key`, if present.
    pub(crate) fn object(&mut self, key: &'static str) -> Result<Option<Fields>> {
        self.with(key, Fields::new)
    }

    /// The nested mapping at `key`; absent reads as an empty mapping.
    pub(crate) fn object_or_empty(&mut self, key: &'static str) -> Result<Fields> {
        let path = self.path_of(key);
        Ok(self.object(key)?.unwrap_or(Fields {
            path,
            map: Map::new(),
            known: Vec::new(),
        }))
    }

    /// The list at `key`, each element read with `read` at its own path (`key[i]`).
    pub(crate) fn list<T>(
        &mut self,
        key: &'static str,
        read: impl Fn(&str, Value) -> Result<T>,
    ) -> Result<Vec<T>> {
        Ok(self
            .with(key, |path, v| as_list(path, v, read))?
            .unwrap_or_default())
    }

    /// Every entry of this mapping, read with `read`, for mappings whose keys are data (labels)
    /// rather than field names.
    pub(crate) fn entries<T>(
        self,
        read: impl Fn(&str, Value) -> Result<T>,
    ) -> Result<BTreeMap<String, T>> {
        let path = self.path;
        self.map
            .into_iter()
            .map(|(k, v)| {
                let value = read(&join_key(&path, &k), v)?;
                Ok((k, value))
            })
            .collect()
    }

    /// Fails on the first key that no reader asked for.
    pub(crate) fn finish(self) -> Result<()> {
        match self.map.into_iter().next() {
            None => Ok(()),
            Some((key, _)) => {
                let mut known = self.known;
                known.sort_unstable();
                known.dedup();
                Err(ResourceError::UnknownKey {
                    path: join_key(&self.path, &key),
                    suggestion: closest(&key, &known),
                    known,
                })
            }
        }
    }
}

/// `parent.key`, or `parent["key"]` for keys that are not plain identifiers (label keys such as
/// `teleport.internal/bot`).
pub(crate) fn join_key(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (parent.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{}]", Value::String(key.to_owned())),
    }
}

pub(crate) fn as_string(path: &str, value: Value) -> Result<String> {
    match value {
        Value::String(s) => Ok(s),
        Value::Number(_) | Value::Bool(_) => Err(ResourceError::WrongType {
            path: path.to_owned(),
            expected: "a string",
            got: format!("{}; quote it to make it a string", describe(&value)),
        }),
        other => Err(wrong_type(path, "a string", &other)),
    }
}

pub(crate) fn as_strings(path: &str, value: Value) -> Result<Vec<String>> {
    as_list(path, value, as_string)
}

pub(crate) fn as_bool(path: &str, value: Value) -> Result<bool> {
    match value {
        Value::Bool(b) => Ok(b),
        other => Err(wrong_type(path, "true or false", &other)),
    }
}

pub(crate) fn as_i32(path: &str, value: Value) -> Result<i32> {
    value
        .as_i64()
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| wrong_type(path, "a whole number (32-bit)", &value))
}

pub(crate) fn as_i64(path: &str, value: Value) -> Result<i64> {
    value
        .as_i64()
        .ok_or_else(|| wrong_type(path, "a whole number", &value))
}

pub(crate) fn as_u32(path: &str, value: Value) -> Result<u32> {
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| wrong_type(path, "a whole number from 0 (32-bit)", &value))
}

/// A reader for a nested mapping: `read` takes the keys it knows, then any key left over is an
/// error. Use it with [`Fields::with`] for one mapping and [`Fields::list`] for a list of them.
pub(crate) fn mapping<T>(
    read: impl Fn(&mut Fields) -> Result<T>,
) -> impl Fn(&str, Value) -> Result<T> {
    move |path, value| {
        let mut fields = Fields::new(path, value)?;
        let out = read(&mut fields)?;
        fields.finish()?;
        Ok(out)
    }
}

pub(crate) fn as_list<T>(
    path: &str,
    value: Value,
    read: impl Fn(&str, Value) -> Result<T>,
) -> Result<Vec<T>> {
    match value {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| read(&format!("{path}[{i}]"), v))
            .collect(),
        other => Err(wrong_type(path, "a list", &other)),
    }
}

pub(crate) fn wrong_type(path: &str, expected: &'static str, got: &Value) -> ResourceError {
    ResourceError::WrongType {
        path: path.to_owned(),
        expected,
        got: describe(got),
    }
}

/// A short description of a value for error messages: its type and, for scalars, the value.
fn describe(value: &Value) -> String {
    const MAX: usize = 40;
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) if s.chars().count() > MAX => {
            let head: String = s.chars().take(MAX).collect();
            format!("a string ({:?}…)", head)
        }
        Value::String(s) => format!("a string ({s:?})"),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
    }
}

/// An output mapping under construction; the `*_nonempty` setters leave out empty values the
/// way Go's `omitempty` and protojson do.
#[derive(Default)]
pub(crate) struct Obj(Map<String, Value>);

impl Obj {
    pub(crate) fn new() -> Obj {
        Obj::default()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn set(mut self, key: &str, value: impl Into<Value>) -> Obj {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    pub(crate) fn string(self, key: &str, value: &str) -> Obj {
        if value.is_empty() {
            self
        } else {
            self.set(key, value)
        }
    }

    pub(crate) fn strings(self, key: &str, values: &[String]) -> Obj {
        if values.is_empty() {
            self
        } else {
            self.set(key, values.to_vec())
        }
    }

    pub(crate) fn object(self, key: &str, value: Obj) -> Obj {
        if value.is_empty() {
            self
        } else {
            self.set(key, value)
        }
    }

    /// A boolean that Go leaves out when false (`omitempty`).
    pub(crate) fn flag(self, key: &str, value: bool) -> Obj {
        if value { self.set(key, true) } else { self }
    }

    /// A number that Go leaves out when zero (`omitempty`).
    pub(crate) fn int(self, key: &str, value: impl Into<i64>) -> Obj {
        match value.into() {
            0 => self,
            n => self.set(key, n),
        }
    }

    pub(crate) fn list(self, key: &str, values: Vec<Value>) -> Obj {
        if values.is_empty() {
            self
        } else {
            self.set(key, values)
        }
    }

    pub(crate) fn option(self, key: &str, value: Option<impl Into<Value>>) -> Obj {
        match value {
            Some(v) => self.set(key, v),
            None => self,
        }
    }

    pub(crate) fn labels(self, key: &str, labels: &BTreeMap<String, String>) -> Obj {
        if labels.is_empty() {
            self
        } else {
            let map: Map<String, Value> = labels
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            self.set(key, map)
        }
    }
}

impl From<Obj> for Value {
    fn from(obj: Obj) -> Value {
        Value::Object(obj.0)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unknown_key_suggests_the_nearest_key_asked_for() {
        let mut f = Fields::new("spec.target", json!({"usr": "bot-example"})).unwrap();
        assert_eq!(f.string("user").unwrap(), "");
        assert_eq!(f.string("role").unwrap(), "");
        let err = f.finish().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`spec.target.usr`: unknown key; did you mean `user`?"
        );
    }

    #[test]
    fn null_reads_as_absent() {
        let mut f = Fields::new("spec", json!({"roles": null})).unwrap();
        assert!(f.strings("roles").unwrap().is_empty());
        f.finish().unwrap();
    }

    #[test]
    fn list_elements_get_indexed_paths() {
        let mut f = Fields::new("spec", json!({"roles": ["a", 3]})).unwrap();
        let err = f.strings("roles").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`spec.roles[1]`: expected a string, got a number (3); quote it to make it a string"
        );
    }

    #[test]
    fn label_keys_with_dots_are_quoted_in_paths() {
        assert_eq!(
            join_key("metadata.labels", "teleport.internal/bot"),
            "metadata.labels[\"teleport.internal/bot\"]"
        );
        assert_eq!(join_key("", "kind"), "kind");
        assert_eq!(join_key("spec", "max_session_ttl"), "spec.max_session_ttl");
    }

    #[test]
    fn required_string_rejects_empty() {
        let mut f = Fields::new("metadata", json!({"name": ""})).unwrap();
        assert_eq!(
            f.required_string("name").unwrap_err().to_string(),
            "`metadata.name`: missing, expected a non-empty string"
        );
    }

    #[test]
    fn mapping_rejects_keys_its_reader_did_not_take() {
        let read = mapping(|f| f.string("kind"));
        assert_eq!(read("spec.r", json!({"kind": "pod"})).unwrap(), "pod");
        assert_eq!(
            read("spec.r", json!({"kind": "pod", "knd": "x"}))
                .unwrap_err()
                .to_string(),
            "`spec.r.knd`: unknown key; did you mean `kind`?"
        );
    }

    #[test]
    fn numbers_out_of_range_name_the_expected_range() {
        assert_eq!(as_u32("a", json!(7)).unwrap(), 7);
        assert_eq!(
            as_u32("a", json!(-1)).unwrap_err().to_string(),
            "`a`: expected a whole number from 0 (32-bit), got a number (-1)"
        );
        assert_eq!(
            as_i64("b", json!(1.5)).unwrap_err().to_string(),
            "`b`: expected a whole number, got a number (1.5)"
        );
    }

    #[test]
    fn long_strings_are_shortened_in_errors() {
        let long = "x".repeat(100);
        let err = as_bool("spec.one_shot", Value::String(long)).unwrap_err();
        assert!(err.to_string().ends_with("\"…)"), "{err}");
    }

    #[test]
    fn obj_leaves_out_empty_values() {
        let v: Value = Obj::new()
            .string("a", "")
            .strings("b", &[])
            .object("c", Obj::new())
            .list("d", vec![])
            .option("e", None::<String>)
            .labels("f", &BTreeMap::new())
            .flag("h", false)
            .int("i", 0)
            .string("g", "x")
            .flag("j", true)
            .int("k", -3)
            .into();
        assert_eq!(v, json!({"g": "x", "j": true, "k": -3}));
    }
}
