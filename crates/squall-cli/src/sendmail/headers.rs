//! The message as sendmail receives it: where input ends, who it is for (`-t`), the Bcc field
//! removed, and From, Date and Message-ID added when missing, as a submission server would.

use mail_parser::{HeaderValue, MessageParser};

/// Each line of `buf` as (offset where it starts, its text without the line end).
fn lines(buf: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= buf.len() {
            return None;
        }
        let end = buf[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(buf.len(), |i| start + i + 1);
        let line = &buf[start..end];
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let at = start;
        start = end;
        Some((at, text))
    })
}

/// The input up to a line holding only `.` (unless `ignore_dots`), as sendmail reads it.
pub(crate) fn until_dot(input: &[u8], ignore_dots: bool) -> &[u8] {
    if ignore_dots {
        return input;
    }
    match lines(input).find(|(_, text)| *text == b".") {
        Some((at, _)) => &input[..at],
        None => input,
    }
}

/// Where the header section ends: the byte after its last field (before the blank line), or 0
/// when the input does not start with a header field.
fn header_end(msg: &[u8]) -> usize {
    lines(msg)
        .find(|&(at, text)| {
            let continuation = matches!(text.first(), Some(b' ' | b'\t')) && at > 0;
            text.is_empty() || !(continuation || is_field(text))
        })
        .map_or(msg.len(), |(at, _)| at)
}

/// `Name: value`, with a name of printable ASCII other than `:` (RFC 5322 §2.2).
fn is_field(line: &[u8]) -> bool {
    match line.iter().position(|&b| b == b':') {
        Some(colon) if colon > 0 => line[..colon].iter().all(|&b| (33..=126).contains(&b)),
        _ => false,
    }
}

/// The fields of the header section, each with its continuation lines: (name, raw bytes).
fn fields(header: &[u8]) -> Vec<(String, &[u8])> {
    let mut out: Vec<(String, &[u8])> = Vec::new();
    let mut field_start = 0;
    for (at, text) in lines(header) {
        if at > 0 && !matches!(text.first(), Some(b' ' | b'\t')) {
            push_field(&mut out, &header[field_start..at]);
            field_start = at;
        }
    }
    if field_start < header.len() {
        push_field(&mut out, &header[field_start..]);
    }
    out
}

fn push_field<'a>(out: &mut Vec<(String, &'a [u8])>, raw: &'a [u8]) {
    let name = raw.split(|&b| b == b':').next().unwrap_or_default();
    out.push((String::from_utf8_lossy(name).trim().to_ascii_lowercase(), raw));
}

/// A message read once: its header fields (raw and parsed) and its body.
pub(crate) struct Message<'a> {
    /// Where the header section ends (0: there is none).
    end: usize,
    fields: Vec<(String, &'a [u8])>,
    body: &'a [u8],
    parsed: Option<mail_parser::Message<'a>>,
}

impl<'a> Message<'a> {
    pub(crate) fn read(msg: &'a [u8]) -> Self {
        let end = header_end(msg);
        let (header, body) = msg.split_at(end);
        Self {
            end,
            fields: fields(header),
            body,
            parsed: MessageParser::default().parse_headers(header),
        }
    }

