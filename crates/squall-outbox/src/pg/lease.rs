//! Leasing due messages with `FOR UPDATE SKIP LOCKED` (many workers on many machines claim
//! disjoint batches without waiting on each other), recording outcomes, renewing leases.
//!
//! The semantics are the SQLite backend's (`queries/lease.rs`, `queries/outcome.rs`): a lease
//! moves `not_before` to its end, so an expired lease is simply due again, and a message taken
//! while it still names an owner is flagged a possible duplicate. Every time is the database's
//! (`now()`), so machines with different clocks agree on who holds what.

use tokio_postgres::Transaction;

use super::NOW_MS;
use super::enqueue::event;
use super::pool::Pool;
use crate::error::OutboxError;
use crate::model::{Event, EventKind, MessageState, RecipientState};
use crate::options::send_options_from_row;
use crate::queries::{Claimed, Outcome};
use crate::schedule::Schedule;
use crate::spool::Stored;

/// Content up to this size is loaded with the lease; larger content is streamed while sending.
const LOAD_INLINE: i64 = 64 * 1024;

/// Records `done` (attempts `owner` made), then leases up to `limit` due messages to `owner`
/// for `lease_ms`, in one transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_and_claim(
    pool: &Pool,
    owner: &str,
    done: &[Outcome],
    lease_ms: i64,
    limit: usize,
    hold: bool,
    schedule: &Schedule,
) -> Result<(Vec<Claimed>, Vec<Event>), OutboxError> {
    let err = |e| pool.error(e);
    let mut conn = pool.get().await?;
    let tx = conn.transaction().await.map_err(err)?;
    let now: i64 = tx
        .query_one(&format!("SELECT {NOW_MS}"), &[])
        .await
        .map_err(err)?
        .try_get(0)
        .map_err(err)?;
    // All at once: tokio-postgres pipelines the statements of concurrent requests on one
    // connection, so a batch costs a few round trips instead of five per message. Each
    // outcome's statements stay in order and touch only its own message's rows.
    let t = &tx;
    let recorded = futures_util::future::try_join_all(done.iter().map(|o| async move {
        let mut events = Vec::new();
        record(t, pool, owner, o, now, schedule, &mut events).await?;
        Ok::<_, OutboxError>(events)
    }))
    .await?;
    let mut events: Vec<Event> = recorded.into_iter().flatten().collect();
    let mut claimed = Vec::new();
    if limit > 0 {
        claimed = claim(
            &tx,
            pool,
            owner,
            now,
            now.saturating_add(lease_ms),
            limit,
            hold,
            &mut events,
        )
        .await?;
    }
    tx.commit().await.map_err(err)?;
    Ok((claimed, events))
}

