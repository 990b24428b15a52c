//! Where the header section of sendmail's input ends, found piece by piece.
//!
//! The rules, applied to lines as they will be sent ([`lines`](super::lines)):
//! - a first line starting `From ` that is not a header field is an mbox envelope line: it is
//!   dropped, as Postfix's sendmail does;
//! - a field is a name of printable ASCII other than `:`, then the colon, with spaces or tabs
//!   allowed before it (RFC 5322 §4.5.1 `obs-optional`: `Bcc : x` is a Bcc field); the colon
//!   must come within the first 998 octets (a line's limit, RFC 5322 §2.1.1);
//! - a line starting with a space or a tab continues the field before it;
//! - anything else, a blank line or a line that is not a field, ends the header section, and
//!   belongs to the body.
//!
//! Refused, so that nothing is sent: a header line ended by a bare CR (it would be sent as a line
//! break, so the fields recipients see would not be those the envelope was built from); a NUL
//! in a header line (no header may hold one, and receivers disagree on what follows it); a
//! header section over [`MAX_HEADER`] bytes.

use std::fmt;

use super::lines::{End, line_at};

/// The most header bytes kept in memory: far more than any real header section (Postfix's
/// `header_size_limit` is 100 KiB), far less than what would hurt.
pub(crate) const MAX_HEADER: usize = 1 << 20;

/// A line's limit (RFC 5322 §2.1.1): a field's colon must come before it.
const MAX_LINE: usize = 998;

/// Where the header section is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Split {
    /// Where the header fields start: after a leading mbox `From ` line, else 0.
    pub(crate) start: usize,
    /// Where they end: at the blank line or the first line of the body, or at the end of input.
    pub(crate) end: usize,
    /// True when the body starts with the blank line that separates it from the header.
    pub(crate) blank: bool,
}

/// Why the input cannot be sent as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SplitError {
    /// A header line ends in a CR without LF.
    BareCr {
        /// The line, counted from 1.
        line: usize,
    },
    /// A header line holds a NUL byte.
    Nul {
        /// The line, counted from 1.
        line: usize,
    },
    /// The header section is longer than [`MAX_HEADER`].
    TooLong,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BareCr { line } => write!(
                f,
                "line {line} of the message header ends in a bare CR (a CR without LF): it would \
                 be sent as a line break, so recipients would see header fields the envelope \
                 was not built from; end lines with LF or CRLF"
            ),
            Self::Nul { line } => write!(
                f,
                "line {line} of the message header holds a NUL byte, which no header may hold"
            ),
            Self::TooLong => write!(
                f,
                "the message header is longer than {} KiB: no real header is, so this is not \
                 sent (a long text belongs in the body, after a blank line)",
                MAX_HEADER / 1024
            ),
        }
    }
}

/// What a line is, for the header section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The mbox `From ` line before the header.
    MboxFrom,
    Field,
    Continuation,
    /// A blank line or a line that is not a field: the body starts here.
    End,
}

/// Finds the header section in input that arrives in pieces: call [`scan`](Self::scan) with all
/// the input so far each time more arrives. Each byte is looked at once (only the first 999 bytes
/// of a line whose kind is not known yet are looked at again).
#[derive(Clone, Debug)]
pub(crate) struct Splitter {
    /// Where the line being read starts.
    line_start: usize,
    /// Where to look on for its end.
    search_from: usize,
    /// Its number, from 1.
    line: usize,
    /// Its kind, once known.
    kind: Option<Kind>,
    /// Where the header fields start.
    start: usize,
    /// The line before was a field (or continued one).
    after_field: bool,
}

impl Splitter {
    pub(crate) const fn new() -> Self {
        Self {
            line_start: 0,
            search_from: 0,
            line: 1,
            kind: None,
            start: 0,
            after_field: false,
        }
    }

