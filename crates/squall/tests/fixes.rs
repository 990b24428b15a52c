//! Regression tests for what trying squall against real servers as a new user found (issue 10):
//! each test is named after the behaviour it pins down.

use std::time::Duration;

use squall::{Body, Certificate, Client, ErrorKind, Message, Stage, Tls};
use squall_sink::{Sink, SinkBuilder, SinkHandle};

mod common;
use common::pki;

async fn tls_sink(configure: impl FnOnce(SinkBuilder) -> SinkBuilder) -> SinkHandle {
    let p = pki(&["localhost", "127.0.0.1"]);
    let b = Sink::builder()
        .tls_pem(p.cert_pem.as_bytes(), p.key_pem.as_bytes())
        .unwrap();
    configure(b).start().await.unwrap()
}

fn plain(s: &SinkHandle) -> squall::ClientBuilder {
    Client::builder("127.0.0.1")
        .port(s.addr().port())
        .tls(Tls::None)
        .timeout(Duration::from_secs(10))
}

/// 1. Opportunistic TLS with a certificate from a private CA (no --ca-file): delivered,
/// encrypted, and reported unverified — not failed with UnknownIssuer.
#[tokio::test]
async fn opportunistic_tls_stays_encrypted_when_the_certificate_does_not_verify() {
    let s = tls_sink(|b| b).await;
    let c = Client::builder("localhost")
        .port(s.addr().port())
        .tls(Tls::Opportunistic)
        .build()
        .unwrap();
    let r = c.send("a@example.org", ["b@example.net"], "x").await.unwrap();
    let tls = r.tls.as_ref().expect("sent over TLS");
    assert_eq!(tls.certificate, Certificate::Unverified, "{tls}");
    assert!(!tls.is_verified());
    assert!(tls.problem.as_deref().unwrap().contains("UnknownIssuer"), "{tls}");
    assert!(tls.to_string().contains("NOT verified"), "{tls}");
    assert!(s.messages()[0].tls, "the sink received it inside TLS");
    // StartTls keeps full verification: the same server is refused.
    let strict = Client::builder("localhost")
        .port(s.addr().port())
        .tls(Tls::StartTls)
        .build()
        .unwrap();
    let e = strict
        .send("a@example.org", ["b@example.net"], "x")
        .await
        .unwrap_err();
    assert_eq!(
        (e.stage(), e.kind()),
        (Stage::StartTls, ErrorKind::Permanent),
        "{e}"
    );
}

/// 1. …but credentials never cross it unless insecure AUTH is allowed explicitly.
#[tokio::test]
async fn no_credentials_over_opportunistic_tls_that_did_not_verify() {
    let s = tls_sink(|b| b.user("joe", "pw")).await;
    let (lines, rec) = common::recorder();
    let c = Client::builder("localhost")
        .port(s.addr().port())
        .tls(Tls::Opportunistic)
        .credentials("joe", "pw")
        .transcript(rec)
        .build()
        .unwrap();
    let e = c.send("a@example.org", ["b@example.net"], "x").await.unwrap_err();
    assert_eq!(e.stage(), Stage::Auth, "{e}");
    assert!(e.is_config(), "{e:?}");
    assert!(e.to_string().contains("could not be verified"), "{e}");
    let l = lines.lock().unwrap().join("\n");
    assert!(l.contains("certificate not verified"), "{l}");
    assert!(!l.contains("C: AUTH") && !l.contains("C: MAIL"), "{l}");
    let allowed = Client::builder("localhost")
        .port(s.addr().port())
        .tls(Tls::Opportunistic)
        .credentials("joe", "pw")
        .allow_insecure_auth(true)
        .build()
        .unwrap();
    allowed
        .send("a@example.org", ["b@example.net"], "x")
        .await
        .unwrap();
    assert_eq!(s.messages()[0].auth.as_deref(), Some("joe"));
}

/// 2. A permanent setup failure fails every queued message at once, over one connection.
#[tokio::test]
async fn a_permanent_setup_failure_fails_every_queued_message_at_once() {
    let s = Sink::builder()
        .user("joe", "right")
        .auth_before_tls(true)
        .start()
        .await
        .unwrap();
    let c = plain(&s)
        .credentials("joe", "wrong")
        .allow_insecure_auth(true)
        .build()
        .unwrap();
    let subs: Vec<_> = (0..50)
        .map(|i| {
            c.submit(
                "a@example.org",
                ["b@example.net"],
                format!("Subject: {i}\r\n\r\nx\r\n"),
            )
            .unwrap()
        })
        .collect();
    for sub in subs {
        let e = sub.await.unwrap_err();
        assert!(e.is_auth_refused(), "{e}");
    }
    assert_eq!(c.connections_opened(), 1, "one connection told them all");
    assert_eq!(s.delivered(), 0);
}

