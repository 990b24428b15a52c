//! The session's state, as types: where the connection is ([`Phase`], with one [`Setup`] step per
//! reply awaited during setup), what setup established ([`Encryption`]), whether an RSET is owed
//! ([`Reset`]), the replies owed ([`Outbox`]) and the messages in progress ([`Transaction`]).
//!
//! Only `transitions.rs` writes a phase, a transaction's state or the reset state; everything
//! else reads them. Impossible combinations (AUTH in progress while STARTTLS is awaited, a refusal
//! while ready) cannot be written down.

use std::collections::VecDeque;
use std::time::Instant;

use super::event::{Cause, Failure, MessageId, RecipientReply, Stage};
use super::transcript::Transcript;
use crate::auth::SaslExchange;
use crate::command::Command;
use crate::envelope::Envelope;
use crate::params::BodyType;
use crate::reply::Reply;

/// Where the connection as a whole is.
#[derive(Debug)]
pub(crate) enum Phase {
    /// Greeting, EHLO, STARTTLS and AUTH, one command at a time.
    Setup(Setup),
    /// Messages flow.
    Ready,
    /// QUIT is sent; `Some` when a setup step was refused (messages handed over now fail with it).
    Quitting(Option<SetupEnd>),
    /// Over; [`Event::Closed`](super::Event::Closed) has been queued. `Some` when setup never
    /// finished.
    Closed(Option<SetupEnd>),
}

/// The setup step in progress: greeting → EHLO → STARTTLS → TLS handshake → EHLO → AUTH.
#[derive(Debug)]
pub(crate) enum Setup {
    /// Waiting for the 220 greeting.
    Greeting,
    /// EHLO (or, after it was refused, HELO) is sent.
    Hello,
    /// STARTTLS is sent.
    StartTls,
    /// The driver runs the TLS handshake; nothing is read or written in cleartext.
    TlsHandshake {
        /// When the go-ahead arrived (the handshake has a timeout of its own).
        since: Instant,
    },
    /// A SASL exchange is under way.
    Auth {
        exchange: SaslExchange,
        /// Set when the client cancelled the exchange (`*`), to report why once it is refused.
        cancelled: Option<Cause>,
    },
}

/// How a setup step ended the session.
#[derive(Clone, Debug)]
pub(crate) struct SetupEnd {
    pub(crate) stage: Stage,
    pub(crate) cause: Cause,
    /// The server refused (messages handed over later fail with it), rather than the connection
    /// failing (they were never attempted, and go to another connection).
    pub(crate) refused: bool,
}

/// Whether the transport is encrypted, as far as setup has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encryption {
    /// Cleartext so far.
    None,
    /// Cleartext for good: opportunistic STARTTLS was refused by the server.
    Declined,
    /// TLS, implicit or after STARTTLS.
    Tls(super::Certificate),
}

/// Whether the server may hold a transaction open that the next MAIL must not meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reset {
    /// No transaction can be open.
    Clean,
    /// A BDAT message went out since the last RSET: if one still awaiting its verdict failed, its
    /// transaction state is unknown (RFC 3030 §2), so the next MAIL behind it needs an RSET first.
    AfterBdat,
    /// A failed message left its transaction open: RSET before the next MAIL.
    Needed,
}

/// A reply the server owes, named by the command it answers. With pipelining several are owed at
/// once; replies are paired with them strictly in order (RFC 2920 §3.1), never by code or text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    /// The reply to `AUTH` or to one SASL response.
    Auth,
    Mail(MessageId),
    Rcpt(MessageId, usize),
    Data(MessageId),
    /// The reply to the final `.`.
    DataEnd(MessageId),
    /// The reply to a BDAT chunk; `true` for the last.
    Bdat(MessageId, bool),
    Rset,
    Quit,
}

