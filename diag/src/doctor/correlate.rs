//! Collecting signals as the scan goes (bounded, whatever the input size) and grouping them into
//! findings: lines about one incident and one bot become one finding.

use super::advice;
use super::line::{self, LineFormat};
use super::signal::{self, Signal};
use super::{Confidence, Evidence, Finding, Incident, Other, Source};
use crate::incident::Incident as Product;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder};
use memchr::memmem;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::LazyLock;

/// Distinct lines kept per signal kind and key (bot, database, ...); further ones are counted.
const MAX_LINES_PER_KEY: u32 = 8;
/// Distinct keys kept per signal kind, so a flood of one kind cannot crowd out the others.
const MAX_KEYS_PER_KIND: u32 = 64;
/// Destinations whose latest impersonated renewal is remembered.
const MAX_DESTINATIONS: usize = 64;
/// Evidence text is cut here (bytes, at a character boundary).
const MAX_TEXT: usize = 1024;
/// Line numbers listed for repeats of one message.
const MAX_ALSO_AT: usize = 8;
/// Evidence lines listed per finding.
const MAX_EVIDENCE: usize = 24;

pub(crate) struct Event {
    pub source: usize,
    pub line: u64,
    pub signal: Signal,
    pub text: String,
    pub message: Option<String>,
    pub format: LineFormat,
    pub also_at: Vec<u64>,
    pub repeats: u64,
    /// Similar lines (same kind and key, other message) beyond the kept ones.
    pub unlisted: u64,
    /// The latest line before this one, in the same source, that named a bot.
    context: Option<(u64, String)>,
}

/// Whether the input shows tbot at work anywhere, for incidents only a bot has (S3): a person's
/// `ssh` or `tsh` refused with `unable to authenticate` looks the same as a bot's output.
/// Looked for in the raw bytes as they stream past, until found once: tbot's components and
/// callers (`[TBOT]`, `tbot/renew.go`, `tbot[PID]:`, the word tbot), its impersonated certificates,
/// its ssh-multiplexer, the `ssh_config` of its identity output, and bot users (`"bot-NAME"`,
/// `[bot-NAME]`, `=bot-NAME`).
#[derive(Debug, Default)]
pub(crate) struct TbotContext {
    seen: bool,
}

static TBOT_MARKERS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .build([
            "tbot",
            "impersonated cert",
            "ssh-multiplexer",
            "/ssh_config",
        ])
        .expect("the tbot markers are a valid pattern set")
});
static BOT_USER: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new("bot-"));

impl TbotContext {
    /// Looks at one piece of the input (until tbot has been seen).
    pub(crate) fn look(&mut self, bytes: &[u8]) {
        if self.seen {
            return;
        }
        // `tbot` as a word of its own: `certbot` and `gotbot` are not tbot.
        self.seen = TBOT_MARKERS.find_iter(bytes).any(|m| {
            m.pattern().as_usize() != 0
                || m.start()
                    .checked_sub(1)
                    .is_none_or(|i| !bytes[i].is_ascii_alphanumeric())
        }) || BOT_USER.find_iter(bytes).any(|at| {
            let before = at.checked_sub(1).map(|i| bytes[i]);
            let after = bytes.get(at + 4);
            matches!(before, Some(b'"' | b'[' | b'=' | b';' | b'\''))
                && after.is_some_and(u8::is_ascii_alphanumeric)
        });
    }

    /// Whether tbot was seen in what was looked at.
    pub(crate) fn seen(&self) -> bool {
        self.seen
    }
}

#[derive(Default)]
pub(crate) struct Collector {
    events: Vec<Event>,
    identical: HashMap<(u8, usize, u64), usize>,
    per_key: HashMap<(u8, String), (u32, usize)>,
    keys_per_kind: HashMap<u8, u32>,
    impersonated: BTreeMap<String, Event>,
    last_bot: Vec<Option<(u64, String)>>,
}