    /// The addresses in every field called `name`.
    fn addresses(&self, name: &str) -> Vec<String> {
        let Some(m) = &self.parsed else { return Vec::new() };
        m.header_values(name)
            .flat_map(|v| match v {
                HeaderValue::Address(a) => a.iter().filter_map(|x| x.address()).map(str::to_string).collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|(n, _)| n == name)
    }

    /// The address in From, for a default envelope sender.
    pub(crate) fn sender_address(&self) -> Option<String> {
        self.addresses("From").into_iter().next()
    }

    /// What `-t` sends to: To, Cc and Bcc, or only the Resent- fields when there are any
    /// (RFC 5322 §3.6.6).
    pub(crate) fn recipients(&self) -> Vec<String> {
        let resent = ["resent-to", "resent-cc", "resent-bcc"]
            .iter()
            .any(|n| self.has(n));
        let names = if resent {
            ["Resent-To", "Resent-Cc", "Resent-Bcc"]
        } else {
            ["To", "Cc", "Bcc"]
        };
        names.iter().flat_map(|n| self.addresses(n)).collect()
    }

    /// The bytes to send: Bcc and Resent-Bcc removed; From, Date and Message-ID added when
    /// missing.
    pub(crate) fn to_send(&self, sender: &str, full_name: Option<&str>) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.end + self.body.len() + 256);
        if !self.has("from") {
            let from = match full_name.map(quote_name) {
                Some(name) => format!("From: {name} <{sender}>\r\n"),
                None => format!("From: <{sender}>\r\n"),
            };
            out.extend_from_slice(from.as_bytes());
        }
        if !self.has("date") {
            let date = mail_builder::headers::date::Date::now().to_rfc822();
            out.extend_from_slice(format!("Date: {date}\r\n").as_bytes());
        }
        if !self.has("message-id") {
            let domain = sender.rsplit_once('@').map_or("squall.localhost", |(_, d)| d);
            out.extend_from_slice(format!("Message-ID: <{}>\r\n", squall::new_message_id(domain)).as_bytes());
        }
        for (name, raw) in &self.fields {
            if name != "bcc" && name != "resent-bcc" {
                out.extend_from_slice(raw);
            }
        }
        if self.end == 0 || !self.body.starts_with(b"\n") && !self.body.starts_with(b"\r\n") {
            // No header at all, or none ended by a blank line: separate what was added.
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(self.body);
        out
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
    use super::*;

    fn text(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    #[test]
    fn a_lone_dot_ends_input_unless_told_otherwise() {
        let input = b"Subject: x\n\nline\n.\nafter\n";
        assert_eq!(until_dot(input, false), b"Subject: x\n\nline\n");
        assert_eq!(until_dot(input, true), input);
        assert_eq!(until_dot(b"a\r\n.\r\nb", false), b"a\r\n");
        assert_eq!(
            until_dot(b"a\n..\n.x\n", false),
            b"a\n..\n.x\n",
            "only a lone dot"
        );
        assert_eq!(until_dot(b".\n", false), b"");
    }

    #[test]
    fn recipients_come_from_to_cc_and_bcc_and_bcc_is_removed() {
        let m = b"From: Me <me@example.org>\nTo: A <a@example.org>, b@example.org\nCc: Group: c@example.org;\nBcc: hidden@example.org,\n  also-hidden@example.org\nSubject: hi\n\nBcc: this line is body\n";
        let m = Message::read(m);
        assert_eq!(
            m.recipients(),
            [
                "a@example.org",
                "b@example.org",
                "c@example.org",
                "hidden@example.org",
                "also-hidden@example.org"
            ]
        );
        let out = text(&m.to_send("me@example.org", None));
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
        assert_eq!(m.sender_address().as_deref(), Some("me@example.org"));
    }

    #[test]
    fn resent_fields_take_over_when_present() {
        let m = b"To: old@example.org\nResent-To: new@example.org\nResent-Bcc: secret@example.org\n\nx\n";
        let m = Message::read(m);
        assert_eq!(m.recipients(), ["new@example.org", "secret@example.org"]);
        assert!(!text(&m.to_send("me@example.org", None)).contains("secret@"));
    }

    #[test]
    fn missing_from_is_added_with_the_full_name() {
        let out =
            text(&Message::read(b"Subject: cron\n\nout\n").to_send("root@host.example", Some("Cron Daemon")));
        assert!(
            out.starts_with("From: Cron Daemon <root@host.example>\r\n"),
            "{out}"
        );
        assert!(out.ends_with("Subject: cron\n\nout\n"), "{out}");
        let out = text(&Message::read(b"Subject: x\n\ny\n").to_send("a@b.example", Some("O'Brien, Pat")));
        assert!(out.starts_with("From: \"O'Brien, Pat\" <a@b.example>"), "{out}");
    }

    #[test]
    fn a_body_without_a_header_gets_one() {
        let out = text(&Message::read(b"just text\n").to_send("a@b.example", None));
        assert!(
            out.contains("Message-ID: <") && out.ends_with("\r\n\r\njust text\n"),
            "{out}"
        );
    }
}
