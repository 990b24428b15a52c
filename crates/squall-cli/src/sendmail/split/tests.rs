//! Each case is checked three ways (h11's `tr`): the whole input at once, one byte at a time,
//! and cut in two at every point.

use super::*;

/// What `input` gives, fed in pieces of `size` bytes (the last call says the end was reached).
fn in_pieces(input: &[u8], size: usize) -> Result<Split, SplitError> {
    let mut s = Splitter::new();
    let mut seen = Vec::new();
    for piece in input.chunks(size.max(1)) {
        seen.extend_from_slice(piece);
        if let Some(found) = s.scan(&seen, false)? {
            return Ok(found);
        }
    }
    Ok(s.scan(&seen, true)?.expect("an answer at the end"))
}

fn cut_at(input: &[u8], at: usize) -> Result<Split, SplitError> {
    let mut s = Splitter::new();
    if let Some(found) = s.scan(&input[..at], false)? {
        return Ok(found);
    }
    Ok(s.scan(input, true)?.expect("an answer at the end"))
}

/// The split of `input`, after checking that every way of feeding it agrees.
fn check(input: &[u8]) -> Result<Split, SplitError> {
    let whole = split(input);
    assert_eq!(in_pieces(input, 1), whole, "byte by byte: {:?}", show(input));
    for at in 0..=input.len() {
        assert_eq!(cut_at(input, at), whole, "cut at {at}: {:?}", show(input));
    }
    whole
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The header and the body of `input` as text.
fn parts(input: &[u8]) -> (String, String) {
    let s = check(input).unwrap();
    (show(&input[s.start..s.end]), show(&input[s.end..]))
}

#[test]
fn fields_continuations_and_the_blank_line() {
    let m = b"To: a@example.org,\r\n b@example.org\r\nSubject: x\r\n\r\nbody\r\n";
    assert_eq!(
        check(m),
        Ok(Split {
            start: 0,
            end: 48,
            blank: true
        })
    );
    assert_eq!(parts(b"To: a\n\nBcc: body\n").1, "\nBcc: body\n");
    assert_eq!(
        parts(b"To: a\nnot a field\nBcc: b\n\n"),
        ("To: a\n".into(), "not a field\nBcc: b\n\n".into())
    );
    assert_eq!(
        parts(b"To: a\nSubject: x"),
        ("To: a\nSubject: x".into(), String::new())
    );
    assert_eq!(
        check(b"To: a\n"),
        Ok(Split {
            start: 0,
            end: 6,
            blank: false
        })
    );
    assert_eq!(parts(b"just text\n"), (String::new(), "just text\n".into()));
    assert_eq!(
        parts(b" indented\nTo: a\n"),
        (String::new(), " indented\nTo: a\n".into())
    );
    assert_eq!(parts(b""), (String::new(), String::new()));
    assert_eq!(parts(b"\n"), (String::new(), "\n".into()));
}

#[test]
fn bare_cr_in_header_cannot_add_a_bcc() {
    // The issue's three cases: each would be a line break on the wire.
    assert_eq!(
        check(b"Subject: x\rBcc: hidden@example.org\n\nbody\n"),
        Err(SplitError::BareCr { line: 1 })
    );
    assert_eq!(
        check(b"From: a@example.org\nTo: b@example.org\rBcc: h@example.org\n\n"),
        Err(SplitError::BareCr { line: 2 })
    );
    assert_eq!(
        check(b"Subject: x\r\rBcc: h@example.org\n\n"),
        Err(SplitError::BareCr { line: 1 })
    );
    // A blank line ended by a bare CR, a CR at the very end, a CR before CRLF.
    assert_eq!(check(b"To: a\n\rbody"), Err(SplitError::BareCr { line: 2 }));
    assert_eq!(check(b"To: a\r"), Err(SplitError::BareCr { line: 1 }));
    assert_eq!(check(b"To: a\r\r\n\r\n"), Err(SplitError::BareCr { line: 1 }));
    assert_eq!(check(b"To: a\n b\rc\n\n"), Err(SplitError::BareCr { line: 2 }));
    // In the body, a bare CR is only a line end, as sent.
    assert_eq!(parts(b"To: a\n\nx\ry\r").1, "\nx\ry\r");
    assert_eq!(parts(b"not a field\rBcc: x\n").0, "");
}

#[test]
fn obsolete_space_before_colon_is_a_header() {
    assert_eq!(
        parts(b"To: a@example.org\nBcc : x@example.org\nSubject\t\t: s\n\nbody\n"),
        (
            "To: a@example.org\nBcc : x@example.org\nSubject\t\t: s\n".into(),
            "\nbody\n".into()
        )
    );
    // But not a space inside the name, and not nothing before the colon.
    assert_eq!(parts(b"To: a\nB cc: x\n").0, "To: a\n");
    assert_eq!(parts(b"To: a\n: x\n").0, "To: a\n");
    assert_eq!(parts(b"To: a\n  : x\n").0, "To: a\n  : x\n", "a continuation");
}

#[test]
fn mbox_from_line_is_dropped() {
    let m = b"From alice@example.org Mon Jan  1 00:00:00 2024\nTo: b@example.org\nBcc: c@example.org\n\nhi\n";
    let s = check(m).unwrap();
    assert_eq!(
        show(&m[s.start..s.end]),
        "To: b@example.org\nBcc: c@example.org\n"
    );
    assert!(s.blank);
    // Only as the first line; `From :` with the obsolete space is a field; `From` alone is
    // an mbox line with nothing after it.
    assert_eq!(parts(b"To: a\nFrom x\n").0, "To: a\n");
    assert_eq!(check(b"From : a@example.org\n\n").unwrap().start, 0);
    assert_eq!(check(b"From \n\n").unwrap().start, 6);
    assert_eq!(parts(b"From x\nbody\n"), (String::new(), "body\n".into()));
    // Its line ends are read as sent too.
    assert_eq!(check(b"From x\rTo: a\n\n"), Err(SplitError::BareCr { line: 1 }));
}

#[test]
fn nul_in_a_header_line_is_refused() {
    assert_eq!(
        check(b"To: a@example.org\0, b@example.org\n\n"),
        Err(SplitError::Nul { line: 1 })
    );
    assert_eq!(check(b"To: a\n \0b\n\n"), Err(SplitError::Nul { line: 2 }));
    assert_eq!(
        parts(b"To: a\n\n\0\n").1,
        "\n\0\n",
        "a NUL in the body is the server's concern"
    );
    assert_eq!(
        parts(b"\0To: a\n").0,
        "",
        "a line starting with NUL is not a field"
    );
}

#[test]
fn a_name_with_its_colon_past_998_octets_is_not_a_field() {
    let mut m = vec![b'X'; 997];
    m.extend_from_slice(b": y\n\n");
    assert_eq!(check(&m).unwrap().end, 1001);
    let mut m = vec![b'X'; 998];
    m.extend_from_slice(b": y\n\n");
    assert_eq!(check(&m).unwrap().end, 0);
    // Decided at 998 octets without a colon, without waiting for the rest of the line.
    let mut s = Splitter::new();
    assert_eq!(s.scan(&[b'Y'; 997], false), Ok(None));
    assert_eq!(s.scan(&[b'Y'; 998], false).unwrap().unwrap().end, 0);
}

#[test]
fn a_header_over_the_limit_is_refused_without_waiting_for_its_end() {
    let mut m = b"Subject: ".to_vec();
    m.resize(10 << 20, b'x');
    let mut s = Splitter::new();
    assert_eq!(s.scan(&m[..MAX_HEADER], false), Ok(None));
    assert_eq!(s.scan(&m[..MAX_HEADER + 1], false), Err(SplitError::TooLong));
    assert_eq!(split(&m), Err(SplitError::TooLong));
    // Many short fields count together; exactly the limit is allowed.
    let line = b"X-Filler: 0123456789012345678901234567890123456789012345678901234567890\n";
    let mut m = line.repeat(MAX_HEADER / line.len() - 1);
    let rest = MAX_HEADER - m.len() - b"X-Last: \n".len();
    m.extend_from_slice(b"X-Last: ");
    m.extend(std::iter::repeat_n(b'y', rest));
    m.push(b'\n');
    assert_eq!(m.len(), MAX_HEADER);
    assert_eq!(split(&m).map(|s| s.end), Ok(MAX_HEADER));
    m.insert(0, b'y');
    assert_eq!(split(&m), Err(SplitError::TooLong));
    // A long first line that is no field is body, however long.
    let body = vec![b'A'; 3 << 20];
    assert_eq!(split(&body).map(|s| s.end), Ok(0));
}

#[test]
fn errors_say_what_to_do() {
    let e = SplitError::BareCr { line: 3 }.to_string();
    assert!(e.contains("line 3") && e.contains("LF or CRLF"), "{e}");
    assert!(SplitError::TooLong.to_string().contains("1024 KiB"));
}
