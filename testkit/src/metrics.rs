//! A strict reader of the Prometheus text exposition format (0.0.4), for tests of what mwictl
//! exports: it refuses anything a scraper might read differently, and `promtool` may be absent.
//!
//! Strict means: every sample belongs to a family declared by `# HELP` then `# TYPE` just before
//! its samples (each family once, its samples together); names and label names follow the
//! format's grammar; label values use only the escapes `\\`, `\"`, `\n`; no label name twice in
//! a sample, no series twice; values are floats; counters end in `_total` and are not negative;
//! the text ends with a newline.

use std::collections::{BTreeMap, HashSet};

/// One sample: its metric name, labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A metric family: its name, help, type and samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub help: String,
    pub kind: String,
    pub samples: Vec<Sample>,
}

/// A parsed exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Exposition {
    pub families: Vec<Family>,
}

impl Exposition {
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|f| f.name == name)
    }

    /// The value of the sample of `name` whose labels include every pair of `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.family(name)?
            .samples
            .iter()
            .find(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
    }
}

/// Parses `text`, or says which line breaks which rule.
pub fn parse(text: &str) -> Result<Exposition, String> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the text does not end with a newline".into());
    }
    let mut families: Vec<Family> = Vec::new();
    let mut seen_families = HashSet::new();
    let mut series = HashSet::new();
    let mut pending_help: Option<(String, String)> = None;
    for (n, line) in text.lines().enumerate() {
        let at = |msg: String| format!("line {}: {msg}: {line:?}", n + 1);
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            check_metric_name(name).map_err(at)?;
            if pending_help.is_some() {
                return Err(at("two HELP lines without a TYPE between".into()));
            }
            if !seen_families.insert(name.to_owned()) {
                return Err(at(format!("family {name} declared twice")));
            }
            check_help(help).map_err(at)?;
            pending_help = Some((name.to_owned(), help.to_owned()));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| at("TYPE without a type".into()))?;
            let Some((help_name, help)) = pending_help.take() else {
                return Err(at("TYPE without a HELP before it".into()));
            };
            if help_name != name {
                return Err(at(format!("TYPE of {name} after the HELP of {help_name}")));
            }
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return Err(at(format!("unknown type {kind}")));
            }
            if kind == "counter" && !name.ends_with("_total") {
                return Err(at(format!("counter {name} does not end in _total")));
            }
            families.push(Family {
                name: name.to_owned(),
                help,
                kind: kind.to_owned(),
                samples: Vec::new(),
            });
        } else if line.starts_with('#') {
            return Err(at("a comment that is neither HELP nor TYPE".into()));
        } else if line.trim().is_empty() {
            return Err(at("an empty line".into()));
        } else {
            if pending_help.is_some() {
                return Err(at("a sample between HELP and TYPE".into()));
            }
            let sample = parse_sample(line).map_err(at)?;
            let family = families
                .last_mut()
                .ok_or_else(|| at("a sample before any TYPE".into()))?;
            if sample.name != family.name {
                return Err(at(format!(
                    "sample {} inside family {}",
                    sample.name, family.name
                )));
            }
            if family.kind == "counter" && (sample.value < 0.0 || sample.value.is_nan()) {
                return Err(at("a counter below zero".into()));
            }
            let key = format!("{}{:?}", sample.name, sample.labels);
            if !series.insert(key) {
                return Err(at("the same series twice".into()));
            }
            family.samples.push(sample);
        }
    }
    if pending_help.is_some() {
        return Err("the last HELP has no TYPE".into());
    }
    Ok(Exposition { families })
}

fn check_metric_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        Ok(())
    } else {
        Err(format!("bad metric name {name:?}"))
    }
}

fn check_label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.starts_with("__") {
        Ok(())
    } else {
        Err(format!("bad label name {name:?}"))
    }
}

