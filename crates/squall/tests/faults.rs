//! The fault matrix: every stage × every action of the sink's fault injection, with retries off
//! and on. For each case: the outcome the caller is told, no wait past the timeouts, what the
//! sink stored equals what squall reported accepted, and the client still works afterwards.
//!
//! Every case runs the full dialog (STARTTLS with a private CA, then AUTH) so that every stage
//! is reached; a fault fires once (`#1`), so a retry meets a well-behaved server. Every case
//! checks with the sink's fired count that its fault did fire: a fault that silently never
//! fires (at QUIT, or a `delay:` that only slows) would otherwise pass as "no fault at all".

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use squall::{Client, Error, ErrorKind, Receipt, Timeouts, Tls};
use squall_sink::{Sink, SinkBuilder, SinkHandle};
use tokio::sync::Semaphore;

mod common;
use common::pki;

const STAGES: [&str; 11] = [
    "connect", "greeting", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "bdat", "data-end", "quit",
];

const ACTIONS: [&str; 8] = [
    "451 4.3.0 injected",
    "550 5.7.1 injected",
    "421 4.3.2 injected",
    "disconnect",
    "stall",
    "delay:50ms",
    "garbage",
    "overlong",
];

/// The number of cases: a literal, so that a change to the loops cannot quietly drop some.
const CASES: usize = 208;

/// The wait for the reply a `stall` case withholds (and every wait in the other tests); a
/// stalled case costs about that much per attempt.
const TIMEOUT: Duration = Duration::from_secs(4);
/// Every other wait for a reply, which no case means to wait out: replies come from a sink in
/// this process, but six cases at once, each with TLS handshakes in a debug build, on a loaded
/// 2-core machine kept a greeting, and an AUTH reply, waiting past [`TIMEOUT`].
const PATIENT: Duration = Duration::from_secs(30);
/// TCP connect and TLS handshake: CPU-bound in a debug build and never the point of a case, so
/// a bound that only a hang reaches.
const HANDSHAKE: Duration = Duration::from_secs(60);
/// How long a case waits for its fault to be counted after the client is done: a QUIT may still
/// be on its way.
const FIRED_WAIT: Duration = Duration::from_secs(15);
/// No case may take longer than this (two attempts, backoff, and a second message): it only
/// matters when something hangs.
const CASE_LIMIT: Duration = Duration::from_secs(180);

/// What the caller is told about the first message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Delivered {
        attempts: usize,
    },
    Permanent,
    Transient,
    /// Lost after the end of the content: the server may have it.
    Ambiguous,
}

impl Outcome {
    fn of(r: &Result<Receipt, Error>) -> Self {
        match r {
            Ok(r) => Self::Delivered {
                attempts: r.attempts.len(),
            },
            Err(e) if e.is_ambiguous() => Self::Ambiguous,
            Err(e) if e.kind() == ErrorKind::Transient => Self::Transient,
            Err(_) => Self::Permanent,
        }
    }
}

/// The outcomes allowed for a fault at `stage` doing `action`.
fn expected(stage: &str, action: &str, chunking: bool, retries: bool) -> Vec<Outcome> {
    use Outcome::*;
    let temporary = if retries {
        Delivered { attempts: 2 }
    } else {
        Transient
    };
    if stage == "quit" || action.starts_with("delay") {
        // QUIT comes after the message; a delay within the timeout is only slow.
        return vec![Delivered { attempts: 1 }];
    }
    if action.starts_with("550") {
        return vec![Permanent];
    }
    if action.starts_with("451") || action.starts_with("421") {
        // Answers, in order: the server said no to this message for now (never ambiguous).
        return vec![temporary];
    }
    // No answer, or one that is not SMTP: the connection is dropped. Whether the server may
    // have the message depends on whether all of its content was sent.
    match stage {
        "data-end" => vec![Ambiguous],
        // With CHUNKING the content goes in the same write as MAIL and RCPT.
        "mail" | "rcpt" if chunking => vec![Ambiguous],
        // Chunks are pipelined: the last may be out or not when the first goes unanswered.
        "bdat" => vec![temporary, Ambiguous],
        _ => vec![temporary],
    }
}

