//! The workers behind [`Outbox::run`](crate::Outbox::run) and
//! [`Outbox::run_routed`](crate::Outbox::run_routed): they lease due messages, send them with
//! a [`squall::Client`] (one for all, or one per route), renew their leases while they work,
//! and record each recipient's outcome.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use squall::{Envelope, Mailbox, Notify, OriginalRecipient, Recipient, ReversePath};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::error::OutboxError;
use crate::model::{RecipientState, ms, now_ms};
use crate::queries::{Claimed, Outcome};
use crate::routes::Routes;
use crate::shared::Shared;

/// How [`Outbox::run`](crate::Outbox::run) works.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Worker loops, each leasing its own batches.
    pub workers: usize,
    /// Messages each worker has in flight at most: also the most a crash can leave as possible
    /// duplicates per worker.
    pub window: usize,
    /// How long a lease lasts without renewal; renewed every third of it.
    pub lease: Duration,
    /// Return once nothing is due and nothing is leased (messages deferred to later stay).
    pub until_empty: bool,
    /// The longest sleep between looks at the database, for mail queued by other processes.
    pub poll: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            workers: 1,
            window: 64,
            lease: Duration::from_secs(60),
            until_empty: false,
            poll: Duration::from_secs(1),
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RunReport {
    /// Attempts made.
    pub attempts: u64,
}

/// Runs `options.workers` workers on `shared` until `stop` resolves (or, with `until_empty`,
/// until nothing is left to do now), each message through its route's client from `routes`.
pub(crate) async fn run(
    shared: Arc<Shared>,
    routes: Routes,
    options: RunOptions,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<RunReport, OutboxError> {
    let routes = Arc::new(routes);
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopper = tokio::spawn(async move {
        stop.await;
        let _ = stop_tx.send(true);
    });
    let mut set = JoinSet::new();
    let tag = format!("{}-{}-{:x}", host(), std::process::id(), now_ms());
    let released = Arc::new(watch::channel(0u64).0);
    for n in 0..options.workers.max(1) {
        let w = Worker {
            shared: shared.clone(),
            routes: routes.clone(),
            options: options.clone(),
            owner: format!("{tag}-{n}"),
            stop: stop_rx.clone(),
            released: released.clone(),
        };
        set.spawn(w.run());
    }
    let mut report = RunReport::default();
    let mut first_error = None;
    while let Some(r) = set.join_next().await {
        match r {
            Ok(Ok(n)) => report.attempts += n,
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(_) => {
                first_error.get_or_insert(OutboxError::Closed);
            }
        }
    }
    stopper.abort();
    first_error.map_or(Ok(report), Err)
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "host".into())
}

struct Worker {
    shared: Arc<Shared>,
    routes: Arc<Routes>,
    options: RunOptions,
    owner: String,
    stop: watch::Receiver<bool>,
    /// Bumped whenever a worker of this run records outcomes: with `until_empty`, an idle
    /// worker waiting only for the others' leases looks again then, not at its next poll.
    released: Arc<watch::Sender<u64>>,
}

