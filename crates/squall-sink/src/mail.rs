//! A received message as a test reads it: the envelope the sink saw plus the content parsed
//! by mail-parser, so a test asks for `subject()` or `attachments()` instead of searching bytes.

use std::fmt;
use std::sync::Arc;

use mail_parser::{Address, MessageParser, MimeHeaders};

use crate::escape::escape;
use crate::store::ReceivedMessage;

/// One received message, parsed. Cheap to clone (the content is shared).
///
/// The envelope (`envelope_from`, `envelope_to`) is what the client said over SMTP; the
/// headers (`from`, `to`, `cc`) are what the message says. A Bcc recipient is in the envelope
/// only.
#[derive(Clone)]
pub struct Mail {
    received: Arc<ReceivedMessage>,
    /// `None` when the content is not a message (mail-parser's accessors need a root part).
    parsed: Option<Arc<mail_parser::Message<'static>>>,
}

/// An attachment or inline part of a [`Mail`], decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// The file name the message gives it, if any.
    pub name: Option<String>,
    /// `type/subtype`, lower case (`application/octet-stream` when the part says nothing).
    pub content_type: String,
    /// The Content-ID, without angle brackets, for inline parts an HTML body refers to.
    pub content_id: Option<String>,
    /// Whether the part is marked inline rather than attachment.
    pub inline: bool,
    /// The decoded bytes.
    pub data: Vec<u8>,
}

impl Mail {
    /// Parses a received message. Content that is not a message at all (empty, say) still
    /// gives a `Mail`: its header accessors return nothing.
    pub fn new(received: impl Into<Arc<ReceivedMessage>>) -> Self {
        let received = received.into();
        let parsed = MessageParser::default()
            .parse(&received.data[..])
            .filter(|m| !m.parts.is_empty())
            .map(|m| Arc::new(m.into_owned()));
        Self { received, parsed }
    }

    /// The sink's id for the message.
    pub fn id(&self) -> &str {
        &self.received.id
    }

    /// The envelope as the sink recorded it (MAIL, RCPT, HELO, TLS, AUTH, size, time).
    pub fn received(&self) -> &ReceivedMessage {
        &self.received
    }

    /// The reverse path from MAIL FROM (empty for `<>`).
    pub fn envelope_from(&self) -> &str {
        &self.received.mail_from
    }

    /// Every accepted RCPT TO, in order; Bcc recipients show here and nowhere else.
    pub fn envelope_to(&self) -> &[String] {
        &self.received.rcpt_to
    }

    /// The content exactly as received.
    pub fn raw(&self) -> &[u8] {
        &self.received.data
    }

    /// The parsed message, for anything the accessors here do not cover.
    /// `None` when the content does not parse as a message.
    pub fn parsed(&self) -> Option<&mail_parser::Message<'static>> {
        self.parsed.as_deref()
    }

    /// The Subject, decoded.
    pub fn subject(&self) -> Option<&str> {
        self.parsed()?.subject()
    }

    /// The addresses in From.
    pub fn from(&self) -> Vec<String> {
        addresses(self.parsed().and_then(|p| p.from()))
    }

    /// The addresses in To.
    pub fn to(&self) -> Vec<String> {
        addresses(self.parsed().and_then(|p| p.to()))
    }

    /// The addresses in Cc.
    pub fn cc(&self) -> Vec<String> {
        addresses(self.parsed().and_then(|p| p.cc()))
    }

    /// The first text part, decoded (or the HTML part as text when there is no text part).
    pub fn text(&self) -> Option<String> {
        self.parsed()?.body_text(0).map(|c| c.into_owned())
    }

    /// The first HTML part, decoded.
    pub fn html(&self) -> Option<String> {
        let p = self.parsed()?;
        let part = p.parts.get(*p.html_body.first()? as usize)?;
        part.is_text_html()
            .then(|| part.text_contents().map(str::to_string))?
    }

    /// The value of the first header named `name` (any case), unfolded, without the name.
    /// Encoded words are left as sent; use [`parsed`](Self::parsed) for decoded values.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers(name).into_iter().next()
    }

    /// The values of every header named `name` (any case), in order.
    pub fn headers(&self, name: &str) -> Vec<String> {
        let Some(p) = self.parsed() else {
            return Vec::new();
        };
        p.headers_raw()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| unfold(v))
            .collect()
    }

    /// Attachments and inline parts that are not the message's text or HTML body.
    pub fn attachments(&self) -> Vec<Attachment> {
        let Some(msg) = self.parsed() else {
            return Vec::new();
        };
        msg.attachments
            .iter()
            .filter_map(|&i| msg.parts.get(i as usize))
            .map(|p| Attachment {
                name: p.attachment_name().map(str::to_string),
                content_type: content_type(p),
                content_id: p.content_id().map(|c| c.trim_matches(['<', '>']).to_string()),
                inline: p.content_disposition().is_some_and(|d| d.is_inline()),
                data: p.contents().to_vec(),
            })
            .collect()
    }

    /// `<id> from <a> to <b>, <c>: "subject"` with what the client chose escaped, for lists in
    /// failure messages.
    pub fn summary(&self) -> String {
        let to: Vec<_> = self.envelope_to().iter().map(|r| escape(r)).collect();
        format!(
            "{} from <{}> to <{}>: {}",
            escape(self.id()),
            escape(self.envelope_from()),
            to.join(">, <"),
            match self.subject() {
                Some(s) => format!("{:?}", escape(s)),
                None => "(no subject)".into(),
            }
        )
    }
}

