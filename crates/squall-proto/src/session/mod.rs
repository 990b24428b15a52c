//! [`ClientSession`]: the SMTP client state machine.

mod body;
mod config;
mod event;
mod flow;
mod state;
mod transcript;
mod transitions;

use std::collections::VecDeque;
use std::time::Instant;

pub use config::{Protocol, SessionConfig, Timeouts, Tls};
pub use event::{Cause, CloseReason, Delivery, ErrorKind, Event, Failure, MessageId, RecipientReply, Stage};
pub use transcript::{Direction, TranscriptLine};

use crate::auth::{ChannelBinding, Mechanism};
use crate::ehlo::Capabilities;
use crate::envelope::Envelope;
use crate::error::{ProtocolError, UsageError};
use crate::reply::ReplyParser;
use body::BodyWriter;
use state::{Encryption, Expect, Outbox, Phase, Reset, Setup, Transaction};
use transcript::Transcript;

/// Whether the server's TLS certificate was verified, as the driver found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Certificate {
    /// The certificate chains to a trusted root and names the server (or the caller chose to
    /// trust any certificate): credentials may be sent.
    Verified,
    /// Opportunistic TLS (RFC 7435) went on although the certificate did not verify: the
    /// session is encrypted against passive listeners only, so credentials are not sent unless
    /// [`SessionConfig::allow_insecure_auth`] says so.
    Unverified,
}

/// A deterministic SMTP client session: no sockets, no clock, no TLS. Feed it the server's bytes,
/// send the bytes it produces, and act on its events.
///
/// # Driving contract
///
/// The methods come in four kinds (the quinn-proto convention):
///
/// * getters such as [`capabilities`](Self::capabilities) and [`is_closed`](Self::is_closed);
/// * `handle_*` for input: [`handle_input`](Self::handle_input) with bytes read from the
///   transport, [`handle_eof`](Self::handle_eof) when it ends or fails,
///   [`handle_timeout`](Self::handle_timeout) when the deadline from `poll_timeout` passes, and
///   [`handle_tls_established`](Self::handle_tls_established) after a STARTTLS handshake;
/// * commands from the application: [`send_mail`](Self::send_mail) queues a message,
///   [`write_body`](Self::write_body) / [`finish_body`](Self::finish_body) /
///   [`abort_body`](Self::abort_body) supply its content, [`quit`](Self::quit) ends the session;
/// * `poll_*` for output, in this order after any of the above:
///   [`poll_transmit`](Self::poll_transmit) (write all of it, in one write, before waiting on
///   anything), [`poll_event`](Self::poll_event) until `None`, [`poll_body`](Self::poll_body)
///   (which message's content is wanted now, if any), then [`poll_timeout`](Self::poll_timeout)
///   to arm the timer.
///
/// A driver loop therefore looks like:
///
/// ```text
/// loop {
///     if session.poll_transmit(now, &mut buf) { write_all(&buf); buf.clear() }
///     while let Some(ev) = session.poll_event() { ... Event::StartTls => upgrade, Event::Closed(_) => return }
///     if let Some(id) = session.poll_body() { feed a piece of id's content; continue }
///     wait for: bytes -> handle_input | EOF -> handle_eof | poll_timeout() -> handle_timeout | new message -> send_mail
/// }
/// ```
///
/// # The dialog
///
/// greeting → EHLO (HELO if EHLO is refused with 5yz) → STARTTLS, when [`Tls`] asks and the
/// server offers it, handed to the driver with [`Event::StartTls`], then EHLO again → AUTH, when
/// credentials are configured → [`Event::Ready`] → messages, in the order queued → QUIT.
///
/// With PIPELINING a message's MAIL, RCPTs and DATA go out in one write, and the end-of-data dot
/// goes out together with the next message's commands. With CHUNKING the content goes in BDAT
/// chunks right behind the RCPTs, and up to [`SessionConfig::max_in_flight`] messages await their
/// final reply at once. A refused recipient is reported and the message goes to the others; a
/// message with no accepted recipient fails alone, an RSET follows, and the queue goes on.
///
/// Every message ends in exactly one [`Event::Delivered`] or [`Event::Failed`], and the session
/// in exactly one [`Event::Closed`], after the outcome of every message handed over before it. A
/// message handed over after that fails at once as [`Cause::NotAttempted`].
///
/// `Debug` shows the state, never the bytes waiting to be sent (they may hold credentials).
pub struct ClientSession {
    config: SessionConfig,
    parser: ReplyParser,
    outbox: Outbox,
    phase: Phase,
    caps: Option<Capabilities>,
    encryption: Encryption,
    /// The mechanism AUTH succeeded with.
    authenticated_with: Option<Mechanism>,
    /// The TLS channel binding the driver supplied, for SCRAM-SHA-256-PLUS.
    channel_binding: Option<ChannelBinding>,
    /// Messages not yet started.
    queue: VecDeque<(MessageId, Envelope)>,
    /// Messages started and not yet settled, oldest first.
    active: VecDeque<Transaction>,
    body: Option<BodyWriter>,
    reset: Reset,
    /// The application asked to QUIT once the queue is done.
    quit_requested: bool,
    events: VecDeque<Event>,
    next_id: u64,
    last_reply: Instant,
}

