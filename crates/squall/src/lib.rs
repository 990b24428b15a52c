//! An asynchronous SMTP client on tokio.
//!
//! ```no_run
//! # async fn demo() -> Result<(), squall::Error> {
//! let client = squall::Client::builder("smtp.example.org")
//!     .port(587)                          // STARTTLS, required
//!     .credentials("me@example.org", "app-password")
//!     .build()?;
//! let message = squall::Message::builder()
//!     .from("Me <me@example.org>")
//!     .to("you@example.net")
//!     .subject("Hello")
//!     .text("Sent with squall.")
//!     .build()?;
//! let receipt = client.send_message(&message).await?;
//! println!("queued as {:?}", receipt.queue_id);
//! # Ok(())
//! # }
//! ```
//!
//! A [`Client`] is a queue of messages: `send` queues one and resolves with its [`Receipt`] or
//! [`Error`]; connections are opened when needed, messages go out in order and pipelined, and an
//! idle connection says QUIT. Errors say what happened (the stage, the server's reply), whether
//! trying again can help ([`ErrorKind`]) and what to do ([`Error::hint`]).
//!
//! The protocol itself lives in the sans-IO crate [`squall_proto`]; this crate moves bytes, owns
//! time and TLS, and keeps the queue.

mod body;
mod client;
mod config;
mod connection;
mod error;
pub mod lazy;
mod message;
mod probe;
mod receipt;
mod retry;
mod tls;
mod transport;
mod url;

pub use body::Body;
pub use client::{Client, Submission};
pub use config::{ClientBuilder, TranscriptFn};
pub use error::{Error, ErrorKind, Stage};
pub use message::{Message, MessageBuilder, NamedAddress, new_message_id};
pub use probe::{ServerReport, TlsInfo};
pub use receipt::{Attempt, AttemptOutcome, Receipt, RecipientStatus};
pub use squall_proto::auth::Mechanism;
pub use squall_proto::ehlo::Capabilities;
pub use squall_proto::envelope::Envelope;
pub use squall_proto::reply::{EnhancedCode, Reply, ReplyCode};
pub use squall_proto::session::{Direction, Timeouts, TlsMode as Tls, TranscriptLine};

/// The README's Rust examples, compiled as doctests (and the capture-server one run), so that
/// they cannot rot.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
