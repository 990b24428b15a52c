//! One error type for everything that can go wrong with a message, written to make the user
//! right: what happened (stage, the server's own words), whether trying again can help, and what
//! to do next.
//!
//! The vocabulary is the core's: [`Stage`], [`ErrorKind`], [`Cause`] and [`RecipientReply`] come
//! from [`squall_proto`]. This module adds only what the driver alone knows: the input it
//! refused, the connection, TLS and body errors it met, and deadlines.

pub(crate) mod hint;

use std::fmt;
use std::io;
use std::sync::Arc;

use squall_proto::error::ProtocolError;
use squall_proto::reply::Reply;
use squall_proto::session::{Cause, ErrorKind, Failure, RecipientReply, Stage};

use crate::receipt::Attempt;

/// What went wrong, in detail.
#[derive(Clone, Debug)]
pub(crate) enum What {
    /// What the session reported: a refusal, a local or policy error, a protocol error, a
    /// timeout or a lost connection the driver has nothing to add to.
    Session(Cause),
    /// Bad input from the caller (an address, a header value, a setting).
    Input(String),
    /// The server's name could not be looked up (`NotFound`: it does not exist).
    Lookup(Arc<io::Error>),
    /// No address of the server could be connected to: each tried, with its error.
    Connect(Vec<(std::net::SocketAddr, Arc<io::Error>)>),
    /// The server could not be reached through the SOCKS5 proxy (shown without its password).
    Proxy {
        proxy: String,
        failure: crate::proxy::ProxyFailure,
    },
    /// The domain publishes a null MX (RFC 7505): it accepts no mail.
    NullMx(String),
    /// The domain's MTA-STS policy (enforce, RFC 8461) left no MX host to deliver to.
    MtaSts(String),
    /// The TLS handshake failed (certificate, protocol).
    Tls(Arc<io::Error>),
    /// The connection failed with this error.
    Io(Arc<io::Error>),
    /// The server stopped taking bytes for longer than the data timeout.
    WriteStalled,
    /// Reading the message body failed.
    Body(Arc<io::Error>),
    /// The OAuth 2.0 token source failed.
    Token(String),
    /// The message went to some recipients only (from [`Receipt::require_all`]).
    ///
    /// [`Receipt::require_all`]: crate::Receipt::require_all
    Partial {
        /// Recipients whose outcome is unknown (the connection was lost after the content).
        ambiguous: Vec<squall_proto::address::Mailbox>,
    },
    /// The message's deadline passed before it could be sent.
    Deadline,
    /// Something went wrong inside squall (a bug).
    Internal(&'static str),
    /// The client was shut down before the message was sent.
    Shutdown,
    /// A runtime for a client built outside one could not be started.
    Runtime(Arc<io::Error>),
}

/// What the driver saw go wrong with the transport, to explain a lost connection.
#[derive(Clone, Debug)]
pub(crate) enum TransportError {
    Io(Arc<io::Error>),
    Tls(Arc<io::Error>),
    WriteStalled,
    Body(Arc<io::Error>),
}

/// Why a message was not sent. See [`kind`](Self::kind), [`stage`](Self::stage) and
/// [`reply`](Self::reply); `Display` gives the whole story in one line.
///
/// Cheap to clone; the I/O or TLS error behind it, if any, is its [`source`].
///
/// [`source`]: std::error::Error::source
#[derive(Clone)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    stage: Stage,
    what: What,
    server: Option<String>,
    accepted: Vec<RecipientReply>,
    rejected: Vec<RecipientReply>,
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
    pub(crate) fn no_recipient_accepted(rejected: Vec<RecipientReply>, attempts: Vec<Attempt>) -> Self {
        let cause = Cause::NoValidRecipients;
        let mut e = Self::new(cause.kind(&rejected), Stage::Rcpt, What::Session(cause));
        e.inner.rejected = rejected;
        e.inner.attempts = attempts;
        e
    }

    /// A message delivered to only some of its recipients, as an error.
    pub(crate) fn partial(receipt: crate::Receipt) -> Self {
        let transient =
            !receipt.ambiguous.is_empty() || receipt.rejected.iter().any(|r| r.reply.is_transient());
        let kind = if transient {
            ErrorKind::Transient
        } else {
            ErrorKind::Permanent
        };
        let mut e = Self::new(
            kind,
            Stage::Rcpt,
            What::Partial {
                ambiguous: receipt.ambiguous,
            },
        );
        e.inner.accepted = receipt.accepted;
        e.inner.rejected = receipt.rejected;
        e.inner.attempts = receipt.attempts;
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
        e.inner.accepted = f.accepted;
        e.inner.rejected = f.rejected;
        e.inner.ambiguous = f.ambiguous;
        e
    }

    /// An error for a session that could not be set up (no message involved).
    pub(crate) fn from_setup(stage: Stage, cause: Cause, transport: Option<&TransportError>) -> Self {
        let kind = cause.kind(&[]);
        Self::from_cause(stage, cause, kind, transport)
    }

