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
//! Programs without async use [`blocking::Client`]: the same client, with calls that wait. An
//! async client built outside a tokio runtime runs its connections on a small runtime of
//! squall's own, so its futures can be awaited by any executor.
//!
//! The protocol itself lives in the sans-IO crate [`squall_proto`]; this crate moves bytes, owns
//! time and TLS, and keeps the queue.
//!
//! # Features
//!
//! - `serde`: [`Receipt`], [`Error`], [`RecipientReply`], [`Attempt`] and [`TlsInfo`] serialize
//!   to the JSON `squall --json` prints:
//!
//! ```
//! # #[cfg(feature = "serde")] {
//! let e = squall::Error::from_input("no recipient");
//! let json = serde_json::to_value(&e).unwrap();
//! assert_eq!((json["kind"].as_str(), json["stage"].as_str()), (Some("local"), Some("prepare")));
//! assert!(json["hint"].is_string() && json["code"].is_null());
//! # }
//! ```

// Modules, from the public API down: each uses only modules below it, never one above (checked
// by `scripts/check-modules.sh`). The API (blocking, client, builder, url, probe) sits on the pool (queue,
// workers, retries), which runs drivers (one connection each) over connections that `connect`
// sets up; the vocabulary (config, delivery, dkim, error, receipt, body, job, message, tls,
// transport) is at the
// bottom. `lazy` is an internal building block of `message` (a value recomputed on read after a
// change), not API: it is private.
pub mod blocking;
mod builder;
mod client;
mod probe;
mod proxy;
mod url;

mod pool;

mod connect;
mod direct;
mod driver;
mod resolve;
mod runtime;

mod body;
mod config;
mod delivery;
#[cfg(feature = "dkim")]
pub mod dkim;
mod error;
mod job;
#[cfg(feature = "builder")]
mod lazy;
#[cfg(feature = "builder")]
mod message;
mod receipt;
#[cfg(feature = "serde")]
mod serialize;
mod tls;
mod trace;
mod transport;

pub use body::Body;
pub use builder::ClientBuilder;
pub use client::{Client, Submission};
pub use config::TranscriptFn;
pub use delivery::Delivery;
pub use direct::{Direct, DirectBuilder, DirectReport, DomainOutcome, TlsPolicy};
#[cfg(feature = "dkim")]
pub use dkim::{DkimKey, DkimSigner};
pub use error::Error;
#[cfg(feature = "builder")]
pub use message::{Attachment, IntoAddresses, Message, MessageBuilder, NamedAddress, new_message_id};
pub use pool::Stats;
pub use probe::ServerReport;
pub use receipt::{Attempt, AttemptOutcome, Receipt};
pub use resolve::{Resolve, Resolving};
pub use squall_proto::address::{Mailbox, ReversePath};
pub use squall_proto::auth::Mechanism;
pub use squall_proto::ehlo::Capabilities;
pub use squall_proto::envelope::Envelope;
pub use squall_proto::params::{
    BodyType, EnvelopeId, MailOptions, Notify, OriginalRecipient, Recipient, Ret,
};
pub use squall_proto::reply::{EnhancedCode, Reply, ReplyCode};
pub use squall_proto::session::{
    Certificate, Direction, ErrorKind, RecipientReply, Stage, Timeouts, Tls, TranscriptLine,
};
pub use tls::{TlsInfo, TlsVersion, tls_ca_certificates, tls_crypto_provider, tls_default_roots};

/// The README's Rust examples, compiled as doctests (and the capture-server one run), so that
/// they cannot rot.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
