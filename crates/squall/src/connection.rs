//! One connection: connect, drive a [`ClientSession`] over the transport, complete the jobs.
//!
//! The loop follows the session's driving contract: hand it queued messages, move its output to
//! the socket, act on its events, feed it message content when it asks, and otherwise wait — for
//! bytes from the server, for the socket to take more, for a body stream, for the session's
//! timer, or for new messages. Reading never stops while writing, so a large body cannot
//! deadlock against a server that answers while it reads.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use squall_proto::address::EhloName;
use squall_proto::auth::{Credentials, Mechanism};
use squall_proto::reply::Reply;
use squall_proto::session::{Cause, ClientSession, Event, Failure, MessageId, Stage as ProtoStage, TlsMode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::body::Source;
use crate::client::{Job, Pop, Shared};
use crate::error::{Error, ErrorKind, Stage, TransportError, What, copy_io, tls_kind};
use crate::probe::{ServerReport, TlsInfo};
use crate::retry::{self, Next};
use crate::transport::Transport;

/// Bytes waiting for the socket before more content is read.
const WRITE_HIGH_WATER: usize = 256 * 1024;

/// Why a connection could not be set up: every message waiting would fail the same way.
pub(crate) struct SetupFailure {
    kind: ErrorKind,
    make: Box<dyn Fn() -> Error + Send + Sync>,
}

impl SetupFailure {
    fn new(kind: ErrorKind, make: impl Fn() -> Error + Send + Sync + 'static) -> Self {
        Self {
            kind,
            make: Box::new(make),
        }
    }
}

/// Runs connections while messages are queued; the task ends when none are left.
///
/// A connection that cannot be set up (refused, greeting or EHLO refused, TLS or AUTH failing)
/// is tried again after a backoff while the failure is temporary, as often as the retry policy
/// allows; then the messages that were waiting when the last attempt began fail with it.
pub(crate) async fn worker(shared: Arc<Shared>) {
    let mut guard = WorkerGuard(Some(shared.clone()));
    let mut failures = 0u32;
    loop {
        let began = Instant::now();
        match run(&shared).await {
            Ok(()) => failures = 0,
            Err(setup) => {
                failures += 1;
                let policy = shared.config.retry;
                if setup.kind == ErrorKind::Transient && failures < policy.attempts {
                    // Waiting, but not past a queued message's deadline.
                    let mut wake = Instant::now() + crate::retry::backoff(&policy, failures);
                    if let Some(d) = shared.earliest_deadline() {
                        wake = wake.min(d);
                    }
                    tokio::time::sleep_until(wake.into()).await;
                    shared.expire(Some(&*setup.make));
                } else {
                    shared.fail_queued(began, &*setup.make);
                    failures = 0;
                }
            }
        }
        if shared.worker_may_stop() {
            guard.0 = None;
            return;
        }
    }
}

/// Gives the connection slot back if a worker ends abnormally (a panic is a bug in squall, but
/// it must not leave the client unable to open connections, or waiters hanging).
struct WorkerGuard(Option<Arc<Shared>>);

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        if let Some(shared) = self.0.take() {
            shared.worker_failed();
        }
    }
}

/// One connection from connect to close.
async fn run(shared: &Arc<Shared>) -> Result<(), SetupFailure> {
    open(shared, false).await?.drive().await
}

/// A session set up and closed at once, with what the server showed (see [`Client::probe`]).
///
/// [`Client::probe`]: crate::Client::probe
pub(crate) async fn probe(shared: &Arc<Shared>) -> Result<ServerReport, Error> {
    let started = Instant::now();
    let mut conn = open(shared, true).await.map_err(|f| (f.make)())?;
    let outcome = conn.drive().await;
    let seen = std::mem::take(&mut conn.seen);
    match (outcome, seen.ready, seen.greeting, conn.session.capabilities()) {
        (Ok(()), Some(elapsed), Some(greeting), Some(caps)) => Ok(ServerReport {
            server: conn.server.clone(),
            greeting,
            capabilities: caps.clone(),
            tls: seen.tls,
            authenticated: seen.authenticated,
            elapsed: elapsed.duration_since(started),
        }),
        (Err(f), ..) => Err((f.make)()),
        _ => Err(conn.error_now()),
    }
}

