//! [`Schedule`]: when a deferred message is tried again, and when it is given up on.

use std::time::Duration;

/// Retry timing. The defaults are Postfix's: the wait doubles from 5 minutes up to 1 hour
/// (`minimal_backoff_time`, `maximal_backoff_time`) and a message is given up on 5 days after it
/// was queued (`maximal_queue_lifetime`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// The wait after the first failed attempt.
    pub min_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// How long after queueing a message is given up on.
    pub lifetime: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            min_backoff: Duration::from_secs(300),
            max_backoff: Duration::from_secs(3600),
            lifetime: Duration::from_secs(5 * 24 * 3600),
        }
    }
}

impl Schedule {
    /// The wait before attempt `attempts + 1`, after `attempts` failed ones (at least 1).
    pub fn backoff(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        self.min_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
            .max(self.min_backoff.min(self.max_backoff))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let s = Schedule::default();
        let mins: Vec<u64> = (1..=6).map(|n| s.backoff(n).as_secs() / 60).collect();
        assert_eq!(mins, [5, 10, 20, 40, 60, 60]);
        assert_eq!(s.backoff(0), Duration::from_secs(300));
        assert_eq!(s.backoff(u32::MAX), Duration::from_secs(3600));
    }
}