impl Collector {
    /// Takes one line that held a signature; `checks` says which checks its signatures call for.
    pub(crate) fn observe(&mut self, source: usize, number: u64, bytes: &[u8], checks: u32) {
        let raw = String::from_utf8_lossy(bytes);
        let parsed = line::read_line(&raw);
        let signals = signal::classify(&parsed.text, checks);
        if signals.is_empty() {
            return;
        }
        if self.last_bot.len() <= source {
            self.last_bot.resize(source + 1, None);
        }
        let context = self.last_bot[source].clone();
        let text = cut(raw.trim());
        let message = parsed.display.as_deref().map(cut);
        let mut hash = None;
        let mut named = None;
        for signal in signals {
            if let Some(bot) = signal.bot() {
                named = Some(bot.to_string());
            }
            let event = Event {
                source,
                line: number,
                signal,
                text: text.clone(),
                message: message.clone(),
                format: parsed.format,
                also_at: Vec::new(),
                repeats: 0,
                unlisted: 0,
                context: context.clone(),
            };
            if let Signal::Impersonated { destination, .. } = &event.signal {
                if self.impersonated.len() < MAX_DESTINATIONS
                    || self.impersonated.contains_key(destination)
                {
                    self.impersonated.insert(destination.clone(), event);
                }
                continue;
            }
            let hash = *hash.get_or_insert_with(|| {
                let mut hasher = DefaultHasher::new();
                parsed.dedup.hash(&mut hasher);
                hasher.finish()
            });
            self.store(event, hash);
        }
        if let Some(bot) = named {
            self.last_bot[source] = Some((number, bot));
        }
    }

    fn store(&mut self, event: Event, hash: u64) {
        let kind = event.signal.kind();
        if let Some(&index) = self.identical.get(&(kind, event.source, hash)) {
            let kept = &mut self.events[index];
            kept.repeats += 1;
            if kept.also_at.len() < MAX_ALSO_AT && kept.also_at.last() != Some(&event.line) {
                kept.also_at.push(event.line);
            }
            return;
        }
        let key = (kind, event.signal.key());
        match self.per_key.get_mut(&key) {
            Some((count, last)) if *count >= MAX_LINES_PER_KEY => {
                self.events[*last].unlisted += 1;
                return;
            }
            Some((count, last)) => {
                *count += 1;
                *last = self.events.len();
            }
            None => {
                let keys = self.keys_per_kind.entry(kind).or_default();
                if *keys >= MAX_KEYS_PER_KIND {
                    return;
                }
                *keys += 1;
                self.per_key.insert(key, (1, self.events.len()));
            }
        }
        self.identical
            .insert((kind, event.source, hash), self.events.len());
        self.events.push(event);
    }
}

