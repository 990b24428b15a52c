//! The JSON shapes of the API (documented in `openapi.yaml`).

use serde::Serialize;

use crate::mail::{Mail, content_type};
use crate::mailbox::Entry;
use crate::store::ReceivedMessage;

/// One message in a list.
#[derive(Debug, Serialize)]
pub(crate) struct Item<'a> {
    id: &'a str,
    /// MAIL FROM; `None` when the envelope is not known (see `envelope_known`).
    mail_from: Option<&'a str>,
    /// Every RCPT TO (Bcc included); `None` when the envelope is not known.
    rcpt_to: Option<&'a [String]>,
    /// The From header's addresses.
    from: &'a [String],
    /// To and Cc headers' addresses.
    to: &'a [String],
    subject: Option<&'a str>,
    received_at: &'a str,
    size: usize,
    attachments: usize,
    seen: bool,
    /// Read back from the Maildir at start.
    reloaded: bool,
    /// False for a reloaded message whose envelope the sink has no record of.
    envelope_known: bool,
}

impl<'a> Item<'a> {
    pub(crate) fn of(e: &'a Entry) -> Self {
        let s = e.summary();
        let m = &e.msg;
        Self {
            id: &m.id,
            mail_from: m.envelope_known.then_some(m.mail_from.as_str()),
            rcpt_to: m.envelope_known.then_some(m.rcpt_to.as_slice()),
            from: &s.from,
            to: &s.to,
            subject: s.subject.as_deref(),
            received_at: &m.received_at,
            size: m.size,
            attachments: s.attachments,
            seen: e.seen,
            reloaded: m.reloaded,
            envelope_known: m.envelope_known,
        }
    }
}

/// A page of a list.
#[derive(Debug, Serialize)]
pub(crate) struct Page<'a> {
    /// Messages that match, in all.
    pub(crate) total: usize,
    pub(crate) start: usize,
    pub(crate) messages: Vec<Item<'a>>,
}

/// One message, parsed.
#[derive(Debug, Serialize)]
pub(crate) struct Full<'a> {
    #[serde(flatten)]
    item: Item<'a>,
    /// `None` when not known (a reloaded message without the sink's record).
    envelope: Option<Envelope<'a>>,
    /// `None` when not known, as `envelope`.
    session: Option<Session<'a>>,
    headers: Vec<Header>,
    text: Option<String>,
    html: Option<String>,
    parts: Vec<Part>,
}

#[derive(Debug, Serialize)]
struct Envelope<'a> {
    mail_from: &'a str,
    mail_params: &'a [String],
    rcpt_to: &'a [String],
    rcpt_params: &'a [Vec<String>],
}

/// What the SMTP session was like.
#[derive(Debug, Serialize)]
struct Session<'a> {
    helo: Option<&'a str>,
    tls: bool,
    /// `TLSv1.2` or `TLSv1.3`, when `tls`.
    tls_version: Option<&'a str>,
    /// The cipher suite (rustls's name), when `tls`.
    tls_cipher: Option<&'a str>,
    /// The authenticated user.
    auth: Option<&'a str>,
    /// `DATA` or `BDAT`.
    transfer: &'a str,
}

#[derive(Debug, Serialize)]
struct Header {
    name: String,
    value: String,
}

/// A leaf MIME part; its bytes are at `/api/v1/messages/{id}/parts/{index}`.
#[derive(Debug, Serialize)]
pub(crate) struct Part {
    pub(crate) index: usize,
    pub(crate) content_type: String,
    pub(crate) name: Option<String>,
    pub(crate) content_id: Option<String>,
    /// An attachment or inline part rather than the text or HTML body.
    pub(crate) attachment: bool,
    pub(crate) inline: bool,
    pub(crate) size: usize,
}

impl<'a> Full<'a> {
    pub(crate) fn of(e: &'a Entry, mail: &Mail) -> Self {
        let m: &ReceivedMessage = &e.msg;
        Self {
            item: Item::of(e),
            envelope: m.envelope_known.then(|| Envelope {
                mail_from: &m.mail_from,
                mail_params: &m.mail_params,
                rcpt_to: &m.rcpt_to,
                rcpt_params: &m.rcpt_params,
            }),
            session: m.envelope_known.then_some(Session {
                helo: m.helo.as_deref(),
                tls: m.tls,
                tls_version: m.tls_version.as_deref(),
                tls_cipher: m.tls_cipher.as_deref(),
                auth: m.auth.as_deref(),
                transfer: m.transfer,
            }),
            headers: mail
                .parsed()
                .map(|p| {
                    p.headers_raw()
                        .map(|(n, v)| Header {
                            name: n.to_string(),
                            value: v.trim().to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            text: mail.text(),
            html: mail.html(),
            parts: parts(mail),
        }
    }
}

/// The leaf parts of a message.
pub(crate) fn parts(mail: &Mail) -> Vec<Part> {
    use mail_parser::MimeHeaders;
    let Some(p) = mail.parsed() else {
        return Vec::new();
    };
    p.parts
        .iter()
        .enumerate()
        .filter(|(_, part)| !part.is_multipart())
        .map(|(i, part)| Part {
            index: i,
            content_type: content_type(part),
            name: part.attachment_name().map(str::to_string),
            content_id: part.content_id().map(|c| c.trim_matches(['<', '>']).to_string()),
            attachment: p.attachments.contains(&(i as u32)),
            inline: part.content_disposition().is_some_and(|d| d.is_inline()),
            size: part.contents().len(),
        })
        .collect()
}
