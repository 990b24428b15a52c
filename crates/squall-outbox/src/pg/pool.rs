//! A small pool of PostgreSQL connections that replaces a lost connection with a new one.
//!
//! Why a pool: concurrent producers each commit on their own connection, and PostgreSQL flushes
//! the WAL once for the commits that arrive together (its own group commit), so they share an
//! fsync as on SQLite. Why it reconnects: a server restart closes every connection; the next
//! request gets a new one (the worker retries transient errors with backoff, so a restart
//! costs a few seconds, not the run).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::{Client, Config, Statement};

use super::error::{connect_error, pg_error};
use super::tls::MakeTls;
use crate::error::OutboxError;

/// Connections open at most, per outbox.
const SIZE: usize = 16;

/// The shared connections; cloning shares them.
#[derive(Clone)]
pub(crate) struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    tls: MakeTls,
    server: String,
    idle: Mutex<Vec<Pooled>>,
    permits: Arc<Semaphore>,
}

/// A connection and the statements prepared on it (by [`Conn::prepare_cached`]).
struct Pooled {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

/// A connection taken from the pool; it goes back when dropped, unless it was closed.
pub(crate) struct Conn {
    pooled: Option<Pooled>,
    pool: Arc<Inner>,
    _permit: OwnedSemaphorePermit,
}

impl Pool {
    pub(crate) fn new(config: Config, tls: MakeTls, server: String) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                tls,
                server,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(SIZE)),
            }),
        }
    }

    /// An open connection: an idle one, or a new one.
    pub(crate) async fn get(&self) -> Result<Conn, OutboxError> {
        let permit = self
            .inner
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| OutboxError::Closed)?;
        let idle = {
            let mut idle = self.inner.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.retain(|c| !c.client.is_closed());
            idle.pop()
        };
        let pooled = match idle {
            Some(c) => c,
            None => Pooled {
                client: connect(&self.inner.config, &self.inner.tls, &self.inner.server).await?,
                statements: HashMap::new(),
            },
        };
        Ok(Conn {
            pooled: Some(pooled),
            pool: self.inner.clone(),
            _permit: permit,
        })
    }

    /// Maps an error of a request on this pool's server.
    pub(crate) fn error(&self, e: tokio_postgres::Error) -> OutboxError {
        pg_error(&self.inner.server, e)
    }
}

/// A new connection, its I/O driven by a task of its own. A TLS failure is reported as such
/// (with what to change), not as an unreachable server.
pub(crate) async fn connect(config: &Config, tls: &MakeTls, server: &str) -> Result<Client, OutboxError> {
    let (client, connection) = config
        .connect(tls.clone())
        .await
        .map_err(|e| match tls.problem(&e) {
            Some(problem) => OutboxError::Tls {
                server: server.to_string(),
                problem,
            },
            None => connect_error(server, e),
        })?;
    tokio::spawn(async move {
        // Ends when the client is dropped or the server goes away; the error is seen by the
        // next request on the client (closed), which reports it.
        let _ = connection.await;
    });
    Ok(client)
}

impl Conn {
    fn pooled(&mut self) -> &mut Pooled {
        self.pooled
            .as_mut()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }

    /// `sql` prepared on this connection, once: a statement run often (an enqueue) then costs
    /// one round trip instead of two.
    pub(crate) async fn prepare_cached(
        &mut self,
        sql: &'static str,
    ) -> Result<Statement, tokio_postgres::Error> {
        let pooled = self.pooled();
        if let Some(s) = pooled.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = pooled.client.prepare(sql).await?;
        pooled.statements.insert(sql, s.clone());
        Ok(s)
    }
}

impl std::ops::Deref for Conn {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self
            .pooled
            .as_ref()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
            .client
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.pooled().client
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(c) = self.pooled.take()
            && !c.client.is_closed()
        {
            self.pool.idle.lock().unwrap_or_else(|p| p.into_inner()).push(c);
        }
    }
}
