//! Faults from a server we did not write: Postfix `smtp-sink` with its reject and disconnect
//! options (`scripts/test.sh` starts one instance per fault). The same checks as the fault
//! matrix: the outcome class, the attempts, and that what the server holds matches what squall
//! reported.

use std::path::Path;
use std::time::{Duration, Instant};

use squall::{Client, Error, ErrorKind, Stage};

mod common;
use common::peers::{Peer, peer, unique};

fn client(p: &Peer, retries: u32) -> Client {
    p.client()
        .timeout(Duration::from_secs(10))
        .retries(retries)
        .retry_backoff(Duration::from_millis(10), Duration::from_millis(50))
        .build()
        .unwrap()
}

/// How many transactions for `rcpt` smtp-sink wrote to its dump, once `want` of them are there
/// (smtp-sink writes as it reads, so a dump may trail the reply a little); with `want` 0, at once.
fn dumped(dir: &Path, rcpt: &str, want: usize) -> usize {
    let needle = format!("X-Rcpt-Args: <{rcpt}>");
    let count = || {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .flatten()
                .filter(|e| {
                    std::fs::read(e.path()).is_ok_and(|t| String::from_utf8_lossy(&t).contains(&needle))
                })
                .count()
        })
    };
    // Bounded only against a hang: under load a dump may take a while.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = count();
        if now >= want || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn send(c: &Client, rcpt: &str) -> Result<squall::Receipt, Error> {
    c.send(
        "sender@example.org",
        [rcpt],
        format!("Subject: fault\r\n\r\nto {rcpt}\r\n"),
    )
    .await
}

fn failed(r: Result<squall::Receipt, Error>) -> Error {
    match r {
        Ok(r) => panic!("delivered, but every attempt should fail: {r:?}"),
        Err(e) => e,
    }
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn soft_rejected_recipient_is_retried_then_reported_temporary() {
    let Some(p) = peer("SMTP_SINK_SOFT_RCPT") else {
        return;
    };
    let rcpt = unique("soft-rcpt");
    let e = failed(send(&client(&p, 2), &rcpt).await);
    assert_eq!((e.kind(), e.stage()), (ErrorKind::Transient, Stage::Rcpt), "{e}");
    assert_eq!(e.attempts().len(), 3, "{e:?}");
    assert_eq!(
        e.rejected()[0].reply.code().value(),
        450,
        "the server's words are kept"
    );
    assert!(!e.is_ambiguous());
    assert_eq!(dumped(&p.dir, &rcpt, 0), 0);
    // Without retries: one attempt.
    let e = failed(send(&client(&p, 0), &unique("soft-rcpt")).await);
    assert_eq!(e.attempts().len(), 1);
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn hard_rejected_sender_is_final_at_once() {
    let Some(p) = peer("SMTP_SINK_HARD_MAIL") else {
        return;
    };
    let rcpt = unique("hard-mail");
    let e = failed(send(&client(&p, 2), &rcpt).await);
    assert_eq!((e.kind(), e.stage()), (ErrorKind::Permanent, Stage::Mail), "{e}");
    assert_eq!(e.attempts().len(), 1, "5yz is not retried");
    assert!(e.to_string().contains("500 5.3.0 Error: command failed"), "{e}");
    assert!(
        e.rejected().is_empty(),
        "RCPT replies after a refused MAIL say nothing: {e:?}"
    );
    assert_eq!(dumped(&p.dir, &rcpt, 0), 0);
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn a_drop_after_the_dot_is_ambiguous_and_not_resent() {
    let Some(p) = peer("SMTP_SINK_DROP_DOT") else {
        return;
    };
    let rcpt = unique("drop-dot");
    let e = failed(send(&client(&p, 2), &rcpt).await);
    assert!(e.is_ambiguous(), "{e:?}");
    assert_eq!((e.kind(), e.stage()), (ErrorKind::Transient, Stage::DataEnd));
    assert_eq!(e.attempts().len(), 1, "not resent without asking");
    assert!(e.to_string().contains("resending may deliver it twice"), "{e}");
    // The server did get it: that is exactly why it was not sent again.
    assert_eq!(dumped(&p.dir, &rcpt, 1), 1);

    // Asked to retry anyway: each attempt is another copy, and the error says how many tries.
    let rcpt = unique("drop-dot-again");
    let c = p
        .client()
        .retries(1)
        .retry_ambiguous(true)
        .retry_backoff(Duration::from_millis(10), Duration::from_millis(50))
        .build()
        .unwrap();
    let e = failed(send(&c, &rcpt).await);
    assert_eq!(e.attempts().len(), 2);
    assert_eq!(dumped(&p.dir, &rcpt, 2), 2);
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn a_421_at_mail_is_temporary_and_never_ambiguous() {
    let Some(p) = peer("SMTP_SINK_CLOSE_MAIL") else {
        return;
    };
    let rcpt = unique("close-mail");
    let c = client(&p, 1);
    let e = failed(send(&c, &rcpt).await);
    assert_eq!((e.kind(), e.stage()), (ErrorKind::Transient, Stage::Mail), "{e}");
    assert_eq!(e.reply().map(|r| r.code().value()), Some(421));
    assert!(!e.is_ambiguous());
    assert_eq!(e.attempts().len(), 2);
    assert_eq!(dumped(&p.dir, &rcpt, 0), 0);
    // Each message gets its own connection and its own answer.
    let e = failed(send(&c, &unique("close-mail-2")).await);
    assert_eq!(e.reply().map(|r| r.code().value()), Some(421));
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn a_drop_at_rcpt_before_any_content_is_retried_safely() {
    let Some(p) = peer("SMTP_SINK_DROP_RCPT") else {
        return;
    };
    let rcpt = unique("drop-rcpt");
    let e = failed(send(&client(&p, 1), &rcpt).await);
    assert_eq!((e.kind(), e.stage()), (ErrorKind::Transient, Stage::Rcpt), "{e}");
    assert!(
        !e.is_ambiguous(),
        "no content was sent (smtp-sink offers no CHUNKING)"
    );
    assert_eq!(e.attempts().len(), 2);
    assert_eq!(dumped(&p.dir, &rcpt, 0), 0);
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn a_soft_reject_after_the_dot_is_retried() {
    let Some(p) = peer("SMTP_SINK_SOFT_DOT") else {
        return;
    };
    let rcpt = unique("soft-dot");
    let e = failed(send(&client(&p, 1), &rcpt).await);
    assert_eq!(
        (e.kind(), e.stage()),
        (ErrorKind::Transient, Stage::DataEnd),
        "{e}"
    );
    assert!(!e.is_ambiguous(), "the server answered: it refused");
    assert_eq!(e.attempts().len(), 2);
    // smtp-sink writes its dump while reading, before it answers: each refused attempt is there.
    assert_eq!(dumped(&p.dir, &rcpt, 2), 2);
}
