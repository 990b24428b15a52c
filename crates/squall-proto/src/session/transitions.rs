//! The one place that changes state: the phase, each transaction's state and the reset state are
//! written here and only here (the rule h11's `_state.py` keeps), so every way the session can
//! move is on this page.
//!
//! Read [`ClientSession::on_reply`] as a table: each arm is one owed reply, and within it the
//! reply's class decides. A class that makes no sense for the command is a protocol error, never
//! guessed around. Below it are the transitions the other files call: entering a setup step,
//! ready, quitting and closed; starting, opening, finishing and dropping a message's content.

use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::event::{Cause, CloseReason, Event, MessageId, Stage};
use super::state::{Encryption, Expect, Phase, Reset, Setup, SetupEnd, Transaction, Transfer, TxState};
use super::{Certificate, ClientSession, Protocol, Tls};
use crate::auth::SaslResponse;
use crate::auth::ScramError;
use crate::command::Command;
use crate::ehlo::Capabilities;
use crate::error::{PolicyError, ProtocolError};
use crate::reply::{Class, Reply, ReplyCode};

impl ClientSession {
    pub(super) fn on_reply(&mut self, reply: Reply, now: Instant) {
        let head = self.outbox.pending.front().map(|p| p.expect);
        // 421 may answer any command, or come unprompted: the server is going away.
        if reply.code() == ReplyCode::SERVICE_CLOSING && head != Some(Expect::Quit) {
            self.abort_all(CloseReason::ServerClosing(reply));
            return;
        }
        // A reply pairs only with a command already handed to the transport: anything else
        // answers a command the server has not seen (RFC 2920 §3.1 pairs by count, in order).
        if self.outbox.pending.front().is_none_or(|p| p.sent.is_none()) {
            self.abort_all(CloseReason::Protocol(ProtocolError::Unsolicited(reply)));
            return;
        }
        let Some(expect) = self.outbox.pop() else { return };
        let class = reply.code().class();
        match (expect, class) {
            (Expect::Greeting, Class::Completion) => {
                self.events.push_back(Event::Greeting(reply));
                self.send_ehlo();
                self.enter_setup(Setup::Hello);
            }
            (Expect::Greeting, Class::TransientFailure | Class::PermanentFailure) => {
                self.events.push_back(Event::Greeting(reply.clone()));
                self.refuse(Stage::Greeting, Cause::Rejected(reply));
            }

            (Expect::Ehlo, Class::Completion) => self.hello_done(Capabilities::from_ehlo(&reply)),
            // RFC 5321 §3.2: a server that does not know EHLO gets HELO (LMTP has no fallback).
            (Expect::Ehlo, Class::PermanentFailure) if self.config.protocol == Protocol::Smtp => {
                self.send_helo()
            }
            (Expect::Helo, Class::Completion) => self.hello_done(Capabilities::from_helo(&reply)),
            (Expect::Ehlo | Expect::Helo, Class::TransientFailure | Class::PermanentFailure) => {
                self.refuse(Stage::Ehlo, Cause::Rejected(reply));
            }

            (Expect::StartTls, Class::Completion) => {
                // Anything already buffered arrived in cleartext and would be read as if it came
                // through TLS: the STARTTLS response-injection attack (CVE-2011-0411 class).
                if !self.parser.is_empty() {
                    let bytes = self.parser.buffered().len();
                    self.fail_at(expect, now, ProtocolError::DataAfterStartTls { bytes });
                    return;
                }
                self.outbox.transcript.info(|| "TLS handshake".to_string());
                self.enter_setup(Setup::TlsHandshake { since: now });
                self.events.push_back(Event::StartTls);
            }
            (Expect::StartTls, Class::TransientFailure | Class::PermanentFailure) => {
                if self.config.tls == Tls::Opportunistic {
                    self.encryption = Encryption::Declined;
                    self.after_hello();
                } else {
                    self.refuse(Stage::StartTls, Cause::Rejected(reply));
                }
            }

            (Expect::Auth, _) => self.on_auth(reply),

            (Expect::Mail(id), Class::Completion | Class::TransientFailure | Class::PermanentFailure) => {
                self.on_mail(id, reply)
            }
            (Expect::Rcpt(id, i), Class::Completion | Class::TransientFailure | Class::PermanentFailure) => {
                self.on_rcpt(id, i, reply)
            }
            (Expect::Data(id), Class::Intermediate | Class::TransientFailure | Class::PermanentFailure) => {
                self.on_data(id, reply)
            }
            (Expect::DataEnd(id), Class::Completion | Class::TransientFailure | Class::PermanentFailure) => {
                self.on_final(id, reply, expect)
            }
            (
                Expect::Bdat(id, last),
                Class::Completion | Class::TransientFailure | Class::PermanentFailure,
            ) => self.on_bdat(id, last, reply),

            (Expect::Rset, Class::Completion) => {}
            (Expect::Quit, _) => self.finish_close(),

            (expect, _) => self.unexpected(expect, now, reply),
        }
    }