impl std::fmt::Debug for ClientSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let phase = match &self.phase {
            Phase::Setup(Setup::Auth { exchange, .. }) => format!("Setup(Auth {})", exchange.mechanism()),
            p => format!("{p:?}"),
        };
        f.debug_struct("ClientSession")
            .field("phase", &phase)
            .field("encryption", &self.encryption)
            .field("queued", &self.queue.len())
            .field("active", &self.active.len())
            .field("replies_owed", &self.outbox.pending.len())
            .field("bytes_to_send", &self.outbox.buf.len())
            .finish_non_exhaustive()
    }
}

impl ClientSession {
    /// A session on a transport that has just connected at `now`: it waits for the greeting.
    pub fn new(config: SessionConfig, now: Instant) -> Self {
        let mut outbox = Outbox {
            transcript: Transcript::new(config.transcript),
            ..Outbox::default()
        };
        outbox.pending.push_back(state::Pending {
            expect: Expect::Greeting,
            sent: Some(now),
        });
        Self {
            parser: ReplyParser::new(config.reply_limits),
            // Implicit TLS is verified by the driver before the session exists.
            encryption: match config.tls {
                Tls::Implicit => Encryption::Tls(Certificate::Verified),
                _ => Encryption::None,
            },
            config,
            outbox,
            phase: Phase::Setup(Setup::Greeting),
            caps: None,
            authenticated_with: None,
            channel_binding: None,
            queue: VecDeque::new(),
            active: VecDeque::new(),
            body: None,
            reset: Reset::Clean,
            quit_requested: false,
            events: VecDeque::new(),
            next_id: 0,
            last_reply: now,
        }
    }

    // ---- getters -------------------------------------------------------------------------

