//! What one client, and all of them together, may take from a sink: connections, time and
//! memory. A sink that runs for days must survive clients that are slow on purpose, that open
//! too many connections, or that send huge messages, and must not spin when the process runs
//! out of file descriptors.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The limits a sink enforces; each has a [`SinkBuilder`](crate::SinkBuilder) setter and a
/// `squall sink` flag.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    /// Connections served at once; more are answered `421 4.7.0` and closed.
    pub(crate) max_connections: usize,
    /// From the previous reply until a complete command line is in, whatever trickles in
    /// meanwhile: a slow client cannot reset it byte by byte.
    pub(crate) command_timeout: Duration,
    /// From `MAIL` until the content is complete.
    pub(crate) transaction_timeout: Duration,
    /// Bytes of message content held in memory by all connections together; past it, content
    /// goes to disk.
    pub(crate) memory: usize,
    /// Content of one message past this size goes to disk.
    pub(crate) spool_threshold: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 500,
            command_timeout: Duration::from_secs(5 * 60),
            // RFC 5321 §4.5.3.2.6 allows 10 minutes after the content; a 64 MiB message at a few
            // Mbit/s needs minutes, so the whole transaction gets 10 minutes.
            transaction_timeout: Duration::from_secs(10 * 60),
            memory: 64 * 1024 * 1024,
            spool_threshold: 1024 * 1024,
        }
    }
}

/// Counts connections against the cap.
#[derive(Debug)]
pub(crate) struct Slots {
    max: usize,
    active: AtomicUsize,
}

/// One connection's place under the cap, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot(Arc<Slots>);

impl Slots {
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            active: AtomicUsize::new(0),
        })
    }

    /// A slot, or `None` when `max` connections are open.
    pub(crate) fn try_acquire(self: &Arc<Self>) -> Option<Slot> {
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(self.clone()))
    }

    /// Connections open now.
    pub(crate) fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Bytes of message content in memory, across connections, against a cap.
#[derive(Debug)]
pub(crate) struct MemoryBudget {
    limit: usize,
    used: AtomicUsize,
}

impl MemoryBudget {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    /// Bytes held now.
    pub(crate) fn in_use(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    fn try_take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    fn give_back(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// Part of the budget held by one message, given back when dropped.
#[derive(Debug)]
pub(crate) struct Reservation {
    budget: Arc<MemoryBudget>,
    held: usize,
    /// The budget is taken in multiples of this.
    step: usize,
}

/// Content takes the budget in steps of this size (one read's worth), so that most pushes
/// touch no shared counter.
const STEP: usize = 16 * 1024;

impl Reservation {
    /// For content, which grows a read at a time.
    pub(crate) fn new(budget: &Arc<MemoryBudget>) -> Self {
        Self {
            budget: budget.clone(),
            held: 0,
            step: STEP,
        }
    }

    /// For the envelope, which grows a recipient at a time: the exact amount.
    pub(crate) fn exact(budget: &Arc<MemoryBudget>) -> Self {
        Self {
            budget: budget.clone(),
            held: 0,
            step: 1,
        }
    }

    /// Makes sure `total` bytes are covered; false (and nothing taken) when the budget cannot.
    pub(crate) fn cover(&mut self, total: usize) -> bool {
        if total <= self.held {
            return true;
        }
        let want = total.div_ceil(self.step).saturating_mul(self.step);
        // A last step that does not fit whole may still fit exactly.
        for target in [want, total] {
            if self.budget.try_take(target - self.held) {
                self.held = target;
                return true;
            }
        }
        false
    }

    /// Gives everything back (the content left memory).
    pub(crate) fn release(&mut self) {
        self.budget.give_back(std::mem::take(&mut self.held));
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.release();
    }
}

/// How long to pause after a failed `accept`: 10 ms, doubling up to 1 s, back to 10 ms after a
/// success. Out of file descriptors, `accept` fails at once and the listener stays readable, so
/// without a pause the accept loop spins on a core.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    pub(crate) fn new() -> Self {
        Self { next: Self::FIRST }
    }

    /// The pause after one more failure.
    pub(crate) fn failed(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        pause
    }

    pub(crate) fn succeeded(&mut self) {
        self.next = Self::FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_stop_at_the_cap_and_come_back() {
        let slots = Slots::new(2);
        let a = slots.try_acquire().unwrap();
        let _b = slots.try_acquire().unwrap();
        assert!(slots.try_acquire().is_none());
        drop(a);
        assert_eq!(slots.active(), 1);
        assert!(slots.try_acquire().is_some());
    }

    #[test]
    fn reservations_share_one_budget() {
        let budget = MemoryBudget::new(3 * STEP + STEP / 2);
        let mut a = Reservation::new(&budget);
        let mut b = Reservation::new(&budget);
        assert!(a.cover(100));
        assert_eq!(budget.in_use(), STEP);
        assert!(a.cover(STEP + 1));
        assert!(b.cover(STEP));
        assert_eq!(budget.in_use(), 3 * STEP);
        // The step does not fit whole, the exact amount does.
        assert!(b.cover(STEP + STEP / 2));
        assert_eq!(budget.in_use(), 3 * STEP + STEP / 2);
        assert!(!a.cover(3 * STEP));
        drop(b);
        assert_eq!(budget.in_use(), 2 * STEP);
        a.release();
        assert_eq!(budget.in_use(), 0);
        let mut exact = Reservation::exact(&budget);
        assert!(exact.cover(10));
        assert_eq!(budget.in_use(), 10);
    }

    #[test]
    fn a_huge_request_cannot_overflow_the_budget() {
        let budget = MemoryBudget::new(usize::MAX - 1);
        let mut r = Reservation::new(&budget);
        assert!(r.cover(10));
        let mut other = Reservation::new(&budget);
        assert!(!other.cover(usize::MAX));
        assert_eq!(budget.in_use(), STEP);
    }

    #[test]
    fn accept_backoff_doubles_to_a_second_and_resets() {
        let mut b = Backoff::new();
        let pauses: Vec<u64> = (0..10).map(|_| b.failed().as_millis() as u64).collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        b.succeeded();
        assert_eq!(b.failed(), Duration::from_millis(10));
    }
}
