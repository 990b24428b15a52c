//! Hostile input: issue 11, items 10 (size arithmetic), 11 (control bytes), 12 (paths) and 13
//! (over-long lines). Each test is named after its finding and talks to a sink in process.

mod common;

use std::time::Duration;

use common::{Smtp, send_data};
use squall_sink::Sink;

#[tokio::test]
async fn size_limit_max_does_not_overflow_bdat() {
    let s = Sink::builder().size_limit(u64::MAX).start().await.unwrap();
    let mut c = Smtp::ehlo(s.addr()).await;
    c.ok("MAIL FROM:<a@example.org>", "250").await;
    c.ok("RCPT TO:<b@example.org>", "250").await;
    c.send(b"BDAT 7\r\nSubject").await;
    assert_eq!(c.reply().await, "250 2.0.0 Ok: 7 bytes");
    c.send(b"BDAT 8 LAST\r\n: x\r\n\r\nh").await;
    assert!(c.reply().await.starts_with("250 2.0.0 Ok: queued"));
    let m = &s.messages()[0];
    assert_eq!(m.data, b"Subject: x\r\n\r\nh");
    assert_eq!(m.size, 15);
    // A declared size at the very top, or past 64 bits, is not an error either.
    c.ok("MAIL FROM:<a@example.org> SIZE=18446744073709551615", "250")
        .await;
    c.ok("RSET", "250").await;
    c.ok("MAIL FROM:<a@example.org> SIZE=99999999999999999999999", "250")
        .await;
}

#[tokio::test]
async fn size_limit_zero_means_no_limit() {
    let s = Sink::builder().size_limit(0).start().await.unwrap();
    let mut c = Smtp::connect(s.addr()).await;
    let ehlo = c.cmd("EHLO client.example").await;
    assert!(ehlo.lines().any(|l| l == "250-SIZE"), "bare SIZE: {ehlo}");
    c.ok("MAIL FROM:<a@example.org> SIZE=99999999999999", "250").await;
    c.ok("RCPT TO:<b@example.org>", "250").await;
    c.ok("DATA", "354").await;
    c.send(vec![b'x'; 100_000]).await;
    c.send(b"\r\n.\r\n").await;
    assert!(c.reply().await.starts_with("250 "));
    c.ok("MAIL FROM:<a@example.org>", "250").await;
    c.ok("RCPT TO:<b@example.org>", "250").await;
    c.send(b"BDAT 3 LAST\r\nabc").await;
    assert!(c.reply().await.starts_with("250 "));
    assert_eq!(s.messages()[0].size, 100_002);
    assert_eq!(s.messages()[1].data, b"abc");
}

#[tokio::test]
async fn size_limit_is_enforced_with_data_and_bdat() {
    let s = Sink::builder().size_limit(10).start().await.unwrap();
    let mut c = Smtp::ehlo(s.addr()).await;
    c.ok("MAIL FROM:<a@example.org> SIZE=11", "552").await;
    let r = send_data(&mut c, "a@example.org", "b@example.org", b"0123456789\r\n").await;
    assert!(r.starts_with("552 "), "{r}");
    c.ok("MAIL FROM:<a@example.org>", "250").await;
    c.ok("RCPT TO:<b@example.org>", "250").await;
    c.send(b"BDAT 6\r\n012345").await;
    assert!(c.reply().await.starts_with("250 "));
    c.send(b"BDAT 5 LAST\r\n67890").await;
    assert!(c.reply().await.starts_with("552 "));
    c.ok("RSET", "250").await;
    let r = send_data(&mut c, "a@example.org", "b@example.org", b"01234567\r\n").await;
    assert!(r.starts_with("250 "), "exactly the limit is fine: {r}");
    assert_eq!(s.delivered(), 1);
}

