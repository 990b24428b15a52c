//! A redacted record of the dialog, for `--transcript` style output.
//!
//! Client lines come from [`Command`](crate::command::Command)'s `Display`, which prints SASL data
//! as `***`; message content is summarised by size, never copied. Server lines are sanitized.

use std::collections::VecDeque;
use std::fmt;

use crate::reply::{Reply, push_sanitized};

/// Who a transcript line is from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Sent by the client.
    Client,
    /// Received from the server.
    Server,
    /// A note from the session (TLS hand-off, content summary).
    Info,
}

/// One line of a transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TranscriptLine {
    /// Who.
    pub direction: Direction,
    /// The line, without line end, safe to print.
    pub text: String,
}

impl TranscriptLine {
    /// A line as the session records it (for tests of code that prints transcripts). The text
    /// must already be safe to print: the session escapes and redacts before it makes lines.
    pub fn new(direction: Direction, text: impl Into<String>) -> Self {
        Self {
            direction,
            text: text.into(),
        }
    }
}

impl fmt::Display for TranscriptLine {
    /// `C: MAIL FROM:<a@b>`, `S: 250 2.1.0 Ok`, `*  …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self.direction {
            Direction::Client => "C: ",
            Direction::Server => "S: ",
            Direction::Info => "*  ",
        };
        write!(f, "{prefix}{}", self.text)
    }
}

/// At most this many lines wait for the driver; older ones are dropped first.
const MAX_LINES: usize = 4096;

#[derive(Debug, Default)]
pub(crate) struct Transcript {
    lines: Option<VecDeque<TranscriptLine>>,
}

impl Transcript {
    pub(crate) fn new(on: bool) -> Self {
        Self {
            lines: on.then(VecDeque::new),
        }
    }

    fn push(&mut self, direction: Direction, text: String) {
        if let Some(lines) = &mut self.lines {
            if lines.len() == MAX_LINES {
                lines.pop_front();
            }
            lines.push_back(TranscriptLine { direction, text });
        }
    }

    /// Records a client line; `text` is only built when recording.
    pub(crate) fn client(&mut self, text: impl FnOnce() -> String) {
        if self.lines.is_some() {
            self.push(Direction::Client, text());
        }
    }

    pub(crate) fn info(&mut self, text: impl FnOnce() -> String) {
        if self.lines.is_some() {
            self.push(Direction::Info, text());
        }
    }

    pub(crate) fn server(&mut self, reply: &Reply) {
        if self.lines.is_none() {
            return;
        }
        let n = reply.lines().len();
        for (i, line) in reply.lines().iter().enumerate() {
            let sep = if i + 1 == n { ' ' } else { '-' };
            let mut text = format!("{}{sep}", reply.code());
            push_sanitized(&mut text, line);
            self.push(Direction::Server, text.trim_end().to_string());
        }
    }

    pub(crate) fn pop(&mut self) -> Option<TranscriptLine> {
        self.lines.as_mut()?.pop_front()
    }
}
