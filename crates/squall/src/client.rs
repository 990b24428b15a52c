//! [`Client`]: the public face of the pool — queue a message, get its outcome.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use squall_proto::address::{Mailbox, ReversePath};
use squall_proto::envelope::Envelope;
use squall_proto::session::{ErrorKind, Stage};
use tokio::sync::oneshot;

use crate::body::Body;
use crate::builder::ClientBuilder;
use crate::delivery::Delivery;
use crate::error::{Error, What};
use crate::job::Job;
#[cfg(feature = "builder")]
use crate::message::Message;
use crate::pool::Pool;
use crate::probe::{self, ServerReport};
use crate::receipt::Receipt;

/// An SMTP client: a queue of messages delivered over connections it opens when needed.
///
/// `send` only queues a message and waits for its outcome. The first message opens a connection;
/// queued messages go out in order over it (pipelined when the server allows); when nothing is
/// left for [`idle_timeout`](ClientBuilder::idle_timeout) the connection says QUIT, and the next
/// message opens a new one. A refused recipient does not fail the message, a refused message does
/// not fail the others, and a lost connection fails only what was in flight.
///
/// Cloning is cheap; clones share the queue and the connections.
///
/// Dropping a `send` future does not take the message back: once queued it is delivered (or
/// fails) on its own, and its outcome is discarded.
#[derive(Clone)]
pub struct Client {
    pool: Arc<Pool>,
}

/// A queued message's outcome, from [`Client::submit`]. Dropping it does not take the message
/// back: it is delivered (or fails) all the same.
#[derive(Debug)]
pub struct Submission(oneshot::Receiver<Result<Receipt, Error>>);

impl Future for Submission {
    type Output = Result<Receipt, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|r| {
            r.unwrap_or_else(|_| {
                Err(Error::new(
                    ErrorKind::Transient,
                    Stage::Queued,
                    What::Internal("the message was dropped without an outcome"),
                ))
            })
        })
    }
}

impl ClientBuilder {
    /// Checks the settings and makes the client. Nothing is connected until the first send.
    ///
    /// Built outside a tokio runtime (a blocking program, another executor), the client runs its
    /// connections on a small runtime of squall's own, and its futures can be awaited anywhere.
    pub fn build(self) -> Result<Client, Error> {
        let spawner = crate::runtime::handle()
            .map_err(|e| Error::new(ErrorKind::Local, Stage::Prepare, What::Runtime(Arc::new(e))))?;
        self.build_on(spawner)
    }

    /// The client, its connections run on `spawner`.
    pub(crate) fn build_on(self, spawner: tokio::runtime::Handle) -> Result<Client, Error> {
        Ok(Client {
            pool: Pool::new(self.resolve()?, spawner),
        })
    }
}

/// The envelope for `from` and `to`, checked.
fn envelope<I, S>(from: &str, to: I) -> Result<Envelope, Error>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let from = ReversePath::parse(from)
        .map_err(|e| Error::input(format!("invalid sender address {from:?}: {e}")))?;
    let mut rcpts = Vec::new();
    for t in to {
        let t = t.as_ref();
        rcpts.push(
            Mailbox::parse(t).map_err(|e| Error::input(format!("invalid recipient address {t:?}: {e}")))?,
        );
    }
    Envelope::new(from, rcpts).map_err(|_| Error::input("no recipient: give at least one address to send to"))
}

/// The envelope with the MAIL options `body` needs (its exact size and body type).
fn with_body_options(envelope: Envelope, body: &Body) -> Envelope {
    envelope.with_options(body.mail_options())
}

impl Client {
    /// A builder for a client sending through `host` (`name`, `name:port`, an IP address, or
    /// `[IPv6]:port`).
    pub fn builder(host: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(host)
    }

    /// A builder for direct delivery to each recipient domain's MX hosts, without a relay (see
    /// [`Direct`](crate::Direct)).
    pub fn direct() -> crate::DirectBuilder {
        crate::DirectBuilder::default()
    }

    /// A builder for LMTP (RFC 2033) to a mailbox server at `host` (port 24 unless set; see
    /// [`ClientBuilder::lmtp`] and, for a local socket, [`ClientBuilder::unix_socket`]).
    pub fn lmtp(host: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(host).lmtp()
    }

    /// A client from an `smtp://`, `smtps://` or `lmtp://` URL (see [`ClientBuilder`] for what it means).
    pub fn from_url(url: &str) -> Result<Self, Error> {
        crate::url::parse(url)?.build()
    }

    /// A builder from a URL, to adjust further before `build`.
    pub fn builder_from_url(url: &str) -> Result<ClientBuilder, Error> {
        crate::url::parse(url)
    }