fn check_help(help: &str) -> Result<(), String> {
    let mut chars = help.chars();
    while let Some(c) = chars.next() {
        if c == '\\' && !matches!(chars.next(), Some('\\' | 'n')) {
            return Err("HELP has an escape other than \\\\ or \\n".into());
        }
    }
    Ok(())
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("a sample without a value")?;
    let name = &line[..name_end];
    check_metric_name(name)?;
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = rest.find('=').ok_or("a label without =")?;
            let key = &rest[..eq];
            check_label_name(key)?;
            rest = rest[eq + 1..]
                .strip_prefix('"')
                .ok_or("a label value without quotes")?;
            let mut value = String::new();
            let mut chars = rest.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err("an unterminated label value".into()),
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        _ => return Err("a label value escape other than \\\\ \\\" \\n".into()),
                    },
                    Some((_, c)) => value.push(c),
                }
            };
            if labels.insert(key.to_owned(), value).is_some() {
                return Err(format!("label {key} twice"));
            }
            rest = &rest[end + 1..];
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
            } else if !rest.starts_with('}') {
                return Err("labels not separated by commas".into());
            }
        }
    }
    let rest = rest
        .strip_prefix(' ')
        .ok_or("no single space before the value")?;
    let mut parts = rest.split(' ');
    let value = parse_value(parts.next().unwrap_or(""))?;
    if let Some(ts) = parts.next() {
        ts.parse::<i64>()
            .map_err(|_| format!("bad timestamp {ts:?}"))?;
    }
    if parts.next().is_some() {
        return Err("more than a value and a timestamp".into());
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "NaN" => Ok(f64::NAN),
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ if text
            .chars()
            .all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) =>
        {
            text.parse().map_err(|_| format!("bad value {text:?}"))
        }
        _ => Err(format!("bad value {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "# HELP m_total Things\\ndone.\n# TYPE m_total counter\nm_total{a=\"x\\\"y\\\\z\\n\"} 3\n# HELP g A gauge.\n# TYPE g gauge\ng 1.5 1700000000000\ng{b=\"1\"} -2\n";

    #[test]
    fn a_well_formed_exposition_reads_back_with_unescaped_labels() {
        let e = parse(GOOD).unwrap();
        assert_eq!(e.families.len(), 2);
        assert_eq!(e.value("m_total", &[("a", "x\"y\\z\n")]), Some(3.0));
        assert_eq!(e.value("g", &[("b", "1")]), Some(-2.0));
        assert_eq!(e.family("m_total").unwrap().help, "Things\\ndone.");
    }

    #[test]
    fn each_broken_rule_is_refused() {
        let broken = [
            ("no final newline", "# HELP g x\n# TYPE g gauge\ng 1"),
            ("no HELP", "# TYPE g gauge\ng 1\n"),
            ("no TYPE", "# HELP g x\ng 1\n"),
            ("sample outside family", "# HELP g x\n# TYPE g gauge\nh 1\n"),
            ("bad escape", "# HELP g x\n# TYPE g gauge\ng{a=\"\\t\"} 1\n"),
            ("raw quote", "# HELP g x\n# TYPE g gauge\ng{a=\"\"\"} 1\n"),
            (
                "duplicate label",
                "# HELP g x\n# TYPE g gauge\ng{a=\"1\",a=\"2\"} 1\n",
            ),
            ("duplicate series", "# HELP g x\n# TYPE g gauge\ng 1\ng 2\n"),
            (
                "family twice",
                "# HELP g x\n# TYPE g gauge\ng 1\n# HELP g x\n# TYPE g gauge\n",
            ),
            ("counter name", "# HELP c x\n# TYPE c counter\nc 1\n"),
            (
                "negative counter",
                "# HELP c_total x\n# TYPE c_total counter\nc_total -1\n",
            ),
            ("bad value", "# HELP g x\n# TYPE g gauge\ng one\n"),
            ("bad name", "# HELP 1g x\n# TYPE 1g gauge\n1g 1\n"),
            (
                "reserved label",
                "# HELP g x\n# TYPE g gauge\ng{__a=\"1\"} 1\n",
            ),
            ("empty line", "# HELP g x\n# TYPE g gauge\n\ng 1\n"),
            ("other comment", "# hello\n"),
            ("unknown type", "# HELP g x\n# TYPE g meter\n"),
        ];
        for (rule, text) in broken {
            assert!(parse(text).is_err(), "{rule} was accepted");
        }
    }
}