impl fmt::Debug for Mail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail")
            .field("id", &self.id())
            .field("envelope_from", &self.envelope_from())
            .field("envelope_to", &self.envelope_to())
            .field("subject", &self.subject())
            .finish_non_exhaustive()
    }
}

/// `type/subtype` of a part, lower case.
pub(crate) fn content_type(p: &mail_parser::MessagePart<'_>) -> String {
    match p.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None if p.is_text() => "text/plain".into(),
        None => "application/octet-stream".into(),
    }
}

fn addresses(a: Option<&Address<'_>>) -> Vec<String> {
    a.map(|a| a.iter().filter_map(|x| x.address()).map(str::to_string).collect())
        .unwrap_or_default()
}

/// A raw header value with its folding removed and the edges trimmed.
fn unfold(v: &str) -> String {
    v.split(['\r', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn received(data: &str) -> ReceivedMessage {
        ReceivedMessage {
            id: "1".into(),
            mail_from: "app@example.org".into(),
            mail_params: vec![],
            rcpt_to: vec!["bob@example.net".into(), "hidden@example.net".into()],
            rcpt_params: vec![],
            helo: None,
            tls: false,
            tls_version: None,
            tls_cipher: None,
            auth: None,
            size: data.len(),
            received_at: String::new(),
            transfer: "DATA",
            data: data.as_bytes().to_vec(),
            eml: None,
            maildir: None,
            reloaded: false,
            envelope_known: true,
        }
    }

    const MULTIPART: &str = "From: App <app@example.org>\r\nTo: Bob <bob@example.net>\r\n\
        Cc: carol@example.net, dan@example.net\r\nSubject: =?utf-8?q?R=C3=A9set?=\r\n\
        X-Trace: a\r\n  b\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n\
        Content-Type: multipart/alternative; boundary=YY\r\n\r\n--YY\r\n\
        Content-Type: text/plain\r\n\r\nhello text\r\n--YY\r\nContent-Type: text/html\r\n\r\n\
        <p>hello html</p>\r\n--YY--\r\n--XX\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\n\
        Content-Disposition: attachment; filename=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
        JVBERg==\r\n--XX--\r\n";

    #[test]
    fn reads_headers_bodies_and_attachments() {
        let m = Mail::new(received(MULTIPART));
        assert_eq!(m.subject(), Some("Réset"));
        assert_eq!(m.from(), ["app@example.org"]);
        assert_eq!(m.to(), ["bob@example.net"]);
        assert_eq!(m.cc(), ["carol@example.net", "dan@example.net"]);
        assert_eq!(m.envelope_to(), ["bob@example.net", "hidden@example.net"]);
        assert_eq!(m.text().unwrap().trim(), "hello text");
        assert_eq!(m.html().unwrap().trim(), "<p>hello html</p>");
        assert_eq!(m.header("x-trace").as_deref(), Some("a b"));
        assert_eq!(m.header("Nope"), None);
        let a = m.attachments();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].name.as_deref(), Some("a.pdf"));
        assert_eq!(a[0].content_type, "application/pdf");
        assert_eq!(a[0].data, b"%PDF");
        assert!(!a[0].inline);
    }

    #[test]
    fn not_a_message_gives_nothing_rather_than_failing() {
        let m = Mail::new(received(""));
        assert_eq!(m.subject(), None);
        assert!(m.from().is_empty());
        assert!(m.attachments().is_empty());
        assert!(m.summary().contains("(no subject)"));
    }

    #[test]
    fn summary_escapes_what_the_client_chose() {
        let m = Mail::new(received("Subject: a\u{1b}[31mred\r\n\r\nx\r\n"));
        assert!(!m.summary().contains('\u{1b}'), "{}", m.summary());
    }
}