/// Connects (with implicit TLS when configured) and makes the session, ready to drive.
async fn open(shared: &Arc<Shared>, probe: bool) -> Result<Conn<'_>, SetupFailure> {
    let cfg = &shared.config;
    let server = cfg.server();
    let fail_all = |stage: Stage, what: Box<dyn Fn() -> What + Send + Sync>| {
        let kind = match what() {
            What::Tls(e) => tls_kind(&e),
            _ => ErrorKind::Transient,
        };
        let server = server.clone();
        Err(SetupFailure::new(kind, move || {
            Error::new(kind, stage, what()).with_server(&server)
        }))
    };
    let tcp = match timeout(
        cfg.connect_timeout,
        TcpStream::connect((cfg.host.as_str(), cfg.port)),
    )
    .await
    {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => return fail_all(Stage::Connect, Box::new(move || What::Connect(copy_io(&e)))),
        Err(_) => {
            let why = format!("no answer within {:?}", cfg.connect_timeout);
            return fail_all(
                Stage::Connect,
                Box::new(move || What::Connect(io::Error::new(io::ErrorKind::TimedOut, why.clone()))),
            );
        }
    };
    let _ = tcp.set_nodelay(true);
    shared.opened.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let local = tcp.local_addr().map(|a| a.ip()).unwrap_or([127, 0, 0, 1].into());
    let mut seen = Seen::default();
    let transport = match (&cfg.tls_setup, cfg.tls) {
        (Some(setup), TlsMode::Implicit) => {
            match timeout(cfg.timeouts.tls_handshake, setup.connect(tcp)).await {
                Ok(Ok(tls)) => {
                    seen.tls = Some(TlsInfo::of(&tls));
                    Transport::Tls(Box::new(tls))
                }
                Ok(Err(e)) => return fail_all(Stage::Tls, Box::new(move || What::Tls(copy_io(&e)))),
                Err(_) => return fail_all(Stage::Tls, Box::new(|| What::Timeout)),
            }
        }
        _ => Transport::Plain(tcp),
    };
    let ehlo = cfg.ehlo.clone().unwrap_or_else(|| EhloName::from_ip(local));
    let fresh = match &cfg.token_source {
        Some((user, source)) => match source()
            .await
            .and_then(|t| Credentials::oauth2(user, t).map_err(|e| e.to_string()))
        {
            Ok(c) => Some(c),
            Err(why) => return fail_all(Stage::Auth, Box::new(move || What::Token(why.clone()))),
        },
        None => None,
    };
    Ok(Conn {
        shared,
        server,
        session: ClientSession::new(cfg.session(ehlo, fresh), Instant::now()),
        io: Some(tokio::io::split(transport)),
        rbuf: vec![0; 64 * 1024],
        wbuf: Vec::new(),
        wpos: 0,
        needs_flush: false,
        write_since: None,
        flights: HashMap::new(),
        body_buf: Vec::new(),
        transport_error: None,
        idle_since: None,
        quitting: false,
        lookahead: cfg.max_in_flight + 1,
        handed: 0,
        rate_wait: None,
        probe,
        seen,
    })
}

/// What the server showed during setup.
#[derive(Default)]
struct Seen {
    greeting: Option<Reply>,
    tls: Option<TlsInfo>,
    authenticated: Option<Mechanism>,
    /// When the session became ready.
    ready: Option<Instant>,
}

/// A message handed to the session.
struct Flight {
    job: Job,
    /// When this attempt started.
    started: (SystemTime, Instant),
    /// How far in-memory content has been handed over.
    pos: usize,
    /// A file opened (or a stream taken) for this attempt's content.
    stream: Option<Box<dyn AsyncRead + Send + Unpin>>,
}

struct Conn<'a> {
    shared: &'a Arc<Shared>,
    server: String,
    session: ClientSession,
    io: Option<(ReadHalf<Transport>, WriteHalf<Transport>)>,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    wpos: usize,
    /// TLS may hold written bytes back until flushed.
    needs_flush: bool,
    /// When the bytes now waiting for the socket started to wait.
    write_since: Option<Instant>,
    flights: HashMap<MessageId, Flight>,
    body_buf: Vec<u8>,
    /// What went wrong with the transport, to explain a lost connection.
    transport_error: Option<TransportError>,
    idle_since: Option<Instant>,
    quitting: bool,
    lookahead: usize,
    /// Messages handed to this connection's session.
    handed: u64,
    /// The rate limit holds the next message until then.
    rate_wait: Option<Instant>,
    /// Set up, report, QUIT: no messages.
    probe: bool,
    seen: Seen,
}

