//! Status, lists, counts and the event log.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::OutboxError;
use crate::model::{Event, EventKind, MessageState, QueueId, RecipientState, RecipientStatus, Stats, Status};

/// The columns a [`Status`] is read from, by position, on both engines.
pub(crate) const STATUS_COLUMNS: &str =
    "id, state, sender, message_id, size, created, not_before, expires, attempts,
    possible_duplicate, last_error, idem_key, route";

/// A [`Status`] from a row of [`STATUS_COLUMNS`], on either engine: `$get` is the row's
/// getter by position (`get` for rusqlite, `try_get` for tokio-postgres), its errors passed on
/// with `?`. One place knows the positions.
macro_rules! status_from_row {
    ($r:ident . $get:ident) => {{
        let state: String = $r.$get(1)?;
        Status {
            id: QueueId($r.$get(0)?),
            state: MessageState::parse(&state).unwrap_or(MessageState::Queued),
            sender: $r.$get(2)?,
            recipients: Vec::new(),
            message_id: $r.$get(3)?,
            size: $r.$get::<_, i64>(4)?.try_into().unwrap_or(0),
            created_ms: $r.$get(5)?,
            not_before_ms: $r.$get(6)?,
            expires_ms: $r.$get(7)?,
            attempts: $r.$get::<_, i64>(8)?.try_into().unwrap_or(0),
            possible_duplicate: $r.$get(9)?,
            last_error: $r.$get(10)?,
            idempotency_key: $r.$get(11)?,
            route: $r.$get(12)?,
        }
    }};
}
pub(crate) use status_from_row;

fn status_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Status> {
    Ok(status_from_row!(r.get))
}

fn with_recipients(c: &Connection, mut s: Status) -> Result<Status, OutboxError> {
    s.recipients = c
        .prepare_cached("SELECT address, state, reply FROM recipients WHERE message = ?1 ORDER BY idx")?
        .query_map([s.id.0], |r| {
            let st: String = r.get(1)?;
            Ok(RecipientStatus {
                address: r.get(0)?,
                state: RecipientState::parse(&st).unwrap_or(RecipientState::Pending),
                reply: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(s)
}

/// One message's status.
pub(crate) fn status(c: &Connection, id: i64) -> Result<Option<Status>, OutboxError> {
    let s = c
        .query_row(
            &format!("SELECT {STATUS_COLUMNS} FROM messages WHERE id = ?1"),
            [id],
            status_row,
        )
        .optional()?;
    s.map(|s| with_recipients(c, s)).transpose()
}

/// Messages in `state` (all when `None`), oldest first, at most `limit`.
pub(crate) fn list(
    c: &Connection,
    state: Option<MessageState>,
    limit: usize,
) -> Result<Vec<Status>, OutboxError> {
    let sql =
        format!("SELECT {STATUS_COLUMNS} FROM messages WHERE ?1 IS NULL OR state = ?1 ORDER BY id LIMIT ?2");
    let rows: Vec<Status> = c
        .prepare_cached(&sql)?
        .query_map(params![state.map(MessageState::as_str), limit as i64], status_row)?
        .collect::<Result<_, _>>()?;
    rows.into_iter().map(|s| with_recipients(c, s)).collect()
}

/// Counts by state and the oldest waiting age.
pub(crate) fn stats(c: &Connection, now: i64) -> Result<Stats, OutboxError> {
    let mut s = Stats::default();
    let mut q = c.prepare_cached("SELECT state, count(*) FROM messages GROUP BY state")?;
    for row in q.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (state, n) = row?;
        s.set_count(&state, n);
    }
    s.leased = c.query_row(
        "SELECT count(*) FROM messages WHERE state = 'queued' AND lease_owner IS NOT NULL",
        [],
        |r| r.get::<_, i64>(0),
    )? as u64;
    s.possible_duplicates = c.query_row(
        "SELECT count(*) FROM messages WHERE possible_duplicate",
        [],
        |r| r.get::<_, i64>(0),
    )? as u64;
    let oldest: Option<i64> = c.query_row(
        "SELECT min(created) FROM messages WHERE state IN ('queued', 'held')",
        [],
        |r| r.get(0),
    )?;
    s.oldest_waiting_ms = oldest.map(|t| u64::try_from(now - t).unwrap_or(0));
    Ok(s)
}

/// Events after `seq`, oldest first, at most `limit`.
pub(crate) fn events_since(c: &Connection, seq: i64, limit: usize) -> Result<Vec<Event>, OutboxError> {
    Ok(c.prepare_cached(
        "SELECT seq, message, at, kind, detail FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?
    .query_map(params![seq, limit as i64], |r| {
        let kind: String = r.get(3)?;
        Ok(Event {
            seq: r.get(0)?,
            id: QueueId(r.get(1)?),
            at_ms: r.get(2)?,
            kind: EventKind::parse(&kind).unwrap_or(EventKind::Queued),
            detail: r.get(4)?,
        })
    })?
    .collect::<Result<_, _>>()?)
}
