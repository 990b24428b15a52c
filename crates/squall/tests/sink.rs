//! End to end against squall-sink, in process: what the client reports must match what the
//! server stored, byte for byte.

use std::time::Duration;

use squall::{Body, Client, ErrorKind, Message, Stage, Tls};
use squall_sink::{Sink, SinkBuilder, SinkHandle};

mod common;
use common::oracle::{expected, stored as oracle_stored};
use common::{corpus, recorder};

async fn sink(b: SinkBuilder) -> SinkHandle {
    b.start().await.expect("sink starts")
}

fn client(s: &SinkHandle) -> squall::ClientBuilder {
    Client::builder(s.addr().ip().to_string())
        .port(s.addr().port())
        .tls(Tls::None)
        .idle_timeout(Duration::from_millis(200))
}

async fn delivers_corpus_byte_exact(chunking: bool) {
    let mut b = Sink::builder();
    if !chunking {
        b = b.disable("CHUNKING");
    }
    let s = sink(b).await;
    let c = client(&s).build().unwrap();
    for (name, body) in corpus() {
        let r = c
            .send("a@example.org", ["b@example.net"], body.clone())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let stored = s
            .take_messages()
            .pop()
            .unwrap_or_else(|| panic!("{name}: nothing stored"));
        assert_eq!(stored.data, expected(name, &body), "{name}");
        assert_eq!(r.size, stored.size as u64, "{name}: reported size");
        assert_eq!(stored.transfer, if chunking { "BDAT" } else { "DATA" }, "{name}");
        assert_eq!(
            r.queue_id.as_deref(),
            Some(stored.id.as_str()),
            "{name}: queue id"
        );
    }
}

#[tokio::test]
async fn corpus_is_delivered_byte_exact_with_data() {
    delivers_corpus_byte_exact(false).await;
}

#[tokio::test]
async fn corpus_is_delivered_byte_exact_with_bdat() {
    delivers_corpus_byte_exact(true).await;
}

