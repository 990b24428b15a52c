//! What to send next: setup steps, starting messages (the pipelining decisions), and ending.

use super::body::BodyWriter;
use super::event::{Cause, CloseReason, Delivery, Event, Failure, MessageId, Stage};
use super::state::{Expect, Transaction, Transfer, TxState};
use super::{ClientSession, Phase, TlsMode};
use crate::auth::SaslExchange;
use crate::command::{Command, MailParams};
use crate::ehlo::Capabilities;
use crate::envelope::Envelope;
use crate::error::{LocalError, PolicyError};
use crate::params::BodyType;

/// RFC 5321 §4.5.3.1.4: the longest command line a server must accept, CRLF included.
const MAX_COMMAND_LINE: usize = 512;

impl ClientSession {
    pub(super) fn send_ehlo(&mut self) {
        self.outbox
            .send(&Command::Ehlo(&self.config.ehlo_name), Expect::Ehlo);
    }

    pub(super) fn send_helo(&mut self) {
        self.outbox
            .send(&Command::Helo(&self.config.ehlo_name), Expect::Helo);
    }

    /// After a successful EHLO/HELO: STARTTLS, AUTH, or ready.
    pub(super) fn after_hello(&mut self) {
        let Some(caps) = &self.caps else { return };
        let wants_tls = matches!(self.config.tls, TlsMode::Opportunistic | TlsMode::StartTls);
        if wants_tls && !self.tls && !self.starttls_refused {
            if caps.starttls() {
                self.outbox.send(&Command::StartTls, Expect::StartTls);
                return;
            }
            if self.config.tls == TlsMode::StartTls {
                self.refuse(Stage::StartTls, Cause::Policy(PolicyError::StartTlsNotOffered));
                return;
            }
        }
        if self.config.credentials.is_some() && !self.authenticated {
            self.start_auth();
            return;
        }
        self.phase = Phase::Ready;
        self.events.push_back(Event::Ready);
    }

    fn start_auth(&mut self) {
        let (Some(caps), Some(credentials)) = (&self.caps, &self.config.credentials) else {
            return;
        };
        if !self.tls && !self.config.allow_insecure_auth {
            self.refuse(Stage::Auth, Cause::Policy(PolicyError::AuthNeedsTls));
            return;
        }
        let offered = caps.auth_mechanisms().to_vec();
        if offered.is_empty() {
            let tls = self.tls;
            self.refuse(Stage::Auth, Cause::Policy(PolicyError::AuthNotOffered { tls }));
            return;
        }
        let chosen = match &self.config.mechanism {
            Some(m) if !offered.contains(m) => Err(PolicyError::MechanismNotOffered {
                wanted: m.clone(),
                offered: offered.clone(),
            }),
            Some(m) => Ok(m.clone()),
            None => credentials
                .preferred(&offered)
                .ok_or(PolicyError::NoUsableMechanism {
                    offered: offered.clone(),
                }),
        };
        let exchange = chosen.and_then(|m| {
            SaslExchange::new(m, credentials.clone()).ok_or(PolicyError::NoUsableMechanism { offered })
        });
        let mut exchange = match exchange {
            Ok(x) => x,
            Err(e) => {
                self.refuse(Stage::Auth, Cause::Policy(e));
                return;
            }
        };
        let mechanism = exchange.mechanism().clone();
        // Send the initial response on the AUTH line only when the line stays within 512 octets
        // (RFC 4954 §4); otherwise the server will ask for it with an empty 334.
        let fits = exchange.initial_response_len().is_some_and(|n| {
            "AUTH ".len() + mechanism.name().len() + 1 + n.div_ceil(3) * 4 + 2 <= MAX_COMMAND_LINE
        });
        let initial = if fits { exchange.initial_response() } else { None };
        self.outbox.send(
            &Command::Auth {
                mechanism: &mechanism,
                initial: initial.as_deref(),
            },
            Expect::Auth,
        );
        self.sasl = Some(exchange);
    }

