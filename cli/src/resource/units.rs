//! Durations and times as Teleport writes them: Go's `time.Duration` text (`12h0m0s`), protojson
//! Duration (`43200s`), Go's `time.Time` JSON (RFC 3339, trailing zeros trimmed) and protojson
//! Timestamp (RFC 3339 with 0, 3, 6 or 9 fractional digits).

use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::ResourceError;

pub use mwi_identity::duration::format as format_go_duration;

/// Go's duration text for a signed nanosecond count (the wire form of role TTLs).
pub(crate) fn format_go_nanos(nanos: i64) -> String {
    let text = format_go_duration(Duration::from_nanos(nanos.unsigned_abs()));
    if nanos < 0 { format!("-{text}") } else { text }
}

/// `.5`, `.123` (digits of `value` at `digits` precision, trailing zeros dropped), or nothing.
fn go_fraction(value: u128, digits: u32) -> String {
    if value == 0 {
        return String::new();
    }
    let text = format!("{value:0width$}", width = digits as usize);
    format!(".{}", text.trim_end_matches('0'))
}

/// Parses Go's duration syntax (`1h30m`, `90s`, `12h0m0s`, `1.5h`, `300ms`), which also covers
/// protojson durations (`43200s`, `1.5s`). Negative durations and ones beyond Go's limit
/// (about 292 years) are refused.
pub fn parse_go_duration(text: &str) -> Result<Duration, ResourceError> {
    mwi_identity::duration::parse(text).map_err(|e| ResourceError::InvalidDuration {
        given: e.text().to_owned(),
        reason: e.reason().to_owned(),
    })
}

/// A protojson Duration: seconds with 0, 3, 6 or 9 fractional digits and an `s`.
pub(crate) fn format_proto_duration(d: &prost_types::Duration) -> String {
    let negative = d.seconds < 0 || d.nanos < 0;
    let seconds = d.seconds.unsigned_abs();
    let nanos = d.nanos.unsigned_abs();
    let sign = if negative { "-" } else { "" };
    format!("{sign}{seconds}{}s", proto_fraction(nanos))
}

/// Reads a Go or protojson duration into the protobuf well-known type.
pub(crate) fn parse_proto_duration(text: &str) -> Result<prost_types::Duration, ResourceError> {
    let d = parse_go_duration(text)?;
    // parse_go_duration caps durations at i64::MAX nanoseconds, so the seconds fit an i64.
    Ok(prost_types::Duration {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    })
}

/// `.123`, `.123456`, `.123456789` or nothing: protojson's choice of precision.
fn proto_fraction(nanos: u32) -> String {
    match nanos {
        0 => String::new(),
        n if n % 1_000_000 == 0 => format!(".{:03}", n / 1_000_000),
        n if n % 1_000 == 0 => format!(".{:06}", n / 1_000),
        n => format!(".{n:09}"),
    }
}

/// The UTC date-time of a timestamp, if it is within the years time can represent.
fn datetime(ts: &prost_types::Timestamp) -> Option<OffsetDateTime> {
    let mut ts = *ts;
    ts.normalize();
    let whole = OffsetDateTime::from_unix_timestamp(ts.seconds).ok()?;
    whole.replace_nanosecond(u32::try_from(ts.nanos).ok()?).ok()
}

fn format_with(ts: &prost_types::Timestamp, fraction: impl Fn(u32) -> String) -> String {
    match datetime(ts) {
        Some(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            fraction(t.nanosecond())
        ),
        None => format!(
            "invalid time ({} seconds, {} nanoseconds since 1970)",
            ts.seconds, ts.nanos
        ),
    }
}

/// Renders a timestamp in UTC as Go's `time.Time` JSON does: RFC 3339 with the fractional
/// seconds' trailing zeros trimmed (`2026-01-02T15:04:05.123Z`, `2026-01-02T15:04:05Z`).
pub fn format_timestamp(ts: &prost_types::Timestamp) -> String {
    format_with(ts, |nanos| go_fraction(u128::from(nanos), 9))
}

