//! The SQLite schema, its migrations, and the checks that refuse a file that is not ours.
//!
//! A file is ours when its `application_id` is [`APPLICATION_ID`]; its `user_version` is the
//! schema version, raised by one migration at a time, each in the transaction that applies it.

use std::path::Path;

use rusqlite::Connection;

use crate::error::OutboxError;

/// "SqOb": marks a SQLite file as a squall outbox (`PRAGMA application_id`).
pub(crate) const APPLICATION_ID: i64 = 0x5371_4f62;

/// Migration `n` (from 0) takes the schema from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idem_key TEXT UNIQUE,
    state TEXT NOT NULL,
    sender TEXT NOT NULL,
    message_id TEXT,
    -- Large content: the name of a file in the spool directory (else the row in bodies).
    body_path TEXT,
    size INTEGER NOT NULL,
    body_type INTEGER NOT NULL,
    smtputf8 INTEGER NOT NULL,
    prefer_8bitmime INTEGER NOT NULL,
    prefer_binarymime INTEGER NOT NULL,
    ret TEXT,
    envid TEXT,
    require_tls INTEGER NOT NULL,
    created INTEGER NOT NULL,
    not_before INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until INTEGER,
    possible_duplicate INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    finished INTEGER
);
-- Small content, apart from the messages it belongs to, so that the frequent updates of a
-- message's state rewrite a short row, not its content.
CREATE TABLE bodies (
    message INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    body BLOB NOT NULL
);
CREATE INDEX messages_due ON messages (not_before) WHERE state = 'queued';
CREATE INDEX messages_state ON messages (state, created);
CREATE TABLE recipients (
    message INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    address TEXT NOT NULL,
    notify TEXT,
    orcpt TEXT,
    state TEXT NOT NULL,
    reply TEXT,
    PRIMARY KEY (message, idx)
) WITHOUT ROWID;
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message INTEGER NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX events_message ON events (message);
",
    // 2: the route (an application label, e.g. the account name) the runner picks a client by;
    // NULL for messages queued before it existed or without one.
    r"
ALTER TABLE messages ADD COLUMN route TEXT;
",
];

/// The schema version this build writes.
pub(crate) const VERSION: i64 = MIGRATIONS.len() as i64;

/// Checks that the file at `path` is an outbox (or new), sets the connection up (WAL, full
/// sync), and migrates it to [`VERSION`]. A foreign or newer file is refused untouched.
pub(crate) fn prepare(conn: &mut Connection, path: &Path) -> Result<(), OutboxError> {
    let foreign = |why: String| OutboxError::Foreign {
        location: path.display().to_string(),
        why,
    };
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // The first read of the header: a file that is not SQLite fails here.
    let app: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
                foreign(format!("not a SQLite database: {e}"))
            }
            _ => OutboxError::db(e),
        })?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    if app != APPLICATION_ID && (app != 0 || tables > 0) {
        return Err(foreign(format!(
            "a SQLite database of another program: application_id {app:#x}, {tables} schema objects"
        )));
    }
    if version > VERSION {
        return Err(OutboxError::TooNew {
            location: path.display().to_string(),
            found: version,
            supported: VERSION,
        });
    }
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    migrate(conn)
}

/// Applies the missing migrations, each with its version bump in one transaction (another
/// process may be migrating the same file: the version is read again under the lock).
fn migrate(conn: &mut Connection) -> Result<(), OutboxError> {
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let Some(sql) = usize::try_from(version).ok().and_then(|v| MIGRATIONS.get(v)) else {
            return Ok(());
        };
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {};",
            version + 1
        ))?;
        tx.commit()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &Path) -> Result<Connection, OutboxError> {
        let mut c = Connection::open(path).unwrap();
        prepare(&mut c, path).map(|()| c)
    }

    #[test]
    fn a_new_file_gets_the_current_version_and_opens_again() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("q.db");
        let c = open(&p).unwrap();
        let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, VERSION);
        drop(c);
        open(&p).unwrap();
    }

    #[test]
    fn a_newer_schema_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("q.db");
        let c = open(&p).unwrap();
        c.execute_batch("PRAGMA user_version = 99").unwrap();
        drop(c);
        let e = open(&p).unwrap_err();
        assert!(matches!(e, OutboxError::TooNew { found: 99, .. }), "{e}");
        assert!(e.to_string().contains("upgrade squall"), "{e}");
    }

    #[test]
    fn foreign_and_garbage_files_are_named_not_touched() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let e = open(&other).unwrap_err();
        assert!(matches!(e, OutboxError::Foreign { .. }), "{e}");
        assert!(e.to_string().contains("other.db"), "{e}");

        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
        let e = open(&junk).unwrap_err();
        assert!(matches!(e, OutboxError::Foreign { .. }), "{e}");
        assert_eq!(std::fs::read(&junk).unwrap(), vec![b'x'; 4096]);
    }

    /// A version-1 file (written before routes existed) migrates in place: its messages stay,
    /// with no route.
    #[test]
    fn a_version_1_file_migrates_in_place_and_keeps_its_messages() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("q.db");
        let c = Connection::open(&p).unwrap();
        c.execute_batch(MIGRATIONS[0]).unwrap();
        c.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 1;"
        ))
        .unwrap();
        c.execute(
            "INSERT INTO messages (state, sender, size, body_type, smtputf8, prefer_8bitmime,
                prefer_binarymime, require_tls, created, not_before, expires)
             VALUES ('queued', 'a@example.org', 3, 0, 0, 0, 0, 0, 1, 1, 2)",
            [],
        )
        .unwrap();
        drop(c);
        let c = open(&p).unwrap();
        let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, VERSION);
        let (sender, route): (String, Option<String>) = c
            .query_row("SELECT sender, route FROM messages", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((sender.as_str(), route), ("a@example.org", None));
    }
}
