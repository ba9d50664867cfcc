//! The fleet's triage as Prometheus text exposition (format 0.0.4, which node_exporter's
//! textfile collector and every scraper read): per-bot gauges, per-cluster counts, and the state
//! of `fleet serve`'s refreshes.

use std::io::{self, Write};
use std::time::{Duration, SystemTime};

use super::{BotReport, Kind, Triage};

/// How `fleet serve`'s background refreshes went, reported beside the last good triage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RefreshState {
    /// Refreshes that failed since the server started (the last good triage is served).
    pub failures: u64,
    /// How long the last good triage took.
    pub duration: Duration,
}

/// A metric family being written: `# HELP`, `# TYPE`, then its samples.
struct Family<'a> {
    out: &'a mut dyn Write,
    name: &'a str,
}

impl Family<'_> {
    fn sample(&mut self, labels: &[(&str, &str)], value: impl std::fmt::Display) -> io::Result<()> {
        self.out.write_all(self.name.as_bytes())?;
        if !labels.is_empty() {
            self.out.write_all(b"{")?;
            for (i, (key, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.write_all(b",")?;
                }
                write!(self.out, "{key}=\"{}\"", escape_label(val))?;
            }
            self.out.write_all(b"}")?;
        }
        writeln!(self.out, " {value}")
    }
}

fn family<'a>(
    out: &'a mut dyn Write,
    name: &'a str,
    kind: &str,
    help: &str,
) -> io::Result<Family<'a>> {
    writeln!(out, "# HELP {name} {}", escape_help(help))?;
    writeln!(out, "# TYPE {name} {kind}")?;
    Ok(Family { out, name })
}

/// A label value with `\`, `"` and newlines escaped, as the text format requires.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// HELP text with `\` and newlines escaped.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

fn seconds(d: Duration) -> f64 {
    d.as_millis() as f64 / 1000.0
}

fn unix(t: SystemTime) -> f64 {
    seconds(t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default())
}

/// Writes every metric of `triage` (and of the server's refreshes, when serving) to `out`, bot by
/// bot as it goes.
pub fn render(
    out: &mut dyn Write,
    triage: &Triage,
    refresh: Option<&RefreshState>,
) -> io::Result<()> {
    let cluster = triage.cluster.as_str();
    let now = triage.checked_at;
    let per_bot =
        |out: &mut dyn Write, name: &str, help: &str, value: &dyn Fn(&BotReport) -> Option<f64>| {
            let mut f = family(out, name, "gauge", help)?;
            for bot in &triage.bots {
                if let Some(v) = value(bot) {
                    f.sample(&[("cluster", cluster), ("bot", &bot.bot)], v)?;
                }
            }
            io::Result::Ok(())
        };
    per_bot(
        out,
        "mwictl_bot_locked",
        "1 when an in-force lock blocks the bot (its user, role, a live instance or a join token), else 0.",
        &|b| Some(f64::from(u8::from(b.locks > 0))),
    )?;
    per_bot(
        out,
        "mwictl_bot_live_instances",
        "Bot instances holding an unexpired identity.",
        &|b| Some(f64::from(b.live_instances)),
    )?;
    per_bot(
        out,
        "mwictl_bot_recoveries_remaining",
        "Recoveries left (limit - count) on the bot's bound-keypair tokens in mode standard, the fewest; absent without one.",
        &|b| b.recoveries_remaining.map(f64::from),
    )?;
    per_bot(
        out,
        "mwictl_bot_identity_expires_seconds",
        "Seconds until the first of the bot's live identities expires; absent without a live instance.",
        &|b| {
            b.identity_expires
                .map(|t| seconds(t.duration_since(now).unwrap_or_default()))
        },
    )?;
    per_bot(
        out,
        "mwictl_bot_unhealthy_services",
        "Services and outputs the latest heartbeats of the bot's live instances report unhealthy.",
        &|b| Some(f64::from(b.unhealthy_services)),
    )?;
    per_bot(
        out,
        "mwictl_bot_heartbeat_age_seconds",
        "Age of the oldest newest heartbeat among the bot's live instances; absent without one.",
        &|b| {
            b.heartbeat_at
                .map(|t| seconds(now.duration_since(t).unwrap_or_default()))
        },
    )?;
    per_bot(
        out,
        "mwictl_bot_needs_attention",
        "1 when mwictl triage lists a reason for the bot, else 0.",
        &|b| Some(f64::from(u8::from(!b.reasons.is_empty()))),
    )?;

    let only_cluster = [("cluster", cluster)];
    family(out, "mwictl_bots", "gauge", "Bots in the cluster.")?
        .sample(&only_cluster, triage.bots.len())?;
    family(
        out,
        "mwictl_bots_needing_attention",
        "gauge",
        "Bots with at least one triage reason.",
    )?
    .sample(&only_cluster, triage.needing_attention().count())?;
    let mut f = family(
        out,
        "mwictl_bots_with_reason",
        "gauge",
        "Bots with a triage reason of each kind (see mwictl triage --help).",
    )?;
    for kind in Kind::ALL {
        f.sample(
            &[("cluster", cluster), ("reason", kind.as_str())],
            triage.count(kind),
        )?;
    }
    family(
        out,
        "mwictl_bot_instances",
        "gauge",
        "Bot instance records in the cluster.",
    )?
    .sample(
        &only_cluster,
        triage
            .bots
            .iter()
            .map(|b| u64::from(b.instances))
            .sum::<u64>(),
    )?;
    family(
        out,
        "mwictl_triage_timestamp_seconds",
        "gauge",
        "When the triage these metrics report was taken (Unix time).",
    )?
    .sample(&only_cluster, unix(now))?;
    if let Some(refresh) = refresh {
        render_refresh(out, cluster, refresh)?;
    }
    Ok(())
}

