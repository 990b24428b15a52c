//! [`Message`]: build an email (From, To, Cc, Bcc, Subject, text, HTML, attachments, headers)
//! and send it with [`Client::send_message`](crate::Client::send_message).
//!
//! The wire bytes are rendered lazily (see [`Derived`]): only when read, and again only after a
//! change to something that shows in the message. Bcc and the envelope sender do not show, so
//! changing them renders nothing. Date and Message-ID are fixed when the message is built, so a
//! message renders the same headers however often it is rendered and retried.

mod address;
mod address_field;
mod attachment;
mod builder;
mod fields;
mod render;
mod syntax;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use squall_proto::address::{Mailbox, ReversePath};
use squall_proto::data::Profile;
use squall_proto::envelope::Envelope;
use squall_proto::params::MailOptions;

use crate::delivery::Delivery;
use crate::error::Error;
use crate::lazy::Derived;
pub use address::{IntoAddresses, NamedAddress};
pub use attachment::Attachment;
pub use builder::MessageBuilder;
use fields::{Field, check_header_name, check_text};

/// An attachment, and whether it is a download or a part the HTML shows.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Part {
    attachment: Attachment,
    /// The Content-ID of an inline part (without angle brackets).
    cid: Option<String>,
}

/// Everything that shows in the rendered message.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Content {
    from: Option<NamedAddress>,
    to: Vec<NamedAddress>,
    cc: Vec<NamedAddress>,
    reply_to: Vec<NamedAddress>,
    subject: Option<String>,
    text: Option<String>,
    html: Option<String>,
    attachments: Vec<Part>,
    /// Fields added by name (each checked against the fields above).
    headers: Vec<(String, String)>,
    date: i64,
    /// The caller set the Date.
    own_date: bool,
    message_id: String,
    /// The caller set the Message-ID: building does not replace it.
    own_message_id: bool,
}

/// The wire bytes, and what MAIL must declare for them.
#[derive(Clone, Debug)]
struct Rendered {
    bytes: Arc<[u8]>,
    profile: Profile,
}

/// An email to send: headers, bodies and attachments, plus the envelope-only Bcc.
///
/// Each field RFC 5322 allows once (From, Subject, Date, Message-ID, …) appears once: setting it
/// again replaces it, and adding it as a second header field is refused with an error. Text and
/// HTML parts, and text attachments, that hold control characters (a NUL, an ESC, a bare CR) are
/// sent base64-encoded, so the message is always text a server may carry.
#[derive(Clone, Debug)]
pub struct Message {
    content: Derived<Content, Rendered>,
    bcc: Vec<Mailbox>,
    envelope_from: Option<ReversePath>,
    delivery: Delivery,
}

impl Message {
    /// Starts a message with Date and Message-ID filled in.
    pub fn builder() -> MessageBuilder {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        MessageBuilder {
            message: Self {
                content: Derived::new(
                    Content {
                        from: None,
                        to: Vec::new(),
                        cc: Vec::new(),
                        reply_to: Vec::new(),
                        subject: None,
                        text: None,
                        html: None,
                        attachments: Vec::new(),
                        headers: Vec::new(),
                        date: now.as_secs() as i64,
                        own_date: false,
                        message_id: String::new(),
                        own_message_id: false,
                    },
                    render::render,
                ),
                bcc: Vec::new(),
                envelope_from: None,
                delivery: Delivery::default(),
            },
            error: None,
        }
    }

    /// The wire bytes (rendered now if a visible field changed since the last render).
    pub fn bytes(&self) -> Arc<[u8]> {
        self.content.get().bytes.clone()
    }

    /// The size of the wire bytes.
    pub fn size(&self) -> usize {
        self.content.get().bytes.len()
    }

    /// How many times the message was rendered.
    pub fn render_count(&self) -> u64 {
        self.content.computations()
    }

    /// The Message-ID, without angle brackets.
    pub fn message_id(&self) -> &str {
        &self.content.source().message_id
    }

