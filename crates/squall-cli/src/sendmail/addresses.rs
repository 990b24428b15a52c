//! The addresses in an address field (To, Cc, Bcc and their Resent- forms), for `-t`.
//!
//! mail-parser reads them, and it reads leniently: in `To: a@example.org Bcc: b@example.org` (a
//! folded line that lost its comma) it finds a group named `a@example.org Bcc` holding only b.
//! The recipients would see a, and a would not get the message. So each address a reader can
//! see in the field, a word with an `@` outside quoted strings and comments, must be one that
//! was read; otherwise the message is refused, rather than sent to fewer people than it shows.

use std::fmt;

use mail_parser::{HeaderValue, MessageParser};

/// An address a reader sees in a field that was not read from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Unread {
    /// The field's name, as written.
    pub(crate) field: String,
    pub(crate) address: String,
}

impl fmt::Display for Unread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the {} field shows {:?}, but its syntax does not let it be read as an address, so \
             it would not get the message; fix the field (a comma between addresses, say)",
            self.field, self.address
        )
    }
}

/// The addresses in the value of the field `field` (the part after the colon), each one a
/// reader can see among them.
pub(crate) fn read(field: &str, value: &[u8]) -> Result<Vec<String>, Unread> {
    let found = parse(value);
    match visible(value).into_iter().find(|seen| !found.contains(seen)) {
        None => Ok(found),
        Some(address) => Err(Unread {
            field: field.to_string(),
            address,
        }),
    }
}

/// What mail-parser reads in the value, parsed alone: nothing in it can reach another field.
pub(crate) fn parse(value: &[u8]) -> Vec<String> {
    let mut field = Vec::with_capacity(value.len() + 8);
    field.extend_from_slice(b"To:");
    field.extend_from_slice(value);
    field.extend_from_slice(b"\r\n\r\n");
    let Some(m) = MessageParser::default().parse_headers(&field[..]) else {
        return Vec::new();
    };
    m.header_values("To")
        .flat_map(|v| match v {
            HeaderValue::Address(a) => a.iter().filter_map(|x| x.address()).map(str::to_string).collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// The words with an `@` outside quoted strings and comments (RFC 5322 §3.2.4, §3.2.2), but not
/// a source route's `@domain` (§4.4): the addresses a reader of the field sees.
fn visible(value: &[u8]) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = Vec::new();
    let mut end_word = |word: &mut Vec<u8>| {
        if word.contains(&b'@') && word.first() != Some(&b'@') {
            words.push(String::from_utf8_lossy(word).into_owned());
        }
        word.clear();
    };
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b'"' => {
                end_word(&mut word);
                i = skip_quoted(value, i + 1);
                continue;
            }
            b'(' => {
                end_word(&mut word);
                i = skip_comment(value, i + 1);
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' | b',' | b';' | b':' | b'<' | b'>' | b')' | b'[' | b']' => {
                end_word(&mut word);
            }
            b => word.push(b),
        }
        i += 1;
    }
    end_word(&mut word);
    words
}

/// Where a quoted string that started before `i` ends (after its closing quote).
fn skip_quoted(value: &[u8], mut i: usize) -> usize {
    while i < value.len() {
        match value[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    value.len()
}

/// Where a comment that started before `i` ends (after its closing parenthesis; comments nest).
fn skip_comment(value: &[u8], mut i: usize) -> usize {
    let mut depth = 1;
    while i < value.len() {
        match value[i] {
            b'\\' => i += 1,
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    value.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(value: &str) -> Vec<String> {
        read("To", value.as_bytes()).unwrap()
    }

    #[test]
    fn the_usual_forms_are_read() {
        assert_eq!(ok(" a@example.org"), ["a@example.org"]);
        assert_eq!(
            ok(" A <a@example.org>, \"b@c.org, Bee\" <b@example.org> (c@d.org), e@example.org"),
            ["a@example.org", "b@example.org", "e@example.org"]
        );
        assert_eq!(
            ok(" Team: a@example.org, b@example.org;"),
            ["a@example.org", "b@example.org"]
        );
        assert_eq!(
            ok(" \"john@x.org\" <john@x.org>\r\n\t, x@example.org\r\n"),
            ["john@x.org", "x@example.org"]
        );
        assert_eq!(ok(" undisclosed-recipients:;"), Vec::<String>::new());
        assert_eq!(
            ok(" \"x\\\"y@z\" <a@example.org> (nested (b@c.org) comment)"),
            ["a@example.org"]
        );
    }

    #[test]
    fn a_visible_recipient_cannot_be_dropped() {
        // A lost comma: the first address became a group's name.
        let e = read("To", b" a@example.org\r\n\tBcc: h@example.org").unwrap_err();
        assert_eq!(e.address, "a@example.org");
        assert!(
            e.to_string().starts_with("the To field shows \"a@example.org\""),
            "{e}"
        );
        assert!(read("Cc", b" a@example.org b@example.org").is_err());
        // An obsolete source route: mail-parser keeps it in the address, which no server takes.
        assert!(read("To", b" <@route.org:a@example.org>").is_err());
    }
}
