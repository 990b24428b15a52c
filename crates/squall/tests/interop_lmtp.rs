//! LMTP (RFC 2033) against Dovecot's LMTP server, over TCP and over its Unix socket.
//!
//! `scripts/test.sh` starts Dovecot with `scripts/peers/dovecot.sh` and passes
//! `SQUALL_PEER_DOVECOT_LMTP` (HOST:PORT), `SQUALL_PEER_DOVECOT_LMTP_DIR` (the parent of each
//! user's Maildir) and `SQUALL_PEER_DOVECOT_LMTP_SOCKET`. Users: alice and bob take mail; full
//! is over quota, so Dovecot refuses its copy after the data; anyone else is refused at RCPT.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use squall::{Client, ErrorKind, Stage};

mod common;
use common::peers::{Peer, peer, wait_for_file};

/// A subject no other message has.
fn unique_subject(label: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("{label} {nanos:x}")
}

fn message(subject: &str) -> Vec<u8> {
    format!("From: a@example.org\r\nSubject: {subject}\r\n\r\nto the mailbox\r\n.leading dot\r\n")
        .into_bytes()
}

/// The message with `subject` in `user`'s Maildir (Dovecot writes LF line ends).
fn delivered(p: &Peer, user: &str, subject: &str) -> String {
    let dir = p.dir.join(user).join("Maildir/new");
    let needle = format!("Subject: {subject}\n");
    wait_for_file(&dir, |path| {
        let text = String::from_utf8_lossy(&std::fs::read(path).ok()?).into_owned();
        text.contains(&needle).then_some(text)
    })
}

/// Whether `user`'s Maildir holds a message with `subject` now.
fn holds(p: &Peer, user: &str, subject: &str) -> bool {
    let dir = p.dir.join(user).join("Maildir/new");
    let needle = format!("Subject: {subject}\n");
    std::fs::read_dir(&dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains(&needle)))
    })
}

fn lmtp(p: &Peer) -> squall::ClientBuilder {
    Client::lmtp(&p.host)
        .port(p.port)
        .no_retry()
        .idle_timeout(Duration::from_millis(200))
        .timeout(Duration::from_secs(30))
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn one_recipient_refused_after_the_data() {
    let Some(p) = peer("DOVECOT_LMTP") else { return };
    let subject = unique_subject("lmtp partial");
    let c = lmtp(&p).build().unwrap();
    let to = [
        "alice@dovecot.test",
        "nobody@dovecot.test",
        "full@dovecot.test",
        "bob@dovecot.test",
    ];
    let r = c.send("a@example.org", to, message(&subject)).await.unwrap();
    let names = |list: &[squall::RecipientReply]| {
        list.iter()
            .map(|r| (r.recipient.to_string(), r.reply.code().value()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&r.accepted),
        [
            ("alice@dovecot.test".to_string(), 250),
            ("bob@dovecot.test".to_string(), 250)
        ]
    );
    // Refused at RCPT (unknown user) and refused after the data (over quota), both reported.
    assert_eq!(
        names(&r.rejected),
        [
            ("nobody@dovecot.test".to_string(), 550),
            ("full@dovecot.test".to_string(), 552)
        ]
    );
    let full = &r.rejected[1];
    assert_eq!(full.kind(), Some(ErrorKind::Permanent));
    assert!(full.reply.to_string().contains("Quota"), "{}", full.reply);
    for user in ["alice", "bob"] {
        let text = delivered(&p, user, &subject);
        assert!(
            text.contains("\n.leading dot\n"),
            "dot-stuffing undone by Dovecot: {text}"
        );
    }
    assert!(!holds(&p, "full", &subject));
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn every_recipient_refused_after_the_data_is_an_error() {
    let Some(p) = peer("DOVECOT_LMTP") else { return };
    let c = lmtp(&p).build().unwrap();
    let e = c
        .send(
            "a@example.org",
            ["full@dovecot.test"],
            message(&unique_subject("lmtp full")),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.stage()),
        (ErrorKind::Permanent, Stage::DataEnd),
        "{e}"
    );
    assert_eq!(e.reply().map(|r| r.code().value()), Some(552), "{e}");
    assert_eq!(e.rejected().len(), 1, "{e}");
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn over_the_unix_socket_and_from_a_url() {
    let Some(p) = peer("DOVECOT_LMTP") else { return };
    let socket = std::env::var("SQUALL_PEER_DOVECOT_LMTP_SOCKET").expect("the LMTP socket's path");
    assert!(Path::new(&socket).exists(), "{socket}");
    let subject = unique_subject("lmtp socket");
    let c = Client::lmtp("dovecot")
        .unix_socket(&socket)
        .no_retry()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let r = c
        .send("a@example.org", ["bob@dovecot.test"], message(&subject))
        .await
        .unwrap();
    assert!(r.rejected.is_empty(), "{r:?}");
    delivered(&p, "bob", &subject);

    let subject = unique_subject("lmtp url");
    let c = Client::from_url(&format!("lmtp://{}", socket.replace(' ', "%20"))).unwrap();
    c.send("a@example.org", ["alice@dovecot.test"], message(&subject))
        .await
        .unwrap();
    delivered(&p, "alice", &subject);
}
