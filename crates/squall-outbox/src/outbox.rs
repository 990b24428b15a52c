//! [`Outbox`]: opening the queue, putting messages in, and asking about them.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use squall::{Envelope, Message};
use tokio::io::AsyncRead;
use tokio::sync::{broadcast, watch};

use crate::backend::Backend;
use crate::error::OutboxError;
use crate::model::{Event, MessageState, QueueId, Stats, Status, ms};
use crate::options::SendOptions;
use crate::queries::NewMessage;
use crate::routes::Routes;
use crate::schedule::Schedule;
use crate::shared::Shared;
use crate::spool::Stored;
use crate::worker::{self, RunOptions, RunReport};

/// A durable queue of messages in a SQLite file or a PostgreSQL database.
///
/// Nothing is acknowledged before it is committed (SQLite: WAL, `synchronous=FULL`;
/// PostgreSQL: a commit); concurrent calls share commits. Workers ([`Outbox::run`]) lease
/// messages, send them with a [`squall::Client`] and record each recipient's outcome. Cloning is
/// cheap and shares the database thread (SQLite) or connections (PostgreSQL).
#[derive(Clone)]
pub struct Outbox {
    pub(crate) inner: Arc<Shared>,
}

/// Settings for [`Outbox`]; [`open`](Self::open) opens it.
#[derive(Clone, Debug)]
pub struct OutboxBuilder {
    url: String,
    pub(crate) schedule: Schedule,
    pub(crate) hold_possible_duplicates: bool,
    pub(crate) inline_limit: usize,
}

/// Per-message options for [`Outbox::enqueue_with`] and [`Outbox::enqueue_raw_with`].
#[derive(Clone, Debug, Default)]
pub struct EnqueueOptions {
    /// Queueing the same key again returns the first message's id and queues nothing: an
    /// application retrying its own request does not send twice.
    pub idempotency_key: Option<String>,
    /// Not sent before this time.
    pub not_before: Option<SystemTime>,
    /// An application-defined label, e.g. the account name, that the runner uses to choose the
    /// client ([`Outbox::run_routed`]): mail queued through one account must leave through that
    /// account's relay and login. `None`: the runner's default.
    pub route: Option<String>,
}

impl OutboxBuilder {
    /// Retry timing (Postfix's defaults unless set).
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Holds a possible duplicate for a person instead of resending it (the default resends,
    /// at least once, with the same Message-ID).
    pub fn hold_possible_duplicates(mut self, on: bool) -> Self {
        self.hold_possible_duplicates = on;
        self
    }

    /// SQLite: content up to this size is kept in the database row; larger content in a file
    /// of the spool directory (default 64 KiB). PostgreSQL keeps all content in the database
    /// (a queue shared by many machines cannot use one machine's files) and ignores this.
    pub fn inline_limit(mut self, bytes: usize) -> Self {
        self.inline_limit = bytes;
        self
    }

    /// Opens (or creates) the outbox.
    ///
    /// # Errors
    /// A URL of no known engine or with a TLS setting it cannot honour, a database that cannot
    /// be reached or opened (transient), TLS to PostgreSQL that failed ([`OutboxError::Tls`]),
    /// one that belongs to another program ([`OutboxError::Foreign`]) or to a newer squall
    /// ([`OutboxError::TooNew`]).
    pub async fn open(self) -> Result<Outbox, OutboxError> {
        let wake = Arc::new(watch::channel(0).0);
        let backend = Backend::open(&self.url, wake.clone()).await?;
        Ok(Outbox {
            inner: Arc::new(Shared {
                backend,
                schedule: self.schedule,
                hold_possible_duplicates: self.hold_possible_duplicates,
                inline_limit: self.inline_limit,
                wake,
                events: broadcast::channel(4096).0,
            }),
        })
    }
}

impl Outbox {
    /// Settings for the outbox at `url`: `sqlite:PATH`, or `postgres://USER@HOST:PORT/DATABASE`
    /// (also `postgresql://`; TLS as [`Outbox::open`] describes).
    pub fn builder(url: impl Into<String>) -> OutboxBuilder {
        OutboxBuilder {
            url: url.into(),
            schedule: Schedule::default(),
            hold_possible_duplicates: false,
            inline_limit: 64 * 1024,
        }
    }

