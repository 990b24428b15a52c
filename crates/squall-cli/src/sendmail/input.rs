//! sendmail's input as it arrives: the lone-dot rule, then the header section, kept in memory
//! (bounded by [`MAX_HEADER`](super::split::MAX_HEADER)), then the body, handed on piece by piece
//! so that it never has to be held whole. No I/O here: the caller reads and pushes.

use super::dots::DotEnd;
use super::split::{Split, SplitError, Splitter};

/// The input so far.
#[derive(Debug)]
pub(crate) struct Reader {
    /// `None` with `-i`: dots end nothing.
    dots: Option<DotEnd>,
    /// What passed the dot rule in the last push.
    piece: Vec<u8>,
    /// The header section (and, until it is found, what may still be part of it).
    head: Vec<u8>,
    splitter: Splitter,
    split: Option<Split>,
    /// The lone dot or the end of input was met: nothing more is content.
    ended: bool,
}

impl Reader {
    pub(crate) fn new(ignore_dots: bool) -> Self {
        Self {
            dots: (!ignore_dots).then(DotEnd::new),
            piece: Vec::new(),
            head: Vec::new(),
            splitter: Splitter::new(),
            split: None,
            ended: false,
        }
    }

    /// Takes the next piece of input. Body bytes (those after the header section, once it is
    /// found) are appended to `body`.
    pub(crate) fn push(&mut self, input: &[u8], body: &mut Vec<u8>) -> Result<(), SplitError> {
        if self.ended {
            return Ok(());
        }
        let mut piece = std::mem::take(&mut self.piece);
        piece.clear();
        let content = match &mut self.dots {
            Some(dots) => {
                self.ended = dots.push(input, &mut piece);
                &piece[..]
            }
            None => input,
        };
        let result = self.take(content, body);
        self.piece = piece;
        result?;
        if self.ended {
            self.find_header(true, body)?;
        }
        Ok(())
    }

    /// The input ended.
    pub(crate) fn finish(&mut self, body: &mut Vec<u8>) -> Result<(), SplitError> {
        if let Some(dots) = &mut self.dots {
            dots.finish();
        }
        self.ended = true;
        self.find_header(true, body)
    }

    /// True once the lone dot (or the end) was met: the rest of the input is not read.
    pub(crate) fn ended(&self) -> bool {
        self.ended
    }

    /// The input that holds the header section, and where it is in it, once that is known.
    pub(crate) fn header(&self) -> Option<(&[u8], Split)> {
        Some((&self.head, self.split?))
    }

    fn take(&mut self, content: &[u8], body: &mut Vec<u8>) -> Result<(), SplitError> {
        if self.split.is_some() {
            body.extend_from_slice(content);
            return Ok(());
        }
        self.head.extend_from_slice(content);
        self.find_header(false, body)
    }

    fn find_header(&mut self, eof: bool, body: &mut Vec<u8>) -> Result<(), SplitError> {
        if self.split.is_some() {
            return Ok(());
        }
        if let Some(split) = self.splitter.scan(&self.head, eof)? {
            body.extend_from_slice(&self.head[split.end..]);
            self.head.truncate(split.end);
            self.head.shrink_to_fit();
            self.split = Some(split);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (header section, body) of `input` pushed in pieces of `size`.
    fn read(input: &[u8], ignore_dots: bool, size: usize) -> Result<(Vec<u8>, Vec<u8>), SplitError> {
        let mut r = Reader::new(ignore_dots);
        let mut body = Vec::new();
        for piece in input.chunks(size.max(1)) {
            r.push(piece, &mut body)?;
            if r.ended() {
                break;
            }
        }
        r.finish(&mut body)?;
        let (head, split) = r.header().unwrap();
        Ok((head[split.start..split.end].to_vec(), body))
    }

    #[test]
    fn header_then_body_in_any_pieces() {
        let m = b"From x\nTo: a@example.org\nSubject: s\n\nline\n.\nafter\n";
        for size in 1..=m.len() {
            let (head, body) = read(m, false, size).unwrap();
            assert_eq!(head, b"To: a@example.org\nSubject: s\n", "{size}");
            assert_eq!(body, b"\nline\n", "{size}");
            let (_, body) = read(m, true, size).unwrap();
            assert_eq!(body, b"\nline\n.\nafter\n", "{size}");
        }
    }

    #[test]
    fn the_dot_can_end_the_header() {
        let (head, body) = read(b"To: a@example.org\n.\nBcc: b@example.org\n\n", false, 3).unwrap();
        assert_eq!((&head[..], &body[..]), (&b"To: a@example.org\n"[..], &b""[..]));
        // The dot's line end makes the CR before it a bare one, as on the wire.
        assert_eq!(
            read(b"To: a@example.org\r.\r\n", false, 4),
            Err(SplitError::BareCr { line: 1 })
        );
    }

    #[test]
    fn a_huge_header_is_refused_while_reading() {
        let mut m = b"Subject: ".to_vec();
        m.resize(10 << 20, b'x');
        let mut r = Reader::new(true);
        let mut body = Vec::new();
        let mut held = 0;
        let mut error = None;
        for piece in m.chunks(64 << 10) {
            if let Err(e) = r.push(piece, &mut body) {
                error = Some(e);
                break;
            }
            held = held.max(r.head.capacity());
        }
        assert_eq!(error, Some(SplitError::TooLong));
        assert!(held <= 2 * super::super::split::MAX_HEADER, "{held}");
    }
}
