//! Server replies (RFC 5321 §4.2) and enhanced status codes (RFC 3463).

mod code;
mod parser;

pub use code::{Class, EnhancedCode, ReplyCode};
pub use parser::{ReplyError, ReplyLimits, ReplyParser};

use std::fmt;

/// One complete server reply: a code, an optional enhanced status code and its text lines.
///
/// The text is kept as the server sent it (decoded lossily as UTF-8) so that errors shown to users
/// can quote the server's own words; [`Reply::message`] gives the text without the enhanced code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    code: ReplyCode,
    enhanced: Option<EnhancedCode>,
    lines: Vec<String>,
}

impl Reply {
    /// Builds a reply from its parts; the enhanced code is taken from the first line when present.
    ///
    /// Meant for tests and for servers built on this crate; clients get replies from [`ReplyParser`].
    pub fn new(code: ReplyCode, lines: Vec<String>) -> Self {
        let enhanced = lines
            .first()
            .and_then(|l| EnhancedCode::parse_prefix(l))
            .filter(|(e, _)| e.class() == code.class() as u8)
            .map(|(e, _)| e);
        Self {
            code,
            enhanced,
            lines,
        }
    }

    /// The three-digit reply code.
    pub fn code(&self) -> ReplyCode {
        self.code
    }

    /// The RFC 3463 enhanced status code at the start of the text, if the server gave one whose
    /// class agrees with the reply code (when they disagree, the reply code wins and this is `None`).
    pub fn enhanced(&self) -> Option<EnhancedCode> {
        self.enhanced
    }

    /// The text of each line, exactly as received after the code and separator.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The human text: every line with a leading enhanced code removed, joined by a space,
    /// with control characters replaced so it is safe to print.
    pub fn message(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            let text = match self.enhanced {
                Some(_) => EnhancedCode::parse_prefix(line).map_or(line.as_str(), |(_, rest)| rest),
                None => line.as_str(),
            };
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            push_sanitized(&mut out, text);
        }
        out
    }

    /// True for 2yz and 3yz replies.
    pub fn is_positive(&self) -> bool {
        matches!(self.code.class(), Class::Completion | Class::Intermediate)
    }

    /// True for 4yz replies: the same request may succeed later.
    pub fn is_transient(&self) -> bool {
        self.code.class() == Class::TransientFailure
    }

    /// True for 5yz replies: repeating the same request will fail again.
    pub fn is_permanent(&self) -> bool {
        self.code.class() == Class::PermanentFailure
    }

    /// The queue id from a final `250` after the data ("queued as ABC123", "Ok: queued as ABC123",
    /// or "... id=ABC123"), when the server gives one.
    pub fn queue_id(&self) -> Option<&str> {
        let text = self.lines.first()?;
        let lower = text.to_ascii_lowercase();
        let start = if let Some(i) = lower.find("queued as ") {
            i + "queued as ".len()
        } else if let Some(i) = lower.find("id=") {
            i + "id=".len()
        } else {
            return None;
        };
        let id = text[start..]
            .split(|c: char| c.is_whitespace() || c == ')' || c == ',' || c == ';')
            .next()?;
        // Printable ASCII only: the id is shown to people and written to JSON.
        (!id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic())).then_some(id)
    }
}

impl fmt::Display for Reply {
    /// `550 5.1.1 user unknown`: one line, safe to print, never containing CR or LF.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(e) = self.enhanced {
            write!(f, " {e}")?;
        }
        let msg = self.message();
        if !msg.is_empty() {
            write!(f, " {msg}")?;
        }
        Ok(())
    }
}

/// Appends `text`, replacing control characters with U+FFFD so server text cannot drive a terminal.
pub(crate) fn push_sanitized(out: &mut String, text: &str) {
    out.extend(text.chars().map(|c| {
        if c.is_control() && c != '\t' {
            char::REPLACEMENT_CHARACTER
        } else {
            c
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16, lines: &[&str]) -> Reply {
        Reply::new(
            ReplyCode::new(code).unwrap(),
            lines.iter().map(|s| s.to_string()).collect(),
        )
    }

    #[test]
    fn display_is_one_sanitized_line() {
        let r = reply(550, &["5.1.1 user unknown", "5.1.1 try again \u{1b}[31m"]);
        assert_eq!(r.to_string(), "550 5.1.1 user unknown try again \u{fffd}[31m");
        assert_eq!(r.enhanced(), Some(EnhancedCode::new(5, 1, 1).unwrap()));
    }

    #[test]
    fn enhanced_code_class_must_agree() {
        let r = reply(250, &["5.1.1 odd"]);
        assert_eq!(r.enhanced(), None);
        assert_eq!(r.message(), "5.1.1 odd");
    }

    #[test]
    fn empty_text() {
        let r = reply(250, &[""]);
        assert_eq!(r.to_string(), "250");
    }

    #[test]
    fn queue_ids() {
        assert_eq!(
            reply(250, &["2.0.0 Ok: queued as 4Xyz12"]).queue_id(),
            Some("4Xyz12")
        );
        assert_eq!(
            reply(250, &["OK id=1tqA-0001 accepted"]).queue_id(),
            Some("1tqA-0001")
        );
        assert_eq!(reply(250, &["2.0.0 Ok"]).queue_id(), None);
    }
}