fn cut(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_string();
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct GroupKey {
    incident: Incident,
    bot: Option<String>,
    detail: Option<String>,
}

struct Group {
    key: GroupKey,
    members: Vec<usize>,
}

/// Groups the collected signals into findings, ordered by their first evidence line.
/// `assumed_bot` names the bot of findings whose lines name none (`doctor --bot`); `tbot_seen`
/// says whether the raw input showed tbot (see [`TbotContext`]).
pub(crate) fn findings(
    collector: Collector,
    sources: &[Source],
    assumed_bot: Option<&str>,
    tbot_seen: bool,
) -> Vec<Finding> {
    let events = collector.events;
    let bots = resolve_bots(&events);
    // A bot incident needs a bot: tbot in the input, a line only tbot writes, or the user's word.
    let bot_context = tbot_seen
        || assumed_bot.is_some()
        || !collector.impersonated.is_empty()
        || events.iter().any(|e| e.signal.is_tbots());
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<GroupKey, usize> = HashMap::new();
    let mut add = |groups: &mut Vec<Group>, key: GroupKey, member: usize| {
        let at = *index.entry(key.clone()).or_insert_with(|| {
            groups.push(Group {
                key,
                members: Vec::new(),
            });
            groups.len() - 1
        });
        groups[at].members.push(member);
    };

    let fleet = join_state_fleet(&events);
    // A fleet's failures are one finding about no single bot.
    let rollback = || GroupKey {
        incident: Incident::Product(Product::BkRollback),
        bot: None,
        detail: None,
    };
    let mut deferred = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let bot = bots[i].clone();
        let key = |incident, detail: Option<String>| GroupKey {
            incident,
            bot: bot.clone(),
            detail,
        };
        let primary = match &event.signal {
            // A lock on a bound-keypair join token (join state or generation): S9, or S12 when
            // the fleet fails join-state checks.
            Signal::Lock {
                target: Some(target),
                ..
            } if target.starts_with("join_token: ") => Some(if fleet {
                rollback()
            } else {
                key(Incident::Product(Product::BkJoinState), None)
            }),
            Signal::BoundKeypair { refusal, .. } => {
                Some(match super::bound_keypair::incident_of(*refusal, fleet) {
                    Some(Product::BkRollback) => rollback(),
                    Some(bk) => key(Incident::Product(bk), None),
                    None => key(Incident::Other(Other::BkRotationRefused), None),
                })
            }
            Signal::JoinMethodMismatch { .. } => {
                Some(key(Incident::Other(Other::JoinMethodMismatch), None))
            }
            Signal::GenerationMismatch { .. }
            | Signal::Lock {
                generation: true, ..
            } => Some(key(Incident::Product(Product::GenerationMismatch), None)),
            Signal::Lock {
                generation: false, ..
            } => Some(key(Incident::Other(Other::BotLocked), None)),
            Signal::RbacDenied { verb, resource } => Some(key(
                Incident::Other(Other::RbacDenied),
                Some(format!("{verb} {resource}")),
            )),
            Signal::IdentityExpired | Signal::BadCertificate => {
                Some(key(Incident::Product(Product::Expired), None))
            }
            Signal::SshUnableToAuthenticate => {
                Some(key(Incident::Product(Product::SshLogin), None))
            }
            Signal::DatabaseNotFound { db } => {
                Some(key(Incident::Product(Product::DbAccess), Some(db.clone())))
            }
            Signal::ExecPluginNeedsDirectory { secret } => Some(GroupKey {
                incident: Incident::Product(Product::K8sSecret),
                bot: None,
                detail: secret.clone(),
            }),
            Signal::TunnelDialFailed { .. } => Some(GroupKey {
                incident: Incident::Product(Product::SplitDns),
                bot: None,
                detail: None,
            }),
            Signal::ProxyPingFailed | Signal::ProxyUnreachable { .. } => Some(GroupKey {
                incident: Incident::Product(Product::NoProxy),
                bot: None,
                detail: None,
            }),
            Signal::TokenInvalid => Some(key(Incident::Other(Other::JoinTokenInvalid), None)),
            Signal::AlreadyIssued { .. } => Some(key(Incident::Other(Other::LegacyReissue), None)),
            Signal::MissingIdentityGroups => {
                Some(key(Incident::Other(Other::MissingIdentityGroups), None))
            }
            Signal::AccessDenied
            | Signal::OnboardingIgnored
            | Signal::BotIdentityLoaded { .. }
            | Signal::SshLogin { .. }
            | Signal::IpSans { .. }
            | Signal::RetriesExhausted
            | Signal::Impersonated { .. } => None,
        };
        match primary {
            Some(key) => add(&mut groups, key, i),
            None => deferred.push(i),
        }
    }

    absorb_expiry(&mut groups, &events);
    let primaries = groups.len();
    for i in deferred {
        let event = &events[i];
        let bot = bots[i].clone();
        let is = |incidents: &'static [Incident]| {
            move |group: &Group| incidents.contains(&group.key.incident)
        };
        let target = match &event.signal {
            // The first kind, in this order, with a finding near the denial explains it;
            // bound-keypair refusals are access denials themselves.
            Signal::AccessDenied => [
                &[Incident::Product(Product::GenerationMismatch)][..],
                &[Incident::Other(Other::BotLocked)],
                &[
                    Incident::Product(Product::BkExhausted),
                    Incident::Product(Product::BkJoinState),
                    Incident::Product(Product::BkTokenWiped),
                    Incident::Product(Product::BkKeypairLost),
                    Incident::Product(Product::BkRollback),
                ],
            ]
            .into_iter()
            .find_map(|kinds| nearest(&groups, &events, event, false, &bots[i], is(kinds)))
            .ok_or(Some((Incident::Other(Other::AccessDenied), None))),
            // Context lines only explain a finding from the same log.
            Signal::OnboardingIgnored | Signal::BotIdentityLoaded { .. } => nearest(
                &groups,
                &events,
                event,
                false,
                &bots[i],
                is(&[Incident::Product(Product::Expired)]),
            )
            .filter(|&g| shares_source(&groups[g], &events, event.source))
            .ok_or(None),
            Signal::SshLogin { .. } => nearest(
                &groups,
                &events,
                event,
                false,
                &bots[i],
                is(&[Incident::Product(Product::SshLogin)]),
            )
            .filter(|&g| shares_source(&groups[g], &events, event.source))
            .ok_or(None),
            Signal::IpSans { host } => nearest(
                &groups,
                &events,
                event,
                false,
                &None,
                is(&[
                    Incident::Product(Product::GenerationMismatch),
                    Incident::Product(Product::Expired),
                ]),
            )
            .filter(|&g| shares_source(&groups[g], &events, event.source))
            .ok_or(Some((Incident::Other(Other::CertIpSans), host.clone()))),
            Signal::RetriesExhausted => {
                nearest(&groups, &events, event, true, &None, |g: &Group| {
                    g.key.incident != Incident::Other(Other::CertIpSans)
                })
                .filter(|&g| g < primaries && shares_source(&groups[g], &events, event.source))
                .ok_or(Some((Incident::Other(Other::RenewalGaveUp), None)))
            }
            _ => Err(None),
        };
        match target {
            Ok(group) => groups[group].members.push(i),
            Err(Some((incident, detail))) => add(
                &mut groups,
                GroupKey {
                    incident,
                    bot: if incident == Incident::Other(Other::CertIpSans) {
                        None
                    } else {
                        bot
                    },
                    detail,
                },
                i,
            ),
            Err(None) => {}
        }
    }

    let mut out: Vec<(usize, u64, Finding)> = groups
        .into_iter()
        .filter(|group| !group.members.is_empty())
        .map(|group| {
            let mut members = group.members;
            members.sort_by_key(|&m| (events[m].source, events[m].line));
            let first = members
                .first()
                .map_or((usize::MAX, 0), |&m| (events[m].source, events[m].line));
            let signals: Vec<&Signal> = members.iter().map(|&m| &events[m].signal).collect();
            let mut context: Vec<&Event> = Vec::new();
            if group.key.incident == Incident::Product(Product::SshLogin) {
                context.extend(collector.impersonated.values().take(4));
            }
            let named = group.key.bot.is_some();
            let (bot, note) = match (group.key.bot, assumed_bot) {
                (None, Some(assumed)) => (Some(assumed.to_string()), None),
                (Some(named), Some(assumed)) if named != assumed => {
                    let note = format!(
                        "these lines name bot {named}, not {assumed} (--bot); the fix is for {named}"
                    );
                    (Some(named), Some(note))
                }
                (named, _) => (named, None),
            };
            let advice = advice::advise(
                group.key.incident,
                bot.as_deref(),
                group.key.detail.as_deref(),
                &signals,
                &context.iter().map(|e| &e.signal).collect::<Vec<_>>(),
            );
            let mut evidence: Vec<Evidence> = Vec::new();
            let mut occurrences = 0;
            let mut listed: Vec<&Event> = members.iter().map(|&m| &events[m]).collect();
            listed.extend(context.iter().copied());
            listed.sort_by_key(|e| (e.source, e.line));
            let mut previous = None;
            for event in listed {
                // One line can carry several signals of one finding; list it once.
                if previous == Some((event.source, event.line)) {
                    continue;
                }
                previous = Some((event.source, event.line));
                occurrences += 1 + event.repeats + event.unlisted;
                if evidence.len() < MAX_EVIDENCE {
                    evidence.push(Evidence {
                        source: sources_name(sources, event.source),
                        line: event.line,
                        text: event.text.clone(),
                        message: event.message.clone(),
                        format: event.format,
                        also_at: event.also_at.clone(),
                        repeats: event.repeats,
                    });
                }
            }
            let (confidence, note) = match group.key.incident {
                Incident::Product(Product::SshLogin) if !bot_context && !named => {
                    (Confidence::Low, Some(NO_TBOT_CONTEXT.to_string()))
                }
                _ => (Confidence::High, note),
            };
            let finding = Finding {
                incident: group.key.incident,
                title: advice.title,
                confidence,
                bot,
                note,
                variant: advice.variant,
                facts: advice.facts,
                evidence,
                occurrences,
                cause: advice.cause,
                fix: advice.fix,
                live_check: advice.live_check,
                live: None,
            };
            (first.0, first.1, finding)
        })
        .collect();
    out.sort_by_key(|(source, line, finding)| (*source, *line, finding.incident));
    out.into_iter().map(|(_, _, finding)| finding).collect()
}

