//! PostgreSQL restarted under a running `Outbox::run`: the workers see transient errors, the
//! connections are re-made with backoff, and nothing is lost: every message ends `sent`, the
//! sink holds each Message-ID, and a Message-ID stored twice belongs to a message flagged
//! `possible_duplicate`. Then the LISTEN connection is shown back: mail queued by another
//! outbox wakes an idle worker at once.
//!
//! Alone in its test binary: restarting the cluster would break the tests running beside it.
//! `SQUALL_TEST_POSTGRES_RESTART` is the command that restarts the cluster
//! (`scripts/peers/postgres.sh restart`, set by `scripts/test.sh`).

mod engines;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use engines::Db;
use squall_outbox::{MessageState, Outbox, RunOptions};
use squall_sink::{Fault, Sink};

const MESSAGES: usize = 400;

fn message_id(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    let line = text
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))?;
    Some(line[11..].trim().trim_matches(['<', '>']).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn a_postgres_restart_under_running_workers_loses_nothing() {
    let Some(db) = Db::postgres() else { return };
    let Ok(restart) = std::env::var("SQUALL_TEST_POSTGRES_RESTART") else {
        let why = "SQUALL_TEST_POSTGRES_RESTART is not set: scripts/test.sh sets it to restart its cluster";
        if std::env::var_os("SQUALL_PEERS_REQUIRED").is_some() {
            panic!("{why}");
        }
        engines::not_run(why);
        return;
    };
    let outbox = Outbox::open(&db.url()).await.unwrap();
    let mut ids = HashMap::new();
    for n in 0..MESSAGES {
        let m = engines::message(n);
        let id = outbox.enqueue(&m).await.unwrap();
        ids.insert(m.message_id().trim_matches(['<', '>']).to_string(), id);
    }
    // A slow end of data keeps the drain going while the server restarts.
    let sink = Sink::builder()
        .fault("data-end=delay:5ms".parse::<Fault>().unwrap())
        .start()
        .await
        .unwrap();
    let client = engines::client(&sink);
    let options = RunOptions {
        until_empty: true,
        workers: 2,
        window: 16,
        lease: Duration::from_secs(3),
        ..RunOptions::default()
    };
    let runner = {
        let o = outbox.clone();
        tokio::spawn(async move { o.run(client, options, std::future::pending()).await })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while sink.delivered() < 60 {
        assert!(Instant::now() < deadline, "nothing delivered before the restart");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before = sink.delivered();
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh")
            .args(["-c", &restart])
            .status()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(status.success(), "restarting the cluster: {status}");
    eprintln!("restarted after {before} deliveries");
    let report = tokio::time::timeout(Duration::from_secs(180), runner)
        .await
        .expect("the run ends within 3 minutes")
        .unwrap()
        .unwrap();
    assert!(sink.delivered() > before, "delivered after the restart too");
    let mut stored: HashMap<String, usize> = HashMap::new();
    for m in sink.messages() {
        *stored.entry(message_id(&m.data).unwrap()).or_default() += 1;
    }
    assert_eq!(stored.len(), MESSAGES, "every Message-ID stored");
    for (mid, id) in &ids {
        let s = outbox.status(*id).await.unwrap().unwrap();
        assert_eq!(s.state, MessageState::Sent, "{s:?}");
        let copies = stored.get(mid).copied().unwrap_or(0);
        assert!(copies >= 1, "{mid} not stored");
        assert!(
            copies == 1 || s.possible_duplicate,
            "{mid} stored {copies} times, not flagged"
        );
    }
    // The LISTEN connection was lost in the restart too: once it is back, mail queued by
    // another process wakes an idle worker of this outbox long before its 30 s poll.
    let woken = {
        let sink2 = Sink::start().await.unwrap();
        let client = engines::client(&sink2);
        let options = RunOptions {
            poll: Duration::from_secs(30),
            ..RunOptions::default()
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runner = {
            let o = outbox.clone();
            tokio::spawn(async move {
                o.run(client, options, async move { stopped.await.unwrap_or(()) })
                    .await
            })
        };
        // The listener's backoff is at most 5 s; give it that to be back.
        tokio::time::sleep(Duration::from_secs(6)).await;
        let other = Outbox::open(&db.url()).await.unwrap();
        let t = Instant::now();
        other
            .enqueue(
                &squall::Message::builder()
                    .from("app@example.org")
                    .to("a@example.net")
                    .text("after the restart")
                    .build()
                    .unwrap(),
            )
            .await
            .unwrap();
        sink2.wait_for_count(1, Duration::from_secs(10)).await.unwrap();
        let woken = t.elapsed();
        stop.send(()).unwrap();
        runner.await.unwrap().unwrap();
        woken
    };
    assert!(
        woken < Duration::from_secs(3),
        "woken after {woken:?}: LISTEN not re-established"
    );
    let dups = stored.values().filter(|n| **n > 1).count();
    eprintln!(
        "{} attempts; {dups} Message-IDs stored twice; {} flagged possible_duplicate",
        report.attempts,
        outbox.stats().await.unwrap().possible_duplicates
    );
}
