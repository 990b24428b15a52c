use proptest::prelude::*;

use super::*;

fn stuff_chunks(chunks: &[&[u8]]) -> Vec<u8> {
    let mut s = DotStuffer::new();
    let mut out = Vec::new();
    for c in chunks {
        s.push(c, &mut out);
    }
    s.finish(&mut out);
    out
}

fn stuff(body: &[u8]) -> Vec<u8> {
    stuff_chunks(&[body])
}

fn unstuff(wire: &[u8]) -> (Vec<u8>, usize) {
    let mut d = DataDecoder::new();
    let mut out = Vec::new();
    match d.decode(wire, &mut out) {
        DecodeStatus::Done { consumed } => (out, consumed),
        DecodeStatus::NeedMore => panic!("no end of data in {wire:?}"),
    }
}

#[test]
fn stuffing_table() {
    let table: &[(&[u8], &[u8])] = &[
        (b"", b".\r\n"),
        (b"a", b"a\r\n.\r\n"),
        (b"a\r\n", b"a\r\n.\r\n"),
        (b".", b"..\r\n.\r\n"),
        (b".\r\n", b"..\r\n.\r\n"),
        (b"..x\r\n.y", b"...x\r\n..y\r\n.\r\n"),
        (b"a\r\n.\r\nb", b"a\r\n..\r\nb\r\n.\r\n"),
        (b"\r\n", b"\r\n.\r\n"),
        (b"a\r\n\r\n", b"a\r\n\r\n.\r\n"),
        (b"a.b\r\n", b"a.b\r\n.\r\n"),
    ];
    for (body, wire) in table {
        assert_eq!(stuff(body), *wire, "{body:?}");
    }
}

/// SMTP smuggling payloads (SEC Consult 2023): every non-standard end-of-data sequence must come
/// out as an ordinary, stuffed line, so the only `CRLF.CRLF` on the wire is the real end.
#[test]
fn smuggling_corpus_never_ends_early() {
    let corpus: &[&[u8]] = &[
        b"a\n.\nMAIL FROM:<x@y>\n",
        b"a\n.\r\nMAIL FROM:<x@y>\r\n",
        b"a\r.\rMAIL FROM:<x@y>\r",
        b"a\r\n.\nMAIL FROM:<x@y>\r\n",
        b"a\r\n.\rMAIL FROM:<x@y>\r\n",
        b"a\n.\r\n",
        b"a\r.\r\n",
        b"\n.\n",
        b".\n",
        b"a\r\n\x00.\r\n",
    ];
    for body in corpus {
        let wire = stuff(body);
        // The first CRLF.CRLF (or a leading .CRLF) is the very end.
        let end = if wire.starts_with(b".\r\n") {
            3
        } else {
            wire.windows(5).position(|w| w == b"\r\n.\r\n").unwrap() + 5
        };
        assert_eq!(end, wire.len(), "early end in {wire:?}");
        // No bare CR or LF anywhere.
        for (i, &b) in wire.iter().enumerate() {
            if b == b'\r' {
                assert_eq!(wire.get(i + 1), Some(&b'\n'), "bare CR in {wire:?}");
            }
            if b == b'\n' {
                assert_eq!(wire[i - 1], b'\r', "bare LF in {wire:?}");
            }
        }
        assert_eq!(unstuff(&wire).0, normalize(body));
    }
    assert_eq!(stuff(b"a\n.\nb"), b"a\r\n..\r\nb\r\n.\r\n");
    assert_eq!(stuff(b"a\r.\rb"), b"a\r\n..\r\nb\r\n.\r\n");
}

