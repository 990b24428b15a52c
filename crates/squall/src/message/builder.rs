//! [`MessageBuilder`]: a [`Message`] put together in one expression, its first error kept for
//! `build`.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use super::{Attachment, IntoAddresses, Message, new_message_id};
use crate::error::Error;

/// Builds a [`Message`]; errors (a bad address, a line break in a header) are reported by
/// [`build`](Self::build).
#[derive(Debug)]
pub struct MessageBuilder {
    pub(super) message: Message,
    pub(super) error: Option<Error>,
}

impl MessageBuilder {
    fn apply(mut self, f: impl FnOnce(&mut Message) -> Result<(), Error>) -> Self {
        if self.error.is_none()
            && let Err(e) = f(&mut self.message)
        {
            self.error = Some(e);
        }
        self
    }

    /// The From address: `alice@example.org`, `Alice <alice@example.org>`, or
    /// `("Alice", "alice@example.org")` (see [`IntoAddresses`]).
    pub fn from(self, address: impl IntoAddresses) -> Self {
        self.apply(|m| m.set_from(address))
    }

    /// Adds To recipients: one address or a list (`"a@example.org, \"Doe, J\" <j@example.org>"`),
    /// a `(name, address)` pair, a [`NamedAddress`](crate::NamedAddress) or a [`Mailbox`](crate::Mailbox).
    pub fn to(self, addresses: impl IntoAddresses) -> Self {
        self.apply(|m| m.add_to(addresses))
    }

    /// Adds Cc recipients.
    pub fn cc(self, addresses: impl IntoAddresses) -> Self {
        self.apply(|m| m.add_cc(addresses))
    }

    /// Adds Bcc recipients (envelope only).
    pub fn bcc(self, addresses: impl IntoAddresses) -> Self {
        self.apply(|m| m.add_bcc(addresses))
    }

    /// Adds Reply-To addresses.
    pub fn reply_to(self, addresses: impl IntoAddresses) -> Self {
        self.apply(|m| m.add_reply_to(addresses))
    }

    /// The Date (by default, when [`Message::builder`] was called).
    pub fn date(self, date: SystemTime) -> Self {
        self.apply(|m| {
            m.set_date(date);
            Ok(())
        })
    }

    /// The Message-ID (by default a unique one at the From domain).
    pub fn message_id(self, id: &str) -> Self {
        self.apply(|m| m.set_message_id(id))
    }

    /// The Subject.
    pub fn subject(self, subject: &str) -> Self {
        self.apply(|m| m.set_subject(subject))
    }

    /// The plain-text body.
    pub fn text(self, text: &str) -> Self {
        self.apply(|m| {
            m.set_text(text);
            Ok(())
        })
    }

    /// The HTML body.
    pub fn html(self, html: &str) -> Self {
        self.apply(|m| {
            m.set_html(html);
            Ok(())
        })
    }

    /// A header field (see [`Message::add_header`] for the fields squall writes itself).
    pub fn header(self, name: &str, value: &str) -> Self {
        self.apply(|m| m.add_header(name, value))
    }

    /// An attachment from memory.
    pub fn attachment(self, filename: &str, content_type: &str, data: impl Into<Arc<[u8]>>) -> Self {
        self.apply(|m| m.add_attachment(filename, content_type, data))
    }

    /// An attachment read from a file now, its type guessed from the extension. A missing file
    /// is reported by `build`. This reads the file on the calling thread: in async code, prefer
    /// [`Attachment::read`] and [`attach`](Self::attach), which do not block the runtime.
    pub fn attach_file(self, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        self.apply(|m| {
            let data = std::fs::read(path)
                .map_err(|e| Error::input(format!("cannot read attachment {}: {e}", path.display())))?;
            m.attach(Attachment::from_file(path, data)?);
            Ok(())
        })
    }

    /// An attachment (a download).
    pub fn attach(self, attachment: Attachment) -> Self {
        self.apply(|m| {
            m.attach(attachment);
            Ok(())
        })
    }

    /// A part the HTML body shows inline as `<img src="cid:CID">` (see [`Message::add_inline`]).
    pub fn inline(self, cid: &str, attachment: Attachment) -> Self {
        self.apply(|m| m.add_inline(cid, attachment))
    }

    /// Delivery requests (DSN, REQUIRETLS) for the envelope.
    pub fn delivery(mut self, delivery: crate::Delivery) -> Self {
        self.message.set_delivery(delivery);
        self
    }

    /// The envelope sender, when it differs from From.
    pub fn envelope_from(self, sender: &str) -> Self {
        self.apply(|m| m.set_envelope_from(sender))
    }

    /// The message, or the first error met while building it.
    pub fn build(mut self) -> Result<Message, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let c = self.message.content.source();
        if !c.own_message_id {
            let domain = c
                .from
                .as_ref()
                .and_then(|f| f.mailbox.domain().map(str::to_string))
                .unwrap_or_else(|| "squall.localhost".into());
            let id = new_message_id(&domain);
            self.message.content.update(|c| c.message_id = id);
        }
        Ok(self.message)
    }
}
