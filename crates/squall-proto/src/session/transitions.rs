//! The one place that maps (reply owed, reply received) to what happens next.
//!
//! Read it as a table: each arm of [`ClientSession::on_reply`] is one owed reply, and within it the
//! reply's class decides. A class that makes no sense for the command is a protocol error, never
//! guessed around.

use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::event::{Cause, CloseReason, Event, MessageId, Stage};
use super::state::{Expect, Transfer, TxState};
use super::{ClientSession, Phase, TlsMode};
use crate::auth::SaslResponse;
use crate::command::Command;
use crate::ehlo::Capabilities;
use crate::error::ProtocolError;
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
            }
            (Expect::Greeting, Class::TransientFailure | Class::PermanentFailure) => {
                self.events.push_back(Event::Greeting(reply.clone()));
                self.refuse(Stage::Greeting, Cause::Rejected(reply));
            }

            (Expect::Ehlo, Class::Completion) => self.hello_done(Capabilities::from_ehlo(&reply)),
            // RFC 5321 §3.2: a server that does not know EHLO gets HELO.
            (Expect::Ehlo, Class::PermanentFailure) => self.send_helo(),
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
                self.phase = Phase::TlsHandshake { since: now };
                self.events.push_back(Event::StartTls);
            }
            (Expect::StartTls, Class::TransientFailure | Class::PermanentFailure) => {
                if self.config.tls == TlsMode::Opportunistic {
                    self.starttls_refused = true;
                    self.after_hello();
                } else {
                    self.refuse(Stage::StartTls, Cause::Rejected(reply));
                }
            }

            // Only 235 means success (RFC 4954 §4), and never after the client cancelled.
            (Expect::Auth, Class::Completion)
                if reply.code() == ReplyCode::AUTH_SUCCEEDED && self.sasl_error.is_none() =>
            {
                self.authenticated = true;
                if let Some(x) = self.sasl.take() {
                    self.events.push_back(Event::Authenticated(x.mechanism().clone()));
                }
                self.after_hello();
            }
            (Expect::Auth, Class::Intermediate) if self.sasl_error.is_none() => self.sasl_step(&reply),
            (Expect::Auth, Class::TransientFailure | Class::PermanentFailure) => {
                self.sasl = None;
                let cause = match self.sasl_error.take() {
                    Some(e) => Cause::Protocol(e),
                    None => Cause::Rejected(reply),
                };
                self.refuse(Stage::Auth, cause);
            }

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
                self.on_final(id, reply, Stage::DataEnd)
            }
            (
                Expect::Bdat(id, last),
                Class::Completion | Class::TransientFailure | Class::PermanentFailure,
            ) => self.on_bdat(id, last, reply),

            (Expect::Rset, Class::Completion) => {}
            (Expect::Quit, _) => self.finish_close(),

            (expect, _) => self.fail_at(
                expect,
                now,
                ProtocolError::UnexpectedReply {
                    expected: expected(expect),
                    reply,
                },
            ),
        }
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

    fn sasl_step(&mut self, reply: &Reply) {
        let Some(exchange) = self.sasl.as_mut() else {
            return;
        };
        let text = reply.lines().first().map_or("", |l| l.trim());
        let response = match BASE64.decode(text) {
            Ok(challenge) => exchange.respond(&challenge),
            Err(_) => {
                self.sasl_error = Some(ProtocolError::BadChallenge(format!(
                    "the server's 334 challenge is not base64: {reply}"
                )));
                SaslResponse::Cancel
            }
        };
        match response {
            SaslResponse::Data(data) => self.outbox.send(&Command::AuthResponse(&data), Expect::Auth),
            SaslResponse::Cancel => {
                self.sasl_error.get_or_insert_with(|| {
                    ProtocolError::BadChallenge(format!(
                        "the server sent another 334 challenge after the {} exchange was complete",
                        exchange.mechanism()
                    ))
                });
                self.outbox.send(&Command::AuthCancel, Expect::Auth);
            }
        }
    }

    /// The index in `active` of a message that owes a reply, after counting the reply.
    fn reply_for(&mut self, id: MessageId) -> Option<usize> {
        let idx = self.active.iter().position(|t| t.id == id)?;
        let tx = &mut self.active[idx];
        tx.owed = tx.owed.saturating_sub(1);
        Some(idx)
    }

    fn on_mail(&mut self, id: MessageId, reply: Reply) {
        let Some(idx) = self.reply_for(id) else { return };
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
        let Some(idx) = self.reply_for(id) else { return };
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
                Transfer::Data => {
                    self.outbox.send(&Command::Data, Expect::Data(id));
                    tx.owed += 1;
                }
                Transfer::Bdat => self.open_body(idx),
            }
        }
        self.settle(idx);
    }

    fn on_data(&mut self, id: MessageId, reply: Reply) {
        let Some(idx) = self.reply_for(id) else { return };
        let tx = &mut self.active[idx];
        if reply.code().class() == Class::Intermediate {
            if tx.failure.is_none() && tx.accepted_count() > 0 {
                self.open_body(idx);
            } else {
                // RFC 2920 §3.1: a 354 after every recipient was refused still puts the server
                // in data mode; end it with an empty message, whose reply is ignored.
                tx.fail(Stage::Rcpt, Cause::NoValidRecipients);
                tx.state = TxState::Sent;
                tx.owed += 1;
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

    fn on_final(&mut self, id: MessageId, reply: Reply, stage: Stage) {
        let Some(idx) = self.reply_for(id) else { return };
        let tx = &mut self.active[idx];
        if reply.is_positive() {
            tx.final_reply = Some(reply);
        } else {
            tx.fail(stage, Cause::Rejected(reply));
        }
        self.settle(idx);
    }

    fn on_bdat(&mut self, id: MessageId, last: bool, reply: Reply) {
        if last {
            // RFC 3030 §2: after a failed BDAT the transaction state is unknown.
            if !reply.is_positive() {
                self.reset_after(id);
            }
            self.on_final(id, reply, Stage::DataEnd);
            return;
        }
        let Some(idx) = self.reply_for(id) else { return };
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
}

impl ClientSession {
    /// Asks for an RSET after message `id` failed with its transaction possibly open, unless a
    /// later message already started (and so was preceded by its own RSET).
    pub(super) fn reset_after(&mut self, id: MessageId) {
        if self.active.back().is_some_and(|t| t.id == id) {
            self.rset_needed = true;
        }
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
