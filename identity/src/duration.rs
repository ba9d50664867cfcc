//! Go durations, the one parser and printer for every crate: `20m`, `1h30m`, `1.5s`, `43200s` in
//! (Go's `time.ParseDuration`, which also reads protojson durations), `1h0m0s`, `200ms` out.

use std::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;
const EXAMPLE: &str = "expected a number and a unit, like 90s, 30m or 1h30m";
const UNITS: &str = "use ns, us, ms, s, m or h";

/// A text that is not a Go duration, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration `{text}`: {reason}")]
pub struct BadDuration {
    text: String,
    reason: String,
}

impl BadDuration {
    /// The text as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Why it is not a duration, without the text.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// Parses a Go duration that is not negative (`-0s` is zero). No setting mwictl or its agent
/// reads can be negative.
pub fn parse(text: &str) -> Result<Duration, BadDuration> {
    match parse_signed(text)? {
        (true, d) if !d.is_zero() => Err(bad(text, "negative durations are not allowed")),
        (_, d) => Ok(d),
    }
}

/// Parses a Go duration: an optional sign, then one or more `<number><unit>` terms, the number
/// may have a fraction; returns whether it was negative and its size. Like Go, anything beyond
/// 2562047h47m16.854775807s (i64 nanoseconds) is refused; no whitespace is allowed.
pub fn parse_signed(text: &str) -> Result<(bool, Duration), BadDuration> {
    let fail = |reason: &str| bad(text, reason);
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok((negative, Duration::ZERO));
    }
    if rest.is_empty() {
        return Err(fail(EXAMPLE));
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let whole_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (whole, after) = rest.split_at(whole_len);
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => {
                let len = after.bytes().take_while(u8::is_ascii_digit).count();
                after.split_at(len)
            }
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(fail(EXAMPLE));
        }
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS_PER_SEC,
            "m" => 60 * NANOS_PER_SEC,
            "h" => 3600 * NANOS_PER_SEC,
            "" => return Err(fail(&format!("missing unit after `{whole}`; {UNITS}"))),
            other => return Err(fail(&format!("unknown unit `{other}`; {UNITS}"))),
        };
        // Digits beyond what u128 holds are beyond Go's limit anyway.
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| fail("too large"))?
        };
        // Digits past the 20th are worth less than a nanosecond even in hours, so they are
        // dropped (as Go drops them) to keep the arithmetic in range.
        let fraction = &fraction[..fraction.len().min(20)];
        let fraction_nanos = if fraction.is_empty() {
            0
        } else {
            let digits: u128 = fraction.parse().map_err(|_| fail(EXAMPLE))?;
            digits * unit_nanos / 10u128.pow(fraction.len() as u32)
        };
        total = whole
            .checked_mul(unit_nanos)
            .and_then(|n| n.checked_add(fraction_nanos))
            .and_then(|n| n.checked_add(total))
            .ok_or_else(|| fail("too large"))?;
        rest = after;
    }
    if total > i64::MAX as u128 {
        return Err(fail(
            "too large; the longest duration is 2562047h47m16.854775807s",
        ));
    }
    // Checked against i64::MAX above, so it fits u64.
    Ok((negative, Duration::from_nanos(total as u64)))
}

