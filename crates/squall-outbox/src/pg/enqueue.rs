//! Putting a message in: its row, its content streamed into `chunks`, its recipients and its
//! first event, all in one transaction (other processes are told after it, see `notify`).

use squall_proto::data::Scanner;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_postgres::Transaction;
use tokio_postgres::types::ToSql;

use super::pool::Pool;
use super::{NOW_MS, now_ms};
use crate::error::OutboxError;
use crate::model::{Event, EventKind, QueueId};
use crate::queries::NewMessage;

/// The message row, as both ways of enqueueing insert it: `$1`–`$14` are [`message_params`]; a
/// taken idempotency key inserts nothing and returns no row.
macro_rules! insert_message {
    () => {
        concat!(
            "INSERT INTO messages (idem_key, state, sender, message_id, size, body_type, smtputf8,
                prefer_8bitmime, prefer_binarymime, ret, envid, require_tls, created, not_before, expires, route)
             SELECT $1, 'queued', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, t, coalesce($12, t), t + $13, $14
             FROM (SELECT ",
            now_ms!(),
            " AS t) now
             ON CONFLICT (idem_key) DO NOTHING RETURNING id, created"
        )
    };
}

/// [`insert_message!`] alone: content too large for one statement follows in chunks.
const INSERT_MESSAGE: &str = insert_message!();

type Param<'a> = &'a (dyn ToSql + Sync);

/// `$1`–`$14` of [`insert_message!`]: the message's columns, its size and its lifetime.
fn message_params<'a>(m: &'a NewMessage, size: &'a i64, lifetime_ms: &'a i64) -> Vec<Param<'a>> {
    vec![
        &m.idempotency_key,
        &m.sender,
        &m.message_id,
        size,
        &m.options.body_type,
        &m.options.smtputf8,
        &m.options.prefer_8bitmime,
        &m.options.prefer_binarymime,
        &m.options.ret,
        &m.options.envid,
        &m.options.require_tls,
        &m.not_before,
        lifetime_ms,
        &m.route,
    ]
}

/// The most content one `chunks` row holds: memory per message in and out stays below about
/// twice this, whatever the message's size.
pub(crate) const CHUNK: usize = 256 * 1024;

/// Reads up to [`CHUNK`] bytes (fewer only at the end of `body`).
async fn read_chunk(
    body: &mut (impl AsyncRead + Unpin),
    scanner: &mut Scanner,
) -> Result<Vec<u8>, OutboxError> {
    let mut buf = vec![0; CHUNK];
    let mut n = 0;
    while n < CHUNK {
        let got = body
            .read(&mut buf[n..])
            .await
            .map_err(|e| OutboxError::Input(format!("reading the message content failed: {e}")))?;
        if got == 0 {
            break;
        }
        n += got;
    }
    buf.truncate(n);
    scanner.push(&buf);
    Ok(buf)
}

/// Inserts `m` with the content of `body`, or finds the message queued earlier with the same
/// idempotency key (then nothing is written and `None` is returned for the event).
pub(crate) async fn insert(
    pool: &Pool,
    mut m: NewMessage,
    mut body: impl AsyncRead + Unpin,
    lifetime_ms: i64,
) -> Result<(QueueId, Option<Event>), OutboxError> {
    let err = |e| pool.error(e);
    let mut scanner = Scanner::new();
    let first = read_chunk(&mut body, &mut scanner).await?;
    if first.len() < CHUNK {
        m.options.apply_profile(&scanner.finish());
        return insert_whole(pool, &m, &first, lifetime_ms).await;
    }
    // Larger content: the message row first (its id names the chunks), then chunk after chunk,
    // then what the whole content turned out to be, in one transaction.
    let mut conn = pool.get().await?;
    let tx = conn.transaction().await.map_err(err)?;
    let size = i64::try_from(m.options.size).unwrap_or(i64::MAX);
    let inserted = tx
        .query_opt(INSERT_MESSAGE, &message_params(&m, &size, &lifetime_ms))
        .await
        .map_err(err)?;
    let Some(row) = inserted else {
        // The key is taken (perhaps by a transaction that committed while this insert waited
        // on the unique index): the first message's id, nothing queued.
        let id: Option<i64> = tx
            .query_opt(
                "SELECT id FROM messages WHERE idem_key = $1",
                &[&m.idempotency_key],
            )
            .await
            .map_err(err)?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(err)?;
        let id = id.ok_or_else(|| {
            OutboxError::Input("the idempotency key's message was purged while queueing; queue again".into())
        })?;
        return Ok((QueueId(id), None));
    };
    let id: i64 = row.try_get(0).map_err(err)?;
    let created: i64 = row.try_get(1).map_err(err)?;
    write_content(&tx, pool, id, first, &mut body, &mut scanner).await?;
    m.options.apply_profile(&scanner.finish());
    tx.execute(
        "UPDATE messages SET size = $2, body_type = $3, smtputf8 = $4, prefer_binarymime = $5 WHERE id = $1",
        &[
            &id,
            &i64::try_from(m.options.size).unwrap_or(i64::MAX),
            &m.options.body_type,
            &m.options.smtputf8,
            &m.options.prefer_binarymime,
        ],
    )
    .await
    .map_err(err)?;
    let (addresses, notifies, orcpts) = recipient_columns(&m);
    tx.execute(
        "INSERT INTO recipients (message, idx, address, notify, orcpt, state)
         SELECT $1, i - 1, a, n, o, 'pending' FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS r(a, n, o, i)",
        &[&id, &addresses, &notifies, &orcpts],
    )
    .await
    .map_err(err)?;
    let detail = format!("{} recipient(s), {} bytes", m.recipients.len(), m.options.size);
    let seq: i64 = tx
        .query_one(
            "INSERT INTO events (message, at, kind, detail) VALUES ($1, $2, $3, $4) RETURNING seq",
            &[&id, &created, &EventKind::Queued.as_str(), &detail],
        )
        .await
        .map_err(err)?
        .try_get(0)
        .map_err(err)?;
    tx.commit().await.map_err(err)?;
    Ok((
        QueueId(id),
        Some(Event {
            seq,
            id: QueueId(id),
            at_ms: created,
            kind: EventKind::Queued,
            detail,
        }),
    ))
}