#[tokio::test]
async fn ten_mib_attachment_and_bcc() {
    let s = sink(Sink::builder()).await;
    let c = client(&s).build().unwrap();
    let data: Vec<u8> = (0..10 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let m = Message::builder()
        .from("Alice <alice@example.org>")
        .to("bob@example.net")
        .cc("Carol <carol@example.net>")
        .bcc("dave@example.net")
        .subject("a big one")
        .text("see attached")
        .attachment("blob.bin", "application/octet-stream", data.clone())
        .build()
        .unwrap();
    let r = c.send_message(&m).await.unwrap();
    let stored = s.messages().pop().unwrap();
    assert_eq!(
        stored.rcpt_to,
        ["bob@example.net", "carol@example.net", "dave@example.net"]
    );
    assert_eq!(stored.data, oracle_stored(&m.bytes()));
    assert_eq!(r.message_id.as_deref(), Some(m.message_id()));
    let text = String::from_utf8_lossy(&stored.data);
    assert!(
        !text.to_ascii_lowercase().contains("dave@"),
        "Bcc must not appear in the message"
    );
    let parsed = mail_parser::MessageParser::default()
        .parse(&stored.data[..])
        .unwrap();
    assert_eq!(parsed.attachment(0).unwrap().contents(), &data[..]);
    assert_eq!(parsed.subject(), Some("a big one"));
    assert!(parsed.date().is_some() && parsed.message_id().is_some());
}

#[tokio::test]
async fn a_refused_recipient_does_not_fail_the_message() {
    let s = sink(
        Sink::builder().fault(
            "rcpt:bad@example.net=550 5.1.1 <bad@example.net>: user unknown"
                .parse()
                .unwrap(),
        ),
    )
    .await;
    let c = client(&s).build().unwrap();
    let r = c
        .send(
            "a@example.org",
            ["ok1@example.net", "bad@example.net", "ok2@example.net"],
            "Subject: x\r\n\r\nx\r\n",
        )
        .await
        .unwrap();
    assert!(!r.is_complete());
    let accepted: Vec<&str> = r.accepted.iter().map(|a| a.recipient.as_str()).collect();
    assert_eq!(accepted, ["ok1@example.net", "ok2@example.net"]);
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(
        r.rejected[0].to_string(),
        "the server refused recipient <bad@example.net>: 550 5.1.1 <bad@example.net>: user unknown — \
         the address does not exist there; check the spelling"
    );
    assert_eq!(s.messages()[0].rcpt_to, ["ok1@example.net", "ok2@example.net"]);
}

#[tokio::test]
async fn a_refused_message_does_not_fail_the_others() {
    let s = sink(
        Sink::builder()
            .fault("rcpt:nobody@example.net=550 5.1.1 no such user".parse().unwrap())
            .fault("data-end#1=554 5.7.1 content rejected".parse().unwrap()),
    )
    .await;
    let c = client(&s).build().unwrap();
    let (a, b, d) = tokio::join!(
        c.send("a@example.org", ["nobody@example.net"], "Subject: 1\r\n\r\n1\r\n"),
        c.send("a@example.org", ["x@example.net"], "Subject: 2\r\n\r\n2\r\n"),
        c.send("a@example.org", ["y@example.net"], "Subject: 3\r\n\r\n3\r\n"),
    );
    let e = a.unwrap_err();
    assert_eq!((e.kind(), e.stage()), (ErrorKind::Permanent, Stage::Rcpt));
    assert!(e.is_recipients());
    assert_eq!(
        e.to_string(),
        "the server refused recipient <nobody@example.net>: 550 5.1.1 no such user — the address does not \
         exist there; check the spelling (a permanent failure: sending the same again will fail the same way)"
    );
    // The first data-end is message 2's (message 1 never reached data).
    let e = b.unwrap_err();
    assert_eq!((e.kind(), e.stage()), (ErrorKind::Permanent, Stage::DataEnd));
    assert_eq!(e.reply().unwrap().code().value(), 554);
    assert!(
        e.to_string()
            .starts_with("the server refused the message after receiving it: 554 5.7.1 content rejected — ")
    );
    d.unwrap();
    assert_eq!(s.delivered(), 1);
    assert_eq!(s.connections(), 1, "one connection for all three");
}

#[tokio::test]
async fn helo_fallback() {
    let s =
        sink(Sink::builder().fault("ehlo=502 5.5.2 Error: command not recognized".parse().unwrap())).await;
    let c = client(&s).build().unwrap();
    c.send("a@example.org", ["b@example.net"], "Subject: helo\r\n\r\nhi\r\n")
        .await
        .unwrap();
    let m = s.messages().pop().unwrap();
    assert_eq!(m.transfer, "DATA", "no extensions after HELO");
    assert!(
        m.mail_params.is_empty(),
        "no SIZE or BODY after HELO: {:?}",
        m.mail_params
    );
}

#[tokio::test]
async fn many_concurrent_sends_each_get_their_receipt() {
    let s = sink(Sink::builder()).await;
    let c = client(&s).build().unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let to = format!("r{i}@example.net");
            let r = c
                .send(
                    "a@example.org",
                    [to.as_str()],
                    format!("Subject: {i}\r\n\r\n{i}\r\n"),
                )
                .await
                .unwrap();
            (i, r)
        }));
    }
    for t in tasks {
        let (i, r) = t.await.unwrap();
        assert_eq!(r.accepted[0].recipient, format!("r{i}@example.net"));
        let stored = s
            .messages()
            .into_iter()
            .find(|m| Some(&m.id) == r.queue_id.as_ref())
            .unwrap();
        assert_eq!(stored.rcpt_to, [format!("r{i}@example.net")]);
        assert_eq!(stored.data, format!("Subject: {i}\r\n\r\n{i}\r\n").into_bytes());
    }
    assert_eq!(s.delivered(), 200);
    assert_eq!(s.connections(), 1);
}

#[tokio::test]
async fn a_lost_connection_fails_only_what_was_in_flight() {
    let s = sink(Sink::builder().fault("data-end#2=disconnect".parse().unwrap())).await;
    let c = client(&s).chunking(false).build().unwrap();
    c.send("a@example.org", ["b@example.net"], "Subject: 1\r\n\r\n1\r\n")
        .await
        .unwrap();
    let e = c
        .send("a@example.org", ["b@example.net"], "Subject: 2\r\n\r\n2\r\n")
        .await
        .unwrap_err();
    assert_eq!((e.kind(), e.stage()), (ErrorKind::Transient, Stage::DataEnd));
    assert!(e.is_ambiguous(), "lost after the dot: it may have been delivered");
    assert!(e.to_string().contains("resending may deliver it twice"), "{e}");
    // The next message opens a new connection.
    c.send("a@example.org", ["b@example.net"], "Subject: 3\r\n\r\n3\r\n")
        .await
        .unwrap();
    assert_eq!(s.delivered(), 2);
    assert_eq!(s.connections(), 2);
}