struct Fixture {
    ca: PathBuf,
    cert: String,
    key: String,
    _dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let p = pki(&["localhost", "127.0.0.1"]);
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, &p.ca_pem).unwrap();
        Self {
            ca,
            cert: p.cert_pem,
            key: p.key_pem,
            _dir: dir,
        }
    }

    async fn sink(&self, configure: impl FnOnce(SinkBuilder) -> SinkBuilder) -> SinkHandle {
        let b = Sink::builder()
            .tls_pem(self.cert.as_bytes(), self.key.as_bytes())
            .unwrap()
            .user("joe", "pw")
            .require_tls(true);
        configure(b).start().await.unwrap()
    }
}

/// A client for the case's sink, with [`reply_timeouts`].
fn client(s: &SinkHandle, ca: &Path, retries: bool, timeouts: Timeouts) -> Client {
    let b = Client::builder("127.0.0.1")
        .port(s.addr().port())
        .tls(Tls::StartTls)
        .ca_file(ca)
        .credentials("joe", "pw")
        .ehlo("client.example")
        .timeouts(timeouts)
        .connect_timeout(HANDSHAKE)
        .max_connections(1)
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(100));
    let b = if retries { b.retries(1) } else { b.no_retry() };
    b.build().unwrap()
}

/// [`TIMEOUT`] for the reply that a stall at `stalled` withholds, [`PATIENT`] for the others,
/// [`HANDSHAKE`] for the TLS handshake.
fn reply_timeouts(stalled: Option<&str>) -> Timeouts {
    let mut t = Timeouts::default().capped(PATIENT);
    t.tls_handshake = HANDSHAKE;
    if let Some(stage) = stalled {
        let wait = match stage {
            "connect" | "greeting" => &mut t.greeting,
            "ehlo" | "starttls" | "auth" => &mut t.command,
            "mail" => &mut t.mail,
            "rcpt" => &mut t.rcpt,
            "data" => &mut t.data,
            "bdat" => &mut t.data_block,
            "data-end" => &mut t.data_end,
            "quit" => &mut t.quit,
            _ => panic!("no reply timeout for the stage {stage}"),
        };
        *wait = TIMEOUT;
    }
    t
}

/// For `bdat`, large enough to go as three BDAT chunks (so that a chunk before the last is
/// answered); else small enough to go in one write with its commands.
fn body(tag: &str, stage: &str) -> Vec<u8> {
    let size = if stage == "bdat" { 600 * 1024 } else { 2048 };
    let mut m = format!("Subject: {tag}\r\nMessage-ID: <{tag}@faults.test>\r\n\r\n").into_bytes();
    while m.len() < size {
        m.extend_from_slice(b"0123456789 the fault matrix sends this line again and again\r\n");
    }
    m
}

fn stored(s: &SinkHandle, tag: &str) -> usize {
    let needle = format!("Subject: {tag}\r\n");
    s.messages()
        .iter()
        .filter(|m| m.data.starts_with(needle.as_bytes()))
        .count()
}