    /// Opens (or creates) the outbox at `url` with the default settings.
    ///
    /// # TLS to PostgreSQL
    /// `sslmode` takes libpq's names, and `sslrootcert=PATH` names a PEM file of the CAs to
    /// trust *instead of* the default roots (squall's: Mozilla's and the system's, as its
    /// features chose; `sslrootcert=system` says so explicitly). Replacing rather than adding
    /// keeps a private CA private: a certificate some public CA issued for the same name does not
    /// pass. Unlike libpq, every mode that uses TLS verifies the certificate, because TLS
    /// without verification only stops a passive eavesdropper, and a shared queue carries mail
    /// and its recipients:
    ///
    /// - `disable`: no TLS.
    /// - `prefer`: TLS, verified, when the server offers it; plaintext only when the server
    ///   answers that it has no TLS (a certificate that fails is an error, never a reason to go
    ///   on in plaintext). An active attacker can still answer "no TLS": use `verify-full` on a
    ///   network you do not trust.
    /// - `require`, `verify-full`: TLS, the chain and the host name verified (libpq's `require`
    ///   checks neither unless a root file exists; here it is the same as `verify-full`, so a
    ///   URL copied from elsewhere never connects unverified).
    /// - `verify-ca`: TLS, the chain verified but not the host name; it needs `sslrootcert`
    ///   (with the public roots, any name any CA certified would pass).
    ///
    /// **Without `sslmode`**: `disable` when every host is this machine (a loopback address,
    /// `localhost`, a Unix socket: nothing crosses a network, and local clusters often have a
    /// self-signed certificate or none), `verify-full` otherwise, so that a remote database is
    /// never reached unverified by default. A failure is [`OutboxError::Tls`] with a
    /// [`TlsProblem`](crate::TlsProblem) saying what to change: the certificate's CA not trusted
    /// (add `sslrootcert`), a host name the certificate does not hold, a server without TLS.
    /// A password login over TLS binds the session (SCRAM-SHA-256-PLUS with
    /// `tls-server-end-point`) when the server offers it; `channel_binding=require` insists.
    pub async fn open(url: &str) -> Result<Self, OutboxError> {
        Self::builder(url).open().await
    }

    /// The database file of a SQLite outbox; `None` for PostgreSQL, which has none.
    pub fn path(&self) -> Option<&Path> {
        self.inner.backend.path()
    }

    /// Where the queue is, to show people: the SQLite file, or the PostgreSQL URL with its
    /// password replaced by `***`.
    pub fn location(&self) -> String {
        self.inner.backend.location()
    }

    /// Queues `message` for its To, Cc and Bcc recipients; returns once it is durable.
    pub async fn enqueue(&self, message: &Message) -> Result<QueueId, OutboxError> {
        self.enqueue_with(message, &EnqueueOptions::default()).await
    }

    /// [`enqueue`](Self::enqueue) with an idempotency key or a time not to send before.
    pub async fn enqueue_with(
        &self,
        message: &Message,
        options: &EnqueueOptions,
    ) -> Result<QueueId, OutboxError> {
        let envelope = message
            .envelope()
            .map_err(|e| OutboxError::Input(e.to_string()))?;
        let bytes = message.bytes();
        self.put(
            envelope,
            &bytes[..],
            Some(message.message_id().to_string()),
            options,
        )
        .await
    }

    /// Queues `body` (a complete RFC 5322 message, read to its end with bounded memory) for
    /// `envelope`; returns once it is durable. The envelope's DSN and REQUIRETLS options are
    /// kept; its size and body type are measured from the content.
    pub async fn enqueue_raw(
        &self,
        envelope: Envelope,
        body: impl AsyncRead + Unpin,
    ) -> Result<QueueId, OutboxError> {
        self.enqueue_raw_with(envelope, body, &EnqueueOptions::default())
            .await
    }

    /// [`enqueue_raw`](Self::enqueue_raw) with an idempotency key or a time not to send before.
    pub async fn enqueue_raw_with(
        &self,
        envelope: Envelope,
        body: impl AsyncRead + Unpin,
        options: &EnqueueOptions,
    ) -> Result<QueueId, OutboxError> {
        self.put(envelope, body, None, options).await
    }

