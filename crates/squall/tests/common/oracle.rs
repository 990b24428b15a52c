//! An oracle for DATA transparency that shares nothing with squall: fixed vectors written by
//! hand from RFC 5321, and a reference written here from the same text, so that a bug in
//! `squall_proto::data` (which both the client and squall-sink use) cannot hide itself.
//!
//! The rules, from RFC 5321: lines end in CRLF (§2.3.8); the content ends with a line end
//! (§4.1.1.4); on the wire a line starting with `.` gets one more `.` and the content is
//! followed by `.` CRLF (§4.5.2). squall's policy for the rest (its crate docs): a bare CR or a
//! bare LF is a line end, and becomes CRLF.

/// Corpus messages (by the name `common::corpus` gives them) and the exact content a receiver
/// must store, written out by hand.
pub(crate) const STORED: &[(&str, &[u8])] = &[
    (
        "leading dots",
        b"Subject: dots\r\n\r\n.starts with a dot\r\n..two dots\r\n",
    ),
    ("lone dot", b"Subject: lone\r\n\r\nbefore\r\n.\r\nafter\r\n"),
    (
        "no final newline",
        b"Subject: open\r\n\r\nno newline at the end\r\n",
    ),
    ("empty", b""),
    ("bare line ends", b"Subject: lf\r\n\r\nline\r\n.dot\r\ncr\r\n"),
];

/// The same messages as DATA puts them on the wire, end of data included, by hand.
pub(crate) const ON_THE_WIRE: &[(&str, &[u8])] = &[
    (
        "leading dots",
        b"Subject: dots\r\n\r\n..starts with a dot\r\n...two dots\r\n.\r\n",
    ),
    ("lone dot", b"Subject: lone\r\n\r\nbefore\r\n..\r\nafter\r\n.\r\n"),
    (
        "no final newline",
        b"Subject: open\r\n\r\nno newline at the end\r\n.\r\n",
    ),
    ("empty", b".\r\n"),
    (
        "bare line ends",
        b"Subject: lf\r\n\r\nline\r\n..dot\r\ncr\r\n.\r\n",
    ),
];

/// The content a receiver stores for `body`: every CRLF, bare CR and bare LF one CRLF, and a
/// CRLF after a last line that has none.
pub(crate) fn stored(body: &[u8]) -> Vec<u8> {
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.iter().position(|&b| b == b'\r' || b == b'\n') {
        lines.push(&rest[..i]);
        let crlf = rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n');
        rest = &rest[i + if crlf { 2 } else { 1 }..];
    }
    if !rest.is_empty() {
        lines.push(rest);
    }
    lines
        .iter()
        .flat_map(|l| [*l, b"\r\n"])
        .flatten()
        .copied()
        .collect()
}

/// What DATA sends for `body`: [`stored`], each line starting with `.` given one more, then
/// the end of data.
pub(crate) fn on_the_wire(body: &[u8]) -> Vec<u8> {
    let content = stored(body);
    let mut out = Vec::new();
    for line in content.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// The content the oracle expects for a corpus message: the hand-written vector when there is
/// one (and then the reference must agree with it), else the reference.
pub(crate) fn expected(name: &str, body: &[u8]) -> Vec<u8> {
    let reference = stored(body);
    if let Some((_, fixed)) = STORED.iter().find(|(n, _)| *n == name) {
        assert_eq!(
            reference, *fixed,
            "{name}: the reference disagrees with the vector"
        );
    }
    reference
}
