//! The two engines behind one set of operations, so that [`Outbox`](crate::Outbox) and the
//! workers are written once: SQLite (one database thread with group commit, large content in
//! spool files) and PostgreSQL (pooled connections, content in the database).
//!
//! Times: SQLite is one machine, so its operations take this machine's clock; PostgreSQL is
//! shared by many, so its operations read the database's clock in SQL, and callers pass only
//! durations (a lease's length, an age).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use squall::Body;
use tokio::io::AsyncRead;
use tokio::sync::watch;

use crate::error::OutboxError;
use crate::model::{Event, MessageState, QueueId, Stats, Status, ms, now_ms};
use crate::pg::{self, Pg};
use crate::queries::{self, Claimed, NewMessage, Outcome};
use crate::schedule::Schedule;
use crate::spool::{self, Stored};
use crate::store::Store;

/// An open database of either engine.
pub(crate) enum Backend {
    Sqlite(Sqlite),
    Postgres(Pg),
}

/// An open SQLite outbox.
pub(crate) struct Sqlite {
    store: Store,
    spool: PathBuf,
    path: PathBuf,
}

impl Backend {
    /// Opens the database `url` names: `sqlite:PATH` or `postgres://…`.
    pub(crate) async fn open(url: &str, wake: Arc<watch::Sender<u64>>) -> Result<Self, OutboxError> {
        if pg::url::is_postgres(url) {
            return Ok(Self::Postgres(Pg::open(url, wake).await?));
        }
        let path = sqlite_path(url)?;
        let p = path.clone();
        let conn = tokio::task::spawn_blocking(move || {
            let mut conn = rusqlite::Connection::open(&p).map_err(|e| OutboxError::Open {
                path: p.clone(),
                source: Arc::new(e),
            })?;
            crate::schema::prepare(&mut conn, &p)?;
            Ok::<_, OutboxError>(conn)
        })
        .await
        .map_err(|_| OutboxError::Closed)??;
        let spool = spool::dir_for(&path);
        std::fs::create_dir_all(&spool).map_err(|e| OutboxError::spool(&spool, e))?;
        let store = Store::start(conn);
        let dir = spool.clone();
        let referenced = store.call(queries::spool_files).await?;
        let _ = tokio::task::spawn_blocking(move || spool::sweep(&dir, &referenced)).await;
        Ok(Self::Sqlite(Sqlite { store, spool, path }))
    }

    /// The SQLite file; `None` on PostgreSQL.
    pub(crate) fn path(&self) -> Option<&Path> {
        match self {
            Self::Sqlite(s) => Some(&s.path),
            Self::Postgres(_) => None,
        }
    }

    /// Where the queue is, for people: the file, or the URL without its password.
    pub(crate) fn location(&self) -> String {
        match self {
            Self::Sqlite(s) => s.path.display().to_string(),
            Self::Postgres(p) => p.url.clone(),
        }
    }

    /// Stores `m` with the content of `body` (read to its end with bounded memory).
    pub(crate) async fn enqueue(
        &self,
        mut m: NewMessage,
        body: impl AsyncRead + Unpin,
        inline_limit: usize,
        lifetime_ms: i64,
    ) -> Result<(QueueId, Option<Event>), OutboxError> {
        let s = match self {
            Self::Postgres(p) => {
                let queued = pg::insert(&p.pool, m, body, lifetime_ms).await;
                if matches!(queued, Ok((_, Some(_)))) {
                    p.notifier.ping();
                }
                return queued;
            }
            Self::Sqlite(s) => s,
        };
        let content = spool::take_in(body, inline_limit, &s.spool).await?;
        m.options.apply_profile(&content.profile);
        m.stored = content.stored.clone();
        let r = s
            .store
            .call(move |c| queries::insert(c, &m, now_ms(), lifetime_ms))
            .await;
        // The file of a message not kept (an error, or a repeated idempotency key: the first
        // message's content is the one kept).
        if let (Stored::File(name), Err(_) | Ok((_, None))) = (&content.stored, &r) {
            let _ = tokio::fs::remove_file(s.spool.join(name)).await;
        }
        r
    }

