//! The driver: one connection from the greeting to QUIT. It owns the transport, the buffers and
//! the [`ClientSession`], runs the STARTTLS upgrade and feeds message content; everything the
//! protocol decides is the session's, everything about which messages to send is the [`Feed`]'s.
//!
//! The loop follows the session's driving contract: take messages from the feed, act on the
//! session's events, feed content when it asks, move its output to the transport, and otherwise
//! wait — for bytes from the server, for the transport to take more, for a body stream, for a
//! timer, or for new messages. Reading never stops while writing, so a large body cannot deadlock
//! against a server that answers while it reads; and when a write fails, what the server said
//! before it closed (a 421, say) is still read and counted.

mod body;
mod wake;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use squall_proto::auth::Mechanism;
use squall_proto::ehlo::Capabilities;
use squall_proto::reply::Reply;
use squall_proto::session::{Cause, ClientSession, Delivery, ErrorKind, Event, MessageId, Stage, Tls};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::futures::Notified;
use tokio::time::{Sleep, timeout};

use crate::config::Config;
use crate::error::{Error, TransportError, What};
use crate::job::Job;
use crate::tls::TlsInfo;
use crate::trace;
use crate::transport::Transport;
use body::Flight;

/// Bytes waiting for the transport before more content is read.
const WRITE_HIGH_WATER: usize = 256 * 1024;
/// After a write fails, how long to go on reading what the server sent before it closed.
const DRAIN: Duration = Duration::from_secs(1);

/// What a driver asks of whoever gives it messages: the pool, or nothing at all for a probe.
pub(crate) trait Feed {
    /// The next message for this connection, which holds `held` unfinished messages now and
    /// can usefully hold `capacity` (see [`ClientSession::capacity`]).
    fn take(&mut self, held: usize, capacity: usize) -> Take;
    /// The connection has had nothing to send or await since `since`: when to QUIT, unless a
    /// message comes first (`None`: now).
    fn linger(&mut self, since: Instant) -> Option<Instant>;
    /// Resolves when [`take`](Self::take) may have more to give.
    fn changed(&self) -> Notified<'_>;
    /// A message's attempt ended: delivered (perhaps not to every recipient), or failed.
    fn settled(&mut self, job: Job, how: Settled, link: &Link);
    /// Messages the session never started (it ended first), in the order they were taken.
    fn requeue(&mut self, jobs: Vec<Job>);
}

/// What [`Feed::take`] gives.
// Returned once per message and moved straight into a flight: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Take {
    Job(Job),
    /// Nothing before this instant (a rate limit).
    At(Instant),
    /// Nothing queued: wait for [`Feed::changed`].
    Empty,
    /// This connection holds its share, or has carried its quota.
    Full,
}

/// How a message's attempt ended.
pub(crate) enum Settled {
    Delivered(Delivery, crate::job::Started),
    Failed(Error, crate::job::Started),
}

/// Setup failed: every message waiting would meet the same error. `at` is when the session
/// knew it, before any message was told: messages queued later were never at stake.
#[derive(Debug)]
pub(crate) struct SetupFailed {
    pub(crate) error: Error,
    pub(crate) at: Instant,
}

/// What the driver learnt about the connection.
#[derive(Clone, Debug, Default)]
pub(crate) struct Link {
    /// `host:port`, for messages.
    pub(crate) server: String,
    pub(crate) greeting: Option<Reply>,
    pub(crate) capabilities: Option<Capabilities>,
    pub(crate) tls: Option<TlsInfo>,
    pub(crate) authenticated: Option<Mechanism>,
    /// When setup finished.
    pub(crate) ready_at: Option<Instant>,
}

/// Bytes the session produced and the transport has not taken yet.
#[derive(Default)]
struct Output {
    buf: Vec<u8>,
    pos: usize,
    /// TLS may hold written bytes back until flushed.
    needs_flush: bool,
    /// When the bytes now waiting started to wait (for the data-block timeout).
    since: Option<Instant>,
    /// Writing failed: nothing more is written, what the server sent is still read.
    failed_at: Option<Instant>,
}

impl Output {
    fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }
}

