//! Sending from programs without async: the blocking client, and an async client built outside
//! any runtime.

use std::time::Duration;

use squall::{ErrorKind, Stage};
use squall_sink::{Sink, SinkHandle};

/// A sink running on a runtime of its own threads, as a test server in another process would:
/// the code under test has no runtime.
fn sink_elsewhere() -> (tokio::runtime::Runtime, SinkHandle) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sink = rt.block_on(Sink::start()).unwrap();
    (rt, sink)
}

const MSG: &str = "From: a@example.org\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nHello.\r\n";

#[test]
fn a_plain_thread_sends_and_submitted_messages_share_one_pipelined_connection() {
    let (_rt, sink) = sink_elsewhere();
    let client = squall::blocking::Client::from_url(&sink.url()).unwrap();
    let r = client.send("a@example.org", ["b@example.net"], MSG).unwrap();
    assert!(r.is_complete());
    let pending: Vec<_> = (0..50)
        .map(|_| client.submit("a@example.org", ["b@example.net"], MSG).unwrap())
        .collect();
    for p in pending {
        p.wait().unwrap();
    }
    assert_eq!(sink.delivered(), 51);
    assert_eq!(client.as_async().connections_opened(), 1);
    assert_eq!(client.stats().delivered, 51);
}

#[test]
fn clones_send_from_several_threads() {
    let (_rt, sink) = sink_elsewhere();
    let client = squall::blocking::Client::from_url(&sink.url()).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            let c = client.clone();
            s.spawn(move || {
                for _ in 0..10 {
                    c.send("a@example.org", ["b@example.net"], MSG).unwrap();
                }
            });
        }
    });
    assert_eq!(sink.delivered(), 40);
}

/// Dropping the last handle delivers what was queued and says QUIT before it returns: a short
/// program that submits and exits loses nothing.
#[test]
fn dropping_the_client_delivers_what_is_queued() {
    let (_rt, sink) = sink_elsewhere();
    let client = squall::blocking::Client::from_url(&sink.url()).unwrap();
    let other = client.clone();
    for _ in 0..20 {
        drop(client.submit("a@example.org", ["b@example.net"], MSG).unwrap());
    }
    drop(client);
    other.send("a@example.org", ["b@example.net"], MSG).unwrap(); // not shut down by a clone
    for _ in 0..20 {
        drop(other.submit("a@example.org", ["b@example.net"], MSG).unwrap());
    }
    drop(other);
    assert_eq!(sink.delivered(), 41);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while sink.active_connections() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(sink.active_connections(), 0, "the connection was closed");
}

#[test]
fn files_and_probes_work_and_a_missing_file_names_itself() {
    let (_rt, sink) = sink_elsewhere();
    let client = squall::blocking::Client::from_url(&sink.url()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.eml");
    std::fs::write(&path, MSG).unwrap();
    client
        .send_file("a@example.org", ["b@example.net"], &path)
        .unwrap();
    assert_eq!(sink.messages()[0].data, MSG.as_bytes());

    let missing = dir.path().join("nope.eml");
    let e = client
        .send_file("a@example.org", ["b@example.net"], &missing)
        .unwrap_err();
    assert_eq!((e.kind(), e.stage()), (ErrorKind::Local, Stage::Prepare));
    assert!(e.to_string().contains("nope.eml"), "{e}");
    assert_eq!(sink.delivered(), 1);

    let report = client.probe().unwrap();
    assert_eq!(report.greeting.code().value(), 220);
}

#[test]
fn errors_are_the_async_clients() {
    let client = squall::blocking::Client::builder("127.0.0.1")
        .port(1)
        .connect_timeout(Duration::from_secs(2))
        .build_blocking()
        .unwrap();
    let e = client.send("a@example.org", ["b@example.net"], MSG).unwrap_err();
    assert_eq!(e.stage(), Stage::Connect);
    let e = client.send("not an address", ["b@example.net"], MSG).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Local);
}

/// An async client built where there is no runtime works from whatever awaits it later: its
/// connections run on squall's own runtime, not the awaiting one.
#[test]
fn an_async_client_built_outside_a_runtime_is_awaited_anywhere() {
    let (_rt, sink) = sink_elsewhere();
    let client = squall::Client::from_url(&sink.url()).unwrap();
    let other = tokio::runtime::Builder::new_current_thread().build().unwrap(); // no IO driver
    other.block_on(async {
        client
            .send("a@example.org", ["b@example.net"], MSG)
            .await
            .unwrap();
        client.probe().await.unwrap();
        client.shutdown().await;
    });
    assert_eq!(sink.delivered(), 1);
}

/// A blocking client called from async code blocks that thread, but never deadlocks: even on a
/// single-threaded runtime its connections run elsewhere.
#[test]
fn a_blocking_client_inside_a_current_thread_runtime_does_not_deadlock() {
    let (_rt, sink) = sink_elsewhere();
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    single.block_on(async {
        let client = squall::blocking::Client::from_url(&sink.url()).unwrap();
        client.send("a@example.org", ["b@example.net"], MSG).unwrap();
    });
    assert_eq!(sink.delivered(), 1);
}
