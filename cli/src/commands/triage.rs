//! `mwictl triage`: every bot ranked by what needs attention, each reason with its fix, as a
//! table, JSON, YAML or Prometheus metrics; exit 1 when anything needs attention.

use std::io::Write;
use std::time::{Duration, SystemTime};

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::commands::flags::parse_duration;
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::triage::{BotReport, Kind, Limits, Triage, render_metrics, triage};
use crate::output::{
    Fitting, Format, Items, Output, WriteError, fitted_table, terminal_width, write_json,
};
use crate::resource::format_timestamp;

/// Rank every bot by what needs attention, each reason with the command that fixes it.
///
/// Reads the bots, roles, join tokens, in-force locks and bot instances once each (paged), never
/// one call per bot, and lists the bots that need attention, most urgent first. The reasons, in
/// that order: locked (which locks, on which targets); no live instance and no unexpired token
/// left to join with (token_spent); no live instance though a token could join; a bound-keypair
/// token with no recoveries left; roles that no longer exist; a rotation requested on a static
/// key; an identity that expires within one renewal interval; services or outputs a heartbeat
/// reported unhealthy; a stale heartbeat; an agent more than one major version behind the
/// cluster; a bound-keypair token with one recovery left; a token left in recovery mode insecure
/// (naming the unfinished `mwictl recover` run that switched it, if one did).
///
/// --format json prints {schema: "mwictl.triage/v1", cluster, server_version, checked_at, bots,
/// needing_attention, counts: {KIND: bots}, rpcs, entries: [{bot, reasons: [{kind, text, fix,
/// ...}], locks, instances, live_instances, recoveries_remaining, identity_expires_at,
/// heartbeat_at, unhealthy_services}]}, every bot ranked. --format prometheus writes the metrics
/// `mwictl fleet serve` serves, for node_exporter's textfile collector.
///
/// Exit codes: 0 no bot needs attention, 1 some bot does (for cron and CI), others as usual.
#[derive(Debug, clap::Args)]
pub struct TriageArgs {
    /// tbot's renewal interval: an identity that expires sooner has missed its renewals.
    #[arg(long, value_name = "DURATION", default_value = "20m", value_parser = parse_duration)]
    pub renewal_interval: Duration,

    /// A live instance whose newest heartbeat is older than this is stale.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub stale_after: Duration,
}

impl TriageArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            renewal_interval: self.renewal_interval,
            stale_after: self.stale_after,
        }
    }
}

/// The triage, in each format. A fleet of ten thousand bots is written entry by entry (row by
/// row, sample by sample), never built whole a second time.
pub struct TriageOutput {
    pub triage: Triage,
    pub width: Option<usize>,
}

impl TriageOutput {
    /// The table's rows, reason by reason, the bot's name on its first; made again on each call,
    /// so that the table is measured and then written without holding them.
    fn rows(&self) -> impl Iterator<Item = Vec<String>> + '_ {
        self.triage.needing_attention().flat_map(|bot| {
            bot.reasons.iter().enumerate().map(|(i, reason)| {
                let name = if i == 0 {
                    bot.bot.clone()
                } else {
                    String::new()
                };
                vec![name, reason.text(), reason.fix(&bot.bot)]
            })
        })
    }

    /// Writes the table: its column widths from a first pass over the rows, then line by line.
    fn write_table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        // A bot needing attention has a reason, so no such bot means no rows.
        if self.triage.needing_attention().next().is_none() {
            return Ok(());
        }
        let mut fitting = Fitting::new(HEADERS, SQUEEZE);
        for row in self.rows() {
            fitting.measure(&row);
        }
        let layout = fitting.fit(self.width);
        out.write_all(layout.header().as_bytes())?;
        for row in self.rows() {
            out.write_all(layout.row(row).as_bytes())?;
        }
        Ok(())
    }

    /// The JSON document's fields but the entries, whose place holds `null`.
    fn head(&self) -> serde_json::Map<String, serde_json::Value> {
        let t = &self.triage;
        let counts: serde_json::Map<String, serde_json::Value> = Kind::ALL
            .iter()
            .map(|k| (k.as_str().to_owned(), t.count(*k).into()))
            .collect();
        let fields: [(&str, serde_json::Value); 9] = [
            ("schema", "mwictl.triage/v1".into()),
            ("cluster", t.cluster.as_str().into()),
            ("server_version", t.server_version.as_str().into()),
            ("checked_at", time(t.checked_at).into()),
            ("bots", t.bots.len().into()),
            ("needing_attention", t.needing_attention().count().into()),
            ("counts", counts.into()),
            ("rpcs", t.rpcs.into()),
            ("entries", serde_json::Value::Null),
        ];
        fields
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect()
    }
}

