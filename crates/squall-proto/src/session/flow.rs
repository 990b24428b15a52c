//! What to send next: setup steps, starting messages (the pipelining decisions), and the outcome
//! events. The state these decisions move to is written in `transitions.rs`.

use super::body::BodyWriter;
use super::event::{Cause, CloseReason, Delivery, Event, Failure, MessageId, Stage};
use super::state::{Encryption, Expect, Phase, Reset, Setup, Transaction, Transfer, TxState};
use super::{Certificate, ClientSession, Protocol, Tls};
use crate::auth::{Mechanism, SaslExchange};
use crate::command::{Command, MailParams};
use crate::ehlo::Capabilities;
use crate::envelope::Envelope;
use crate::error::{LocalError, PolicyError};
use crate::params::BodyType;

/// RFC 5321 §4.5.3.1.4: the longest command line a server must accept, CRLF included.
const MAX_COMMAND_LINE: usize = 512;

/// The setup step after a successful EHLO, STARTTLS refusal or AUTH.
enum Next {
    StartTls,
    Auth,
    Ready,
    Refuse(Stage, PolicyError),
}

impl ClientSession {
    /// EHLO, or LHLO when the server speaks LMTP; either earns [`Expect::Ehlo`].
    pub(super) fn send_ehlo(&mut self) {
        let name = &self.config.ehlo_name;
        let cmd = match self.config.protocol {
            Protocol::Smtp => Command::Ehlo(name),
            Protocol::Lmtp => Command::Lhlo(name),
        };
        self.outbox.send(&cmd, Expect::Ehlo);
    }

    pub(super) fn send_helo(&mut self) {
        self.outbox
            .send(&Command::Helo(&self.config.ehlo_name), Expect::Helo);
    }

    /// What setup does next, from the configuration, the server's extensions and what setup
    /// established so far.
    fn next_step(&self, caps: &Capabilities) -> Next {
        let tls = self.config.tls;
        if matches!(tls, Tls::Opportunistic | Tls::StartTls) && self.encryption == Encryption::None {
            if caps.starttls() {
                return Next::StartTls;
            }
            if tls == Tls::StartTls {
                return Next::Refuse(Stage::StartTls, PolicyError::StartTlsNotOffered);
            }
        }
        if self.config.credentials.is_none() || self.authenticated() {
            return Next::Ready;
        }
        match self.encryption {
            _ if self.config.allow_insecure_auth => Next::Auth,
            Encryption::Tls(Certificate::Verified) => Next::Auth,
            Encryption::Tls(Certificate::Unverified) => {
                Next::Refuse(Stage::Auth, PolicyError::AuthNeedsVerifiedTls)
            }
            Encryption::None | Encryption::Declined => Next::Refuse(Stage::Auth, PolicyError::AuthNeedsTls),
        }
    }

    /// After a successful EHLO/HELO (or an opportunistic STARTTLS refusal, or AUTH): STARTTLS,
    /// AUTH, or ready.
    pub(super) fn after_hello(&mut self) {
        let Some(caps) = &self.caps else { return };
        match self.next_step(caps) {
            Next::StartTls => {
                self.outbox.send(&Command::StartTls, Expect::StartTls);
                self.enter_setup(Setup::StartTls);
            }
            Next::Auth => self.start_auth(),
            Next::Ready => self.enter_ready(),
            Next::Refuse(stage, e) => self.refuse(stage, Cause::Policy(e)),
        }
    }