    fn unexpected(&mut self, expect: Expect, now: Instant, reply: Reply) {
        let error = ProtocolError::UnexpectedReply {
            expected: expected(expect),
            reply,
        };
        self.fail_at(expect, now, error);
    }

    /// Ends the session on a protocol error in answer to `expect`, which is put back first so
    /// that failures report the stage it happened at.
    fn fail_at(&mut self, expect: Expect, now: Instant, error: ProtocolError) {
        self.outbox.pending.push_front(super::state::Pending {
            expect,
            sent: Some(now),
        });
        self.abort_all(CloseReason::Protocol(error));
    }

    fn hello_done(&mut self, caps: Capabilities) {
        self.events.push_back(Event::Capabilities(caps.clone()));
        self.caps = Some(caps);
        self.after_hello();
    }

    /// A reply during the SASL exchange: only 235 means success (RFC 4954 §4), and never after
    /// the client cancelled; 334 asks for the next step.
    fn on_auth(&mut self, reply: Reply) {
        let Phase::Setup(Setup::Auth { exchange, cancelled }) = &mut self.phase else {
            return;
        };
        match reply.code().class() {
            // SCRAM: a 235 before the server's signature checked out proves nothing about the
            // server; it is refused, never taken as a login.
            Class::Completion
                if reply.code() == ReplyCode::AUTH_SUCCEEDED
                    && cancelled.is_none()
                    && !exchange.server_verified() =>
            {
                let e = PolicyError::Scram(ScramError::MissingServerSignature);
                self.refuse(Stage::Auth, Cause::Policy(e));
            }
            Class::Completion if reply.code() == ReplyCode::AUTH_SUCCEEDED && cancelled.is_none() => {
                let mechanism = exchange.mechanism().clone();
                self.authenticated_with = Some(mechanism.clone());
                self.events.push_back(Event::Authenticated(mechanism));
                self.after_hello();
            }
            Class::Intermediate if cancelled.is_none() => {
                let text = reply.lines().first().map_or("", |l| l.trim());
                let response = match BASE64.decode(text) {
                    Ok(challenge) => exchange.respond(&challenge),
                    Err(_) => {
                        *cancelled = Some(Cause::Protocol(ProtocolError::BadChallenge(format!(
                            "the server's 334 challenge is not base64: {reply}"
                        ))));
                        SaslResponse::Cancel
                    }
                };
                match response {
                    SaslResponse::Data(data) => self.outbox.send(&Command::AuthResponse(&data), Expect::Auth),
                    SaslResponse::Cancel => {
                        let mechanism = exchange.mechanism().clone();
                        let scram = exchange.take_error();
                        cancelled.get_or_insert_with(|| match scram {
                            Some(e) => Cause::Policy(PolicyError::Scram(e)),
                            None => Cause::Protocol(ProtocolError::BadChallenge(format!(
                                "the server sent another 334 challenge after the {mechanism} exchange was complete"
                            ))),
                        });
                        self.outbox.send(&Command::AuthCancel, Expect::Auth);
                    }
                }
            }
            Class::TransientFailure | Class::PermanentFailure => {
                let cause = cancelled.take().unwrap_or(Cause::Rejected(reply));
                self.refuse(Stage::Auth, cause);
            }
            _ => {
                let now = self.last_reply;
                self.unexpected(Expect::Auth, now, reply);
            }
        }
    }