fn bad(text: &str, reason: &str) -> BadDuration {
    BadDuration {
        text: text.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Renders a duration as Go's `time.Duration.String()` does: `12h0m0s`, `1h0m0s`, `30m0s`,
/// `1.5s`, `1m30s`, `1.5ms`, `100µs`, `0s`.
pub fn format(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < NANOS_PER_SEC {
        let (unit, digits) = match nanos {
            0..1_000 => ("ns", 0),
            1_000..1_000_000 => ("µs", 3),
            _ => ("ms", 6),
        };
        let scale = 10u128.pow(digits);
        return format!("{}{}{unit}", nanos / scale, fraction(nanos % scale, digits));
    }
    let seconds = nanos / NANOS_PER_SEC;
    let minutes = seconds / 60;
    let mut out = String::new();
    if minutes > 0 {
        let hours = minutes / 60;
        if hours > 0 {
            out.push_str(&format!("{hours}h"));
        }
        out.push_str(&format!("{}m", minutes % 60));
    }
    let fraction = fraction(nanos % NANOS_PER_SEC, 9);
    out.push_str(&format!("{}{fraction}s", seconds % 60));
    out
}

/// `.5`, `.123` (digits of `value` at `digits` precision, trailing zeros dropped), or nothing.
fn fraction(value: u128, digits: u32) -> String {
    if value == 0 {
        return String::new();
    }
    let text = format!("{value:0width$}", width = digits as usize);
    format!(".{}", text.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every text the three parsers this one replaced (the agent's, the CLI's resource parser and
    /// lint's) accepted in their tests, with the value they gave.
    #[test]
    fn accepts_what_the_old_parsers_accepted() {
        let cases: &[(&str, Duration)] = &[
            // agent
            ("20m", Duration::from_secs(1200)),
            ("1h", Duration::from_secs(3600)),
            ("1h30m", Duration::from_secs(5400)),
            ("200ms", Duration::from_millis(200)),
            ("1.5s", Duration::from_millis(1500)),
            (".5h", Duration::from_secs(1800)),
            ("0", Duration::ZERO),
            ("10us", Duration::from_micros(10)),
            // cli resources
            ("0s", Duration::ZERO),
            ("-0s", Duration::ZERO),
            ("90s", Duration::from_secs(90)),
            ("43200s", Duration::from_secs(43_200)),
            ("0.000000001s", Duration::from_nanos(1)),
            ("12h0m0s", Duration::from_secs(43_200)),
            ("1.5h", Duration::from_secs(5_400)),
            (".5m", Duration::from_secs(30)),
            ("1.s", Duration::from_secs(1)),
            ("+5m", Duration::from_secs(300)),
            ("300ms", Duration::from_millis(300)),
            ("10µs", Duration::from_micros(10)),
            ("10μs", Duration::from_micros(10)),
            ("7ns", Duration::from_nanos(7)),
            ("1h1m1s1ms", Duration::new(3661, 1_000_000)),
            (
                "2562047h47m16.854775807s",
                Duration::from_nanos(i64::MAX as u64),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Ok(*want), "{text}");
        }
    }

    #[test]
    fn refuses_what_go_refuses_and_negatives() {
        let cases: &[(&str, &str)] = &[
            ("", EXAMPLE),
            ("12", "missing unit after `12`; use ns, us, ms, s, m or h"),
            ("20", "missing unit after `20`; use ns, us, ms, s, m or h"),
            ("12x", "unknown unit `x`; use ns, us, ms, s, m or h"),
            ("1x", "unknown unit `x`; use ns, us, ms, s, m or h"),
            ("1d", "unknown unit `d`; use ns, us, ms, s, m or h"),
            ("h", EXAMPLE),
            (".s", EXAMPLE),
            (".", EXAMPLE),
            ("1..5s", "missing unit after `1`; use ns, us, ms, s, m or h"),
            ("1h 30m", "unknown unit `h `; use ns, us, ms, s, m or h"),
            ("-1h", "negative durations are not allowed"),
            (
                "2562048h",
                "too large; the longest duration is 2562047h47m16.854775807s",
            ),
            ("99999999999999999999999999999999999999999h", "too large"),
        ];
        for (text, reason) in cases {
            let err = parse(text).unwrap_err();
            assert_eq!((err.text(), err.reason()), (*text, *reason), "{text}");
        }
        assert_eq!(
            parse("20").unwrap_err().to_string(),
            "invalid duration `20`: missing unit after `20`; use ns, us, ms, s, m or h"
        );
    }

    #[test]
    fn signed_parsing_keeps_the_sign() {
        assert_eq!(
            parse_signed("-1h30m"),
            Ok((true, Duration::from_secs(5400)))
        );
        assert_eq!(parse_signed("+20m"), Ok((false, Duration::from_secs(1200))));
        assert_eq!(parse_signed("-0"), Ok((true, Duration::ZERO)));
        assert!(parse_signed("-").is_err());
    }

    #[test]
    fn formats_like_go_duration_string() {
        let cases: &[(Duration, &str)] = &[
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_secs(3660), "1h1m0s"),
            (Duration::from_secs(1200), "20m0s"),
            (Duration::from_secs(43_200), "12h0m0s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(200), "200ms"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::from_micros(100), "100µs"),
            (Duration::from_nanos(12), "12ns"),
            (Duration::ZERO, "0s"),
            (Duration::from_secs(90061), "25h1m1s"),
        ];
        for (d, want) in cases {
            assert_eq!(format(*d), *want, "{d:?}");
        }
    }

    #[test]
    fn format_and_parse_round_trip() {
        let mut cases = vec![
            Duration::from_secs(5400),
            Duration::from_millis(1250),
            Duration::from_micros(3),
        ];
        for secs in [1, 59, 60, 61, 3599, 3600, 43_200, 86_400 * 7] {
            cases.push(Duration::new(secs, 250_000_000));
        }
        for d in cases {
            assert_eq!(parse(&format(d)), Ok(d));
        }
    }
}
