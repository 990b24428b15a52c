//! Where a line ends, read the way the client will send it.
//!
//! The client normalises line ends before anything reaches the wire (`squall_proto::data`): a CRLF
//! stays one line end, and a bare CR or a bare LF each become a CRLF. So here CR, LF and CRLF all
//! end a line, CRLF counting once. Reading the input any other way (LF only, say) lets the server
//! and the recipients see header fields that sendmail did not see when it built the envelope: a
//! Bcc that stays visible, a To whose recipients are never sent to.

/// How a line ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// LF alone.
    Lf,
    /// CR LF.
    CrLf,
    /// A CR not followed by LF: sent as CRLF, so a line end like any other.
    BareCr,
    /// The input ended inside the line.
    Eof,
}

/// One line of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Line {
    /// Where the line starts.
    pub(crate) start: usize,
    /// Where its text ends (its line end, if any, starts here).
    pub(crate) text_end: usize,
    /// Where the next line starts.
    pub(crate) next: usize,
    pub(crate) end: End,
}

/// The line starting at `start` (which must be inside `buf`), looking for its end from `from`
/// (`buf[start..from]` must hold no CR or LF). `None` when more input is needed to know: the line
/// has no end yet, or it ends in a CR that may be the first half of a CRLF (only when `eof` is
/// false).
pub(crate) fn line_at(buf: &[u8], start: usize, from: usize, eof: bool) -> Option<Line> {
    debug_assert!(start < buf.len() && start <= from);
    let line = |text_end, next, end| Line {
        start,
        text_end,
        next,
        end,
    };
    match memchr::memchr2(b'\r', b'\n', &buf[from..]).map(|i| from + i) {
        None if eof => Some(line(buf.len(), buf.len(), End::Eof)),
        None => None,
        Some(j) if buf[j] == b'\n' => Some(line(j, j + 1, End::Lf)),
        Some(j) => match buf.get(j + 1) {
            Some(b'\n') => Some(line(j, j + 2, End::CrLf)),
            Some(_) => Some(line(j, j + 1, End::BareCr)),
            None if eof => Some(line(j, j + 1, End::BareCr)),
            None => None,
        },
    }
}

/// The lines of a complete buffer.
pub(crate) fn lines(buf: &[u8]) -> impl Iterator<Item = Line> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        let line = (start < buf.len()).then(|| line_at(buf, start, start, true))??;
        start = line.next;
        Some(line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(buf: &[u8]) -> Vec<(&[u8], End)> {
        lines(buf).map(|l| (&buf[l.start..l.text_end], l.end)).collect()
    }

    #[test]
    fn cr_lf_and_crlf_each_end_one_line() {
        assert_eq!(
            texts(b"a\nb\r\nc\rd\r\r\ne"),
            [
                (&b"a"[..], End::Lf),
                (b"b", End::CrLf),
                (b"c", End::BareCr),
                (b"d", End::BareCr),
                (b"", End::CrLf),
                (b"e", End::Eof),
            ]
        );
        assert_eq!(texts(b"x\r"), [(&b"x"[..], End::BareCr)]);
        assert!(texts(b"").is_empty());
    }

    #[test]
    fn a_trailing_cr_waits_for_the_next_byte() {
        assert_eq!(line_at(b"ab\r", 0, 0, false), None);
        assert_eq!(line_at(b"ab", 0, 0, false), None);
        assert_eq!(line_at(b"ab\r", 0, 2, true).unwrap().end, End::BareCr);
        assert_eq!(line_at(b"ab\rx", 0, 2, false).unwrap().end, End::BareCr);
        assert_eq!(line_at(b"ab\r\n", 0, 2, false).unwrap().next, 4);
    }

    #[test]
    fn as_many_lines_as_the_wire_will_hold() {
        // The client's own normaliser is the reference: one CRLF per line end read here.
        let samples: [&[u8]; 6] = [
            b"a\rb\nc\r\nd",
            b"\r\r\n\n\r",
            b"x",
            b"\n",
            b"\r",
            b"a\r\rb\n\r\n",
        ];
        for s in samples {
            let wire = squall_proto::data::normalize(s);
            let crlfs = wire.windows(2).filter(|w| w == b"\r\n").count();
            assert_eq!(lines(s).count(), crlfs, "{s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_split_into_the_lines_the_wire_holds(s in proptest::collection::vec(
            proptest::sample::select(&b"ab.\r\n "[..]), 0..40)
        ) {
            let wire = squall_proto::data::normalize(&s);
            let crlfs = wire.windows(2).filter(|w| w == b"\r\n").count();
            proptest::prop_assert_eq!(lines(&s).count(), crlfs);
            let texts: Vec<&[u8]> = lines(&s).map(|l| &s[l.start..l.text_end]).collect();
            proptest::prop_assert_eq!(texts.join(&b"\r\n"[..]), wire.strip_suffix(b"\r\n").unwrap_or(&wire));
        }
    }
}
