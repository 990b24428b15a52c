//! Message content on the wire: DATA transparency (RFC 5321 §4.5.2) and line-end normalisation.
//!
//! The SMTP smuggling defence (SEC Consult, 2023) lives here: every bare CR and every bare LF in a
//! body becomes CRLF *before* dot-stuffing, so no byte sequence a receiver could read as an early
//! end of data (`<LF>.<LF>`, `<CR>.<CR>`, …) ever reaches the wire. A body that does not end in a
//! line end gets one CRLF (RFC 5321 §4.1.1.4), never an extra blank line.
//!
//! The same normalised content is what BDAT sends (without the stuffing and the final dot), so a
//! receiver stores the same bytes whichever command carried them.

mod decode;
mod encode;
mod profile;

pub use decode::{DataDecoder, DecodeStatus};
pub use encode::{CrlfNormalizer, DotStuffer};
pub use profile::{Profile, Scanner, profile};

/// The content a receiver stores for `body`: line ends normalised to CRLF, and a final CRLF added
/// when the body is not empty and does not end with one. For tests and for callers that need the
/// size ahead of time.
pub fn normalize(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 32 + 2);
    let mut n = CrlfNormalizer::new();
    n.push(body, &mut out);
    n.finish(&mut out);
    out
}

/// The length of [`normalize`]`(body)` without building it: the `SIZE=` to declare for `body`.
pub fn normalized_len(body: &[u8]) -> u64 {
    let mut n = CrlfNormalizer::new();
    n.measure(body);
    n.finish_measure()
}

#[cfg(test)]
mod tests;
