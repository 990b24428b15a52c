//! Property tests of the session as a whole: whatever the server does, the session never panics,
//! every message gets exactly one outcome, and `Closed` comes once, last.

use std::time::Instant;

use proptest::prelude::*;

use super::*;
use crate::address::{EhloName, Mailbox, ReversePath};
use crate::envelope::Envelope;

use crate::fuzzing::{Harness, Kind, Op, REPLIES};

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        24 => (0usize..16).prop_map(Op::Answer),
        4 => (1usize..4, prop::sample::select(&Kind::ALL[..])).prop_map(|(n, k)| Op::Send(n, k)),
        4 => prop::collection::vec(prop_oneof![Just(b'.'), Just(b'\r'), Just(b'\n'), any::<u8>()], 0..200).prop_map(Op::Body),
        4 => Just(Op::Finish),
        1 => Just(Op::Abort),
        3 => prop_oneof![Just(Op::Tls(Certificate::Verified)), Just(Op::Tls(Certificate::Unverified))],
        1 => prop::sample::select(REPLIES).prop_map(Op::Reply),
        1 => prop::collection::vec(any::<u8>(), 0..24).prop_map(Op::Bytes),
        1 => Just(Op::Eof),
        1 => (0u64..700).prop_map(Op::Timeout),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn every_message_settles_exactly_once(
        config in any::<u8>(),
        chaos in any::<bool>(),
        ops in prop::collection::vec(op(), 0..200),
    ) {
        let mut h = Harness::new(crate::fuzzing::config(config));
        // Half the runs follow the dialog faithfully, so they reach the deep states.
        for op in ops.into_iter().filter(|op| chaos || !op.is_chaos()) {
            h.apply(op);
        }
        if let Err(e) = h.finish() {
            prop_assert!(false, "{}", e);
        }
    }
}

#[test]
fn failure_kinds() {
    use crate::reply::{Reply, ReplyCode};
    let reply = |c| Reply::new(ReplyCode::new(c).unwrap(), vec!["x".into()]);
    let f = |cause, rejected: Vec<RecipientReply>| Failure {
        id: MessageId(0),
        stage: Stage::Rcpt,
        cause,
        accepted: vec![],
        rejected,
        ambiguous: false,
    };
    let rcpt = |c| RecipientReply {
        recipient: Mailbox::parse("a@b.c").unwrap(),
        reply: reply(c),
    };
    assert_eq!(
        f(Cause::Rejected(reply(451)), vec![]).kind(),
        ErrorKind::Transient
    );
    assert_eq!(
        f(Cause::Rejected(reply(550)), vec![]).kind(),
        ErrorKind::Permanent
    );
    assert_eq!(
        f(Cause::NoValidRecipients, vec![rcpt(550), rcpt(452)]).kind(),
        ErrorKind::Transient
    );
    assert_eq!(
        f(Cause::NoValidRecipients, vec![rcpt(550)]).kind(),
        ErrorKind::Permanent
    );
    assert_eq!(f(Cause::ConnectionLost, vec![]).kind(), ErrorKind::Transient);
    assert_eq!(
        f(
            Cause::Local(crate::error::LocalError::SmtpUtf8Unsupported),
            vec![]
        )
        .kind(),
        ErrorKind::Local
    );
}

fn envelope() -> Envelope {
    Envelope::new(
        ReversePath::parse("a@example.org").unwrap(),
        [Mailbox::parse("b@example.net").unwrap()],
    )
    .unwrap()
}

#[test]
fn a_reply_to_a_command_not_yet_sent_is_a_protocol_error() {
    let now = Instant::now();
    let mut s = ClientSession::new(
        SessionConfig::new()
            .ehlo_name(EhloName::parse("c.example").unwrap())
            .tls(Tls::None),
        now,
    );
    // The EHLO reply arrives with the greeting, before EHLO left the client.
    s.handle_input(b"220 mx\r\n250 mx\r\n", now);
    let events: Vec<Event> = std::iter::from_fn(|| s.poll_event()).collect();
    assert!(
        matches!(
            events.last(),
            Some(Event::Closed(CloseReason::Protocol(
                crate::error::ProtocolError::Unsolicited(_)
            )))
        ),
        "{events:?}"
    );
    let mut out = Vec::new();
    assert!(
        !s.poll_transmit(now, &mut out),
        "nothing is sent after the session broke"
    );
}

