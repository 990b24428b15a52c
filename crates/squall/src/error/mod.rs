//! One error type for everything that can go wrong with a message, written to make the user
//! right: what happened (stage, the server's own words), whether trying again can help, and what
//! to do next.

pub(crate) mod hint;

use std::fmt;
use std::io;

use squall_proto::error::{LocalError, PolicyError, ProtocolError};
use squall_proto::session::{Cause, Failure, FailureKind, Stage as ProtoStage};

use squall_proto::reply::Reply;

use crate::receipt::{Attempt, RecipientStatus};

/// Whether trying again can help.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A temporary failure: the same message may go through later.
    Transient,
    /// The server refused for good: the same message will fail again.
    Permanent,
    /// Refused here, before anything was sent: the input or the configuration must change.
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
}

/// Where a send failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// Checking the message and addresses, before any connection.
    Prepare,
    /// Opening the TCP connection (DNS, refused, unreachable).
    Connect,
    /// The TLS handshake of implicit TLS (port 465).
    Tls,
    /// The server's greeting.
    Greeting,
    /// EHLO or HELO.
    Ehlo,
    /// STARTTLS and its handshake.
    StartTls,
    /// AUTH.
    Auth,
    /// MAIL FROM (the sender).
    Mail,
    /// RCPT TO (the recipients).
    Rcpt,
    /// DATA or BDAT: sending the content.
    Data,
    /// The server's verdict after the content.
    DataEnd,
    /// QUIT.
    Quit,
}

