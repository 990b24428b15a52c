//! An SMTP capture server to embed in tests and run on a desk: it accepts mail on loopback and
//! keeps it — in memory for tests, and as `<id>.eml` files with a `<id>.json` envelope sidecar
//! when given a directory — and it can be told to misbehave ([`Fault`]) the way real servers do.
//!
//! It offers PIPELINING, CHUNKING (BDAT), BINARYMIME, SIZE, 8BITMIME, SMTPUTF8, DSN and
//! ENHANCEDSTATUSCODES; given a certificate, STARTTLS or implicit TLS; given users, required
//! AUTH (PLAIN, LOGIN, CRAM-MD5, XOAUTH2). What it stores is the content exactly as the client meant it: DATA with
//! dot-stuffing undone, BDAT byte for byte.
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
mod config;
mod conn;
pub mod fault;
mod server;
mod store;
mod tls;

pub use config::SinkBuilder;
pub use fault::{Fault, FaultAction, FaultStage};
pub use server::{SinkHandle, WaitTimeout};
pub use store::ReceivedMessage;

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