    /// Looks at `buf`, all the input so far (`eof`: and all there will be). `None` when more is
    /// needed; once it returns a [`Split`] or an error, the answer is final.
    pub(crate) fn scan(&mut self, buf: &[u8], eof: bool) -> Result<Option<Split>, SplitError> {
        loop {
            let start = self.line_start;
            if start == buf.len() {
                return Ok(eof.then(|| self.split(start, false)));
            }
            let kind = match self.kind {
                Some(k) => k,
                None => {
                    let window = &buf[start..buf.len().min(start + MAX_LINE + 1)];
                    let (text, complete) = match memchr::memchr2(b'\r', b'\n', window) {
                        Some(i) => (&window[..i], true),
                        None => (window, eof),
                    };
                    match classify(text, complete, self.line == 1, self.after_field) {
                        Some(k) => *self.kind.insert(k),
                        None => return Ok(None),
                    }
                }
            };
            if kind == Kind::End {
                return self.end_at(buf, eof);
            }
            let Some(line) = line_at(buf, start, self.search_from.max(start), eof) else {
                // The CR that may start a CRLF is looked at again.
                self.search_from = buf.len() - usize::from(buf.last() == Some(&b'\r'));
                return if buf.len() > MAX_HEADER {
                    Err(SplitError::TooLong)
                } else {
                    Ok(None)
                };
            };
            if line.end == End::BareCr {
                return Err(SplitError::BareCr { line: self.line });
            }
            if line.next > MAX_HEADER {
                return Err(SplitError::TooLong);
            }
            if kind != Kind::MboxFrom && memchr::memchr(0, &buf[start..line.text_end]).is_some() {
                return Err(SplitError::Nul { line: self.line });
            }
            if kind == Kind::MboxFrom {
                self.start = line.next;
            }
            self.after_field = kind != Kind::MboxFrom;
            self.line += 1;
            self.line_start = line.next;
            self.search_from = line.next;
            self.kind = None;
        }
    }

    /// The header section ends where the current line starts.
    fn end_at(&self, buf: &[u8], eof: bool) -> Result<Option<Split>, SplitError> {
        let start = self.line_start;
        match buf[start] {
            b'\n' => Ok(Some(self.split(start, true))),
            b'\r' => match buf.get(start + 1) {
                Some(b'\n') => Ok(Some(self.split(start, true))),
                None if !eof => Ok(None),
                // A blank line ended by a bare CR: still part of the header, for this rule.
                _ => Err(SplitError::BareCr { line: self.line }),
            },
            _ => Ok(Some(self.split(start, false))),
        }
    }

    fn split(&self, end: usize, blank: bool) -> Split {
        Split {
            start: self.start,
            end,
            blank,
        }
    }
}

/// The header section of a complete input.
#[cfg(any(test, fuzzing))]
pub(crate) fn split(input: &[u8]) -> Result<Split, SplitError> {
    let found = Splitter::new().scan(input, true)?;
    Ok(found.expect("a complete input always has an answer"))
}

/// What the line whose text starts with `text` is; `None` when that needs more of it (`complete`:
/// `text` is all of the line's text).
fn classify(text: &[u8], complete: bool, first: bool, after_field: bool) -> Option<Kind> {
    let Some(&lead) = text.first() else {
        return complete.then_some(Kind::End);
    };
    if matches!(lead, b' ' | b'\t') {
        return Some(if after_field {
            Kind::Continuation
        } else {
            Kind::End
        });
    }
    let name = text
        .iter()
        .take_while(|&&b| (33..=126).contains(&b) && b != b':')
        .count();
    let spaces = text[name..]
        .iter()
        .take_while(|&&b| matches!(b, b' ' | b'\t'))
        .count();
    let colon = name + spaces;
    let not_a_field = if first && text.starts_with(b"From ") {
        Kind::MboxFrom
    } else {
        Kind::End
    };
    match text.get(colon) {
        Some(b':') if name > 0 && colon < MAX_LINE => Some(Kind::Field),
        Some(_) => Some(not_a_field),
        None if complete || colon >= MAX_LINE => Some(not_a_field),
        None => None,
    }
}

#[cfg(test)]
mod tests;
