//! What only the PostgreSQL backend has to show: its schema checks, several processes (here,
//! several `Outbox`es with their own connections) sharing one queue, the wake-up through
//! LISTEN/NOTIFY, and errors that name the server but never the password.

mod engines;

use std::time::{Duration, Instant};

use engines::{Db, admin_sql, client, message};
use squall_outbox::{EnqueueOptions, MessageState, Outbox, OutboxError, RunOptions};
use squall_sink::Sink;

/// One number from `sql` on `url`.
async fn number(url: &str, sql: &str) -> i64 {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn an_unreachable_server_is_transient_named_and_the_password_never_shows() {
    // Nothing listens on port 1 of loopback: the connection is refused at once.
    let e = Outbox::open("postgres://app:s3cret@127.0.0.1:1/queue")
        .await
        .err()
        .unwrap();
    let text = e.to_string();
    assert!(matches!(e, OutboxError::Unreachable { .. }), "{text}");
    assert!(e.is_transient(), "{text}");
    assert!(text.contains("127.0.0.1:1/queue"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    assert!(!format!("{e:?}").contains("s3cret"), "{e:?}");
}

/// A URL the outbox cannot honour (here verify-ca without the CA it would need) is refused
/// before any connection is tried. TLS itself is tested in `pg_tls.rs`.
#[tokio::test]
async fn a_url_with_a_weak_tls_setting_is_refused_before_connecting() {
    let t = Instant::now();
    let e = Outbox::open("postgres://app:s3cret@127.0.0.1:1/queue?sslmode=verify-ca")
        .await
        .err()
        .unwrap();
    assert!(matches!(e, OutboxError::InvalidUrl { .. }), "{e}");
    assert!(!e.is_transient() && !e.to_string().contains("s3cret"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn a_database_of_another_program_is_refused_untouched() {
    let Some(db) = Db::postgres() else { return };
    admin_sql(
        &db.url(),
        "CREATE TABLE customers (id int); INSERT INTO customers VALUES (7)",
    );
    let e = Outbox::open(&db.url()).await.err().unwrap();
    assert!(matches!(e, OutboxError::Foreign { .. }), "{e}");
    assert!(e.to_string().contains("customers"), "{e}");
    let tables = number(
        &db.url(),
        "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()",
    )
    .await;
    assert_eq!(tables, 1, "nothing was created");
    assert_eq!(number(&db.url(), "SELECT count(*) FROM customers").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn a_database_of_a_newer_squall_is_refused() {
    let Some(db) = Db::postgres() else { return };
    let id = {
        let o = Outbox::open(&db.url()).await.unwrap();
        o.enqueue(&message(1)).await.unwrap()
    };
    admin_sql(&db.url(), "UPDATE squall_outbox_meta SET version = 99");
    let e = Outbox::open(&db.url()).await.err().unwrap();
    assert!(matches!(e, OutboxError::TooNew { found: 99, .. }), "{e}");
    assert!(
        e.to_string().contains("upgrade squall") && !e.is_transient(),
        "{e}"
    );
    // Back to the version this build writes (2: routes).
    admin_sql(&db.url(), "UPDATE squall_outbox_meta SET version = 2");
    let o = Outbox::open(&db.url()).await.unwrap();
    assert_eq!(o.status(id).await.unwrap().unwrap().state, MessageState::Queued);
}

/// Without the advisory lock, concurrent first opens race to create the same tables and all
/// but one fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn concurrent_first_opens_migrate_once() {
    let Some(db) = Db::postgres() else { return };
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let url = db.url();
            tokio::spawn(async move { Outbox::open(&url).await.map(|_| ()) })
        })
        .collect();
    for o in opens {
        o.await.unwrap().unwrap();
    }
    assert_eq!(
        number(&db.url(), "SELECT version FROM squall_outbox_meta").await,
        2,
        "the version this build writes"
    );
    assert_eq!(
        number(&db.url(), "SELECT count(*) FROM squall_outbox_meta").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn one_idempotency_key_queued_concurrently_by_many_processes_gets_one_id() {
    let Some(db) = Db::postgres() else { return };
    let mut outboxes = Vec::new();
    for _ in 0..4 {
        outboxes.push(Outbox::open(&db.url()).await.unwrap());
    }
    let o = EnqueueOptions {
        idempotency_key: Some("order-42".into()),
        ..EnqueueOptions::default()
    };
    let tasks: Vec<_> = (0..16)
        .map(|n| {
            let (outbox, o) = (outboxes[n % 4].clone(), o.clone());
            tokio::spawn(async move { outbox.enqueue_with(&message(n), &o).await.unwrap() })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    assert_eq!(outboxes[0].stats().await.unwrap().queued, 1);
}

/// Mail queued through another outbox (another process, another machine) wakes this one's idle
/// workers through NOTIFY, long before their 30 s poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn mail_queued_by_another_process_wakes_idle_workers_at_once() {
    let Some(db) = Db::postgres() else { return };
    let worker_side = Outbox::open(&db.url()).await.unwrap();
    let producer_side = Outbox::open(&db.url()).await.unwrap();
    let sink = Sink::start().await.unwrap();
    let options = RunOptions {
        poll: Duration::from_secs(30),
        ..RunOptions::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = {
        let c = client(&sink);
        tokio::spawn(async move {
            worker_side
                .run(c, options, async move { stopped.await.unwrap_or(()) })
                .await
        })
    };
    // Let the worker go idle (and the LISTEN connection start).
    tokio::time::sleep(Duration::from_millis(500)).await;
    for n in 0..3 {
        let t = Instant::now();
        producer_side.enqueue(&message(n)).await.unwrap();
        sink.wait_for_count(n as u64 + 1, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.send(()).unwrap();
    runner.await.unwrap().unwrap();
}

/// Workers of several outboxes draining one queue take disjoint messages (SKIP LOCKED): each
/// message is sent once and every outbox sends some.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn workers_of_several_outboxes_share_the_queue_without_duplicates() {
    let Some(db) = Db::postgres() else { return };
    let producer = Outbox::open(&db.url()).await.unwrap();
    for n in 0..300 {
        producer.enqueue(&message(n)).await.unwrap();
    }
    let sink = Sink::builder()
        .fault("data-end=delay:2ms".parse().unwrap())
        .start()
        .await
        .unwrap();
    let mut runs = Vec::new();
    for _ in 0..3 {
        let o = Outbox::open(&db.url()).await.unwrap();
        let c = client(&sink);
        let options = RunOptions {
            until_empty: true,
            window: 8,
            ..RunOptions::default()
        };
        runs.push(tokio::spawn(async move {
            o.run(c, options, std::future::pending()).await.unwrap()
        }));
    }
    let mut attempts = Vec::new();
    for r in runs {
        attempts.push(
            tokio::time::timeout(Duration::from_secs(120), r)
                .await
                .unwrap()
                .unwrap()
                .attempts,
        );
    }
    assert_eq!(attempts.iter().sum::<u64>(), 300, "{attempts:?}");
    assert!(attempts.iter().all(|a| *a > 0), "{attempts:?}");
    assert_eq!(sink.delivered(), 300);
    assert_eq!(producer.stats().await.unwrap().sent, 300);
}

/// A version-1 database (before routes) migrates in place when a newer squall opens it: its
/// messages stay, with no route, and are sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn a_version_1_database_migrates_in_place_and_keeps_its_messages() {
    let Some(db) = Db::postgres() else { return };
    let outbox = Outbox::open(&db.url()).await.unwrap();
    let id = outbox.enqueue(&message(1)).await.unwrap();
    drop(outbox);
    // Back to version 1: the schema as it was before migration 2 added the route column.
    admin_sql(
        &db.url(),
        "ALTER TABLE messages DROP COLUMN route; UPDATE squall_outbox_meta SET version = 1",
    );
    assert_eq!(
        number(&db.url(), "SELECT version FROM squall_outbox_meta").await,
        1
    );
    let outbox = Outbox::open(&db.url()).await.unwrap();
    assert_eq!(
        number(&db.url(), "SELECT version FROM squall_outbox_meta").await,
        2
    );
    let s = outbox.status(id).await.unwrap().unwrap();
    assert_eq!((s.state, s.route), (MessageState::Queued, None));
    let sink = Sink::start().await.unwrap();
    let until_empty = RunOptions {
        until_empty: true,
        ..RunOptions::default()
    };
    outbox
        .run(client(&sink), until_empty, std::future::pending())
        .await
        .unwrap();
    assert_eq!(sink.delivered(), 1);
}
