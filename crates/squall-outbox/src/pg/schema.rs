//! The PostgreSQL schema, its migrations, and the checks that refuse a database that is not
//! ours.
//!
//! A database is ours when it has the one-row table `squall_outbox_meta` naming
//! [`APPLICATION`]; its `version` is the schema version. Migrations run under a transaction-
//! scoped advisory lock ([`LOCK_KEY`]), so two processes opening a new database at once do not
//! both migrate: the second waits, then reads the version the first wrote. A database with
//! tables but no meta table belongs to something else and is refused untouched.

use tokio_postgres::Client;

use crate::error::OutboxError;

/// What the meta table says the database is.
pub(crate) const APPLICATION: &str = "squall-outbox";

/// The advisory lock taken while migrating ("SqOb" again, as the SQLite application id).
const LOCK_KEY: i64 = 0x5371_4f62;

/// Migration `n` (from 0) takes the schema from version `n` to `n + 1`.
///
/// Times are Unix milliseconds from the database's clock (`now()`), so that the machines
/// sharing a queue agree on them whatever their own clocks say. Content lives in `chunks`
/// (at most [`CHUNK`](super::enqueue::CHUNK) bytes a row): a queue shared by many machines
/// cannot keep it in one machine's files, and rows of bounded size stream in and out with
/// bounded memory.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE messages (
    id bigserial PRIMARY KEY,
    idem_key text UNIQUE,
    state text NOT NULL,
    sender text NOT NULL,
    message_id text,
    size bigint NOT NULL,
    body_type bigint NOT NULL,
    smtputf8 boolean NOT NULL,
    prefer_8bitmime boolean NOT NULL,
    prefer_binarymime boolean NOT NULL,
    ret text,
    envid text,
    require_tls boolean NOT NULL,
    created bigint NOT NULL,
    not_before bigint NOT NULL,
    expires bigint NOT NULL,
    attempts bigint NOT NULL DEFAULT 0,
    lease_owner text,
    lease_until bigint,
    possible_duplicate boolean NOT NULL DEFAULT false,
    last_error text,
    finished bigint
);
CREATE INDEX messages_due ON messages (not_before, id) WHERE state = 'queued';
CREATE INDEX messages_state ON messages (state, created);
CREATE TABLE chunks (
    message bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    seq integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (message, seq)
);
CREATE TABLE recipients (
    message bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    idx bigint NOT NULL,
    address text NOT NULL,
    notify text,
    orcpt text,
    state text NOT NULL,
    reply text,
    PRIMARY KEY (message, idx)
);
CREATE TABLE events (
    seq bigserial PRIMARY KEY,
    message bigint NOT NULL,
    at bigint NOT NULL,
    kind text NOT NULL,
    detail text NOT NULL
);
CREATE INDEX events_message ON events (message);
",
    // 2: the route (an application label, e.g. the account name) the runner picks a client by;
    // NULL for messages queued before it existed or without one.
    r"
ALTER TABLE messages ADD COLUMN route text;
",
];

/// The schema version this build writes.
pub(crate) const VERSION: i64 = MIGRATIONS.len() as i64;

/// Checks that the database is an outbox (or empty) and migrates it to [`VERSION`]; a foreign
/// or newer one is refused untouched. `location` names it in errors.
pub(crate) async fn prepare(
    client: &mut Client,
    location: &str,
    err: impl Fn(tokio_postgres::Error) -> OutboxError,
) -> Result<(), OutboxError> {
    let tx = client.transaction().await.map_err(&err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(&err)?;
    let has_meta: bool = tx
        .query_one("SELECT to_regclass('squall_outbox_meta') IS NOT NULL", &[])
        .await
        .map_err(&err)?
        .try_get(0)
        .map_err(&err)?;
    let foreign = |why: String| OutboxError::Foreign {
        location: location.to_string(),
        why,
    };
    if !has_meta {
        let tables: Vec<String> = tx
            .query(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1 LIMIT 5",
                &[],
            )
            .await
            .map_err(&err)?
            .iter()
            .filter_map(|r| r.try_get(0).ok())
            .collect();
        if !tables.is_empty() {
            return Err(foreign(format!(
                "it has tables of another program ({}) and no squall_outbox_meta table",
                tables.join(", ")
            )));
        }
        tx.batch_execute(
            "CREATE TABLE squall_outbox_meta (
                one boolean PRIMARY KEY DEFAULT true CHECK (one),
                application text NOT NULL,
                version bigint NOT NULL
            )",
        )
        .await
        .map_err(&err)?;
        tx.execute(
            "INSERT INTO squall_outbox_meta (application, version) VALUES ($1, 0)",
            &[&APPLICATION],
        )
        .await
        .map_err(&err)?;
    }
    let row = tx
        .query_opt("SELECT application, version FROM squall_outbox_meta LIMIT 1", &[])
        .await
        .map_err(&err)?;
    let (app, version): (String, i64) = match row {
        Some(r) => (r.try_get(0).map_err(&err)?, r.try_get(1).map_err(&err)?),
        None => return Err(foreign("its squall_outbox_meta table is empty".into())),
    };
    if app != APPLICATION {
        return Err(foreign(format!("squall_outbox_meta names {app:?}")));
    }
    if version > VERSION {
        return Err(OutboxError::TooNew {
            location: location.to_string(),
            found: version,
            supported: VERSION,
        });
    }
    let from = usize::try_from(version).unwrap_or(0);
    for sql in MIGRATIONS.iter().skip(from) {
        tx.batch_execute(sql).await.map_err(&err)?;
    }
    if version < VERSION {
        tx.execute("UPDATE squall_outbox_meta SET version = $1", &[&VERSION])
            .await
            .map_err(&err)?;
    }
    tx.commit().await.map_err(&err)
}
