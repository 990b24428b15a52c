//! Client-side content encoders: stateful, correct across any split of the input.

use memchr::{memchr2, memmem};

/// Where the encoder is relative to line boundaries.
#[derive(Clone, Copy, Debug)]
struct LineEnds {
    /// The last byte written ended a line (or nothing was written yet).
    at_line_start: bool,
    /// The input ended with a CR whose meaning depends on the next byte.
    pending_cr: bool,
    /// Content bytes produced, not counting stuffing dots or the terminator.
    len: u64,
}

impl LineEnds {
    const fn new() -> Self {
        Self {
            at_line_start: true,
            pending_cr: false,
            len: 0,
        }
    }

    /// Normalises `input` into `out` (or only counts it when `out` is `None`), doubling a `.` at
    /// the start of each line when `stuff` is set.
    ///
    /// Content that is already CRLF text passes through in spans: bytes are copied once per run
    /// between things that need changing (a bare CR or LF, a line-leading dot), not per line.
    fn push(&mut self, input: &[u8], out: Option<&mut Vec<u8>>, stuff: bool) {
        if self.pending_cr || irregular(input) {
            self.push_irregular(input, out, stuff);
        } else {
            self.push_crlf(input, out, stuff);
        }
    }

    /// The common case: CRLF text, in which only a line-leading dot changes. Found with one
    /// vectorised search for `\n.` instead of a walk from line to line.
    fn push_crlf(&mut self, input: &[u8], out: Option<&mut Vec<u8>>, stuff: bool) {
        let Some(&last) = input.last() else { return };
        self.len += input.len() as u64;
        let Some(out) = out else {
            self.at_line_start = last == b'\n';
            return;
        };
        let mut start = 0;
        if stuff {
            if self.at_line_start && input[0] == b'.' {
                out.push(b'.');
            }
            for at in memmem::find_iter(input, b"\n.") {
                out.extend_from_slice(&input[start..=at]);
                out.push(b'.');
                start = at + 1;
            }
        }
        out.extend_from_slice(&input[start..]);
        self.at_line_start = last == b'\n';
    }

    /// Any input: bare CRs and LFs become CRLF, a CR at the end waits for the next piece.
    fn push_irregular(&mut self, input: &[u8], mut out: Option<&mut Vec<u8>>, stuff: bool) {
        let mut emit = |bytes: &[u8], len: &mut u64, counted: bool| {
            if counted {
                *len += bytes.len() as u64;
            }
            if let Some(out) = out.as_deref_mut() {
                out.extend_from_slice(bytes);
            }
        };
        let mut i = 0;
        if self.pending_cr && !input.is_empty() {
            // A CR ended the last piece: it ends a line whatever follows.
            self.pending_cr = false;
            emit(b"\r\n", &mut self.len, true);
            self.at_line_start = true;
            if input[0] == b'\n' {
                i = 1;
            }
        }
        // `input[span..i]` passes through unchanged and is not emitted yet.
        let mut span = i;
        while i < input.len() {
            if self.at_line_start && stuff && input[i] == b'.' {
                emit(&input[span..i], &mut self.len, true);
                emit(b".", &mut self.len, false);
                span = i;
            }
            let Some(k) = memchr2(b'\r', b'\n', &input[i..]) else {
                self.at_line_start = false;
                i = input.len();
                break;
            };
            let j = i + k;
            match (input[j], input.get(j + 1)) {
                (b'\r', Some(b'\n')) => i = j + 2,
                (b'\r', None) => {
                    // Whether this CR has its LF is known only with the next piece.
                    emit(&input[span..j], &mut self.len, true);
                    self.pending_cr = true;
                    span = input.len();
                    i = input.len();
                    break;
                }
                _ => {
                    // A bare CR or LF: it becomes CRLF.
                    emit(&input[span..j], &mut self.len, true);
                    emit(b"\r\n", &mut self.len, true);
                    i = j + 1;
                    span = i;
                }
            }
            self.at_line_start = true;
        }
        emit(&input[span..i], &mut self.len, true);
    }

    /// The total once finished: an open last line gains a CRLF.
    fn final_len(&self) -> u64 {
        self.len
            + if self.pending_cr || !self.at_line_start {
                2
            } else {
                0
            }
    }

