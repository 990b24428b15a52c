//! The driver over an in-memory pipe (`tokio::io::duplex`), against the core's toy server or a
//! scripted one: what the driver alone decides — feeding bodies, reading while writing, timers.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use squall_proto::address::{Mailbox, ReversePath};
use squall_proto::envelope::Envelope;
use squall_proto::fuzzing::FakeServer;
use squall_proto::session::{ClientSession, Tls};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::Notify;
use tokio::sync::futures::Notified;

use super::{Driver, Feed, Link, Settled, Take};
use crate::body::Body;
use crate::builder::ClientBuilder;
use crate::config::Config;
use crate::error::Error;
use crate::job::Job;
use crate::transport::Transport;

fn config(b: impl FnOnce(ClientBuilder) -> ClientBuilder) -> Config {
    b(ClientBuilder::new("127.0.0.1")
        .tls(Tls::None)
        .ehlo("client.example"))
    .resolve()
    .unwrap()
}

/// Messages to send, and what became of them.
#[derive(Default)]
struct TestFeed {
    jobs: VecDeque<Job>,
    notify: Notify,
    outcomes: Vec<Result<(), Error>>,
    requeued: usize,
}

impl TestFeed {
    fn with(bodies: Vec<Body>) -> Self {
        let mut f = Self::default();
        for body in bodies {
            let e = Envelope::new(
                ReversePath::parse("a@example.org").unwrap(),
                [Mailbox::parse("b@example.net").unwrap()],
            )
            .unwrap()
            .with_options(body.mail_options());
            // The receivers are dropped: outcomes are kept here instead.
            f.jobs.push_back(Job::new(e, body, None, None).0);
        }
        f
    }
}

impl Feed for TestFeed {
    fn take(&mut self, _held: usize, _capacity: usize) -> Take {
        self.jobs.pop_front().map_or(Take::Empty, Take::Job)
    }

    fn linger(&mut self, _since: Instant) -> Option<Instant> {
        None
    }

    fn changed(&self) -> Notified<'_> {
        self.notify.notified()
    }

    fn settled(&mut self, _job: Job, how: Settled, _link: &Link) {
        self.outcomes.push(match how {
            Settled::Delivered(..) => Ok(()),
            Settled::Failed(e, _) => Err(e),
        });
    }

    fn requeue(&mut self, jobs: Vec<Job>) {
        self.requeued += jobs.len();
    }
}

/// The toy server answering every owed command with its first (positive) reply, PIPELINING
/// offered; returns every message content it received.
async fn fake_server(mut io: DuplexStream, ehlo: usize) -> Vec<Vec<u8>> {
    let mut server = FakeServer::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        while let Some(verb) = server.owed() {
            let quit = verb == "QUIT";
            let k = if verb == "EHLO" { ehlo } else { 0 };
            let reply = server.answer(k).unwrap();
            io.write_all(reply.as_bytes()).await.unwrap();
            if quit {
                return server.messages().to_vec();
            }
        }
        let n = io.read(&mut buf).await.unwrap();
        if n == 0 {
            return server.messages().to_vec();
        }
        server.feed(&buf[..n]);
    }
}

#[tokio::test]
async fn delivers_pipelined_messages_byte_exact() {
    let config = config(|b| b);
    let mut feed = TestFeed::with(vec![
        Body::from("Subject: one\r\n\r\n.leading dot\r\n"),
        Body::from("Subject: two\n\nbare LF\n.\n"),
        Body::from(vec![b'x'; 300 * 1024]),
    ]);
    let (client, server) = tokio::io::duplex(64 * 1024);
    let session = ClientSession::new(config.session.clone(), Instant::now());
    let server = tokio::spawn(fake_server(server, 1));
    let link = Driver::new(&config, Transport::Plain(client), session, Link::default())
        .run(&mut feed)
        .await
        .unwrap();
    assert!(link.ready_at.is_some());
    assert!(feed.outcomes.iter().all(Result::is_ok), "{:?}", feed.outcomes);
    assert_eq!(feed.outcomes.len(), 3);
    let got = server.await.unwrap();
    // Written from RFC 5321 §4.5.2 by hand: CRLF line ends, the stuffing undone by the server,
    // a CRLF added to an open last line.
    assert_eq!(got[0], b"Subject: one\r\n\r\n.leading dot\r\n");
    assert_eq!(got[1], b"Subject: two\r\n\r\nbare LF\r\n.\r\n");
    let mut big = vec![b'x'; 300 * 1024];
    big.extend_from_slice(b"\r\n");
    assert_eq!(got[2], big);
}

