//! The outbox against the in-process sink: queue, run, and check what the sink stored and what
//! the outbox reports. Each test runs on SQLite and (ignored without the cluster) on PostgreSQL.

use std::time::Duration;

use squall_outbox::{EnqueueOptions, EventKind, MessageState, Outbox, RecipientState, RunOptions, Schedule};
use squall_sink::{Fault, Sink, SinkHandle};

mod engines;

use engines::{Db, client, message_to as message};

fn until_empty() -> RunOptions {
    RunOptions {
        until_empty: true,
        ..RunOptions::default()
    }
}

/// A schedule for tests: retries after 50 ms.
fn quick() -> Schedule {
    Schedule {
        min_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(50),
        lifetime: Duration::from_secs(60),
    }
}

async fn sink_with(faults: &[&str]) -> SinkHandle {
    let mut b = Sink::builder();
    for f in faults {
        b = b.fault(f.parse::<Fault>().unwrap());
    }
    b.start().await.unwrap()
}

async fn queued_messages_are_delivered_once_and_reported(db: Db) {
    let outbox = Outbox::open(&db.url()).await.unwrap();
    let sink = Sink::start().await.unwrap();
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(
            outbox
                .enqueue(&message(n, &["a@example.net", "b@example.net"]))
                .await
                .unwrap(),
        );
    }
    let report = outbox
        .run(client(&sink), until_empty(), std::future::pending())
        .await
        .unwrap();
    assert_eq!(report.attempts, 20);
    assert_eq!(sink.delivered(), 20);
    for id in &ids {
        let s = outbox.status(*id).await.unwrap().unwrap();
        assert_eq!(s.state, MessageState::Sent);
        assert!(
            s.recipients
                .iter()
                .all(|r| r.state == RecipientState::Accepted && r.reply.is_some())
        );
        assert!(!s.possible_duplicate);
    }
    let stats = outbox.stats().await.unwrap();
    assert_eq!((stats.sent, stats.queued, stats.oldest_waiting_ms), (20, 0, None));
    let events = outbox.events_since(0, 1000).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == EventKind::Sent).count(), 20);
    assert_eq!(events.iter().filter(|e| e.kind == EventKind::Queued).count(), 20);
    // The log reads on from a position.
    let last = events.last().unwrap().seq;
    assert!(outbox.events_since(last, 10).await.unwrap().is_empty());
}

async fn a_message_survives_closing_and_reopening_the_outbox(db: Db) {
    let id = {
        let outbox = Outbox::open(&db.url()).await.unwrap();
        outbox.enqueue(&message(1, &["a@example.net"])).await.unwrap()
    };
    let outbox = Outbox::open(&db.url()).await.unwrap();
    assert_eq!(
        outbox.status(id).await.unwrap().unwrap().state,
        MessageState::Queued
    );
    let sink = Sink::start().await.unwrap();
    outbox
        .run(client(&sink), until_empty(), std::future::pending())
        .await
        .unwrap();
    assert_eq!(sink.delivered(), 1);
    let m = &sink.messages()[0];
    assert!(String::from_utf8_lossy(&m.data).contains("body 1"));
}

async fn an_idempotency_key_queues_once(db: Db) {
    let outbox = Outbox::open(&db.url()).await.unwrap();
    let o = EnqueueOptions {
        idempotency_key: Some("order-42".into()),
        ..EnqueueOptions::default()
    };
    let a = outbox
        .enqueue_with(&message(1, &["a@example.net"]), &o)
        .await
        .unwrap();
    let b = outbox
        .enqueue_with(&message(2, &["a@example.net"]), &o)
        .await
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(outbox.stats().await.unwrap().queued, 1);
}

async fn concurrent_producers_share_commits_and_lose_nothing(db: Db) {
    let outbox = Outbox::open(&db.url()).await.unwrap();
    let mut tasks = Vec::new();
    for p in 0..8 {
        let o = outbox.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..50 {
                ids.push(
                    o.enqueue(&message(p * 100 + n, &["a@example.net"]))
                        .await
                        .unwrap(),
                );
            }
            ids
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 400);
    assert_eq!(outbox.stats().await.unwrap().queued, 400);
}