#[tokio::test]
async fn idle_connections_quit_and_the_next_message_reconnects() {
    let s = sink(Sink::builder()).await;
    let (lines, log) = recorder();
    let c = client(&s)
        .idle_timeout(Duration::from_millis(100))
        .transcript(log)
        .build()
        .unwrap();
    c.send("a@example.org", ["b@example.net"], "x").await.unwrap();
    common::wait_until("the idle connection to close", || c.stats().connections == 0).await;
    assert!(
        lines.lock().unwrap().iter().any(|l| l == "C: QUIT"),
        "{:?}",
        lines.lock().unwrap()
    );
    c.send("a@example.org", ["b@example.net"], "y").await.unwrap();
    assert_eq!(s.connections(), 2);
    c.shutdown().await;
    let quits = lines.lock().unwrap().iter().filter(|l| *l == "C: QUIT").count();
    assert_eq!(quits, 2, "{:?}", lines.lock().unwrap());
    assert!(
        c.send("a@example.org", ["b@example.net"], "z").await.is_err(),
        "sends after shutdown fail"
    );
}

#[tokio::test]
async fn streamed_bodies_are_not_held_in_memory_and_arrive_intact() {
    let s = sink(Sink::builder()).await;
    let c = client(&s).build().unwrap();
    let mut content = b"Subject: stream\r\n\r\n".to_vec();
    for i in 0..50_000 {
        content.extend_from_slice(format!(".line {i}\n").as_bytes());
    }
    let (mut tx, rx) = tokio::io::duplex(4096);
    let writer = {
        let content = content.clone();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for piece in content.chunks(1000) {
                tx.write_all(piece).await.unwrap();
            }
        })
    };
    let r = c
        .send("a@example.org", ["b@example.net"], Body::from_reader(rx))
        .await
        .unwrap();
    writer.await.unwrap();
    let stored = s.messages().pop().unwrap();
    assert_eq!(stored.data, oracle_stored(&content));
    assert_eq!(r.size, stored.size as u64);
    assert!(
        stored.mail_params.iter().any(|p| p == "BODY=8BITMIME"),
        "streams declare 8BITMIME when offered"
    );
}

#[tokio::test]
async fn connect_failures_say_what_to_do() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = unused.local_addr().unwrap().port();
    drop(unused);
    let c = Client::builder("127.0.0.1")
        .port(port)
        .tls(Tls::None)
        .build()
        .unwrap();
    let e = c.send("a@example.org", ["b@example.net"], "x").await.unwrap_err();
    assert_eq!((e.kind(), e.stage()), (ErrorKind::Transient, Stage::Connect));
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("could not connect to 127.0.0.1:{port}: ")),
        "{text}"
    );
    assert!(
        text.contains("nothing accepts connections there; check the host and port"),
        "{text}"
    );
    // Transient, but "trying again later" reads oddly for a port nobody listens on (issue 17).
    assert!(
        text.ends_with("(nothing was sent; it can go once a server listens there)"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_sent() {
    let s = sink(Sink::builder()).await;
    let c = client(&s).build().unwrap();
    let e = c
        .send("a@example.org", ["b@example.net\r\nRCPT TO:<x@evil>"], "x")
        .await
        .unwrap_err();
    assert_eq!((e.kind(), e.stage()), (ErrorKind::Local, Stage::Prepare));
    assert!(e.to_string().contains("contains a CR character"), "{e}");
    let e = c
        .send("a@example.org", Vec::<String>::new(), "x")
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("no recipient"), "{e}");
    assert!(
        Message::builder()
            .from("a@example.org")
            .subject("hi\r\nBcc: x@evil")
            .build()
            .is_err()
    );
    assert_eq!(s.connections(), 0, "nothing reached the server");
}

#[tokio::test]
async fn a_silent_server_times_out_with_the_stage() {
    let s = sink(Sink::builder().fault("greeting=stall".parse().unwrap())).await;
    let c = client(&s).timeout(Duration::from_millis(300)).build().unwrap();
    let e = c.send("a@example.org", ["b@example.net"], "x").await.unwrap_err();
    assert!(e.is_timeout());
    assert_eq!((e.kind(), e.stage()), (ErrorKind::Transient, Stage::Greeting));
    assert!(
        e.to_string()
            .contains("did not answer in time while waiting for the greeting"),
        "{e}"
    );
}

#[tokio::test]
async fn transcript_shows_the_dialog() {
    let s = sink(Sink::builder()).await;
    let (lines, log) = recorder();
    let c = client(&s).transcript(log).build().unwrap();
    c.send("a@example.org", ["b@example.net"], "Subject: t\r\n\r\nt\r\n")
        .await
        .unwrap();
    c.shutdown().await;
    let l = lines.lock().unwrap();
    assert!(l[0].starts_with("S: 220 "), "{l:?}");
    assert!(l.iter().any(|x| x.starts_with("C: EHLO [127.0.0.1]")), "{l:?}");
    assert!(
        l.iter().any(|x| x == "C: MAIL FROM:<a@example.org> SIZE=17"),
        "{l:?}"
    );
    assert!(l.iter().any(|x| x == "*  [17 bytes of message content]"), "{l:?}");
}