    /// Records `done` and leases up to `limit` due messages to `owner` for `lease_ms`, in one
    /// transaction.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn record_and_claim(
        &self,
        owner: &str,
        done: Vec<Outcome>,
        lease_ms: i64,
        limit: usize,
        hold: bool,
        schedule: Schedule,
    ) -> Result<(Vec<Claimed>, Vec<Event>), OutboxError> {
        let s = match self {
            Self::Postgres(p) => {
                return pg::record_and_claim(&p.pool, owner, &done, lease_ms, limit, hold, &schedule).await;
            }
            Self::Sqlite(s) => s,
        };
        let owner = owner.to_string();
        s.store
            .call(move |c| {
                let now = now_ms();
                let mut events = queries::record(c, &owner, &done, now, &schedule)?;
                if limit == 0 {
                    return Ok((Vec::new(), events));
                }
                let (claimed, more) = queries::claim(c, &owner, now, now + lease_ms, limit, hold)?;
                events.extend(more);
                Ok((claimed, events))
            })
            .await
    }

    /// Extends `owner`'s leases on `ids` by `lease_ms` from now.
    pub(crate) async fn renew(&self, owner: &str, ids: Vec<i64>, lease_ms: i64) -> Result<(), OutboxError> {
        match self {
            Self::Postgres(p) => pg::renew(&p.pool, owner, &ids, lease_ms).await,
            Self::Sqlite(s) => {
                let owner = owner.to_string();
                s.store
                    .call(move |c| queries::renew(c, &owner, &ids, now_ms() + lease_ms))
                    .await
            }
        }
    }

    /// Whether a message is due now or leased (perhaps by a dead worker).
    pub(crate) async fn has_due_or_leased(&self) -> Result<bool, OutboxError> {
        match self {
            Self::Postgres(p) => pg::has_due_or_leased(&p.pool).await,
            Self::Sqlite(s) => {
                let now = now_ms();
                s.store.call(move |c| queries::has_due_or_leased(c, now)).await
            }
        }
    }

    /// How long until the earliest queued message is due (zero when one is due now).
    pub(crate) async fn next_due_in(&self) -> Result<Option<Duration>, OutboxError> {
        let ms = match self {
            Self::Postgres(p) => pg::next_due_in(&p.pool).await?,
            Self::Sqlite(s) => {
                let now = now_ms();
                s.store.call(queries::next_due).await?.map(|t| t - now)
            }
        };
        Ok(ms.map(|m| Duration::from_millis(u64::try_from(m).unwrap_or(0))))
    }

    /// The content of a leased message, to send.
    pub(crate) async fn body(&self, m: &Claimed) -> Result<Body, String> {
        match (&m.stored, self) {
            (Stored::Inline(b), _) => Ok(Body::from(b.clone())),
            (Stored::File(name), Self::Sqlite(s)) => Body::file(s.spool.join(name))
                .await
                .map_err(|e| format!("reading spool file {name}: {e}")),
            (Stored::Chunks(n), Self::Postgres(p)) => {
                Ok(Body::from_reader(pg::reader(p.pool.clone(), m.id, *n)))
            }
            (Stored::File(_) | Stored::Chunks(_), _) => {
                Err("the content is stored where this database keeps none".to_string())
            }
        }
    }

    pub(crate) async fn status(&self, id: i64) -> Result<Option<Status>, OutboxError> {
        match self {
            Self::Postgres(p) => pg::status(&p.pool, id).await,
            Self::Sqlite(s) => s.store.call(move |c| queries::status(c, id)).await,
        }
    }

    pub(crate) async fn list(
        &self,
        state: Option<MessageState>,
        limit: usize,
    ) -> Result<Vec<Status>, OutboxError> {
        match self {
            Self::Postgres(p) => pg::list(&p.pool, state, limit).await,
            Self::Sqlite(s) => s.store.call(move |c| queries::list(c, state, limit)).await,
        }
    }

    pub(crate) async fn stats(&self) -> Result<Stats, OutboxError> {
        match self {
            Self::Postgres(p) => pg::stats(&p.pool).await,
            Self::Sqlite(s) => s.store.call(|c| queries::stats(c, now_ms())).await,
        }
    }

    pub(crate) async fn events_since(&self, seq: i64, limit: usize) -> Result<Vec<Event>, OutboxError> {
        match self {
            Self::Postgres(p) => pg::events_since(&p.pool, seq, limit).await,
            Self::Sqlite(s) => s.store.call(move |c| queries::events_since(c, seq, limit)).await,
        }
    }

    pub(crate) async fn retry(&self, id: i64, lifetime_ms: i64) -> Result<Event, OutboxError> {
        match self {
            Self::Postgres(p) => pg::retry(&p.pool, id, lifetime_ms).await,
            Self::Sqlite(s) => {
                s.store
                    .call(move |c| queries::retry(c, id, now_ms(), lifetime_ms))
                    .await
            }
        }
    }

    pub(crate) async fn cancel(&self, id: i64) -> Result<Event, OutboxError> {
        match self {
            Self::Postgres(p) => pg::cancel(&p.pool, id).await,
            Self::Sqlite(s) => s.store.call(move |c| queries::cancel(c, id, now_ms())).await,
        }
    }

    /// Deletes messages finished more than `age` ago; returns how many.
    pub(crate) async fn purge(&self, age: Duration) -> Result<u64, OutboxError> {
        match self {
            Self::Postgres(p) => pg::purge(&p.pool, ms(age)).await,
            Self::Sqlite(s) => {
                let before = now_ms().saturating_sub(ms(age));
                let (n, files) = s.store.call(move |c| queries::purge(c, before)).await?;
                for f in files {
                    let _ = tokio::fs::remove_file(s.spool.join(f)).await;
                }
                Ok(n)
            }
        }
    }
}

/// The file a `sqlite:` URL names (`sqlite:PATH`, `sqlite://PATH`).
fn sqlite_path(url: &str) -> Result<PathBuf, OutboxError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .filter(|p| !p.is_empty())
        .ok_or_else(|| OutboxError::UnsupportedUrl {
            url: pg::url::redact(url),
        })?;
    Ok(PathBuf::from(rest))
}
