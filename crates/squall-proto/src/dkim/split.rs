//! A whole message in, pieces split anywhere: line ends normalised as on the wire, the header
//! section kept (it is small and signed last), the body canonicalized as it passes.

use memchr::memmem;

use super::{BodyCanonicalizer, Canonicalization, DkimError};
use crate::data::CrlfNormalizer;

/// The most header bytes kept: far above any real message's, and a bound on memory whatever the
/// input.
pub const HEADER_LIMIT: usize = 1024 * 1024;

/// Reads a message for signing: hands the canonical body to the caller's hash as it goes, and
/// returns the header section at the end.
#[derive(Clone, Debug)]
pub struct Canonicalizer {
    normalizer: CrlfNormalizer,
    /// The header section so far; once the empty line is found, `body` takes what follows.
    header: Vec<u8>,
    body: Option<BodyCanonicalizer>,
    canon: Canonicalization,
    scratch: Vec<u8>,
    /// Bytes pushed, to tell whether normalising changed any.
    raw: u64,
}

impl Canonicalizer {
    /// A reader for a message whose body is canonicalized with `body`.
    pub fn new(body: Canonicalization) -> Self {
        Self {
            normalizer: CrlfNormalizer::new(),
            header: Vec::new(),
            body: None,
            canon: body,
            scratch: Vec::new(),
            raw: 0,
        }
    }

    /// The next piece of the message (any line ends); the canonical body goes to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut dyn FnMut(&[u8])) -> Result<(), DkimError> {
        self.raw += input.len() as u64;
        self.scratch.clear();
        self.normalizer.push(input, &mut self.scratch);
        let normalized = std::mem::take(&mut self.scratch);
        let r = self.take(&normalized, out);
        self.scratch = normalized;
        r
    }

    fn take(&mut self, mut input: &[u8], out: &mut dyn FnMut(&[u8])) -> Result<(), DkimError> {
        if self.body.is_none() {
            // The end of the header section may straddle pieces: look back three bytes.
            let from = self.header.len().saturating_sub(3);
            self.header.extend_from_slice(input);
            let end = if self.header.starts_with(b"\r\n") {
                Some(0)
            } else {
                memmem::find(&self.header[from..], b"\r\n\r\n").map(|k| from + k + 2)
            };
            match end {
                Some(end) => {
                    // What follows the empty line is body.
                    let rest = self.header.split_off(end + 2);
                    self.header.truncate(end);
                    let mut body = BodyCanonicalizer::new(self.canon);
                    body.push(&rest, out);
                    self.body = Some(body);
                    return Ok(());
                }
                None if self.header.len() > HEADER_LIMIT => return Err(DkimError::HeaderTooLarge),
                None => return Ok(()),
            }
        }
        if let Some(body) = &mut self.body {
            body.push(input, out);
            input = &[];
        }
        debug_assert!(input.is_empty());
        Ok(())
    }

    /// Whether a bare CR or LF was turned into CRLF so far: content sent byte for byte (binary,
    /// over BINARYMIME) would then differ from what was signed.
    pub fn rewrote_line_ends(&self) -> bool {
        self.normalizer.content_len() != self.raw
    }

    /// Ends the message and returns its header section (CRLF line ends, without the empty
    /// line). A message without an empty line is all header and an empty body.
    pub fn finish(mut self, out: &mut dyn FnMut(&[u8])) -> Result<Vec<u8>, DkimError> {
        let mut tail = Vec::new();
        self.normalizer.finish(&mut tail);
        self.take(&tail, out)?;
        let body = self
            .body
            .take()
            .unwrap_or_else(|| BodyCanonicalizer::new(self.canon));
        body.finish(out);
        Ok(self.header)
    }
}
