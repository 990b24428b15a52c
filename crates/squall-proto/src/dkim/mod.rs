//! DKIM signing without the cryptography (RFC 6376, RFC 8463): canonical forms of the header and
//! the body, the choice of signed header fields, and the `DKIM-Signature` field itself.
//!
//! The caller brings the hash and the signature: it feeds the message to a [`Canonicalizer`],
//! hashes the canonical body it is handed, and gives the hash to [`Template::header`] with a
//! closure that signs. The message is normalised to CRLF on the way in, exactly as
//! [`data`](crate::data) normalises it on the wire, so what is signed is what the receiver stores.
//!
//! ```
//! use squall_proto::dkim::{Canonicalization, Canonicalizer, DkimError, Template};
//!
//! let message = b"From: a@example.org\nSubject: hi\n\nHello  world \n\n";
//! let mut c = Canonicalizer::new(Canonicalization::Relaxed);
//! let mut body = Vec::new();
//! c.push(message, &mut |piece| body.extend_from_slice(piece)).unwrap();
//! let header = c.finish(&mut |piece| body.extend_from_slice(piece)).unwrap();
//! assert_eq!(body, b"Hello world\r\n");
//!
//! let t = Template::new("example.org", "s1", "ed25519-sha256").unwrap();
//! let field = t
//!     .header(&header, b"(hash of the body)", 1_700_000_000, |data| {
//!         assert!(data.starts_with(b"from:a@example.org\r\nsubject:hi\r\n"));
//!         Ok::<_, DkimError>(b"(signature)".to_vec())
//!     })
//!     .unwrap();
//! assert!(field.starts_with("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;"));
//! ```

mod body;
mod header;
mod signature;
mod split;
#[cfg(test)]
mod tests;

pub use body::BodyCanonicalizer;
pub use header::{Field, fields};
pub use signature::{DEFAULT_HEADERS, Template};
pub use split::{Canonicalizer, HEADER_LIMIT};

/// How a part of the message is put in canonical form before it is hashed (RFC 6376 §3.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Canonicalization {
    /// Byte for byte (only trailing empty lines of the body are ignored): breaks on any change
    /// in transit, such as re-folding a header.
    Simple,
    /// Whitespace runs and header case normalised: survives the usual changes relays make.
    #[default]
    Relaxed,
}

impl Canonicalization {
    /// The name in the `c=` tag.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Simple => "simple",
            Self::Relaxed => "relaxed",
        }
    }
}

impl std::str::FromStr for Canonicalization {
    type Err = DkimError;

    fn from_str(s: &str) -> Result<Self, DkimError> {
        match s.to_ascii_lowercase().as_str() {
            "simple" => Ok(Self::Simple),
            "relaxed" => Ok(Self::Relaxed),
            _ => Err(DkimError::Canonicalization(s.to_string())),
        }
    }
}

/// Why a message cannot be signed as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DkimError {
    /// The header section is larger than [`HEADER_LIMIT`].
    #[error("the message's header section is over {HEADER_LIMIT} bytes")]
    HeaderTooLarge,
    /// The message has no From field, which a signature must cover (RFC 6376 §5.4).
    #[error("the message has no From header field, which a DKIM signature must cover")]
    NoFrom,
    /// A domain, selector or identity that cannot go in a `DKIM-Signature` field.
    #[error("invalid DKIM {what} {value:?}: {why}")]
    Tag {
        /// `domain`, `selector`, `identity`, `header name` or `algorithm`.
        what: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A canonicalization other than `simple` or `relaxed`.
    #[error("unknown DKIM canonicalization {0:?}: use relaxed or simple")]
    Canonicalization(String),
}
