//! Retry, cancel and purge on PostgreSQL: the rules of the SQLite backend (`queries/admin.rs`),
//! with the message's row locked while its state is checked and changed.

use tokio_postgres::Transaction;

use super::enqueue::event;
use super::pool::Pool;
use super::{CHANNEL, NOW_MS};
use crate::error::OutboxError;
use crate::model::{Event, EventKind, MessageState};

async fn state_of(tx: &Transaction<'_>, pool: &Pool, id: i64) -> Result<MessageState, OutboxError> {
    let row = tx
        .query_opt("SELECT state FROM messages WHERE id = $1 FOR UPDATE", &[&id])
        .await
        .map_err(|e| pool.error(e))?;
    let s: String = row
        .ok_or(OutboxError::NotFound(id))?
        .try_get(0)
        .map_err(|e| pool.error(e))?;
    Ok(MessageState::parse(&s).unwrap_or(MessageState::Queued))
}

/// Makes a held, queued or expired message due now, and wakes the workers of every process.
pub(crate) async fn retry(pool: &Pool, id: i64, lifetime_ms: i64) -> Result<Event, OutboxError> {
    let err = |e| pool.error(e);
    let mut conn = pool.get().await?;
    let tx = conn.transaction().await.map_err(err)?;
    match state_of(&tx, pool, id).await? {
        MessageState::Queued | MessageState::Held => {}
        MessageState::Expired => {
            tx.execute(
                "UPDATE recipients SET state = 'deferred' WHERE message = $1 AND state = 'expired'",
                &[&id],
            )
            .await
            .map_err(err)?;
            tx.execute(
                &format!("UPDATE messages SET expires = {NOW_MS} + $2, finished = NULL WHERE id = $1"),
                &[&id, &lifetime_ms],
            )
            .await
            .map_err(err)?;
        }
        s => {
            return Err(OutboxError::WrongState {
                id,
                state: s.to_string(),
                why: "only queued, held or expired messages can be retried",
            });
        }
    }
    // A live lease keeps its not_before: the worker holding it is sending right now.
    tx.execute(
        &format!(
            "UPDATE messages SET state = 'queued',
                not_before = CASE WHEN lease_owner IS NULL THEN {NOW_MS} ELSE not_before END WHERE id = $1"
        ),
        &[&id],
    )
    .await
    .map_err(err)?;
    let e = event(&tx, pool, id, EventKind::Queued, "retry requested").await?;
    tx.execute("SELECT pg_notify($1, '')", &[&CHANNEL])
        .await
        .map_err(err)?;
    tx.commit().await.map_err(err)?;
    Ok(e)
}

/// Cancels a waiting message: its recipients not yet accepted never get it.
pub(crate) async fn cancel(pool: &Pool, id: i64) -> Result<Event, OutboxError> {
    let err = |e| pool.error(e);
    let mut conn = pool.get().await?;
    let tx = conn.transaction().await.map_err(err)?;
    let s = state_of(&tx, pool, id).await?;
    if s.is_final() {
        return Err(OutboxError::WrongState {
            id,
            state: s.to_string(),
            why: "it is finished already",
        });
    }
    tx.execute(
        "UPDATE recipients SET state = 'cancelled' WHERE message = $1 AND state IN ('pending', 'deferred')",
        &[&id],
    )
    .await
    .map_err(err)?;
    tx.execute(
        &format!("UPDATE messages SET state = 'cancelled', finished = {NOW_MS} WHERE id = $1"),
        &[&id],
    )
    .await
    .map_err(err)?;
    let e = event(&tx, pool, id, EventKind::Cancelled, "cancelled").await?;
    tx.commit().await.map_err(err)?;
    Ok(e)
}

/// Deletes messages that finished more than `age_ms` ago (their chunks and recipients go
/// with them), and their events; returns how many.
pub(crate) async fn purge(pool: &Pool, age_ms: i64) -> Result<u64, OutboxError> {
    let err = |e| pool.error(e);
    let mut conn = pool.get().await?;
    let tx = conn.transaction().await.map_err(err)?;
    let old = format!(
        "SELECT id FROM messages WHERE state NOT IN ('queued', 'held') AND finished <= {NOW_MS} - $1"
    );
    tx.execute(
        &format!("DELETE FROM events WHERE message IN ({old})"),
        &[&age_ms],
    )
    .await
    .map_err(err)?;
    let n = tx
        .execute(&format!("DELETE FROM messages WHERE id IN ({old})"), &[&age_ms])
        .await
        .map_err(err)?;
    tx.commit().await.map_err(err)?;
    Ok(n)
}