/// What woke the connection up.
enum Wake {
    Read(io::Result<usize>),
    Wrote(io::Result<usize>),
    Flushed(io::Result<()>),
    Body(MessageId, io::Result<usize>),
    Timer,
    Jobs,
}

impl Conn<'_> {
    async fn drive(&mut self) -> Result<(), SetupFailure> {
        loop {
            self.hand_over_jobs();
            self.check_idle();
            self.open_stream().await;
            if self.handle_events().await {
                break;
            }
            self.forward_transcript();
            if self.feed_memory_body() {
                continue;
            }
            self.collect_output();
            let wake = self.wait().await;
            self.on_wake(wake);
        }
        self.forward_transcript();
        if let Some((rd, wr)) = self.io.take() {
            let mut t = rd.unsplit(wr);
            let _ = timeout(std::time::Duration::from_secs(1), t.shutdown()).await;
        }
        let Some((stage, cause)) = self.session.setup_failure() else {
            return Ok(());
        };
        let cause = cause.clone();
        let transport = self.transport_error.as_ref().map(TransportError::copy);
        let kind = Error::from_setup(stage, cause.clone(), transport.as_ref()).kind();
        let server = self.server.clone();
        Err(SetupFailure::new(kind, move || {
            Error::from_setup(stage, cause.clone(), transport.as_ref()).with_server(&server)
        }))
    }

    /// The session closed before it was ready, without a setup failure of its own (a lost
    /// connection after the greeting, say): the error for it.
    fn error_now(&self) -> Error {
        let stage = if self.seen.greeting.is_some() {
            ProtoStage::Ehlo
        } else {
            ProtoStage::Greeting
        };
        Error::from_setup(stage, Cause::ConnectionLost, self.transport_error.as_ref())
            .with_server(&self.server)
    }

    /// Queued messages go to the session while it has room (it needs the next one before the
    /// current one's content ends, to pipeline them).
    fn hand_over_jobs(&mut self) {
        self.rate_wait = None;
        // A session that is ending (QUIT after a refusal, or idle) takes no more: what is queued
        // waits for the next connection rather than failing with this one's error.
        if self.probe || self.quitting || !self.session.accepts_mail() {
            return;
        }
        // Fair dispatch: while the queue is short, each connection takes its share of it (at
        // least two, to pipeline one message behind another) instead of the first taking all.
        let share = self.shared.fair_share(self.lookahead);
        while self.session.in_flight() < share && !self.used_up() {
            match self.shared.pop() {
                Pop::Job(job) => {
                    let id = self.session.send_mail(job.envelope.clone());
                    let started = (SystemTime::now(), Instant::now());
                    self.flights.insert(
                        id,
                        Flight {
                            job,
                            started,
                            pos: 0,
                            stream: None,
                        },
                    );
                    self.handed += 1;
                }
                Pop::Wait(at) => {
                    self.rate_wait = Some(at);
                    break;
                }
                Pop::Empty => break,
            }
        }
    }

    /// Whether this connection has carried its share of messages.
    fn used_up(&self) -> bool {
        self.shared
            .config
            .max_messages_per_connection
            .is_some_and(|max| self.handed >= max)
    }

    fn collect_output(&mut self) {
        if self.session.poll_transmit(Instant::now(), &mut self.wbuf) {
            self.write_since.get_or_insert_with(Instant::now);
        }
    }

    /// Acts on the session's events; true once the session is closed.
    async fn handle_events(&mut self) -> bool {
        let mut closed = false;
        let mut requeue = Vec::new();
        let policy = self.shared.config.retry;
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::Delivered(d) => {
                    if let Some(f) = self.flights.remove(&d.id) {
                        self.conclude(retry::after_delivery(f.job, d, f.started, &policy));
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
                    let error = self.error(failure.clone());
                    self.conclude(retry::after_failure(f.job, failure, error, f.started, &policy));
                }
                Event::StartTls => self.start_tls().await,
                Event::Closed(_) => closed = true,
                Event::Greeting(reply) => self.seen.greeting = Some(reply),
                Event::Authenticated(m) => self.seen.authenticated = Some(m),
                Event::Ready => {
                    self.seen.ready = Some(Instant::now());
                    if self.probe {
                        self.quitting = true;
                        self.session.quit();
                    }
                }
                _ => {}
            }
        }
        if !requeue.is_empty() {
            // Never started: they go back to the queue for the next connection, in order.
            requeue.sort_by_key(|j| j.submitted);
            self.shared.requeue(requeue);
        }
        if closed {
            // The session reports every message before it closes; this is a safety net.
            for (_, f) in self.flights.drain() {
                let e = Error::new(ErrorKind::Transient, Stage::Mail, What::ConnectionLost(None));
                retry::give_up(f.job, e.with_server(&self.server));
            }
        }
        closed
    }

    /// Tells the caller, or queues the message again later.
    fn conclude(&self, next: Next) {
        match next {
            Next::Finish(job, result) => {
                let _ = job.done.send(result);
            }
            Next::Retry(job, delay) => self.shared.retry_later(job, delay),
        }
    }

    fn error(&self, failure: Failure) -> Error {
        Error::from_failure(failure, self.transport_error.as_ref()).with_server(&self.server)
    }

    /// Upgrades the transport after the server's go-ahead, then tells the session.
    async fn start_tls(&mut self) {
        let (Some((rd, wr)), Some(setup)) = (self.io.take(), self.shared.config.tls_setup.as_ref()) else {
            self.session.handle_eof();
            return;
        };
        let Transport::Plain(tcp) = rd.unsplit(wr) else {
            self.session.handle_eof();
            return;
        };
        match timeout(self.shared.config.timeouts.tls_handshake, setup.connect(tcp)).await {
            Ok(Ok(tls)) => {
                self.seen.tls = Some(TlsInfo::of(&tls));
                self.io = Some(tokio::io::split(Transport::Tls(Box::new(tls))));
                let _ = self.session.handle_tls_established();
            }
            Ok(Err(e)) => {
                self.transport_error = Some(TransportError::Tls(e));
                self.session.handle_eof();
            }
            Err(_) => {
                let e = io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the TLS handshake did not finish in time",
                );
                self.transport_error = Some(TransportError::Tls(e));
                self.session.handle_eof();
            }
        }
    }

    fn forward_transcript(&mut self) {
        while let Some(line) = self.session.poll_transcript() {
            if let Some(f) = &self.shared.config.transcript {
                f(&line);
            }
        }
    }

    fn pending_write(&self) -> usize {
        self.wbuf.len() - self.wpos
    }

    /// Hands the session a piece of in-memory content if it wants one; true if it did.
    fn feed_memory_body(&mut self) -> bool {
        if self.pending_write() >= WRITE_HIGH_WATER {
            return false;
        }
        let Some(id) = self.session.poll_body() else {
            return false;
        };
        let Some(f) = self.flights.get_mut(&id) else {
            let _ = self
                .session
                .abort_body(id, "the message is no longer known to the driver");
            return true;
        };
        let Source::Bytes(data) = &f.job.body.0 else {
            return false;
        };
        let start = f.pos;
        let end = (start + 64 * 1024).min(data.len());
        f.pos = end;
        let result = if start == end {
            self.session.finish_body(id)
        } else {
            self.session.write_body(id, &data[start..end])
        };
        debug_assert!(result.is_ok(), "poll_body said the body was wanted");
        true
    }

    /// Opens the file (or takes the stream) of the body the session wants next, on first use;
    /// one that cannot be read aborts that message (before the events are handled, so that the
    /// outcome is seen in this same pass).
    async fn open_stream(&mut self) {
        let Some(id) = self.session.poll_body() else {
            return;
        };
        let Some(f) = self.flights.get_mut(&id) else {
            return;
        };
        if f.stream.is_some() {
            return;
        }
        let opened: Result<Box<dyn AsyncRead + Send + Unpin>, String> = match &mut f.job.body.0 {
            Source::Bytes(_) => return,
            Source::File(path) => match tokio::fs::File::open(&*path).await {
                Ok(file) => Ok(Box::new(file)),
                Err(e) => Err(format!("cannot open {}: {e}", path.display())),
            },
            Source::Reader(r) => r.take().ok_or_else(|| "the stream was already read".to_string()),
        };
        match opened {
            Ok(stream) => f.stream = Some(stream),
            Err(why) => {
                let _ = self.session.abort_body(id, why);
            }
        }
    }

    /// The stream body the session wants now, if it is open and the socket keeps up.
    fn wanted_stream(&self) -> Option<MessageId> {
        if self.pending_write() >= WRITE_HIGH_WATER {
            return None;
        }
        let id = self.session.poll_body()?;
        self.flights.get(&id)?.stream.is_some().then_some(id)
    }

    fn check_idle(&mut self) {
        if self.quitting {
            return;
        }
        let nothing_to_take = self.used_up() || !self.shared.has_jobs();
        if self.session.is_idle() && nothing_to_take && self.pending_write() == 0 {
            let now = Instant::now();
            let since = *self.idle_since.get_or_insert(now);
            // A connection that carried its share quits at once; the worker opens the next.
            let done = self.used_up() || self.shared.closing();
            if done || now >= since + self.shared.config.idle_timeout {
                self.quitting = true;
                self.idle_since = None;
                self.session.quit();
            }
        } else {
            self.idle_since = None;
        }
    }

    /// The earliest of the session's timer, the idle timer and the write stall timer.
    fn deadline(&self) -> Option<Instant> {
        let idle = self.idle_since.map(|t| t + self.shared.config.idle_timeout);
        let write = self
            .write_since
            .map(|t| t + self.shared.config.timeouts.data_block);
        [self.session.poll_timeout(), idle, write, self.rate_wait]
            .into_iter()
            .flatten()
            .min()
    }

    async fn wait(&mut self) -> Wake {
        let pending = self.wpos < self.wbuf.len();
        let flush = self.needs_flush && !pending;
        let stream = self.wanted_stream();
        // Only a connection that would take a job waits for the wake-up (it wakes one waiter).
        let want_jobs = !self.probe
            && !self.quitting
            && !self.used_up()
            && self.session.accepts_mail()
            && self.rate_wait.is_none()
            && self.session.in_flight() < self.shared.fair_share(self.lookahead);
        let deadline = self.deadline().map(tokio::time::Instant::from_std);
        let Some((rd, wr)) = self.io.as_mut() else {
            return Wake::Timer;
        };
        let body = stream.and_then(|id| Some((id, self.flights.get_mut(&id)?.stream.as_mut()?)));
        let body_buf = &mut self.body_buf;
        if body.is_some() {
            body_buf.resize(64 * 1024, 0);
        }
        let unwritten = &self.wbuf[self.wpos..];
        tokio::select! {
            r = rd.read(&mut self.rbuf) => Wake::Read(r),
            w = async {
                if pending {
                    Wake::Wrote(wr.write(unwritten).await)
                } else {
                    Wake::Flushed(wr.flush().await)
                }
            }, if pending || flush => w,
            b = async {
                match body {
                    Some((id, r)) => (id, r.read(body_buf).await),
                    None => std::future::pending().await,
                }
            } => Wake::Body(b.0, b.1),
            _ = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            } => Wake::Timer,
            _ = self.shared.wake.notified(), if want_jobs => Wake::Jobs,
        }
    }

    fn on_wake(&mut self, wake: Wake) {
        let now = Instant::now();
        match wake {
            Wake::Read(Ok(0)) => self.session.handle_eof(),
            Wake::Read(Ok(n)) => self.session.handle_input(&self.rbuf[..n], now),
            Wake::Read(Err(e)) | Wake::Wrote(Err(e)) | Wake::Flushed(Err(e)) => {
                self.transport_error.get_or_insert(TransportError::Io(e));
                self.session.handle_eof();
            }
            Wake::Wrote(Ok(0)) => {
                self.transport_error
                    .get_or_insert(TransportError::Io(io::ErrorKind::WriteZero.into()));
                self.session.handle_eof();
            }
            Wake::Wrote(Ok(n)) => {
                self.wpos += n;
                self.write_since = Some(now);
                if self.wpos == self.wbuf.len() {
                    self.wbuf.clear();
                    self.wpos = 0;
                    self.write_since = None;
                    self.needs_flush = true;
                }
            }
            Wake::Flushed(Ok(())) => self.needs_flush = false,
            Wake::Body(id, Ok(0)) => {
                let _ = self.session.finish_body(id);
            }
            Wake::Body(id, Ok(n)) => {
                let _ = self.session.write_body(id, &self.body_buf[..n]);
            }
            Wake::Body(id, Err(e)) => {
                let _ = self.session.abort_body(id, e.to_string());
                self.transport_error.get_or_insert(TransportError::Body(e));
            }
            Wake::Timer => {
                let stalled = self
                    .write_since
                    .is_some_and(|t| now >= t + self.shared.config.timeouts.data_block);
                if stalled {
                    self.transport_error.get_or_insert(TransportError::WriteTimeout);
                    self.session.handle_eof();
                } else {
                    self.session.handle_timeout(now);
                }
            }
            Wake::Jobs => {}
        }
    }
}