async fn a_partial_delivery_retries_only_the_deferred_recipient(db: Db) {
    let outbox = Outbox::builder(db.url()).schedule(quick()).open().await.unwrap();
    // The first RCPT for b is deferred (#1 counts that address), c is refused for good.
    let sink = sink_with(&[
        "rcpt#1:b@example.net=451 4.2.0 try later",
        "rcpt:c@example.net=550 5.1.1 no such user",
    ])
    .await;
    let id = outbox
        .enqueue(&message(1, &["a@example.net", "b@example.net", "c@example.net"]))
        .await
        .unwrap();
    let first = outbox
        .run(client(&sink), until_empty(), std::future::pending())
        .await
        .unwrap();
    assert_eq!(first.attempts, 1);
    let s = outbox.status(id).await.unwrap().unwrap();
    assert_eq!(s.state, MessageState::Queued, "{s:?}");
    let states: Vec<_> = s.recipients.iter().map(|r| r.state).collect();
    assert_eq!(
        states,
        [
            RecipientState::Accepted,
            RecipientState::Deferred,
            RecipientState::Refused
        ]
    );
    assert!(s.recipients[1].reply.as_deref().unwrap().contains("451"), "{s:?}");
    tokio::time::sleep(Duration::from_millis(80)).await;
    outbox
        .run(client(&sink), until_empty(), std::future::pending())
        .await
        .unwrap();
    let s = outbox.status(id).await.unwrap().unwrap();
    assert_eq!(s.state, MessageState::Failed, "one recipient refused for good");
    assert_eq!(s.recipients[1].state, RecipientState::Accepted);
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].rcpt_to, ["a@example.net"]);
    assert_eq!(msgs[1].rcpt_to, ["b@example.net"], "the retry carries only b");
}