    /// The index in `active` of a message a reply was owed for.
    fn index_of(&self, id: MessageId) -> Option<usize> {
        self.active.iter().position(|t| t.id == id)
    }

    fn on_mail(&mut self, id: MessageId, reply: Reply) {
        let Some(idx) = self.index_of(id) else { return };
        let tx = &mut self.active[idx];
        tx.mail = Some(reply.clone());
        if reply.is_positive() {
            if !tx.pipelined {
                self.send_rcpt(idx, 0);
            }
        } else {
            tx.fail(Stage::Mail, Cause::Rejected(reply));
            tx.state = TxState::Sent;
            self.drop_body(id);
        }
        self.settle(idx);
    }

    fn on_rcpt(&mut self, id: MessageId, i: usize, reply: Reply) {
        let Some(idx) = self.index_of(id) else { return };
        let tx = &mut self.active[idx];
        if let Some(slot) = tx.rcpts.get_mut(i) {
            *slot = Some(reply);
        }
        let no_valid = tx.rcpts_done() && tx.accepted_count() == 0;
        if no_valid {
            tx.fail(Stage::Rcpt, Cause::NoValidRecipients);
        }
        if tx.pipelined {
            if no_valid {
                self.drop_body(id);
            }
        } else if i + 1 < tx.rcpts.len() {
            self.send_rcpt(idx, i + 1);
        } else if no_valid {
            // MAIL was accepted: the transaction is open until an RSET.
            tx.state = TxState::Sent;
            self.reset_after(id);
        } else {
            match tx.transfer {
                Transfer::Data => self.outbox.send(&Command::Data, Expect::Data(id)),
                Transfer::Bdat => self.open_body(idx),
            }
        }
        self.settle(idx);
    }

    fn on_data(&mut self, id: MessageId, reply: Reply) {
        let Some(idx) = self.index_of(id) else { return };
        let tx = &mut self.active[idx];
        if reply.code().class() == Class::Intermediate {
            if tx.failure.is_none() && tx.accepted_count() > 0 {
                self.open_body(idx);
            } else {
                // RFC 2920 §3.1: a 354 after every recipient was refused still puts the server
                // in data mode; end it with an empty message, whose reply is ignored.
                tx.fail(Stage::Rcpt, Cause::NoValidRecipients);
                tx.state = TxState::Sent;
                self.outbox.send_raw(b".\r\n", Expect::DataEnd(id), ".");
            }
        } else {
            tx.fail(Stage::Data, Cause::Rejected(reply));
            tx.state = TxState::Sent;
            if tx.may_be_open() {
                self.reset_after(id);
            }
        }
        self.settle(idx);
    }

    fn on_final(&mut self, id: MessageId, reply: Reply, expect: Expect) {
        let Some(idx) = self.index_of(id) else { return };
        if self.config.protocol == Protocol::Lmtp && self.active[idx].next_final().is_some() {
            self.on_lmtp_final(idx, reply, expect);
            return;
        }
        let tx = &mut self.active[idx];
        if reply.is_positive() {
            tx.final_reply = Some(reply);
        } else {
            tx.fail(Stage::DataEnd, Cause::Rejected(reply));
        }
        self.settle(idx);
    }

    /// LMTP (RFC 2033 §4.2): the reply after the content is one of several, one per accepted
    /// recipient in RCPT order. While another is owed, the same expectation goes back to the
    /// head of the queue (replies still pair by count, never by text). Once all are in, the
    /// message is delivered if any mailbox took it; the others become refused recipients, as a
    /// refused RCPT does in SMTP.
    fn on_lmtp_final(&mut self, idx: usize, reply: Reply, expect: Expect) {
        let tx = &mut self.active[idx];
        let Some(i) = tx.next_final() else { return };
        tx.finals[i] = Some(reply);
        if tx.next_final().is_some() {
            self.outbox.pending.push_front(super::state::Pending {
                expect,
                sent: Some(self.last_reply),
            });
            return;
        }
        let mut finals = tx.finals.iter().flatten();
        if let Some(ok) = finals.clone().find(|r| r.is_positive()) {
            tx.final_reply = Some(ok.clone());
        } else if tx.accepted_count() == 1 {
            let refusal = finals.next().cloned();
            if let Some(r) = refusal {
                tx.fail(Stage::DataEnd, Cause::Rejected(r));
            }
        } else {
            tx.fail(Stage::DataEnd, Cause::NoValidRecipients);
        }
        self.settle(idx);
    }

