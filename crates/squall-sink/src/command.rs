//! A command line: its verb, and the arguments of the simple commands. `MAIL` and `RCPT`
//! arguments are parsed in [`path`](crate::path).
//!
//! Checks that hold for every command come first: no control character anywhere in the line
//! (a bare CR, a NUL or an ESC has no place in SMTP commands and would reach logs and replies),
//! and UTF-8 only (RFC 6531 allows UTF-8, never other bytes).

use thiserror::Error;

/// The commands the sink knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verb {
    Ehlo,
    Helo,
    Mail,
    Rcpt,
    Data,
    Bdat,
    StartTls,
    Auth,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Help,
    Unknown,
}

impl Verb {
    const NAMES: [(&'static str, Self); 13] = [
        ("EHLO", Self::Ehlo),
        ("HELO", Self::Helo),
        ("MAIL", Self::Mail),
        ("RCPT", Self::Rcpt),
        ("DATA", Self::Data),
        ("BDAT", Self::Bdat),
        ("STARTTLS", Self::StartTls),
        ("AUTH", Self::Auth),
        ("RSET", Self::Rset),
        ("NOOP", Self::Noop),
        ("QUIT", Self::Quit),
        ("VRFY", Self::Vrfy),
        ("HELP", Self::Help),
    ];

    fn of(word: &str) -> Self {
        Self::NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(word))
            .map_or(Self::Unknown, |(_, v)| *v)
    }
}

/// A command line that is refused before its verb is looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub(crate) enum LineError {
    /// A control character (CR, NUL, ESC, TAB, …) inside the line.
    #[error("control character in command")]
    Control,
    /// Bytes that are not UTF-8.
    #[error("command is not UTF-8")]
    NotUtf8,
}

impl LineError {
    /// The reply to send.
    pub(crate) fn reply(self) -> String {
        format!("500 5.5.2 Error: {self}")
    }
}

/// Splits a line (without its CRLF) into verb and arguments (the text after the first space).
pub(crate) fn split(line: &[u8]) -> Result<(Verb, &str), LineError> {
    if line.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(LineError::Control);
    }
    let line = std::str::from_utf8(line).map_err(|_| LineError::NotUtf8)?;
    // C1 controls are UTF-8 too, and just as unwelcome.
    if line.chars().any(char::is_control) {
        return Err(LineError::Control);
    }
    let (verb, args) = line.split_once(' ').unwrap_or((line, ""));
    Ok((Verb::of(verb), args))
}

/// `EHLO name` / `HELO name`: one word.
pub(crate) fn parse_hello(args: &str) -> Option<&str> {
    let name = args.trim_matches(' ');
    (!name.is_empty() && !name.contains(char::is_whitespace)).then_some(name)
}

/// `BDAT size [LAST]`: the chunk size and whether it is the last. `None` when malformed, including
/// a size that does not fit in 64 bits.
pub(crate) fn parse_bdat(args: &str) -> Option<(u64, bool)> {
    let mut words = args.split(' ').filter(|w| !w.is_empty());
    let size = words
        .next()
        .filter(|w| w.bytes().all(|b| b.is_ascii_digit()))?
        .parse()
        .ok()?;
    let last = match words.next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case("LAST") => true,
        Some(_) => return None,
    };
    words.next().is_none().then_some((size, last))
}

/// `AUTH mechanism [initial-response]`.
pub(crate) fn parse_auth(args: &str) -> Option<(&str, Option<&str>)> {
    let mut words = args.split(' ').filter(|w| !w.is_empty());
    let mechanism = words.next()?;
    let initial = words.next();
    words.next().is_none().then_some((mechanism, initial))
}

/// `SIZE=n` of MAIL: the declared size, saturating (a number past 64 bits is simply too big).
pub(crate) fn parse_size_param(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(value.parse().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_in_any_case() {
        assert_eq!(split(b"ehlo x"), Ok((Verb::Ehlo, "x")));
        assert_eq!(split(b"MAIL FROM:<a@b>"), Ok((Verb::Mail, "FROM:<a@b>")));
        assert_eq!(split(b"StartTLS"), Ok((Verb::StartTls, "")));
        assert_eq!(split(b"XYZZY 1"), Ok((Verb::Unknown, "1")));
        assert_eq!(split(b""), Ok((Verb::Unknown, "")));
    }

    #[test]
    fn control_characters_and_bad_utf8_are_refused() {
        for line in [
            &b"MAIL FROM:<a\x1b@b>"[..],
            b"RCPT TO:<a@b>\rRSET",
            b"NOOP\0",
            b"EHLO\tx",
            b"HELO x\x7f",
            "HELO x\u{85}".as_bytes(),
        ] {
            assert_eq!(split(line), Err(LineError::Control), "{line:?}");
        }
        assert_eq!(split(b"HELO \xff"), Err(LineError::NotUtf8));
        assert_eq!(split("HELO exämple".as_bytes()), Ok((Verb::Helo, "exämple")));
    }

    #[test]
    fn bdat_arguments() {
        assert_eq!(parse_bdat("10"), Some((10, false)));
        assert_eq!(parse_bdat("0 last"), Some((0, true)));
        assert_eq!(parse_bdat("18446744073709551615 LAST"), Some((u64::MAX, true)));
        for bad in ["", "x", "-1", "+1", "1 LAST x", "1 FIRST", "18446744073709551616"] {
            assert_eq!(parse_bdat(bad), None, "{bad}");
        }
    }

    #[test]
    fn other_arguments() {
        assert_eq!(parse_hello(" mx.example "), Some("mx.example"));
        assert_eq!(parse_hello(""), None);
        assert_eq!(parse_hello("a b"), None);
        assert_eq!(parse_auth("PLAIN AGpvZQ=="), Some(("PLAIN", Some("AGpvZQ=="))));
        assert_eq!(parse_auth("PLAIN a b"), None);
        assert_eq!(parse_size_param("123"), Some(123));
        assert_eq!(parse_size_param("99999999999999999999999"), Some(u64::MAX));
        assert_eq!(parse_size_param("1e3"), None);
        assert_eq!(parse_size_param(""), None);
    }
}
