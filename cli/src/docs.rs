//! Generated documentation: shell completions and man pages, both made from the clap definition
//! so they cannot drift from `--help`, the ENVIRONMENT, FILES and EXIT STATUS sections both end
//! with, and the README's lint rule table, made from the rule registry. The checked-in copies
//! live in `completions/`, `man/` and `README.md`.

use std::path::{Path, PathBuf};

use clap_complete::Shell;

use crate::exit::ExitStatus;

/// The shells mwictl ships completions for.
pub const SHELLS: [Shell; 5] = [
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::PowerShell,
    Shell::Elvish,
];

/// The README lines that open and close the generated lint rule table.
const RULES_START: &str =
    "<!-- lint rules: generated from diag/src/lint/rules by `cargo run -- generate-docs .` -->\n";
const RULES_END: &str = "<!-- end of lint rules -->\n";

/// `readme` with the lint rule table between its markers regenerated; None without the markers.
pub fn with_lint_rules(readme: &str) -> Option<String> {
    let start = readme.find(RULES_START)? + RULES_START.len();
    let end = start + readme[start..].find(RULES_END)?;
    let mut out = String::with_capacity(readme.len());
    out.push_str(&readme[..start]);
    out.push_str(&mwi_diag::lint::rules::markdown_table());
    out.push_str(&readme[end..]);
    Some(out)
}

/// Writes completions into `root/completions`, one man page per (visible) command into
/// `root/man`, and the lint rule table into `root/README.md` when it has one; returns the
/// directories written.
pub fn generate(root: &Path, cli: clap::Command) -> std::io::Result<[PathBuf; 2]> {
    let completions = root.join("completions");
    let man = root.join("man");
    std::fs::create_dir_all(&completions)?;
    std::fs::create_dir_all(&man)?;
    let mut cmd = without_hidden(&cli);
    for shell in SHELLS {
        clap_complete::generate_to(shell, &mut cmd, "mwictl", &completions)?;
    }
    man_pages(cli, &man)?;
    let readme = root.join("README.md");
    if let Ok(text) = std::fs::read_to_string(&readme)
        && let Some(fresh) = with_lint_rules(&text)
        && fresh != text
    {
        std::fs::write(&readme, fresh)?;
    }
    Ok([completions, man])
}

/// One of the sections the top-level `--help` and man page end with: terms and what they mean.
struct Section {
    title: &'static str,
    entries: Vec<(String, &'static str)>,
}

/// ENVIRONMENT, FILES and EXIT STATUS, from the lists the code itself uses.
fn sections() -> [Section; 4] {
    [
        Section {
            title: "CREDENTIALS",
            entries: CREDENTIALS
                .iter()
                .enumerate()
                .map(|(i, about)| (format!("{}.", i + 1), *about))
                .collect(),
        },
        Section {
            title: "ENVIRONMENT",
            entries: crate::environment::ALL
                .iter()
                .map(|v| (v.name().to_owned(), v.about()))
                .collect(),
        },
        Section {
            title: "FILES",
            entries: crate::home::files()
                .into_iter()
                .map(|f| (format!("$MWICTL_HOME/{}", f.path), f.about))
                .collect(),
        },
        Section {
            title: "EXIT STATUS",
            entries: ExitStatus::ALL
                .iter()
                .map(|s| (s.code().to_string(), s.meaning()))
                .collect(),
        },
    ]
}

/// Where the credentials come from, first match wins (tctl's order, teleport-reach.md §2, with
/// mwictl's saved profile before tsh's current one since `mwictl lab start` wrote it on purpose).
const CREDENTIALS: [&str; 4] = [
    "-i FILE (or TELEPORT_IDENTITY_FILE): that identity file, at --proxy, --auth-server or the \
     saved profile's address.",
    "The tsh profile named after the --proxy/--auth-server host, in TELEPORT_HOME (default \
     ~/.tsh); tsh v17+ layout.",
    "The saved profile ($MWICTL_HOME/profile.json, written by `mwictl lab start`).",
    "tsh's current profile: at --proxy/--auth-server, else through its web_proxy_addr when \
     tls_routing_enabled.",
];

/// The width `--help` is laid out for (the root's `max_term_width`), and the indent of the
/// text under each term, as clap indents long option help.
pub const HELP_WIDTH: usize = 100;
const HELP_INDENT: usize = 10;

/// The top-level `--help` after the subcommands and options: the [`sections`], laid out like
/// clap's own (`Options:`), wrapped to [`HELP_WIDTH`].
pub fn after_long_help() -> String {
    let mut out = String::new();
    for (i, section) in sections().iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut title = section.title.to_lowercase();
        title[..1].make_ascii_uppercase();
        out.push_str(&format!("{title}:\n"));
        // Short terms (exit codes) share their line with the text, as `-h` lays out flags.
        let inline = (section.entries.iter()).all(|(term, _)| 2 + term.len() + 2 <= HELP_INDENT);
        for (term, about) in &section.entries {
            let first = match inline {
                true => format!("  {term:width$}", width = HELP_INDENT - 2),
                false => format!("  {term}\n{:HELP_INDENT$}", ""),
            };
            out.push_str(&first);
            let lines = wrap(about, HELP_WIDTH - HELP_INDENT - 1);
            out.push_str(&lines.join(&format!("\n{:HELP_INDENT$}", "")));
            out.push('\n');
        }
    }
    out.trim_end().to_owned()
}

