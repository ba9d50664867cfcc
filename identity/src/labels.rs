//! Role label selectors (`db_labels` and the like) matched against a resource's labels with
//! Teleport's semantics, for the lab and the client alike. Trait templates are expanded first,
//! by the caller.

/// Whether a role's label selector matches a resource, as Teleport's `MatchLabels` decides: an
/// empty selector matches nothing; `'*': '*'` matches every resource; otherwise every key of the
/// selector must be on the resource with a value that one of the key's values matches (see
/// [`value_matches`]; a `*` value only needs the key).
pub fn labels_match<'s, 'l>(
    selector: impl IntoIterator<Item = (&'s str, &'s [String])> + Clone,
    label: impl Fn(&str) -> Option<&'l str>,
) -> bool {
    let mut keys = selector.clone().into_iter().peekable();
    if keys.peek().is_none() {
        return false;
    }
    let everything = selector
        .clone()
        .into_iter()
        .any(|(key, values)| key == "*" && values.len() == 1 && values[0] == "*");
    if everything {
        return true;
    }
    keys.all(|(key, values)| {
        label(key).is_some_and(|value| values.iter().any(|want| value_matches(want, value)))
    })
}

/// Whether one selector value matches a label value: a regular expression when it is written
/// `^...$`, else a glob where `*` matches any run of characters and the rest is literal. A
/// regular expression that does not compile matches nothing (Teleport refuses the access).
pub fn value_matches(pattern: &str, value: &str) -> bool {
    if pattern.len() >= 2 && pattern.starts_with('^') && pattern.ends_with('$') {
        return regex::Regex::new(pattern).is_ok_and(|re| re.is_match(value));
    }
    glob_match(pattern, value)
}

/// `*` in `pattern` matches any run of characters; everything else is literal.
fn glob_match(pattern: &str, value: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == value;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !value.starts_with(first) || value.len() < first.len() + last.len() || !value.ends_with(last)
    {
        return false;
    }
    let mut rest = &value[first.len()..value.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn matches(selector: &[(&str, &[&str])], labels: &[(&str, &str)]) -> bool {
        let selector: Vec<(String, Vec<String>)> = selector
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect();
        let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
        labels_match(
            selector.iter().map(|(k, v)| (k.as_str(), v.as_slice())),
            |key| labels.get(key).copied(),
        )
    }

    #[test]
    fn every_key_must_match_one_of_its_values() {
        let sel: &[(&str, &[&str])] = &[("env", &["prod", "staging"]), ("team", &["*"])];
        assert!(matches(sel, &[("env", "prod"), ("team", "x")]));
        assert!(!matches(sel, &[("env", "prod")]));
        assert!(!matches(sel, &[("env", "dev"), ("team", "x")]));
    }

    #[test]
    fn wildcard_selector_matches_everything_and_empty_matches_nothing() {
        assert!(matches(&[("*", &["*"])], &[]));
        // Teleport returns early on `'*': '*'`: the other keys are not looked at.
        assert!(matches(&[("*", &["*"]), ("env", &["prod"])], &[]));
        assert!(!matches(&[("*", &["prod"])], &[("env", "prod")]));
        assert!(!matches(&[], &[("env", "prod")]));
    }

    #[test]
    fn values_are_globs_or_anchored_regular_expressions() {
        assert!(matches(&[("env", &["prod-*"])], &[("env", "prod-eu")]));
        assert!(!matches(&[("env", &["prod-*"])], &[("env", "dev-eu")]));
        assert!(matches(
            &[("env", &["^prod-(eu|us)$"])],
            &[("env", "prod-us")]
        ));
        assert!(!matches(
            &[("env", &["^prod-(eu|us)$"])],
            &[("env", "prod-ap")]
        ));
        // Without both anchors the text is a glob, so regex syntax is literal.
        assert!(!matches(
            &[("env", &["prod-(eu|us)"])],
            &[("env", "prod-eu")]
        ));
        assert!(matches(&[("env", &["a.b"])], &[("env", "a.b")]));
        assert!(!matches(&[("env", &["a.b"])], &[("env", "axb")]));
        assert!(!matches(
            &[("env", &["^(unclosed$"])],
            &[("env", "(unclosed")]
        ));
    }

    #[test]
    fn globs_match_any_run_of_characters() {
        assert!(glob_match("*", ""));
        assert!(glob_match("prod-*", "prod-eu"));
        assert!(glob_match("*-eu-*", "db-eu-1"));
        assert!(!glob_match("prod-*", "dev-eu"));
        assert!(!glob_match("a*a", "a"));
        assert!(glob_match("exact", "exact"));
    }
}
