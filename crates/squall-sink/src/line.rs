//! Command lines out of a byte stream: bounded, never rescanned, and resynchronised after a
//! line that is too long.
//!
//! A line longer than the limit is answered once and then discarded up to its LF, however it
//! arrives; nothing of it is ever taken for a command. (The sink once answered such a line
//! with a `500` per 4 KiB and then ran its tail as a command.) The shape is tokio-util's
//! `LinesCodec::new_with_max_length`: remember how far the search got, and a discarding flag.

use memchr::memchr;

/// What [`LineReader::next`] found at the start of the input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    /// A complete line, without its LF and without one CR before it.
    Line(&'a [u8]),
    /// The line is longer than the limit: answer once; its bytes are (being) discarded.
    TooLong,
    /// The rest of an over-long line was skipped; look again.
    Skipped,
    /// No complete line yet; read more.
    NeedMore,
}

/// Splits input into lines of at most `max` bytes (the LF and a CR before it not counted).
#[derive(Debug, Default)]
pub(crate) struct LineReader {
    /// Bytes at the start of the input already known to hold no LF.
    scanned: usize,
    /// Inside an over-long line that was already answered: drop bytes up to the next LF.
    discarding: bool,
}

impl LineReader {
    /// Looks for the next line at the start of `input`, the bytes not consumed yet. Returns what
    /// was found and how many bytes of `input` it consumed; until bytes are consumed, the next
    /// call must see the same input, possibly with more appended.
    pub(crate) fn next<'a>(&mut self, input: &'a [u8], max: usize) -> (Frame<'a>, usize) {
        let found = memchr(b'\n', &input[self.scanned.min(input.len())..]).map(|i| i + self.scanned);
        match found {
            Some(lf) => {
                self.scanned = 0;
                if std::mem::take(&mut self.discarding) {
                    return (Frame::Skipped, lf + 1);
                }
                let line = &input[..lf];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.len() > max {
                    (Frame::TooLong, lf + 1)
                } else {
                    (Frame::Line(line), lf + 1)
                }
            }
            None if self.discarding => {
                self.scanned = 0;
                (Frame::NeedMore, input.len())
            }
            // One byte of slack: it may be the CR of the line's CRLF.
            None if input.len() > max + 1 => {
                self.scanned = 0;
                self.discarding = true;
                (Frame::TooLong, input.len())
            }
            None => {
                self.scanned = input.len();
                (Frame::NeedMore, 0)
            }
        }
    }

    /// Forgets any partial state, when the input buffer is thrown away (STARTTLS).
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes, collecting every frame but `NeedMore`/`Skipped`.
    fn frames(input: &[u8], step: usize, max: usize) -> Vec<Result<Vec<u8>, ()>> {
        let mut reader = LineReader::default();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for piece in input.chunks(step.max(1)) {
            buf.extend_from_slice(piece);
            loop {
                let (frame, used) = reader.next(&buf, max);
                let stop = match frame {
                    Frame::Line(l) => {
                        out.push(Ok(l.to_vec()));
                        false
                    }
                    Frame::TooLong => {
                        out.push(Err(()));
                        false
                    }
                    Frame::Skipped => false,
                    Frame::NeedMore => true,
                };
                buf.drain(..used);
                if stop {
                    break;
                }
            }
        }
        out
    }

    #[test]
    fn lines_whole_byte_by_byte_and_split() {
        let input = b"EHLO a\r\nNOOP\nRSET\r\npartial";
        let want = vec![Ok(b"EHLO a".to_vec()), Ok(b"NOOP".to_vec()), Ok(b"RSET".to_vec())];
        for step in [input.len(), 1, 2, 3, 7] {
            assert_eq!(frames(input, step, 16), want, "step {step}");
        }
    }

    #[test]
    fn an_overlong_line_is_answered_once_and_its_tail_dropped() {
        let mut input = vec![b'x'; 10_000];
        input.extend_from_slice(b"MAIL FROM:<tail-exec@x.org>\r\nNOOP\r\n");
        for step in [input.len(), 1, 100, 4096, 4097] {
            assert_eq!(
                frames(&input, step, 512),
                vec![Err(()), Ok(b"NOOP".to_vec())],
                "step {step}"
            );
        }
    }

    #[test]
    fn the_limit_counts_the_line_without_its_crlf() {
        let exact = [vec![b'a'; 8], b"\r\n".to_vec()].concat();
        assert_eq!(frames(&exact, 1, 8), vec![Ok(vec![b'a'; 8])]);
        let over = [vec![b'a'; 9], b"\r\n".to_vec()].concat();
        for step in [1, 3, over.len()] {
            assert_eq!(frames(&over, step, 8), vec![Err(())], "step {step}");
        }
    }

    #[test]
    fn no_byte_is_scanned_twice() {
        let mut reader = LineReader::default();
        let mut buf = vec![b'a'; 100];
        assert_eq!(reader.next(&buf, 1000), (Frame::NeedMore, 0));
        assert_eq!(reader.scanned, 100);
        buf.extend_from_slice(b"\n");
        assert_eq!(reader.next(&buf, 1000), (Frame::Line(&[b'a'; 100]), 101));
        assert_eq!(reader.scanned, 0);
    }
}
