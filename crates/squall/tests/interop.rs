//! Interop against SMTP servers nobody here wrote: Postfix smtp-sink and aiosmtpd.
//!
//! `scripts/test.sh` installs and starts them and passes their addresses in `SQUALL_PEER_*`;
//! there these tests are required. Each is `#[ignore]`d, so a plain `cargo test` reports them
//! ignored, never passed; `scripts/test.sh` runs them with `--include-ignored`.

use squall::{ErrorKind, Message};

mod common;
use common::oracle::{expected, stored};
use common::peers::{Peer, aiosmtpd_message, peer, unique, wait_for_file};
use common::{corpus, recorder};

/// The content smtp-sink dumped for the message to `rcpt`: its own header lines and Received
/// field removed, its LF line ends and appended blank line undone (it is not byte-exact).
fn smtp_sink_message(p: &Peer, rcpt: &str) -> (Vec<u8>, String) {
    let needle = format!("X-Rcpt-Args: <{rcpt}>");
    let dump = wait_for_file(&p.dir, |path| {
        let text = std::fs::read(path).ok()?;
        String::from_utf8_lossy(&text).contains(&needle).then_some(text)
    });
    let text = dump;
    let mut lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    let received = lines
        .iter()
        .position(|l| l.starts_with(b"Received:"))
        .expect("a Received field");
    let mut start = received + 1;
    while lines.get(start).is_some_and(|l| l.starts_with(b"\t")) {
        start += 1;
    }
    let header = String::from_utf8_lossy(&text[..])
        .lines()
        .take(received)
        .collect::<Vec<_>>()
        .join("\n");
    lines.drain(..start);
    // smtp-sink appends an empty line; the split leaves one more empty piece after the last LF.
    lines.truncate(lines.len().saturating_sub(2));
    let mut content = Vec::new();
    for l in lines {
        content.extend_from_slice(l);
        content.extend_from_slice(b"\r\n");
    }
    (content, header)
}

