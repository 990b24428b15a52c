//! The body's canonical form (RFC 6376 §3.4.3, §3.4.4), produced piece by piece so that a
//! message of any size is hashed in constant memory.

use memchr::memchr;

use super::Canonicalization;

/// Turns a CRLF-normalised body, pushed in pieces split anywhere, into its canonical form.
///
/// Empty lines are held back until a line with content follows, so that those at the end of the
/// body are ignored whatever the piece boundaries. Relaxed also holds back a run of whitespace
/// until it is known not to end the line.
#[derive(Clone, Debug)]
pub struct BodyCanonicalizer {
    canon: Canonicalization,
    /// Line ends not yet written: they count only if content follows.
    held_crlfs: u64,
    /// The current line has content (it was written, or for relaxed: a non-whitespace byte).
    line_open: bool,
    /// Something other than trailing empty lines was seen.
    any: bool,
    /// The last piece ended with a CR, whose LF starts the next.
    pending_cr: bool,
    /// Relaxed: whitespace seen since the last content byte of this line.
    held_space: bool,
}

impl BodyCanonicalizer {
    /// A canonicalizer for the body that follows the header section.
    pub fn new(canon: Canonicalization) -> Self {
        Self {
            canon,
            held_crlfs: 0,
            line_open: false,
            any: false,
            pending_cr: false,
            held_space: false,
        }
    }

    /// Canonicalizes `input` (CRLF line ends), handing the output to `out` in pieces.
    pub fn push(&mut self, mut input: &[u8], out: &mut dyn FnMut(&[u8])) {
        if input.is_empty() {
            return;
        }
        if self.pending_cr {
            self.pending_cr = false;
            if input.first() == Some(&b'\n') {
                self.line_end();
                input = &input[1..];
            } else {
                // Not from the normaliser, but kept as content rather than lost.
                self.flush_run(b"\r", out);
            }
        }
        match self.canon {
            Canonicalization::Simple => self.push_simple(input, out),
            Canonicalization::Relaxed => self.push_relaxed(input, out),
        }
    }

    fn push_simple(&mut self, mut input: &[u8], out: &mut dyn FnMut(&[u8])) {
        while !input.is_empty() {
            let Some(k) = memchr(b'\r', input) else {
                self.content(input, out);
                return;
            };
            if k > 0 {
                self.content(&input[..k], out);
            }
            match input.get(k + 1) {
                Some(b'\n') => {
                    self.line_end();
                    input = &input[k + 2..];
                }
                Some(_) => {
                    self.flush_run(b"\r", out);
                    input = &input[k + 1..];
                }
                None => {
                    self.pending_cr = true;
                    return;
                }
            }
        }
    }

    fn push_relaxed(&mut self, input: &[u8], out: &mut dyn FnMut(&[u8])) {
        let mut i = 0;
        // `input[run..i]` is content (no whitespace, no CR) not yet written.
        let mut run = 0;
        while i < input.len() {
            match input[i] {
                b' ' | b'\t' => {
                    self.flush_run(&input[run..i], out);
                    self.held_space = true;
                    i += 1;
                    run = i;
                }
                b'\r' => {
                    self.flush_run(&input[run..i], out);
                    match input.get(i + 1) {
                        Some(b'\n') => {
                            self.line_end();
                            i += 2;
                        }
                        Some(_) => {
                            self.flush_run(b"\r", out);
                            i += 1;
                        }
                        None => {
                            self.pending_cr = true;
                            i += 1;
                        }
                    }
                    run = i;
                }
                _ => i += 1,
            }
        }
        self.flush_run(&input[run..], out);
    }

    /// Relaxed: writes content, preceded by one space for any whitespace held before it.
    fn flush_run(&mut self, run: &[u8], out: &mut dyn FnMut(&[u8])) {
        if run.is_empty() {
            return;
        }
        if std::mem::take(&mut self.held_space) {
            self.content(b" ", out);
        }
        self.content(run, out);
    }

    /// Writes content of the current line, after the line ends held back.
    fn content(&mut self, bytes: &[u8], out: &mut dyn FnMut(&[u8])) {
        for _ in 0..self.held_crlfs {
            out(b"\r\n");
        }
        self.held_crlfs = 0;
        self.line_open = true;
        self.any = true;
        out(bytes);
    }

    /// Whitespace at the end of a line is dropped (relaxed): a line of whitespace only is empty.
    fn line_end(&mut self) {
        self.held_space = false;
        self.held_crlfs += 1;
        self.line_open = false;
    }

    /// Ends the body: one CRLF ends the last line with content; an empty body is one CRLF for
    /// simple and nothing for relaxed (RFC 6376 §3.4.3, §3.4.4).
    pub fn finish(mut self, out: &mut dyn FnMut(&[u8])) {
        if self.pending_cr {
            self.pending_cr = false;
            self.flush_run(b"\r", out);
        }
        if self.any || self.canon == Canonicalization::Simple {
            out(b"\r\n");
        }
    }
}
