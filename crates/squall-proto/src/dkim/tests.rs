use super::*;

fn canon_body(c: Canonicalization, pieces: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = BodyCanonicalizer::new(c);
    for p in pieces {
        b.push(p, &mut |x| out.extend_from_slice(x));
    }
    b.finish(&mut |x| out.extend_from_slice(x));
    out
}

fn canon_header(c: Canonicalization, raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields(raw) {
        header::canonical(c, f.raw, &mut out);
    }
    out
}

/// RFC 6376 §3.4.5, both examples.
#[test]
fn the_rfc_examples() {
    let h = b"A: X\r\nB : Y\t\r\n\tZ  \r\n";
    assert_eq!(canon_header(Canonicalization::Relaxed, h), b"a:X\r\nb:Y Z\r\n");
    assert_eq!(canon_header(Canonicalization::Simple, h), h);
    let body: &[u8] = b" C \r\nD \t E\r\n\r\n\r\n";
    assert_eq!(canon_body(Canonicalization::Relaxed, &[body]), b" C\r\nD E\r\n");
    assert_eq!(
        canon_body(Canonicalization::Simple, &[body]),
        b" C \r\nD \t E\r\n"
    );
}

#[test]
fn empty_bodies_and_missing_final_line_ends() {
    use Canonicalization::{Relaxed, Simple};
    assert_eq!(canon_body(Simple, &[]), b"\r\n");
    assert_eq!(canon_body(Relaxed, &[]), b"");
    assert_eq!(canon_body(Simple, &[b"\r\n\r\n"]), b"\r\n");
    assert_eq!(canon_body(Relaxed, &[b"  \r\n\t\r\n"]), b"");
    assert_eq!(canon_body(Simple, &[b"  \r\n"]), b"  \r\n");
    assert_eq!(canon_body(Simple, &[b"x"]), b"x\r\n");
    assert_eq!(canon_body(Relaxed, &[b"x  "]), b"x\r\n");
    // Empty lines inside the body are kept.
    assert_eq!(
        canon_body(Relaxed, &[b"a\r\n\r\n \r\nb\r\n"]),
        b"a\r\n\r\n\r\nb\r\n"
    );
}

/// Every split of the input gives the same canonical body as the whole.
#[test]
fn pieces_split_anywhere_give_the_same_body() {
    let body: &[u8] = b"  lead\t\r\nmid  dle \r\n\r\n \t\r\nend \r\n\r\n";
    for c in [Canonicalization::Simple, Canonicalization::Relaxed] {
        let whole = canon_body(c, &[body]);
        for i in 0..=body.len() {
            for j in i..=body.len() {
                let got = canon_body(c, &[&body[..i], &body[i..j], &body[j..]]);
                assert_eq!(got, whole, "{c:?} split at {i},{j}");
            }
        }
    }
}

fn read(c: Canonicalization, pieces: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
    let mut body = Vec::new();
    let mut r = Canonicalizer::new(c);
    for p in pieces {
        r.push(p, &mut |x| body.extend_from_slice(x)).unwrap();
    }
    let header = r.finish(&mut |x| body.extend_from_slice(x)).unwrap();
    (header, body)
}

#[test]
fn the_header_section_ends_at_the_first_empty_line_wherever_the_pieces_split() {
    let m: &[u8] = b"From: a@x\nSubject: s\n\nbody\n\nmore\n";
    let whole = read(Canonicalization::Simple, &[m]);
    assert_eq!(whole.0, b"From: a@x\r\nSubject: s\r\n");
    assert_eq!(whole.1, b"body\r\n\r\nmore\r\n");
    for i in 0..=m.len() {
        assert_eq!(
            read(Canonicalization::Simple, &[&m[..i], &m[i..]]),
            whole,
            "split at {i}"
        );
    }
    // No empty line: all header. An empty header section: all body.
    assert_eq!(
        read(Canonicalization::Relaxed, &[b"From: a@x"]),
        (b"From: a@x\r\n".to_vec(), vec![])
    );
    assert_eq!(
        read(Canonicalization::Relaxed, &[b"\r\nbody"]),
        (vec![], b"body\r\n".to_vec())
    );
}

#[test]
fn a_header_section_without_end_is_refused_past_the_limit() {
    let mut r = Canonicalizer::new(Canonicalization::Relaxed);
    let line = [b'X'; 1000];
    let mut err = None;
    for _ in 0..(HEADER_LIMIT / 1000 + 2) {
        if let Err(e) = r.push(&line, &mut |_| {}) {
            err = Some(e);
            break;
        }
    }
    assert_eq!(err, Some(DkimError::HeaderTooLarge));
}

#[test]
fn fields_keep_their_folded_lines() {
    let f = fields(b"From: a\r\nTo: b,\r\n c\r\n\tD\r\nX:y\r\n");
    let names: Vec<_> = f.iter().map(|f| f.name).collect();
    assert_eq!(names, [&b"From"[..], b"To", b"X"]);
    assert_eq!(f[1].raw, b"To: b,\r\n c\r\n\tD\r\n");
}