impl Worker {
    /// The loop: record what finished and lease more in one transaction (one fsync), send what
    /// was leased, wait for a result, a wake-up, a lease renewal or the poll.
    ///
    /// A transaction waits until a quarter of the window is free (or nothing is in flight), or
    /// until the oldest unrecorded outcome is [`RECORD_WITHIN`] old: a busy worker so commits
    /// for dozens of messages at once instead of one each time an attempt ends.
    async fn run(mut self) -> Result<u64, OutboxError> {
        let inner = self.shared.clone();
        let mut wake = inner.wake.subscribe();
        let mut released = self.released.subscribe();
        let mut in_flight: JoinSet<Outcome> = JoinSet::new();
        let mut leased: HashSet<i64> = HashSet::new();
        let mut outcomes: Vec<Outcome> = Vec::new();
        // When the oldest unrecorded outcome must be recorded by.
        let mut record_by = tokio::time::Instant::now();
        let batch = self.options.window.div_ceil(4);
        let mut renew = tokio::time::interval(self.options.lease / 3);
        renew.tick().await;
        let mut attempts = 0;
        let hold = inner.hold_possible_duplicates;
        let schedule = inner.schedule;
        let lease_ms = ms(self.options.lease);
        // Whether a lease request may find work: false after one came back short, true again
        // on a wake-up or the poll, so an idle worker does not write to look.
        let mut maybe_more = true;
        loop {
            let stopping = *self.stop.borrow();
            let free = if stopping {
                0
            } else {
                self.options.window - in_flight.len()
            };
            let idle = in_flight.is_empty();
            let refill = maybe_more && (free >= batch || idle);
            let limit = if refill { free } else { 0 };
            let record = !outcomes.is_empty()
                && (refill
                    || idle
                    || stopping
                    || outcomes.len() >= batch
                    || tokio::time::Instant::now() >= record_by);
            if record || limit > 0 {
                if limit > 0 {
                    wake.borrow_and_update();
                }
                let done = std::mem::take(&mut outcomes);
                let (claimed, events) = patient(&self.stop, || {
                    inner
                        .backend
                        .record_and_claim(&self.owner, done.clone(), lease_ms, limit, hold, schedule)
                })
                .await?;
                for e in events {
                    let _ = inner.events.send(e);
                }
                if !done.is_empty() {
                    self.released.send_modify(|n| *n = n.wrapping_add(1));
                }
                if claimed.len() < limit {
                    maybe_more = false;
                }
                for m in claimed {
                    leased.insert(m.id);
                    attempts += 1;
                    let routes = self.routes.clone();
                    let shared = self.shared.clone();
                    in_flight.spawn(async move { attempt(&routes, m, &shared).await });
                }
            }
            if in_flight.is_empty() {
                if stopping {
                    return Ok(attempts);
                }
                if self.options.until_empty
                    && !patient(&self.stop, || inner.backend.has_due_or_leased()).await?
                {
                    return Ok(attempts);
                }
                let next = patient(&self.stop, || inner.backend.next_due_in()).await?;
                let wait = next.unwrap_or(self.options.poll).min(self.options.poll);
                tokio::select! {
                    _ = wake.changed() => maybe_more = true,
                    _ = self.stop.changed() => maybe_more = true,
                    () = tokio::time::sleep(wait) => maybe_more = true,
                    // Outcomes end leases but make nothing due: look again, without leasing.
                    _ = released.changed(), if self.options.until_empty => {}
                }
                continue;
            }
            tokio::select! {
                Some(done) = in_flight.join_next() => {
                    // A panicked attempt has no outcome: its lease runs out and it is retried.
                    let finished = std::iter::once(done).chain(std::iter::from_fn(|| in_flight.try_join_next()));
                    if outcomes.is_empty() {
                        record_by = tokio::time::Instant::now() + RECORD_WITHIN;
                    }
                    for o in finished.flatten() {
                        leased.remove(&o.id);
                        outcomes.push(o);
                    }
                }
                () = tokio::time::sleep_until(record_by), if !outcomes.is_empty() => {}
                _ = renew.tick() => {
                    let ids: Vec<i64> = leased.iter().copied().collect();
                    patient(&self.stop, || inner.backend.renew(&self.owner, ids.clone(), lease_ms)).await?;
                }
                _ = wake.changed(), if free > 0 => maybe_more = true,
                _ = self.stop.changed() => {}
                () = tokio::time::sleep(self.options.poll) => maybe_more = true,
            }
        }
    }
}

/// How long a finished attempt's outcome may wait to share a transaction with others.
const RECORD_WITHIN: Duration = Duration::from_millis(20);

/// How long a worker keeps retrying a database that fails for a reason that may pass (locked
/// by another process, disk full, a PostgreSQL server restarting) before its run ends with the
/// error.
const PATIENCE: Duration = Duration::from_secs(120);

/// `call()`, tried again with backoff (100 ms doubling to 5 s) while it fails transiently, for
/// at most [`PATIENCE`] or until `stop`.
async fn patient<R, F>(stop: &watch::Receiver<bool>, call: impl Fn() -> F) -> Result<R, OutboxError>
where
    F: Future<Output = Result<R, OutboxError>>,
{
    let start = std::time::Instant::now();
    let mut wait = Duration::from_millis(100);
    let mut stop = stop.clone();
    loop {
        match call().await {
            Err(e) if e.is_transient() && start.elapsed() < PATIENCE && !*stop.borrow() => {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => {}
                }
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            r => return r,
        }
    }
}

