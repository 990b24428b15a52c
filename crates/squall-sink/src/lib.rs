//! An SMTP capture server to embed in tests and run on a desk: it accepts mail on loopback and
//! keeps it — in memory for tests, as `<id>.eml` files with a `<id>.json` envelope sidecar,
//! and in a Maildir — and it can be told to misbehave ([`Fault`]) the way real servers do.
//!
//! It offers PIPELINING, CHUNKING (BDAT), BINARYMIME, SIZE, 8BITMIME, SMTPUTF8, DSN and
//! ENHANCEDSTATUSCODES; given a certificate, STARTTLS or implicit TLS; given users, required
//! AUTH (PLAIN, LOGIN, CRAM-MD5, XOAUTH2). What it stores is the content exactly as the client meant it: DATA with
//! dot-stuffing undone, BDAT byte for byte.
//!
//! It is built to run for days facing clients that misbehave on purpose: connections are
//! capped, every wait has an absolute time limit, message content past a threshold (or past a
//! memory budget shared by all connections) is spooled to disk, files are created so that a
//! planted symlink is never followed, and what clients send is parsed by the RFC 5321 grammar
//! and [escaped](escape()) wherever it is shown. See [`SinkBuilder`] for the limits.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let sink = squall_sink::Sink::start().await?;
//! println!("send mail to {}", sink.addr());
//! assert!(sink.messages().is_empty());
//! # Ok(())
//! # }
//! ```

mod auth;
mod command;
mod config;
mod conn;
mod escape;
mod expect;
pub mod fault;
mod limits;
mod line;
mod mail;
mod mailbox;
mod maildir;
mod path;
mod server;
mod shared;
mod spool;
mod store;
#[cfg(feature = "web")]
mod summary;
mod tls;
#[cfg(feature = "web")]
mod web;

#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzzing;

pub use config::SinkBuilder;
pub use escape::{escape, escape_bytes};
pub use expect::{Expect, NoMatch};
pub use fault::{Fault, FaultAction, FaultStage, FiredTimeout};
pub use mail::{Attachment, Mail};
pub use server::{Reload, SinkHandle, WaitTimeout};
pub use store::ReceivedMessage;
#[cfg(feature = "web")]
pub use web::{Release, ReleaseOutcome, WebError};

/// Entry points to start a sink.
#[derive(Debug)]
pub struct Sink;

impl Sink {
    /// Starts a sink with the defaults on a free loopback port.
    pub async fn start() -> std::io::Result<SinkHandle> {
        Self::builder().start().await
    }

    /// A builder to set the address, directory, limits and faults before starting.
    pub fn builder() -> SinkBuilder {
        SinkBuilder::default()
    }
}