    /// Ends the last line if it is open.
    fn finish(&mut self, out: Option<&mut Vec<u8>>) {
        if self.pending_cr || !self.at_line_start {
            if let Some(out) = out {
                out.extend_from_slice(b"\r\n");
            }
            self.len += 2;
            self.pending_cr = false;
            self.at_line_start = true;
        }
    }
}

/// Whether `s` has a line end that is not CRLF: an LF without its CR, a CR without its LF, or a
/// CR at the end (whose LF may open the next piece). A pair of neighbours is irregular when
/// exactly one of "the first is CR" and "the second is LF" holds; the pairs are checked 32 at a
/// time without branches, so that this compiles to vector instructions.
fn irregular(s: &[u8]) -> bool {
    const LANES: usize = 32;
    const BLOCK: usize = 4096;
    let (Some(&first), Some(&last)) = (s.first(), s.last()) else {
        return false;
    };
    if first == b'\n' || last == b'\r' {
        return true;
    }
    let (a, b) = (&s[..s.len() - 1], &s[1..]);
    for (a, b) in a.chunks(BLOCK).zip(b.chunks(BLOCK)) {
        let mut acc = [0u8; LANES];
        let (xa, ya) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        let rest = xa.remainder().iter().zip(ya.remainder());
        for (x, y) in xa.zip(ya) {
            for k in 0..LANES {
                acc[k] |= u8::from(x[k] == b'\r') ^ u8::from(y[k] == b'\n');
            }
        }
        let tail = rest.fold(0u8, |bad, (&x, &y)| {
            bad | (u8::from(x == b'\r') ^ u8::from(y == b'\n'))
        });
        if acc.iter().fold(tail, |bad, &v| bad | v) != 0 {
            return true;
        }
    }
    false
}

/// Encodes a body for `DATA`: CRLF normalisation, dot-stuffing, and the final `.` line.
///
/// Feed the body in any pieces with [`push`](Self::push), then call [`finish`](Self::finish) once.
/// The output depends only on the concatenated input, never on how it was split.
#[derive(Clone, Debug)]
pub struct DotStuffer(LineEnds);

impl Default for DotStuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl DotStuffer {
    /// A stuffer at the start of a message.
    pub const fn new() -> Self {
        Self(LineEnds::new())
    }

    /// Appends the encoding of `input` to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.0.push(input, Some(out), true);
    }

    /// Ends the content: a CRLF if the last line is open, then `.` CRLF.
    pub fn finish(mut self, out: &mut Vec<u8>) -> u64 {
        self.0.finish(Some(out));
        out.extend_from_slice(b".\r\n");
        self.0.len
    }

    /// Content bytes so far as the receiver will store them (no stuffing dots, no terminator):
    /// what RFC 1870 counts for SIZE.
    pub fn content_len(&self) -> u64 {
        self.0.len + if self.0.pending_cr { 2 } else { 0 }
    }

    /// What [`finish`](Self::finish) will return: the content length with the last line ended.
    pub fn final_len(&self) -> u64 {
        self.0.final_len()
    }
}

/// Normalises line ends to CRLF without dot-stuffing: the content of BDAT chunks.
#[derive(Clone, Debug)]
pub struct CrlfNormalizer(LineEnds);

impl Default for CrlfNormalizer {
    fn default() -> Self {
        Self::new()
    }
}

impl CrlfNormalizer {
    /// A normaliser at the start of a message.
    pub const fn new() -> Self {
        Self(LineEnds::new())
    }

    /// Appends the normalised `input` to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.0.push(input, Some(out), false);
    }

    /// Ends the content with a CRLF if the last line is open; returns the total content length.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> u64 {
        self.0.finish(Some(out));
        self.0.len
    }

    /// Counts what [`push`](Self::push) would produce, without producing it.
    pub(crate) fn measure(&mut self, input: &[u8]) {
        self.0.push(input, None, false);
    }

    /// The total [`finish`](Self::finish) would return.
    pub(crate) fn finish_measure(self) -> u64 {
        self.0.final_len()
    }

    /// Content bytes so far, counting a pending CR as the CRLF it will become.
    pub fn content_len(&self) -> u64 {
        self.0.len + if self.0.pending_cr { 2 } else { 0 }
    }

    /// What [`finish`](Self::finish) will return: the content length with the last line ended.
    pub fn final_len(&self) -> u64 {
        self.0.final_len()
    }
}
