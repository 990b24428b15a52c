//! The SQL behind each request, as functions of a connection inside the store's transaction.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::OutboxError;
use crate::model::{Event, EventKind, MessageState, QueueId, RecipientState, RecipientStatus, Stats, Status};
use crate::schedule::Schedule;
use crate::spool::Stored;

/// A message to insert.
#[derive(Debug)]
pub(crate) struct NewMessage {
    pub(crate) sender: String,
    /// Address, NOTIFY value, ORCPT value.
    pub(crate) recipients: Vec<(String, Option<String>, Option<String>)>,
    pub(crate) message_id: Option<String>,
    pub(crate) stored: Stored,
    pub(crate) size: u64,
    pub(crate) body_type: i64,
    pub(crate) smtputf8: bool,
    pub(crate) prefer_8bitmime: bool,
    pub(crate) prefer_binarymime: bool,
    pub(crate) ret: Option<String>,
    pub(crate) envid: Option<String>,
    pub(crate) require_tls: bool,
    pub(crate) not_before: i64,
    pub(crate) idempotency_key: Option<String>,
}

/// Inserts `m`, or finds the message queued earlier with the same idempotency key. The second
/// value is whether it is new.
pub(crate) fn insert(
    c: &Connection,
    m: &NewMessage,
    now: i64,
    lifetime_ms: i64,
) -> Result<(QueueId, Option<Event>), OutboxError> {
    if let Some(key) = &m.idempotency_key {
        let found: Option<i64> = c
            .query_row("SELECT id FROM messages WHERE idem_key = ?1", [key], |r| r.get(0))
            .optional()?;
        if let Some(id) = found {
            return Ok((QueueId(id), None));
        }
    }
    let path = match &m.stored {
        Stored::Inline(_) => None,
        Stored::File(p) => Some(p.as_str()),
    };
    c.prepare_cached(
        "INSERT INTO messages (idem_key, state, sender, message_id, body_path, size, body_type, smtputf8,
            prefer_8bitmime, prefer_binarymime, ret, envid, require_tls, created, not_before, expires)
         VALUES (?1, 'queued', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        m.idempotency_key,
        m.sender,
        m.message_id,
        path,
        i64::try_from(m.size).unwrap_or(i64::MAX),
        m.body_type,
        m.smtputf8,
        m.prefer_8bitmime,
        m.prefer_binarymime,
        m.ret,
        m.envid,
        m.require_tls,
        now,
        m.not_before,
        now.saturating_add(lifetime_ms),
    ])?;
    let id = c.last_insert_rowid();
    if let Stored::Inline(b) = &m.stored {
        c.prepare_cached("INSERT INTO bodies (message, body) VALUES (?1, ?2)")?
            .execute(params![id, b])?;
    }
    let mut rcpt = c.prepare_cached(
        "INSERT INTO recipients (message, idx, address, notify, orcpt, state) VALUES (?1, ?2, ?3, ?4, ?5, 'pending')",
    )?;
    for (i, (addr, notify, orcpt)) in m.recipients.iter().enumerate() {
        rcpt.execute(params![id, i as i64, addr, notify, orcpt])?;
    }
    let e = event(
        c,
        id,
        now,
        EventKind::Queued,
        &format!("{} recipient(s), {} bytes", m.recipients.len(), m.size),
    )?;
    Ok((QueueId(id), Some(e)))
}