impl Expect {
    pub(crate) fn stage(self) -> Stage {
        match self {
            Self::Greeting => Stage::Greeting,
            Self::Ehlo | Self::Helo => Stage::Ehlo,
            Self::StartTls => Stage::StartTls,
            Self::Auth => Stage::Auth,
            Self::Mail(_) => Stage::Mail,
            Self::Rcpt(..) => Stage::Rcpt,
            Self::Data(_) => Stage::Data,
            Self::Bdat(_, false) => Stage::Bdat,
            Self::DataEnd(_) | Self::Bdat(_, true) => Stage::DataEnd,
            Self::Rset => Stage::Rset,
            Self::Quit => Stage::Quit,
        }
    }

    pub(crate) fn message(self) -> Option<MessageId> {
        match self {
            Self::Mail(id) | Self::Rcpt(id, _) | Self::Data(id) | Self::DataEnd(id) | Self::Bdat(id, _) => {
                Some(id)
            }
            _ => None,
        }
    }

    /// Whether the reply settles whether the server took the message.
    pub(crate) fn is_final(self) -> bool {
        matches!(self, Self::DataEnd(_) | Self::Bdat(_, true))
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Pending {
    pub(crate) expect: Expect,
    /// When the command was handed to the transport; `None` until `poll_transmit` takes it.
    pub(crate) sent: Option<Instant>,
}

/// Commands and content waiting for `poll_transmit`, with the replies they will earn.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    pub(crate) buf: Vec<u8>,
    pub(crate) pending: VecDeque<Pending>,
    /// How many entries at the back of `pending` belong to bytes still in `buf`.
    pub(crate) unsent: usize,
    pub(crate) transcript: Transcript,
}

impl Outbox {
    /// Queues a command and the reply it earns.
    pub(crate) fn send(&mut self, cmd: &Command<'_>, expect: Expect) {
        cmd.encode(&mut self.buf);
        self.transcript.client(|| cmd.to_string());
        self.pending.push_back(Pending { expect, sent: None });
        self.unsent += 1;
    }

    /// Queues bytes that are not a command line (content, the final dot) and the reply they earn.
    pub(crate) fn send_raw(&mut self, bytes: &[u8], expect: Expect, shown: &str) {
        self.buf.extend_from_slice(bytes);
        self.transcript.client(|| shown.to_string());
        self.pending.push_back(Pending { expect, sent: None });
        self.unsent += 1;
    }

    /// Whether a reply of this kind is owed.
    pub(crate) fn owes(&self, f: impl Fn(Expect) -> bool) -> bool {
        self.pending.iter().any(|p| f(p.expect))
    }

    /// Whether a reply to one of message `id`'s commands is owed.
    pub(crate) fn owes_for(&self, id: MessageId) -> bool {
        self.owes(|e| e.message() == Some(id))
    }

    /// Stamps everything queued as sent at `now` and hands the bytes over.
    pub(crate) fn take(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        let n = self.pending.len();
        for p in self.pending.range_mut(n - self.unsent.min(n)..) {
            p.sent = Some(now);
        }
        self.unsent = 0;
        if self.buf.is_empty() {
            return false;
        }
        if out.is_empty() {
            std::mem::swap(out, &mut self.buf);
        } else {
            out.append(&mut self.buf);
        }
        true
    }

    /// The reply at the head of the queue is in: forget its entry.
    pub(crate) fn pop(&mut self) -> Option<Expect> {
        let p = self.pending.pop_front()?;
        self.unsent = self.unsent.min(self.pending.len());
        Some(p.expect)
    }
}

/// How the content of a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transfer {
    Data,
    Bdat,
}

/// Where a started message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TxState {
    /// MAIL (and with pipelining RCPT and DATA) sent; replies pending.
    Commands,
    /// The body writer is open for it.
    Body,
    /// The end of data is sent; only replies remain.
    Sent,
}

