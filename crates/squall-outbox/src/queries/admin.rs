//! What a person asks of a message: retry, cancel; and purging finished ones.

use rusqlite::{Connection, OptionalExtension, params};

use super::event;
use crate::error::OutboxError;
use crate::model::{Event, EventKind, MessageState};

fn state_of(c: &Connection, id: i64) -> Result<MessageState, OutboxError> {
    let s: Option<String> = c
        .query_row("SELECT state FROM messages WHERE id = ?1", [id], |r| r.get(0))
        .optional()?;
    let s = s.ok_or(OutboxError::NotFound(id))?;
    Ok(MessageState::parse(&s).unwrap_or(MessageState::Queued))
}

/// Makes a held, queued or expired message due now (an expired one gets a new lifetime and its
/// expired recipients back).
pub(crate) fn retry(c: &Connection, id: i64, now: i64, lifetime_ms: i64) -> Result<Event, OutboxError> {
    match state_of(c, id)? {
        MessageState::Queued | MessageState::Held => {}
        MessageState::Expired => {
            c.execute(
                "UPDATE recipients SET state = 'deferred' WHERE message = ?1 AND state = 'expired'",
                [id],
            )?;
            c.execute(
                "UPDATE messages SET expires = ?2, finished = NULL WHERE id = ?1",
                params![id, now.saturating_add(lifetime_ms)],
            )?;
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
    c.execute(
        "UPDATE messages SET state = 'queued', not_before = CASE WHEN lease_owner IS NULL THEN ?2 ELSE not_before END
         WHERE id = ?1",
        params![id, now],
    )?;
    event(c, id, now, EventKind::Queued, "retry requested")
}

/// Cancels a waiting message: its recipients not yet accepted never get it.
pub(crate) fn cancel(c: &Connection, id: i64, now: i64) -> Result<Event, OutboxError> {
    let s = state_of(c, id)?;
    if s.is_final() {
        return Err(OutboxError::WrongState {
            id,
            state: s.to_string(),
            why: "it is finished already",
        });
    }
    c.execute(
        "UPDATE recipients SET state = 'cancelled' WHERE message = ?1 AND state IN ('pending', 'deferred')",
        [id],
    )?;
    c.execute(
        "UPDATE messages SET state = 'cancelled', finished = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    event(c, id, now, EventKind::Cancelled, "cancelled")
}

/// Deletes finished messages that finished before `before`; returns their spool files, to be
/// removed once this commits.
pub(crate) fn purge(c: &Connection, before: i64) -> Result<(u64, Vec<String>), OutboxError> {
    let files: Vec<String> = c
        .prepare(
            "SELECT body_path FROM messages WHERE state NOT IN ('queued', 'held') AND finished <= ?1
             AND body_path IS NOT NULL",
        )?
        .query_map([before], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    c.execute(
        "DELETE FROM events WHERE message IN (SELECT id FROM messages WHERE state NOT IN ('queued', 'held') AND finished <= ?1)",
        [before],
    )?;
    let n = c.execute(
        "DELETE FROM messages WHERE state NOT IN ('queued', 'held') AND finished <= ?1",
        [before],
    )?;
    Ok((n as u64, files))
}

/// The spool files rows name.
pub(crate) fn spool_files(c: &Connection) -> Result<std::collections::HashSet<String>, OutboxError> {
    Ok(
        c.prepare("SELECT body_path FROM messages WHERE body_path IS NOT NULL")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?,
    )
}