#[test]
fn crlf_split_across_chunks() {
    assert_eq!(stuff_chunks(&[b"a\r", b"\n.b"]), b"a\r\n..b\r\n.\r\n");
    assert_eq!(stuff_chunks(&[b"a\r", b".b"]), b"a\r\n..b\r\n.\r\n");
    assert_eq!(stuff_chunks(&[b"a\r", b"\r", b"\n"]), b"a\r\n\r\n.\r\n");
    assert_eq!(stuff_chunks(&[b"a\r"]), b"a\r\n.\r\n");
    assert_eq!(
        stuff_chunks(&[b"a\r\n", b".", b".", b"\r\n"]),
        b"a\r\n...\r\n.\r\n"
    );
    assert_eq!(stuff_chunks(&[b"", b"", b"."]), b"..\r\n.\r\n");
}

#[test]
fn content_len_counts_what_is_stored() {
    let mut s = DotStuffer::new();
    let mut out = Vec::new();
    s.push(b".a\r", &mut out);
    assert_eq!(s.content_len(), 4);
    assert_eq!(s.finish(&mut out), 4);
    assert_eq!(normalized_len(b".a\r"), 4);
    assert_eq!(normalized_len(b""), 0);
    assert_eq!(normalized_len(b"x"), 3);
}

#[test]
fn decoder_keeps_pipelined_bytes_and_ignores_bare_lf_dot() {
    let (content, consumed) = unstuff(b"a\n.\nb\r\n..c\r\n.\r\nRSET\r\n");
    assert_eq!(content, b"a\n.\nb\r\n.c\r\n");
    assert_eq!(consumed, 15);
    assert_eq!(unstuff(b".\r\n"), (Vec::new(), 3));
    assert_eq!(unstuff(b".\rx\r\n.\r\n").0, b"\rx\r\n");
    let mut d = DataDecoder::new();
    let mut out = Vec::new();
    assert_eq!(d.decode(b"x\r\n.", &mut out), DecodeStatus::NeedMore);
    assert_eq!(d.decode(b"\r", &mut out), DecodeStatus::NeedMore);
    assert_eq!(d.decode(b"\nQUIT", &mut out), DecodeStatus::Done { consumed: 1 });
    assert!(d.is_done());
    assert_eq!(out, b"x\r\n");
}

fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    // Weighted towards the bytes that matter here.
    prop::collection::vec(
        prop_oneof![
            3 => Just(b'.'),
            3 => Just(b'\r'),
            3 => Just(b'\n'),
            2 => any::<u8>(),
            2 => Just(b'a'),
        ],
        0..200,
    )
}

proptest! {
    #[test]
    fn stuff_then_unstuff_gives_normalized_body(
        body in body_bytes(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for p in points.into_iter().chain([body.len()]) {
            chunks.push(&body[start..p]);
            start = p;
        }
        let wire = stuff_chunks(&chunks);
        prop_assert_eq!(&wire, &stuff(&body), "output depends on the split");
        let (content, consumed) = unstuff(&wire);
        prop_assert_eq!(consumed, wire.len());
        let normalized = normalize(&body);
        prop_assert_eq!(&content, &normalized);
        prop_assert_eq!(normalized_len(&body), normalized.len() as u64);
        // The normalised body has only CRLF line ends and ends with one (unless empty).
        prop_assert!(normalized.is_empty() || normalized.ends_with(b"\r\n"));
        for (i, &b) in normalized.iter().enumerate() {
            if b == b'\r' { prop_assert_eq!(normalized.get(i + 1), Some(&b'\n')); }
            if b == b'\n' { prop_assert_eq!(normalized[i - 1], b'\r'); }
        }
    }

    #[test]
    fn normalizer_is_split_independent(body in body_bytes(), cut in any::<prop::sample::Index>()) {
        let cut = cut.index(body.len() + 1);
        let mut n = CrlfNormalizer::new();
        let mut out = Vec::new();
        n.push(&body[..cut], &mut out);
        n.push(&body[cut..], &mut out);
        let len = n.finish(&mut out);
        prop_assert_eq!(len, out.len() as u64);
        prop_assert_eq!(out, normalize(&body));
    }
}
