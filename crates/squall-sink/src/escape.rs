//! Client-supplied text made safe to print.
//!
//! Whatever a client sends can end up on the sink's terminal or in a log: an envelope address,
//! an EHLO name, an AUTH user. Printed raw, an ESC starts a terminal control sequence, a CR
//! overwrites the line before it, and a right-to-left override reorders what the reader sees.
//! [`escape`] writes every such character as a Rust-style escape instead, so what is printed
//! is one line that shows exactly what was sent.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every control character, the Unicode characters that change how text is
/// displayed (bidi overrides and isolates, zero-width characters, line and paragraph
/// separators), and the backslash itself escaped (`\x1b`, `\r`, `\u{202e}`, `\\`).
///
/// Escaping the backslash keeps the mapping one-to-one: a printed `\x1b` is always an escape,
/// never four characters the client sent.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// [`escape`] for bytes that may not be UTF-8: each byte of an invalid sequence is written as
/// `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return escape(text);
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_escaped(&mut out, c);
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || c == '\\'
        || matches!(c,
            // Zero-width space, non-joiner, joiner; left-to-right and right-to-left marks.
            '\u{200b}'..='\u{200f}'
            // Line and paragraph separators; bidi embeddings and overrides.
            | '\u{2028}'..='\u{202e}'
            // Word joiner and invisible operators; bidi isolates.
            | '\u{2060}'..='\u{2069}'
            // Byte order mark / zero-width no-break space.
            | '\u{feff}')
}

fn push_escaped(out: &mut String, c: char) {
    if !needs_escape(c) {
        out.push(c);
        return;
    }
    match c {
        '\\' => out.push_str("\\\\"),
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(escape("joe@example.org"), Cow::Borrowed(_)));
        assert!(matches!(escape("jöe@exämple.org"), Cow::Borrowed(_)));
    }

    #[test]
    fn control_and_display_characters_are_escaped() {
        for (raw, shown) in [
            ("a\x1b[2Jb", "a\\x1b[2Jb"),
            ("a\rb\nc\td\0", "a\\rb\\nc\\td\\0"),
            ("del\x7f", "del\\x7f"),
            ("c1\u{9b}", "c1\\u{9b}"),
            ("evil\u{202e}gro.elpmaxe", "evil\\u{202e}gro.elpmaxe"),
            ("zw\u{200b}sp", "zw\\u{200b}sp"),
            ("back\\slash", "back\\\\slash"),
        ] {
            assert_eq!(escape(raw), shown, "{raw:?}");
        }
    }

    #[test]
    fn invalid_utf8_bytes_are_shown_in_hex() {
        assert_eq!(escape_bytes(b"a\xffb\xc3"), "a\\xffb\\xc3");
        assert_eq!(escape_bytes("ok \x1b".as_bytes()), "ok \\x1b");
    }

    #[test]
    fn escaped_text_has_no_control_characters() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let shown = escape(&all);
        assert!(!shown.chars().any(needs_escape_except_backslash), "{shown}");
    }

    fn needs_escape_except_backslash(c: char) -> bool {
        c != '\\' && needs_escape(c)
    }
}