/// Writes the metrics of `fleet serve`'s refreshes, which [`render`] ends with: apart, so the
/// server can keep the triage's metrics as rendered and write these beside them.
pub fn render_refresh(
    out: &mut dyn Write,
    cluster: &str,
    refresh: &RefreshState,
) -> io::Result<()> {
    let only_cluster = [("cluster", cluster)];
    family(
        out,
        "mwictl_refresh_failures_total",
        "counter",
        "Refreshes of the triage that failed; the last good one is served meanwhile.",
    )?
    .sample(&only_cluster, refresh.failures)?;
    family(
        out,
        "mwictl_refresh_duration_seconds",
        "gauge",
        "How long the last good refresh took.",
    )?
    .sample(&only_cluster, seconds(refresh.duration))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::triage::Reason;

    fn triage() -> Triage {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        Triage {
            cluster: "lab \"one\"".into(),
            server_version: "18.0.0".into(),
            checked_at: now,
            bots: vec![
                BotReport {
                    bot: "a\\b\nc".into(),
                    reasons: vec![Reason::TokenSpent {
                        instances: 1,
                        exhausted: None,
                    }],
                    locks: 1,
                    instances: 1,
                    live_instances: 0,
                    recoveries_remaining: Some(0),
                    identity_expires: None,
                    heartbeat_at: None,
                    unhealthy_services: 0,
                },
                BotReport {
                    bot: "ok".into(),
                    reasons: vec![],
                    locks: 0,
                    instances: 2,
                    live_instances: 2,
                    recoveries_remaining: None,
                    identity_expires: Some(now + Duration::from_millis(1500)),
                    heartbeat_at: Some(now - Duration::from_secs(60)),
                    unhealthy_services: 2,
                },
            ],
            rpcs: 5,
        }
    }

    /// The exposition as one string.
    fn text(triage: &Triage, refresh: Option<&RefreshState>) -> String {
        let mut out = Vec::new();
        render(&mut out, triage, refresh).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        let text = text(&triage(), None);
        assert!(
            text.contains(r#"mwictl_bot_locked{cluster="lab \"one\"",bot="a\\b\nc"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn absent_values_are_left_out_and_present_ones_are_in_seconds() {
        let text = text(&triage(), None);
        assert!(text.contains(
            r#"mwictl_bot_identity_expires_seconds{cluster="lab \"one\"",bot="ok"} 1.5"#
        ));
        assert!(
            !text.contains(r#"mwictl_bot_identity_expires_seconds{cluster="lab \"one\"",bot="a"#)
        );
        assert!(
            text.contains(r#"mwictl_bot_heartbeat_age_seconds{cluster="lab \"one\"",bot="ok"} 60"#)
        );
        assert!(
            text.contains(
                r#"mwictl_bots_with_reason{cluster="lab \"one\"",reason="token_spent"} 1"#
            )
        );
        assert!(text.contains(r#"mwictl_bot_instances{cluster="lab \"one\""} 3"#));
        assert!(!text.contains("mwictl_refresh_failures_total"));
    }

    #[test]
    fn the_exposition_passes_the_strict_parser_with_and_without_refreshes() {
        for refresh in [None, Some(&RefreshState::default())] {
            let text = text(&triage(), refresh);
            let parsed = mwi_testkit::metrics::parse(&text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                parsed.value("mwictl_refresh_failures_total", &[]).is_some(),
                refresh.is_some()
            );
            assert_eq!(
                parsed.value("mwictl_bot_locked", &[("bot", "a\\b\nc")]),
                Some(1.0)
            );
        }
    }

    #[test]
    fn the_contrib_dashboard_and_alerts_use_only_metrics_mwictl_exports() {
        let text = text(&triage(), Some(&RefreshState::default()));
        let exported = mwi_testkit::metrics::parse(&text).unwrap();
        let contrib = [
            include_str!("../../../../contrib/grafana/mwictl-fleet.json"),
            include_str!("../../../../contrib/prometheus/mwictl-alerts.yml"),
        ];
        let mut used = 0;
        for file in contrib {
            for (at, _) in file.match_indices("mwictl_") {
                let name: String = file[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                assert!(exported.family(&name).is_some(), "{name} is not exported");
                used += 1;
            }
        }
        assert!(used > 10, "only {used} metric references");
    }
}
