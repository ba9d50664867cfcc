//! `duplicate-destination`: two outputs writing to one place (or to the storage directory)
//! overwrite each other.

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, Context, LineIndex, join, resolve};
use crate::yaml::Value;
use std::collections::BTreeMap;

pub(crate) const RULE: Rule = Rule {
    id: "duplicate-destination",
    severities: &[Severity::Error],
    incident: None,
    doc: "two outputs (or an output and the storage) share one destination",
    check: Check::Config(check),
};

fn check(checker: &mut Checker, context: &Context) {
    let (config, base, storage) = (&context.config, context.base, context.storage_directory());
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
                        &RULE,
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