/// Runs one case; `Err` says what went wrong.
async fn case(
    fx: Arc<Fixture>,
    stage: &'static str,
    action: &'static str,
    chunking: bool,
    retries: bool,
) -> Result<(), String> {
    let fault = format!("{stage}#1={action}");
    let name = format!(
        "{fault} ({}, retries {})",
        if chunking { "BDAT" } else { "DATA" },
        if retries { "on" } else { "off" }
    );
    let s = fx
        .sink(|b| {
            let b = b.fault(fault.parse().unwrap());
            if chunking { b } else { b.disable("CHUNKING") }
        })
        .await;
    let stalled = (action == "stall").then_some(stage);
    let c = client(&s, &fx.ca, retries, reply_timeouts(stalled));
    let started = Instant::now();
    let first = c
        .send("a@example.org", ["b@example.net"], body("first", stage))
        .await;
    let outcome = Outcome::of(&first);
    let allowed = expected(stage, action, chunking, retries);
    if !allowed.contains(&outcome) {
        return Err(format!(
            "{name}: {outcome:?}, expected one of {allowed:?}: {first:?}"
        ));
    }
    // What the sink holds is what the caller was told.
    let want = usize::from(matches!(outcome, Outcome::Delivered { .. }));
    if stored(&s, "first") != want {
        return Err(format!(
            "{name}: the sink stored {} copies, the caller was told {outcome:?}",
            stored(&s, "first")
        ));
    }
    if let Err(e) = &first {
        if e.hint().is_empty() || e.to_string().is_empty() {
            return Err(format!("{name}: an error without words"));
        }
        // Permanent and ambiguous failures are not retried; nor is anything without retries.
        if e.attempts().len() != 1 {
            return Err(format!("{name}: {} attempts recorded: {e:?}", e.attempts().len()));
        }
    }
    // The client goes on: the fault was one-off, the next message gets through.
    let second = c
        .send("a@example.org", ["b@example.net"], body("second", stage))
        .await;
    if !matches!(Outcome::of(&second), Outcome::Delivered { attempts: 1 }) || stored(&s, "second") != 1 {
        return Err(format!("{name}: the next message after the fault: {second:?}"));
    }
    c.shutdown().await;
    let elapsed = started.elapsed();
    // Bounded: each attempt waits at most a few timeouts (a stalled reply, then QUIT's).
    if elapsed > TIMEOUT * 6 + HANDSHAKE {
        return Err(format!("{name}: took {elapsed:?}"));
    }
    // The fault fired, once: else this case tested a well-behaved server.
    if let Err(e) = s.wait_fired(0, 1, FIRED_WAIT).await {
        return Err(format!("{name}: {e}"));
    }
    let fired = s.faults_fired()[0].1;
    if fired != 1 {
        return Err(format!("{name}: the fault fired {fired} times"));
    }
    s.stop();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stage_times_every_action() {
    let fx = Arc::new(Fixture::new());
    // A few at a time: enough to finish quickly, few enough that timeouts stay honest.
    let gate = Arc::new(Semaphore::new(6));
    let mut cases = tokio::task::JoinSet::new();
    let mut planned = 0;
    for retries in [false, true] {
        for stage in STAGES {
            // DATA is reached only without CHUNKING, a BDAT chunk only with it; MAIL and RCPT
            // behave differently under each.
            let transfers: &[bool] = match stage {
                "data" => &[false],
                "mail" | "rcpt" => &[true, false],
                _ => &[true],
            };
            for &chunking in transfers {
                for action in ACTIONS {
                    let (fx, gate) = (fx.clone(), gate.clone());
                    planned += 1;
                    cases.spawn(async move {
                        let _permit = gate.acquire_owned().await.unwrap();
                        let name = format!("{stage}#1={action} chunking={chunking} retries={retries}");
                        let run = case(fx, stage, action, chunking, retries);
                        match tokio::time::timeout(CASE_LIMIT, run).await {
                            Ok(r) => r,
                            Err(_) => Err(format!("{name}: hung for {CASE_LIMIT:?}")),
                        }
                    });
                }
            }
        }
    }
    let mut failures = Vec::new();
    let mut ran = 0;
    while let Some(r) = cases.join_next().await {
        ran += 1;
        if let Err(why) = r.expect("no case panics") {
            failures.push(why);
        }
    }
    assert_eq!(ran, planned);
    assert_eq!(planned, CASES);
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} of {ran} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A plain sink (no TLS, no AUTH) with these faults.
async fn plain_sink(faults: &[&str], chunking: bool) -> SinkHandle {
    let mut b = Sink::builder();
    for f in faults {
        b = b.fault(f.parse().unwrap());
    }
    if !chunking {
        b = b.disable("CHUNKING");
    }
    b.start().await.unwrap()
}

/// A client for a plain sink on this loopback port, with squall's defaults.
fn plain_builder(port: u16) -> squall::ClientBuilder {
    Client::builder("127.0.0.1").port(port).tls(Tls::None)
}

fn plain_client(s: &SinkHandle, retries: bool) -> Client {
    let b = plain_builder(s.addr().port())
        .timeout(TIMEOUT)
        .max_connections(1)
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(100));
    let b = if retries { b.retries(2) } else { b.no_retry() };
    b.build().unwrap()
}

