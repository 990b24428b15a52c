//! What a session reports to its driver.

use std::fmt;

use crate::address::Mailbox;
use crate::auth::Mechanism;
use crate::ehlo::Capabilities;
use crate::error::{LocalError, PolicyError, ProtocolError};
use crate::reply::{Class, Reply};

/// Names a message handed to [`ClientSession::send_mail`](super::ClientSession::send_mail).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub(crate) u64);

impl MessageId {
    /// The number, unique within one session.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Where in the dialog something happened.
///
/// The session itself reports the stages from [`Greeting`](Self::Greeting) on; the first three
/// belong to the driver, which checks input, connects and runs implicit TLS before a session
/// exists. They live here so that a driver and its users share one vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// Checking the message and addresses, before any connection (reported by the driver).
    Prepare,
    /// Opening the connection: name lookup, TCP (reported by the driver).
    Connect,
    /// The TLS handshake of implicit TLS, before the greeting (reported by the driver).
    Tls,
    /// Waiting for the 220 greeting.
    Greeting,
    /// EHLO or HELO.
    Ehlo,
    /// STARTTLS and the TLS handshake.
    StartTls,
    /// AUTH.
    Auth,
    /// The message was still queued: none of it was sent.
    Queued,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// DATA (the command or the sending of the content).
    Data,
    /// A BDAT chunk before the last.
    Bdat,
    /// The final reply after the `.` or `BDAT … LAST`.
    DataEnd,
    /// RSET.
    Rset,
    /// QUIT.
    Quit,
}

impl Stage {
    /// A lower-case name for messages and JSON: `greeting`, `ehlo`, `data-end`, ….
    pub fn name(self) -> &'static str {
        match self {
            Self::Prepare => "prepare",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Greeting => "greeting",
            Self::Ehlo => "ehlo",
            Self::StartTls => "starttls",
            Self::Auth => "auth",
            Self::Queued => "queued",
            Self::Mail => "mail",
            Self::Rcpt => "rcpt",
            Self::Data => "data",
            Self::Bdat => "bdat",
            Self::DataEnd => "data-end",
            Self::Rset => "rset",
            Self::Quit => "quit",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether trying again can help.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A later attempt may succeed unchanged (4yz, lost connection, timeout).
    Transient,
    /// The server refused for good (5yz): the same message will fail again.
    Permanent,
    /// Refused here before sending; the message or the configuration must change.
    Local,
}

impl ErrorKind {
    /// `transient`, `permanent` or `local`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Transient => "transient",
            Self::Permanent => "permanent",
            Self::Local => "local",
        }
    }

    /// The kind a reply implies: 5yz is permanent, anything else that fails is transient.
    pub fn of_reply(reply: &Reply) -> Self {
        match reply.code().class() {
            Class::PermanentFailure => Self::Permanent,
            _ => Self::Transient,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A recipient and the server's answer to its RCPT.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecipientReply {
    /// The recipient.
    pub recipient: Mailbox,
    /// The RCPT reply.
    pub reply: Reply,
}

impl RecipientReply {
    /// Whether the server accepted the recipient.
    pub fn is_accepted(&self) -> bool {
        self.reply.is_positive()
    }

    /// Whether a refusal may go away if tried later (4yz); false for an acceptance.
    pub fn kind(&self) -> Option<ErrorKind> {
        (!self.is_accepted()).then(|| ErrorKind::of_reply(&self.reply))
    }

    /// What happened: `the server refused recipient <x@example.org>: 550 5.1.1 user unknown`
    /// (or `accepted` for an accepted one).
    pub fn summary(&self) -> String {
        let verb = if self.is_accepted() { "accepted" } else { "refused" };
        format!("the server {verb} recipient <{}>: {}", self.recipient, self.reply)
    }

    /// What to do about a refusal, from its enhanced status code (RFC 3463): `the address does
    /// not exist there; check the spelling`.
    pub fn hint(&self) -> &'static str {
        crate::advice::for_reply(Stage::Rcpt, &self.reply)
    }
}

impl fmt::Display for RecipientReply {
    /// The summary and, for a refusal, the hint: `… 550 5.1.1 user unknown — the address does
    /// not exist there; check the spelling`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())?;
        if !self.is_accepted() {
            write!(f, " — {}", self.hint())?;
        }
        Ok(())
    }
}

/// The server took responsibility for a message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// Which message.
    pub id: MessageId,
    /// Recipients the server accepted.
    pub accepted: Vec<RecipientReply>,
    /// Recipients the server refused: the message was not delivered to them.
    pub rejected: Vec<RecipientReply>,
    /// The final reply (its text often holds the server's queue id, see [`Reply::queue_id`]).
    pub reply: Reply,
    /// Content bytes sent, as the server stores them.
    pub size: u64,
}

