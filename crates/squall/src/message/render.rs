//! Rendering a message's content into wire bytes with mail-builder, and measuring them.

use std::borrow::Cow;
use std::sync::Arc;

use mail_builder::MessageBuilder as Mime;
use mail_builder::encoders::base64::base64_encode_mime;
use mail_builder::headers::text::Text;
use mail_builder::mime::{BodyPart, MimePart};

use super::fields::needs_base64;
use super::{Content, Part, Rendered, address_field};

pub(super) fn render(c: &Content) -> Rendered {
    // The address fields are written here, before mail-builder's: its writer puts encoded
    // words inside quotes (see `address_field`).
    let mut bytes = Vec::new();
    let fields = [
        ("From", c.from.as_slice()),
        ("To", &c.to),
        ("Cc", &c.cc),
        ("Reply-To", &c.reply_to),
    ];
    for (name, list) in fields.into_iter().filter(|(_, l)| !l.is_empty()) {
        bytes.extend_from_slice(address_field::field(name, list).as_bytes());
    }
    let mut m = Mime::new();
    if let Some(s) = &c.subject {
        m = m.subject(s.as_str());
    }
    m = m.date(c.date).message_id(c.message_id.as_str());
    for (name, value) in &c.headers {
        m = m.header(name.as_str(), Text::new(value.as_str()));
    }
    m = m.body(body(c));
    m.write_to(&mut bytes).expect("writing to a Vec cannot fail");
    let bytes: Arc<[u8]> = bytes.into();
    Rendered {
        profile: squall_proto::data::profile(&bytes),
        bytes,
    }
}

/// The MIME tree: the text and HTML parts as alternatives (the HTML with its inline parts in a
/// multipart/related), then the attachments in a multipart/mixed.
fn body(c: &Content) -> MimePart<'_> {
    let (inline, downloads): (Vec<&Part>, Vec<&Part>) = c.attachments.iter().partition(|p| p.cid.is_some());
    let text = c.text.as_deref().map(|t| text_part("text/plain", t));
    let mut html = c.html.as_deref().map(|h| text_part("text/html", h));
    // Inline parts belong with the HTML that shows them; without HTML they are plain parts.
    let mut loose = Vec::new();
    match html.take() {
        Some(h) if !inline.is_empty() => {
            let mut related = vec![h];
            related.extend(inline.iter().map(|p| file_part(p)));
            html = Some(MimePart::new("multipart/related", related));
        }
        h => {
            html = h;
            loose.extend(inline.iter().map(|p| file_part(p)));
        }
    }
    let main = match (text, html) {
        (Some(t), Some(h)) => Some(MimePart::new("multipart/alternative", vec![t, h])),
        (t, h) => t.or(h),
    };
    loose.extend(downloads.iter().map(|p| file_part(p)));
    if loose.is_empty() {
        return main.unwrap_or_else(|| text_part("text/plain", ""));
    }
    let mut parts: Vec<MimePart<'_>> = main.into_iter().collect();
    parts.extend(loose);
    MimePart::new("multipart/mixed", parts)
}

/// An attachment's part: a download, or an inline part with its Content-ID.
fn file_part(p: &Part) -> MimePart<'_> {
    let a = &p.attachment;
    let part = if a.content_type.to_ascii_lowercase().starts_with("text/") && needs_base64(&a.data) {
        base64_part(a.content_type.as_str(), &a.data)
    } else {
        MimePart::new(
            a.content_type.as_str(),
            BodyPart::Binary(Cow::Borrowed(&a.data[..])),
        )
    };
    match &p.cid {
        Some(cid) => part.inline().cid(cid.as_str()),
        None => part.attachment(a.filename.as_str()),
    }
}

/// A text part, in base64 when it holds control characters; else mail-builder picks 7bit,
/// quoted-printable or base64.
fn text_part<'a>(content_type: &'a str, text: &'a str) -> MimePart<'a> {
    if needs_base64(text.as_bytes()) {
        base64_part(content_type, text.as_bytes())
    } else {
        MimePart::new(content_type, BodyPart::Text(Cow::Borrowed(text)))
    }
}

fn base64_part<'a>(content_type: &'a str, data: &[u8]) -> MimePart<'a> {
    let mut encoded = Vec::with_capacity(data.len() * 4 / 3 + data.len() / 38 + 4);
    base64_encode_mime(data, &mut encoded, false).expect("writing to a Vec cannot fail");
    let encoded = String::from_utf8(encoded).expect("base64 is ASCII");
    MimePart::new(content_type, BodyPart::Text(Cow::Owned(encoded))).transfer_encoding("base64")
}
