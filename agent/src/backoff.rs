//! How long to wait between renewal attempts: tbot's doubling backoff (1s, 2s, 4s, ...) with
//! half jitter and a cap, and the number of attempts after which the agent gives up.

use std::time::Duration;

/// tbot tries a renewal round this many times before it exits.
pub const MAX_ATTEMPTS: u32 = 7;

/// The longest wait is this many times the base (32s for the default 1s base).
const CAP_FACTOR: u32 = 32;

/// The wait schedule between failed attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
}

impl Backoff {
    pub fn new(base: Duration) -> Backoff {
        Backoff { base }
    }

    /// The un-jittered wait after failed attempt `attempt` (1-based): base·2^(attempt-1), capped.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(CAP_FACTOR);
        self.base.saturating_mul(factor)
    }

    /// The wait after failed attempt `attempt`, drawn from [ceiling/2, ceiling] so that agents
    /// restarted together do not retry in lockstep.
    pub fn delay(&self, attempt: u32, rng: &mut impl rand::Rng) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        let spread = u64::try_from((ceiling - half).as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(rng.gen_range(0..=spread))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_from_the_base_and_is_capped() {
        let backoff = Backoff::new(Duration::from_secs(1));
        let seconds: Vec<u64> = (1..=8).map(|a| backoff.ceiling(a).as_secs()).collect();
        assert_eq!(seconds, vec![1, 2, 4, 8, 16, 32, 32, 32]);
        assert_eq!(backoff.ceiling(200), Duration::from_secs(32));
    }

    #[test]
    fn jittered_delay_stays_between_half_and_the_ceiling() {
        let backoff = Backoff::new(Duration::from_millis(100));
        let mut rng = rand::thread_rng();
        for attempt in 1..=MAX_ATTEMPTS {
            for _ in 0..50 {
                let delay = backoff.delay(attempt, &mut rng);
                let ceiling = backoff.ceiling(attempt);
                assert!(
                    delay >= ceiling / 2 && delay <= ceiling,
                    "{delay:?} vs {ceiling:?}"
                );
            }
        }
    }

    #[test]
    fn a_zero_base_never_waits() {
        let backoff = Backoff::new(Duration::ZERO);
        assert_eq!(backoff.delay(3, &mut rand::thread_rng()), Duration::ZERO);
    }
}
