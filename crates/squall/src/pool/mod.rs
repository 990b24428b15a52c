//! The pool: the queue of messages, the connections that drain it, and the policy between them —
//! how many connections, which takes what (fair shares), how fast (the rate limit), how long an
//! idle one stays, and what a failed setup does to the messages waiting.

pub(crate) mod retry;
mod seat;
mod worker;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use squall_proto::session::{ErrorKind, Stage};
use tokio::sync::Notify;

use crate::config::Config;
use crate::driver::Take;
use crate::error::{Error, What};
use crate::job::Job;

/// The queue and the connections, shared by a client's clones and its workers.
pub(crate) struct Pool {
    pub(crate) config: Config,
    /// Where workers and retry timers run (see `runtime`).
    spawner: tokio::runtime::Handle,
    state: Mutex<State>,
    /// Connections opened so far.
    opened: AtomicU64,
    /// A job was queued, or the client is closing.
    wake: Notify,
    /// A connection ended.
    ended: Notify,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    connections: usize,
    closing: bool,
    /// Messages waiting out a retry delay, outside the queue.
    retrying: usize,
    /// With a rate limit: when the next message may be handed to a connection.
    next_slot: Option<Instant>,
    /// Messages handed to connections and not yet concluded.
    in_flight: usize,
    delivered: u64,
    failed: u64,
}

/// What a client is doing, from [`Client::stats`](crate::Client::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Messages waiting for a connection (or for a retry's delay to pass).
    pub queued: usize,
    /// Messages a connection is sending now.
    pub in_flight: usize,
    /// Connections open (or opening).
    pub connections: usize,
    /// Messages the server took (for at least one recipient), since the client was built.
    pub delivered: u64,
    /// Messages that failed, since the client was built.
    pub failed: u64,
}

