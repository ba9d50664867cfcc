//! `duplicate-destination`: two outputs writing to one place (or to the storage directory)
//! overwrite each other.

use super::{Check, Rule};
use crate::lint::Severity;
use crate::lint::check::{Checker, Context, LineIndex, join, resolve, set_entry};
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
        let Some(destination) = set_entry(service.map, "destination") else {
            continue;
        };
        let place = match &destination.value.value {
            Value::Scalar(s) => Some(format!("dir:{}", resolve(base, &s.text).display())),
            Value::Map(map) => match map.get("type").and_then(|e| e.value.as_str()) {
                Some("directory") => set_entry(map, "path")
                    .and_then(|e| e.value.as_str())
                    .map(|p| format!("dir:{}", resolve(base, p).display())),
                Some("kubernetes_secret") => set_entry(map, "name")
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

#[cfg(test)]
mod tests {
    use crate::lint::LintOptions;
    use crate::lint::rules::test_findings;

    fn found(destinations: [&str; 2]) -> usize {
        let config = format!(
            "version: v2\nproxy_server: p:443\nservices:\n  - type: identity\n    destination: {}\n  - type: identity\n    destination: {}\n",
            destinations[0], destinations[1]
        );
        test_findings(&config, &LintOptions::default(), "duplicate-destination").len()
    }

    #[test]
    fn unset_paths_are_no_shared_destination() {
        assert_eq!(found(["\"\"", "\"\""]), 0);
        assert_eq!(
            found([
                "{type: kubernetes_secret, name: \"\"}",
                "{type: kubernetes_secret, name: \"\"}"
            ]),
            0
        );
    }

    #[test]
    fn one_place_twice_is_an_error() {
        assert_eq!(
            found(["/opt/out", "{type: directory, path: /opt/out/.}"]),
            1
        );
    }
}
