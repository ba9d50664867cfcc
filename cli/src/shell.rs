//! Text for the commands mwictl prints for the user to run: one quoting rule for a POSIX shell,
//! used by every fix, hint and `lab break` recipe.

/// `word` as one shell word: unchanged when it has only characters no shell interprets, else
/// single-quoted (a `'` inside becomes `'\''`).
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.,=/:@+%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_the_shell_would_read_them() {
        assert_eq!(shell_word("root"), "root");
        assert_eq!(shell_word("/tmp/lab/tbot.yaml"), "/tmp/lab/tbot.yaml");
        assert_eq!(shell_word("env=prod,team=a"), "env=prod,team=a");
        assert_eq!(shell_word("50%"), "50%");
        assert_eq!(shell_word("*=*"), "'*=*'");
        assert_eq!(shell_word("my bot"), "'my bot'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