    /// The envelope: the envelope sender (or the From address) to To, Cc and Bcc, each once.
    pub fn envelope(&self) -> Result<Envelope, Error> {
        let c = self.content.source();
        let from = match (&self.envelope_from, &c.from) {
            (Some(p), _) => p.clone(),
            (None, Some(f)) => ReversePath::Mailbox(f.mailbox.clone()),
            (None, None) => return Err(Error::input("the message has no From address")),
        };
        let mut rcpts: Vec<Mailbox> = Vec::new();
        for m in c.to.iter().chain(&c.cc).map(|a| &a.mailbox).chain(&self.bcc) {
            if !rcpts.iter().any(|r| r.as_str().eq_ignore_ascii_case(m.as_str())) {
                rcpts.push(m.clone());
            }
        }
        let p = self.content.get().profile;
        let options = MailOptions::for_content(&p);
        Envelope::new(from, rcpts)
            .map(|e| self.delivery.apply(e.with_options(options)))
            .map_err(|_| Error::input("the message has no recipient (To, Cc or Bcc)"))
    }

    /// Sets the Subject.
    pub fn set_subject(&mut self, subject: &str) -> Result<(), Error> {
        check_text("subject", subject)?;
        self.content.update(|c| c.subject = Some(subject.to_string()));
        Ok(())
    }

    /// Sets the plain-text body.
    pub fn set_text(&mut self, text: &str) {
        self.content.update(|c| c.text = Some(text.to_string()));
    }

    /// Sets the HTML body (sent as multipart/alternative with the text body, if any).
    pub fn set_html(&mut self, html: &str) {
        self.content.update(|c| c.html = Some(html.to_string()));
    }

    /// Adds To recipients: one address, a list (`"a@example.org, Bo <b@example.org>"`), a
    /// `(name, address)` pair, a [`NamedAddress`] or a [`Mailbox`] (see [`IntoAddresses`]).
    pub fn add_to(&mut self, addresses: impl IntoAddresses) -> Result<(), Error> {
        let a = addresses.into_addresses()?;
        self.content.update(|c| c.to.extend(a));
        Ok(())
    }

    /// Adds Cc recipients (as [`add_to`](Self::add_to) takes them).
    pub fn add_cc(&mut self, addresses: impl IntoAddresses) -> Result<(), Error> {
        let a = addresses.into_addresses()?;
        self.content.update(|c| c.cc.extend(a));
        Ok(())
    }

    /// Adds Bcc recipients: envelope only, never in the headers, so nothing is re-rendered.
    pub fn add_bcc(&mut self, addresses: impl IntoAddresses) -> Result<(), Error> {
        self.bcc
            .extend(addresses.into_addresses()?.into_iter().map(|a| a.mailbox));
        Ok(())
    }

    /// Sets the From address (exactly one).
    pub fn set_from(&mut self, address: impl IntoAddresses) -> Result<(), Error> {
        let mut list = address.into_addresses()?;
        if list.len() != 1 {
            return Err(Error::input(format!(
                "From takes one address, not {}: give the author, such as Alice <alice@example.org>",
                list.len()
            )));
        }
        let a = list.remove(0);
        self.content.update(|c| c.from = Some(a));
        Ok(())
    }

    /// Sets the envelope sender (MAIL FROM) when it differs from From, such as a bounce address.
    /// `<>` is the null sender. Envelope only: nothing is re-rendered.
    pub fn set_envelope_from(&mut self, sender: &str) -> Result<(), Error> {
        let p = ReversePath::parse(sender)
            .map_err(|e| Error::input(format!("invalid envelope sender {sender:?}: {e}")))?;
        self.envelope_from = Some(p);
        Ok(())
    }

    /// Sets the delivery requests (DSN, REQUIRETLS) that go with the envelope. Envelope only:
    /// nothing is re-rendered.
    pub fn set_delivery(&mut self, delivery: Delivery) {
        self.delivery = delivery;
    }

