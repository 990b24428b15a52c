//! The three families of things that go wrong, kept apart because callers act on them differently:
//! local refusals ([`LocalError`], [`PolicyError`], [`UsageError`]) mean nothing was sent and the
//! caller must change something; [`ProtocolError`] means the server broke the protocol; a server
//! refusal is not an error type at all but a [`Reply`] carried by an event.

use thiserror::Error;

use crate::auth::Mechanism;
use crate::reply::{Reply, ReplyError};
use crate::session::MessageId;

/// A message refused before any of it was sent, because the server cannot take it as it is.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LocalError {
    /// The message is larger than the server's declared SIZE limit (RFC 1870).
    #[error("the message is {size} bytes but the server accepts at most {limit} bytes")]
    MessageTooLarge {
        /// The message size (or the size reached while streaming it).
        size: u64,
        /// The server's limit.
        limit: u64,
    },
    /// Content whose size was not known in advance grew past the server's SIZE limit while it was
    /// sent; it was stopped there, and nothing of it is delivered.
    #[error(
        "the message grew past the {limit} bytes the server accepts (stopped after {size} bytes; its full size was not known in advance)"
    )]
    MessageGrewTooLarge {
        /// The size reached when it was stopped.
        size: u64,
        /// The server's limit.
        limit: u64,
    },
    /// A non-ASCII address or `SMTPUTF8` request, and the server does not offer SMTPUTF8.
    #[error("the message needs SMTPUTF8 (non-ASCII addresses or headers) but the server does not offer it")]
    SmtpUtf8Unsupported,
    /// An 8-bit body, and the server does not offer 8BITMIME.
    #[error("the message has an 8-bit body but the server does not offer 8BITMIME")]
    EightBitUnsupported,
    /// A binary body, and the server does not offer CHUNKING and BINARYMIME.
    #[error("the message has a binary body but the server does not offer CHUNKING and BINARYMIME")]
    BinaryUnsupported,
    /// REQUIRETLS was asked for, and the session is not encrypted, its certificate did not
    /// verify, or the server does not offer REQUIRETLS (RFC 8689 §4.2.1).
    #[error("REQUIRETLS needs TLS with a verified certificate and a server that offers REQUIRETLS ({})",
        if !*.tls { "this session is not encrypted" }
        else if !*.verified { "the server's certificate did not verify" }
        else { "the server does not offer it" })]
    RequireTlsUnavailable {
        /// Whether the session was encrypted.
        tls: bool,
        /// Whether the server's certificate verified.
        verified: bool,
    },
    /// The caller gave up on the body (for example, reading it failed).
    #[error("the message body was abandoned: {0}")]
    BodyAborted(String),
}

/// The connection does not meet the caller's security requirements; nothing private was sent.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// TLS is required and the server does not offer STARTTLS.
    #[error("TLS is required but the server does not offer STARTTLS")]
    StartTlsNotOffered,
    /// Credentials are configured and the session is not encrypted.
    #[error("refusing to send credentials over an unencrypted connection")]
    AuthNeedsTls,
    /// Credentials are configured and the session is encrypted, but the server's certificate could
    /// not be verified (opportunistic TLS): whoever is in the path could read them.
    #[error("refusing to send credentials over TLS whose certificate could not be verified")]
    AuthNeedsVerifiedTls,
    /// Credentials are configured and the server offers no AUTH.
    #[error("credentials are configured but the server does not offer AUTH{}",
        if *.tls { "" } else { " (many servers offer it only after STARTTLS)" })]
    AuthNotOffered {
        /// Whether the session was encrypted.
        tls: bool,
    },
    /// The mechanism the caller chose is not offered.
    #[error("the server does not offer AUTH {wanted} (it offers {})", names(offered))]
    MechanismNotOffered {
        /// The mechanism asked for.
        wanted: Mechanism,
        /// What the server offers.
        offered: Vec<Mechanism>,
    },
    /// No offered mechanism works with the configured credentials.
    #[error(
        "none of the server's AUTH mechanisms ({}) works with these credentials",
        names(offered)
    )]
    NoUsableMechanism {
        /// What the server offers.
        offered: Vec<Mechanism>,
    },
    /// A SCRAM exchange failed its checks: above all, a server signature that does not match
    /// (the server did not prove it knows the password).
    #[error("{0}")]
    Scram(crate::auth::ScramError),
}

fn names(m: &[Mechanism]) -> String {
    let v: Vec<&str> = m.iter().map(Mechanism::name).collect();
    v.join(" ")
}

/// The server broke the protocol; the connection cannot be trusted any more.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Bytes that are not a reply.
    #[error("unreadable reply: {0}")]
    Reply(#[from] ReplyError),
    /// A reply whose class makes no sense for the command it answers.
    #[error("unexpected reply: got {reply} when expecting {expected}")]
    UnexpectedReply {
        /// What the command allows, such as `354 after DATA`.
        expected: &'static str,
        /// What came.
        reply: Reply,
    },
    /// A reply when no command was waiting for one.
    #[error("unsolicited reply: {0}")]
    Unsolicited(Reply),
    /// Cleartext bytes after the STARTTLS go-ahead: a response-injection attempt or a broken server.
    #[error("data arrived in cleartext after the STARTTLS go-ahead (possible response injection)")]
    DataAfterStartTls {
        /// How many bytes were waiting when it was noticed.
        bytes: usize,
    },
    /// A `334` challenge that is not valid base64, or one the mechanism cannot answer.
    #[error("unusable AUTH challenge: {0}")]
    BadChallenge(String),
}

/// The caller used the session in a way the protocol does not allow at this point.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum UsageError {
    /// Body bytes for a message whose body is not wanted now; see
    /// [`ClientSession::poll_body`](crate::ClientSession::poll_body).
    #[error("the body of message {0} is not wanted now (check poll_body first)")]
    BodyNotWanted(MessageId),
    /// `handle_tls_established` outside a STARTTLS hand-off.
    #[error("no STARTTLS hand-off is in progress")]
    NoTlsHandoff,
}