/// The headers of the triage table, and the column cut to fit the terminal.
const HEADERS: &[&str] = &["Bot", "Needs attention", "Fix"];
const SQUEEZE: usize = 1;

impl Output for TriageOutput {
    fn text(&self) -> String {
        let rows: Vec<Vec<String>> = self.rows().collect();
        if rows.is_empty() {
            return String::new();
        }
        fitted_table(HEADERS, rows, SQUEEZE, self.width).render()
    }

    fn json(&self) -> serde_json::Value {
        let mut doc = self.head();
        doc.insert(
            "entries".into(),
            self.triage.bots.iter().map(bot_json).collect(),
        );
        doc.into()
    }

    fn prometheus(&self) -> Option<String> {
        let mut out = Vec::new();
        render_metrics(&mut out, &self.triage, None).ok()?;
        String::from_utf8(out).ok()
    }

    fn write_to(&self, format: Format, out: &mut dyn Write) -> Result<(), WriteError> {
        let doc = Streamed {
            head: self.head(),
            bots: &self.triage.bots,
        };
        match format {
            Format::Text => self.write_table(out)?,
            Format::Json => write_json(out, &doc)?,
            Format::Yaml => serde_yaml_ng::to_writer(out, &doc)
                .map_err(|e| std::io::Error::other(e.to_string()))?,
            Format::Prometheus => render_metrics(out, &self.triage, None)?,
        }
        Ok(())
    }
}

/// The JSON document as `json` builds it, its entries made one by one as they are written.
struct Streamed<'t> {
    head: serde_json::Map<String, serde_json::Value>,
    bots: &'t [BotReport],
}

