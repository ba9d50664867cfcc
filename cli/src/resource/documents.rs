//! Whole inputs and outputs: one or more YAML or JSON documents in (as `tctl create` reads them),
//! YAML documents separated by `---` or one JSON array out (as `tctl get` prints them).

use serde::Deserialize;
use serde_json::Value;

use super::Resource;
use super::error::ResourceError;
use super::fields::join_key;
use super::yaml::to_yaml;

/// Reads every resource in `text`: YAML documents separated by `---`, a stream of JSON objects,
/// or a list of resources (what [`render_json`] writes, or `[]`). Blank documents are skipped;
/// no resource at all is an error, as in tctl.
pub fn parse_documents(text: &str) -> Result<Vec<Resource>, ResourceError> {
    let documents = read_documents(text)?;
    if documents.is_empty() {
        return Err(ResourceError::EmptyInput);
    }
    let several = documents.len() > 1;
    documents
        .into_iter()
        .enumerate()
        .map(|(i, document)| {
            let resource = label(&document);
            Resource::from_value(document).map_err(|e| {
                if several {
                    ResourceError::InDocument {
                        document: i + 1,
                        resource,
                        source: Box::new(e),
                    }
                } else {
                    e
                }
            })
        })
        .collect()
}

/// YAML documents, one per resource, with a `---` line between them. No resources give `[]`, as
/// newer tctl prints.
pub fn render_yaml(items: &[Resource]) -> String {
    if items.is_empty() {
        return "[]\n".to_owned();
    }
    items
        .iter()
        .map(|r| to_yaml(&r.to_value()))
        .collect::<Vec<_>>()
        .join("---\n")
}

/// A pretty JSON array of the resources, ending in a newline.
pub fn render_json(items: &[Resource]) -> String {
    let array = Value::Array(items.iter().map(Resource::to_value).collect());
    format!("{array:#}\n")
}

/// `kind/name` of a document, when it has both, for errors in multi-document input.
fn label(document: &Value) -> Option<String> {
    let kind = document.get("kind")?.as_str()?;
    let name = document.get("metadata")?.get("name")?.as_str()?;
    Some(super::cut(&format!("{kind}/{name}")))
}

/// The most text [`parse_documents`] reads: each resource is at most the 4 MiB one request may
/// carry, and no real file holds more than a few of the largest.
pub const MAX_INPUT_BYTES: usize = 16 * 1024 * 1024;

/// The deepest `[`/`{` nesting read. A role is six levels deep; the YAML parser's time grows
/// with the square of the nesting, so 200 KB of `[[[…` would take seconds to refuse.
pub const MAX_DEPTH: usize = 64;

/// The documents of `text`, blank ones dropped and top-level lists spread out.
fn read_documents(text: &str) -> Result<Vec<Value>, ResourceError> {
    check_shape(text)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let trimmed = text.trim_start();
    // tctl reads input starting with `{` as JSON; flow-style YAML also starts that way, so it
    // gets a second chance, but a failure reports the JSON error the author most likely wants.
    let raw = if trimmed.starts_with(['{', '[']) {
        match json_documents(trimmed) {
            Ok(documents) => documents,
            Err(json_error) => yaml_documents(text).map_err(|_| json_error)?,
        }
    } else {
        yaml_documents(text)?
    };
    let mut documents = Vec::new();
    for value in raw {
        match value {
            Value::Null => {}
            Value::Array(items) => documents.extend(items.into_iter().filter(|v| !v.is_null())),
            other => documents.push(other),
        }
    }
    Ok(documents)
}

/// Refuses, before any parser sees it, text larger than [`MAX_INPUT_BYTES`] or nested deeper
/// than [`MAX_DEPTH`], so every input fails or passes in linear time. Brackets inside quoted
/// strings and comments do not count.
fn check_shape(text: &str) -> Result<(), ResourceError> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(ResourceError::TooLarge {
            limit: MAX_INPUT_BYTES,
        });
    }
    let mut depth = 0usize;
    let mut line = 1;
    let mut quote: Option<u8> = None;
    let mut comment = false;
    let mut previous = b'\n';
    let mut escaped = false;
    for &byte in text.as_bytes() {
        if byte == b'\n' {
            line += 1;
            comment = false;
        }
        match quote {
            Some(_) if escaped => escaped = false,
            Some(b'"') if byte == b'\\' => escaped = true,
            Some(q) if byte == q => quote = None,
            Some(_) => {}
            None if comment => {}
            None => match byte {
                b'#' if previous.is_ascii_whitespace() => comment = true,
                b'"' | b'\''
                    if matches!(previous, b' ' | b'\t' | b'\n' | b'[' | b'{' | b',' | b':') =>
                {
                    quote = Some(byte);
                }
                b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(ResourceError::TooDeep {
                            line,
                            limit: MAX_DEPTH,
                        });
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        previous = byte;
    }
    Ok(())
}

fn json_documents(text: &str) -> Result<Vec<Value>, ResourceError> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .map_err(|e| ResourceError::Syntax {
            format: "JSON",
            message: e.to_string(),
        })
}

fn yaml_documents(text: &str) -> Result<Vec<Value>, ResourceError> {
    let syntax = |e: serde_yaml_ng::Error| ResourceError::Syntax {
        format: "YAML",
        message: e.to_string(),
    };
    let mut documents = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(text) {
        let mut value = serde_yaml_ng::Value::deserialize(document).map_err(syntax)?;
        // `<<: *anchor` merge keys, which tctl's YAML reader also applies.
        value.apply_merge().map_err(syntax)?;
        documents.push(yaml_to_json("", value)?);
    }
    Ok(documents)
}

/// A YAML value as JSON, the way tctl converts YAML before decoding: scalar mapping keys become
/// strings; tags and non-finite numbers have no JSON form and are refused.
fn yaml_to_json(path: &str, value: serde_yaml_ng::Value) -> Result<Value, ResourceError> {
    use serde_yaml_ng::Value as Yaml;
    let invalid = |message: String| ResourceError::InvalidValue {
        path: path.to_owned(),
        message,
    };
    Ok(match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| invalid(format!("`{n}` is not a number JSON can hold")))?
            }
        }
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| yaml_to_json(&format!("{path}[{i}]"), v))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(mapping) => {
            let mut map = serde_json::Map::new();
            for (k, v) in mapping {
                let key = match k {
                    Yaml::String(s) => s,
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    other => {
                        return Err(invalid(format!(
                            "mapping keys must be strings, got {}",
                            yaml_type(&other)
                        )));
                    }
                };
                let value = yaml_to_json(&join_key(path, &key), v)?;
                map.insert(key, value);
            }
            Value::Object(map)
        }
        Yaml::Tagged(tagged) => {
            return Err(invalid(format!(
                "YAML tags like `{}` are not supported",
                tagged.tag
            )));
        }
    })
}

fn yaml_type(value: &serde_yaml_ng::Value) -> &'static str {
    use serde_yaml_ng::Value as Yaml;
    match value {
        Yaml::Null => "null",
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "a string",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a mapping",
        Yaml::Tagged(_) => "a tagged value",
    }
}