async fn a_message_deferred_past_its_lifetime_expires_with_a_report(db: Db) {
    let schedule = Schedule {
        lifetime: Duration::from_millis(100),
        ..quick()
    };
    let outbox = Outbox::builder(db.url()).schedule(schedule).open().await.unwrap();
    let sink = sink_with(&["mail=421 4.3.2 shutting down"]).await;
    let id = outbox.enqueue(&message(1, &["a@example.net"])).await.unwrap();
    for _ in 0..20 {
        outbox
            .run(client(&sink), until_empty(), std::future::pending())
            .await
            .unwrap();
        if outbox.status(id).await.unwrap().unwrap().state != MessageState::Queued {
            break;
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let s = outbox.status(id).await.unwrap().unwrap();
    assert_eq!(s.state, MessageState::Expired);
    assert_eq!(s.recipients[0].state, RecipientState::Expired);
    let events = outbox.events_since(0, 100).await.unwrap();
    let e = events.iter().find(|e| e.kind == EventKind::Expired).unwrap();
    assert!(
        e.detail.contains("given up") && e.detail.contains("421"),
        "{}",
        e.detail
    );
    // A person can give it another lifetime.
    outbox.retry(id).await.unwrap();
    assert_eq!(
        outbox.status(id).await.unwrap().unwrap().state,
        MessageState::Queued
    );
}

/// Large content: a spool file on SQLite, several chunk rows on PostgreSQL (over 256 KiB).
async fn large_content_streams_through_a_spool_file_intact(db: Db) {
    let outbox = Outbox::builder(db.url()).inline_limit(1024).open().await.unwrap();
    let mut body = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: big\r\n\r\n".to_vec();
    for i in 0..60_000 {
        body.extend_from_slice(format!("line {i} .\r\n").as_bytes());
    }
    body.extend_from_slice(b".leading dot\r\n");
    let env = squall::Envelope::new(
        squall::ReversePath::parse("a@example.org").unwrap(),
        [squall::Mailbox::parse("b@example.net").unwrap()],
    )
    .unwrap();
    outbox.enqueue_raw(env, &body[..]).await.unwrap();
    assert!(body.len() > 3 * 256 * 1024);
    let spool = db.spool();
    if let Some(spool) = &spool {
        assert_eq!(std::fs::read_dir(spool).unwrap().count(), 1);
    }
    let sink = Sink::start().await.unwrap();
    outbox
        .run(client(&sink), until_empty(), std::future::pending())
        .await
        .unwrap();
    assert_eq!(sink.messages()[0].data, body);
    assert_eq!(outbox.purge(Duration::ZERO).await.unwrap(), 1);
    if let Some(spool) = &spool {
        assert_eq!(
            std::fs::read_dir(spool).unwrap().count(),
            0,
            "purge removes the file"
        );
    }
    assert!(outbox.list(None, 10).await.unwrap().is_empty());
}

async fn not_before_holds_a_message_back(db: Db) {
    let outbox = Outbox::open(&db.url()).await.unwrap();
    let o = EnqueueOptions {
        not_before: Some(std::time::SystemTime::now() + Duration::from_secs(3600)),
        ..EnqueueOptions::default()
    };
    let id = outbox
        .enqueue_with(&message(1, &["a@example.net"]), &o)
        .await
        .unwrap();
    let sink = Sink::start().await.unwrap();
    let r = outbox
        .run(client(&sink), until_empty(), std::future::pending())
        .await
        .unwrap();
    assert_eq!((r.attempts, sink.delivered()), (0, 0));
    outbox.cancel(id).await.unwrap();
    let s = outbox.status(id).await.unwrap().unwrap();
    assert_eq!(
        (s.state, s.recipients[0].state),
        (MessageState::Cancelled, RecipientState::Cancelled)
    );
    assert!(
        outbox
            .cancel(id)
            .await
            .unwrap_err()
            .to_string()
            .contains("finished")
    );
}

async fn a_running_worker_wakes_on_enqueue_without_polling_delay(db: Db) {
    let outbox = Outbox::open(&db.url()).await.unwrap();
    let sink = Sink::start().await.unwrap();
    let options = RunOptions {
        poll: Duration::from_secs(30),
        ..RunOptions::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = {
        let o = outbox.clone();
        let c = client(&sink);
        tokio::spawn(async move {
            o.run(c, options, async move { stopped.await.unwrap_or(()) })
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = std::time::Instant::now();
    outbox.enqueue(&message(1, &["a@example.net"])).await.unwrap();
    sink.wait_for_count(1, Duration::from_secs(5)).await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    stop.send(()).unwrap();
    runner.await.unwrap().unwrap();
}

/// With `until_empty`, workers that run out of work while another still sends must not sleep
/// until their next poll: the run ends as soon as the last message is recorded.
async fn until_empty_ends_with_the_last_outcome_not_at_the_next_poll(db: Db) {
    let outbox = Outbox::open(&db.url()).await.unwrap();
    let sink = sink_with(&["data-end=delay:20ms"]).await;
    for n in 0..24 {
        outbox.enqueue(&message(n, &["a@example.net"])).await.unwrap();
    }
    let options = RunOptions {
        workers: 3,
        window: 2,
        poll: Duration::from_secs(30),
        ..until_empty()
    };
    let c = squall::Client::builder_from_url(&sink.url())
        .unwrap()
        .max_connections(3)
        .no_retry()
        .build()
        .unwrap();
    let t = std::time::Instant::now();
    let report = outbox.run(c, options, std::future::pending()).await.unwrap();
    assert_eq!(report.attempts, 24);
    assert_eq!(sink.delivered(), 24);
    // Without the wake-up, the workers that finished first sleep the 30 s poll.
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
}

/// A worker that dies mid-send (its runtime dropped) leaves a lease; once it runs out another
/// worker takes the message over and flags it as a possible duplicate.
#[test]
fn a_dead_workers_lease_runs_out_and_another_takes_over_sqlite() {
    dead_worker(Db::sqlite);
}

#[test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
fn a_dead_workers_lease_runs_out_and_another_takes_over_postgres() {
    if engines::pg_admin_url().is_some() {
        dead_worker(|| Db::postgres().unwrap());
    }
}

fn dead_worker(new_db: impl Fn() -> Db) {
    for hold in [false, true] {
        let db = new_db();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (outbox, stalling, id) = rt.block_on(async {
            let outbox = Outbox::builder(db.url())
                .hold_possible_duplicates(hold)
                .open()
                .await
                .unwrap();
            // A server that never answers the end of the content.
            let stalling = sink_with(&["data-end=stall"]).await;
            let id = outbox.enqueue(&message(1, &["a@example.net"])).await.unwrap();
            (outbox, stalling, id)
        });
        let dying = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        {
            let o = outbox.clone();
            let c = client(&stalling);
            let options = RunOptions {
                lease: Duration::from_millis(600),
                ..RunOptions::default()
            };
            dying.spawn(async move { o.run(c, options, std::future::pending()).await });
        }
        rt.block_on(async {
            for _ in 0..100 {
                if outbox.stats().await.unwrap().leased == 1 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(outbox.stats().await.unwrap().leased, 1);
        });
        dying.shutdown_background();
        rt.block_on(async {
            let other = Outbox::builder(db.url())
                .hold_possible_duplicates(hold)
                .open()
                .await
                .unwrap();
            let sink = Sink::start().await.unwrap();
            let t = std::time::Instant::now();
            other
                .run(client(&sink), until_empty(), std::future::pending())
                .await
                .unwrap();
            assert!(
                t.elapsed() >= Duration::from_millis(300),
                "waited for the lease: {:?}",
                t.elapsed()
            );
            let s = other.status(id).await.unwrap().unwrap();
            assert!(s.possible_duplicate);
            if hold {
                assert_eq!((s.state, sink.delivered()), (MessageState::Held, 0));
                other.retry(id).await.unwrap();
                other
                    .run(client(&sink), until_empty(), std::future::pending())
                    .await
                    .unwrap();
            }
            let s = other.status(id).await.unwrap().unwrap();
            assert_eq!((s.state, sink.delivered()), (MessageState::Sent, 1));
            let events = other.events_since(0, 100).await.unwrap();
            assert!(events.iter().any(|e| e.kind == EventKind::LeaseExpired));
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_and_newer_files_are_refused_with_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.txt");
    std::fs::write(
        &p,
        "not a database at all, just some text that is long enough to have a header".repeat(100),
    )
    .unwrap();
    let e = Outbox::open(&format!("sqlite:{}", p.display()))
        .await
        .err()
        .unwrap();
    assert!(
        e.to_string().contains("notes.txt") && e.to_string().contains("not a squall outbox"),
        "{e}"
    );
    let e = Outbox::open("mysql://localhost/x").await.err().unwrap();
    assert!(e.to_string().contains("unsupported"), "{e}");
}

/// Cancelling a message whose attempt is under way cannot take it back from the server: what
/// the server accepted is recorded as accepted, and nothing more is tried.
async fn a_message_cancelled_in_flight_records_what_the_server_accepted(db: Db) {
    let outbox = Outbox::open(&db.url()).await.unwrap();
    let sink = sink_with(&["data-end=delay:400ms"]).await;
    let id = outbox.enqueue(&message(1, &["a@example.net"])).await.unwrap();
    let runner = {
        let (o, c) = (outbox.clone(), client(&sink));
        tokio::spawn(async move { o.run(c, until_empty(), std::future::pending()).await })
    };
    for _ in 0..100 {
        if outbox.stats().await.unwrap().leased == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    outbox.cancel(id).await.unwrap();
    runner.await.unwrap().unwrap();
    let s = outbox.status(id).await.unwrap().unwrap();
    assert_eq!(
        (s.state, s.recipients[0].state),
        (MessageState::Cancelled, RecipientState::Accepted)
    );
    assert_eq!(sink.delivered(), 1);
}

/// Queues `n` messages to `to` with `route`.
async fn queue_routed(
    outbox: &Outbox,
    n: usize,
    to: &str,
    route: Option<&str>,
) -> Vec<squall_outbox::QueueId> {
    let options = EnqueueOptions {
        route: route.map(str::to_string),
        ..EnqueueOptions::default()
    };
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(outbox.enqueue_with(&message(i, &[to]), &options).await.unwrap());
    }
    ids
}

async fn each_route_goes_through_its_own_client(db: Db) {
    let outbox = Outbox::open(&db.url()).await.unwrap();
    let (sink_a, sink_b) = (Sink::start().await.unwrap(), Sink::start().await.unwrap());
    let a = queue_routed(&outbox, 3, "a@example.net", Some("a")).await;
    let b = queue_routed(&outbox, 2, "b@example.net", Some("b")).await;
    assert_eq!(
        outbox.status(a[0]).await.unwrap().unwrap().route.as_deref(),
        Some("a")
    );
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (url_a, url_b, log) = (sink_a.url(), sink_b.url(), asked.clone());
    let router = move |route: Option<&str>| {
        log.lock().unwrap().push(route.map(str::to_string));
        let url = match route {
            Some("a") => &url_a,
            Some("b") => &url_b,
            other => return Err(format!("no route {other:?}")),
        };
        Ok(squall::Client::builder_from_url(url)
            .unwrap()
            .no_retry()
            .build()
            .unwrap())
    };
    let report = outbox
        .run_routed(router, until_empty(), std::future::pending())
        .await
        .unwrap();
    assert_eq!(report.attempts, 5);
    let rcpts = |sink: &SinkHandle| {
        sink.messages()
            .iter()
            .map(|m| m.rcpt_to.join(","))
            .collect::<Vec<_>>()
    };
    assert_eq!(rcpts(&sink_a), ["a@example.net"; 3]);
    assert_eq!(rcpts(&sink_b), ["b@example.net"; 2]);
    for id in a.iter().chain(&b) {
        assert_eq!(
            outbox.status(*id).await.unwrap().unwrap().state,
            MessageState::Sent
        );
    }
    let mut asked = asked.lock().unwrap().clone();
    asked.sort();
    assert_eq!(
        asked,
        [Some("a".to_string()), Some("b".to_string())],
        "once per route"
    );
}

async fn a_route_the_router_refuses_is_deferred_with_its_reason(db: Db) {
    let outbox = Outbox::open(&db.url()).await.unwrap();
    let sink = Sink::start().await.unwrap();
    let known = queue_routed(&outbox, 1, "a@example.net", None).await[0];
    let unknown = queue_routed(&outbox, 1, "b@example.net", Some("gone")).await[0];
    let url = sink.url();
    let router = move |route: Option<&str>| match route {
        None => Ok(squall::Client::builder_from_url(&url)
            .unwrap()
            .no_retry()
            .build()
            .unwrap()),
        Some(r) => Err(format!("account {r} is not in the accounts file")),
    };
    // The unknown one is deferred by the default schedule (minutes): until_empty returns.
    outbox
        .run_routed(router, until_empty(), std::future::pending())
        .await
        .unwrap();
    assert_eq!(sink.delivered(), 1);
    assert_eq!(
        outbox.status(known).await.unwrap().unwrap().state,
        MessageState::Sent
    );
    let s = outbox.status(unknown).await.unwrap().unwrap();
    assert_eq!(s.state, MessageState::Queued);
    assert_eq!(s.attempts, 1);
    assert_eq!(s.route.as_deref(), Some("gone"));
    let why = "account gone is not in the accounts file";
    assert_eq!(s.last_error.as_deref(), Some(why));
    assert_eq!(s.recipients[0].state, RecipientState::Deferred);
    assert_eq!(s.recipients[0].reply.as_deref(), Some(why));
    assert!(s.not_before_ms > s.created_ms, "deferred by the schedule");
}

on_both_engines!(
    queued_messages_are_delivered_once_and_reported,
    a_message_survives_closing_and_reopening_the_outbox,
    an_idempotency_key_queues_once,
    concurrent_producers_share_commits_and_lose_nothing,
    a_partial_delivery_retries_only_the_deferred_recipient,
    a_message_deferred_past_its_lifetime_expires_with_a_report,
    large_content_streams_through_a_spool_file_intact,
    not_before_holds_a_message_back,
    a_running_worker_wakes_on_enqueue_without_polling_delay,
    until_empty_ends_with_the_last_outcome_not_at_the_next_poll,
    a_message_cancelled_in_flight_records_what_the_server_accepted,
    each_route_goes_through_its_own_client,
    a_route_the_router_refuses_is_deferred_with_its_reason,
);
