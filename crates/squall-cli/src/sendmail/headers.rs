//! The header section as sendmail sends it: who it is for (`-t`), the Bcc field removed, and
//! From, Date and Message-ID added when missing, as a submission server would. Where it ends is
//! the [splitter](super::split)'s call; this only reads the fields it found.

use super::addresses::{self, Unread};
use super::lines::lines;
use super::split::Split;

/// One header field: its name and its lines.
struct Field<'a> {
    /// Lowercase, without the spaces an obsolete `Name : value` puts before the colon.
    name: String,
    /// The field as it came: every line, line ends included.
    raw: &'a [u8],
    /// What follows the colon, continuation lines included.
    value: &'a [u8],
}

/// The header section, read once into fields. The fields are those the splitter found, so the
/// envelope is built from exactly the lines that will be sent.
pub(crate) struct Header<'a> {
    fields: Vec<Field<'a>>,
    /// The body starts with the blank line that ends the header.
    blank: bool,
}

impl<'a> Header<'a> {
    /// The fields of `input[split.start..split.end]`, which the splitter accepted.
    pub(crate) fn read(input: &'a [u8], split: Split) -> Self {
        let header = &input[split.start..split.end];
        // The splitter let no continuation line come first.
        let mut fields = Vec::new();
        let mut field_start = 0;
        for line in lines(header).skip(1) {
            if !matches!(header[line.start], b' ' | b'\t') {
                fields.push(Field::new(&header[field_start..line.start]));
                field_start = line.start;
            }
        }
        if field_start < header.len() {
            fields.push(Field::new(&header[field_start..]));
        }
        Self {
            fields,
            blank: split.blank,
        }
    }

    /// The addresses in every field called `name` (lowercase).
    fn addresses(&self, name: &str) -> Result<Vec<String>, Unread> {
        let mut all = Vec::new();
        for f in self.fields.iter().filter(|f| f.name == name) {
            let written = String::from_utf8_lossy(&f.raw[..f.raw.len() - f.value.len() - 1]);
            all.extend(addresses::read(written.trim_end_matches([' ', '\t']), f.value)?);
        }
        Ok(all)
    }

    fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|f| f.name == name)
    }

    /// The address in From, for a default envelope sender.
    pub(crate) fn sender_address(&self) -> Option<String> {
        let from = self.fields.iter().filter(|f| f.name == "from");
        from.flat_map(|f| addresses::parse(f.value)).next()
    }

    /// What `-t` sends to: To, Cc and Bcc, or only the Resent- fields when there are any
    /// (RFC 5322 §3.6.6). Refused when one of them shows an address that cannot be read.
    pub(crate) fn recipients(&self) -> Result<Vec<String>, Unread> {
        let resent = ["resent-to", "resent-cc", "resent-bcc"]
            .iter()
            .any(|n| self.has(n));
        let names = if resent {
            ["resent-to", "resent-cc", "resent-bcc"]
        } else {
            ["to", "cc", "bcc"]
        };
        let mut all = Vec::new();
        for n in names {
            all.extend(self.addresses(n)?);
        }
        Ok(all)
    }

    /// The header to send, up to and without the blank line the body may start with: Bcc and
    /// Resent-Bcc removed; From (as `from`, a valid address, named `full_name`), Date and
    /// Message-ID added when missing; a blank line added when the body does not start with one.
    pub(crate) fn to_send(&self, from: &str, full_name: Option<&str>) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.fields.iter().map(|f| f.raw.len()).sum::<usize>());
        if !self.has("from") {
            let from = match full_name.map(quote_name) {
                Some(name) => format!("From: {name} <{from}>\r\n"),
                None => format!("From: <{from}>\r\n"),
            };
            out.extend_from_slice(from.as_bytes());
        }
        if !self.has("date") {
            let date = mail_builder::headers::date::Date::now().to_rfc822();
            out.extend_from_slice(format!("Date: {date}\r\n").as_bytes());
        }
        if !self.has("message-id") {
            let domain = from.rsplit_once('@').map_or("squall.localhost", |(_, d)| d);
            out.extend_from_slice(format!("Message-ID: <{}>\r\n", squall::new_message_id(domain)).as_bytes());
        }
        for f in &self.fields {
            if f.name != "bcc" && f.name != "resent-bcc" {
                out.extend_from_slice(f.raw);
            }
        }
        if !out.ends_with(b"\n") {
            // The input ended inside the last field.
            out.extend_from_slice(b"\r\n");
        }
        if !self.blank {
            // No blank line follows (the body starts with a line that is no field, or there is
            // no body): end the header here.
            out.extend_from_slice(b"\r\n");
        }
        out
    }
}

impl<'a> Field<'a> {
    fn new(raw: &'a [u8]) -> Self {
        let colon = raw.iter().position(|&b| b == b':').unwrap_or(raw.len());
        let name = String::from_utf8_lossy(&raw[..colon]);
        Self {
            name: name.trim_end_matches([' ', '\t']).to_ascii_lowercase(),
            raw,
            value: raw.get(colon + 1..).unwrap_or_default(),
        }
    }
}

