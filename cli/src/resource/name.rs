//! The one rule for the names mwictl writes (`create`, and every verb that names a new
//! resource), and how any name, however long, is shown in a message.

/// The longest name mwictl writes. Teleport keeps names in backend keys and users' certificates;
/// 253 (a DNS name's limit) is far beyond any real one and keeps every message and file short.
pub const MAX_NAME_BYTES: usize = 253;

/// Characters of a name shown in messages before it is cut.
const SHOWN_CHARS: usize = 64;

/// Why a name is not one mwictl writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("the name is {bytes} bytes, more than the {MAX_NAME_BYTES} allowed")]
    TooLong { bytes: usize },
    #[error("names have no `/` (it separates the kind and name in KIND/NAME)")]
    Slash,
    #[error("names have no control characters (newlines, tabs, NUL)")]
    Control,
    #[error("`.` and `..` are not names")]
    Dots,
    #[error("names do not start or end with a space")]
    Space,
}

/// Checks a name a resource is to be written with: non-empty, at most [`MAX_NAME_BYTES`], no
/// `/`, no control characters, not `.` or `..`, no space at either end. Names that already exist
/// on a server are read and removed whatever they are; only new writes must follow this.
pub fn check_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong { bytes: name.len() });
    }
    if name.contains('/') {
        return Err(NameError::Slash);
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::Control);
    }
    if name == "." || name == ".." {
        return Err(NameError::Dots);
    }
    if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
        return Err(NameError::Space);
    }
    Ok(())
}

/// A name for a message: quoted and escaped like `{:?}`, cut as [`cut`] does.
pub fn shown(name: &str) -> String {
    let (head, tail) = cut_parts(name);
    format!("{head:?}{tail}")
}

/// Text that echoes user input (a name, a reference) for a message: cut after [`SHOWN_CHARS`]
/// characters with its full size said, so a 10,000-byte name cannot flood the terminal.
pub fn cut(text: &str) -> String {
    let (head, tail) = cut_parts(text);
    format!("{head}{tail}")
}

fn cut_parts(text: &str) -> (String, String) {
    match text.char_indices().nth(SHOWN_CHARS) {
        None => (text.to_owned(), String::new()),
        Some((at, _)) => (
            format!("{}…", &text[..at]),
            format!(" ({} bytes)", text.len()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass() {
        for name in [
            "ops",
            "bot-example",
            "5cee949f-0b4b-4bd4-9d1f-7b4c0e5f2a11",
            "a.b_c",
        ] {
            assert_eq!(check_name(name), Ok(()), "{name}");
        }
        assert_eq!(check_name(&"a".repeat(MAX_NAME_BYTES)), Ok(()));
    }

    #[test]
    fn names_other_tools_choke_on_are_refused() {
        assert_eq!(check_name(""), Err(NameError::Empty));
        assert_eq!(check_name("../../etc/x"), Err(NameError::Slash));
        assert_eq!(check_name("a/b"), Err(NameError::Slash));
        assert_eq!(
            check_name(&"a".repeat(10_000)),
            Err(NameError::TooLong { bytes: 10_000 })
        );
        assert_eq!(check_name("a\nb"), Err(NameError::Control));
        assert_eq!(check_name(".."), Err(NameError::Dots));
        assert_eq!(check_name(" ops"), Err(NameError::Space));
    }

    #[test]
    fn long_names_are_cut_in_messages() {
        assert_eq!(shown("ops"), "\"ops\"");
        let long = shown(&"a".repeat(10_000));
        assert!(long.len() < 100, "{long}");
        assert!(long.ends_with("…\" (10000 bytes)"), "{long}");
        // Cut on a character boundary.
        assert!(shown(&"é".repeat(100)).ends_with("é…\" (200 bytes)"));
        assert_eq!(cut("role/x"), "role/x");
        assert!(cut(&"b".repeat(300)).ends_with("b… (300 bytes)"));
    }
}
