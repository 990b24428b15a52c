use proptest::prelude::*;

use super::*;

/// Parses `input` three ways (whole, one byte at a time, followed by trailing bytes) and checks
/// that each gives `expected` and leaves exactly the trailing bytes unconsumed.
/// A reply as (code, lines).
type Expected<'a> = (u16, &'a [&'a str]);

fn check(input: &[u8], expected: &[Expected<'_>]) {
    let expected: Vec<Reply> = expected
        .iter()
        .map(|(c, lines)| {
            Reply::new(
                ReplyCode::new(*c).unwrap(),
                lines.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect();

    let mut p = ReplyParser::default();
    p.push(input);
    assert_eq!(drain(&mut p), expected, "whole input {input:?}");
    assert!(p.is_empty());

    let mut p = ReplyParser::default();
    let mut got = Vec::new();
    for (i, b) in input.iter().enumerate() {
        p.push(std::slice::from_ref(b));
        let more = drain(&mut p);
        if i + 1 < input.len() && !more.is_empty() {
            // A reply may only complete on its final LF.
            assert_eq!(*b, b'\n', "reply completed early at byte {i} of {input:?}");
        }
        got.extend(more);
    }
    assert_eq!(got, expected, "byte by byte {input:?}");

    let trailing = b"250-partial";
    let mut p = ReplyParser::default();
    p.push(input);
    p.push(trailing);
    assert_eq!(drain(&mut p), expected, "with trailing bytes {input:?}");
    assert_eq!(p.buffered(), trailing);
    assert!(!p.is_empty());
}

fn drain(p: &mut ReplyParser) -> Vec<Reply> {
    let mut out = Vec::new();
    while let Some(r) = p.next_reply().expect("valid input") {
        out.push(r);
    }
    out
}

fn error_of(input: &[u8], limits: ReplyLimits) -> ReplyError {
    let mut p = ReplyParser::new(limits);
    p.push(input);
    loop {
        match p.next_reply() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("no error for {input:?}"),
            Err(e) => {
                // Sticky: the stream is out of sync from here on.
                assert_eq!(p.next_reply(), Err(e.clone()));
                return e;
            }
        }
    }
}

#[test]
fn valid_replies() {
    let table: &[(&[u8], &[Expected<'_>])] = &[
        (
            b"220 mx.example.org ESMTP\r\n",
            &[(220, &["mx.example.org ESMTP"])],
        ),
        (b"250 \r\n", &[(250, &[""])]),
        (b"250\r\n", &[(250, &[""])]),
        (b"250 ok\n", &[(250, &["ok"])]),
        (
            b"250-mx\r\n250-PIPELINING\r\n250 \r\n",
            &[(250, &["mx", "PIPELINING", ""])],
        ),
        (
            b"250-234 text beginning with numbers\r\n250 done\r\n",
            &[(250, &["234 text beginning with numbers", "done"])],
        ),
        (
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n",
            &[(250, &["2.1.0 Ok"]), (250, &["2.1.5 Ok"]), (354, &["go ahead"])],
        ),
        (
            b"550-5.1.1 no\r\n550 5.1.1 such user\r\n",
            &[(550, &["5.1.1 no", "5.1.1 such user"])],
        ),
        (b"250 caf\xc3\xa9 \xff\r\n", &[(250, &["caf\u{e9} \u{fffd}"])]),
        (b"250 a\rb\r\n", &[(250, &["a\rb"])]),
        (b"599 x\r\n", &[(599, &["x"])]),
        (
            b"260 unusual second digit\r\n",
            &[(260, &["unusual second digit"])],
        ),
    ];
    for (input, expected) in table {
        check(input, expected);
    }
}

#[test]
fn malformed_replies() {
    let table: &[(&[u8], &str)] = &[
        (b"25\r\n", "three-digit"),
        (b"abc hi\r\n", "three-digit"),
        (b"\r\n", "three-digit"),
        (b"150 hi\r\n", "between 200 and 599"),
        (b"600 hi\r\n", "between 200 and 599"),
        (b"250_hi\r\n", "space or a hyphen"),
        (b"2500 hi\r\n", "space or a hyphen"),
    ];
    for (input, problem) in table {
        match error_of(input, ReplyLimits::default()) {
            ReplyError::Malformed { problem: p, .. } => assert!(p.contains(problem), "{input:?}: {p}"),
            e => panic!("{input:?}: {e}"),
        }
    }
    assert_eq!(
        error_of(b"250-a\r\n251 b\r\n", ReplyLimits::default()),
        ReplyError::CodeMismatch {
            first: ReplyCode::OK,
            got: ReplyCode::new(251).unwrap()
        }
    );
}

#[test]
fn bounds_are_enforced() {
    let limits = ReplyLimits {
        max_line_len: 16,
        max_lines: 3,
    };
    // Exactly at the limit is fine (16 bytes with CRLF).
    let mut p = ReplyParser::new(limits);
    p.push(b"250 0123456789\r\n");
    assert!(p.next_reply().unwrap().is_some());
    // One more, ended or not.
    assert_eq!(
        error_of(b"250 0123456789a\r\n", limits),
        ReplyError::LineTooLong { limit: 16 }
    );
    assert_eq!(
        error_of(&[b'2'; 100], limits),
        ReplyError::LineTooLong { limit: 16 }
    );
    assert_eq!(
        error_of(b"250-a\r\n250-b\r\n250-c\r\n250 d\r\n", limits),
        ReplyError::TooManyLines { limit: 3 }
    );
}

#[test]
fn unbounded_input_does_not_grow_the_buffer() {
    let mut p = ReplyParser::default();
    for _ in 0..100 {
        p.push(&[b'x'; 100]);
        if p.next_reply().is_err() {
            break;
        }
    }
    assert!(matches!(p.next_reply(), Err(ReplyError::LineTooLong { .. })));
    assert!(p.buffered().is_empty(), "the buffer is released after an error");
}

#[test]
fn consumed_bytes_are_released() {
    let mut p = ReplyParser::default();
    for _ in 0..10_000 {
        p.push(b"250 2.0.0 Ok\r\n250-a");
        assert!(p.next_reply().unwrap().is_some());
        p.push(b"\r\n250 b\r\n");
        assert!(p.next_reply().unwrap().is_some());
    }
    assert!(p.is_empty());
    assert!(p.buf.capacity() < 64 * 1024);
}

/// One generated reply: its code, its lines' texts, and whether its lines end in a bare LF.
#[derive(Clone, Debug)]
struct Generated {
    code: u16,
    texts: Vec<String>,
    bare_lf: bool,
}

impl Generated {
    fn wire(&self) -> Vec<u8> {
        let end = if self.bare_lf { "\n" } else { "\r\n" };
        let n = self.texts.len();
        let mut out = String::new();
        for (i, t) in self.texts.iter().enumerate() {
            let sep = if i + 1 == n { ' ' } else { '-' };
            out.push_str(&format!("{}{sep}{t}{end}", self.code));
        }
        out.into_bytes()
    }

    /// The lines the parser must give: the texts as generated, except that with a bare LF a CR
    /// just before it belongs to the line end (the documented line policy).
    fn expected_lines(&self) -> Vec<String> {
        self.texts
            .iter()
            .map(|t| match t.strip_suffix('\r') {
                Some(head) if self.bare_lf => head.to_string(),
                _ => t.clone(),
            })
            .collect()
    }
}

/// Replies whose texts hold any character but LF: non-ASCII, control characters, and stray CRs.
fn generated_reply() -> impl Strategy<Value = Generated> {
    let ch = prop_oneof![
        4 => prop::char::range(' ', '~'),
        2 => any::<char>().prop_filter("LF ends a line", |c| *c != '\n'),
        1 => Just('\r'),
    ];
    let text = prop::collection::vec(ch, 0..30).prop_map(String::from_iter);
    (200u16..600, prop::collection::vec(text, 1..5), any::<bool>())
        .prop_map(|(code, texts, bare_lf)| Generated { code, texts, bare_lf })
}

proptest! {
    /// Parsed whole or split anywhere, the replies are the generated ones: each code and each
    /// line's text, checked against what was generated rather than against a second parse.
    #[test]
    fn any_split_gives_the_generated_replies(
        replies in prop::collection::vec(generated_reply(), 1..6),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let stream: Vec<u8> = replies.iter().flat_map(Generated::wire).collect();
        let expected: Vec<(u16, Vec<String>)> =
            replies.iter().map(|r| (r.code, r.expected_lines())).collect();
        let seen = |got: Vec<Reply>| -> Vec<(u16, Vec<String>)> {
            got.into_iter().map(|r| (r.code().value(), r.lines().to_vec())).collect()
        };

        let mut whole = ReplyParser::default();
        whole.push(&stream);
        prop_assert_eq!(seen(drain(&mut whole)), expected.clone());
        prop_assert!(whole.is_empty());

        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        points.sort_unstable();
        let mut split = ReplyParser::default();
        let mut got = Vec::new();
        let mut start = 0;
        for p in points.into_iter().chain([stream.len()]) {
            split.push(&stream[start..p]);
            got.extend(drain(&mut split));
            start = p;
        }
        prop_assert_eq!(seen(got), expected);
        prop_assert!(split.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..8)) {
        let mut p = ReplyParser::new(ReplyLimits { max_line_len: 64, max_lines: 4 });
        for c in chunks {
            p.push(&c);
            while let Ok(Some(_)) = p.next_reply() {}
        }
    }
}