/// One connection's session, transport and messages in progress.
pub(crate) struct Driver<'c, S> {
    config: &'c Config,
    session: ClientSession,
    io: Option<Transport<S>>,
    link: Link,
    out: Output,
    rbuf: Box<[u8]>,
    eof: bool,
    flights: HashMap<MessageId, Flight>,
    body_buf: Vec<u8>,
    /// What went wrong with the transport, to explain a lost connection.
    transport_error: Option<TransportError>,
    idle_since: Option<Instant>,
    idle_until: Option<Instant>,
    quitting: bool,
    /// The feed has nothing before then (a rate limit).
    rate_wait: Option<Instant>,
    /// The feed's queue was empty: wake up when it changes.
    want_jobs: bool,
    timer: Pin<Box<Sleep>>,
    timer_at: Option<Instant>,
    /// When the session first reported a setup failure.
    setup_failed_at: Option<Instant>,
    /// The connection's tracing span (a no-op without the `tracing` feature).
    span: trace::Span,
}

impl<'c, S: AsyncRead + AsyncWrite + Unpin> Driver<'c, S> {
    /// A driver for a transport that has just connected (implicit TLS done, if any).
    pub(crate) fn new(config: &'c Config, io: Transport<S>, session: ClientSession, link: Link) -> Self {
        let span = trace::connection(&link.server);
        if let Some(info) = &link.tls {
            trace::tls(&span, info);
        }
        Self {
            config,
            session,
            io: Some(io),
            link,
            out: Output::default(),
            rbuf: vec![0; 64 * 1024].into_boxed_slice(),
            eof: false,
            flights: HashMap::new(),
            body_buf: Vec::new(),
            transport_error: None,
            idle_since: None,
            idle_until: None,
            quitting: false,
            rate_wait: None,
            want_jobs: false,
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            timer_at: None,
            setup_failed_at: None,
            span,
        }
    }

    /// Runs the connection until the session closes. `Err` when setup failed (greeting, EHLO,
    /// STARTTLS or AUTH): every message waiting would meet the same error.
    pub(crate) async fn run(self, feed: &mut impl Feed) -> Result<Link, SetupFailed> {
        let span = self.span.clone();
        trace::instrument(self.drive(feed), span).await
    }

    async fn drive(mut self, feed: &mut impl Feed) -> Result<Link, SetupFailed> {
        loop {
            self.take_jobs(feed);
            self.check_idle(feed);
            self.open_stream().await;
            if self.handle_events(feed).await {
                break;
            }
            self.forward_transcript();
            if self.feed_memory_body() {
                continue;
            }
            self.collect_output();
            let wake = self.wait(feed).await;
            self.on_wake(wake);
        }
        self.forward_transcript();
        if let Some(mut io) = self.io.take() {
            let _ = timeout(Duration::from_secs(1), io.shutdown()).await;
        }
        let (stage, cause) = match self.session.setup_failure() {
            Some((stage, cause)) => (stage, cause.clone()),
            None if self.link.ready_at.is_none() => (Stage::Greeting, Cause::ConnectionLost),
            None => return Ok(self.link),
        };
        Err(SetupFailed {
            error: Error::from_setup(stage, cause, self.transport_error.as_ref())
                .with_server(&self.link.server),
            at: self.setup_failed_at.unwrap_or_else(Instant::now),
        })
    }

    /// Hands the session messages while the feed has some and this connection may take them (the
    /// session needs the next one before the current one's content ends, to pipeline them).
    fn take_jobs(&mut self, feed: &mut impl Feed) {
        self.rate_wait = None;
        self.want_jobs = false;
        // A session that is ending (QUIT after a refusal, or idle) takes no more: what is queued
        // waits for the next connection rather than failing with this one's error.
        if self.quitting || !self.session.accepts_mail() {
            return;
        }
        loop {
            match feed.take(self.session.in_flight(), self.session.capacity()) {
                Take::Job(job) => {
                    let id = self.session.send_mail(job.envelope.clone());
                    let span = trace::message(
                        &self.span,
                        job.envelope.recipients().len(),
                        job.envelope.options().size,
                    );
                    self.flights
                        .insert(id, Flight::new(job, (SystemTime::now(), Instant::now()), span));
                }
                Take::At(at) => {
                    self.rate_wait = Some(at);
                    break;
                }
                Take::Empty => {
                    self.want_jobs = true;
                    break;
                }
                Take::Full => break,
            }
        }
    }

    /// Says QUIT when the feed has nothing for a connection that is idle.
    fn check_idle(&mut self, feed: &mut impl Feed) {
        let idle =
            !self.quitting && self.session.is_idle() && self.out.pending() == 0 && self.rate_wait.is_none();
        if !idle {
            self.idle_since = None;
            self.idle_until = None;
            return;
        }
        let now = Instant::now();
        let since = *self.idle_since.get_or_insert(now);
        match feed.linger(since) {
            Some(until) if now < until => self.idle_until = Some(until),
            _ => {
                self.quitting = true;
                self.idle_until = None;
                self.session.quit();
            }
        }
    }