    fn pipelining(&self) -> bool {
        self.config.pipelining && self.caps.as_ref().is_some_and(Capabilities::pipelining)
    }

    /// Sends whatever can be sent now: an owed RSET, the next messages' commands, QUIT.
    pub(super) fn pump(&mut self) {
        while self.phase == Phase::Ready {
            // While content is being written, or the server may be about to switch to reading
            // content (a DATA reply is owed), no command may go out.
            if self.body.is_some() || self.outbox.owes(|e| matches!(e, Expect::Data(_))) {
                return;
            }
            let pipelining = self.pipelining();
            if !pipelining && !self.outbox.pending.is_empty() {
                return;
            }
            if self.rset_needed {
                self.send_rset();
                continue;
            }
            if self.queue.is_empty() {
                if self.quit_requested {
                    self.outbox.send(&Command::Quit, Expect::Quit);
                    self.phase = Phase::Quitting;
                }
                return;
            }
            // A new MAIL may follow messages whose content is complete; with BDAT, up to
            // `max_in_flight` of them may still await their final reply.
            let all_sent = self.active.iter().all(|t| t.state == TxState::Sent);
            if !all_sent || self.active.len() >= self.config.max_in_flight {
                return;
            }
            if let Some((id, envelope)) = self.queue.pop_front() {
                self.start(id, envelope, pipelining);
            }
        }
    }

    /// Sends MAIL (and with pipelining the RCPTs and DATA, or opens the BDAT body).
    fn start(&mut self, id: MessageId, mut envelope: Envelope, pipelining: bool) {
        let Some(caps) = &self.caps else { return };
        let (dsn, chunking) = (caps.dsn(), caps.chunking());
        if envelope.options().prefer_binarymime && caps.binary_mime() {
            envelope.options_mut().body = BodyType::BinaryMime;
        }
        if let Err(e) = check_envelope(&envelope, caps, self.tls) {
            self.emit_failure(id, Stage::Mail, Cause::Local(e));
            return;
        }
        let transfer =
            if envelope.options().body == BodyType::BinaryMime || (self.config.chunking && chunking) {
                Transfer::Bdat
            } else {
                Transfer::Data
            };
        // A BDAT message still awaiting its final reply may have left a transaction open if it
        // failed (RFC 3030 §2: "A RSET command MUST be sent to clear the transaction").
        if self.bdat_since_rset && self.active.iter().any(|t| t.transfer == Transfer::Bdat) {
            self.send_rset();
        }
        self.bdat_since_rset |= transfer == Transfer::Bdat;
        let mut tx = Transaction::new(id, envelope, transfer, pipelining);
        if let Some(caps) = &self.caps {
            let params = mail_params(&tx.envelope, caps);
            let from = tx.envelope.from();
            self.outbox
                .send(&Command::Mail { from, params }, Expect::Mail(id));
            tx.owed += 1;
        }
        if pipelining {
            for (i, to) in tx.envelope.recipients().iter().enumerate() {
                self.outbox.send(&Command::Rcpt { to, dsn }, Expect::Rcpt(id, i));
                tx.owed += 1;
            }
            match transfer {
                Transfer::Data => {
                    self.outbox.send(&Command::Data, Expect::Data(id));
                    tx.owed += 1;
                }
                Transfer::Bdat => {
                    tx.state = TxState::Body;
                    self.body = Some(BodyWriter::new(id, transfer, tx.envelope.options().body));
                }
            }
        }
        self.active.push_back(tx);
    }

    fn send_rset(&mut self) {
        self.outbox.send(&Command::Rset, Expect::Rset);
        self.rset_needed = false;
        self.bdat_since_rset = false;
    }