impl Pool {
    /// A pool for `config`, its tasks on the runtime of the caller or on squall's own.
    pub(crate) fn new(config: Config, spawner: tokio::runtime::Handle) -> Arc<Self> {
        Arc::new(Self {
            config,
            spawner,
            state: Mutex::new(State::default()),
            opened: AtomicU64::new(0),
            wake: Notify::new(),
            ended: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many connections were opened so far.
    pub(crate) fn opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// Queues a job and makes sure a connection will take it; false once the client is closing.
    pub(crate) fn push(self: &Arc<Self>, job: Job) -> bool {
        let mut st = self.lock();
        if st.closing {
            return false;
        }
        self.enqueue(&mut st, job);
        drop(st);
        self.wake.notify_one();
        true
    }

    /// Runs `task` where the pool's workers run, so that it has a reactor and timers whatever
    /// executor awaits its outcome.
    pub(crate) fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawner.spawn(task)
    }

    /// The runtime the pool's tasks run on.
    #[cfg_attr(not(feature = "dkim"), allow(dead_code))]
    pub(crate) fn runtime(&self) -> &tokio::runtime::Handle {
        &self.spawner
    }

    /// Queues `job` again after `delay` (a retry); it is not lost if the client is closing.
    pub(crate) fn retry_later(self: &Arc<Self>, job: Job, delay: Duration) {
        self.lock().retrying += 1;
        let pool = self.clone();
        self.spawner.spawn(async move {
            tokio::time::sleep(delay).await;
            // One step, so that shutdown never sees the job in neither place.
            let mut st = pool.lock();
            st.retrying -= 1;
            pool.enqueue(&mut st, job);
            drop(st);
            pool.wake.notify_one();
        });
    }

    /// Adds `job` to the queue and opens a connection for it if one is due (callers wake one).
    fn enqueue(self: &Arc<Self>, st: &mut State, mut job: Job) {
        job.queued = Instant::now();
        st.jobs.push_back(job);
        // A new connection only when queued messages outnumber the open ones: a lone send
        // reuses the connection that is there.
        if st.connections < self.config.pool.max_connections && st.jobs.len() > st.connections {
            st.connections += 1;
            self.spawner.spawn(worker::run(self.clone()));
        }
    }

    /// What the client is doing now.
    pub(crate) fn stats(&self) -> Stats {
        let st = self.lock();
        Stats {
            queued: st.jobs.len() + st.retrying,
            in_flight: st.in_flight,
            connections: st.connections,
            delivered: st.delivered,
            failed: st.failed,
        }
    }

    /// `n` messages a connection held are no longer in flight (concluded or requeued).
    fn left_flight(&self, n: usize) {
        let mut st = self.lock();
        st.in_flight = st.in_flight.saturating_sub(n);
    }

    /// Tells the caller the outcome, and counts it.
    fn finish(&self, job: Job, result: Result<crate::Receipt, Error>) {
        {
            let mut st = self.lock();
            match result {
                Ok(_) => st.delivered += 1,
                Err(_) => st.failed += 1,
            }
        }
        let _ = job.done.send(result);
    }

    /// The next job for a connection holding `held` messages (of the `capacity` it can use)
    /// that has taken `handed` in all.
    fn take(&self, held: usize, capacity: usize, handed: u64) -> Take {
        self.expire(None);
        if self.used_up(handed) {
            return Take::Full;
        }
        let mut st = self.lock();
        if st.jobs.is_empty() {
            return Take::Empty;
        }
        // Fair dispatch: each connection takes its share of all the work, queued and in flight
        // (at least two, to pipeline one message behind another; at most what its session can
        // use), so that a short queue is spread over the connections instead of the first taking
        // all, and a long one fills every pipeline.
        let work = st.jobs.len() + st.in_flight;
        let share = (work.div_ceil(st.connections.max(1)) + 1).clamp(2, capacity.max(2));
        if held >= share {
            return Take::Full;
        }
        if let Some(interval) = self.config.pool.rate_interval {
            let now = Instant::now();
            let slot = st.next_slot.map_or(now, |t| t.max(now));
            if slot > now {
                return Take::At(slot);
            }
            st.next_slot = slot.checked_add(interval);
        }
        match st.jobs.pop_front() {
            Some(job) => {
                st.in_flight += 1;
                Take::Job(job)
            }
            None => Take::Empty,
        }
    }

    /// Whether a connection that has taken `handed` messages has carried its share.
    fn used_up(&self, handed: u64) -> bool {
        self.config
            .pool
            .max_messages_per_connection
            .is_some_and(|max| handed >= max)
    }

    /// Fails the queued jobs whose deadline has passed, with `why` (what kept them from being
    /// sent), else with what failed their last attempt, else a plain deadline error.
    fn expire(&self, why: Option<&Error>) {
        if self.config.retry.deadline.is_none() {
            return;
        }
        let now = Instant::now();
        for mut job in self.take_jobs(|j| j.deadline.is_some_and(|d| d <= now)) {
            let last = job.last_error.take();
            let error = why
                .cloned()
                .or(last)
                .unwrap_or_else(|| Error::new(ErrorKind::Transient, Stage::Prepare, What::Deadline));
            let (job, result) = retry::give_up(job, error);
            self.finish(job, result);
        }
    }

    /// The earliest deadline among queued jobs.
    fn earliest_deadline(&self) -> Option<Instant> {
        self.lock().jobs.iter().filter_map(|j| j.deadline).min()
    }

    /// Removes and returns the queued jobs that `pick` selects, keeping the others in order.
    fn take_jobs(&self, pick: impl Fn(&Job) -> bool) -> VecDeque<Job> {
        let mut st = self.lock();
        if !st.jobs.iter().any(&pick) {
            return VecDeque::new();
        }
        let (taken, kept) = std::mem::take(&mut st.jobs).into_iter().partition(|j| pick(j));
        st.jobs = kept;
        taken
    }

    /// Puts jobs that were never started back at the front, in order.
    fn requeue(&self, jobs: Vec<Job>) {
        let mut st = self.lock();
        for job in jobs.into_iter().rev() {
            st.jobs.push_front(job);
        }
    }

    /// A connection could not be set up, for good or after its last attempt: the messages that
    /// would meet the same failure fail with it. A permanent failure (a certificate, refused
    /// credentials, a policy) fails every message queued before the failure was known, all at
    /// once; a temporary one, those queued before the attempt `began` (later ones get an attempt
    /// of their own). A message queued after the failure was told gets a connection of its own.
    fn setup_failed(&self, began: Instant, known: Instant, error: &Error) {
        let before = if error.kind() == ErrorKind::Transient {
            began
        } else {
            known
        };
        for job in self.take_jobs(|j| j.queued <= before) {
            let (job, result) = retry::give_up(job, error.clone());
            self.finish(job, result);
        }
    }

    /// Marks the client closing and wakes every connection so that idle ones say QUIT.
    pub(crate) fn close(&self) {
        self.lock().closing = true;
        self.wake.notify_waiters();
    }

    /// Whether nothing is queued, waiting to be retried, or connected.
    pub(crate) fn is_drained(&self) -> bool {
        let st = self.lock();
        st.connections == 0 && st.retrying == 0 && st.jobs.is_empty()
    }

    /// Waits until a connection ends, or a moment passes.
    pub(crate) async fn wait_ended(&self, at_most: Duration) {
        let ended = self.ended.notified();
        tokio::pin!(ended);
        ended.as_mut().enable();
        if self.is_drained() {
            return;
        }
        // Woken again now and then: a connection that was between its idle check and its wait
        // when `closing` was set would otherwise wait out its idle timer.
        self.wake.notify_waiters();
        let _ = tokio::time::timeout(at_most, ended).await;
    }

    /// A worker ended abnormally: its slot is freed and the waiting messages fail (they would
    /// likely meet the same fault).
    fn worker_failed(&self) {
        self.lock().connections -= 1;
        let e = Error::new(
            ErrorKind::Transient,
            Stage::Queued,
            What::Internal("the connection task stopped unexpectedly"),
        );
        let now = Instant::now();
        self.setup_failed(now, now, &e);
        self.ended.notify_waiters();
    }

    /// A connection ends; returns true if its worker should stop (nothing left to do).
    fn worker_may_stop(&self) -> bool {
        let mut st = self.lock();
        if st.jobs.is_empty() {
            st.connections -= 1;
            drop(st);
            self.ended.notify_waiters();
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests;