/// One attempt at `m`, as an outcome per recipient.
async fn attempt(routes: &Routes, m: Claimed, shared: &Shared) -> Outcome {
    let id = m.id;
    let all_deferred = |m: &Claimed, why: String| Outcome {
        id: m.id,
        recipients: m
            .recipients
            .iter()
            .map(|(i, _, _, _)| (*i, RecipientState::Deferred, why.clone()))
            .collect(),
        error: Some(why),
        ambiguous: false,
    };
    let envelope = match envelope(&m) {
        Ok(e) => e,
        Err(why) => {
            return Outcome {
                id,
                recipients: m
                    .recipients
                    .iter()
                    .map(|(i, _, _, _)| (*i, RecipientState::Refused, why.clone()))
                    .collect(),
                error: Some(why),
                ambiguous: false,
            };
        }
    };
    let client = match routes.client(m.route.as_deref()) {
        Ok(c) => c,
        Err(why) => return all_deferred(&m, why),
    };
    let body = match shared.backend.body(&m).await {
        Ok(b) => b,
        Err(why) => return all_deferred(&m, why),
    };
    let result = client.send_envelope(envelope, body).await;
    let index = |mb: &Mailbox| {
        m.recipients
            .iter()
            .find(|(_, a, _, _)| a.eq_ignore_ascii_case(mb.as_str()))
            .map(|(i, _, _, _)| *i)
    };
    let mut recipients = Vec::new();
    let mut seen = HashSet::new();
    let mut note = |mb: &Mailbox, st: RecipientState, reply: String| {
        if let Some(i) = index(mb).filter(|i| seen.insert(*i)) {
            recipients.push((i, st, reply));
        }
    };
    let verdict = |r: &squall::RecipientReply| {
        if r.is_accepted() {
            RecipientState::Accepted
        } else if r.reply.is_permanent() {
            RecipientState::Refused
        } else {
            RecipientState::Deferred
        }
    };
    match result {
        Ok(receipt) => {
            for r in receipt.accepted.iter().chain(&receipt.rejected) {
                note(&r.recipient, verdict(r), r.reply.to_string());
            }
            let ambiguous = !receipt.ambiguous.is_empty();
            for mb in &receipt.ambiguous {
                note(
                    mb,
                    RecipientState::Deferred,
                    "lost after the content was sent: may have been delivered".into(),
                );
            }
            Outcome {
                id,
                recipients,
                error: None,
                ambiguous,
            }
        }
        Err(e) => {
            for r in e.accepted().iter().chain(e.rejected()) {
                note(&r.recipient, verdict(r), r.reply.to_string());
            }
            let rest = if e.is_permanent() || e.is_input() {
                RecipientState::Refused
            } else {
                RecipientState::Deferred
            };
            let why = e.to_string();
            for (i, _, _, _) in &m.recipients {
                if seen.insert(*i) {
                    recipients.push((*i, rest, why.clone()));
                }
            }
            Outcome {
                id,
                recipients,
                error: Some(why),
                ambiguous: e.is_ambiguous(),
            }
        }
    }
}

/// The envelope of a leased message: its open recipients, its stored options.
fn envelope(m: &Claimed) -> Result<Envelope, String> {
    let from = ReversePath::parse(&m.sender).map_err(|e| format!("stored sender {:?}: {e}", m.sender))?;
    let mut rcpts = Vec::new();
    for (_, addr, notify, orcpt) in &m.recipients {
        let mb = Mailbox::parse(addr).map_err(|e| format!("stored recipient {addr:?}: {e}"))?;
        let notify: Option<Notify> = notify.as_deref().and_then(|n| n.parse().ok());
        let orcpt = orcpt.as_deref().and_then(|o| OriginalRecipient::new(o).ok());
        rcpts.push(Recipient::from(mb).notify(notify).orcpt(orcpt));
    }
    Envelope::new(from, rcpts)
        .map(|e| e.with_options(m.options.mail_options()))
        .map_err(|_| "no recipient left to send to".to_string())
}
