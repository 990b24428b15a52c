//! The PostgreSQL backend: a queue many machines share.
//!
//! Each request runs in its own transaction on a pooled connection ([`pool`]); PostgreSQL's
//! own group commit lets concurrent commits share a WAL flush, and a NOTIFY after them ([`notify`])
//! tells other processes. Workers claim due messages with
//! `FOR UPDATE SKIP LOCKED` ([`lease`]); content is stored in the database in bounded chunks
//! ([`enqueue`], [`body`]); a LISTEN connection wakes idle workers when any process queues mail
//! ([`listen`]). Every time is the database's clock, so machines whose clocks differ agree.

mod admin;
mod binding;
mod body;
mod enqueue;
mod error;
mod lease;
mod listen;
mod notify;
mod pool;
mod read;
mod schema;
mod tls;
pub(crate) mod url;

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub(crate) use admin::{cancel, purge, retry};
pub(crate) use body::reader;
pub(crate) use enqueue::insert;
pub(crate) use lease::{has_due_or_leased, next_due_in, record_and_claim, renew};
pub(crate) use pool::Pool;
pub(crate) use read::{events_since, list, stats, status};

use crate::error::OutboxError;

/// The database's clock in Unix milliseconds (`now()` is the transaction's start, so a
/// transaction sees one time throughout), as a literal for `concat!`.
macro_rules! now_ms {
    () => {
        "(extract(epoch from now()) * 1000)::bigint"
    };
}
pub(crate) use now_ms;

/// [`now_ms!`] as a constant, for `format!`.
pub(crate) const NOW_MS: &str = now_ms!();

/// The notification channel enqueue and retry signal on.
pub(crate) const CHANNEL: &str = "squall_outbox";

/// An open PostgreSQL outbox.
pub(crate) struct Pg {
    pub(crate) pool: Pool,
    /// The URL without its password.
    pub(crate) url: String,
    /// Tells other processes about mail this one queued.
    pub(crate) notifier: notify::Notifier,
    listener: JoinHandle<()>,
}

impl Drop for Pg {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl Pg {
    /// Connects, checks and migrates the schema, and starts listening for new mail.
    pub(crate) async fn open(url: &str, wake: Arc<watch::Sender<u64>>) -> Result<Self, OutboxError> {
        let url::Settings {
            config,
            mode,
            rootcert,
        } = url::config(url)?;
        let server = url::server(&config);
        let tls = tls::MakeTls::new(mode, rootcert.as_ref()).map_err(|problem| OutboxError::Tls {
            server: server.clone(),
            problem,
        })?;
        let pool = Pool::new(config.clone(), tls.clone(), server.clone());
        {
            let mut conn = pool.get().await?;
            let location = format!("the PostgreSQL database {server}");
            schema::prepare(&mut conn, &location, |e| pool.error(e)).await?;
        }
        Ok(Self {
            url: url::redact(url),
            listener: listen::spawn(config, tls, wake),
            notifier: notify::Notifier::spawn(pool.clone()),
            pool,
        })
    }
}