/// Why a message was not delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// The server refused it at the failure's stage with this reply.
    Rejected(Reply),
    /// Every recipient was refused; their replies are in [`Failure::rejected`].
    NoValidRecipients,
    /// Refused here, before anything of it was sent.
    Local(LocalError),
    /// The connection does not meet the security requirements.
    Policy(PolicyError),
    /// The server broke the protocol.
    Protocol(ProtocolError),
    /// The server announced it is closing (421).
    ServerClosing(Reply),
    /// The connection ended (EOF, I/O or TLS error reported by the driver).
    ConnectionLost,
    /// The server did not answer in time.
    Timeout,
    /// The session ended before the message was started.
    NotAttempted,
}

/// A message that was not delivered, with everything known about why.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Failure {
    /// Which message.
    pub id: MessageId,
    /// Where it failed.
    pub stage: Stage,
    /// Why.
    pub cause: Cause,
    /// Recipients the server had accepted before the failure (they did not get the message).
    pub accepted: Vec<RecipientReply>,
    /// Recipients the server refused.
    pub rejected: Vec<RecipientReply>,
    /// True when the connection was lost or timed out after the end of the data was sent and
    /// before the reply came: the server may have accepted the message, so resending it may
    /// deliver it twice (RFC 5321 §4.5.3.2.6).
    pub ambiguous: bool,
}

impl Failure {
    /// Whether trying again can help.
    pub fn kind(&self) -> ErrorKind {
        self.cause.kind(&self.rejected)
    }
}

impl Cause {
    /// Whether trying again can help, given the recipients refused along the way.
    pub fn kind(&self, rejected: &[RecipientReply]) -> ErrorKind {
        match self {
            Self::Rejected(r) => ErrorKind::of_reply(r),
            Self::NoValidRecipients => {
                if rejected.iter().any(|r| r.reply.is_transient()) {
                    ErrorKind::Transient
                } else {
                    ErrorKind::Permanent
                }
            }
            Self::Local(_) => ErrorKind::Local,
            Self::Policy(
                PolicyError::AuthNeedsTls
                | PolicyError::AuthNeedsVerifiedTls
                | PolicyError::MechanismNotOffered { .. },
            ) => ErrorKind::Local,
            Self::Policy(_) => ErrorKind::Permanent,
            Self::Protocol(_)
            | Self::ServerClosing(_)
            | Self::ConnectionLost
            | Self::Timeout
            | Self::NotAttempted => ErrorKind::Transient,
        }
    }
}

/// Why the session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// QUIT was sent and answered (or the server closed right after it).
    Quit,
    /// The server refused the session at `stage` (greeting, EHLO/HELO, STARTTLS or AUTH); QUIT
    /// was sent afterwards.
    Rejected {
        /// Where.
        stage: Stage,
        /// The refusal.
        reply: Reply,
    },
    /// The security requirements could not be met; QUIT was sent.
    Policy(PolicyError),
    /// The server announced it is closing (421).
    ServerClosing(Reply),
    /// The transport ended unexpectedly.
    ConnectionLost {
        /// What was being waited for; `None` when the session was idle.
        stage: Option<Stage>,
    },
    /// A reply did not come in time.
    Timeout {
        /// What was being waited for.
        stage: Stage,
    },
    /// The server broke the protocol.
    Protocol(ProtocolError),
    /// A DATA body was abandoned half-way; only closing the connection can stop the server from
    /// taking a truncated message.
    BodyAborted,
}

/// Something the driver must know or act on, from [`ClientSession::poll_event`](super::ClientSession::poll_event).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The server's greeting arrived.
    Greeting(Reply),
    /// An EHLO (or HELO) succeeded; these are the server's extensions for now.
    Capabilities(Capabilities),
    /// The server agreed to STARTTLS: perform the TLS handshake on the transport now (nothing more
    /// is read or written in cleartext), then call
    /// [`handle_tls_established`](super::ClientSession::handle_tls_established).
    StartTls,
    /// AUTH succeeded with this mechanism.
    Authenticated(Mechanism),
    /// Greeting, EHLO, TLS and AUTH are done: messages flow from now on.
    Ready,
    /// A message was accepted.
    Delivered(Delivery),
    /// A message was not accepted.
    Failed(Failure),
    /// The session is over; the driver closes the transport. Comes once, after the outcome of
    /// every message handed over before it.
    Closed(CloseReason),
}
