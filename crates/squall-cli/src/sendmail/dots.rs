//! sendmail's lone-dot rule, read piece by piece: a line holding only `.` ends the message (unless
//! `-i`), and the rest of the input is not read.
//!
//! Lines end as in [`lines`](super::lines): at CR, LF or CRLF, as they will be sent. So `a\r.\rb`
//! ends after `a`, as `a` CRLF `.` CRLF would.

/// Where the reader is in the current line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At the start of a line.
    LineStart,
    /// Inside a line.
    Mid,
    /// Just after a CR: an LF here is the rest of that line end, anything else starts a line.
    AfterCr,
    /// After a `.` at the start of a line, which is held back until the next byte says whether
    /// it is the whole line.
    Dot,
    /// The lone dot was seen.
    Done,
}

/// Passes input through until a line holding only `.`; the output does not depend on how the
/// input is split into pieces.
#[derive(Clone, Debug)]
pub(crate) struct DotEnd {
    state: State,
}

impl DotEnd {
    pub(crate) const fn new() -> Self {
        Self {
            state: State::LineStart,
        }
    }

    /// Appends to `out` the part of `input` before the lone dot; true once it was seen (then the
    /// rest of the input is not content).
    pub(crate) fn push(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        // `input[copied..i]` is content not yet appended.
        let mut copied = 0;
        let mut i = 0;
        while i < input.len() && self.state != State::Done {
            let b = input[i];
            self.state = match (self.state, b) {
                (State::Dot, b'\r' | b'\n') => State::Done,
                (State::Dot, _) => {
                    // Not alone: the held dot is content after all.
                    out.push(b'.');
                    next_after(b)
                }
                (State::LineStart | State::AfterCr, b'.') => {
                    out.extend_from_slice(&input[copied..i]);
                    copied = i + 1;
                    State::Dot
                }
                (State::AfterCr, b'\n') => State::LineStart,
                (State::Mid, _) => {
                    // Skip to the next line end at once.
                    match memchr::memchr2(b'\r', b'\n', &input[i..]) {
                        Some(j) => {
                            i += j;
                            next_after(input[i])
                        }
                        None => break,
                    }
                }
                (_, b) => next_after(b),
            };
            i += 1;
        }
        if self.state == State::Done {
            // Content up to the dot was appended when the dot was met; the dot, its line end
            // and what follows are dropped.
            return true;
        }
        out.extend_from_slice(&input[copied..]);
        false
    }

    /// At the end of the input: a held dot was a line of its own, so nothing is added.
    pub(crate) fn finish(&mut self) {
        self.state = State::Done;
    }
}

fn next_after(b: u8) -> State {
    match b {
        b'\n' => State::LineStart,
        b'\r' => State::AfterCr,
        _ => State::Mid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The content before the lone dot, and whether it was found, with `input` cut at `at`.
    fn cut(input: &[u8], at: usize) -> (Vec<u8>, bool) {
        let mut d = DotEnd::new();
        let mut out = Vec::new();
        let done = d.push(&input[..at], &mut out) || d.push(&input[at..], &mut out);
        if !done {
            d.finish();
        }
        (out, done)
    }

    #[test]
    fn a_lone_dot_ends_the_input_whatever_ends_its_line() {
        for (input, before) in [
            (
                &b"Subject: x\n\nline\n.\nafter\n"[..],
                &b"Subject: x\n\nline\n"[..],
            ),
            (b"a\r\n.\r\nb", b"a\r\n"),
            (b"a\r.\rb", b"a\r"),
            (b"a\n.\rb", b"a\n"),
            (b".\n", b""),
            (b"a\n.", b"a\n"),
            (b"a\n..\n.x\n. \n", b"a\n..\n.x\n. \n"),
            (b"a.\n", b"a.\n"),
            (b"a\r\n.", b"a\r\n"),
        ] {
            for at in 0..=input.len() {
                assert_eq!(
                    cut(input, at).0,
                    before,
                    "{:?} cut at {at}",
                    String::from_utf8_lossy(input)
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_split_gives_what_the_whole_gives(
            input in proptest::collection::vec(proptest::sample::select(&b"a.\r\n"[..]), 0..30),
            at in 0usize..30,
        ) {
            let at = at.min(input.len());
            proptest::prop_assert_eq!(cut(&input, at), cut(&input, input.len()));
            // The reference: the lines as the wire will hold them, up to one that is only a dot.
            let lines: Vec<_> = super::super::lines::lines(&input).collect();
            let expected = match lines.iter().find(|l| &input[l.start..l.text_end] == b".") {
                Some(l) => &input[..l.start],
                None => &input[..],
            };
            proptest::prop_assert_eq!(cut(&input, at).0, expected);
        }
    }
}
