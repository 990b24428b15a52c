//! A client for programs without async: the same queue, connections and errors as
//! [`crate::Client`], with calls that wait for their outcome.

use std::io;
use std::path::Path;
use std::sync::Arc;

use squall_proto::envelope::Envelope;
use squall_proto::session::{ErrorKind, Stage};

use crate::body::Body;
use crate::builder::ClientBuilder;
use crate::delivery::Delivery;
use crate::error::{Error, What};
#[cfg(feature = "builder")]
use crate::message::Message;
use crate::pool::Stats;
use crate::probe::ServerReport;
use crate::receipt::Receipt;
use crate::runtime::block_on;

/// An SMTP client whose calls block the calling thread until they have an outcome.
///
/// ```no_run
/// let client = squall::blocking::Client::builder("smtp.example.org")
///     .credentials("me@example.org", "app-password")
///     .build_blocking()?;
/// let receipt = client.send(
///     "me@example.org",
///     ["you@example.net"],
///     "From: me@example.org\r\nTo: you@example.net\r\nSubject: Hi\r\n\r\nHello.\r\n",
/// )?;
/// println!("queued as {:?}", receipt.queue_id);
/// # Ok::<(), squall::Error>(())
/// ```
///
/// Its connections run on a small runtime of squall's own, on a background thread shared by
/// every blocking client in the process, so it needs no tokio in the program and works from any
/// thread (calling it from async code blocks that task's thread, as any blocking call does).
/// Clones share the queue and the connections, and can send from several threads at once.
///
/// When the last clone is dropped, what is still queued is delivered and every connection says
/// QUIT before the drop returns, as [`shutdown`](Self::shutdown) does.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Closing>,
}

/// The async client, shut down when the last blocking handle goes.
struct Closing(crate::Client);

impl Drop for Closing {
    fn drop(&mut self) {
        block_on(self.0.shutdown());
    }
}

/// A queued message's outcome, from [`Client::submit`]: [`wait`](Self::wait) for it.
#[derive(Debug)]
#[must_use = "the message is sent either way; wait() says how it went"]
pub struct Submission(crate::Submission);

impl Submission {
    /// Waits until the message is delivered or has failed.
    pub fn wait(self) -> Result<Receipt, Error> {
        block_on(self.0)
    }
}

impl ClientBuilder {
    /// Checks the settings and makes a [blocking client](Client).
    pub fn build_blocking(self) -> Result<Client, Error> {
        let runtime = crate::runtime::private()
            .map_err(|e| Error::new(ErrorKind::Local, Stage::Prepare, What::Runtime(Arc::new(e))))?;
        Ok(Client {
            inner: Arc::new(Closing(self.build_on(runtime)?)),
        })
    }
}

impl Client {
    /// A builder for a client sending through `host`; finish it with
    /// [`build_blocking`](ClientBuilder::build_blocking).
    pub fn builder(host: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(host)
    }

    /// A client from an `smtp://` or `smtps://` URL (see [`ClientBuilder`]).
    pub fn from_url(url: &str) -> Result<Self, Error> {
        crate::url::parse(url)?.build_blocking()
    }

    /// Sends `body` (a complete RFC 5322 message) from `from` to `to`; see
    /// [`crate::Client::send`].
    pub fn send<I, S>(&self, from: &str, to: I, body: impl Into<Body>) -> Result<Receipt, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.submit(from, to, body)?.wait()
    }

    /// Queues a message and returns at once: submit many, then wait for each, and they go out
    /// pipelined instead of one round trip after another.
    pub fn submit<I, S>(&self, from: &str, to: I, body: impl Into<Body>) -> Result<Submission, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.inner.0.submit(from, to, body).map(Submission)
    }

    /// [`send`](Self::send) with delivery requests: DSN, REQUIRETLS.
    pub fn send_with<I, S>(
        &self,
        from: &str,
        to: I,
        body: impl Into<Body>,
        delivery: &Delivery,
    ) -> Result<Receipt, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Submission(self.inner.0.submit_with(from, to, body, delivery)?).wait()
    }

    /// Sends `body` with a ready envelope (its options, such as DSN, are used as they are).
    pub fn send_envelope(&self, envelope: Envelope, body: impl Into<Body>) -> Result<Receipt, Error> {
        block_on(self.inner.0.send_envelope(envelope, body))
    }

    /// Sends a [`Message`] to its To, Cc and Bcc recipients (Bcc is not in the headers).
    #[cfg(feature = "builder")]
    pub fn send_message(&self, message: &Message) -> Result<Receipt, Error> {
        self.submit_message(message)?.wait()
    }

    /// Queues a [`Message`] and returns at once (see [`submit`](Self::submit)).
    #[cfg(feature = "builder")]
    pub fn submit_message(&self, message: &Message) -> Result<Submission, Error> {
        self.inner.0.submit_message(message).map(Submission)
    }

    /// Sends the message in the file at `path`, read while it is sent (see [`Body::open`]).
    pub fn send_file<I, S>(&self, from: &str, to: I, path: impl AsRef<Path>) -> Result<Receipt, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let path = path.as_ref();
        let body = Body::open(path).map_err(|e| {
            let e = io::Error::new(e.kind(), format!("{}: {e}", path.display()));
            Error::new(ErrorKind::Local, Stage::Prepare, What::Body(Arc::new(e)))
        })?;
        self.send(from, to, body)
    }

    /// Sets up a session and QUITs without sending; see [`crate::Client::probe`].
    pub fn probe(&self) -> Result<ServerReport, Error> {
        block_on(self.inner.0.probe())
    }

    /// Delivers what is queued and closes every connection with QUIT; messages sent afterwards
    /// fail.
    pub fn shutdown(&self) {
        block_on(self.inner.0.shutdown());
    }

    /// What the client is doing; see [`crate::Client::stats`].
    pub fn stats(&self) -> Stats {
        self.inner.0.stats()
    }

    /// The async client underneath, to share the queue with async code.
    pub fn as_async(&self) -> &crate::Client {
        &self.inner.0
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("blocking::Client").finish_non_exhaustive()
    }
}