/// `text` in lines of at most `width` characters, broken at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    lines
}

/// The [`sections`] in roff, for the top-level man page.
fn roff_sections() -> String {
    let mut out = String::new();
    for section in sections() {
        out.push_str(&format!(".SH \"{}\"\n", section.title));
        for (term, about) in &section.entries {
            out.push_str(&format!(
                ".TP\n\\fB{}\\fR\n{}\n",
                roff_escape(term),
                roff_escape(about)
            ));
        }
    }
    out
}

/// `text` as roff prints it literally: backslashes, dashes and quotes escaped as clap_mangen
/// escapes them, and no line starting a request.
fn roff_escape(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('-', "\\-")
        .replace('\'', "\\*(Aq");
    match escaped.starts_with('.') {
        true => format!("\\&{escaped}"),
        false => escaped,
    }
}

/// One man page per visible command, as `clap_mangen::generate_to` writes them, except that the
/// top-level page has the [`sections`] (before VERSION) instead of clap_mangen's EXTRA section
/// with the `--help` text of them.
fn man_pages(cli: clap::Command, dir: &Path) -> std::io::Result<()> {
    fn generate(cmd: clap::Command, dir: &Path) -> std::io::Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
            generate(sub.clone(), dir)?;
            clap_mangen::Man::new(sub).generate_to(dir)?;
        }
        Ok(())
    }
    let mut cli = cli.disable_help_subcommand(true);
    cli.build();
    generate(cli.clone(), dir)?;
    let root = clap_mangen::Man::new(cli.after_long_help(None::<&str>));
    let mut page = Vec::new();
    root.render(&mut page)?;
    let page = String::from_utf8_lossy(&page);
    let at = page.find("\n.SH VERSION\n").map_or(page.len(), |i| i + 1);
    let page = format!("{}{}{}", &page[..at], roff_sections(), &page[at..]);
    std::fs::write(dir.join(root.get_filename()), page)
}

/// Prints the completion script of `cli` for `shell`.
pub fn completion_script(shell: Shell, cli: clap::Command) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut without_hidden(&cli), "mwictl", &mut out);
    out
}