    fn start_auth(&mut self) {
        let (Some(caps), Some(credentials)) = (&self.caps, &self.config.credentials) else {
            return;
        };
        let offered = caps.auth_mechanisms().to_vec();
        // SCRAM needs a nonce from the driver, and -PLUS the TLS channel's binding data.
        let nonce = self.config.scram_nonce.as_deref();
        let binding = self.channel_binding.clone().filter(|_| self.is_tls());
        let usable: Vec<Mechanism> = offered
            .iter()
            .filter(|m| match m {
                Mechanism::ScramSha256 => nonce.is_some(),
                Mechanism::ScramSha256Plus => nonce.is_some() && binding.is_some(),
                _ => true,
            })
            .cloned()
            .collect();
        if offered.is_empty() {
            let tls = self.is_tls();
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
                .preferred(&usable)
                .ok_or(PolicyError::NoUsableMechanism {
                    offered: offered.clone(),
                }),
        };
        let exchange = chosen.and_then(|m| {
            SaslExchange::with_scram(m, credentials.clone(), nonce, binding)
                .ok_or(PolicyError::NoUsableMechanism { offered })
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
        self.enter_setup(Setup::Auth {
            exchange,
            cancelled: None,
        });
    }

    pub(super) fn pipelining(&self) -> bool {
        self.config.pipelining && self.caps.as_ref().is_some_and(Capabilities::pipelining)
    }

    /// Sends whatever can be sent now: an owed RSET, the next messages' commands, QUIT.
    pub(super) fn pump(&mut self) {
        while self.is_ready() {
            // While content is being written, or the server may be about to switch to reading
            // content (a DATA reply is owed), no command may go out.
            if self.body.is_some() || self.outbox.owes(|e| matches!(e, Expect::Data(_))) {
                return;
            }
            let pipelining = self.pipelining();
            if !pipelining && !self.outbox.pending.is_empty() {
                return;
            }
            if self.reset == Reset::Needed {
                self.send_rset();
                continue;
            }
            if self.queue.is_empty() {
                if self.quit_requested {
                    self.send_quit();
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
        if envelope.options().prefer_binarymime && caps.binary_mime() {
            envelope.options_mut().body = BodyType::BinaryMime;
        }
        if let Err(e) = check_envelope(&envelope, caps, self.tls()) {
            self.emit_failure(id, Stage::Mail, Cause::Local(e));
            return;
        }
        let transfer =
            if envelope.options().body == BodyType::BinaryMime || (self.config.chunking && caps.chunking()) {
                Transfer::Bdat
            } else {
                Transfer::Data
            };
        // A BDAT message still awaiting its final reply may have left a transaction open if it
        // failed (RFC 3030 §2: "A RSET command MUST be sent to clear the transaction").
        if self.reset == Reset::AfterBdat && self.active.iter().any(|t| t.transfer == Transfer::Bdat) {
            self.send_rset();
        }
        let Some(caps) = &self.caps else { return };
        let dsn = caps.dsn();
        let params = mail_params(&envelope, caps);
        let declared = params.body;
        self.outbox.send(
            &Command::Mail {
                from: envelope.from(),
                params,
            },
            Expect::Mail(id),
        );
        if pipelining {
            for (i, to) in envelope.recipients().iter().enumerate() {
                self.outbox.send(&Command::Rcpt { to, dsn }, Expect::Rcpt(id, i));
            }
            if transfer == Transfer::Data {
                self.outbox.send(&Command::Data, Expect::Data(id));
            }
        }
        self.begin(Transaction::new(id, envelope, transfer, pipelining, declared));
    }

    /// Sends the RCPT for recipient `i` of a message sent step by step.
    pub(super) fn send_rcpt(&mut self, idx: usize, i: usize) {
        let dsn = self.caps.as_ref().is_some_and(Capabilities::dsn);
        let tx = &self.active[idx];
        self.outbox.send(
            &Command::Rcpt {
                to: &tx.envelope.recipients()[i],
                dsn,
            },
            Expect::Rcpt(tx.id, i),
        );
    }

    /// A body writer for `active[idx]`'s content. Content declared 7-bit for a server without
    /// 8BITMIME is checked as it goes: 8-bit bytes there (a stream whose content was not known in
    /// advance) stop the message rather than reach a server that may mangle them.
    pub(super) fn body_writer(&self, idx: usize) -> BodyWriter {
        let tx = &self.active[idx];
        let seven_bit_only = tx.declared == BodyType::SevenBit
            && !self.caps.as_ref().is_some_and(Capabilities::eight_bit_mime);
        BodyWriter::new(tx.id, tx.transfer, tx.envelope.options().body, seven_bit_only)
    }

    /// Emits the outcome of `active[idx]` once nothing more is owed for it.
    pub(super) fn settle(&mut self, idx: usize) {
        let tx = &self.active[idx];
        let body_open = self.body.as_ref().is_some_and(|b| b.id == tx.id);
        if self.outbox.owes_for(tx.id) || body_open || (tx.failure.is_none() && tx.final_reply.is_none()) {
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

    /// The failures of everything in progress when the connection cannot go on: each message
    /// fails at the stage of its oldest owed reply, ambiguous when its end of data reached the
    /// transport and no verdict came back.
    pub(super) fn fail_active(&mut self, cause: &Cause) {
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
                    // Not after a 421: replies come in order, so the server answered nothing
                    // after it and processed nothing more.
                    let ambiguous = !matches!(cause, Cause::ServerClosing(_))
                        && owed.iter().any(|p| p.expect.is_final() && p.sent.is_some());
                    tx.to_failure(stage, cause.clone(), ambiguous)
                }
            };
            self.events.push_back(Event::Failed(failure));
        }
    }

    /// Fails every message not yet started: with `setup` (stage and cause) when setup failed,
    /// else as never attempted.
    pub(super) fn fail_queued(&mut self, setup: Option<(Stage, &Cause)>) {
        for (id, _) in std::mem::take(&mut self.queue) {
            match setup {
                Some((stage, cause)) => self.emit_failure(id, stage, cause.clone()),
                None => self.emit_failure(id, Stage::Queued, Cause::NotAttempted),
            }
        }
    }

    /// The reason to close with once QUIT is answered.
    pub(super) fn quit_reason(&self) -> CloseReason {
        match &self.phase {
            Phase::Quitting(Some(end)) => match &end.cause {
                Cause::Rejected(reply) => CloseReason::Rejected {
                    stage: end.stage,
                    reply: reply.clone(),
                },
                Cause::Policy(p) => CloseReason::Policy(p.clone()),
                Cause::Protocol(p) => CloseReason::Protocol(p.clone()),
                _ => CloseReason::Quit,
            },
            _ => CloseReason::Quit,
        }
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

    /// Whether AUTH succeeded in this session.
    pub(super) fn authenticated(&self) -> bool {
        self.authenticated_with.is_some()
    }
}

/// Checks a message against what the server and session allow, before anything is sent.
fn check_envelope(
    envelope: &Envelope,
    caps: &Capabilities,
    tls: Option<Certificate>,
) -> Result<(), LocalError> {
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
    // RFC 8689 §4.2.1: an encrypted session is not enough, the certificate must have verified.
    if options.require_tls && !(tls == Some(Certificate::Verified) && caps.require_tls()) {
        return Err(LocalError::RequireTlsUnavailable {
            tls: tls.is_some(),
            verified: tls == Some(Certificate::Verified),
        });
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