    /// Sends `body` (a complete RFC 5322 message) from `from` to `to`.
    ///
    /// The addresses are the envelope (MAIL FROM and RCPT TO); the headers inside `body` are sent
    /// as they are. `from` may be `<>` (the null sender, for notifications).
    pub async fn send<I, S>(&self, from: &str, to: I, body: impl Into<Body>) -> Result<Receipt, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.send_with(from, to, body, &Delivery::default()).await
    }

    /// Queues a message now and returns a future of its outcome: unlike `send`, the place in the
    /// queue is taken by this call, so messages submitted one after another go out in that order
    /// even when their futures are awaited in another order, or not at all.
    ///
    /// With [DKIM](ClientBuilder::dkim), a file body is read here to be signed, on the calling
    /// thread; `send` does that off the runtime's threads.
    pub fn submit<I, S>(&self, from: &str, to: I, body: impl Into<Body>) -> Result<Submission, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.submit_with(from, to, body, &Delivery::default())
    }

    /// [`send`](Self::send) with delivery requests: DSN, REQUIRETLS.
    pub async fn send_with<I, S>(
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
        let envelope = envelope(from, to)?;
        let body = self.signed_off_thread(body.into()).await?;
        let envelope = delivery.apply(with_body_options(envelope, &body));
        self.enqueue(envelope, body, None)?.await
    }

    /// [`submit`](Self::submit) with delivery requests: DSN, REQUIRETLS.
    pub fn submit_with<I, S>(
        &self,
        from: &str,
        to: I,
        body: impl Into<Body>,
        delivery: &Delivery,
    ) -> Result<Submission, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let envelope = envelope(from, to)?;
        let body = self.signed(body.into())?;
        let envelope = delivery.apply(with_body_options(envelope, &body));
        self.enqueue(envelope, body, None)
    }

    /// Sends `body` with a ready envelope (its options, such as DSN, are used as they are).
    pub async fn send_envelope(&self, envelope: Envelope, body: impl Into<Body>) -> Result<Receipt, Error> {
        let body = self.signed_off_thread(body.into()).await?;
        self.enqueue(envelope, body, None)?.await
    }

    /// Sends a [`Message`] to its To, Cc and Bcc recipients (Bcc is not in the headers).
    #[cfg(feature = "builder")]
    pub async fn send_message(&self, message: &Message) -> Result<Receipt, Error> {
        self.submit_message(message)?.await
    }

    /// Queues a [`Message`] now (see [`submit`](Self::submit)) and returns a future of its
    /// outcome.
    #[cfg(feature = "builder")]
    pub fn submit_message(&self, message: &Message) -> Result<Submission, Error> {
        let envelope = message.envelope()?;
        let id = message.message_id().to_string();
        let body = self.signed(Body::from(message.bytes()))?;
        // Signatures make it longer.
        let mut options = envelope.options().clone();
        options.size = body.size();
        self.enqueue(envelope.with_options(options), body, Some(id))
    }

    /// `body` with this client's DKIM signatures, if it has signers.
    fn signed(&self, body: Body) -> Result<Body, Error> {
        #[cfg(feature = "dkim")]
        return crate::dkim::sign_body(&self.pool.config.dkim, body);
        #[cfg(not(feature = "dkim"))]
        Ok(body)
    }

    /// [`signed`](Self::signed), reading a file where blocking is allowed.
    async fn signed_off_thread(&self, body: Body) -> Result<Body, Error> {
        #[cfg(feature = "dkim")]
        return crate::dkim::sign_body_off_thread(&self.pool.config.dkim, body, self.pool.runtime()).await;
        #[cfg(not(feature = "dkim"))]
        Ok(body)
    }

    fn enqueue(
        &self,
        envelope: Envelope,
        body: Body,
        message_id: Option<String>,
    ) -> Result<Submission, Error> {
        let (job, outcome) = Job::new(envelope, body, message_id, self.pool.config.retry.deadline);
        if !self.pool.push(job) {
            return Err(Error::new(ErrorKind::Local, Stage::Prepare, What::Shutdown));
        }
        Ok(Submission(outcome))
    }

    /// What the client is doing: messages queued, in flight, connections open, and how many
    /// were delivered or failed so far.
    pub fn stats(&self) -> crate::Stats {
        self.pool.stats()
    }

    /// How many connections this client opened so far.
    pub fn connections_opened(&self) -> u64 {
        self.pool.opened()
    }

    /// Delivers what is queued, closes every connection with QUIT, and waits until they are
    /// closed. Messages sent afterwards fail.
    pub async fn shutdown(&self) {
        let pool = self.pool.clone();
        // On the pool's runtime, whose timers the wait needs; an error means that runtime is
        // shutting down, which ends the connections anyway.
        let _ = self
            .pool
            .spawn(async move {
                pool.close();
                while !pool.is_drained() {
                    pool.wait_ended(Duration::from_millis(50)).await;
                }
            })
            .await;
    }

    /// Connects with this client's settings, goes through the greeting, EHLO, STARTTLS and AUTH
    /// exactly as a send would, then says QUIT without sending anything. The error, if setup
    /// fails, is the one a send would have met.
    pub async fn probe(&self) -> Result<ServerReport, Error> {
        let pool = self.pool.clone();
        self.pool
            .spawn(async move { probe::run(&pool.config).await })
            .await
            .unwrap_or_else(|_| {
                Err(Error::new(
                    ErrorKind::Local,
                    Stage::Connect,
                    What::Internal("the runtime running the probe shut down"),
                ))
            })
    }
}
