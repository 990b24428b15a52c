//! The sans-IO core of [squall], an SMTP client: a deterministic protocol engine with no
//! sockets, no async runtime, no TLS and no clock reads.
//!
//! [`ClientSession`] is fed the server's bytes and asked for bytes to send; it reports what
//! happened as [`Event`](session::Event)s and says when it next needs the time. Everything that
//! depends on time takes an `Instant` from the caller. That keeps every protocol behaviour
//! testable from byte transcripts and fuzzable, and lets any I/O layer (squall's tokio driver,
//! a blocking loop over `std::net`, a test) drive it the same way.
//!
//! ```
//! use std::time::Instant;
//! use squall_proto::address::{EhloName, Mailbox, ReversePath};
//! use squall_proto::envelope::Envelope;
//! use squall_proto::session::{Event, SessionConfig, Tls};
//! use squall_proto::ClientSession;
//!
//! let now = Instant::now();
//! let config = SessionConfig::new().ehlo_name(EhloName::parse("client.example").unwrap()).tls(Tls::None);
//! let mut session = ClientSession::new(config, now);
//! let to = Mailbox::parse("rcpt@example.net").unwrap();
//! let id = session.send_mail(Envelope::new(ReversePath::parse("me@example.org").unwrap(), [to]).unwrap());
//!
//! // The transport delivers the greeting; the session answers with EHLO.
//! session.handle_input(b"220 mx.example.net ESMTP\r\n", now);
//! let mut out = Vec::new();
//! session.poll_transmit(now, &mut out);
//! assert_eq!(out, b"EHLO client.example\r\n");
//!
//! // With PIPELINING offered, MAIL, RCPT and DATA leave in one write.
//! session.handle_input(b"250-mx.example.net\r\n250 PIPELINING\r\n", now);
//! out.clear();
//! session.poll_transmit(now, &mut out);
//! assert_eq!(out, b"MAIL FROM:<me@example.org>\r\nRCPT TO:<rcpt@example.net>\r\nDATA\r\n");
//!
//! // After 354 the session asks for the content, which the driver streams in pieces.
//! session.handle_input(b"250 ok\r\n250 ok\r\n354 go ahead\r\n", now);
//! assert_eq!(session.poll_body(), Some(id));
//! session.write_body(id, b"Subject: hi\r\n\r\n.hello\n").unwrap();
//! session.finish_body(id).unwrap();
//! out.clear();
//! session.poll_transmit(now, &mut out);
//! assert_eq!(out, b"Subject: hi\r\n\r\n..hello\r\n.\r\n");
//!
//! session.handle_input(b"250 2.0.0 Ok: queued as 4BxY\r\n", now);
//! let delivered = std::iter::from_fn(|| session.poll_event()).find_map(|e| match e {
//!     Event::Delivered(d) => Some(d),
//!     _ => None,
//! });
//! assert_eq!(delivered.unwrap().reply.queue_id(), Some("4BxY"));
//! ```
//!
//! # What lives where
//!
//! * [`reply`]: the incremental, bounded reply parser and reply codes (RFC 5321 §4.2, RFC 3463).
//! * [`ehlo`]: capabilities from the EHLO reply.
//! * [`address`], [`params`], [`envelope`]: validated inputs; a CR, LF or NUL from the caller is
//!   refused when the value is built, so no command can carry one.
//! * [`command`]: exact wire encoding of each command.
//! * [`data`]: dot-stuffing and CRLF normalisation (the SMTP smuggling defence), and the inverse.
//! * [`auth`]: SASL mechanisms as pure data.
//! * [`dkim`]: DKIM canonicalization and the signature field; the caller hashes and signs.
//! * [`session`]: the state machine, its configuration and its events.
//! * [`mx`]: the hosts to try for a domain from its MX records (direct delivery's plan).
//! * [`socks5`]: the SOCKS5 proxy handshake (RFC 1928, RFC 1929) that may precede a session.
//! * [`error`]: local refusals, policy refusals and protocol errors; server refusals are replies
//!   carried by events, not errors.
//!
//! [squall]: https://crates.io/crates/squall

pub mod address;
pub mod advice;
pub mod auth;
pub mod command;
pub mod data;
pub mod dkim;
pub mod ehlo;
pub mod envelope;
pub mod error;
pub mod mta_sts;
pub mod mx;
pub mod params;
pub mod reply;
pub mod session;
pub mod socks5;

#[cfg(feature = "serde")]
mod serialize;

pub use session::ClientSession;

#[cfg(any(test, fuzzing, feature = "__fake-server"))]
#[doc(hidden)]
pub mod fuzzing;