fn header_for(t: &Template, section: &[u8]) -> (String, Vec<u8>) {
    let mut signed = Vec::new();
    let h = t
        .header(section, &[0u8; 32], 1_700_000_000, |d| {
            signed = d.to_vec();
            Ok::<_, DkimError>(vec![0xAB; 256])
        })
        .unwrap();
    (h, signed)
}

#[test]
fn from_is_oversigned_and_repeated_fields_are_taken_from_the_bottom() {
    let t = Template::new("Example.ORG", "s1", "rsa-sha256").unwrap();
    let section = b"Received: x\r\nFrom: A <a@example.org>\r\nTo: first\r\nSubject: hi\r\nTo: second\r\n";
    let (h, signed) = header_for(&t, section);
    let unfolded = h.replace("\r\n\t", " ");
    assert!(unfolded.contains(" h=from:from:subject:to:to;"), "{h}");
    assert!(unfolded.contains(" d=example.org;"), "{h}");
    assert!(!unfolded.contains("received"), "{h}");
    let signed = String::from_utf8(signed).unwrap();
    assert!(
        signed.starts_with("from:A <a@example.org>\r\nsubject:hi\r\nto:second\r\nto:first\r\ndkim-signature:v=1; a=rsa-sha256;"),
        "{signed}"
    );
    assert!(
        signed.ends_with("b="),
        "the own field is signed without its value or CRLF: {signed}"
    );
    // Lines are folded within 78 characters, and the field ends its line.
    assert!(
        h.ends_with("\r\n") && h.split("\r\n").all(|l| l.len() <= 78),
        "{h}"
    );
}

#[test]
fn simple_header_canonicalization_signs_the_field_as_written() {
    let t = Template::new("example.org", "s1", "ed25519-sha256")
        .unwrap()
        .canonicalization(Canonicalization::Simple, Canonicalization::Simple);
    let (h, signed) = header_for(&t, b"From: a@example.org\r\n");
    let b_at = h.rfind("b=").unwrap();
    let mut expected = b"From: a@example.org\r\n".to_vec();
    expected.extend_from_slice(&h.as_bytes()[..b_at + 2]);
    assert_eq!(signed, expected);
    assert!(h.contains("c=simple/simple;"));
}

#[test]
fn a_message_without_from_cannot_be_signed() {
    let t = Template::new("example.org", "s1", "rsa-sha256").unwrap();
    let r = t.header(b"To: b\r\n", &[0; 32], 0, |_| Ok::<_, DkimError>(vec![]));
    assert_eq!(r, Err(DkimError::NoFrom));
}

/// Nothing a caller gives can add a tag or a line to the field.
#[test]
fn hostile_tag_values_are_refused() {
    for d in [
        "example.org;x=1",
        "example.org\r\nBcc: x",
        "",
        "a..b",
        "-a.org",
        "exämple.org",
        "a b",
    ] {
        assert!(Template::new(d, "s1", "rsa-sha256").is_err(), "domain {d:?}");
        assert!(
            Template::new("example.org", d, "rsa-sha256").is_err(),
            "selector {d:?}"
        );
    }
    assert!(Template::new("example.org", "s1", "rsa-sha1").is_err());
    let t = Template::new("example.org", "s1", "rsa-sha256").unwrap();
    for h in ["Sub:ject", "A B", "X\r\n", ""] {
        assert!(t.clone().headers([h]).is_err(), "header {h:?}");
    }
    for i in [
        "a;b@example.org",
        "a@other.org",
        "a@example.org\r\n",
        "noat",
        "a=b@example.org",
    ] {
        assert!(t.clone().identity(i).is_err(), "identity {i:?}");
    }
    assert!(t.clone().identity("bounces@mail.example.org").is_ok());
    let without_from = t.headers(["Subject"]).unwrap();
    let (h, _) = header_for(&without_from, b"From: a\r\nSubject: s\r\n");
    assert!(h.replace("\r\n\t", " ").contains("h=from:from:subject;"), "{h}");
}

#[test]
fn rewritten_line_ends_are_noticed() {
    for (m, rewrote) in [
        (&b"A: b\r\n\r\nx\r\n"[..], false),
        (b"A: b\r\n\r\nx", false),
        (b"A: b\n\nx", true),
        (b"A: b\r\n\r\nx\r", true),
    ] {
        let mut r = Canonicalizer::new(Canonicalization::Simple);
        r.push(m, &mut |_| {}).unwrap();
        assert_eq!(r.rewrote_line_ends(), rewrote, "{m:?}");
    }
}

proptest::proptest! {
    /// Any message, in any two pieces, canonicalizes as it does whole.
    #[test]
    fn any_split_of_any_message_is_read_the_same(
        m in proptest::collection::vec(proptest::sample::select(b"ab \t\r\n:.".to_vec()), 0..200),
        at in 0usize..200,
        relaxed: bool,
    ) {
        let c = if relaxed { Canonicalization::Relaxed } else { Canonicalization::Simple };
        let at = at.min(m.len());
        proptest::prop_assert_eq!(read(c, &[&m[..at], &m[at..]]), read(c, &[&m]));
    }
}