/// `full` as completions offer it: without hidden subcommands (`generate-docs`), which
/// clap_complete would otherwise list. clap cannot remove a subcommand, so the root is rebuilt
/// from its parts with only the visible ones.
fn without_hidden(full: &clap::Command) -> clap::Command {
    // clap_derive's `name` and `version` of `Cli`, as 'static strings.
    let mut root = clap::Command::new("mwictl")
        .version(env!("CARGO_PKG_VERSION"))
        .args(full.get_arguments().cloned())
        .groups(full.get_groups().cloned())
        .subcommands(full.get_subcommands().filter(|s| !s.is_hide_set()).cloned())
        .subcommand_required(full.is_subcommand_required_set())
        .arg_required_else_help(full.is_arg_required_else_help_set())
        .propagate_version(full.is_propagate_version_set());
    if let Some(about) = full.get_about() {
        root = root.about(about.clone());
    }
    if let Some(about) = full.get_long_about() {
        root = root.long_about(about.clone());
    }
    root
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.path().is_file() {
                let name = entry.file_name().to_string_lossy().into_owned();
                out.insert(name, std::fs::read(entry.path()).unwrap_or_default());
            }
        }
        out
    }

    #[test]
    fn checked_in_completions_and_man_pages_are_current() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let tmp = tempfile::tempdir().unwrap();
        generate(tmp.path(), crate::cli::command()).unwrap();
        for sub in ["completions", "man"] {
            let fresh = files(&tmp.path().join(sub));
            let checked_in = files(&repo.join(sub));
            assert!(!fresh.is_empty());
            let stale: Vec<&String> = fresh
                .keys()
                .chain(checked_in.keys())
                .filter(|k| fresh.get(*k) != checked_in.get(*k))
                .collect();
            assert!(
                stale.is_empty(),
                "{sub}/ is stale ({stale:?}): run `cargo run -- generate-docs .` in the repository root"
            );
        }
    }

    #[test]
    fn help_and_man_page_end_with_environment_files_and_exit_status() {
        let help = crate::cli::command().render_long_help().to_string();
        let tail = &help[help.find("\nEnvironment:\n").expect(&help)..];
        assert!(
            tail.contains("\nFiles:\n") && tail.contains("\nExit status:\n"),
            "{tail}"
        );
        for var in crate::environment::ALL {
            assert!(
                tail.contains(&format!("\n  {}\n", var.name())),
                "{}",
                var.name()
            );
        }
        for file in crate::home::files() {
            assert!(
                tail.contains(&format!("  $MWICTL_HOME/{}\n", file.path)),
                "{}",
                file.path
            );
        }
        for status in ExitStatus::ALL {
            let words: Vec<&str> = status.meaning().split_whitespace().collect();
            let first = format!(
                "  {:<8}{}",
                status.code(),
                words[..words.len().min(2)].join(" ")
            );
            assert!(tail.contains(&first), "{first:?} in {tail}");
        }
        assert!(
            tail.lines().all(|l| l.chars().count() < HELP_WIDTH),
            "{tail}"
        );
        let tmp = tempfile::tempdir().unwrap();
        man_pages(crate::cli::command(), tmp.path()).unwrap();
        let page = std::fs::read_to_string(tmp.path().join("mwictl.1")).unwrap();
        for title in [
            ".SH \"ENVIRONMENT\"",
            ".SH \"FILES\"",
            ".SH \"EXIT STATUS\"",
        ] {
            assert!(page.contains(title), "{title}");
        }
        assert!(
            !page.contains(".SH EXTRA"),
            "the help text is not repeated as EXTRA"
        );
        assert!(page.contains("\\fBMWICTL_HOME\\fR"));
        let sub = std::fs::read_to_string(tmp.path().join("mwictl-ping.1")).unwrap();
        assert!(
            !sub.contains("ENVIRONMENT"),
            "only the top-level page has them"
        );
    }

    #[test]
    fn readme_lint_rule_table_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let fresh = with_lint_rules(&readme).expect("README.md has the lint rule markers");
        assert!(
            fresh == readme,
            "README.md's lint rule table is stale: run `cargo run -- generate-docs .` in the repository root"
        );
        for rule in mwi_diag::lint::rules::RULES {
            assert!(
                readme.contains(&format!("| `{}` |", rule.id)),
                "{}",
                rule.id
            );
        }
    }

    #[test]
    fn completions_offer_no_hidden_subcommand() {
        fn hidden_below(cmd: &clap::Command, out: &mut Vec<String>) {
            for sub in cmd.get_subcommands() {
                if sub.is_hide_set() {
                    out.push(sub.get_name().to_string());
                }
                hidden_below(sub, out);
            }
        }
        let mut hidden = Vec::new();
        hidden_below(&crate::cli::command(), &mut hidden);
        assert!(hidden.contains(&"generate-docs".to_string()), "{hidden:?}");
        for shell in SHELLS {
            let script =
                String::from_utf8(completion_script(shell, crate::cli::command())).unwrap();
            for name in &hidden {
                assert!(!script.contains(name.as_str()), "{shell} offers {name}");
            }
            assert!(script.contains("completions"), "{shell}");
        }
    }

    #[test]
    fn every_shell_gets_a_script() {
        for shell in SHELLS {
            assert!(
                !completion_script(shell, crate::cli::command()).is_empty(),
                "{shell}"
            );
        }
    }
}