/// ESC, CR, NUL and other controls in a command are refused before they are looked at, and
/// what is accepted is escaped in the sink's log line.
#[tokio::test]
async fn control_bytes_in_envelope_never_reach_the_log_line() {
    let s = Sink::builder().start().await.unwrap();
    let mut c = Smtp::ehlo(s.addr()).await;
    for line in [
        &b"MAIL FROM:<a\x1b[2J@example.org>\r\n"[..],
        b"MAIL FROM:<a@example.org>\rRCPT TO:<x@y>\r\n",
        b"MAIL FROM:<a\0@example.org>\r\n",
        b"MAIL FROM:<a@example.org>\x07\r\n",
        b"EHLO evil\x1b]0;title\x07\r\n",
        b"MAIL FROM:<\xff@example.org>\r\n",
    ] {
        c.send(line).await;
        let r = c.reply().await;
        assert!(r.starts_with("500 5.5.2"), "{line:?} -> {r}");
    }
    // RFC 6531 lets UTF-8 in, including characters that change how text is displayed.
    c.ok("MAIL FROM:<a@example.org> SMTPUTF8", "250").await;
    c.ok("RCPT TO:<evil\u{202e}gro.elpmaxe@example.org>", "250").await;
    c.ok("RCPT TO:<\"a\\\\b\"@example.org>", "250").await;
    c.ok("DATA", "354").await;
    c.send(b"hi\r\n.\r\n").await;
    assert!(c.reply().await.starts_with("250 "));
    let line = s.messages()[0].summary();
    assert!(
        !line.chars().any(|ch| ch.is_control() || ch == '\u{202e}'),
        "{line:?}"
    );
    assert!(line.contains("evil\\u{202e}gro"), "{line}");
    assert!(line.contains(r#""a\\\\b"@example.org"#), "{line}");
    assert_eq!(
        squall_sink::escape("to <x\x1b[31m@y>\r\n"),
        "to <x\\x1b[31m@y>\\r\\n"
    );
}

#[tokio::test]
async fn quoted_local_part_cannot_inject_parameters() {
    let s = Sink::builder().start().await.unwrap();
    let mut c = Smtp::ehlo(s.addr()).await;
    c.ok("MAIL FROM:<\"a> SIZE=1\"@example.org>", "250").await;
    c.ok("RCPT TO:<\"x> NOTIFY=SUCCESS\"@example.org>", "250").await;
    c.ok("RCPT TO:<\"y>\"@example.org> NOTIFY=NEVER", "250").await;
    c.ok("DATA", "354").await;
    c.send(b"hi\r\n.\r\n").await;
    assert!(c.reply().await.starts_with("250 "));
    let m = &s.messages()[0];
    assert_eq!(m.mail_from, "\"a> SIZE=1\"@example.org");
    assert!(m.mail_params.is_empty());
    assert_eq!(
        m.rcpt_to,
        ["\"x> NOTIFY=SUCCESS\"@example.org", "\"y>\"@example.org"]
    );
    assert_eq!(m.rcpt_params, [vec![], vec!["NOTIFY=NEVER".to_string()]]);
}

#[tokio::test]
async fn malformed_paths_are_answered_501() {
    let s = Sink::builder().start().await.unwrap();
    let mut c = Smtp::ehlo(s.addr()).await;
    for (line, code) in [
        ("MAIL FROM:a@example.org", "501 5.1.7"),
        ("MAIL FROM:<a b@example.org>", "501 5.1.7"),
        ("MAIL FROM:<\"unclosed@example.org>", "501 5.1.7"),
        ("MAIL FROM:<a@example.org> SIZE=", "501 5.5.4"),
        ("MAIL FROM:<a@example.org>SIZE=1", "501 5.1.7"),
    ] {
        c.ok(line, code).await;
    }
    c.ok("MAIL FROM:<@relay.example:a@example.org>", "250").await;
    for (line, code) in [
        ("RCPT TO:<>", "501 5.1.3"),
        ("RCPT TO:<b@example.org", "501 5.1.3"),
        ("RCPT TO:<b@-example.org>", "501 5.1.3"),
        ("RCPT TO:<b@[300.1.1.1]>", "501 5.1.3"),
        ("RCPT TO:<b..c@example.org>", "501 5.1.3"),
        ("RCPT TO:<b@example.org> =x", "501 5.5.4"),
    ] {
        c.ok(line, code).await;
    }
    c.ok("RCPT TO:<Postmaster>", "250").await;
    c.ok("RCPT TO:<b@[IPv6:2001:db8::1]>", "250").await;
    assert_eq!(s.delivered(), 0);
}

#[tokio::test]
async fn overlong_command_tail_is_not_executed() {
    let s = Sink::builder().start().await.unwrap();
    for piece in [usize::MAX, 1000, 4096] {
        let mut c = Smtp::ehlo(s.addr()).await;
        let mut input = vec![b'x'; 659_000];
        input.extend_from_slice(b"MAIL FROM:<tail-exec@x.org>\r\nNOOP\r\n");
        for chunk in input.chunks(piece.min(input.len())) {
            c.send(chunk).await;
        }
        assert_eq!(c.reply().await, "500 5.5.2 Error: line too long");
        assert_eq!(
            c.reply().await,
            "250 2.0.0 Ok",
            "the NOOP after it, nothing between"
        );
        // The tail was no MAIL command: there is no transaction.
        c.ok("RCPT TO:<b@example.org>", "503").await;
    }
}

#[tokio::test]
async fn overlong_command_is_answered_once_even_when_it_trickles_in() {
    let s = Sink::builder().start().await.unwrap();
    let mut c = Smtp::ehlo(s.addr()).await;
    for _ in 0..50 {
        c.send(vec![b'y'; 5000]).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    c.send(b" tail\r\nNOOP\r\n").await;
    assert_eq!(c.reply().await, "500 5.5.2 Error: line too long");
    assert_eq!(c.reply().await, "250 2.0.0 Ok");
    // An over-long AUTH answer is refused once too, and ends the exchange.
    let s = Sink::builder()
        .user("joe", "secret")
        .auth_before_tls(true)
        .start()
        .await
        .unwrap();
    let mut c = Smtp::ehlo(s.addr()).await;
    c.ok("AUTH LOGIN", "334").await;
    c.send(vec![b'A'; 20_000]).await;
    c.send(b"\r\nNOOP\r\n").await;
    assert!(c.reply().await.starts_with("500 5.5.6"));
    assert_eq!(c.reply().await, "250 2.0.0 Ok");
}