    fn from_cause(stage: Stage, cause: Cause, kind: ErrorKind, transport: Option<&TransportError>) -> Self {
        let lost = matches!(cause, Cause::ConnectionLost | Cause::NotAttempted);
        let (kind, stage, what) = match transport {
            Some(TransportError::Tls(e)) if lost => (tls_kind(e), Stage::StartTls, What::Tls(e.clone())),
            Some(TransportError::WriteStalled) if lost => (kind, stage, What::WriteStalled),
            Some(TransportError::Io(e)) if lost => (kind, stage, What::Io(e.clone())),
            Some(TransportError::Body(e)) if lost => (kind, stage, What::Body(e.clone())),
            _ => (kind, stage, What::Session(cause)),
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

    /// True when the server did not answer (or take bytes) in time.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self.inner.what,
            What::Session(Cause::Timeout) | What::WriteStalled
        )
    }

    /// True when the server broke the protocol (sysexits' 76).
    pub fn is_protocol(&self) -> bool {
        matches!(self.inner.what, What::Session(Cause::Protocol(_)))
    }

    /// True when no connection could be made, or the server refused service (sysexits' 69).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self.inner.what,
            What::Connect(_) | What::Lookup(_) | What::Proxy { .. }
        ) || (matches!(self.inner.stage, Stage::Greeting | Stage::Ehlo) && self.is_permanent())
    }

    /// True when the server's name does not exist (sysexits' 68, EX_NOHOST): a lookup that
    /// may work later (a resolver down) is not this, but a transient
    /// [`is_unavailable`](Self::is_unavailable).
    pub fn is_unknown_host(&self) -> bool {
        matches!(&self.inner.what, What::Lookup(e) if e.kind() == io::ErrorKind::NotFound)
    }

    /// True when the connection could not be set up (connect, TLS, greeting, EHLO, STARTTLS or
    /// AUTH): nothing of the message was sent, and every message to this server with these
    /// settings meets the same failure while it lasts — for a permanent one, until the settings
    /// or the server change.
    pub fn is_setup(&self) -> bool {
        matches!(
            self.inner.stage,
            Stage::Connect | Stage::Tls | Stage::Greeting | Stage::Ehlo | Stage::StartTls | Stage::Auth
        )
    }

    /// True when the server refused the credentials (sysexits' 77).
    pub fn is_auth_refused(&self) -> bool {
        self.inner.stage == Stage::Auth && matches!(self.inner.what, What::Session(Cause::Rejected(_)))
    }

    /// True when the configuration contradicts itself or the server (sysexits' 78): TLS or AUTH
    /// requirements that cannot be met.
    pub fn is_config(&self) -> bool {
        matches!(self.inner.what, What::Session(Cause::Policy(_)))
            || (matches!(self.inner.what, What::Tls(_)) && self.is_permanent())
    }

    /// True when the message or an address was refused as input (sysexits' 65).
    pub fn is_input(&self) -> bool {
        matches!(
            self.inner.what,
            What::Input(_) | What::Session(Cause::Local(_)) | What::Body(_)
        )
    }

    /// True when the message was refused because of its recipients, all or some of them
    /// (sysexits' 67).
    pub fn is_recipients(&self) -> bool {
        matches!(
            self.inner.what,
            What::Session(Cause::NoValidRecipients) | What::Partial { .. }
        )
    }

    /// The server's reply that decided it, if a reply did. For a message with no accepted
    /// recipient, the first refusal.
    pub fn reply(&self) -> Option<&Reply> {
        match &self.inner.what {
            What::Session(Cause::Rejected(r) | Cause::ServerClosing(r)) => Some(r),
            What::Session(Cause::NoValidRecipients) | What::Partial { .. } => {
                self.inner.rejected.first().map(|r| &r.reply)
            }
            What::Session(Cause::Protocol(ProtocolError::UnexpectedReply { reply, .. })) => Some(reply),
            _ => None,
        }
    }

    /// Recipients the server had accepted before the failure (they did not get the message).
    pub fn accepted(&self) -> &[RecipientReply] {
        &self.inner.accepted
    }

    /// Recipients the server refused.
    pub fn rejected(&self) -> &[RecipientReply] {
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
            What::Session(Cause::Local(e)) => Some(e),
            What::Session(Cause::Policy(e)) => Some(e),
            What::Session(Cause::Protocol(e)) => Some(e),
            What::Lookup(e) | What::Tls(e) | What::Body(e) | What::Io(e) | What::Runtime(e) => Some(&**e),
            What::Connect(tried) => tried
                .last()
                .map(|(_, e)| &**e as &(dyn std::error::Error + 'static)),
            _ => None,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_keep_the_original_io_error_as_source() {
        let io = io::Error::new(io::ErrorKind::ConnectionRefused, "refused here");
        let tried = vec![(std::net::SocketAddr::from(([127, 0, 0, 1], 25)), Arc::new(io))];
        let e = Error::new(ErrorKind::Transient, Stage::Connect, What::Connect(tried));
        let copy = e.clone();
        let source = std::error::Error::source(&copy).unwrap();
        let io = source.downcast_ref::<io::Error>().expect("the io::Error itself");
        assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!(io.to_string(), "refused here");
    }
}