/// How many times each of the sink's faults fired, in the order given.
fn fired(s: &SinkHandle) -> Vec<u64> {
    s.faults_fired().into_iter().map(|(_, n)| n).collect()
}

fn addresses(list: &[squall::RecipientReply]) -> Vec<&str> {
    list.iter().map(|r| r.recipient.as_str()).collect()
}

/// Per recipient: a refused one does not fail the others; a 4yz one is retried alone, so
/// nobody gets the message twice; the sink holds exactly what the receipt says.
#[tokio::test]
async fn recipients_are_retried_alone_and_never_twice() {
    const TO: [&str; 3] = ["b@example.net", "c@example.net", "d@example.net"];
    for chunking in [true, false] {
        // 550 for c: final, the others get it.
        let s = plain_sink(&["rcpt:c@example.net=550 5.1.1 no such user"], chunking).await;
        let r = plain_client(&s, true)
            .send("a@example.org", TO, body("x", ""))
            .await
            .unwrap();
        assert_eq!(addresses(&r.accepted), ["b@example.net", "d@example.net"]);
        assert_eq!(addresses(&r.rejected), ["c@example.net"]);
        assert_eq!(r.attempts.len(), 1, "a 5yz recipient is not retried");
        assert_eq!(s.messages()[0].rcpt_to, ["b@example.net", "d@example.net"]);
        assert_eq!(fired(&s), [1]);

        // 451 for c once: c alone in a second transaction.
        let s = plain_sink(&["rcpt#1:c@example.net=451 4.2.1 mailbox busy"], chunking).await;
        let r = plain_client(&s, true)
            .send("a@example.org", TO, body("x", ""))
            .await
            .unwrap();
        // In the order they got it.
        assert_eq!(
            addresses(&r.accepted),
            ["b@example.net", "d@example.net", "c@example.net"]
        );
        assert!(r.rejected.is_empty(), "{:?}", r.rejected);
        assert_eq!(r.attempts.len(), 2);
        let stored: Vec<Vec<String>> = s.messages().into_iter().map(|m| m.rcpt_to).collect();
        assert_eq!(
            stored,
            [vec!["b@example.net", "d@example.net"], vec!["c@example.net"]]
        );
        assert_eq!(fired(&s), [1]);

        // The same without retries: c is reported refused for now.
        let s = plain_sink(&["rcpt#1:c@example.net=451 4.2.1 mailbox busy"], chunking).await;
        let r = plain_client(&s, false)
            .send("a@example.org", TO, body("x", ""))
            .await
            .unwrap();
        assert_eq!(addresses(&r.accepted), ["b@example.net", "d@example.net"]);
        assert_eq!(r.rejected[0].reply.code().value(), 451);
        assert_eq!(s.delivered(), 1);
        assert_eq!(fired(&s), [1]);
    }
    // Lost during RCPT (DATA, so no content was sent): accepted recipients of an unfinished
    // transaction got nothing, so all of them are tried again.
    let s = plain_sink(&["rcpt#2=disconnect"], false).await;
    let r = plain_client(&s, true)
        .send("a@example.org", TO, body("x", ""))
        .await
        .unwrap();
    assert_eq!(addresses(&r.accepted), TO);
    assert_eq!(r.attempts.len(), 2);
    assert_eq!(s.messages().len(), 1);
    assert_eq!(s.messages()[0].rcpt_to, TO);
    assert_eq!(fired(&s), [1]);
}

