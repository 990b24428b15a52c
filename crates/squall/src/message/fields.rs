//! Header rules for [`Message`](super::Message): which fields squall writes itself, which appear
//! once (RFC 5322 §3.6), and what a header value may contain.

use std::path::Path;

use crate::error::Error;

/// What a header name means to a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Field {
    From,
    To,
    Cc,
    Bcc,
    ReplyTo,
    Subject,
    Date,
    MessageId,
    /// Another field RFC 5322 allows at most once (Sender, In-Reply-To, References).
    Once,
    /// Written by squall from the message's parts: never by hand.
    Mime,
    /// Any other field: it may repeat.
    Other,
}

impl Field {
    pub(super) fn of(name: &str) -> Self {
        match name.to_ascii_lowercase().as_str() {
            "from" => Self::From,
            "to" => Self::To,
            "cc" => Self::Cc,
            "bcc" => Self::Bcc,
            "reply-to" => Self::ReplyTo,
            "subject" => Self::Subject,
            "date" => Self::Date,
            "message-id" => Self::MessageId,
            "sender" | "in-reply-to" | "references" => Self::Once,
            "mime-version" | "content-type" | "content-transfer-encoding" => Self::Mime,
            _ => Self::Other,
        }
    }
}

/// Refuses what cannot go into a header line: CR, LF or NUL (they would start new fields) and
/// any other control character (terminals and mail readers act on them).
pub(super) fn check_text(what: &str, value: &str) -> Result<(), Error> {
    let Some(c) = value.chars().find(|&c| c.is_control() && c != '\t') else {
        return Ok(());
    };
    Err(Error::input(match c {
        '\r' | '\n' | '\0' => {
            let name = match c {
                '\r' => "CR",
                '\n' => "LF",
                _ => "NUL",
            };
            format!("the {what} contains a {name} character, which could inject header fields; remove it")
        }
        c => format!(
            "the {what} contains the control character U+{:04X}, which cannot appear in a header; remove it",
            u32::from(c)
        ),
    }))
}

pub(super) fn check_header_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
        return Err(Error::input(format!(
            "invalid header name {name:?}: use printable ASCII without spaces or ':'"
        )));
    }
    Ok(())
}

/// A content type from a file extension, from mime_guess's table (octet-stream when unknown).
pub(super) fn guess_type(path: &Path) -> String {
    mime_guess::from_path(path)
        .first_or_octet_stream()
        .essence_str()
        .to_string()
}

/// Whether a text part must travel base64-encoded: a control character other than TAB and CRLF
/// line ends (a NUL, an ESC, a bare CR), which 7bit and 8bit content may not carry (RFC 2045
/// §2.7) and quoted-printable would have to spell out anyway.
pub(super) fn needs_base64(text: &[u8]) -> bool {
    text.iter().enumerate().any(|(i, &b)| match b {
        b'\t' | b'\n' => false,
        b'\r' => text.get(i + 1) != Some(&b'\n'),
        _ => b < 0x20 || b == 0x7f,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_refused_by_name() {
        assert!(check_text("subject", "tab\tok").is_ok());
        let e = check_text("subject", "esc\x1b[31m").unwrap_err().to_string();
        assert!(e.contains("U+001B"), "{e}");
        assert!(check_text("subject", "del\x7f").is_err());
        assert!(check_text("subject", "c1\u{85}").is_err());
    }

    #[test]
    fn what_needs_base64() {
        assert!(!needs_base64(b"plain\r\ntext\n\ttab"));
        assert!(needs_base64(b"nul\0"));
        assert!(needs_base64(b"bare\rcr"));
        assert!(needs_base64(b"esc\x1b"));
    }
}