/// A bound-keypair bot recovers on its own when its identity expired, so tbot's expiry lines
/// in a log that shows a bound-keypair refusal are that refusal's context, not S2 (whose fix, a
/// new one-time token, does not apply): they move to the bound-keypair finding of their source,
/// preferring one about the same bot. The emptied group stays (group indices are kept) and
/// makes no finding.
fn absorb_expiry(groups: &mut [Group], events: &[Event]) {
    let bound_keypair = |g: &Group| g.key.incident.is_bound_keypair();
    for g in 0..groups.len() {
        if groups[g].key.incident != Incident::Product(Product::Expired) {
            continue;
        }
        let Some(&first) = groups[g].members.first() else {
            continue;
        };
        let source = events[first].source;
        let candidates: Vec<usize> = (0..groups.len())
            .filter(|&h| bound_keypair(&groups[h]) && shares_source(&groups[h], events, source))
            .collect();
        let target = candidates
            .iter()
            .copied()
            .find(|&h| groups[h].key.bot == groups[g].key.bot)
            .or_else(|| candidates.first().copied());
        if let Some(h) = target {
            let members = std::mem::take(&mut groups[g].members);
            groups[h].members.extend(members);
        }
    }
}

/// Whether the join-state failures in the input come from several bots (by the token or bot each
/// line names itself, or the join tokens locked after them: tbot's own refusal line names
/// neither): a fleet failing at once is a backend rollback (S12), not one bot (S9).
fn join_state_fleet(events: &[Event]) -> bool {
    let mut who: Vec<&str> = Vec::new();
    let mut failed = false;
    for event in events {
        let name = match &event.signal {
            Signal::BoundKeypair {
                refusal,
                token,
                bot,
                ..
            } if refusal.is_join_state() => {
                failed = true;
                token.as_deref().or(bot.as_deref())
            }
            Signal::Lock {
                target: Some(target),
                ..
            } => target.strip_prefix("join_token: "),
            _ => None,
        };
        if let Some(name) = name.filter(|n| !who.contains(n)) {
            who.push(name);
        }
    }
    failed && who.len() > 1
}