impl Stage {
    /// A lower-case name: `connect`, `rcpt`, `data-end`, ….
    pub fn name(self) -> &'static str {
        match self {
            Self::Prepare => "prepare",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Greeting => "greeting",
            Self::Ehlo => "ehlo",
            Self::StartTls => "starttls",
            Self::Auth => "auth",
            Self::Mail => "mail",
            Self::Rcpt => "rcpt",
            Self::Data => "data",
            Self::DataEnd => "data-end",
            Self::Quit => "quit",
        }
    }

    fn from_proto(s: squall_proto::session::Stage) -> Self {
        use squall_proto::session::Stage as P;
        match s {
            P::Greeting => Self::Greeting,
            P::Ehlo => Self::Ehlo,
            P::StartTls => Self::StartTls,
            P::Auth => Self::Auth,
            P::Queued | P::Mail => Self::Mail,
            P::Rcpt => Self::Rcpt,
            P::Data | P::Bdat | P::Rset => Self::Data,
            P::DataEnd => Self::DataEnd,
            P::Quit => Self::Quit,
            _ => Self::Mail,
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What went wrong, in detail.
#[derive(Debug)]
pub(crate) enum What {
    /// Bad input from the caller (an address, a header value).
    Input(String),
    /// The server refused at the stage.
    Rejected(Reply),
    /// Every recipient was refused.
    NoValidRecipients,
    Local(LocalError),
    Policy(PolicyError),
    Protocol(ProtocolError),
    ServerClosing(Reply),
    /// The connection ended; with the transport's own error when there was one.
    ConnectionLost(Option<io::Error>),
    Timeout,
    /// Could not connect at all.
    Connect(io::Error),
    /// The TLS handshake failed (certificate, protocol).
    Tls(io::Error),
    /// Reading the message body failed.
    Body(io::Error),
    /// The OAuth 2.0 token source failed.
    Token(String),
    /// The message's deadline passed before it could be sent.
    Deadline,
    /// Something went wrong inside squall (a bug).
    Internal(&'static str),
    /// The client was shut down before the message was sent.
    Shutdown,
}

/// Why a message was not sent. See [`kind`](Self::kind), [`stage`](Self::stage) and
/// [`reply`](Self::reply); `Display` gives the whole story in one line.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    stage: Stage,
    what: What,
    server: Option<String>,
    accepted: Vec<RecipientStatus>,
    rejected: Vec<RecipientStatus>,
    ambiguous: bool,
    attempts: Vec<Attempt>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, stage: Stage, what: What) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                stage,
                what,
                server: None,
                accepted: Vec::new(),
                rejected: Vec::new(),
                ambiguous: false,
                attempts: Vec::new(),
            }),
        }
    }

    pub(crate) fn with_attempts(mut self, attempts: Vec<Attempt>) -> Self {
        self.inner.attempts = attempts;
        self
    }

    /// Every recipient refused at RCPT while the message itself was accepted: nobody got it.
    pub(crate) fn no_recipient_accepted(rejected: Vec<RecipientStatus>, attempts: Vec<Attempt>) -> Self {
        let kind = if rejected.iter().any(|r| r.reply.is_transient()) {
            ErrorKind::Transient
        } else {
            ErrorKind::Permanent
        };
        let mut e = Self::new(kind, Stage::Rcpt, What::NoValidRecipients);
        e.inner.rejected = rejected;
        e.inner.attempts = attempts;
        e
    }

    pub(crate) fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Local, Stage::Prepare, What::Input(message.into()))
    }

    /// A local error about the caller's input (an unreadable file, a bad flag), for tools built on
    /// squall that want one error type.
    pub fn from_input(message: impl Into<String>) -> Self {
        Self::input(message)
    }

    pub(crate) fn with_server(mut self, server: &str) -> Self {
        self.inner.server = Some(server.to_string());
        self
    }

    /// An error from a session's report of a failed message, with the transport's own error
    /// (if the driver saw one) for a lost connection.
    pub(crate) fn from_failure(f: Failure, transport: Option<&TransportError>) -> Self {
        let kind = f.kind();
        let mut e = Self::from_cause(f.stage, f.cause, kind, transport);
        e.inner.accepted = f.accepted.into_iter().map(RecipientStatus::from_proto).collect();
        e.inner.rejected = f.rejected.into_iter().map(RecipientStatus::from_proto).collect();
        e.inner.ambiguous = f.ambiguous;
        e
    }

    /// An error for a session that could not be set up (no message involved).
    pub(crate) fn from_setup(stage: ProtoStage, cause: Cause, transport: Option<&TransportError>) -> Self {
        let kind = cause.kind(&[]);
        Self::from_cause(stage, cause, kind, transport)
    }

    fn from_cause(
        stage: ProtoStage,
        cause: Cause,
        kind: FailureKind,
        transport: Option<&TransportError>,
    ) -> Self {
        let mut kind = match kind {
            FailureKind::Transient => ErrorKind::Transient,
            FailureKind::Permanent => ErrorKind::Permanent,
            FailureKind::Local => ErrorKind::Local,
        };
        let mut stage = Stage::from_proto(stage);
        let what = match cause {
            Cause::Rejected(r) => What::Rejected(r),
            Cause::NoValidRecipients => What::NoValidRecipients,
            Cause::Local(e) => What::Local(e),
            Cause::Policy(e) => What::Policy(e),
            Cause::Protocol(e) => What::Protocol(e),
            Cause::ServerClosing(r) => What::ServerClosing(r),
            Cause::Timeout => What::Timeout,
            Cause::ConnectionLost | Cause::NotAttempted => match transport {
                Some(TransportError::Tls(e)) => {
                    stage = Stage::StartTls;
                    kind = tls_kind(e);
                    What::Tls(copy_io(e))
                }
                Some(TransportError::WriteTimeout) => What::Timeout,
                Some(TransportError::Io(e)) => What::ConnectionLost(Some(copy_io(e))),
                Some(TransportError::Body(e)) => What::Body(copy_io(e)),
                None => What::ConnectionLost(None),
            },
            _ => What::ConnectionLost(None),
        };
        Self::new(kind, stage, what)
    }

    /// Whether trying again can help.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// Where it failed.
    pub fn stage(&self) -> Stage {
        self.inner.stage
    }

    /// True for [`ErrorKind::Transient`].
    pub fn is_transient(&self) -> bool {
        self.inner.kind == ErrorKind::Transient
    }

    /// True for [`ErrorKind::Permanent`].
    pub fn is_permanent(&self) -> bool {
        self.inner.kind == ErrorKind::Permanent
    }

    /// True when the server did not answer in time.
    pub fn is_timeout(&self) -> bool {
        matches!(self.inner.what, What::Timeout)
    }

    /// True when the server broke the protocol (sysexits' 76).
    pub fn is_protocol(&self) -> bool {
        matches!(self.inner.what, What::Protocol(_))
    }

    /// True when no connection could be made, or the server refused service (sysexits' 69).
    pub fn is_unavailable(&self) -> bool {
        matches!(self.inner.what, What::Connect(_))
            || (matches!(self.inner.stage, Stage::Greeting | Stage::Ehlo) && self.is_permanent())
    }

    /// True when the server refused the credentials (sysexits' 77).
    pub fn is_auth_refused(&self) -> bool {
        self.inner.stage == Stage::Auth && matches!(self.inner.what, What::Rejected(_))
    }

    /// True when the configuration contradicts itself or the server (sysexits' 78): TLS or AUTH
    /// requirements that cannot be met.
    pub fn is_config(&self) -> bool {
        matches!(self.inner.what, What::Policy(_))
            || (matches!(self.inner.what, What::Tls(_)) && self.is_permanent())
    }

    /// True when the message or an address was refused as input (sysexits' 65).
    pub fn is_input(&self) -> bool {
        matches!(self.inner.what, What::Input(_) | What::Local(_) | What::Body(_))
    }

    /// True when the message was refused because of its recipients (sysexits' 67).
    pub fn is_recipients(&self) -> bool {
        matches!(self.inner.what, What::NoValidRecipients)
    }

    /// The server's reply that decided it, if a reply did. For a message with no accepted
    /// recipient, the first refusal.
    pub fn reply(&self) -> Option<&Reply> {
        match &self.inner.what {
            What::Rejected(r) | What::ServerClosing(r) => Some(r),
            What::NoValidRecipients => self.inner.rejected.first().map(|r| &r.reply),
            What::Protocol(ProtocolError::UnexpectedReply { reply, .. }) => Some(reply),
            _ => None,
        }
    }

    /// Recipients the server had accepted before the failure (they did not get the message).
    pub fn accepted(&self) -> &[RecipientStatus] {
        &self.inner.accepted
    }

    /// Recipients the server refused.
    pub fn rejected(&self) -> &[RecipientStatus] {
        &self.inner.rejected
    }

    /// True when the connection was lost after the whole message was sent and before the
    /// server's verdict: it may have been delivered, and resending may deliver it twice.
    pub fn is_ambiguous(&self) -> bool {
        self.inner.ambiguous
    }

    /// Every try, in order (more than one when a temporary failure was retried).
    pub fn attempts(&self) -> &[Attempt] {
        &self.inner.attempts
    }

    /// What to do about it, in one sentence.
    pub fn hint(&self) -> String {
        hint::advice(self)
    }

    /// What happened, without the advice (the first part of `Display`).
    pub fn summary(&self) -> String {
        hint::summary(self)
    }

    pub(crate) fn what(&self) -> &What {
        &self.inner.what
    }

    pub(crate) fn server(&self) -> Option<&str> {
        self.inner.server.as_deref()
    }
}