    /// Sends the RCPT for recipient `i` of a message sent step by step.
    pub(super) fn send_rcpt(&mut self, idx: usize, i: usize) {
        let dsn = self.caps.as_ref().is_some_and(Capabilities::dsn);
        let tx = &mut self.active[idx];
        let id = tx.id;
        self.outbox.send(
            &Command::Rcpt {
                to: &tx.envelope.recipients()[i],
                dsn,
            },
            Expect::Rcpt(id, i),
        );
        tx.owed += 1;
    }

    /// Opens the content of a message whose recipients are settled.
    pub(super) fn open_body(&mut self, idx: usize) {
        let tx = &mut self.active[idx];
        tx.state = TxState::Body;
        self.body = Some(BodyWriter::new(tx.id, tx.transfer, tx.envelope.options().body));
    }

    /// Emits the outcome of `active[idx]` once nothing more is owed for it.
    pub(super) fn settle(&mut self, idx: usize) {
        let tx = &self.active[idx];
        let body_open = self.body.as_ref().is_some_and(|b| b.id == tx.id);
        if tx.owed > 0 || body_open || (tx.failure.is_none() && tx.final_reply.is_none()) {
            return;
        }
        let Some(mut tx) = self.active.remove(idx) else {
            return;
        };
        let event = match (tx.failure.take(), tx.final_reply.take()) {
            (Some((stage, cause)), _) => Event::Failed(tx.to_failure(stage, cause, false)),
            (None, Some(reply)) => {
                let (accepted, rejected) = tx.recipient_replies();
                Event::Delivered(Delivery {
                    id: tx.id,
                    accepted,
                    rejected,
                    reply,
                    size: tx.size,
                })
            }
            (None, None) => return,
        };
        self.events.push_back(event);
    }

    pub(super) fn emit_failure(&mut self, id: MessageId, stage: Stage, cause: Cause) {
        self.events.push_back(Event::Failed(Failure {
            id,
            stage,
            cause,
            accepted: Vec::new(),
            rejected: Vec::new(),
            ambiguous: false,
        }));
    }

    /// A setup step failed: every queued message fails with it, then QUIT.
    pub(super) fn refuse(&mut self, stage: Stage, cause: Cause) {
        for (id, _) in std::mem::take(&mut self.queue) {
            self.emit_failure(id, stage, cause.clone());
        }
        self.refusal = Some((stage, cause));
        self.outbox.send(&Command::Quit, Expect::Quit);
        self.phase = Phase::Quitting;
    }

    /// QUIT is answered (or the server closed after it).
    pub(super) fn finish_close(&mut self) {
        let reason = match self.refusal.clone() {
            Some((stage, Cause::Rejected(reply))) => CloseReason::Rejected { stage, reply },
            Some((_, Cause::Policy(p))) => CloseReason::Policy(p),
            Some((_, Cause::Protocol(p))) => CloseReason::Protocol(p),
            _ => CloseReason::Quit,
        };
        self.close(reason);
    }

