//! Putting a message in: the row, its content, its recipients, its first event.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::OutboxError;
use crate::model::{Event, EventKind, QueueId};
use crate::options::SendOptions;
use crate::spool::Stored;

/// A message to insert.
#[derive(Debug)]
pub(crate) struct NewMessage {
    pub(crate) sender: String,
    /// Address, NOTIFY value, ORCPT value.
    pub(crate) recipients: Vec<(String, Option<String>, Option<String>)>,
    pub(crate) message_id: Option<String>,
    pub(crate) stored: Stored,
    pub(crate) options: SendOptions,
    /// Not sent before (Unix milliseconds); `None`: due as soon as it is queued.
    pub(crate) not_before: Option<i64>,
    pub(crate) idempotency_key: Option<String>,
    /// The application's label the runner picks a client by (e.g. the account name).
    pub(crate) route: Option<String>,
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
        Stored::Inline(_) | Stored::Chunks(_) => None,
        Stored::File(p) => Some(p.as_str()),
    };
    c.prepare_cached(
        "INSERT INTO messages (idem_key, state, sender, message_id, body_path, size, body_type, smtputf8,
            prefer_8bitmime, prefer_binarymime, ret, envid, require_tls, created, not_before, expires, route)
         VALUES (?1, 'queued', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        m.idempotency_key,
        m.sender,
        m.message_id,
        path,
        i64::try_from(m.options.size).unwrap_or(i64::MAX),
        m.options.body_type,
        m.options.smtputf8,
        m.options.prefer_8bitmime,
        m.options.prefer_binarymime,
        m.options.ret,
        m.options.envid,
        m.options.require_tls,
        now,
        m.not_before.unwrap_or(now),
        now.saturating_add(lifetime_ms),
        m.route,
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
        &format!("{} recipient(s), {} bytes", m.recipients.len(), m.options.size),
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