/// Appends to the event log.
pub(crate) fn event(
    c: &Connection,
    id: i64,
    now: i64,
    kind: EventKind,
    detail: &str,
) -> Result<Event, OutboxError> {
    c.prepare_cached("INSERT INTO events (message, at, kind, detail) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![id, now, kind.as_str(), detail])?;
    Ok(Event {
        seq: c.last_insert_rowid(),
        id: QueueId(id),
        at_ms: now,
        kind,
        detail: detail.to_string(),
    })
}

/// A message leased for an attempt: what a worker needs to send it.
#[derive(Debug)]
pub(crate) struct Claimed {
    pub(crate) id: i64,
    pub(crate) sender: String,
    /// Index, address, NOTIFY, ORCPT of the recipients still to do.
    pub(crate) recipients: Vec<(i64, String, Option<String>, Option<String>)>,
    pub(crate) stored: Stored,
    pub(crate) size: u64,
    pub(crate) body_type: i64,
    pub(crate) smtputf8: bool,
    pub(crate) prefer_8bitmime: bool,
    pub(crate) prefer_binarymime: bool,
    pub(crate) ret: Option<String>,
    pub(crate) envid: Option<String>,
    pub(crate) require_tls: bool,
}

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
        .prepare_cached(
            "SELECT id, lease_owner IS NOT NULL FROM messages WHERE state = 'queued' AND not_before <= ?1
             ORDER BY not_before, id LIMIT ?2",
        )?
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
                prefer_8bitmime, prefer_binarymime, ret, envid, require_tls FROM messages WHERE id = ?1",
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
                size: r.get::<_, i64>(3)?.try_into().unwrap_or(0),
                body_type: r.get(4)?,
                smtputf8: r.get(5)?,
                prefer_8bitmime: r.get(6)?,
                prefer_binarymime: r.get(7)?,
                ret: r.get(8)?,
                envid: r.get(9)?,
                require_tls: r.get(10)?,
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

/// How one attempt ended, per recipient (by index).
#[derive(Clone, Debug)]
pub(crate) struct Outcome {
    pub(crate) id: i64,
    /// Index, new state, reply text.
    pub(crate) recipients: Vec<(i64, RecipientState, String)>,
    /// The error about the whole attempt, if it failed.
    pub(crate) error: Option<String>,
    /// The content may have reached the server although the outcome says otherwise.
    pub(crate) ambiguous: bool,
}

/// Records attempts that `owner` made. An outcome for a message whose lease `owner` no longer
/// holds (it ran out and another worker took over) is dropped: the other worker's attempt counts.
pub(crate) fn record(
    c: &Connection,
    owner: &str,
    outcomes: &[Outcome],
    now: i64,
    schedule: &Schedule,
) -> Result<Vec<Event>, OutboxError> {
    let mut events = Vec::new();
    for o in outcomes {
        let row: Option<(String, i64, i64)> = c
            .prepare_cached(
                "SELECT state, attempts, expires FROM messages WHERE id = ?1 AND lease_owner = ?2",
            )?
            .query_row(params![o.id, owner], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((state, attempts, expires)) = row else {
            continue;
        };
        // A recipient cancelled while the attempt was under way may have accepted it all the same.
        let mut set = c.prepare_cached(
            "UPDATE recipients SET state = ?3, reply = ?4 WHERE message = ?1 AND idx = ?2
             AND (state IN ('pending', 'deferred') OR (state = 'cancelled' AND ?3 = 'accepted'))",
        )?;
        for (idx, st, reply) in &o.recipients {
            set.execute(params![o.id, idx, st.as_str(), reply])?;
        }
        c.prepare_cached(
            "UPDATE messages SET lease_owner = NULL, lease_until = NULL, last_error = ?2,
                possible_duplicate = possible_duplicate OR ?3 WHERE id = ?1",
        )?
        .execute(params![o.id, o.error, o.ambiguous])?;
        if state != "queued" {
            // Cancelled while in flight: accepted recipients are recorded, nothing else changes.
            continue;
        }
        let counts = recipient_counts(c, o.id)?;
        let summary = counts.summary();
        if counts.open == 0 {
            let (st, kind) = if counts.refused > 0 {
                (MessageState::Failed, EventKind::Failed)
            } else {
                (MessageState::Sent, EventKind::Sent)
            };
            finish(c, o.id, st, now)?;
            events.push(event(c, o.id, now, kind, &summary)?);
            continue;
        }
        let attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
        let next = now.saturating_add(crate::model::ms(schedule.backoff(attempts)));
        if next > expires {
            c.execute(
                "UPDATE recipients SET state = 'expired' WHERE message = ?1 AND state IN ('pending', 'deferred')",
                [o.id],
            )?;
            finish(c, o.id, MessageState::Expired, now)?;
            let why = o.error.as_deref().unwrap_or("recipients deferred");
            let report = format!("given up after {attempts} attempt(s): {summary}; last: {why}");
            events.push(event(c, o.id, now, EventKind::Expired, &report)?);
            continue;
        }
        c.execute(
            "UPDATE messages SET not_before = ?2 WHERE id = ?1",
            params![o.id, next],
        )?;
        let why = o.error.as_deref().unwrap_or("some recipients deferred");
        events.push(event(
            c,
            o.id,
            now,
            EventKind::Deferred,
            &format!("{summary}; {why}; next attempt in {} s", (next - now) / 1000),
        )?)
    }
    Ok(events)
}

fn finish(c: &Connection, id: i64, state: MessageState, now: i64) -> Result<(), OutboxError> {
    c.execute(
        "UPDATE messages SET state = ?2, finished = ?3, lease_owner = NULL, lease_until = NULL WHERE id = ?1",
        params![id, state.as_str(), now],
    )?;
    Ok(())
}

struct Counts {
    open: u64,
    accepted: u64,
    refused: u64,
}

impl Counts {
    fn summary(&self) -> String {
        format!(
            "{} accepted, {} refused, {} to do",
            self.accepted, self.refused, self.open
        )
    }
}

fn recipient_counts(c: &Connection, id: i64) -> Result<Counts, OutboxError> {
    let mut k = Counts {
        open: 0,
        accepted: 0,
        refused: 0,
    };
    let mut q =
        c.prepare_cached("SELECT state, count(*) FROM recipients WHERE message = ?1 GROUP BY state")?;
    let rows = q.query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (s, n) = row?;
        let n = n.try_into().unwrap_or(0);
        match RecipientState::parse(&s) {
            Some(s) if s.is_open() => k.open += n,
            Some(RecipientState::Accepted) => k.accepted += n,
            Some(RecipientState::Refused | RecipientState::Expired) => k.refused += n,
            _ => {}
        }
    }
    Ok(k)
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
    Ok(c.query_row(
        "SELECT min(not_before) FROM messages WHERE state = 'queued'",
        [],
        |r| r.get(0),
    )?)
}

const STATUS_COLUMNS: &str = "id, state, sender, message_id, size, created, not_before, expires, attempts,
    possible_duplicate, last_error, idem_key";

fn status_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Status> {
    let state: String = r.get(1)?;
    Ok(Status {
        id: QueueId(r.get(0)?),
        state: MessageState::parse(&state).unwrap_or(MessageState::Queued),
        sender: r.get(2)?,
        recipients: Vec::new(),
        message_id: r.get(3)?,
        size: r.get::<_, i64>(4)?.try_into().unwrap_or(0),
        created_ms: r.get(5)?,
        not_before_ms: r.get(6)?,
        expires_ms: r.get(7)?,
        attempts: r.get::<_, i64>(8)?.try_into().unwrap_or(0),
        possible_duplicate: r.get(9)?,
        last_error: r.get(10)?,
        idempotency_key: r.get(11)?,
    })
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
        let n = u64::try_from(n).unwrap_or(0);
        match MessageState::parse(&state) {
            Some(MessageState::Queued) => s.queued = n,
            Some(MessageState::Held) => s.held = n,
            Some(MessageState::Sent) => s.sent = n,
            Some(MessageState::Failed) => s.failed = n,
            Some(MessageState::Expired) => s.expired = n,
            Some(MessageState::Cancelled) => s.cancelled = n,
            None => {}
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn new_message(n: usize) -> NewMessage {
        NewMessage {
            sender: "a@example.org".into(),
            recipients: vec![
                ("b@example.net".into(), None, None),
                ("c@example.net".into(), None, None),
            ],
            message_id: None,
            stored: Stored::Inline(vec![b'x'; 4000 + n]),
            size: 4000,
            body_type: 0,
            smtputf8: false,
            prefer_8bitmime: false,
            prefer_binarymime: false,
            ret: None,
            envid: None,
            require_tls: false,
            not_before: 0,
            idempotency_key: None,
        }
    }

    /// A full disk (here a page limit, which SQLite reports the same way) fails the request with
    /// an error that says so, and leaves no half-written message behind.
    #[tokio::test]
    async fn a_full_disk_is_named_and_leaves_the_queue_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        let mut conn = Connection::open(&path).unwrap();
        crate::schema::prepare(&mut conn, &path).unwrap();
        let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
        conn.query_row(&format!("PRAGMA max_page_count = {}", pages + 40), [], |_| Ok(()))
            .unwrap();
        let store = Store::start(conn);
        let mut queued: i64 = 0;
        let err = loop {
            assert!(queued < 1000, "the limit was never reached");
            let m = new_message(queued as usize);
            match store.call(move |c| insert(c, &m, 0, 1000)).await {
                Ok(_) => queued += 1,
                Err(e) => break e,
            }
        };
        assert!(matches!(err, OutboxError::DiskFull { .. }), "{err}");
        assert!(err.to_string().contains("disk") && err.is_transient(), "{err}");
        let (messages, recipients): (i64, i64) = store
            .call(|c| {
                Ok(c.query_row(
                    "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM recipients)",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?)
            })
            .await
            .unwrap();
        assert_eq!((messages, recipients), (queued, 2 * queued));
    }
}
