//! [`Seat`]: one connection's place in the pool — the [`Feed`] its driver takes messages from
//! and hands outcomes back to.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::futures::Notified;

use super::Pool;
use super::retry::{self, Next};
use crate::driver::{Feed, Link, Settled, Take};
use crate::job::Job;

pub(super) struct Seat {
    pool: Arc<Pool>,
    /// Messages handed to this connection.
    handed: u64,
}

impl Seat {
    pub(super) fn new(pool: Arc<Pool>) -> Self {
        Self { pool, handed: 0 }
    }

    /// Tells the caller, or queues the message again later.
    fn conclude(&self, next: Next) {
        self.pool.left_flight(1);
        match next {
            Next::Finish(job, result) => self.pool.finish(job, result),
            Next::Retry(job, delay) => self.pool.retry_later(job, delay),
        }
    }
}

impl Feed for Seat {
    fn take(&mut self, held: usize, capacity: usize) -> Take {
        let take = self.pool.take(held, capacity, self.handed);
        if matches!(take, Take::Job(_)) {
            self.handed += 1;
        }
        take
    }

    fn linger(&mut self, since: Instant) -> Option<Instant> {
        // A connection that carried its share quits at once (the worker opens the next), as
        // does every connection of a closing client.
        if self.pool.used_up(self.handed) || self.pool.lock().closing {
            return None;
        }
        Some(since + self.pool.config.pool.idle_timeout)
    }

    fn changed(&self) -> Notified<'_> {
        self.pool.wake.notified()
    }

    fn settled(&mut self, job: Job, how: Settled, link: &Link) {
        let policy = &self.pool.config.retry;
        let next = match how {
            Settled::Delivered(d, started) => {
                retry::after_delivery(job, d, started, link.tls.as_ref(), policy)
            }
            Settled::Failed(e, started) => retry::after_failure(job, e, started, policy),
        };
        self.conclude(next);
    }

    fn requeue(&mut self, jobs: Vec<Job>) {
        self.pool.left_flight(jobs.len());
        self.pool.requeue(jobs);
    }
}
