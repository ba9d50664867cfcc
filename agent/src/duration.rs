//! Go durations as tbot reads and prints them: `20m`, `1h30m`, `1.5s` in, `1h0m0s`, `200ms` out
//! (Go's `time.ParseDuration` and `Duration.String`), so configs and log lines match tbot's.

use std::time::Duration;

/// A duration text that is not a Go duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a duration like 20m, 1h or 1h30m ({reason})")]
pub struct BadDuration {
    text: String,
    reason: &'static str,
}

const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parses a Go duration: one or more `<number><unit>` terms, the number may have a fraction.
/// Negative durations are refused: no setting of the agent can be negative.
pub fn parse(text: &str) -> Result<Duration, BadDuration> {
    let bad = |reason| BadDuration {
        text: text.to_string(),
        reason,
    };
    let trimmed = text.trim();
    if trimmed == "0" {
        return Ok(Duration::ZERO);
    }
    if trimmed.is_empty() {
        return Err(bad("empty"));
    }
    if trimmed.starts_with('-') {
        return Err(bad("negative"));
    }
    let mut rest = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| bad("a number needs a unit: ns, us, ms, s, m or h"))?;
        let (number, tail) = rest.split_at(number_len);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return Err(bad("expected a number before each unit"));
        }
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, scale)| *scale)
            .ok_or_else(|| bad("unknown unit; use ns, us, ms, s, m or h"))?;
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad("number too large"))?
        };
        let mut nanos = whole.checked_mul(scale).ok_or_else(|| bad("too large"))?;
        let mut place = scale;
        for digit in fraction.bytes() {
            place /= 10;
            nanos += u128::from(digit - b'0') * place;
        }
        total = total.checked_add(nanos).ok_or_else(|| bad("too large"))?;
        rest = tail;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| bad("too large"))?;
    Ok(Duration::new(secs, (total % 1_000_000_000) as u32))
}

/// Formats like Go's `Duration.String`: `1h0m0s`, `20m0s`, `1.5s`, `200ms`, `0s`.
pub fn format(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", decimal(nanos, 1_000));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", decimal(nanos, 1_000_000));
    }
    let hours = nanos / 3_600_000_000_000;
    let minutes = (nanos / 60_000_000_000) % 60;
    let seconds = decimal(nanos % 60_000_000_000, 1_000_000_000);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, m) => format!("{m}m{seconds}s"),
        (h, m) => format!("{h}h{m}m{seconds}s"),
    }
}

/// `value / unit` with the fraction's trailing zeros dropped, as Go prints it.
fn decimal(value: u128, unit: u128) -> String {
    let whole = value / unit;
    let fraction = value % unit;
    if fraction == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{fraction:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_tbot_configs_use() {
        assert_eq!(parse("20m"), Ok(Duration::from_secs(1200)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse(".5h"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("10us"), Ok(Duration::from_micros(10)));
    }

    #[test]
    fn refuses_what_go_refuses_and_negatives() {
        for text in ["", "20", "1x", "h", "-1h", "1..5s", "1h 30m", "."] {
            assert!(parse(text).is_err(), "{text:?} should be refused");
        }
        let err = parse("20").unwrap_err().to_string();
        assert!(err.contains("\"20\"") && err.contains("unit"), "{err}");
    }

    #[test]
    fn formats_like_go_duration_string() {
        assert_eq!(format(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format(Duration::from_secs(3660)), "1h1m0s");
        assert_eq!(format(Duration::from_secs(1200)), "20m0s");
        assert_eq!(format(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format(Duration::from_millis(200)), "200ms");
        assert_eq!(format(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(format(Duration::from_nanos(12)), "12ns");
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(format(Duration::from_secs(90061)), "25h1m1s");
    }

    #[test]
    fn format_and_parse_round_trip() {
        for d in [
            Duration::from_secs(5400),
            Duration::from_millis(1250),
            Duration::from_micros(3),
        ] {
            assert_eq!(parse(&format(d)), Ok(d));
        }
    }
}