    /// Acts on the session's events; true once the session is closed.
    async fn handle_events(&mut self, feed: &mut impl Feed) -> bool {
        if self.setup_failed_at.is_none() && self.session.setup_failure().is_some() {
            self.setup_failed_at = Some(Instant::now());
        }
        let mut closed = false;
        let mut requeue = Vec::new();
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::Delivered(d) => {
                    if let Some(f) = self.flights.remove(&d.id) {
                        trace::delivered(&f.span, d.accepted.len(), d.rejected.len(), &d.reply.to_string());
                        feed.settled(f.job, Settled::Delivered(d, f.started), &self.link);
                    }
                }
                Event::Failed(failure) => {
                    let Some(f) = self.flights.remove(&failure.id) else {
                        continue;
                    };
                    if failure.cause == Cause::NotAttempted {
                        requeue.push(f.job);
                        continue;
                    }
                    let error = Error::from_failure(failure, self.transport_error.as_ref())
                        .with_server(&self.link.server);
                    trace::failed(&f.span, &error);
                    feed.settled(f.job, Settled::Failed(error, f.started), &self.link);
                }
                Event::StartTls => self.start_tls().await,
                Event::Closed(_) => closed = true,
                Event::Greeting(reply) => self.link.greeting = Some(reply),
                Event::Capabilities(caps) => self.link.capabilities = Some(caps),
                Event::Authenticated(m) => {
                    trace::authenticated(&self.span, m.name());
                    self.link.authenticated = Some(m);
                }
                Event::Ready => self.link.ready_at = Some(Instant::now()),
                _ => {}
            }
        }
        if !requeue.is_empty() {
            // Never started: back to the queue for the next connection, in order.
            requeue.sort_by_key(|j| j.submitted);
            feed.requeue(requeue);
        }
        if closed {
            // The session reports every message before it closes; this is a safety net.
            for (_, f) in self.flights.drain() {
                let e = Error::new(
                    ErrorKind::Transient,
                    Stage::Queued,
                    What::Internal("the session ended without reporting the message"),
                );
                feed.settled(f.job, Settled::Failed(e, f.started), &self.link);
            }
        }
        closed
    }

    /// Upgrades the transport after the server's go-ahead, then tells the session.
    async fn start_tls(&mut self) {
        let (Some(Transport::Plain(stream)), Some(setup)) = (self.io.take(), self.config.tls.as_ref()) else {
            self.session.handle_eof();
            return;
        };
        let lenient = self.config.session.get_tls() == Tls::Opportunistic;
        let wait = self.config.session.get_timeouts().tls_handshake;
        match timeout(wait, setup.handshake(stream, lenient)).await {
            Ok(Ok((tls, info))) => {
                let trust = setup.trust(&info);
                trace::tls(&self.span, &info);
                self.link.tls = Some(info);
                let binding = crate::tls::channel_binding(&tls);
                self.io = Some(Transport::Tls(Box::new(tls)));
                let _ = self.session.handle_tls_established(trust);
                if let Some(b) = binding {
                    self.session.set_channel_binding(b);
                }
            }
            Ok(Err(e)) => {
                self.transport_error = Some(TransportError::Tls(Arc::new(e)));
                self.session.handle_eof();
            }
            Err(_) => {
                let e = io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the TLS handshake did not finish in time",
                );
                self.transport_error = Some(TransportError::Tls(Arc::new(e)));
                self.session.handle_eof();
            }
        }
    }

    fn forward_transcript(&mut self) {
        while let Some(line) = self.session.poll_transcript() {
            trace::dialog(&line);
            if let Some(f) = &self.config.transcript {
                f(&line);
            }
        }
    }

    /// Moves what the session has to send behind what waits for the transport; after a failed
    /// write there is nowhere to send it.
    fn collect_output(&mut self) {
        let now = Instant::now();
        if self.out.failed_at.is_some() {
            let mut discard = Vec::new();
            self.session.poll_transmit(now, &mut discard);
        } else if self.session.poll_transmit(now, &mut self.out.buf) {
            self.out.since.get_or_insert(now);
        }
    }

    /// The earliest of the session's timer, the idle timer, the write stall timer, the rate
    /// limit and the drain after a failed write.
    fn deadline(&self) -> Option<Instant> {
        let write = self
            .out
            .since
            .map(|t| t + self.config.session.get_timeouts().data_block);
        let drain = self.out.failed_at.map(|t| t + DRAIN);
        [
            self.session.poll_timeout(),
            self.idle_until,
            write,
            self.rate_wait,
            drain,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}
