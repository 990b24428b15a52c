//! A sink that runs for days: issue 11, item 9. A connection cap, absolute time limits, a
//! memory budget with spooling to disk, and bounded replies to clients that do not read.
//! (The accept back-off under fd exhaustion needs a lowered RLIMIT_NOFILE, so it is tested on
//! the `squall sink` process, in squall-cli's tests, and measured by `sink_load`.)

mod common;

use std::time::{Duration, Instant};

use common::{Smtp, send_data};
use squall_sink::Sink;

#[tokio::test]
async fn connection_cap_answers_421_beyond_it() {
    let s = Sink::builder().max_connections(2).start().await.unwrap();
    let a = Smtp::ehlo(s.addr()).await;
    let _b = Smtp::ehlo(s.addr()).await;
    let mut c = Smtp::raw(s.addr()).await;
    let r = c.reply().await;
    assert!(
        r.starts_with("421 4.7.0 ") && r.contains("too many connections"),
        "{r}"
    );
    assert!(c.closed_within(Duration::from_secs(5)).await);
    assert_eq!(s.active_connections(), 2);
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.active_connections() > 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A place came free: served again.
    let mut d = Smtp::ehlo(s.addr()).await;
    let r = send_data(&mut d, "a@example.org", "b@example.org", b"hi\r\n").await;
    assert!(r.starts_with("250 "), "{r}");
}

/// How long a test drips input at the sink: past any time limit it sets, so that a limit the
/// drip kept resetting would answer only after it, well beyond the bound [`SLACK`] allows.
const DRIP: Duration = Duration::from_secs(8);
/// How late after its limit a sink in this process may cut a client off: the time a loaded
/// machine takes to run the sink's task and then the test's.
const SLACK: Duration = Duration::from_secs(4);

#[tokio::test]
async fn slowloris_is_cut_off_at_the_command_time_limit() {
    // Room for a slow machine between two commands: the limit is also on the wait for EHLO.
    let limit = Duration::from_secs(2);
    let s = Sink::builder().command_timeout(limit).start().await.unwrap();
    let mut c = Smtp::ehlo(s.addr()).await;
    // One byte every 100 ms of a command that never ends: each byte would reset an idle timer.
    let (r, took) = c.drip_until_reply(b"N", Duration::from_millis(100), DRIP).await;
    assert!(
        r.starts_with("421 4.4.2 ") && r.contains("command time limit"),
        "{r}"
    );
    assert!(took < limit + SLACK, "cut off after {took:?}");
    assert!(c.closed_within(Duration::from_secs(10)).await);
    // Commands that do complete keep the connection alive, past the limit in all: it is per
    // command.
    let mut d = Smtp::ehlo(s.addr()).await;
    let started = Instant::now();
    while started.elapsed() < limit + limit / 2 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        d.ok("NOOP", "250").await;
    }
}

#[tokio::test]
async fn transaction_time_limit_is_absolute() {
    // Room for a slow machine to get from MAIL to DATA within it.
    let limit = Duration::from_secs(2);
    let s = Sink::builder()
        .transaction_timeout(limit)
        .command_timeout(Duration::from_secs(30))
        .start()
        .await
        .unwrap();
    let mut c = Smtp::ehlo(s.addr()).await;
    let started = Instant::now();
    c.ok("MAIL FROM:<a@example.org>", "250").await;
    c.ok("RCPT TO:<b@example.org>", "250").await;
    c.ok("DATA", "354").await;
    let before = started.elapsed();
    // A line every 100 ms: the client is never idle, the transaction still ends.
    let (r, took) = c
        .drip_until_reply(b"line\r\n", Duration::from_millis(100), DRIP)
        .await;
    assert!(
        r.starts_with("421 4.4.2 ") && r.contains("transaction time limit"),
        "{r}"
    );
    let took = before + took;
    assert!(took < limit + SLACK, "cut off after {took:?}");
    assert_eq!(s.delivered(), 0);
}