/// A 421 in the middle of a pipelined batch: the message it answers is tried again, the ones
/// behind it were never started and go to the next connection; none is lost or doubled.
#[tokio::test]
async fn a_421_mid_batch_requeues_what_was_not_finished() {
    for retries in [true, false] {
        let s = plain_sink(&["mail#3=421 4.3.2 shutting down"], false).await;
        let c = plain_client(&s, retries);
        let sends: Vec<_> = (0..6)
            .map(|i| {
                c.submit("a@example.org", ["b@example.net"], body(&format!("m{i}"), ""))
                    .unwrap()
            })
            .collect();
        let mut outcomes = Vec::new();
        for (i, send) in sends.into_iter().enumerate() {
            let r = send.await;
            outcomes.push(Outcome::of(&r));
            let want = usize::from(r.is_ok());
            assert_eq!(stored(&s, &format!("m{i}")), want, "message {i}: {r:?}");
        }
        let delivered = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Delivered { .. }))
            .count();
        if retries {
            assert_eq!(delivered, 6, "{outcomes:?}");
            assert_eq!(outcomes[2], Outcome::Delivered { attempts: 2 });
        } else {
            assert_eq!(delivered, 5, "{outcomes:?}");
            assert_eq!(outcomes[2], Outcome::Transient);
        }
        assert!(s.connections() >= 2);
        assert_eq!(fired(&s), [1]);
    }
}

/// With a deadline, retries stop when the next one could not start in time.
#[tokio::test]
async fn the_message_deadline_bounds_the_retries() {
    // Room for a few attempts even when each is slow (a loaded machine: CI once saw the first
    // take most of a 700 ms deadline, leaving no time for a second); the retries alone would
    // take minutes, so the deadline is what ends them.
    const RETRIES: u32 = 1000;
    let deadline = Duration::from_secs(2);
    let s = plain_sink(&["greeting=451 4.3.2 busy"], true).await;
    let c = plain_builder(s.addr().port())
        .retries(RETRIES)
        .retry_backoff(Duration::from_millis(100), Duration::from_millis(200))
        .message_deadline(deadline)
        .build()
        .unwrap();
    let started = Instant::now();
    let e = c.send("a@example.org", ["b@example.net"], "x").await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Transient);
    assert!(e.reply().is_some_and(|r| r.code().value() == 451), "{e:?}");
    assert!(
        (2..RETRIES as usize).contains(&e.attempts().len()),
        "{} attempts in {elapsed:?}",
        e.attempts().len()
    );
    // The deadline, and at most the attempt under way when it passed.
    assert!(elapsed < deadline + Duration::from_secs(8), "{elapsed:?}");
    assert!(e.to_string().contains("attempts were made"), "{e}");
    // One refused greeting per attempt, and one more when the deadline overtook the retry
    // while its connection was opening (that connection is then greeted for nothing).
    let n = e.attempts().len() as u64;
    let greeted = fired(&s)[0];
    assert!(
        greeted == n || greeted == n + 1,
        "{greeted} greetings for {n} attempts"
    );
}

