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

/// Reads `input` as stdin would give it, in pieces ending at `cuts` (offsets, in order). `Err`
/// holds why it is refused (the splitter's error, as `Debug`).
pub fn read(input: &[u8], ignore_dots: bool, cuts: &[usize]) -> Result<Outcome, String> {
    let why = |e| format!("{e:?}");
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
    let mut sent = header.to_send("sender@example.org", None);
    sent.extend_from_slice(&body);
    Ok(Outcome {
        recipients: header.recipients(),
        sent,
    })
}