    /// The server's extensions from the latest EHLO, `None` before it (and right after STARTTLS).
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.caps.as_ref()
    }

    /// Whether the transport is encrypted (implicit TLS, or after STARTTLS).
    pub fn is_tls(&self) -> bool {
        self.tls().is_some()
    }

    /// The TLS certificate's standing, when the transport is encrypted.
    pub fn tls(&self) -> Option<Certificate> {
        match self.encryption {
            Encryption::Tls(c) => Some(c),
            Encryption::None | Encryption::Declined => None,
        }
    }

    /// Whether setup is done and messages flow.
    pub fn is_ready(&self) -> bool {
        matches!(self.phase, Phase::Ready)
    }

    /// Whether [`send_mail`](Self::send_mail) would try the message: false once QUIT was asked
    /// for or the session is ending (a message handed over then fails at once).
    pub fn accepts_mail(&self) -> bool {
        !self.quit_requested && matches!(self.phase, Phase::Setup(_) | Phase::Ready)
    }

    /// Why the session could not be set up: the stage (greeting, EHLO, STARTTLS or AUTH) and
    /// the cause, once it is ending for that reason. Messages handed over then fail with it.
    pub fn setup_failure(&self) -> Option<(Stage, &Cause)> {
        match &self.phase {
            Phase::Quitting(Some(end)) | Phase::Closed(Some(end)) => Some((end.stage, &end.cause)),
            _ => None,
        }
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed(_))
    }

    /// Ready, with no message queued or in progress and no reply owed: the moment a pool may
    /// reuse the connection or QUIT it.
    pub fn is_idle(&self) -> bool {
        self.is_ready()
            && self.queue.is_empty()
            && self.active.is_empty()
            && self.body.is_none()
            && self.outbox.pending.is_empty()
    }

    /// Messages queued or in progress.
    pub fn in_flight(&self) -> usize {
        self.queue.len() + self.active.len()
    }

    /// How many messages (queued and in progress) it is useful to hand over now: enough to keep
    /// the pipeline full, no more. With CHUNKING and PIPELINING that is
    /// [`SessionConfig::max_in_flight`] plus the next; with DATA and PIPELINING, three (one
    /// awaiting its verdict, one whose commands ride with that end of data, one ready); without
    /// PIPELINING, or before setup is done, two. A driver that holds messages beyond this only
    /// keeps them from another connection.
    pub fn capacity(&self) -> usize {
        let Some(caps) = self.caps.as_ref().filter(|_| self.is_ready()) else {
            return 2;
        };
        if !self.pipelining() {
            2
        } else if self.config.chunking && caps.chunking() {
            self.config.max_in_flight + 1
        } else {
            3
        }
    }

    // ---- input ---------------------------------------------------------------------------

    /// Bytes read from the transport.
    pub fn handle_input(&mut self, bytes: &[u8], now: Instant) {
        match self.phase {
            Phase::Closed(_) => return,
            Phase::Setup(Setup::TlsHandshake { .. }) => {
                // The transport belongs to the TLS handshake now; cleartext is never a reply.
                self.abort_all(CloseReason::Protocol(ProtocolError::DataAfterStartTls {
                    bytes: bytes.len(),
                }));
                return;
            }
            _ => {}
        }
        self.parser.push(bytes);
        // Replies are read until the session closes or hands the transport to a TLS handshake.
        while !matches!(
            self.phase,
            Phase::Closed(_) | Phase::Setup(Setup::TlsHandshake { .. })
        ) {
            match self.parser.next_reply() {
                Ok(Some(reply)) => {
                    self.last_reply = now;
                    self.outbox.transcript.server(&reply);
                    self.on_reply(reply, now);
                }
                Ok(None) => break,
                Err(e) => {
                    self.abort_all(CloseReason::Protocol(e.into()));
                    break;
                }
            }
        }
        self.pump();
    }

    /// The transport ended: EOF, an I/O error, or a failed TLS handshake (the driver keeps the
    /// details). What was owed fails with the stage it was at.
    pub fn handle_eof(&mut self) {
        match self.phase {
            Phase::Closed(_) => {}
            Phase::Quitting(_) if self.active.is_empty() => self.finish_close(),
            Phase::Setup(Setup::TlsHandshake { .. }) => self.abort_all(CloseReason::ConnectionLost {
                stage: Some(Stage::StartTls),
            }),
            _ => {
                let stage = self.current_stage();
                self.abort_all(CloseReason::ConnectionLost { stage });
            }
        }
    }

    /// Call when the instant from [`poll_timeout`](Self::poll_timeout) has passed. A reply that
    /// did not come in time ends the session: what was waiting fails as transient.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|deadline| now >= deadline) {
            let stage = match self.phase {
                Phase::Setup(Setup::TlsHandshake { .. }) => Stage::StartTls,
                _ => self
                    .outbox
                    .pending
                    .front()
                    .map_or(Stage::Queued, |p| p.expect.stage()),
            };
            self.abort_all(CloseReason::Timeout { stage });
        }
    }

    /// The driver finished the TLS handshake that [`Event::StartTls`] asked for, with this
    /// standing of the server's certificate. Capabilities are forgotten and EHLO is sent again
    /// (RFC 3207 §4.2).
    pub fn handle_tls_established(&mut self, certificate: Certificate) -> Result<(), UsageError> {
        if !matches!(self.phase, Phase::Setup(Setup::TlsHandshake { .. })) {
            return Err(UsageError::NoTlsHandoff);
        }
        self.tls_established(certificate);
        Ok(())
    }

    /// The channel binding of the TLS connection (implicit TLS or after the STARTTLS
    /// handshake), so that SCRAM-SHA-256-PLUS can be used where offered. Call before the EHLO
    /// reply that follows the handshake is handled (right after `new` for implicit TLS, right
    /// after [`handle_tls_established`](Self::handle_tls_established) for STARTTLS). Ignored
    /// over cleartext.
    pub fn set_channel_binding(&mut self, binding: ChannelBinding) {
        self.channel_binding = Some(binding);
    }

    // ---- commands ------------------------------------------------------------------------

    /// Queues a message. Its content is asked for later through [`poll_body`](Self::poll_body);
    /// its outcome arrives as [`Event::Delivered`] or [`Event::Failed`] with the returned id.
    pub fn send_mail(&mut self, envelope: Envelope) -> MessageId {
        let id = MessageId(self.next_id);
        self.next_id += 1;
        if !self.accepts_mail() {
            let (stage, cause) = match &self.phase {
                Phase::Quitting(Some(end)) | Phase::Closed(Some(end)) if end.refused => {
                    (end.stage, end.cause.clone())
                }
                _ => (Stage::Queued, Cause::NotAttempted),
            };
            self.emit_failure(id, stage, cause);
        } else {
            self.queue.push_back((id, envelope));
            self.pump();
        }
        id
    }

    /// Finish the queued messages, then send QUIT. Messages queued afterwards fail unsent.
    pub fn quit(&mut self) {
        self.quit_requested = true;
        self.pump();
    }

    // ---- output --------------------------------------------------------------------------

    /// Moves every byte waiting to be sent into `buf` (appending) and returns whether there were
    /// any. Write them all, in one write, before waiting on the transport. `now` starts the reply
    /// timers of the commands handed over.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool {
        self.outbox.take(now, buf)
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called, if a reply is awaited.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let t = &self.config.timeouts;
        match self.phase {
            Phase::Setup(Setup::TlsHandshake { since }) => Some(since + t.tls_handshake),
            Phase::Closed(_) => None,
            _ => {
                let head = self.outbox.pending.front()?;
                let since = head.sent?.max(self.last_reply);
                let wait = match head.expect {
                    Expect::Greeting => t.greeting,
                    Expect::Mail(_) => t.mail,
                    Expect::Rcpt(..) => t.rcpt,
                    Expect::Data(_) => t.data,
                    Expect::Bdat(_, false) => t.data_block,
                    Expect::DataEnd(_) | Expect::Bdat(_, true) => t.data_end,
                    Expect::Quit => t.quit,
                    Expect::Ehlo | Expect::Helo | Expect::StartTls | Expect::Auth | Expect::Rset => t.command,
                };
                Some(since + wait)
            }
        }
    }

    /// The next line of the redacted transcript, when [`SessionConfig::transcript`] is on.
    pub fn poll_transcript(&mut self) -> Option<TranscriptLine> {
        self.outbox.transcript.pop()
    }
}

#[cfg(test)]
mod tests;
