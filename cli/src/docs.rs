//! Generated documentation: shell completions and man pages, both made from the clap definition
//! so they cannot drift from `--help`, and the README's lint rule table, made from the rule
//! registry. The checked-in copies live in `completions/`, `man/` and `README.md`.

use std::path::{Path, PathBuf};

use clap_complete::Shell;

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
    clap_mangen::generate_to(cli, &man)?;
    let readme = root.join("README.md");
    if let Ok(text) = std::fs::read_to_string(&readme)
        && let Some(fresh) = with_lint_rules(&text)
        && fresh != text
    {
        std::fs::write(&readme, fresh)?;
    }
    Ok([completions, man])
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