    /// Adds a header field. Names are printable ASCII without `:`; values may not contain
    /// control characters other than TAB (a CR or LF would start a new field).
    ///
    /// A field squall writes itself is taken as that field: `From`, `To`, `Cc`, `Bcc` and
    /// `Reply-To` are parsed as addresses (so the envelope sees them), `Subject`, `Date` (RFC 5322
    /// form) and `Message-ID` set those. A field RFC 5322 allows once that the message already has
    /// is refused, as are the MIME fields squall writes from the parts.
    pub fn add_header(&mut self, name: &str, value: &str) -> Result<(), Error> {
        check_header_name(name)?;
        check_text(name, value)?;
        let c = self.content.source();
        let taken = match Field::of(name) {
            Field::From => c.from.is_some(),
            Field::Subject => c.subject.is_some(),
            Field::Date => c.own_date,
            Field::MessageId => c.own_message_id,
            Field::Once => c.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)),
            _ => false,
        };
        if taken {
            return Err(Error::input(format!(
                "the message already has a {name} field, and RFC 5322 allows one; remove one of them"
            )));
        }
        match Field::of(name) {
            Field::Mime => Err(Error::input(format!(
                "{name} is written by squall from the message's parts; it cannot be set by hand"
            ))),
            Field::From => self.set_from(value),
            Field::To => self.add_to(value),
            Field::Cc => self.add_cc(value),
            Field::Bcc => self.add_bcc(value),
            Field::ReplyTo => self.add_reply_to(value),
            Field::Subject => self.set_subject(value),
            Field::Date => {
                let date = mail_parser::DateTime::parse_rfc822(value.trim()).ok_or_else(|| {
                    Error::input(format!(
                        "the Date {value:?} is not an RFC 5322 date (such as \"Tue, 1 Jul 2025 10:52:37 +0200\")"
                    ))
                })?;
                self.content.update(|c| {
                    c.date = date.to_timestamp();
                    c.own_date = true;
                });
                Ok(())
            }
            Field::MessageId => self.set_message_id(value),
            Field::Once | Field::Other => {
                let (n, v) = (name.to_string(), value.to_string());
                self.content.update(|c| c.headers.push((n, v)));
                Ok(())
            }
        }
    }

    /// Adds Reply-To addresses (as [`add_to`](Self::add_to) takes them).
    pub fn add_reply_to(&mut self, addresses: impl IntoAddresses) -> Result<(), Error> {
        let a = addresses.into_addresses()?;
        self.content.update(|c| c.reply_to.extend(a));
        Ok(())
    }

    /// Sets the Date (by default, when the message was started).
    pub fn set_date(&mut self, date: SystemTime) {
        let secs = match date.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        };
        self.content.update(|c| {
            c.date = secs;
            c.own_date = true;
        });
    }

    /// Sets the Message-ID (`id@domain`, with or without angle brackets; by default a unique one
    /// at the From domain). Keep it when resending the same message, so that recipients can tell
    /// a duplicate.
    pub fn set_message_id(&mut self, id: &str) -> Result<(), Error> {
        let bare = id.trim();
        let bare = bare
            .strip_prefix('<')
            .and_then(|b| b.strip_suffix('>'))
            .unwrap_or(bare);
        let ok = bare.contains('@')
            && !bare.starts_with('@')
            && !bare.ends_with('@')
            && bare
                .bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\'));
        if !ok {
            return Err(Error::input(format!(
                "invalid Message-ID {id:?}: give it as id@domain, in printable ASCII without spaces"
            )));
        }
        let bare = bare.to_string();
        self.content.update(|c| {
            c.message_id = bare;
            c.own_message_id = true;
        });
        Ok(())
    }

    /// Adds an attachment from memory.
    pub fn add_attachment(
        &mut self,
        filename: &str,
        content_type: &str,
        data: impl Into<Arc<[u8]>>,
    ) -> Result<(), Error> {
        self.attach(Attachment::new(filename, content_type, data)?);
        Ok(())
    }

    /// Adds an attachment (a download).
    pub fn attach(&mut self, attachment: Attachment) {
        self.content.update(|c| {
            c.attachments.push(Part {
                attachment,
                cid: None,
            })
        });
    }

    /// Adds a part the HTML body shows inline, as `<img src="cid:CID">`: it travels in a
    /// multipart/related part with the HTML (RFC 2387), with Content-ID `<CID>`.
    pub fn add_inline(&mut self, cid: &str, attachment: Attachment) -> Result<(), Error> {
        let cid = cid.trim();
        let cid = cid
            .strip_prefix('<')
            .and_then(|c| c.strip_suffix('>'))
            .unwrap_or(cid);
        if cid.is_empty()
            || !cid
                .bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\'))
        {
            return Err(Error::input(format!(
                "invalid Content-ID {cid:?}: use printable ASCII without spaces, such as logo@example.org"
            )));
        }
        let cid = cid.to_string();
        self.content.update(|c| {
            c.attachments.push(Part {
                attachment,
                cid: Some(cid),
            })
        });
        Ok(())
    }
}

/// A fresh Message-ID (without the angle brackets) for a message from `domain`, unique across
/// processes and calls: time, process id, a counter.
pub fn new_message_id(domain: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{nanos:x}.{:x}.{n:x}.squall@{domain}", std::process::id())
}

#[cfg(test)]
mod tests;
