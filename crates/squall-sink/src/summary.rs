//! What a list shows of a message, computed once per message and kept: listing 10,000
//! messages must not parse 10,000 messages.

use serde::Serialize;

use crate::mail::Mail;

/// The list view of one message, plus the text a search looks in.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Summary {
    pub(crate) subject: Option<String>,
    /// The From header's addresses with display names (`Ann <ann@example.org>`).
    pub(crate) from: Vec<String>,
    /// To and Cc, as in `from`.
    pub(crate) to: Vec<String>,
    pub(crate) attachments: usize,
    /// Lower-cased envelope, From, To, Cc and subject, for `from:`/`to:`/`subject:` searches.
    #[serde(skip)]
    pub(crate) heads: Heads,
    /// Lower-cased text (or HTML) body, cut at [`BODY_SEARCHED`] bytes.
    #[serde(skip)]
    pub(crate) body: String,
}

/// Lower-cased fields a search compares with.
#[derive(Clone, Debug, Default)]
pub(crate) struct Heads {
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) subject: String,
}

/// Body text past this is not searched (keeps memory per message bounded).
const BODY_SEARCHED: usize = 64 * 1024;

impl Summary {
    pub(crate) fn of(mail: &Mail) -> Self {
        let p = mail.parsed();
        let from = named(p.and_then(|m| m.from()));
        let mut to = named(p.and_then(|m| m.to()));
        to.extend(named(p.and_then(|m| m.cc())));
        let subject = mail.subject().map(str::to_string);
        let mut body = mail.text().or_else(|| mail.html()).unwrap_or_default();
        if body.len() > BODY_SEARCHED {
            let mut cut = BODY_SEARCHED;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
        }
        let heads = Heads {
            from: format!("{} {}", mail.envelope_from(), from.join(" ")).to_lowercase(),
            to: format!("{} {}", mail.envelope_to().join(" "), to.join(" ")).to_lowercase(),
            subject: subject.as_deref().unwrap_or("").to_lowercase(),
        };
        Self {
            subject,
            from,
            to,
            attachments: mail.attachments().len(),
            heads,
            body: body.to_lowercase(),
        }
    }
}

/// `Ann <ann@example.org>` for each address.
fn named(a: Option<&mail_parser::Address<'_>>) -> Vec<String> {
    let Some(a) = a else { return Vec::new() };
    a.iter()
        .map(|x| match (x.name(), x.address()) {
            (Some(n), Some(a)) => format!("{n} <{a}>"),
            (None, Some(a)) => a.to_string(),
            (Some(n), None) => n.to_string(),
            (None, None) => String::new(),
        })
        .collect()
}