impl Serialize for Streamed<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.head.len()))?;
        // The fields in the order the whole Value has them, the entries in their place.
        for (key, value) in &self.head {
            if key == "entries" {
                map.serialize_entry(key, &Items(self.bots, bot_json))?;
            } else {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

fn time(t: SystemTime) -> String {
    format_timestamp(&prost_types::Timestamp::from(t))
}

fn bot_json(b: &BotReport) -> serde_json::Value {
    serde_json::json!({
        "bot": b.bot,
        "reasons": b.reasons.iter().map(|r| r.json(&b.bot)).collect::<Vec<_>>(),
        "locks": b.locks,
        "instances": b.instances,
        "live_instances": b.live_instances,
        "recoveries_remaining": b.recoveries_remaining,
        "identity_expires_at": b.identity_expires.map(time),
        "heartbeat_at": b.heartbeat_at.map(time),
        "unhealthy_services": b.unhealthy_services,
    })
}

pub async fn run(ctx: &Context, args: TriageArgs) -> Result<ExitStatus, CommandError> {
    let switched = crate::recover::insecure::switched(&ctx.home()?.state_dir());
    let client = ctx.client().await?;
    let triage = triage(client, SystemTime::now(), args.limits(), &switched).await?;
    let attention = triage.needing_attention().count();
    let total = triage.bots.len();
    let rpcs = triage.rpcs;
    ctx.printer().print(&TriageOutput {
        triage,
        width: terminal_width(&console::Term::stdout()),
    })?;
    if ctx.printer().format() == Format::Text {
        ctx.printer().status(match (attention, total) {
            (_, 0) => "No bots found".to_owned(),
            (0, _) => format!("No bot needs attention ({total} checked, {rpcs} RPCs)"),
            _ => format!("{attention} of {total} bots need attention ({rpcs} RPCs)"),
        });
    }
    Ok(if attention == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::triage::{InstanceRef, Reason};
    use crate::output::{json_text, yaml_document};

    fn instance(id: &str) -> InstanceRef {
        InstanceRef {
            id: id.into(),
            host: "host \"1\"".into(),
        }
    }

    fn report(bot: &str, reasons: Vec<Reason>) -> BotReport {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        BotReport {
            bot: bot.into(),
            reasons,
            locks: 0,
            instances: 3,
            live_instances: 1,
            recoveries_remaining: Some(1),
            identity_expires: Some(now + Duration::from_millis(1500)),
            heartbeat_at: Some(now - Duration::from_secs(90)),
            unhealthy_services: 2,
        }
    }

    /// Several bots, several reasons each, names a table or a document must escape, and a fine
    /// bot last.
    fn output(width: Option<usize>) -> TriageOutput {
        let bots = vec![
            report(
                "spent",
                vec![
                    Reason::TokenSpent {
                        instances: 2,
                        exhausted: Some("bk-token".into()),
                    },
                    Reason::MissingRoles {
                        roles: vec!["gone".into(), "also-gone".into()],
                    },
                ],
            ),
            report(
                "ünï \"quoted\"\nbot",
                vec![
                    Reason::NoLiveInstance {
                        instances: 0,
                        tokens: 1,
                    },
                    Reason::Recoveries {
                        token: "t".into(),
                        left: 1,
                        limit: 3,
                    },
                    Reason::StaticKeyRotation {
                        token: "static".into(),
                    },
                ],
            ),
            report(
                "sick",
                vec![
                    Reason::IdentityExpiring {
                        instance: instance("i-1"),
                        expires_in: Duration::from_secs(300),
                    },
                    Reason::UnhealthyServices {
                        instance: instance("i-2"),
                        services: vec![("identity".into(), "cannot write: x".repeat(20))],
                        more: 1,
                    },
                    Reason::StaleHeartbeat {
                        instance: instance("i-3"),
                        age: None,
                    },
                    Reason::AgentTooOld {
                        instance: instance("i-4"),
                        version: "16.0.0".into(),
                        cluster_version: "18.1.0".into(),
                    },
                ],
            ),
            report("fine", vec![]),
        ];
        TriageOutput {
            triage: Triage {
                cluster: "lab".into(),
                server_version: "18.1.0".into(),
                checked_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
                bots,
                rpcs: 7,
            },
            width,
        }
    }

    fn written(out: &TriageOutput, format: Format) -> String {
        let mut bytes = Vec::new();
        out.write_to(format, &mut bytes).unwrap();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn streamed_json_is_byte_for_byte_the_whole_document() {
        let out = output(None);
        let streamed = written(&out, Format::Json);
        assert_eq!(streamed, json_text(&out.json()));
        assert!(streamed.contains("\"entries\": [\n    {\n      \"bot\": \"spent\""));
        let empty = TriageOutput {
            triage: Triage {
                bots: vec![],
                ..output(None).triage
            },
            width: None,
        };
        assert_eq!(written(&empty, Format::Json), json_text(&empty.json()));
        assert!(written(&empty, Format::Json).contains("\"entries\": [],"));
    }

    #[test]
    fn streamed_yaml_is_byte_for_byte_the_whole_document() {
        let out = output(None);
        assert_eq!(written(&out, Format::Yaml), yaml_document(&out.json()));
    }

    #[test]
    fn streamed_table_is_the_fitted_table_at_every_width() {
        for width in [None, Some(200), Some(80), Some(30)] {
            let out = output(width);
            let streamed = written(&out, Format::Text);
            assert_eq!(streamed, out.text(), "width {width:?}");
            assert_eq!(streamed.lines().count(), 2 + 9, "{streamed}");
        }
        let fine = TriageOutput {
            triage: Triage {
                bots: vec![report("fine", vec![])],
                ..output(None).triage
            },
            width: None,
        };
        assert_eq!(written(&fine, Format::Text), "");
    }

    #[test]
    fn streamed_metrics_are_the_whole_exposition() {
        let out = output(None);
        let streamed = written(&out, Format::Prometheus);
        assert_eq!(Some(streamed.clone()), out.prometheus());
        assert!(streamed.contains("mwictl_bot_needs_attention{cluster=\"lab\",bot=\"spent\"} 1"));
    }
}