/// A display name as a quoted string when it holds anything but atom text and spaces.
fn quote_name(name: &str) -> String {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " !#$%&'*+-/=?^_`{|}~".contains(c));
    if plain {
        name.to_string()
    } else {
        let escaped: String = name
            .chars()
            .filter(|c| !c.is_control())
            .flat_map(|c| match c {
                '"' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        format!("\"{escaped}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::super::split::split;
    use super::*;

    /// The header as read, and the message as it will be sent (header and body).
    fn read(input: &[u8]) -> Header<'_> {
        Header::read(input, split(input).unwrap())
    }

    fn sent(input: &[u8], from: &str, full_name: Option<&str>) -> String {
        let s = split(input).unwrap();
        let mut out = Header::read(input, s).to_send(from, full_name);
        out.extend_from_slice(&input[s.end..]);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn recipients_come_from_to_cc_and_bcc_and_bcc_is_removed() {
        let m = b"From: Me <me@example.org>\nTo: A <a@example.org>, b@example.org\nCc: Group: c@example.org;\nBcc: hidden@example.org,\n  also-hidden@example.org\nSubject: hi\n\nBcc: this line is body\n";
        assert_eq!(
            read(m).recipients().unwrap(),
            [
                "a@example.org",
                "b@example.org",
                "c@example.org",
                "hidden@example.org",
                "also-hidden@example.org"
            ]
        );
        let out = sent(m, "me@example.org", None);
        assert!(!out.contains("hidden@example.org"), "{out}");
        assert!(
            out.contains("Bcc: this line is body"),
            "the body is untouched: {out}"
        );
        assert!(
            out.contains("To: A <a@example.org>, b@example.org\nCc: Group"),
            "{out}"
        );
        assert!(
            out.starts_with("Date: ") && out.contains("\r\nMessage-ID: <"),
            "{out}"
        );
        assert!(!out.contains("From: <me"), "From was there already: {out}");
        assert_eq!(read(m).sender_address().as_deref(), Some("me@example.org"));
    }

    #[test]
    fn obsolete_space_before_colon_is_a_header() {
        let m = b"To: a@example.org\nBcc : x@example.org\nCC\t: c@example.org\n\nbody\n";
        assert_eq!(
            read(m).recipients().unwrap(),
            ["a@example.org", "c@example.org", "x@example.org"]
        );
        let out = sent(m, "me@example.org", None);
        assert!(!out.contains("x@example.org"), "{out}");
        assert!(out.ends_with("CC\t: c@example.org\n\nbody\n"), "{out}");
    }

    #[test]
    fn mbox_from_line_is_dropped() {
        let m = b"From alice@example.org Mon Jan  1 00:00:00 2024\nFrom: Alice <alice@example.org>\nTo: b@example.org\nBcc: c@example.org\n\nhi\n";
        assert_eq!(read(m).recipients().unwrap(), ["b@example.org", "c@example.org"]);
        assert_eq!(read(m).sender_address().as_deref(), Some("alice@example.org"));
        let out = sent(m, "alice@example.org", None);
        assert!(!out.contains("From alice"), "{out}");
        assert!(
            out.ends_with("From: Alice <alice@example.org>\nTo: b@example.org\n\nhi\n"),
            "{out}"
        );
    }

    #[test]
    fn resent_fields_take_over_when_present() {
        let m = b"To: old@example.org\nResent-To: new@example.org\nResent-Bcc: secret@example.org\n\nx\n";
        assert_eq!(
            read(m).recipients().unwrap(),
            ["new@example.org", "secret@example.org"]
        );
        assert!(!sent(m, "me@example.org", None).contains("secret@"));
    }

    #[test]
    fn a_field_cannot_reach_into_the_next() {
        // An unclosed quote or comment stays inside its field.
        let m = b"To: \"a@example.org\nBcc: b@example.org\nCc: (c@example.org\nTo: d@example.org\n\n";
        let r = read(m).recipients().unwrap();
        assert!(r.contains(&"d@example.org".to_string()), "{r:?}");
        assert!(r.contains(&"b@example.org".to_string()), "{r:?}");
    }

    #[test]
    fn missing_from_is_added_with_the_full_name() {
        let out = sent(
            b"Subject: cron\n\nout\n",
            "root@host.example",
            Some("Cron Daemon"),
        );
        assert!(
            out.starts_with("From: Cron Daemon <root@host.example>\r\n"),
            "{out}"
        );
        assert!(out.ends_with("Subject: cron\n\nout\n"), "{out}");
        let out = sent(b"Subject: x\n\ny\n", "a@b.example", Some("O'Brien, Pat"));
        assert!(out.starts_with("From: \"O'Brien, Pat\" <a@b.example>"), "{out}");
        let out = sent(
            b"Subject: x\n\ny\n",
            "a@b.example",
            Some("Eve\r\nBcc: x@example.org"),
        );
        assert!(
            out.starts_with("From: \"EveBcc: x@example.org\" <a@b.example>\r\n"),
            "{out}"
        );
    }

    #[test]
    fn a_body_without_a_header_gets_one() {
        let out = sent(b"just text\n", "a@b.example", None);
        assert!(
            out.contains("Message-ID: <") && out.ends_with("\r\n\r\njust text\n"),
            "{out}"
        );
        let out = sent(b"To: a@example.org", "a@b.example", None);
        assert!(out.ends_with("\r\nTo: a@example.org\r\n\r\n"), "{out}");
        let out = sent(b"To: a@example.org\nBcc: b@example.org", "a@b.example", None);
        assert!(out.ends_with("\r\nTo: a@example.org\n\r\n"), "{out}");
    }
}
