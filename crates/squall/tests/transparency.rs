//! DATA transparency checked against the oracle in `common::oracle`, never against
//! `squall_proto::data`: the bytes squall puts on the wire (read by a server written here, which
//! decodes nothing), and the content squall-sink stores (whose decoder is squall's own).

use std::time::Duration;

use squall::{Client, Tls};
use squall_sink::Sink;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

mod common;
use common::corpus;
use common::oracle::{ON_THE_WIRE, STORED, expected, on_the_wire};

#[test]
fn the_reference_agrees_with_the_hand_written_vectors() {
    let names: Vec<&str> = corpus().iter().map(|(n, _)| *n).collect();
    for (name, body) in corpus() {
        let _ = expected(name, &body);
        if let Some((_, wire)) = ON_THE_WIRE.iter().find(|(n, _)| *n == name) {
            assert_eq!(on_the_wire(&body), *wire, "{name}");
        }
    }
    for (name, _) in STORED.iter().chain(ON_THE_WIRE) {
        assert!(names.contains(name), "{name} is not in the corpus");
    }
}

/// A server that offers only 8BITMIME (so squall uses DATA, one command at a time) and returns
/// the raw bytes between the 354 and the end of data, end of data included.
async fn raw_data_server(listener: TcpListener) -> Vec<Vec<u8>> {
    let (stream, _) = listener.accept().await.unwrap();
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 raw.test\r\n").await.unwrap();
    let mut got = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line).await.unwrap() == 0 {
            return got;
        }
        let verb = line.get(..4).map(<[u8]>::to_ascii_uppercase).unwrap_or_default();
        match &verb[..] {
            b"DATA" => {
                w.write_all(b"354 go on\r\n").await.unwrap();
                let mut data = Vec::new();
                while !data.ends_with(b"\r\n.\r\n") && data != b".\r\n" {
                    let mut byte = [0u8; 1];
                    r.read_exact(&mut byte).await.unwrap();
                    data.push(byte[0]);
                }
                got.push(data);
                w.write_all(b"250 stored\r\n").await.unwrap();
            }
            b"EHLO" => w.write_all(b"250-raw.test\r\n250 8BITMIME\r\n").await.unwrap(),
            b"QUIT" => {
                w.write_all(b"221 bye\r\n").await.unwrap();
                return got;
            }
            _ => w.write_all(b"250 ok\r\n").await.unwrap(),
        }
    }
}

#[tokio::test]
async fn the_wire_holds_what_rfc_5321_says() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = corpus();
    let server = tokio::spawn(raw_data_server(listener));
    let c = Client::builder("127.0.0.1")
        .port(port)
        .tls(Tls::None)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    for (name, body) in &bodies {
        c.send("a@example.org", ["b@example.net"], body.clone())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    c.shutdown().await;
    let wire = tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .expect("the server finishes")
        .unwrap();
    assert_eq!(wire.len(), bodies.len());
    for ((name, body), got) in bodies.iter().zip(&wire) {
        assert_eq!(
            String::from_utf8_lossy(got),
            String::from_utf8_lossy(&on_the_wire(body)),
            "{name}"
        );
        if let Some((_, fixed)) = ON_THE_WIRE.iter().find(|(n, _)| n == name) {
            assert_eq!(got, fixed, "{name}");
        }
    }
}

/// The content squall-sink stores, with DATA and with BDAT, is the oracle's.
#[tokio::test]
async fn the_sink_stores_what_rfc_5321_says() {
    for chunking in [false, true] {
        let mut b = Sink::builder();
        if !chunking {
            b = b.disable("CHUNKING");
        }
        let s = b.start().await.unwrap();
        let c = Client::from_url(&s.url()).unwrap();
        for (name, body) in corpus() {
            c.send("a@example.org", ["b@example.net"], body.clone())
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let stored = s.take_messages().pop().expect("stored");
            assert_eq!(stored.data, expected(name, &body), "{name}, chunking {chunking}");
        }
    }
}