/// The whole message in one statement (one round trip once prepared, its own transaction):
/// the common case of content that fits in one chunk.
const INSERT_WHOLE: &str = concat!(
    "WITH m AS (",
    insert_message!(),
    "),
     c AS (INSERT INTO chunks (message, seq, data) SELECT id, 0, $15::bytea FROM m WHERE octet_length($15::bytea) > 0),
     r AS (INSERT INTO recipients (message, idx, address, notify, orcpt, state)
           SELECT m.id, u.i - 1, u.a, u.n, u.o, 'pending'
           FROM m, unnest($16::text[], $17::text[], $18::text[]) WITH ORDINALITY AS u(a, n, o, i)),
     e AS (INSERT INTO events (message, at, kind, detail) SELECT id, created, 'queued', $19 FROM m RETURNING seq)
     SELECT m.id, m.created, e.seq FROM m, e"
);

async fn insert_whole(
    pool: &Pool,
    m: &NewMessage,
    content: &[u8],
    lifetime_ms: i64,
) -> Result<(QueueId, Option<Event>), OutboxError> {
    let err = |e| pool.error(e);
    let mut conn = pool.get().await?;
    let statement = conn.prepare_cached(INSERT_WHOLE).await.map_err(err)?;
    let (addresses, notifies, orcpts) = recipient_columns(m);
    let detail = format!("{} recipient(s), {} bytes", m.recipients.len(), m.options.size);
    let size = i64::try_from(m.options.size).unwrap_or(i64::MAX);
    let mut params = message_params(m, &size, &lifetime_ms);
    params.extend([&content as Param<'_>, &addresses, &notifies, &orcpts, &detail]);
    let row = conn.query_opt(&statement, &params).await.map_err(err)?;
    let Some(row) = row else {
        // The key is taken (the insert waited for the transaction holding it to commit).
        let id: i64 = conn
            .query_opt(
                "SELECT id FROM messages WHERE idem_key = $1",
                &[&m.idempotency_key],
            )
            .await
            .map_err(err)?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(err)?
            .ok_or_else(|| {
                OutboxError::Input(
                    "the idempotency key's message was purged while queueing; queue again".into(),
                )
            })?;
        return Ok((QueueId(id), None));
    };
    let id: i64 = row.try_get(0).map_err(err)?;
    Ok((
        QueueId(id),
        Some(Event {
            seq: row.try_get(2).map_err(err)?,
            id: QueueId(id),
            at_ms: row.try_get(1).map_err(err)?,
            kind: EventKind::Queued,
            detail,
        }),
    ))
}

/// The recipients as three columns, for `unnest`.
fn recipient_columns(m: &NewMessage) -> (Vec<String>, Vec<Option<String>>, Vec<Option<String>>) {
    let mut a = (Vec::new(), Vec::new(), Vec::new());
    for (addr, notify, orcpt) in &m.recipients {
        a.0.push(addr.clone());
        a.1.push(notify.clone());
        a.2.push(orcpt.clone());
    }
    a
}

/// Stores `first` and the rest of `body` as chunks `0, 1, …` of message `id`.
async fn write_content(
    tx: &Transaction<'_>,
    pool: &Pool,
    id: i64,
    first: Vec<u8>,
    body: &mut (impl AsyncRead + Unpin),
    scanner: &mut Scanner,
) -> Result<(), OutboxError> {
    let err = |e| pool.error(e);
    let insert = tx
        .prepare("INSERT INTO chunks (message, seq, data) VALUES ($1, $2, $3)")
        .await
        .map_err(err)?;
    let mut chunk = first;
    let mut seq: i32 = 0;
    loop {
        if !chunk.is_empty() {
            tx.execute(&insert, &[&id, &seq, &chunk]).await.map_err(err)?;
            seq = seq.checked_add(1).ok_or_else(|| {
                OutboxError::Input("the content is larger than 512 TiB; it cannot be queued".into())
            })?;
        }
        if chunk.len() < CHUNK {
            return Ok(());
        }
        chunk = read_chunk(body, scanner).await?;
    }
}

/// Appends to the event log at the database's time.
pub(crate) async fn event(
    tx: &Transaction<'_>,
    pool: &Pool,
    id: i64,
    kind: EventKind,
    detail: &str,
) -> Result<Event, OutboxError> {
    let err = |e| pool.error(e);
    let row = tx
        .query_one(
            &format!("INSERT INTO events (message, at, kind, detail) VALUES ($1, {NOW_MS}, $2, $3) RETURNING seq, at"),
            &[&id, &kind.as_str(), &detail],
        )
        .await
        .map_err(err)?;
    Ok(Event {
        seq: row.try_get(0).map_err(err)?,
        id: QueueId(id),
        at_ms: row.try_get(1).map_err(err)?,
        kind,
        detail: detail.to_string(),
    })
}
