//! Incremental, bounded reply parsing.
//!
//! Line policy: a reply line ends at LF, with an optional CR before it removed. RFC 5321 wants
//! CRLF, but some servers and proxies emit bare LF; reply text is only shown, never relayed, so
//! accepting it costs nothing and cannot be used to smuggle anything. A CR anywhere else is text
//! (and is replaced when shown). Lines are bounded by [`ReplyLimits`], so a hostile server cannot
//! make the parser hold more than one over-long line before it reports an error.

use memchr::memchr;
use thiserror::Error;

use super::{Reply, ReplyCode};

/// Bounds on what one reply may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplyLimits {
    /// Longest line, in bytes, including the code and the line end. RFC 5321 §4.5.3.1.5 sets 512
    /// as the minimum a server must not exceed; the default of 4096 reads real servers leniently.
    pub max_line_len: usize,
    /// Most lines in one multi-line reply (EHLO replies are the longest, usually under 30).
    pub max_lines: usize,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        Self {
            max_line_len: 4096,
            max_lines: 128,
        }
    }
}

/// The server sent bytes that are not a valid reply.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// A line ran past [`ReplyLimits::max_line_len`] without ending.
    #[error("reply line longer than {limit} bytes")]
    LineTooLong {
        /// The limit in force.
        limit: usize,
    },
    /// A multi-line reply ran past [`ReplyLimits::max_lines`].
    #[error("reply with more than {limit} lines")]
    TooManyLines {
        /// The limit in force.
        limit: usize,
    },
    /// A line that does not follow `code [SP text]` or `code-text`.
    #[error("malformed reply line {line:?}: {problem}")]
    Malformed {
        /// The start of the offending line, sanitized for printing.
        line: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A continuation line carried a different code than the first line.
    #[error("reply code changed from {first} to {got} inside one multi-line reply")]
    CodeMismatch {
        /// The code of the first line.
        first: ReplyCode,
        /// The code on the later line.
        got: ReplyCode,
    },
}

/// Turns a byte stream from the server into [`Reply`] values.
///
/// Feed bytes with [`push`](Self::push) as they arrive, split anywhere, then call
/// [`next_reply`](Self::next_reply) until it returns `Ok(None)` (more bytes needed). Bytes after the
/// last complete reply stay buffered for the next one, which is what pipelining needs; before a TLS
/// upgrade they must be absent ([`is_empty`](Self::is_empty)). No byte is scanned twice.
///
/// After an error the parser stays failed: the connection is out of sync and must be dropped.
#[derive(Debug, Default)]
pub struct ReplyParser {
    buf: Vec<u8>,
    /// Start of the bytes not yet consumed.
    pos: usize,
    /// How many bytes after `pos` are known to hold no LF.
    scanned: usize,
    /// Code and text of the lines read so far of a multi-line reply.
    code: Option<ReplyCode>,
    lines: Vec<String>,
    limits: ReplyLimits,
    error: Option<ReplyError>,
}

impl ReplyParser {
    /// A parser with the given bounds.
    pub fn new(limits: ReplyLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Appends bytes received from the server.
    pub fn push(&mut self, data: &[u8]) {
        if self.error.is_none() {
            self.buf.extend_from_slice(data);
        }
    }

    /// The next complete reply, `Ok(None)` when more bytes are needed, or the error that makes the
    /// stream unusable (returned again on every later call).
    pub fn next_reply(&mut self) -> Result<Option<Reply>, ReplyError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        match self.parse() {
            Ok(r) => Ok(r),
            Err(e) => {
                self.error = Some(e.clone());
                self.buf = Vec::new();
                self.pos = 0;
                self.scanned = 0;
                Err(e)
            }
        }
    }

    /// Bytes received but not yet part of a returned reply, excluding lines already consumed
    /// into a partial multi-line reply.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// True when nothing is buffered: no bytes and no partial multi-line reply.
    pub fn is_empty(&self) -> bool {
        self.pos == self.buf.len() && self.code.is_none()
    }

    fn parse(&mut self) -> Result<Option<Reply>, ReplyError> {
        loop {
            let from = self.pos + self.scanned;
            let Some(i) = memchr(b'\n', &self.buf[from..]) else {
                self.scanned = self.buf.len() - self.pos;
                if self.scanned >= self.limits.max_line_len {
                    return Err(ReplyError::LineTooLong {
                        limit: self.limits.max_line_len,
                    });
                }
                self.compact();
                return Ok(None);
            };
            let lf = from + i;
            if lf + 1 - self.pos > self.limits.max_line_len {
                return Err(ReplyError::LineTooLong {
                    limit: self.limits.max_line_len,
                });
            }
            let raw = &self.buf[self.pos..lf];
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let (code, last, text) = parse_line(raw)?;
            self.pos = lf + 1;
            self.scanned = 0;
            match self.code {
                Some(first) if first != code => {
                    return Err(ReplyError::CodeMismatch { first, got: code });
                }
                _ => self.code = Some(code),
            }
            if self.lines.len() == self.limits.max_lines {
                return Err(ReplyError::TooManyLines {
                    limit: self.limits.max_lines,
                });
            }
            self.lines.push(text);
            if last {
                self.code = None;
                self.compact();
                return Ok(Some(Reply::new(code, std::mem::take(&mut self.lines))));
            }
        }
    }

    /// Drops consumed bytes once they are the larger part of the buffer.
    fn compact(&mut self) {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 4096 && self.pos * 2 > self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }
}

/// Splits one line (without its line end) into code, "is last line" and text.
fn parse_line(raw: &[u8]) -> Result<(ReplyCode, bool, String), ReplyError> {
    let malformed = |problem| ReplyError::Malformed {
        line: sanitized_prefix(raw),
        problem,
    };
    let digits = raw
        .get(..3)
        .filter(|d| d.iter().all(u8::is_ascii_digit))
        .ok_or_else(|| malformed("it does not start with a three-digit code"))?;
    let value = digits.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    let code = ReplyCode::new(value).ok_or_else(|| malformed("the code is not between 200 and 599"))?;
    let last = match raw.get(3) {
        None | Some(b' ') => true,
        Some(b'-') => false,
        Some(_) => return Err(malformed("the code is not followed by a space or a hyphen")),
    };
    let text = raw.get(4..).unwrap_or_default();
    Ok((code, last, String::from_utf8_lossy(text).into_owned()))
}

/// The first 80 bytes of a line, printable.
fn sanitized_prefix(raw: &[u8]) -> String {
    let head = &raw[..raw.len().min(80)];
    let mut out = String::new();
    super::push_sanitized(&mut out, &String::from_utf8_lossy(head));
    out
}

#[cfg(test)]
mod tests;
