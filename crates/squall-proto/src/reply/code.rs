//! Reply codes (RFC 5321 §4.2.1) and enhanced status codes (RFC 3463).

use std::fmt;

/// A reply code between 200 and 599.
///
/// RFC 5321 §4.2.1 has clients decide by the first digit only; a first digit outside 2–5 is
/// rejected by the parser, so every `ReplyCode` has a meaningful [`Class`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(u16);

impl ReplyCode {
    /// `220` service ready (greeting, STARTTLS go-ahead).
    pub const SERVICE_READY: Self = Self(220);
    /// `221` closing the channel (after QUIT).
    pub const CLOSING: Self = Self(221);
    /// `235` authentication succeeded.
    pub const AUTH_SUCCEEDED: Self = Self(235);
    /// `250` requested action completed.
    pub const OK: Self = Self(250);
    /// `334` continue the AUTH exchange.
    pub const AUTH_CONTINUE: Self = Self(334);
    /// `354` start mail input.
    pub const START_DATA: Self = Self(354);
    /// `421` service not available, closing the channel.
    pub const SERVICE_CLOSING: Self = Self(421);

    /// A code in 200..=599, or `None`.
    pub const fn new(code: u16) -> Option<Self> {
        if code >= 200 && code <= 599 {
            Some(Self(code))
        } else {
            None
        }
    }

    /// The numeric value.
    pub const fn value(self) -> u16 {
        self.0
    }

    /// The class given by the first digit.
    pub const fn class(self) -> Class {
        match self.0 / 100 {
            2 => Class::Completion,
            3 => Class::Intermediate,
            4 => Class::TransientFailure,
            _ => Class::PermanentFailure,
        }
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What the first digit of a reply code says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// `2yz`: the action was completed.
    Completion = 2,
    /// `3yz`: send more (the data after DATA, the next SASL step).
    Intermediate = 3,
    /// `4yz`: not done now; the same request may succeed later.
    TransientFailure = 4,
    /// `5yz`: not done; repeating the request will fail again.
    PermanentFailure = 5,
}

/// An RFC 3463 enhanced status code, `class.subject.detail` such as `5.1.1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    class: u8,
    subject: u16,
    detail: u16,
}

impl EnhancedCode {
    /// A code with class 2, 4 or 5 and subject and detail below 1000, or `None`.
    pub const fn new(class: u8, subject: u16, detail: u16) -> Option<Self> {
        if matches!(class, 2 | 4 | 5) && subject < 1000 && detail < 1000 {
            Some(Self {
                class,
                subject,
                detail,
            })
        } else {
            None
        }
    }

    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub const fn class(self) -> u8 {
        self.class
    }

    /// The subject: 0 other, 1 addressing, 2 mailbox, 3 mail system, 4 network, 5 protocol,
    /// 6 content, 7 security or policy.
    pub const fn subject(self) -> u16 {
        self.subject
    }

    /// The detail within the subject.
    pub const fn detail(self) -> u16 {
        self.detail
    }

    /// Parses a code at the start of `text` followed by a space or the end, and returns it with
    /// the rest of the text (leading spaces removed).
    pub(crate) fn parse_prefix(text: &str) -> Option<(Self, &str)> {
        let end = text.find([' ', '\t']).unwrap_or(text.len());
        let mut parts = text[..end].split('.');
        let class = parse_digits(parts.next()?, 1)?;
        let subject = parse_digits(parts.next()?, 3)?;
        let detail = parse_digits(parts.next()?, 3)?;
        if parts.next().is_some() {
            return None;
        }
        let code = Self::new(u8::try_from(class).ok()?, subject, detail)?;
        Some((code, text[end..].trim_start()))
    }
}

/// 1 to `max` ASCII digits.
fn parse_digits(s: &str, max: usize) -> Option<u16> {
    if s.is_empty() || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(ReplyCode::new(199), None);
        assert_eq!(ReplyCode::new(600), None);
        assert_eq!(ReplyCode::new(452).unwrap().class(), Class::TransientFailure);
        assert_eq!(ReplyCode::new(599).unwrap().class(), Class::PermanentFailure);
    }

    #[test]
    fn enhanced_prefix() {
        let (c, rest) = EnhancedCode::parse_prefix("5.1.1 <x@y>: user unknown").unwrap();
        assert_eq!((c.class(), c.subject(), c.detail()), (5, 1, 1));
        assert_eq!(rest, "<x@y>: user unknown");
        assert_eq!(EnhancedCode::parse_prefix("2.0.0").unwrap().1, "");
        assert_eq!(
            EnhancedCode::parse_prefix("4.7.123 x").unwrap().0.to_string(),
            "4.7.123"
        );
        for bad in [
            "", "5.1", "5.1.1.1", "3.1.1 x", "5.1.1000", "5..1", "55.1.1", "5.1.1x", "Ok",
        ] {
            assert_eq!(EnhancedCode::parse_prefix(bad), None, "{bad:?}");
        }
    }
}
