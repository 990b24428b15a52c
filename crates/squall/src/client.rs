//! [`Client`]: a queue of messages in front of one or more connections.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use squall_proto::address::{Mailbox, ReversePath};
use squall_proto::envelope::Envelope;
use squall_proto::params::{BodyType, MailOptions};
use squall_proto::reply::Reply;
use tokio::sync::{Notify, oneshot};

use crate::body::{Body, Source};
use crate::config::{ClientBuilder, Config};
use crate::connection;
use crate::error::{Error, ErrorKind, Stage, What};
use crate::message::Message;
use crate::receipt::{Attempt, Receipt, RecipientStatus};
use crate::retry;

/// An SMTP client: a queue of messages delivered over connections it opens when needed.
///
/// `send` only queues a message and waits for its outcome. The first message opens a connection;
/// queued messages go out in order over it (pipelined when the server allows); when nothing is
/// left for [`idle_timeout`](ClientBuilder::idle_timeout) the connection says QUIT, and the next
/// message opens a new one. A refused recipient does not fail the message, a refused message does
/// not fail the others, and a lost connection fails only what was in flight.
///
/// Cloning is cheap; clones share the queue and the connections.
///
/// Dropping a `send` future does not take the message back: once queued it is delivered (or
/// fails) on its own, and its outcome is discarded.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

/// A queued message's outcome, from [`Client::submit`]. Dropping it does not take the message
/// back: it is delivered (or fails) all the same.
#[derive(Debug)]
pub struct Submission(oneshot::Receiver<Result<Receipt, Error>>);

impl Future for Submission {
    type Output = Result<Receipt, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|r| {
            r.unwrap_or_else(|_| {
                Err(Error::new(
                    ErrorKind::Transient,
                    Stage::Mail,
                    What::ConnectionLost(None),
                ))
            })
        })
    }
}

/// What the client and its connections share.
pub(crate) struct Shared {
    pub(crate) config: Config,
    state: Mutex<State>,
    /// Connections opened so far.
    pub(crate) opened: std::sync::atomic::AtomicU64,
    /// A job was queued, or the client is closing.
    pub(crate) wake: Notify,
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
}

/// What [`Shared::pop`] found.
// Returned once per message and moved straight into a flight: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Pop {
    Job(Job),
    /// The rate limit allows the next message at this instant.
    Wait(Instant),
    Empty,
}

/// One queued message, and what its attempts so far achieved.
pub(crate) struct Job {
    /// For the next attempt: retries carry only the recipients still to do.
    pub(crate) envelope: Envelope,
    pub(crate) body: Body,
    pub(crate) done: oneshot::Sender<Result<Receipt, Error>>,
    pub(crate) submitted: Instant,
    /// When it last joined the queue (a retry joins it again).
    pub(crate) queued: Instant,
    pub(crate) deadline: Option<Instant>,
    pub(crate) message_id: Option<String>,
    pub(crate) attempts: Vec<Attempt>,
    /// Recipients that got the message in an earlier attempt.
    pub(crate) delivered: Vec<RecipientStatus>,
    /// The latest refusal of each recipient that did not get it.
    pub(crate) refused: Vec<RecipientStatus>,
    pub(crate) final_reply: Option<Reply>,
    pub(crate) queue_id: Option<String>,
    pub(crate) size: u64,
}

impl Client {
    /// A builder for a client sending through `host`.
    pub fn builder(host: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(host)
    }

    /// A client from an `smtp://` or `smtps://` URL (see [`ClientBuilder`] for what it means).
    pub fn from_url(url: &str) -> Result<Self, Error> {
        crate::url::parse(url)?.build()
    }

    /// A builder from a URL, to adjust further before `build`.
    pub fn builder_from_url(url: &str) -> Result<ClientBuilder, Error> {
        crate::url::parse(url)
    }

    pub(crate) fn new(config: Config) -> Self {
        Self {
            shared: Arc::new(Shared {
                config,
                state: Mutex::new(State::default()),
                opened: Default::default(),
                wake: Notify::new(),
                ended: Notify::new(),
            }),
        }
    }

