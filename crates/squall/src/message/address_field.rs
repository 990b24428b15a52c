//! Address fields as they go on the wire (From, To, Cc, Reply-To): display names as atoms, as a
//! quoted string, or as RFC 2047 encoded words, never an encoded word inside quotes (RFC 2047
//! §5, which mail-builder's own writer breaks), and lines folded before 78 characters.

use mail_builder::encoders::base64::base64_encode_mime;

use super::NamedAddress;

/// Where a line is folded, at the latest (RFC 5322 §2.1.1 asks for 78 with the CRLF).
const LINE: usize = 76;

/// Raw bytes of a name in one encoded word: 45 bytes are 60 base64 characters, and with
/// `=?utf-8?B?` and `?=` the word stays within RFC 2047's 75.
const ENCODED_CHUNK: usize = 45;

/// `Name: value\r\n` for the addresses in `list`.
pub(super) fn field(name: &str, list: &[NamedAddress]) -> String {
    let mut out = format!("{name}:");
    let mut col = out.len();
    for (i, a) in list.iter().enumerate() {
        let mut tokens = a.name.as_deref().map(phrase).unwrap_or_default();
        tokens.push(format!("<{}>", a.mailbox));
        if i + 1 < list.len() {
            tokens.last_mut().expect("the address").push(',');
        }
        // Folded before the address when it then fits on a line of its own, else between its
        // words.
        let whole = tokens.iter().map(|t| t.len() + 1).sum::<usize>();
        let mut fold = col + whole > LINE && col > name.len() + 1;
        for t in tokens {
            fold |= col + 1 + t.len() > LINE && col > name.len() + 1;
            if std::mem::take(&mut fold) {
                out.push_str("\r\n ");
                col = 1;
            } else {
                out.push(' ');
                col += 1;
            }
            col += t.len();
            out.push_str(&t);
        }
    }
    out.push_str("\r\n");
    out
}

/// A display name as the words of a phrase.
fn phrase(name: &str) -> Vec<String> {
    let printable = name.bytes().all(|b| (0x20..0x7f).contains(&b));
    // A literal `=?` would be read as the start of an encoded word, even inside quotes by
    // lenient readers: such a name is encoded too.
    if !printable || name.len() > 60 || name.contains("=?") {
        return encoded_words(name);
    }
    let atom = |w: &str| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b))
    };
    if name.split(' ').all(atom) {
        return name.split(' ').map(str::to_string).collect();
    }
    vec![format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))]
}

/// `=?utf-8?B?…?=` words, each at most 75 characters, split between characters.
fn encoded_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = name;
    while !rest.is_empty() {
        let mut end = rest.len().min(ENCODED_CHUNK);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let mut b64 = Vec::new();
        base64_encode_mime(&rest.as_bytes()[..end], &mut b64, true).expect("writing to a Vec cannot fail");
        words.push(format!("=?utf-8?B?{}?=", String::from_utf8_lossy(&b64)));
        rest = &rest[end..];
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed_from(field: &str) -> (String, String) {
        let m = format!("{field}\r\n");
        let m = mail_parser::MessageParser::default().parse(m.as_bytes()).unwrap();
        let a = m.from().unwrap().first().unwrap();
        (
            a.name().unwrap_or_default().to_string(),
            a.address().unwrap().to_string(),
        )
    }

    fn one(name: Option<&str>) -> String {
        let a = NamedAddress {
            name: name.map(str::to_string),
            mailbox: squall_proto::address::Mailbox::parse("ann@example.org").unwrap(),
        };
        field("From", &[a])
    }

    #[test]
    fn names_are_atoms_quoted_strings_or_encoded_words_never_encoded_inside_quotes() {
        assert_eq!(one(None), "From: <ann@example.org>\r\n");
        assert_eq!(one(Some("Ann Lee")), "From: Ann Lee <ann@example.org>\r\n");
        assert_eq!(
            one(Some("Lee, Ann \"A\"")),
            "From: \"Lee, Ann \\\"A\\\"\" <ann@example.org>\r\n"
        );
        let f = one(Some("Ännchen Müller"));
        assert!(f.starts_with("From: =?utf-8?B?") && !f.contains("\"=?"), "{f}");
        let long = "Wörter ".repeat(30);
        for name in [
            "Ann Lee",
            "Lee, Ann \"A\" \\",
            "Ännchen Müller",
            "x =?utf-8?B?eA==?= y",
            long.trim_end(),
        ] {
            let f = one(Some(name));
            assert!(f.split("\r\n").all(|l| l.len() <= 78), "{f}");
            assert_eq!(
                parsed_from(&f),
                (name.to_string(), "ann@example.org".into()),
                "{f}"
            );
        }
    }

    #[test]
    fn a_list_folds_between_addresses() {
        let list: Vec<NamedAddress> = (0..8)
            .map(|i| NamedAddress {
                name: Some(format!("Person {i}")),
                mailbox: squall_proto::address::Mailbox::parse(&format!("person{i}@example.org")).unwrap(),
            })
            .collect();
        let f = field("To", &list);
        assert!(f.split("\r\n").all(|l| l.len() <= 78), "{f}");
        assert!(f.contains(",\r\n "), "{f}");
        let raw = format!(
            "{f}
"
        );
        let m = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        assert_eq!(m.to().unwrap().iter().count(), 8);
    }
}
