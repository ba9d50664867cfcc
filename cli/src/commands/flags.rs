//! Flag values commands share: a positive duration in Go's syntax (token, session, bot and wait
//! lifetimes), and the name of a resource to be created.

use std::time::Duration;

use crate::resource::{check_name, parse_go_duration};

/// A name for a new bot, by the rule every name mwictl writes follows (`check_name`).
pub fn parse_new_name(text: &str) -> Result<String, String> {
    check_name(text).map_err(|e| e.to_string())?;
    Ok(text.to_owned())
}

/// Parses a positive duration flag in Go's syntax (`1h`, `30m`, `12h0m0s`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    match parse_go_duration(text) {
        Ok(d) if d.is_zero() => Err("must be longer than zero, like 30m or 1h".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_garbage_durations_are_refused() {
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_duration("90m"), Ok(Duration::from_secs(5400)));
    }
}