    /// Sends `body` (a complete RFC 5322 message) from `from` to `to`.
    ///
    /// The addresses are the envelope (MAIL FROM and RCPT TO); the headers inside `body` are sent
    /// as they are. `from` may be `<>` (the null sender, for notifications).
    pub async fn send<I, S>(&self, from: &str, to: I, body: impl Into<Body>) -> Result<Receipt, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.submit(from, to, body)?.await
    }

    /// Queues a message now and returns a future of its outcome: unlike `send`, the place in the
    /// queue is taken by this call, so messages submitted one after another go out in that order
    /// even when their futures are awaited in another order, or not at all.
    pub fn submit<I, S>(&self, from: &str, to: I, body: impl Into<Body>) -> Result<Submission, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let from = ReversePath::parse(from)
            .map_err(|e| Error::input(format!("invalid sender address {from:?}: {e}")))?;
        let mut rcpts = Vec::new();
        for t in to {
            let t = t.as_ref();
            rcpts.push(
                Mailbox::parse(t)
                    .map_err(|e| Error::input(format!("invalid recipient address {t:?}: {e}")))?,
            );
        }
        let body = body.into();
        let envelope = Envelope::new(from, rcpts)
            .map_err(|_| Error::input("no recipient: give at least one address to send to"))?
            .with_options(options_for(&body));
        self.enqueue(envelope, body, None)
    }

    /// Sends `body` with a ready envelope (its options, such as DSN, are used as they are).
    pub async fn send_envelope(&self, envelope: Envelope, body: impl Into<Body>) -> Result<Receipt, Error> {
        self.enqueue(envelope, body.into(), None)?.await
    }

    /// Sends a [`Message`] to its To, Cc and Bcc recipients (Bcc is not in the headers).
    pub async fn send_message(&self, message: &Message) -> Result<Receipt, Error> {
        let envelope = message.envelope()?;
        let id = message.message_id().to_string();
        self.enqueue(envelope, Body::from(message.bytes()), Some(id))?
            .await
    }

    fn enqueue(
        &self,
        envelope: Envelope,
        body: Body,
        message_id: Option<String>,
    ) -> Result<Submission, Error> {
        let (done, outcome) = oneshot::channel();
        let now = Instant::now();
        let job = Job {
            envelope,
            body,
            done,
            submitted: now,
            queued: now,
            deadline: self.shared.config.retry.deadline.and_then(|d| now.checked_add(d)),
            message_id,
            attempts: Vec::new(),
            delivered: Vec::new(),
            refused: Vec::new(),
            final_reply: None,
            queue_id: None,
            size: 0,
        };
        if !self.shared.push(job) {
            return Err(Error::new(ErrorKind::Local, Stage::Prepare, What::Shutdown));
        }
        Ok(Submission(outcome))
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// How many connections this client opened so far.
    pub fn connections_opened(&self) -> u64 {
        self.shared.opened.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Delivers what is queued, closes every connection with QUIT, and waits until they are
    /// closed. Messages sent afterwards fail.
    pub async fn shutdown(&self) {
        self.shared.lock().closing = true;
        loop {
            let ended = self.shared.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            let done = {
                let st = self.shared.lock();
                st.connections == 0 && st.retrying == 0 && st.jobs.is_empty()
            };
            if done {
                return;
            }
            // Woken again now and then: a connection that was between its idle check and its
            // wait when `closing` was set would otherwise wait out its idle timer.
            self.shared.wake.notify_waiters();
            let _ = tokio::time::timeout(std::time::Duration::from_millis(50), ended).await;
        }
    }
}

/// MAIL options from what is known of a body before sending: exact size and 8-bit content for
/// bytes; for a stream, 8BITMIME is declared when the server offers it.
fn options_for(body: &Body) -> MailOptions {
    match &body.0 {
        Source::Bytes(b) => MailOptions {
            size: Some(squall_proto::data::normalized_len(b)),
            body: if b.is_ascii() {
                BodyType::SevenBit
            } else {
                BodyType::EightBitMime
            },
            smtputf8: !header_section(b).is_ascii(),
            prefer_binarymime: is_binary(b),
            ..MailOptions::default()
        },
        Source::File(_) | Source::Reader(_) => MailOptions {
            prefer_8bitmime: true,
            ..MailOptions::default()
        },
    }
}

/// Content that is not SMTP text: a NUL byte, or a line longer than 998 octets (RFC 5322 §2.1.1).
fn is_binary(b: &[u8]) -> bool {
    b.contains(&0) || b.split(|&c| c == b'\n').any(|line| line.len() > 999)
}

/// The header section of a message: everything before the first empty line.
fn header_section(b: &[u8]) -> &[u8] {
    let end = b
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| b.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(b.len());
    &b[..end]
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a job and makes sure a connection will take it; false once the client is closing.
    fn push(self: &Arc<Self>, job: Job) -> bool {
        let mut st = self.lock();
        if st.closing {
            return false;
        }
        self.enqueue(&mut st, job);
        drop(st);
        self.wake.notify_one();
        true
    }

    /// Queues `job` again after `delay` (a retry); it is not lost if the client is closing.
    pub(crate) fn retry_later(self: &Arc<Self>, job: Job, delay: Duration) {
        self.lock().retrying += 1;
        let shared = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            // One step, so that shutdown never sees the job in neither place.
            let mut st = shared.lock();
            st.retrying -= 1;
            shared.enqueue(&mut st, job);
            drop(st);
            shared.wake.notify_one();
        });
    }

    /// Adds `job` to the queue and opens a connection for it if one is due (callers wake one).
    fn enqueue(self: &Arc<Self>, st: &mut State, mut job: Job) {
        job.queued = Instant::now();
        st.jobs.push_back(job);
        // A new connection only when queued messages outnumber the open ones: a lone send
        // reuses the connection that is there.
        if st.connections < self.config.max_connections && st.jobs.len() > st.connections {
            st.connections += 1;
            tokio::spawn(connection::worker(self.clone()));
        }
    }

    /// The next job, if any and if the rate limit allows it now.
    pub(crate) fn pop(&self) -> Pop {
        self.expire(None);
        let mut st = self.lock();
        if st.jobs.is_empty() {
            return Pop::Empty;
        }
        if let Some(interval) = self.config.rate_interval {
            let now = Instant::now();
            let slot = st.next_slot.map_or(now, |t| t.max(now));
            if slot > now {
                return Pop::Wait(slot);
            }
            st.next_slot = slot.checked_add(interval);
        }
        st.jobs.pop_front().map_or(Pop::Empty, Pop::Job)
    }

    /// Fails the queued jobs whose deadline has passed, with the error `why` builds (what kept
    /// them from being sent), else a plain deadline error.
    pub(crate) fn expire(&self, why: Option<&dyn Fn() -> Error>) {
        if self.config.retry.deadline.is_none() {
            return;
        }
        let now = Instant::now();
        for job in self.take_jobs(|j| j.deadline.is_some_and(|d| d <= now)) {
            let error = why.map_or_else(
                || Error::new(ErrorKind::Transient, Stage::Prepare, What::Deadline),
                |f| f(),
            );
            retry::give_up(job, error);
        }
    }

    /// The earliest deadline among queued jobs.
    pub(crate) fn earliest_deadline(&self) -> Option<Instant> {
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
    pub(crate) fn requeue(&self, jobs: Vec<Job>) {
        let mut st = self.lock();
        for job in jobs.into_iter().rev() {
            st.jobs.push_front(job);
        }
    }

    /// How many messages one connection should hold at most now: all it can (`lookahead`) when
    /// the queue is long, an even share of it when short, never fewer than two.
    pub(crate) fn fair_share(&self, lookahead: usize) -> usize {
        let st = self.lock();
        let open = st.connections.max(1);
        (st.jobs.len().div_ceil(open) + 1).clamp(2, lookahead.max(2))
    }

    /// Whether jobs are waiting.
    pub(crate) fn has_jobs(&self) -> bool {
        !self.lock().jobs.is_empty()
    }

    pub(crate) fn closing(&self) -> bool {
        self.lock().closing
    }

    /// Fails the jobs queued before `since` with the error `make` builds (a connection begun
    /// then could not be set up). Later ones get a connection attempt of their own.
    pub(crate) fn fail_queued(&self, since: Instant, make: impl Fn() -> Error) {
        for job in self.take_jobs(|j| j.queued <= since) {
            retry::give_up(job, make());
        }
    }

    /// A worker ended abnormally: its slot is freed and the waiting messages fail (they would
    /// likely meet the same fault).
    pub(crate) fn worker_failed(&self) {
        self.lock().connections -= 1;
        self.fail_queued(Instant::now(), || {
            Error::new(
                ErrorKind::Transient,
                Stage::Mail,
                What::Internal("the connection task stopped unexpectedly"),
            )
        });
        self.ended.notify_waiters();
    }

    /// A connection ends; returns true if its worker should stop (nothing left to do).
    pub(crate) fn worker_may_stop(&self) -> bool {
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