/// Renders a timestamp as protojson does (used for the machineid kinds, which tctl prints
/// through protojson).
pub(crate) fn format_proto_timestamp(ts: &prost_types::Timestamp) -> String {
    format_with(ts, proto_fraction)
}

/// Parses an RFC 3339 time with any offset into a UTC timestamp.
pub fn parse_timestamp(text: &str) -> Result<prost_types::Timestamp, ResourceError> {
    let t = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| ResourceError::InvalidTimestamp {
        given: text.to_owned(),
    })?;
    Ok(prost_types::Timestamp {
        seconds: t.unix_timestamp(),
        nanos: t.nanosecond() as i32,
    })
}

/// Go's zero `time.Time` (0001-01-01T00:00:00Z), which gogo sends for an unset non-nullable
/// time such as a lock's `CreatedAt`.
pub(crate) fn is_go_zero_time(ts: &prost_types::Timestamp) -> bool {
    ts.seconds == -62_135_596_800 && ts.nanos == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_formatting_matches_go() {
        let cases: &[(Duration, &str)] = &[
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(1), "1ns"),
            (Duration::from_nanos(999), "999ns"),
            (Duration::from_nanos(1_100), "1.1µs"),
            (Duration::from_micros(100), "100µs"),
            (Duration::from_micros(1_500), "1.5ms"),
            (Duration::from_millis(300), "300ms"),
            (Duration::from_millis(1_500), "1.5s"),
            (Duration::from_secs(1), "1s"),
            (Duration::from_secs(59), "59s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(30 * 60), "30m0s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_secs(5400), "1h30m0s"),
            (Duration::from_secs(12 * 3600), "12h0m0s"),
            (Duration::from_secs(30 * 3600), "30h0m0s"),
            (Duration::new(3661, 1), "1h1m1.000000001s"),
            (
                Duration::from_nanos(i64::MAX as u64),
                "2562047h47m16.854775807s",
            ),
        ];
        for (d, want) in cases {
            assert_eq!(format_go_duration(*d), *want, "{d:?}");
        }
    }

    #[test]
    fn negative_wire_nanos_format_with_a_sign() {
        assert_eq!(format_go_nanos(-3_600_000_000_000), "-1h0m0s");
        assert_eq!(format_go_nanos(43_200_000_000_000), "12h0m0s");
    }

    #[test]
    fn go_duration_parsing_accepts_go_and_protojson_forms() {
        let cases: &[(&str, Duration)] = &[
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("-0s", Duration::ZERO),
            ("90s", Duration::from_secs(90)),
            ("43200s", Duration::from_secs(43_200)),
            ("1.5s", Duration::from_millis(1_500)),
            ("0.000000001s", Duration::from_nanos(1)),
            ("1h30m", Duration::from_secs(5_400)),
            ("12h0m0s", Duration::from_secs(43_200)),
            ("1.5h", Duration::from_secs(5_400)),
            (".5m", Duration::from_secs(30)),
            ("1.s", Duration::from_secs(1)),
            ("+5m", Duration::from_secs(300)),
            ("300ms", Duration::from_millis(300)),
            ("10us", Duration::from_micros(10)),
            ("10µs", Duration::from_micros(10)),
            ("7ns", Duration::from_nanos(7)),
            ("1h1m1s1ms", Duration::new(3661, 1_000_000)),
            (
                "2562047h47m16.854775807s",
                Duration::from_nanos(i64::MAX as u64),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_go_duration(text).unwrap(), *want, "{text}");
        }
    }

    #[test]
    fn go_duration_parsing_round_trips_formatting() {
        for secs in [1, 59, 60, 61, 3599, 3600, 43_200, 86_400 * 7] {
            let d = Duration::new(secs, 250_000_000);
            assert_eq!(parse_go_duration(&format_go_duration(d)).unwrap(), d);
        }
    }

    #[test]
    fn bad_durations_say_why() {
        let cases: &[(&str, &str)] = &[
            ("", "expected a number and a unit, like 90s, 30m or 1h30m"),
            ("12", "missing unit after `12`; use ns, us, ms, s, m or h"),
            ("12x", "unknown unit `x`; use ns, us, ms, s, m or h"),
            ("1d", "unknown unit `d`; use ns, us, ms, s, m or h"),
            ("h", "expected a number and a unit, like 90s, 30m or 1h30m"),
            (".s", "expected a number and a unit, like 90s, 30m or 1h30m"),
            ("1h 30m", "unknown unit `h `; use ns, us, ms, s, m or h"),
            ("-1h", "negative durations are not allowed"),
            (
                "2562048h",
                "too large; the longest duration is 2562047h47m16.854775807s",
            ),
            ("99999999999999999999999999999999999999999h", "too large"),
        ];
        for (text, reason) in cases {
            let err = parse_go_duration(text).unwrap_err();
            assert_eq!(
                err,
                ResourceError::InvalidDuration {
                    given: (*text).to_owned(),
                    reason: (*reason).to_owned()
                },
                "{text}"
            );
        }
    }

    #[test]
    fn proto_durations_use_protojson_precision() {
        let d = |seconds, nanos| prost_types::Duration { seconds, nanos };
        assert_eq!(format_proto_duration(&d(43_200, 0)), "43200s");
        assert_eq!(format_proto_duration(&d(1, 500_000_000)), "1.500s");
        assert_eq!(format_proto_duration(&d(0, 1_000)), "0.000001s");
        assert_eq!(format_proto_duration(&d(0, 1)), "0.000000001s");
        assert_eq!(format_proto_duration(&d(-1, -500_000_000)), "-1.500s");
        assert_eq!(parse_proto_duration("1.500s").unwrap(), d(1, 500_000_000));
        assert_eq!(parse_proto_duration("12h").unwrap(), d(43_200, 0));
    }

    #[test]
    fn timestamps_format_like_go_json() {
        let ts = |seconds, nanos| prost_types::Timestamp { seconds, nanos };
        assert_eq!(format_timestamp(&ts(0, 0)), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_timestamp(&ts(1_767_366_245, 123_000_000)),
            "2026-01-02T15:04:05.123Z"
        );
        assert_eq!(
            format_timestamp(&ts(1_767_366_245, 120_000_000)),
            "2026-01-02T15:04:05.12Z"
        );
        assert_eq!(
            format_proto_timestamp(&ts(1_767_366_245, 120_000_000)),
            "2026-01-02T15:04:05.120Z"
        );
        assert_eq!(
            format_timestamp(&ts(-62_135_596_800, 0)),
            "0001-01-01T00:00:00Z"
        );
        assert_eq!(
            format_timestamp(&ts(i64::MAX, 0)),
            format!(
                "invalid time ({} seconds, 0 nanoseconds since 1970)",
                i64::MAX
            )
        );
    }

    #[test]
    fn timestamps_parse_with_any_offset_into_utc() {
        let ts = |seconds, nanos| prost_types::Timestamp { seconds, nanos };
        assert_eq!(
            parse_timestamp("2026-01-02T15:04:05Z").unwrap(),
            ts(1_767_366_245, 0)
        );
        assert_eq!(
            parse_timestamp("2026-01-03T00:04:05.5+09:00").unwrap(),
            ts(1_767_366_245, 500_000_000)
        );
        assert_eq!(
            parse_timestamp("0001-01-01T00:00:00Z").unwrap(),
            ts(-62_135_596_800, 0)
        );
        assert_eq!(
            parse_timestamp("2026-01-02").unwrap_err().to_string(),
            "invalid time `2026-01-02`: expected RFC 3339, like 2026-01-02T15:04:05Z"
        );
    }

    #[test]
    fn timestamps_round_trip() {
        for (seconds, nanos) in [(0, 0), (1_767_366_245, 1), (1_767_366_245, 999_999_999)] {
            let ts = prost_types::Timestamp { seconds, nanos };
            assert_eq!(parse_timestamp(&format_timestamp(&ts)).unwrap(), ts);
            assert_eq!(parse_timestamp(&format_proto_timestamp(&ts)).unwrap(), ts);
        }
    }
}
