//! tbot's environment as the user gives it to `mwictl lint`: `KEY=VALUE` pairs, and systemd
//! units (`Environment=`, `EnvironmentFile=`) read with systemd's quoting rules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why tbot's environment could not be read. Each renders as one line naming the input.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("--env {given:?}: not KEY=VALUE (give e.g. --env TBOT_USE_PROXY_ADDR=yes)")]
    Pair { given: String },
    #[error("cannot read {path}: {error} (give the systemd unit tbot runs from)")]
    Read {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Unit {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

/// tbot's environment: the variables a unit or `--env` set (later settings win).
pub type TbotEnv = BTreeMap<String, String>;

/// One `--env KEY=VALUE`.
pub fn parse_pair(given: &str) -> Result<(String, String), EnvError> {
    match given.split_once('=') {
        Some((key, value)) if valid_key(key) => Ok((key.to_string(), value.to_string())),
        _ => Err(EnvError::Pair {
            given: given.to_string(),
        }),
    }
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The environment a systemd unit gives its service: its `[Service]` section's `Environment=`
/// lines, then the `EnvironmentFile=` files it names (which override them, as in systemd; a
/// `-` before the path means the file may be missing). Drop-in files are not read.
pub fn read_unit(path: &Path) -> Result<TbotEnv, EnvError> {
    let text = std::fs::read_to_string(path).map_err(|error| EnvError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    let unit = parse_unit(&text).map_err(|(line, reason)| EnvError::Unit {
        path: path.to_path_buf(),
        line,
        reason,
    })?;
    let mut env = unit.environment;
    for (file, optional) in unit.environment_files {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(_) if optional => continue,
            Err(error) => {
                return Err(EnvError::Read { path: file, error });
            }
        };
        env.extend(parse_env_file(&text));
    }
    Ok(env)
}

/// What a unit's `[Service]` section says about the environment.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UnitEnv {
    pub environment: TbotEnv,
    /// `EnvironmentFile=` paths in order, each with whether it may be missing (`-`).
    pub environment_files: Vec<(PathBuf, bool)>,
}

/// Parses a unit file's text; an error is `(line number, reason)`.
pub fn parse_unit(text: &str) -> Result<UnitEnv, (usize, String)> {
    let mut unit = UnitEnv::default();
    let mut in_service = false;
    for (number, line) in logical_lines(text) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            in_service = line == "[Service]";
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if !in_service {
            continue;
        }
        let value = value.trim();
        match key.trim() {
            "Environment" if value.is_empty() => unit.environment.clear(),
            "Environment" => {
                for word in split_words(value).map_err(|reason| (number, reason))? {
                    let (key, value) = word.split_once('=').ok_or_else(|| {
                        (
                            number,
                            format!("Environment= assignment {word:?} has no `=`"),
                        )
                    })?;
                    unit.environment.insert(key.to_string(), value.to_string());
                }
            }
            "EnvironmentFile" if value.is_empty() => unit.environment_files.clear(),
            "EnvironmentFile" => {
                let (path, optional) = match value.strip_prefix('-') {
                    Some(rest) => (rest, true),
                    None => (value, false),
                };
                if !path.starts_with('/') {
                    return Err((
                        number,
                        format!("EnvironmentFile= path {path:?} is not absolute"),
                    ));
                }
                unit.environment_files.push((PathBuf::from(path), optional));
            }
            _ => {}
        }
    }
    Ok(unit)
}

/// Lines joined where one ends in a backslash (systemd's continuation), each with the number of
/// its first line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let (number, mut joined) = pending.take().unwrap_or((i + 1, String::new()));
        match line.strip_suffix('\\') {
            Some(head) => {
                joined.push_str(head);
                joined.push(' ');
                pending = Some((number, joined));
            }
            None => {
                joined.push_str(line);
                out.push((number, joined));
            }
        }
    }
    out.extend(pending);
    out
}