    async fn put(
        &self,
        envelope: Envelope,
        body: impl AsyncRead + Unpin,
        message_id: Option<String>,
        options: &EnqueueOptions,
    ) -> Result<QueueId, OutboxError> {
        // What the envelope declares; the backend adds what the content turns out to hold.
        let new = NewMessage {
            sender: envelope.from().to_string(),
            recipients: envelope
                .recipients()
                .iter()
                .map(|r| {
                    (
                        r.mailbox.to_string(),
                        r.notify.map(|n| n.to_string()),
                        r.orcpt.as_ref().map(|o| o.as_str().to_string()),
                    )
                })
                .collect(),
            message_id,
            stored: Stored::Inline(Vec::new()),
            options: SendOptions::declared(envelope.options()),
            not_before: options.not_before.map(system_ms),
            idempotency_key: options.idempotency_key.clone(),
            route: options.route.clone(),
        };
        let lifetime = ms(self.inner.schedule.lifetime);
        let inline_limit = self.inner.inline_limit;
        let (id, event) = self
            .inner
            .backend
            .enqueue(new, body, inline_limit, lifetime)
            .await?;
        if let Some(e) = event {
            self.inner.wake.send_modify(|n| *n = n.wrapping_add(1));
            let _ = self.inner.events.send(e);
        }
        Ok(id)
    }

    /// A message's status, `None` for an unknown id.
    pub async fn status(&self, id: QueueId) -> Result<Option<Status>, OutboxError> {
        self.inner.backend.status(id.0).await
    }

    /// Messages in `state` (every state with `None`), oldest first, at most `limit`.
    pub async fn list(&self, state: Option<MessageState>, limit: usize) -> Result<Vec<Status>, OutboxError> {
        self.inner.backend.list(state, limit).await
    }

    /// Counts by state and the age of the oldest waiting message.
    pub async fn stats(&self) -> Result<Stats, OutboxError> {
        self.inner.backend.stats().await
    }

    /// Events after `seq` (0 for all), oldest first, at most `limit`: the durable log an
    /// application reads on from the last `seq` it handled, across restarts.
    ///
    /// On PostgreSQL, numbers come from a sequence shared by concurrent transactions, so an
    /// event can become visible after one with a higher number was read; an application that
    /// must see every event reads on from a little before the last `seq` it handled and skips
    /// the ones it has.
    pub async fn events_since(&self, seq: i64, limit: usize) -> Result<Vec<Event>, OutboxError> {
        self.inner.backend.events_since(seq, limit).await
    }

    /// Events of this process as they are committed (a live view; after a restart or a lag,
    /// read the log with [`events_since`](Self::events_since)).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Makes a held, queued or expired message due now.
    pub async fn retry(&self, id: QueueId) -> Result<(), OutboxError> {
        let lifetime = ms(self.inner.schedule.lifetime);
        let e = self.inner.backend.retry(id.0, lifetime).await?;
        self.inner.wake.send_modify(|n| *n = n.wrapping_add(1));
        let _ = self.inner.events.send(e);
        Ok(())
    }

    /// Cancels a waiting message.
    pub async fn cancel(&self, id: QueueId) -> Result<(), OutboxError> {
        let e = self.inner.backend.cancel(id.0).await?;
        let _ = self.inner.events.send(e);
        Ok(())
    }

    /// Deletes messages that finished more than `age` ago, with their events and content;
    /// returns how many.
    pub async fn purge(&self, age: Duration) -> Result<u64, OutboxError> {
        self.inner.backend.purge(age).await
    }
}

impl Outbox {
    /// Runs workers until `stop` resolves (then finishes what is in flight) or, with
    /// `until_empty`, until nothing is left to do now. Every message goes through `client`,
    /// whatever its route.
    pub async fn run(
        &self,
        client: squall::Client,
        options: RunOptions,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<RunReport, OutboxError> {
        self.run_routed(move |_| Ok(client.clone()), options, stop).await
    }

    /// [`run`](Self::run), sending each message through the client `router` gives for its
    /// route ([`EnqueueOptions::route`](crate::EnqueueOptions::route); `None` for a message
    /// queued without one), so that mail queued through one account leaves through that
    /// account's server.
    ///
    /// `router` is called once per distinct route in a run and its answer kept for the run. A
    /// route it refuses (`Err(why)`) fails that message's attempt transiently with `why` as the
    /// error: the message is deferred by the schedule (and `why` shows in its status), so that
    /// fixing the configuration and running again sends it.
    pub async fn run_routed(
        &self,
        router: impl Fn(Option<&str>) -> Result<squall::Client, String> + Send + Sync + 'static,
        options: RunOptions,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<RunReport, OutboxError> {
        worker::run(self.inner.clone(), Routes::new(Box::new(router)), options, stop).await
    }
}

fn system_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, ms)
}