#[allow(clippy::too_many_arguments)]
async fn claim(
    tx: &Transaction<'_>,
    pool: &Pool,
    owner: &str,
    now: i64,
    until: i64,
    limit: usize,
    hold: bool,
    events: &mut Vec<Event>,
) -> Result<Vec<Claimed>, OutboxError> {
    let err = |e| pool.error(e);
    let due = tx
        .query(
            "SELECT id, lease_owner IS NOT NULL FROM messages WHERE state = 'queued' AND not_before <= $1
             ORDER BY not_before, id LIMIT $2 FOR UPDATE SKIP LOCKED",
            &[&now, &i64::try_from(limit).unwrap_or(i64::MAX)],
        )
        .await
        .map_err(err)?;
    let mut ids = Vec::new();
    for row in due {
        let id: i64 = row.try_get(0).map_err(err)?;
        let stale: bool = row.try_get(1).map_err(err)?;
        if stale {
            tx.execute(
                "UPDATE messages SET possible_duplicate = true, lease_owner = NULL, lease_until = NULL WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(err)?;
            events.push(
                event(
                    tx,
                    pool,
                    id,
                    EventKind::LeaseExpired,
                    "its worker's lease ran out during an attempt: the content may have reached the server",
                )
                .await?,
            );
            if hold {
                tx.execute("UPDATE messages SET state = 'held' WHERE id = $1", &[&id])
                    .await
                    .map_err(err)?;
                events.push(
                    event(
                        tx,
                        pool,
                        id,
                        EventKind::Held,
                        "a possible duplicate, held for a person: `squall queue retry` sends it",
                    )
                    .await?,
                );
                continue;
            }
        }
        ids.push(id);
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    tx.execute(
        "UPDATE messages SET lease_owner = $2, lease_until = $3, not_before = $3, attempts = attempts + 1
         WHERE id = ANY($1)",
        &[&ids, &owner, &until],
    )
    .await
    .map_err(err)?;
    load(tx, pool, &ids).await
}

/// What workers need to send `ids`: envelope, options, and the content (small content now,
/// large content by its chunk count, streamed later).
async fn load(tx: &Transaction<'_>, pool: &Pool, ids: &[i64]) -> Result<Vec<Claimed>, OutboxError> {
    let err = |e| pool.error(e);
    let rows = tx
        .query(
            "SELECT m.id, m.sender, m.size, m.body_type, m.smtputf8, m.prefer_8bitmime, m.prefer_binarymime,
                    m.ret, m.envid, m.require_tls, c.n,
                    CASE WHEN c.n = 1 AND c.bytes <= $2 THEN (SELECT data FROM chunks WHERE message = m.id AND seq = 0) END,
                    m.route
             FROM messages m,
                  LATERAL (SELECT count(*) AS n, coalesce(sum(octet_length(data)), 0) AS bytes
                           FROM chunks WHERE message = m.id) c
             WHERE m.id = ANY($1) ORDER BY m.not_before, m.id",
            &[&ids, &LOAD_INLINE],
        )
        .await
        .map_err(err)?;
    let mut claimed = Vec::with_capacity(rows.len());
    for r in rows {
        let n: i64 = r.try_get(10).map_err(err)?;
        let inline: Option<Vec<u8>> = r.try_get(11).map_err(err)?;
        let stored = match (n, inline) {
            (0, _) => Stored::Inline(Vec::new()),
            (_, Some(b)) => Stored::Inline(b),
            (n, None) => Stored::Chunks(n),
        };
        claimed.push(Claimed {
            id: r.try_get(0).map_err(err)?,
            sender: r.try_get(1).map_err(err)?,
            recipients: Vec::new(),
            stored,
            options: send_options_from_row!(r.try_get, 2, err),
            route: r.try_get(12).map_err(err)?,
        });
    }
    let rcpts = tx
        .query(
            "SELECT message, idx, address, notify, orcpt FROM recipients
             WHERE message = ANY($1) AND state IN ('pending', 'deferred') ORDER BY message, idx",
            &[&ids],
        )
        .await
        .map_err(err)?;
    for r in rcpts {
        let message: i64 = r.try_get(0).map_err(err)?;
        if let Some(c) = claimed.iter_mut().find(|c| c.id == message) {
            c.recipients.push((
                r.try_get(1).map_err(err)?,
                r.try_get(2).map_err(err)?,
                r.try_get(3).map_err(err)?,
                r.try_get(4).map_err(err)?,
            ));
        }
    }
    Ok(claimed)
}

/// Records one attempt of `owner`'s; dropped if the lease moved to another worker meanwhile.
async fn record(
    tx: &Transaction<'_>,
    pool: &Pool,
    owner: &str,
    o: &Outcome,
    now: i64,
    schedule: &Schedule,
    events: &mut Vec<Event>,
) -> Result<(), OutboxError> {
    let err = |e| pool.error(e);
    let row = tx
        .query_opt(
            "SELECT state, attempts, expires FROM messages WHERE id = $1 AND lease_owner = $2 FOR UPDATE",
            &[&o.id, &owner],
        )
        .await
        .map_err(err)?;
    let Some(row) = row else { return Ok(()) };
    let state: String = row.try_get(0).map_err(err)?;
    let attempts: i64 = row.try_get(1).map_err(err)?;
    let expires: i64 = row.try_get(2).map_err(err)?;
    // A recipient cancelled while the attempt was under way may have accepted it all the same.
    let set = tx
        .prepare(
            "UPDATE recipients SET state = $3, reply = $4 WHERE message = $1 AND idx = $2
             AND (state IN ('pending', 'deferred') OR (state = 'cancelled' AND $3 = 'accepted'))",
        )
        .await
        .map_err(err)?;
    for (idx, st, reply) in &o.recipients {
        tx.execute(&set, &[&o.id, idx, &st.as_str(), reply])
            .await
            .map_err(err)?;
    }
    tx.execute(
        "UPDATE messages SET lease_owner = NULL, lease_until = NULL, last_error = $2,
            possible_duplicate = possible_duplicate OR $3 WHERE id = $1",
        &[&o.id, &o.error, &o.ambiguous],
    )
    .await
    .map_err(err)?;
    if state != "queued" {
        // Cancelled while in flight: accepted recipients are recorded, nothing else changes.
        return Ok(());
    }
    let (open, accepted, refused) = counts(tx, pool, o.id).await?;
    let summary = format!("{accepted} accepted, {refused} refused, {open} to do");
    if open == 0 {
        let (st, kind) = if refused > 0 {
            (MessageState::Failed, EventKind::Failed)
        } else {
            (MessageState::Sent, EventKind::Sent)
        };
        finish(tx, pool, o.id, st, now).await?;
        events.push(event(tx, pool, o.id, kind, &summary).await?);
        return Ok(());
    }
    let attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
    let next = now.saturating_add(crate::model::ms(schedule.backoff(attempts)));
    if next > expires {
        tx.execute(
            "UPDATE recipients SET state = 'expired' WHERE message = $1 AND state IN ('pending', 'deferred')",
            &[&o.id],
        )
        .await
        .map_err(err)?;
        finish(tx, pool, o.id, MessageState::Expired, now).await?;
        let why = o.error.as_deref().unwrap_or("recipients deferred");
        let report = format!("given up after {attempts} attempt(s): {summary}; last: {why}");
        events.push(event(tx, pool, o.id, EventKind::Expired, &report).await?);
        return Ok(());
    }
    tx.execute(
        "UPDATE messages SET not_before = $2 WHERE id = $1",
        &[&o.id, &next],
    )
    .await
    .map_err(err)?;
    let why = o.error.as_deref().unwrap_or("some recipients deferred");
    let detail = format!("{summary}; {why}; next attempt in {} s", (next - now) / 1000);
    events.push(event(tx, pool, o.id, EventKind::Deferred, &detail).await?);
    Ok(())
}

async fn finish(
    tx: &Transaction<'_>,
    pool: &Pool,
    id: i64,
    state: MessageState,
    now: i64,
) -> Result<(), OutboxError> {
    tx.execute(
        "UPDATE messages SET state = $2, finished = $3, lease_owner = NULL, lease_until = NULL WHERE id = $1",
        &[&id, &state.as_str(), &now],
    )
    .await
    .map_err(|e| pool.error(e))?;
    Ok(())
}

/// Open, accepted and refused (or expired) recipients of `id`.
async fn counts(tx: &Transaction<'_>, pool: &Pool, id: i64) -> Result<(u64, u64, u64), OutboxError> {
    let err = |e| pool.error(e);
    let (mut open, mut accepted, mut refused) = (0, 0, 0);
    for r in tx
        .query(
            "SELECT state, count(*) FROM recipients WHERE message = $1 GROUP BY state",
            &[&id],
        )
        .await
        .map_err(err)?
    {
        let s: String = r.try_get(0).map_err(err)?;
        let n: u64 = r.try_get::<_, i64>(1).map_err(err)?.try_into().unwrap_or(0);
        match RecipientState::parse(&s) {
            Some(s) if s.is_open() => open += n,
            Some(RecipientState::Accepted) => accepted += n,
            Some(RecipientState::Refused | RecipientState::Expired) => refused += n,
            _ => {}
        }
    }
    Ok((open, accepted, refused))
}

/// Extends `owner`'s leases on `ids` by `lease_ms` from now.
pub(crate) async fn renew(pool: &Pool, owner: &str, ids: &[i64], lease_ms: i64) -> Result<(), OutboxError> {
    if ids.is_empty() {
        return Ok(());
    }
    let conn = pool.get().await?;
    conn.execute(
        &format!(
            "UPDATE messages SET lease_until = {NOW_MS} + $3, not_before = {NOW_MS} + $3
             WHERE id = ANY($1) AND lease_owner = $2 AND state = 'queued'"
        ),
        &[&ids, &owner, &lease_ms],
    )
    .await
    .map_err(|e| pool.error(e))?;
    Ok(())
}

/// Whether a message is due now, or leased (perhaps by a worker that died).
pub(crate) async fn has_due_or_leased(pool: &Pool) -> Result<bool, OutboxError> {
    let conn = pool.get().await?;
    conn.query_one(
        &format!(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE state = 'queued'
                AND (not_before <= {NOW_MS} OR lease_owner IS NOT NULL))"
        ),
        &[],
    )
    .await
    .and_then(|r| r.try_get(0))
    .map_err(|e| pool.error(e))
}

/// How long until the earliest queued message is due (zero or less: due now).
pub(crate) async fn next_due_in(pool: &Pool) -> Result<Option<i64>, OutboxError> {
    let conn = pool.get().await?;
    conn.query_one(
        &format!("SELECT min(not_before) - {NOW_MS} FROM messages WHERE state = 'queued'"),
        &[],
    )
    .await
    .and_then(|r| r.try_get(0))
    .map_err(|e| pool.error(e))
}