/// One message from MAIL to its final reply.
#[derive(Debug)]
pub(crate) struct Transaction {
    pub(crate) id: MessageId,
    pub(crate) envelope: Envelope,
    pub(crate) transfer: Transfer,
    /// MAIL, RCPTs and DATA went out in one group (else one at a time).
    pub(crate) pipelined: bool,
    pub(crate) state: TxState,
    pub(crate) mail: Option<Reply>,
    pub(crate) rcpts: Vec<Option<Reply>>,
    /// LMTP only: the reply after the content for each recipient, filled in RCPT order for the
    /// accepted ones (RFC 2033 §4.2). Empty slots for refused recipients stay `None`.
    pub(crate) finals: Vec<Option<Reply>>,
    /// The `BODY=` declared on MAIL: content that needs more is stopped.
    pub(crate) declared: BodyType,
    /// The first thing that went wrong; the message fails with it once nothing more is owed.
    pub(crate) failure: Option<(Stage, Cause)>,
    pub(crate) final_reply: Option<Reply>,
    /// Content bytes produced so far.
    pub(crate) size: u64,
}

impl Transaction {
    pub(crate) fn new(
        id: MessageId,
        envelope: Envelope,
        transfer: Transfer,
        pipelined: bool,
        declared: BodyType,
    ) -> Self {
        let n = envelope.recipients().len();
        Self {
            id,
            envelope,
            transfer,
            pipelined,
            state: TxState::Commands,
            mail: None,
            rcpts: vec![None; n],
            finals: vec![None; n],
            declared,
            failure: None,
            final_reply: None,
            size: 0,
        }
    }

    /// Records the first failure; later ones are consequences.
    pub(crate) fn fail(&mut self, stage: Stage, cause: Cause) {
        if self.failure.is_none() {
            self.failure = Some((stage, cause));
        }
    }

    /// Recipients accepted at RCPT (in LMTP, before their replies after the content).
    pub(crate) fn accepted_count(&self) -> usize {
        self.rcpts.iter().flatten().filter(|r| r.is_positive()).count()
    }

    /// LMTP: the accepted recipient whose reply after the content comes next, if one is owed.
    pub(crate) fn next_final(&self) -> Option<usize> {
        (0..self.rcpts.len())
            .find(|&i| self.rcpts[i].as_ref().is_some_and(Reply::is_positive) && self.finals[i].is_none())
    }

    /// True once every RCPT has its reply.
    pub(crate) fn rcpts_done(&self) -> bool {
        self.rcpts.iter().all(Option::is_some)
    }

    /// Whether the server may hold an open transaction for it (MAIL not known to have failed).
    pub(crate) fn may_be_open(&self) -> bool {
        self.mail.as_ref().is_none_or(Reply::is_positive)
    }

    /// The message's failure event, with everything known about its recipients.
    pub(crate) fn to_failure(&self, stage: Stage, cause: Cause, ambiguous: bool) -> Failure {
        let (accepted, rejected) = self.recipient_replies();
        Failure {
            id: self.id,
            stage,
            cause,
            accepted,
            rejected,
            ambiguous,
        }
    }

    /// Accepted and rejected recipients, in RCPT order. None after a refused MAIL: the RCPT
    /// replies then only say there was no transaction (503), nothing about the recipients.
    pub(crate) fn recipient_replies(&self) -> (Vec<RecipientReply>, Vec<RecipientReply>) {
        let mut accepted = Vec::new();
        let mut rejected = Vec::new();
        if !self.may_be_open() {
            return (accepted, rejected);
        }
        for (i, (r, reply)) in self.envelope.recipients().iter().zip(&self.rcpts).enumerate() {
            // LMTP: a recipient's reply after the content is its outcome; RCPT only admitted it.
            if let Some(reply) = self.finals[i].as_ref().or(reply.as_ref()) {
                let rr = RecipientReply {
                    recipient: r.mailbox.clone(),
                    reply: reply.clone(),
                };
                if reply.is_positive() {
                    accepted.push(rr);
                } else {
                    rejected.push(rr);
                }
            }
        }
        (accepted, rejected)
    }
}