/// A pooled connection the server dropped while idle (Postfix says 421 and closes) is noticed
/// and replaced: the next message is not failed and needs no retry.
#[tokio::test]
async fn a_connection_closed_by_the_server_while_idle_is_replaced() {
    // The sink's limit is on every wait for a command, so it also cuts off a client that is
    // merely slow to send its next one (a loaded machine: 100 ms was once too short for that).
    let s = Sink::builder()
        .idle_timeout(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let c = plain_builder(s.addr().port())
        .idle_timeout(Duration::from_secs(60))
        .no_retry()
        .build()
        .unwrap();
    for i in 0..3 {
        let r = c
            .send("a@example.org", ["b@example.net"], body(&format!("m{i}"), ""))
            .await;
        assert_eq!(
            r.as_ref().map(|r| r.attempts.len()).ok(),
            Some(1),
            "message {i}: {r:?}"
        );
        // The sink closes the idle connection after 1 s; the client must notice.
        common::wait_until("the client to see the idle connection closed", || {
            c.stats().connections == 0
        })
        .await;
    }
    assert_eq!(s.connections(), 3);
    assert_eq!(s.delivered(), 3);
}

/// Delivered to some recipients, then the retry for the rest cannot even connect: the caller
/// still gets the receipt for those who have it (and must not resend to them).
#[tokio::test]
async fn a_partial_delivery_survives_a_failed_retry() {
    let s = plain_sink(&["rcpt#1:c@example.net=451 4.2.1 busy"], true).await;
    let c = plain_builder(s.addr().port())
        .retries(1)
        .retry_backoff(Duration::from_millis(300), Duration::from_millis(300))
        .build()
        .unwrap();
    let send = c
        .submit("a@example.org", ["b@example.net", "c@example.net"], body("x", ""))
        .unwrap();
    s.wait_for_count(1, Duration::from_secs(5)).await.unwrap();
    s.stop();
    let r = tokio::time::timeout(Duration::from_secs(10), send)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(addresses(&r.accepted), ["b@example.net"]);
    assert_eq!(addresses(&r.rejected), ["c@example.net"]);
    assert!(!r.is_complete());
    assert_eq!(
        r.attempts.len(),
        1,
        "the retry never reached a server: {:?}",
        r.attempts
    );
}

/// The retry for the rest is lost after its content: those recipients are ambiguous, not
/// refused.
#[tokio::test]
async fn an_ambiguous_retry_is_reported_per_recipient() {
    let s = plain_sink(
        &["rcpt#1:c@example.net=451 4.2.1 busy", "data-end#2=disconnect"],
        true,
    )
    .await;
    let r = plain_client(&s, true)
        .send("a@example.org", ["b@example.net", "c@example.net"], body("x", ""))
        .await
        .unwrap();
    assert_eq!(addresses(&r.accepted), ["b@example.net"]);
    assert_eq!(r.ambiguous, ["c@example.net"]);
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    assert_eq!(r.attempts.len(), 2);
    assert_eq!(fired(&s), [1, 1]);
}

/// A file that disappears before it is sent fails that message at once, with DATA as with BDAT.
#[tokio::test]
async fn an_unreadable_file_fails_fast() {
    for chunking in [false, true] {
        let s = plain_sink(&[], chunking).await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.eml");
        std::fs::write(&path, "Subject: gone\r\n\r\nx\r\n").unwrap();
        let b = squall::Body::file(&path).await.unwrap();
        std::fs::remove_file(&path).unwrap();
        let started = Instant::now();
        let e = plain_client(&s, true)
            .send("a@example.org", ["b@example.net"], b)
            .await
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "chunking {chunking}: {:?}",
            started.elapsed()
        );
        assert!(e.to_string().contains("cannot open"), "{e}");
        assert_eq!(s.delivered(), 0);
    }
}

/// The deadline also bounds waiting for a server that cannot be reached, and the error says
/// why it could not be sent.
#[tokio::test]
async fn the_deadline_bounds_connection_retries() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // As above: retries that alone would take minutes, so that a bound with room for a loaded
    // machine still tells the deadline's end from theirs.
    let deadline = Duration::from_millis(700);
    let c = plain_builder(port)
        .retries(1000)
        .retry_backoff(Duration::from_millis(100), Duration::from_millis(200))
        .message_deadline(deadline)
        .build()
        .unwrap();
    let started = Instant::now();
    let e = c.send("a@example.org", ["b@example.net"], "x").await.unwrap_err();
    assert!(
        started.elapsed() < deadline + Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(e.stage(), squall::Stage::Connect, "{e}");
}