#[tokio::test]
async fn a_file_body_is_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.eml");
    let mut content = b"Subject: file\r\n\r\n".to_vec();
    for i in 0..20_000 {
        content.extend_from_slice(format!("line {i}\r\n").as_bytes());
    }
    std::fs::write(&path, &content).unwrap();
    let config = config(|b| b);
    let mut feed = TestFeed::with(vec![Body::file(&path).await.unwrap()]);
    let (client, server) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(fake_server(server, 1));
    let session = ClientSession::new(config.session.clone(), Instant::now());
    Driver::new(&config, Transport::Plain(client), session, Link::default())
        .run(&mut feed)
        .await
        .unwrap();
    assert!(feed.outcomes[0].is_ok(), "{:?}", feed.outcomes);
    assert_eq!(server.await.unwrap(), [content]);
}

#[tokio::test]
async fn without_messages_it_quits_once_ready() {
    let config = config(|b| b);
    let mut feed = TestFeed::default();
    let (client, server) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(fake_server(server, 1));
    let session = ClientSession::new(config.session.clone(), Instant::now());
    let link = Driver::new(&config, Transport::Plain(client), session, Link::default())
        .run(&mut feed)
        .await
        .unwrap();
    assert!(link.greeting.is_some() && link.capabilities.is_some());
    assert!(server.await.unwrap().is_empty());
}

/// The server refuses a message with 421 and closes while the client is still writing its
/// content: the write fails first, yet the 421 it sent is read, so the message fails as
/// temporary and not as ambiguous (it never reached the server whole).
#[tokio::test]
async fn a_421_sent_before_the_close_is_read_after_a_failed_write() {
    let config = config(|b| b);
    let mut feed = TestFeed::with(vec![Body::from(vec![b'x'; 2 * 1024 * 1024])]);
    let (client, mut server) = tokio::io::duplex(16 * 1024);
    let server = tokio::spawn(async move {
        server.write_all(b"220 mx\r\n").await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0; 4096];
        while !seen.windows(4).any(|w| w == b"EHLO") {
            let n = server.read(&mut buf).await.unwrap();
            seen.extend_from_slice(&buf[..n]);
        }
        server
            .write_all(b"250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n")
            .await
            .unwrap();
        while !seen.windows(4).any(|w| w == b"BDAT") {
            let n = server.read(&mut buf).await.unwrap();
            seen.extend_from_slice(&buf[..n]);
        }
        server.write_all(b"421 4.3.2 closing\r\n").await.unwrap();
        // Dropped: the client's writes now fail, and its reads see the 421, then the end.
    });
    let session = ClientSession::new(config.session.clone(), Instant::now());
    let run = Driver::new(&config, Transport::Plain(client), session, Link::default()).run(&mut feed);
    let _ = tokio::time::timeout(Duration::from_secs(10), run).await.unwrap();
    server.await.unwrap();
    let e = feed.outcomes[0].as_ref().unwrap_err();
    assert!(!e.is_ambiguous(), "{e:?}");
    assert!(e.is_transient(), "{e:?}");
    assert_eq!(e.reply().map(|r| r.code().value()), Some(421), "{e:?}");
}

/// A server that stops reading: the data-block timeout ends the wait, not a hang.
#[tokio::test]
async fn a_server_that_stops_reading_times_out() {
    let config = config(|b| b.timeout(Duration::from_millis(300)));
    let mut feed = TestFeed::with(vec![Body::from(vec![b'x'; 4 * 1024 * 1024])]);
    let (client, mut server) = tokio::io::duplex(16 * 1024);
    let server = tokio::spawn(async move {
        server.write_all(b"220 mx\r\n").await.unwrap();
        let mut buf = [0; 4096];
        let n = server.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"EHLO"));
        server.write_all(b"250-mx\r\n250 CHUNKING\r\n").await.unwrap();
        // Reads nothing more, and keeps its end open.
        tokio::time::sleep(Duration::from_secs(3)).await;
        drop(server);
    });
    let session = ClientSession::new(config.session.clone(), Instant::now());
    let started = Instant::now();
    let run = Driver::new(&config, Transport::Plain(client), session, Link::default()).run(&mut feed);
    let _ = tokio::time::timeout(Duration::from_secs(5), run).await.unwrap();
    let e = feed.outcomes[0].as_ref().unwrap_err();
    assert!(e.is_timeout() && e.is_transient(), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    server.abort();
}