impl fmt::Display for Error {
    /// `the server refused recipient <x@example.org>: 550 5.1.1 user unknown — the address does
    /// not exist there; check the spelling (a permanent failure: …)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} — {}", self.summary(), self.hint())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("stage", &self.inner.stage)
            .field("what", &self.inner.what)
            .field("ambiguous", &self.inner.ambiguous)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.inner.what {
            What::Local(e) => Some(e),
            What::Policy(e) => Some(e),
            What::Protocol(e) => Some(e),
            What::Connect(e) | What::Tls(e) | What::Body(e) | What::ConnectionLost(Some(e)) => Some(e),
            _ => None,
        }
    }
}

/// What the driver saw go wrong with the transport, to explain a lost connection.
#[derive(Debug)]
pub(crate) enum TransportError {
    Io(io::Error),
    Tls(io::Error),
    WriteTimeout,
    Body(io::Error),
}

/// A TLS failure: a certificate or protocol refusal fails the same way next time (permanent);
/// an I/O failure or timeout during the handshake may not (transient).
pub(crate) fn tls_kind(e: &io::Error) -> ErrorKind {
    if e.kind() == io::ErrorKind::InvalidData {
        ErrorKind::Permanent
    } else {
        ErrorKind::Transient
    }
}

impl TransportError {
    /// A copy (`io::Error` is not `Clone`).
    pub(crate) fn copy(&self) -> Self {
        match self {
            Self::Io(e) => Self::Io(copy_io(e)),
            Self::Tls(e) => Self::Tls(copy_io(e)),
            Self::WriteTimeout => Self::WriteTimeout,
            Self::Body(e) => Self::Body(copy_io(e)),
        }
    }
}

/// `io::Error` is not `Clone`; keep its kind and text.
pub(crate) fn copy_io(e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), e.to_string())
}