/// 3. A file body declares its exact SIZE (and BODY=8BITMIME when it is 8-bit).
#[tokio::test]
async fn a_file_body_declares_its_size_and_8bitmime() {
    let s = Sink::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.eml");
    std::fs::write(&path, "Subject: grüße\n\nGrüße\n".as_bytes()).unwrap();
    let c = plain(&s).build().unwrap();
    let r = c
        .send(
            "a@example.org",
            ["b@example.net"],
            Body::file(&path).await.unwrap(),
        )
        .await;
    // Non-ASCII in the header section needs SMTPUTF8, which the sink offers.
    r.unwrap();
    let m = &s.messages()[0];
    let stored = m.data.len();
    assert!(
        m.mail_params.contains(&format!("SIZE={stored}")),
        "{:?}",
        m.mail_params
    );
    assert!(
        m.mail_params.contains(&"BODY=8BITMIME".to_string()),
        "{:?}",
        m.mail_params
    );
}

/// 3. 8-bit content for a server without 8BITMIME is refused before MAIL (bytes and files), and
/// a stream that turns out 8-bit is stopped, never stored.
#[tokio::test]
async fn eight_bit_content_is_refused_for_a_server_without_8bitmime() {
    let s = Sink::builder().disable("8BITMIME").start().await.unwrap();
    let (lines, rec) = common::recorder();
    let c = plain(&s).no_retry().transcript(rec).build().unwrap();
    let body = "Subject: x\r\n\r\nGrüße\r\n";
    let e = c
        .send("a@example.org", ["b@example.net"], body)
        .await
        .unwrap_err();
    assert_eq!((e.stage(), e.kind()), (Stage::Mail, ErrorKind::Local), "{e}");
    assert!(e.to_string().contains("8BITMIME"), "{e}");
    assert!(
        !lines.lock().unwrap().join("\n").contains("MAIL FROM"),
        "refused before MAIL"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.eml");
    std::fs::write(&path, body).unwrap();
    let e = c
        .send(
            "a@example.org",
            ["b@example.net"],
            Body::file(&path).await.unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!((e.stage(), e.kind()), (Stage::Mail, ErrorKind::Local), "{e}");
    let e = c
        .send(
            "a@example.org",
            ["b@example.net"],
            Body::from_reader(body.as_bytes()),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Local, "{e}");
    assert!(e.to_string().contains("8BITMIME"), "{e}");
    assert_eq!(s.delivered(), 0);
    // The client goes on.
    c.send("a@example.org", ["b@example.net"], "Subject: ok\r\n\r\nascii\r\n")
        .await
        .unwrap();
}

/// 4. A NUL or an ESC in a text body or a text attachment goes base64-encoded, never as 7bit.
#[tokio::test]
async fn control_bytes_in_text_go_base64() {
    let m = Message::builder()
        .from("a@example.org")
        .to("b@example.net")
        .text("nul \0 here, esc \x1b[31m there")
        .attachment("notes.txt", "text/plain", b"bare\rcr and nul\0".to_vec())
        .build()
        .unwrap();
    let wire = String::from_utf8(m.bytes().to_vec()).unwrap();
    assert!(!wire.contains('\0') && !wire.contains('\x1b'), "{wire:?}");
    assert!(!wire.contains("Content-Transfer-Encoding: 7bit"), "{wire}");
    assert_eq!(
        wire.matches("Content-Transfer-Encoding: base64").count(),
        2,
        "{wire}"
    );
    let s = Sink::start().await.unwrap();
    plain(&s).build().unwrap().send_message(&m).await.unwrap();
    let stored = s.messages().remove(0).data;
    let parsed = mail_parser::MessageParser::default().parse(&stored).unwrap();
    assert_eq!(parsed.body_text(0).unwrap(), "nul \0 here, esc \x1b[31m there");
    assert_eq!(parsed.attachment(0).unwrap().contents(), b"bare\rcr and nul\0");
}

/// 5. The same address as To and Bcc (in any case) gets one RCPT.
#[tokio::test]
async fn a_repeated_recipient_gets_one_rcpt() {
    let s = Sink::start().await.unwrap();
    let c = plain(&s).build().unwrap();
    let m = Message::builder()
        .from("a@example.org")
        .to("b@example.net")
        .bcc("B@example.net")
        .build()
        .unwrap();
    c.send_message(&m).await.unwrap();
    c.send("a@example.org", ["c@example.net", "c@example.net"], "x")
        .await
        .unwrap();
    let got: Vec<Vec<String>> = s.messages().into_iter().map(|m| m.rcpt_to).collect();
    assert_eq!(
        got,
        [
            vec!["b@example.net".to_string()],
            vec!["c@example.net".to_string()]
        ]
    );
}

/// 7. A file too large for the server is refused before any content is sent, with its real
/// size (it was 67,117,378 bytes "at most" for a ~106 MB file: the size reached when it was cut).
#[tokio::test]
async fn a_large_file_is_refused_with_its_real_size() {
    let s = Sink::builder().size_limit(1_000_000).start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.eml");
    let line = "x".repeat(76) + "\r\n";
    let mut content = String::from("Subject: big\r\n\r\n");
    while content.len() < 3_000_000 {
        content.push_str(&line);
    }
    std::fs::write(&path, &content).unwrap();
    let e = plain(&s)
        .build()
        .unwrap()
        .send(
            "a@example.org",
            ["b@example.net"],
            Body::file(&path).await.unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!((e.stage(), e.kind()), (Stage::Mail, ErrorKind::Local), "{e}");
    assert!(
        e.to_string().contains(&format!(
            "the message is {} bytes but the server accepts at most 1000000",
            content.len()
        )),
        "{e}"
    );
}
