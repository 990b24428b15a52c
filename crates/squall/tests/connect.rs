//! Reaching the server (issue 14, happy eyeballs): every address tried, staggered, each with its
//! own timeout; errors name every address; an unknown name is told apart.

use std::io;
use std::time::{Duration, Instant};

use squall::{Client, ErrorKind, Resolve, Resolving, Stage, Tls};
use squall_sink::Sink;

#[tokio::test]
async fn a_black_holed_first_address_costs_a_stagger_not_the_timeout() {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let hole = socket.local_addr().unwrap();
    let listener = socket.listen(1).unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match std::net::TcpStream::connect_timeout(&hole, Duration::from_millis(200)) {
            Ok(s) => fillers.push(s),
            Err(_) => break,
        }
    }
    // The hole really swallows connections.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), tokio::net::TcpStream::connect(hole))
            .await
            .is_err(),
        "the listener's backlog is full, so a connection waits"
    );
    let sink = Sink::start().await.unwrap();
    let c = Client::builder("mx.example.test")
        .resolve_to([hole, sink.addr()])
        .port(sink.addr().port())
        .tls(Tls::None)
        .connect_timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let started = Instant::now();
    c.send("a@example.org", ["b@example.net"], "x").await.unwrap();
    // The stagger is 250 ms, the timeout 20 s: room for a loaded machine between them.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sink.delivered(), 1);
    drop((listener, fillers));
}

#[tokio::test]
async fn when_every_address_fails_each_is_named() {
    let closed = |n| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        drop(l);
        let _ = n;
        a
    };
    let (a, b) = (closed(1), closed(2));
    let e = Client::builder("mx.example.test")
        .resolve_to([a, b])
        .tls(Tls::None)
        .no_retry()
        .build()
        .unwrap()
        .send("a@example.org", ["b@example.net"], "x")
        .await
        .unwrap_err();
    assert_eq!((e.stage(), e.kind()), (Stage::Connect, ErrorKind::Transient));
    assert!(e.is_unavailable());
    let text = e.to_string();
    assert!(text.contains("every address failed"), "{text}");
    assert!(
        text.contains(&a.to_string()) && text.contains(&b.to_string()),
        "{text}"
    );
}

/// A resolver that knows no name.
struct Nowhere;

impl Resolve for Nowhere {
    fn resolve<'a>(&'a self, host: &'a str, _port: u16) -> Resolving<'a> {
        Box::pin(async move {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{host}: no such name"),
            ))
        })
    }
}

#[tokio::test]
async fn an_unknown_host_is_named_as_a_name_lookup() {
    let e = Client::builder("no-such-host.example.test")
        .resolver(Nowhere)
        .tls(Tls::None)
        .build()
        .unwrap()
        .send("a@example.org", ["b@example.net"], "x")
        .await
        .unwrap_err();
    assert!(e.is_unknown_host(), "{e:?}");
    assert_eq!((e.stage(), e.kind()), (Stage::Connect, ErrorKind::Permanent));
    let text = e.to_string();
    assert!(text.contains("could not look up the name"), "{text}");
    assert!(text.contains("check the spelling of the host"), "{text}");
    // Permanent: no retry waits out a backoff for it (attempts list only tries that reached a
    // server, so it is empty here).
    assert!(e.attempts().is_empty(), "{e:?}");
}
