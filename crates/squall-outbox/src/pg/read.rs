//! Status, lists, counts and the event log, on PostgreSQL.

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::NOW_MS;
use super::pool::{Conn, Pool};
use crate::error::OutboxError;
use crate::model::{Event, EventKind, MessageState, QueueId, RecipientState, RecipientStatus, Stats, Status};
use crate::queries::{STATUS_COLUMNS, status_from_row};

fn status_row(r: &Row) -> Result<Status, tokio_postgres::Error> {
    Ok(status_from_row!(r.try_get))
}

/// Fills in the recipients of `list`, in one query.
async fn with_recipients(conn: &Conn, pool: &Pool, list: &mut [Status]) -> Result<(), OutboxError> {
    let err = |e| pool.error(e);
    let ids: Vec<i64> = list.iter().map(|s| s.id.0).collect();
    let rows = conn
        .query(
            "SELECT message, address, state, reply FROM recipients WHERE message = ANY($1) ORDER BY message, idx",
            &[&ids],
        )
        .await
        .map_err(err)?;
    for r in rows {
        let id: i64 = r.try_get(0).map_err(err)?;
        let st: String = r.try_get(2).map_err(err)?;
        if let Some(s) = list.iter_mut().find(|s| s.id.0 == id) {
            s.recipients.push(RecipientStatus {
                address: r.try_get(1).map_err(err)?,
                state: RecipientState::parse(&st).unwrap_or(RecipientState::Pending),
                reply: r.try_get(3).map_err(err)?,
            });
        }
    }
    Ok(())
}

async fn statuses(
    pool: &Pool,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Status>, OutboxError> {
    let err = |e| pool.error(e);
    let conn = pool.get().await?;
    let rows = conn.query(sql, params).await.map_err(err)?;
    let mut list = rows
        .iter()
        .map(status_row)
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    if !list.is_empty() {
        with_recipients(&conn, pool, &mut list).await?;
    }
    Ok(list)
}

/// One message's status.
pub(crate) async fn status(pool: &Pool, id: i64) -> Result<Option<Status>, OutboxError> {
    let sql = format!("SELECT {STATUS_COLUMNS} FROM messages WHERE id = $1");
    Ok(statuses(pool, &sql, &[&id]).await?.into_iter().next())
}

/// Messages in `state` (all when `None`), oldest first, at most `limit`.
pub(crate) async fn list(
    pool: &Pool,
    state: Option<MessageState>,
    limit: usize,
) -> Result<Vec<Status>, OutboxError> {
    let sql = format!(
        "SELECT {STATUS_COLUMNS} FROM messages WHERE $1::text IS NULL OR state = $1 ORDER BY id LIMIT $2"
    );
    let state = state.map(MessageState::as_str);
    statuses(pool, &sql, &[&state, &i64::try_from(limit).unwrap_or(i64::MAX)]).await
}

/// Counts by state and the oldest waiting age (by the database's clock).
pub(crate) async fn stats(pool: &Pool) -> Result<Stats, OutboxError> {
    let err = |e| pool.error(e);
    let conn = pool.get().await?;
    let mut s = Stats::default();
    for r in conn
        .query("SELECT state, count(*) FROM messages GROUP BY state", &[])
        .await
        .map_err(err)?
    {
        let state: String = r.try_get(0).map_err(err)?;
        s.set_count(&state, r.try_get(1).map_err(err)?);
    }
    let r = conn
        .query_one(
            &format!(
                "SELECT (SELECT count(*) FROM messages WHERE state = 'queued' AND lease_owner IS NOT NULL),
                        (SELECT count(*) FROM messages WHERE possible_duplicate),
                        {NOW_MS} - (SELECT min(created) FROM messages WHERE state IN ('queued', 'held'))"
            ),
            &[],
        )
        .await
        .map_err(err)?;
    s.leased = u64::try_from(r.try_get::<_, i64>(0).map_err(err)?).unwrap_or(0);
    s.possible_duplicates = u64::try_from(r.try_get::<_, i64>(1).map_err(err)?).unwrap_or(0);
    let age: Option<i64> = r.try_get(2).map_err(err)?;
    s.oldest_waiting_ms = age.map(|a| u64::try_from(a).unwrap_or(0));
    Ok(s)
}

/// Events after `seq`, oldest first, at most `limit`.
///
/// Sequence numbers come from a sequence, so a transaction that commits late can make a lower
/// number appear after a higher one was read; a reader that must see every event reads again
/// from a little before its last `seq` and skips what it has.
pub(crate) async fn events_since(pool: &Pool, seq: i64, limit: usize) -> Result<Vec<Event>, OutboxError> {
    let err = |e| pool.error(e);
    let conn = pool.get().await?;
    let rows = conn
        .query(
            "SELECT seq, message, at, kind, detail FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&seq, &i64::try_from(limit).unwrap_or(i64::MAX)],
        )
        .await
        .map_err(err)?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get(3)?;
            Ok(Event {
                seq: r.try_get(0)?,
                id: QueueId(r.try_get(1)?),
                at_ms: r.try_get(2)?,
                kind: EventKind::parse(&kind).unwrap_or(EventKind::Queued),
                detail: r.try_get(4)?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(err)
}