/// Splits `Environment=`'s value into words as systemd does: separated by whitespace, quotes
/// (double or single) group words anywhere within them and are removed, and C escapes
/// (`\n`, `\t`, `\"`, `\\`, `\x41`, ...) are resolved.
fn split_words(value: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match (c, quote) {
            ('\\', _) => {
                let escaped = chars
                    .next()
                    .ok_or_else(|| "Environment= ends in a lone backslash".to_string())?;
                word.push(unescape(escaped, &mut chars)?);
                in_word = true;
            }
            (q, None) if q == '"' || q == '\'' => {
                quote = Some(q);
                in_word = true;
            }
            (q, Some(open)) if q == open => quote = None,
            (c, None) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (c, _) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("Environment= has an unclosed quote".to_string());
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// The character of a C escape whose backslash and first character `c` were read.
fn unescape(c: char, rest: &mut std::str::Chars) -> Result<char, String> {
    Ok(match c {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        'a' => '\u{7}',
        'b' => '\u{8}',
        'f' => '\u{c}',
        'v' => '\u{b}',
        's' => ' ',
        'x' => {
            let hex: String = rest.by_ref().take(2).collect();
            u8::from_str_radix(&hex, 16)
                .map(char::from)
                .map_err(|_| format!("Environment= has a bad escape \\x{hex}"))?
        }
        other => other,
    })
}

/// An `EnvironmentFile=`'s assignments: `KEY=VALUE` lines, `#`/`;` comments, values optionally
/// in single quotes (literal) or double quotes (backslash escapes `\"`, `\\`, `\$`, `` \` ``).
/// Lines that are not assignments are skipped, as systemd does.
pub fn parse_env_file(text: &str) -> TbotEnv {
    let mut env = TbotEnv::new();
    for (_, line) in logical_lines(text) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if !valid_key(key) {
            continue;
        }
        env.insert(key.to_string(), env_file_value(value.trim()));
    }
    env
}

fn env_file_value(value: &str) -> String {
    if let Some(inner) = value.strip_prefix('\'') {
        return inner.split('\'').next().unwrap_or_default().to_string();
    }
    if let Some(inner) = value.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some(e @ ('"' | '\\' | '$' | '`')) => out.push(e),
                    Some(other) => {
                        out.push('\\');
                        out.push(other);
                    }
                    None => break,
                },
                c => out.push(c),
            }
        }
        return out;
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> TbotEnv {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn environment_lines_follow_systemds_quoting() {
        // The example of systemd.exec(5).
        let unit = parse_unit(
            "[Service]\nEnvironment=\"VAR1=word1 word2\" VAR2=word3 \"VAR3=$word 5 6\"\n",
        )
        .unwrap();
        assert_eq!(
            unit.environment,
            env(&[
                ("VAR1", "word1 word2"),
                ("VAR2", "word3"),
                ("VAR3", "$word 5 6")
            ])
        );
        let unit = parse_unit(
            "[Service]\nEnvironment=A='x y' B=a\\x41\\tz C=\"q\\\"uote\" D=\nEnvironment=A=again\n",
        )
        .unwrap();
        assert_eq!(
            unit.environment,
            env(&[("A", "again"), ("B", "aA\tz"), ("C", "q\"uote"), ("D", "")])
        );
    }

    #[test]
    fn an_empty_environment_line_resets_and_only_the_service_section_counts() {
        let unit = parse_unit(
            "[Unit]\nEnvironment=U=1\n[Service]\nEnvironment=A=1\nEnvironment=\nEnvironment=B=2\n[Install]\nEnvironment=I=1\n",
        )
        .unwrap();
        assert_eq!(unit.environment, env(&[("B", "2")]));
    }

    #[test]
    fn continuation_lines_and_comments() {
        let unit =
            parse_unit("[Service]\n# Environment=C=1\nEnvironment=A=1 \\\n  B=2\n; x\n").unwrap();
        assert_eq!(unit.environment, env(&[("A", "1"), ("B", "2")]));
    }

    #[test]
    fn environment_files_keep_order_and_the_optional_dash() {
        let unit = parse_unit(
            "[Service]\nEnvironmentFile=/etc/default/tbot\nEnvironmentFile=-/etc/tbot.env\n",
        )
        .unwrap();
        assert_eq!(
            unit.environment_files,
            [
                (PathBuf::from("/etc/default/tbot"), false),
                (PathBuf::from("/etc/tbot.env"), true)
            ]
        );
        assert_eq!(
            parse_unit("[Service]\nEnvironmentFile=tbot.env\n")
                .unwrap_err()
                .0,
            2
        );
    }

    #[test]
    fn bad_environment_lines_name_the_line() {
        assert_eq!(
            parse_unit("[Service]\n\nEnvironment=\"A=1\n")
                .unwrap_err()
                .0,
            3
        );
        assert!(
            parse_unit("[Service]\nEnvironment=novalue\n")
                .unwrap_err()
                .1
                .contains("no `=`")
        );
    }

    #[test]
    fn environment_files_unquote_values() {
        let parsed = parse_env_file(
            "# comment\nA=plain\nB='single $x'\nC=\"dq \\\"x\\\" \\$y\"\n; c\nnot an assignment\n  D = spaced \n",
        );
        assert_eq!(
            parsed,
            env(&[
                ("A", "plain"),
                ("B", "single $x"),
                ("C", "dq \"x\" $y"),
                ("D", "spaced")
            ])
        );
    }

    #[test]
    fn env_pairs_need_a_key() {
        assert_eq!(
            parse_pair("TBOT_USE_PROXY_ADDR=yes").unwrap(),
            ("TBOT_USE_PROXY_ADDR".to_string(), "yes".to_string())
        );
        assert_eq!(parse_pair("K=").unwrap().1, "");
        assert!(parse_pair("=x").is_err());
        assert!(parse_pair("novalue").is_err());
    }

    #[test]
    fn a_unit_reads_its_environment_files_which_override_it() {
        let dir = std::env::temp_dir().join(format!("mwictl-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tbot.env");
        std::fs::write(&file, "TBOT_USE_PROXY_ADDR=yes\n").unwrap();
        let unit = dir.join("tbot.service");
        std::fs::write(
            &unit,
            format!(
                "[Service]\nEnvironment=TBOT_USE_PROXY_ADDR=no OTHER=1\nEnvironmentFile={}\nEnvironmentFile=-{}/missing\n",
                file.display(),
                dir.display()
            ),
        )
        .unwrap();
        let env = read_unit(&unit).unwrap();
        assert_eq!(env["TBOT_USE_PROXY_ADDR"], "yes");
        assert_eq!(env["OTHER"], "1");
        std::fs::write(
            &unit,
            format!("[Service]\nEnvironmentFile={}/missing\n", dir.display()),
        )
        .unwrap();
        assert!(
            read_unit(&unit)
                .unwrap_err()
                .to_string()
                .contains("missing")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
