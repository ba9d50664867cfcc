//! The engine's bound-keypair token steps: switching and restoring a recovery mode, raising the
//! recovery limit, and waiting for recoveries. Each journals what it is about to change before
//! the write, so a run stopped anywhere restores what it switched (`recover --resume`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Engine, Progress};
use crate::error::CommandError;
use crate::ops::recovery_mode;
use crate::recover::journal::{Journal, LimitRecord, ModeRecord};
use crate::recover::step::{CountBefore, StepOutput, TokenRecovery, VerifyState};
use crate::recover::verify::POLL_EVERY;
use crate::resource::format_timestamp;

impl Engine<'_> {
    /// Sets `token`'s recovery mode to `mode`, its previous mode journaled (and saved) first. A
    /// token already in `mode` counts as switched: by this run when the journal holds its record
    /// (the run stopped after the write), else it was so before the run and nothing is recorded,
    /// so nothing is restored later.
    pub(super) async fn switch_mode(
        &self,
        journal: &mut Journal,
        token: &str,
        mode: &str,
    ) -> Result<StepOutput, CommandError> {
        let read = recovery_mode::read(self.client, token).await?;
        let current = recovery_mode::recovery(&read.value).mode;
        let open = open_switch(&journal.record.modes, token, mode);
        if recovery_mode::mode_of(&read.value) == mode {
            let previous = open.map_or(current, |i| journal.record.modes[i].previous.clone());
            return Ok(StepOutput::ModeSwitched {
                token: token.to_string(),
                previous,
                mode: mode.to_string(),
                changed: false,
            });
        }
        let record = ModeRecord {
            token: token.to_string(),
            previous: current.clone(),
            mode: mode.to_string(),
            switched_at: format_timestamp(&std::time::SystemTime::now().into()),
            restored: false,
        };
        match open {
            Some(i) => journal.record.modes[i] = record,
            None => journal.record.modes.push(record),
        }
        journal.save()?;
        recovery_mode::write(self.client, &read, |r| r.mode = mode.to_string()).await?;
        Ok(StepOutput::ModeSwitched {
            token: token.to_string(),
            previous: current,
            mode: mode.to_string(),
            changed: true,
        })
    }

    /// Raises `token`'s recovery.limit to recovery_count + `spare` when it is lower, in mode
    /// standard (the other modes ignore the limit), the old limit journaled first.
    pub(super) async fn ensure_headroom(
        &self,
        journal: &mut Journal,
        token: &str,
        spare: u32,
    ) -> Result<StepOutput, CommandError> {
        let read = recovery_mode::read(self.client, token).await?;
        let mode = recovery_mode::mode_of(&read.value);
        let count = recovery_mode::count_of(&read.value);
        let limit = recovery_mode::recovery(&read.value).limit;
        let journaled = journal.record.limits.iter().rposition(|l| l.token == token);
        let previous_limit = journaled.map_or(limit, |i| journal.record.limits[i].previous);
        let Some(want) = headroom_limit(&mode, count, limit, spare) else {
            return Ok(StepOutput::HeadroomEnsured {
                token: token.to_string(),
                mode,
                count,
                previous_limit,
                limit,
                changed: false,
            });
        };
        let record = LimitRecord {
            token: token.to_string(),
            previous: previous_limit,
            limit: want,
        };
        match journaled {
            Some(i) => journal.record.limits[i] = record,
            None => journal.record.limits.push(record),
        }
        journal.save()?;
        recovery_mode::write(self.client, &read, |r| r.limit = want).await?;
        Ok(StepOutput::HeadroomEnsured {
            token: token.to_string(),
            mode,
            count,
            previous_limit,
            limit: want,
            changed: true,
        })
    }

    /// Writes back the mode the journal recorded for `token`, if the token is still in the mode
    /// the run set; marks the record restored either way.
    pub(super) async fn restore_mode(
        &self,
        journal: &mut Journal,
        token: &str,
    ) -> Result<StepOutput, CommandError> {
        let Some(i) = journal.record.modes.iter().rposition(|m| m.token == token) else {
            return Ok(StepOutput::ModeRestored {
                token: token.to_string(),
                mode: String::new(),
                restored: false,
                detail: "this run did not switch it (it was in that mode already)".into(),
            });
        };
        let record = journal.record.modes[i].clone();
        let read = recovery_mode::read(self.client, token).await?;
        let current = recovery_mode::mode_of(&read.value);
        let (restored, detail) = match restore_decision(&record, &current) {
            Ok(()) => {
                recovery_mode::write(self.client, &read, |r| r.mode = record.previous.clone())
                    .await?;
                (true, String::new())
            }
            Err(detail) => (false, detail),
        };
        journal.record.modes[i].restored = true;
        journal.save()?;
        Ok(StepOutput::ModeRestored {
            token: token.to_string(),
            mode: if restored {
                record.previous_mode().to_string()
            } else {
                current
            },
            restored,
            detail,
        })
    }

    /// Whether `t`'s refreshing instance authenticated after the run switched its token (S10: a
    /// bot with valid certificates refreshes, which counts no recovery).
    async fn refreshed_since_switch(
        &self,
        t: &CountBefore,
        modes: &[ModeRecord],
    ) -> Result<bool, CommandError> {
        let Some(instance) = &t.refreshed_instance else {
            return Ok(false);
        };
        let Some(switched) = modes
            .iter()
            .rev()
            .find(|m| m.token == t.token)
            .and_then(|m| crate::resource::parse_timestamp(&m.switched_at).ok())
        else {
            return Ok(false);
        };
        let found = match self.client.get_bot_instance(&t.bot, instance).await {
            Ok(found) => found,
            Err(e) if e.is_not_found() => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        Ok(crate::ops::instances::latest_authentication(&found.value)
            .and_then(|a| a.authenticated_at)
            .is_some_and(|at| not_before(&at, &switched)))
    }

    /// Polls (with `--wait`) until every token's recovery_count rose above its count before;
    /// without `--wait` it looks once. A progress bar over the tokens on a terminal, a line per
    /// recovered bot otherwise.
    pub(super) async fn wait_for_recovery(
        &self,
        tokens: &[CountBefore],
        modes: &[ModeRecord],
    ) -> Result<StepOutput, CommandError> {
        let deadline = self.options.wait.map(|w| Instant::now() + w);
        let bar = (self.options.progress == Progress::Spinners).then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(tokens.len() as u64),
                ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} bots")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message("waiting for the bots to recover");
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        let mut seen: HashMap<&str, u32> = HashMap::new();
        loop {
            let counts: HashMap<String, u32> = self
                .client
                .get_tokens()
                .await?
                .into_iter()
                .map(|t| {
                    (
                        recovery_mode::name_of(&t.value),
                        recovery_mode::count_of(&t.value),
                    )
                })
                .collect();
            let mut status = Vec::new();
            for t in tokens {
                let Some(&count) = counts.get(&t.token) else {
                    if let Some(bar) = &bar {
                        bar.abandon();
                    }
                    return Err(CommandError::failure(format!(
                        "token {} is gone while waiting for bot {:?} to recover",
                        t.token, t.bot
                    ))
                    .hint("recreate it (`mwictl recover bk-token-wiped`), then resume"));
                };
                let recovered =
                    count_rose(t, count) || self.refreshed_since_switch(t, modes).await?;
                if recovered && seen.insert(t.token.as_str(), count).is_none() {
                    let line = format!(
                        "bot {:?} recovered (token {} recovery_count {} -> {count})",
                        t.bot, t.token, t.count_before
                    );
                    match &bar {
                        Some(bar) => {
                            bar.inc(1);
                            bar.println(line);
                        }
                        None if self.options.progress == Progress::Steps => {
                            self.printer.status(line)
                        }
                        None => {}
                    }
                }
                status.push(TokenRecovery {
                    token: t.token.clone(),
                    bot: t.bot.clone(),
                    count_before: t.count_before,
                    count,
                    recovered,
                });
            }
            let done = status.iter().all(|s| s.recovered);
            let out_of_time = out_of_time(deadline, Instant::now());
            if done || out_of_time {
                if let Some(bar) = bar {
                    bar.finish_and_clear();
                }
                let state = match (done, deadline) {
                    (true, _) => VerifyState::Verified,
                    (false, None) => VerifyState::Pending,
                    (false, Some(_)) => VerifyState::TimedOut,
                };
                return Ok(StepOutput::RecoveryAwaited {
                    state,
                    tokens: status,
                });
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }
}

/// The journal's unrestored record of this run switching `token` to `mode`, if any.
fn open_switch(modes: &[ModeRecord], token: &str, mode: &str) -> Option<usize> {
    modes
        .iter()
        .position(|m| m.token == token && m.mode == mode && !m.restored)
}

/// The limit that leaves `spare` recoveries after `count`, when the token needs it raised: only
/// mode standard counts recoveries against the limit.
fn headroom_limit(mode: &str, count: u32, limit: u32, spare: u32) -> Option<u32> {
    let want = count.saturating_add(spare);
    (mode == "standard" && limit < want).then_some(want)
}

/// Whether restoring `record` writes its previous mode back (`Ok`), else why the token is left
/// alone: restored already, back in its previous mode, or changed by someone since the run.
fn restore_decision(record: &ModeRecord, current: &str) -> Result<(), String> {
    if record.restored {
        Err(format!("restored already; it is in mode {current}"))
    } else if current == record.mode {
        Ok(())
    } else if current == record.previous_mode() {
        Err(format!("back in mode {current} already"))
    } else {
        Err(format!(
            "it is in mode {current} now, not the {} this run set: someone changed it since, so it is left alone",
            record.mode
        ))
    }
}

/// Whether `at` is `since` or later (an authentication at the switch's instant counts).
fn not_before(at: &prost_types::Timestamp, since: &prost_types::Timestamp) -> bool {
    (at.seconds, at.nanos) >= (since.seconds, since.nanos)
}

/// Whether `t`'s token counted a recovery since the run looked: its count rose.
fn count_rose(t: &CountBefore, count: u32) -> bool {
    count > t.count_before
}

/// Whether the wait ends now: without `--wait` after one look, else when another poll would pass
/// the deadline.
fn out_of_time(deadline: Option<Instant>, now: Instant) -> bool {
    deadline.is_none_or(|d| now + POLL_EVERY > d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(token: &str, previous: &str, mode: &str, restored: bool) -> ModeRecord {
        ModeRecord {
            token: token.into(),
            previous: previous.into(),
            mode: mode.into(),
            switched_at: String::new(),
            restored,
        }
    }

    #[test]
    fn a_switch_resumes_only_its_own_unrestored_record() {
        let modes = [
            record("t1", "standard", "insecure", true),
            record("t2", "standard", "insecure", false),
            record("t1", "standard", "relaxed", false),
            record("t1", "relaxed", "insecure", false),
        ];
        assert_eq!(open_switch(&modes, "t1", "insecure"), Some(3));
        assert_eq!(open_switch(&modes, "t1", "relaxed"), Some(2));
        assert_eq!(open_switch(&modes, "t3", "insecure"), None);
        assert_eq!(open_switch(&modes[..1], "t1", "insecure"), None);
    }

    #[test]
    fn headroom_is_raised_to_count_plus_spare_only_in_mode_standard() {
        assert_eq!(headroom_limit("standard", 3, 3, 1), Some(4));
        assert_eq!(headroom_limit("standard", 3, 2, 2), Some(5));
        assert_eq!(headroom_limit("standard", 3, 4, 1), None, "enough already");
        assert_eq!(headroom_limit("standard", 3, 5, 1), None);
        assert_eq!(headroom_limit("relaxed", 3, 0, 1), None);
        assert_eq!(headroom_limit("insecure", 3, 0, 1), None);
        assert_eq!(headroom_limit("standard", u32::MAX, 0, 1), Some(u32::MAX));
    }

    #[test]
    fn a_mode_is_restored_only_while_the_token_is_in_the_mode_the_run_set() {
        let open = record("t1", "", "insecure", false);
        assert_eq!(restore_decision(&open, "insecure"), Ok(()));
        assert_eq!(
            restore_decision(&open, "standard"),
            Err("back in mode standard already".into())
        );
        let changed = restore_decision(&open, "relaxed").unwrap_err();
        assert!(changed.contains("someone changed it since"), "{changed}");
        assert_eq!(
            restore_decision(&record("t1", "relaxed", "insecure", true), "insecure"),
            Err("restored already; it is in mode insecure".into())
        );
    }

    #[test]
    fn an_authentication_at_or_after_the_switch_counts_and_a_rise_in_count_is_a_recovery() {
        let ts = |seconds, nanos| prost_types::Timestamp { seconds, nanos };
        assert!(not_before(&ts(10, 5), &ts(10, 5)));
        assert!(not_before(&ts(10, 6), &ts(10, 5)));
        assert!(not_before(&ts(11, 0), &ts(10, 5)));
        assert!(!not_before(&ts(10, 4), &ts(10, 5)));
        assert!(!not_before(&ts(9, 9), &ts(10, 5)));
        let t = CountBefore {
            token: "t1".into(),
            bot: "b".into(),
            count_before: 2,
            refreshed_instance: None,
        };
        assert!(count_rose(&t, 3));
        assert!(!count_rose(&t, 2));
        assert!(!count_rose(&t, 1));
    }

    #[test]
    fn without_wait_one_look_ends_it_and_with_wait_the_deadline_does() {
        let now = Instant::now();
        assert!(out_of_time(None, now));
        assert!(!out_of_time(Some(now + POLL_EVERY * 2), now));
        assert!(out_of_time(Some(now + POLL_EVERY / 2), now));
        assert!(
            !out_of_time(Some(now + POLL_EVERY), now),
            "one more poll fits"
        );
    }
}
