//! The queries against a real SQLite file.

use rusqlite::Connection;

use super::*;
use crate::error::OutboxError;
use crate::options::SendOptions;
use crate::spool::Stored;
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
        options: SendOptions {
            size: 4000,
            ..SendOptions::default()
        },
        not_before: Some(0),
        idempotency_key: None,
        route: None,
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

/// The lease and next-due queries read the due index in order: no query whose cost grows with
/// the number of queued messages runs per lease (a sort of every queued row did, once).
#[test]
fn leasing_reads_the_due_index_without_sorting_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.db");
    let mut conn = Connection::open(&path).unwrap();
    crate::schema::prepare(&mut conn, &path).unwrap();
    for (name, sql, params) in [("due", lease::DUE, 2), ("next due", lease::NEXT_DUE, 0)] {
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map(rusqlite::params_from_iter([0_i64, 10].iter().take(params)), |r| {
                r.get::<_, String>(3)
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("; ");
        assert!(plan.contains("messages_due"), "{name}: {plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{name}: {plan}");
    }
}
