//! sendmail's reading of a message, for the `sendmail_headers` fuzz target.

use crate::sendmail::headers::Header;
use crate::sendmail::input::Reader;

/// What `squall sendmail -t` makes of a message.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Who it is sent to.
    pub recipients: Vec<String>,
    /// What is handed to the client (which then normalises line ends): the header as sent, with
    /// From (`<sender@example.org>`), Date and Message-ID added when missing, then the body.
    pub sent: Vec<u8>,
}

/// Why a message is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The splitter's error, as `Debug`: `BareCr { line: 2 }`, say.
    Split(String),
    /// `field` shows `address`, which could not be read from it.
    Unread {
        /// The field's name, as written.
        field: String,
        /// The address.
        address: String,
    },
}

/// Reads `input` as stdin would give it, in pieces ending at `cuts` (offsets, in order).
pub fn read(input: &[u8], ignore_dots: bool, cuts: &[usize]) -> Result<Outcome, Refusal> {
    let why = |e| Refusal::Split(format!("{e:?}"));
    let mut reader = Reader::new(ignore_dots);
    let mut body = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().chain([&input.len()]) {
        let cut = cut.clamp(at, input.len());
        reader.push(&input[at..cut], &mut body).map_err(why)?;
        at = cut;
        if reader.ended() {
            break;
        }
    }
    reader.finish(&mut body).map_err(why)?;
    let (head, split) = reader.header().expect("known once the input ended");
    let header = Header::read(head, split);
    let recipients = header.recipients().map_err(|e| Refusal::Unread {
        field: e.field,
        address: e.address,
    })?;
    let mut sent = header.to_send("sender@example.org", None);
    sent.extend_from_slice(&body);
    Ok(Outcome { recipients, sent })
}