    fn on_bdat(&mut self, id: MessageId, last: bool, reply: Reply) {
        if last {
            // RFC 3030 §2: after a failed BDAT the transaction state is unknown. Not so for one
            // LMTP recipient's refusal: the transaction ends with the last of those replies.
            let per_recipient = self.config.protocol == Protocol::Lmtp
                && self
                    .index_of(id)
                    .is_some_and(|i| self.active[i].next_final().is_some());
            if !reply.is_positive() && !per_recipient {
                self.reset_after(id);
            }
            self.on_final(id, reply, Expect::Bdat(id, true));
            return;
        }
        let Some(idx) = self.index_of(id) else { return };
        if reply.is_positive() {
            if let Some(b) = self.body.as_mut().filter(|b| b.id == id) {
                b.paused = false;
            }
        } else {
            let tx = &mut self.active[idx];
            tx.fail(Stage::Bdat, Cause::Rejected(reply));
            tx.state = TxState::Sent;
            self.reset_after(id);
            self.drop_body(id);
        }
        self.settle(idx);
    }
}

/// The transitions the rest of the session calls.
impl ClientSession {
    pub(super) fn enter_setup(&mut self, step: Setup) {
        self.phase = Phase::Setup(step);
    }

    pub(super) fn enter_ready(&mut self) {
        self.phase = Phase::Ready;
        self.events.push_back(Event::Ready);
    }

    /// The driver finished the STARTTLS handshake: capabilities are forgotten and EHLO is sent
    /// again (RFC 3207 §4.2).
    pub(super) fn tls_established(&mut self, certificate: Certificate) {
        self.encryption = Encryption::Tls(certificate);
        self.caps = None;
        self.outbox.transcript.info(|| match certificate {
            Certificate::Verified => "TLS established".to_string(),
            Certificate::Unverified => "TLS established (certificate not verified)".to_string(),
        });
        self.send_ehlo();
        self.enter_setup(Setup::Hello);
    }

    /// A setup step failed: every queued message fails with it, then QUIT.
    pub(super) fn refuse(&mut self, stage: Stage, cause: Cause) {
        self.fail_queued(Some((stage, &cause)));
        self.outbox.send(&Command::Quit, Expect::Quit);
        self.phase = Phase::Quitting(Some(SetupEnd {
            stage,
            cause,
            refused: true,
        }));
    }

    /// The queue is done and QUIT was asked for.
    pub(super) fn send_quit(&mut self) {
        self.outbox.send(&Command::Quit, Expect::Quit);
        self.phase = Phase::Quitting(None);
    }

    /// QUIT is answered (or the server closed after it).
    pub(super) fn finish_close(&mut self) {
        let reason = self.quit_reason();
        let end = match std::mem::replace(&mut self.phase, Phase::Closed(None)) {
            Phase::Quitting(end) => end,
            _ => None,
        };
        self.close(reason, end);
    }

    /// The connection cannot go on: everything owed fails, then [`Event::Closed`].
    pub(super) fn abort_all(&mut self, reason: CloseReason) {
        if self.is_closed() {
            return;
        }
        let cause = match &reason {
            CloseReason::Timeout { .. } => Cause::Timeout,
            CloseReason::ServerClosing(r) => Cause::ServerClosing(r.clone()),
            CloseReason::Protocol(e) => Cause::Protocol(e.clone()),
            _ => Cause::ConnectionLost,
        };
        self.fail_active(&cause);
        let end = match &self.phase {
            Phase::Setup(Setup::TlsHandshake { .. }) => Some(Stage::StartTls),
            Phase::Setup(_) => self.outbox.pending.front().map(|p| p.expect.stage()),
            _ => None,
        }
        .map(|stage| SetupEnd {
            stage,
            cause,
            refused: false,
        });
        self.fail_queued(end.as_ref().map(|e| (e.stage, &e.cause)));
        let end = match std::mem::replace(&mut self.phase, Phase::Closed(None)) {
            Phase::Quitting(refused @ Some(_)) => refused,
            _ => end,
        };
        self.close(reason, end);
    }