#[test]
fn debug_never_shows_bytes_waiting_to_be_sent() {
    let now = Instant::now();
    let mut s = ClientSession::new(
        SessionConfig::new()
            .ehlo_name(EhloName::parse("c.example").unwrap())
            .tls(Tls::Implicit)
            .credentials(crate::auth::Credentials::password("joe", "hunter2").unwrap()),
        now,
    );
    s.handle_input(b"220 mx\r\n", now);
    s.poll_transmit(now, &mut Vec::new());
    s.handle_input(b"250-mx\r\n250 AUTH PLAIN\r\n", now);
    let shown = format!("{s:?}");
    assert!(shown.contains("bytes_to_send"), "{shown}");
    assert!(
        !shown.contains("AHRlc3Q") && !shown.contains("hunter2") && !shown.contains("AUTH"),
        "{shown}"
    );
}

#[test]
fn idle_and_in_flight() {
    let now = Instant::now();
    let mut s = ClientSession::new(
        SessionConfig::new()
            .ehlo_name(EhloName::parse("c.example").unwrap())
            .tls(Tls::None),
        now,
    );
    assert!(!s.is_idle());
    s.handle_input(b"220 mx\r\n", now);
    s.poll_transmit(now, &mut Vec::new());
    s.handle_input(b"250 mx\r\n", now);
    assert!(s.is_ready() && s.is_idle());
    let id = s.send_mail(envelope());
    assert_eq!(s.in_flight(), 1);
    assert!(!s.is_idle());
    assert_eq!(s.write_body(id, b"x"), Err(UsageError::BodyNotWanted(id)));
    assert_eq!(
        s.handle_tls_established(Certificate::Verified),
        Err(UsageError::NoTlsHandoff)
    );
}

#[test]
fn the_transcript_says_when_the_certificate_was_not_verified() {
    let now = Instant::now();
    let mut s = ClientSession::new(SessionConfig::new().tls(Tls::Opportunistic).transcript(true), now);
    s.handle_input(b"220 mx\r\n", now);
    s.poll_transmit(now, &mut Vec::new());
    s.handle_input(b"250-mx\r\n250 STARTTLS\r\n", now);
    s.poll_transmit(now, &mut Vec::new());
    s.handle_input(b"220 go\r\n", now);
    s.handle_tls_established(Certificate::Unverified).unwrap();
    assert_eq!(s.tls(), Some(Certificate::Unverified));
    let lines: Vec<String> = std::iter::from_fn(|| s.poll_transcript())
        .map(|l| l.to_string())
        .collect();
    assert!(
        lines.contains(&"*  TLS established (certificate not verified)".to_string()),
        "{lines:?}"
    );
}

/// h11's rule 1: the phase, each transaction's state and the reset state are written only in
/// `transitions.rs`, so every move the session can make is on one page.
#[test]
fn only_transitions_writes_state() {
    let files = [
        ("mod.rs", include_str!("mod.rs")),
        ("flow.rs", include_str!("flow.rs")),
        ("body.rs", include_str!("body.rs")),
        ("state.rs", include_str!("state.rs")),
        ("config.rs", include_str!("config.rs")),
        ("event.rs", include_str!("event.rs")),
    ];
    for (name, text) in files {
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for field in [
                ".phase = ",
                ".state = ",
                ".reset = ",
                ".encryption = ",
                "authenticated_with = ",
            ] {
                assert!(
                    !code.contains(field),
                    "{name}:{}: writes state outside transitions.rs: {line}",
                    n + 1
                );
            }
        }
    }
}