/// The note of an S3 finding in input without tbot in it.
const NO_TBOT_CONTEXT: &str = "Nothing in the input shows tbot (no tbot log line \
     such as [TBOT] or tbot/..., no bot user bot-NAME, no impersonated certificates, no \
     ssh-multiplexer or ssh_config of tbot's identity output). S3 is about a bot: if a person's \
     ssh or tsh was refused, their own roles lack the login (see `tsh status`). If it is a bot's, \
     add tbot's log or pass --bot NAME.";

fn sources_name(sources: &[Source], index: usize) -> String {
    sources
        .get(index)
        .map_or_else(|| format!("source {index}"), |s| s.name.clone())
}

fn shares_source(group: &Group, events: &[Event], source: usize) -> bool {
    group.members.iter().any(|&m| events[m].source == source)
}

/// The group matching `wanted` with a member closest to `event` in the same source (only
/// members before it when `preceding`), preferring one about the same bot; else the first match.
fn nearest(
    groups: &[Group],
    events: &[Event],
    event: &Event,
    preceding: bool,
    bot: &Option<String>,
    wanted: impl Fn(&Group) -> bool,
) -> Option<usize> {
    let candidates: Vec<usize> = (0..groups.len()).filter(|&g| wanted(&groups[g])).collect();
    let same_bot: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&g| bot.is_some() && groups[g].key.bot == *bot)
        .collect();
    let pool = if same_bot.is_empty() {
        candidates
    } else {
        same_bot
    };
    let distance = |g: usize| {
        groups[g]
            .members
            .iter()
            .map(|&m| &events[m])
            .filter(|m| m.source == event.source && (!preceding || m.line <= event.line))
            .map(|m| m.line.abs_diff(event.line))
            .min()
    };
    pool.iter()
        .copied()
        .filter_map(|g| distance(g).map(|d| (d, g)))
        .min()
        .map(|(_, g)| g)
        .or_else(|| {
            if preceding {
                None
            } else {
                pool.first().copied()
            }
        })
}