    /// The connection cannot go on: everything owed fails, then [`Event::Closed`].
    pub(super) fn abort_all(&mut self, reason: CloseReason) {
        if self.phase == Phase::Closed {
            return;
        }
        let cause = match &reason {
            CloseReason::Timeout { .. } => Cause::Timeout,
            CloseReason::ServerClosing(r) => Cause::ServerClosing(r.clone()),
            CloseReason::Protocol(e) => Cause::Protocol(e.clone()),
            _ => Cause::ConnectionLost,
        };
        for mut tx in std::mem::take(&mut self.active) {
            let failure = match tx.failure.take() {
                Some((stage, cause)) => tx.to_failure(stage, cause, false),
                None => {
                    let owed: Vec<_> = self
                        .outbox
                        .pending
                        .iter()
                        .filter(|p| p.expect.message() == Some(tx.id))
                        .collect();
                    let stage = owed.first().map_or(
                        match tx.transfer {
                            Transfer::Data => Stage::Data,
                            Transfer::Bdat => Stage::Bdat,
                        },
                        |p| p.expect.stage(),
                    );
                    // The end of the content reached the transport and no verdict came back: the
                    // server may have taken the message. Not after a 421: replies come in order,
                    // so the server answered nothing after it and processed nothing more.
                    let ambiguous = !matches!(cause, Cause::ServerClosing(_))
                        && owed.iter().any(|p| p.expect.is_final() && p.sent.is_some());
                    tx.to_failure(stage, cause.clone(), ambiguous)
                }
            };
            self.events.push_back(Event::Failed(failure));
        }
        let setup_stage = match self.phase {
            Phase::Setup => self.outbox.pending.front().map(|p| p.expect.stage()),
            Phase::TlsHandshake { .. } => Some(Stage::StartTls),
            _ => None,
        };
        if let Some(stage) = setup_stage {
            self.setup_lost = Some((stage, cause.clone()));
        }
        for (id, _) in std::mem::take(&mut self.queue) {
            match setup_stage {
                Some(stage) => self.emit_failure(id, stage, cause.clone()),
                None => self.emit_failure(id, Stage::Queued, Cause::NotAttempted),
            }
        }
        self.close(reason);
    }

    fn close(&mut self, reason: CloseReason) {
        for (id, _) in std::mem::take(&mut self.queue) {
            self.emit_failure(id, Stage::Queued, Cause::NotAttempted);
        }
        self.body = None;
        self.outbox.buf.clear();
        self.outbox.pending.clear();
        self.outbox.unsent = 0;
        self.phase = Phase::Closed;
        self.events.push_back(Event::Closed(reason));
    }

    /// What the session is waiting for, for errors: the oldest owed reply, or the content being
    /// written, or nothing (idle).
    pub(super) fn current_stage(&self) -> Option<Stage> {
        if let Some(p) = self.outbox.pending.front() {
            return Some(p.expect.stage());
        }
        self.body.as_ref().map(|b| match b.transfer() {
            Transfer::Data => Stage::Data,
            Transfer::Bdat => Stage::Bdat,
        })
    }
}

/// Checks a message against what the server and session allow, before anything is sent.
fn check_envelope(envelope: &Envelope, caps: &Capabilities, tls: bool) -> Result<(), LocalError> {
    let options = envelope.options();
    if let (Some(size), Some(limit)) = (options.size, caps.size_limit())
        && size > limit
    {
        return Err(LocalError::MessageTooLarge { size, limit });
    }
    if envelope.needs_smtputf8() && !caps.smtputf8() {
        return Err(LocalError::SmtpUtf8Unsupported);
    }
    match options.body {
        BodyType::SevenBit => {}
        BodyType::EightBitMime if !caps.eight_bit_mime() => return Err(LocalError::EightBitUnsupported),
        BodyType::EightBitMime => {}
        BodyType::BinaryMime if !caps.binary_mime() => return Err(LocalError::BinaryUnsupported),
        BodyType::BinaryMime => {}
    }
    if options.require_tls && !(tls && caps.require_tls()) {
        return Err(LocalError::RequireTlsUnavailable { tls });
    }
    Ok(())
}

/// The MAIL parameters to send: each only when the server offers its extension. DSN options are
/// dropped silently for a server without DSN, as other clients do: the message still goes.
fn mail_params<'a>(envelope: &'a Envelope, caps: &Capabilities) -> MailParams<'a> {
    let options = envelope.options();
    let dsn = caps.dsn();
    let upgrade = options.body == BodyType::SevenBit && options.prefer_8bitmime && caps.eight_bit_mime();
    MailParams {
        size: options.size.filter(|_| caps.size()),
        body: if upgrade {
            BodyType::EightBitMime
        } else {
            options.body
        },
        smtputf8: envelope.needs_smtputf8(),
        ret: options.ret.filter(|_| dsn),
        envid: options.envid.as_ref().filter(|_| dsn),
        require_tls: options.require_tls,
    }
}
