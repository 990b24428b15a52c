//! What a list shows of a message, computed once per message and kept: listing 10,000
//! messages must not parse 10,000 messages.

use serde::Serialize;

use mail_parser::MessageParser;

use crate::store::ReceivedMessage;

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
    /// Parses `msg` borrowed (no owned copy of the message, no attachment bytes copied): this
    /// runs once per message while mail streams in with the page open.
    pub(crate) fn of(msg: &ReceivedMessage) -> Self {
        let parsed = MessageParser::default()
            .parse(&msg.data[..])
            .filter(|m| !m.parts.is_empty());
        let p = parsed.as_ref();
        let from = named(p.and_then(|m| m.from()));
        let mut to = named(p.and_then(|m| m.to()));
        to.extend(named(p.and_then(|m| m.cc())));
        let subject = p.and_then(|m| m.subject()).map(str::to_string);
        let mut body = p
            .and_then(|m| m.body_text(0).or_else(|| m.body_html(0)))
            .map(|c| c.into_owned())
            .unwrap_or_default();
        if body.len() > BODY_SEARCHED {
            let mut cut = BODY_SEARCHED;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
        }
        let heads = Heads {
            from: format!("{} {}", msg.mail_from, from.join(" ")).to_lowercase(),
            to: format!("{} {}", msg.rcpt_to.join(" "), to.join(" ")).to_lowercase(),
            subject: subject.as_deref().unwrap_or("").to_lowercase(),
        };
        Self {
            subject,
            from,
            to,
            attachments: p.map_or(0, |m| m.attachments.len()),
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