/// The bot each event is about: the one its line names, else the nearest naming line in the same
/// source (before or after), else the only bot any line names.
fn resolve_bots(events: &[Event]) -> Vec<Option<String>> {
    let mut named: BTreeMap<usize, Vec<(u64, &str)>> = BTreeMap::new();
    let mut all: Vec<&str> = Vec::new();
    for event in events {
        if let Some(bot) = event.signal.bot() {
            named
                .entry(event.source)
                .or_default()
                .push((event.line, bot));
            if !all.contains(&bot) {
                all.push(bot);
            }
        }
    }
    let only = (all.len() == 1).then(|| all[0].to_string());
    events
        .iter()
        .map(|event| {
            if let Some(bot) = event.signal.bot() {
                return Some(bot.to_string());
            }
            let before = event
                .context
                .as_ref()
                .map(|(line, bot)| (event.line.abs_diff(*line), bot.clone()));
            let after = named.get(&event.source).and_then(|list| {
                let at = list.partition_point(|(line, _)| *line <= event.line);
                list.get(at)
                    .map(|(line, bot)| (line.abs_diff(event.line), bot.to_string()))
            });
            let nearest = match (before, after) {
                (Some(b), Some(a)) => Some(if a.0 < b.0 { a.1 } else { b.1 }),
                (Some(b), None) => Some(b.1),
                (None, Some(a)) => Some(a.1),
                (None, None) => None,
            };
            nearest.or_else(|| only.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{Event, TbotContext, join_state_fleet};
    use crate::doctor::signal::{BkRefusal, Signal};

    fn seen(text: &str) -> bool {
        let mut context = TbotContext::default();
        context.look(text.as_bytes());
        context.seen()
    }

    #[test]
    fn tbot_shows_in_its_components_users_and_outputs() {
        for text in [
            "INFO [TBOT]      Starting tbot/renew.go:446",
            "2025-01-01T00:00:00Z INFO [TBOT:IDENTITY] Renewed",
            "Jan 21 18:11:16 host1 tbot[812]: started",
            r#"{"component":"tbot:ssh-multiplexer","msg":"x"}"#,
            r#"lock targeting User:"bot-example" is in force"#,
            "roles=[bot-infra-edge]",
            "User:&#34;bot-example&#34;",
            "$ ssh -F /opt/machine-id/ssh_config bob@node",
            "Successfully renewed impersonated certificates for directory /out",
        ] {
            assert!(seen(text), "{text}");
        }
    }

    #[test]
    fn a_persons_ssh_or_tsh_shows_no_tbot() {
        for text in [
            "$ tsh ssh root@node\nERROR: ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain",
            "2021/09/15 03:33:35 ssh: handshake failed: ssh: unable to authenticate",
            "a robot-arm and a bot-like script, user bot- and x=bot-",
            "ssh -F ~/.ssh/config alice@host",
            "certbot renew: ssh: unable to authenticate",
        ] {
            assert!(!seen(text), "{text}");
        }
    }

    fn join_state(token: Option<&str>, bot: Option<&str>, refusal: BkRefusal) -> Event {
        Event {
            source: 0,
            line: 1,
            signal: Signal::BoundKeypair {
                refusal,
                token: token.map(str::to_string),
                bot: bot.map(str::to_string),
            },
            text: String::new(),
            message: None,
            format: crate::doctor::LineFormat::Text,
            also_at: Vec::new(),
            repeats: 0,
            unlisted: 0,
            context: None,
        }
    }

    #[test]
    fn a_fleet_is_two_tokens_or_bots_failing_join_state_checks() {
        use BkRefusal::*;
        let fleet = |events: &[Event]| join_state_fleet(events);
        assert!(!fleet(&[]));
        assert!(!fleet(&[join_state(Some("a"), None, JoinStateFailed)]));
        assert!(!fleet(&[
            join_state(Some("a"), None, JoinStateFailed),
            join_state(Some("a"), None, JoinStateMissing),
        ]));
        assert!(fleet(&[
            join_state(Some("a"), None, JoinStateFailed),
            join_state(Some("b"), None, JoinStateMissing),
        ]));
        assert!(fleet(&[
            join_state(None, Some("web"), JoinStateFailed),
            join_state(None, Some("db"), JoinStateFailed),
        ]));
        // tbot's refusals name nobody; the join tokens locked after them tell the bots apart.
        let locked = |token: &str| Event {
            signal: Signal::Lock {
                bot: None,
                target: Some(format!("join_token: {token}")),
                generation: false,
            },
            ..join_state(None, None, JoinStateFailed)
        };
        assert!(fleet(&[
            join_state(None, None, JoinStateFailed),
            locked("a"),
            locked("b"),
        ]));
        assert!(!fleet(&[
            join_state(None, None, JoinStateFailed),
            locked("a")
        ]));
        assert!(
            !fleet(&[locked("a"), locked("b")]),
            "locks alone are no join-state failure"
        );
        // Other refusals of other tokens, and lines naming nobody, do not make a fleet.
        assert!(!fleet(&[
            join_state(Some("a"), None, JoinStateFailed),
            join_state(Some("b"), None, NoRejoins),
            join_state(None, None, JoinStateFailed),
        ]));
    }

    #[test]
    fn once_seen_it_stays_seen() {
        let mut context = TbotContext::default();
        context.look(b"INFO [TBOT] x");
        context.look(b"plain");
        assert!(context.seen());
    }
}