/// Sends each corpus message to its own recipient and hands (name, body, recipient) to `check`.
async fn send_corpus(p: &Peer, check: impl Fn(&str, &[u8], &str)) {
    let c = p.client().build().unwrap();
    for (name, body) in corpus() {
        let to = unique("corpus");
        c.send("sender@example.org", [to.as_str()], body.clone())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        check(name, &body, &to);
    }
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn aiosmtpd_stores_the_corpus_byte_exact() {
    let Some(p) = peer("AIOSMTPD") else { return };
    send_corpus(&p, |name, body, to| {
        let (eml, meta) = aiosmtpd_message(&p, to);
        assert_eq!(eml, expected(name, body), "{name}");
        assert_eq!(meta["mail_from"], "sender@example.org");
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn aiosmtpd_ten_mib_attachment() {
    let Some(p) = peer("AIOSMTPD") else { return };
    let c = p.client().build().unwrap();
    let to = unique("big");
    let data: Vec<u8> = (0..10 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let m = Message::builder()
        .from("sender@example.org")
        .to(&to)
        .subject("10 MiB")
        .text("attached")
        .attachment("blob.bin", "application/octet-stream", data.clone())
        .build()
        .unwrap();
    let r = c.send_message(&m).await.unwrap();
    let (eml, meta) = aiosmtpd_message(&p, &to);
    assert_eq!(eml, stored(&m.bytes()));
    assert_eq!(meta["size"].as_u64(), Some(r.size));
    let parsed = mail_parser::MessageParser::default().parse(&eml[..]).unwrap();
    assert_eq!(parsed.attachment(0).unwrap().contents(), &data[..]);
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn aiosmtpd_partial_delivery_is_reported() {
    let Some(p) = peer("AIOSMTPD") else { return };
    let c = p.client().build().unwrap();
    let ok = unique("ok");
    let bad = unique("reject");
    let later = unique("tempfail");
    let r = c
        .send(
            "sender@example.org",
            [ok.as_str(), bad.as_str(), later.as_str()],
            "Subject: partial\r\n\r\nhi\r\n",
        )
        .await
        .unwrap();
    assert_eq!(r.accepted.len(), 1);
    assert_eq!(r.accepted[0].recipient, ok);
    let codes: Vec<u16> = r.rejected.iter().map(|x| x.reply.code().value()).collect();
    assert_eq!(codes, [550, 451]);
    assert!(
        r.rejected[0]
            .to_string()
            .contains("the address does not exist there"),
        "{}",
        r.rejected[0].to_string()
    );
    let (_, meta) = aiosmtpd_message(&p, &ok);
    assert_eq!(meta["rcpt_tos"], serde_json::json!([ok]));

    // Every recipient refused: the message fails, with each refusal.
    let e = c
        .send(
            "sender@example.org",
            [bad.as_str()],
            "Subject: none\r\n\r\nhi\r\n",
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Permanent);
    assert!(e.is_recipients());
    assert_eq!(e.rejected()[0].recipient, bad);
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn aiosmtpd_helo_fallback() {
    let Some(p) = peer("AIOSMTPD_HELO") else { return };
    let (lines, log) = recorder();
    let c = p.client().transcript(log).build().unwrap();
    let to = unique("helo");
    c.send("sender@example.org", [to.as_str()], "Subject: helo\r\n\r\nhi\r\n")
        .await
        .unwrap();
    let (eml, _) = aiosmtpd_message(&p, &to);
    assert_eq!(eml, b"Subject: helo\r\n\r\nhi\r\n");
    let l = lines.lock().unwrap();
    assert!(l.iter().any(|x| x.starts_with("S: 502")), "{l:?}");
    assert!(l.iter().any(|x| x.starts_with("C: HELO ")), "{l:?}");
    assert!(
        l.iter().any(|x| x == "C: MAIL FROM:<sender@example.org>"),
        "no parameters after HELO: {l:?}"
    );
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn aiosmtpd_smtputf8_addresses() {
    let Some(p) = peer("AIOSMTPD") else { return };
    let c = p.client().build().unwrap();
    let to = unique("ä").replace("@example.org", "@exämple.org");
    c.send("bü@example.org", [to.as_str()], "Subject: utf8\r\n\r\nGrüße\r\n")
        .await
        .unwrap();
    let (_, meta) = aiosmtpd_message(&p, &to);
    assert_eq!(meta["mail_from"], "bü@example.org");
    let opts: Vec<&str> = meta["mail_options"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        opts.contains(&"SMTPUTF8") && opts.contains(&"BODY=8BITMIME"),
        "{opts:?}"
    );
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn aiosmtpd_many_concurrent_sends() {
    let Some(p) = peer("AIOSMTPD") else { return };
    let c = p.client().build().unwrap();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let to = unique(&format!("conc{i}"));
            let r = c
                .send(
                    "sender@example.org",
                    [to.as_str()],
                    format!("Subject: {i}\r\n\r\n{i}\r\n"),
                )
                .await;
            (i, to, r)
        }));
    }
    for t in tasks {
        let (i, to, r) = t.await.unwrap();
        let r = r.unwrap();
        assert_eq!(r.accepted[0].recipient, to);
        let (eml, meta) = aiosmtpd_message(&p, &to);
        assert_eq!(eml, format!("Subject: {i}\r\n\r\n{i}\r\n").into_bytes());
        assert_eq!(meta["id"].as_str(), r.queue_id.as_deref());
    }
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn smtp_sink_receives_the_corpus() {
    let Some(p) = peer("SMTP_SINK") else { return };
    send_corpus(&p, |name, body, to| {
        let (content, header) = smtp_sink_message(&p, to);
        let expected = expected(name, body);
        assert_eq!(
            String::from_utf8_lossy(&content),
            String::from_utf8_lossy(&expected),
            "{name}"
        );
        // smtp-sink offers no SIZE, so none may be sent.
        assert!(
            header.contains("X-Mail-Args: <sender@example.org>"),
            "{name}: {header}"
        );
        assert!(!header.contains("SIZE="), "{name}: {header}");
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn smtp_sink_pipelined_concurrent_sends_share_one_connection() {
    let Some(p) = peer("SMTP_SINK") else { return };
    let (lines, log) = recorder();
    let c = p.client().transcript(log).build().unwrap();
    let mut tasks = Vec::new();
    let mut rcpts = Vec::new();
    for i in 0..100 {
        let to = unique(&format!("pipe{i}"));
        rcpts.push(to.clone());
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.send(
                "sender@example.org",
                [to.as_str()],
                format!("Subject: {i}\r\n\r\n{i}\r\n"),
            )
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    c.shutdown().await;
    for (i, to) in rcpts.iter().enumerate() {
        let (content, _) = smtp_sink_message(&p, to);
        assert_eq!(content, format!("Subject: {i}\r\n\r\n{i}\r\n").into_bytes());
    }
    let l = lines.lock().unwrap();
    assert_eq!(
        l.iter().filter(|x| x.starts_with("C: EHLO")).count(),
        1,
        "one session for all"
    );
    assert_eq!(l.iter().filter(|x| x.starts_with("C: MAIL FROM")).count(), 100);
}