#[tokio::test]
async fn big_bodies_are_spooled_not_held_in_memory() {
    let spool = tempfile::tempdir().unwrap();
    let s = Sink::builder()
        .spool_dir(spool.path())
        .spool_threshold(64 * 1024)
        .keep_messages(false)
        .size_limit(0)
        .start()
        .await
        .unwrap();
    let mut c = Smtp::ehlo(s.addr()).await;
    c.ok("MAIL FROM:<a@example.org>", "250").await;
    c.ok("RCPT TO:<b@example.org>", "250").await;
    c.ok("DATA", "354").await;
    let line = [vec![b'q'; 1022], b"\r\n".to_vec()].concat();
    let mut peak = 0;
    for _ in 0..8 {
        for _ in 0..1024 {
            c.send(&line).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        peak = peak.max(s.memory_in_use());
    }
    assert!(peak <= 128 * 1024, "{peak} bytes of content in memory");
    assert_eq!(
        std::fs::read_dir(spool.path()).unwrap().count(),
        1,
        "one spool file"
    );
    c.send(b".\r\n").await;
    assert!(c.reply().await.starts_with("250 "));
    assert_eq!(s.delivered(), 1);
    assert_eq!(s.memory_in_use(), 0);
    assert_eq!(
        std::fs::read_dir(spool.path()).unwrap().count(),
        0,
        "no files kept: the spool file is removed once counted"
    );
}

#[tokio::test]
async fn memory_budget_across_connections_spools_to_disk() {
    let spool = tempfile::tempdir().unwrap();
    let s = Sink::builder()
        .spool_dir(spool.path())
        .memory_limit(256 * 1024)
        .spool_threshold(1024 * 1024)
        .start()
        .await
        .unwrap();
    let mut clients = Vec::new();
    for i in 0..4u8 {
        let mut c = Smtp::ehlo(s.addr()).await;
        c.ok("MAIL FROM:<a@example.org>", "250").await;
        c.ok("RCPT TO:<b@example.org>", "250").await;
        c.ok("DATA", "354").await;
        c.send([vec![b'a' + i; 150 * 1024], b"\r\n".to_vec()].concat())
            .await;
        clients.push(c);
    }
    // Content beyond the budget goes to disk as the sink reads it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(spool.path()).unwrap().count() < 2 {
        assert!(Instant::now() < deadline, "not spooled after 30 s");
        assert!(s.memory_in_use() <= 256 * 1024, "{}", s.memory_in_use());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(s.memory_in_use() <= 256 * 1024, "{}", s.memory_in_use());
    for c in &mut clients {
        c.send(b".\r\n").await;
        assert!(c.reply().await.starts_with("250 "));
    }
    let mut sizes: Vec<(u8, usize)> = s.messages().iter().map(|m| (m.data[0], m.data.len())).collect();
    sizes.sort();
    assert_eq!(
        sizes,
        [(b'a', 153_602), (b'b', 153_602), (b'c', 153_602), (b'd', 153_602)]
    );
    assert_eq!(s.memory_in_use(), 0);
}

#[tokio::test]
async fn a_client_that_never_reads_its_replies_is_dropped() {
    let s = Sink::builder()
        .command_timeout(Duration::from_millis(500))
        .start()
        .await
        .unwrap();
    let mut c = Smtp::connect(s.addr()).await;
    // Pipelined EHLOs, each answered with ten lines, and never a read.
    let flood = b"EHLO x\r\n".repeat(8 * 1024);
    let writer = tokio::spawn(async move {
        for _ in 0..64 {
            if c.try_send(&flood).await.is_err() {
                break;
            }
        }
        c
    });
    // The sink must first fill the socket buffers (megabytes of replies), which a loaded
    // machine does slowly: a bound that only a sink that never gives up reaches.
    let deadline = Instant::now() + Duration::from_secs(60);
    while s.active_connections() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(s.active_connections(), 0, "the sink gave up on the client");
    writer.abort();
}

/// A thousand recipients with kilobytes of parameters each would be megabytes per connection:
/// the envelope counts against the memory budget too.
#[tokio::test]
async fn envelope_counts_against_the_memory_budget() {
    let s = Sink::builder().memory_limit(16 * 1024).start().await.unwrap();
    let mut c = Smtp::ehlo(s.addr()).await;
    c.ok("MAIL FROM:<a@example.org>", "250").await;
    let orcpt = format!("ORCPT=rfc822;{}", "x".repeat(3000));
    let mut accepted = 0;
    let refused = loop {
        let r = c.cmd(&format!("RCPT TO:<r{accepted}@example.org> {orcpt}")).await;
        if !r.starts_with("250") {
            break r;
        }
        accepted += 1;
        assert!(accepted < 100, "never refused");
    };
    assert!(refused.starts_with("452 4.3.1"), "{refused}");
    assert_eq!(accepted, 5, "16 KiB hold five 3 KiB recipients");
    assert!(s.memory_in_use() <= 16 * 1024);
    c.ok("RSET", "250").await;
    assert_eq!(s.memory_in_use(), 0, "given back with the transaction");
}
