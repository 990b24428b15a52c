//! Leasing due messages to a worker, renewing leases, and what a waiting worker asks.

use rusqlite::{Connection, params};

use super::event;
use crate::error::OutboxError;
use crate::model::{Event, EventKind};
use crate::options::{SendOptions, send_options_from_row};
use crate::spool::Stored;

/// A message leased for an attempt: what a worker needs to send it.
#[derive(Debug)]
pub(crate) struct Claimed {
    pub(crate) id: i64,
    pub(crate) sender: String,
    /// Index, address, NOTIFY, ORCPT of the recipients still to do.
    pub(crate) recipients: Vec<(i64, String, Option<String>, Option<String>)>,
    pub(crate) stored: Stored,
    pub(crate) options: SendOptions,
    /// The route it was queued with: the runner picks the client by it.
    pub(crate) route: Option<String>,
}

/// The due messages, oldest first. Without `INDEXED BY` SQLite picks the (state, created) index
/// for `state = 'queued'` and sorts every queued row for each lease: with a million queued, a
/// lease took a third of a second and the drain fell to a tenth of its speed.
pub(super) const DUE: &str = "SELECT id, lease_owner IS NOT NULL FROM messages INDEXED BY messages_due
     WHERE state = 'queued' AND not_before <= ?1 ORDER BY not_before, id LIMIT ?2";

/// The earliest `not_before` of a queued message (from the due index, as [`DUE`]).
pub(super) const NEXT_DUE: &str =
    "SELECT min(not_before) FROM messages INDEXED BY messages_due WHERE state = 'queued'";

/// Leases up to `limit` due messages to `owner` until `until`. A message whose earlier lease ran
/// out (its worker died or stalled) is flagged a possible duplicate, and held instead when
/// `hold` says so.
///
/// A lease moves `not_before` to the lease's end, so leased messages are not due and the
/// due index alone finds the work; an expired lease is simply due again.
pub(crate) fn claim(
    c: &Connection,
    owner: &str,
    now: i64,
    until: i64,
    limit: usize,
    hold: bool,
) -> Result<(Vec<Claimed>, Vec<Event>), OutboxError> {
    let due: Vec<(i64, bool)> = c
        .prepare_cached(DUE)?
        .query_map(params![now, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut events = Vec::new();
    let mut claimed = Vec::new();
    for (id, stale) in due {
        if stale {
            c.execute(
                "UPDATE messages SET possible_duplicate = 1, lease_owner = NULL, lease_until = NULL WHERE id = ?1",
                [id],
            )?;
            events.push(event(
                c,
                id,
                now,
                EventKind::LeaseExpired,
                "its worker's lease ran out during an attempt: the content may have reached the server",
            )?);
            if hold {
                c.execute("UPDATE messages SET state = 'held' WHERE id = ?1", [id])?;
                events.push(event(
                    c,
                    id,
                    now,
                    EventKind::Held,
                    "a possible duplicate, held for a person: `squall queue retry` sends it",
                )?);
                continue;
            }
        }
        c.prepare_cached(
            "UPDATE messages SET lease_owner = ?2, lease_until = ?3, not_before = ?3, attempts = attempts + 1 WHERE id = ?1",
        )?
        .execute(params![id, owner, until])?;
        claimed.push(load(c, id)?);
    }
    Ok((claimed, events))
}

fn load(c: &Connection, id: i64) -> Result<Claimed, OutboxError> {
    let mut m = c
        .prepare_cached(
            "SELECT sender, (SELECT body FROM bodies WHERE message = id), body_path, size, body_type, smtputf8,
                prefer_8bitmime, prefer_binarymime, ret, envid, require_tls, route FROM messages WHERE id = ?1",
        )?
        .query_row([id], |r| {
            let body: Option<Vec<u8>> = r.get(1)?;
            let path: Option<String> = r.get(2)?;
            let stored = match (body, path) {
                (Some(b), _) => Stored::Inline(b),
                (None, p) => Stored::File(p.unwrap_or_default()),
            };
            Ok(Claimed {
                id,
                sender: r.get(0)?,
                recipients: Vec::new(),
                stored,
                options: send_options_from_row!(r.get, 3, std::convert::identity),
                route: r.get(11)?,
            })
        })?;
    m.recipients = c
        .prepare_cached(
            "SELECT idx, address, notify, orcpt FROM recipients WHERE message = ?1 AND state IN ('pending', 'deferred')
             ORDER BY idx",
        )?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    Ok(m)
}

/// Extends `owner`'s leases on `ids` to `until`.
pub(crate) fn renew(c: &Connection, owner: &str, ids: &[i64], until: i64) -> Result<(), OutboxError> {
    let mut q = c.prepare_cached(
        "UPDATE messages SET lease_until = ?3, not_before = ?3 WHERE id = ?1 AND lease_owner = ?2 AND state = 'queued'",
    )?;
    for id in ids {
        q.execute(params![id, owner, until])?;
    }
    Ok(())
}

/// Whether a worker should keep waiting: a message is due now, or leased (perhaps by a worker
/// that died, whose lease will run out).
pub(crate) fn has_due_or_leased(c: &Connection, now: i64) -> Result<bool, OutboxError> {
    Ok(c.query_row(
        "SELECT EXISTS (SELECT 1 FROM messages WHERE state = 'queued' AND (not_before <= ?1 OR lease_owner IS NOT NULL))",
        [now],
        |r| r.get(0),
    )?)
}

/// The earliest `not_before` of a queued message.
pub(crate) fn next_due(c: &Connection) -> Result<Option<i64>, OutboxError> {
    Ok(c.query_row(NEXT_DUE, [], |r| r.get(0))?)
}