    fn close(&mut self, reason: CloseReason, end: Option<SetupEnd>) {
        self.fail_queued(None);
        self.body = None;
        self.outbox.buf.clear();
        self.outbox.pending.clear();
        self.outbox.unsent = 0;
        self.phase = Phase::Closed(end);
        self.events.push_back(Event::Closed(reason));
    }

    /// Adds a started message; with pipelining and BDAT its content is wanted at once.
    pub(super) fn begin(&mut self, tx: Transaction) {
        if tx.transfer == Transfer::Bdat {
            self.reset = Reset::AfterBdat;
        }
        let open = tx.pipelined && tx.transfer == Transfer::Bdat;
        self.active.push_back(tx);
        if open {
            self.open_body(self.active.len() - 1);
        }
    }

    /// Opens the content of a message whose recipients are settled (or pipelined behind them).
    pub(super) fn open_body(&mut self, idx: usize) {
        let writer = self.body_writer(idx);
        self.active[idx].state = TxState::Body;
        self.body = Some(writer);
    }

    /// The content of message `id` is complete: only replies remain.
    pub(super) fn content_sent(&mut self, id: MessageId, size: u64) {
        if let Some(tx) = self.active.iter_mut().find(|t| t.id == id) {
            tx.size = size;
            tx.state = TxState::Sent;
        }
    }

    /// Records that message `id` failed locally while its content was written: it is settled
    /// when nothing more is owed; a DATA transaction, which has no abort, ends the connection.
    pub(super) fn content_abandoned(&mut self, id: MessageId, error: crate::error::LocalError) {
        let Some(b) = self.body.take() else { return };
        let Some(idx) = self.index_of(id) else { return };
        let tx = &mut self.active[idx];
        tx.fail(Stage::Data, Cause::Local(error));
        tx.state = TxState::Sent;
        match b.transfer() {
            Transfer::Bdat => {
                self.reset_after(id);
                self.settle(idx);
                self.pump();
            }
            // DATA has no abort: a dot would deliver a truncated message. Only closing works, and
            // nothing else is owed at this point (the 354 was the last reply owed).
            Transfer::Data => self.abort_all(CloseReason::BodyAborted),
        }
    }

    /// Stops a BDAT body that can no longer succeed (RFC 3030: no more chunks after a failure).
    fn drop_body(&mut self, id: MessageId) {
        if self.body.as_ref().is_some_and(|b| b.id == id) {
            self.body = None;
            self.reset_after(id);
            if let Some(tx) = self.active.iter_mut().find(|t| t.id == id) {
                tx.state = TxState::Sent;
            }
        }
    }

    /// Asks for an RSET after message `id` failed with its transaction possibly open, unless a
    /// later message already started (and so was preceded by its own RSET).
    pub(super) fn reset_after(&mut self, id: MessageId) {
        if self.active.back().is_some_and(|t| t.id == id) {
            self.reset = Reset::Needed;
        }
    }

    pub(super) fn send_rset(&mut self) {
        self.outbox.send(&Command::Rset, Expect::Rset);
        self.reset = Reset::Clean;
    }
}

/// What a command allows, for [`ProtocolError::UnexpectedReply`].
fn expected(expect: Expect) -> &'static str {
    match expect {
        Expect::Greeting => "a 220 greeting",
        Expect::Ehlo => "250 after EHLO",
        Expect::Helo => "250 after HELO",
        Expect::StartTls => "220 after STARTTLS",
        Expect::Auth => "235 or 334 after AUTH",
        Expect::Mail(_) => "250 after MAIL",
        Expect::Rcpt(..) => "250 after RCPT",
        Expect::Data(_) => "354 after DATA",
        Expect::DataEnd(_) => "250 after the end of data",
        Expect::Bdat(..) => "250 after BDAT",
        Expect::Rset => "250 after RSET",
        Expect::Quit => "221 after QUIT",
    }
}
