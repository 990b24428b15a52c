//! MAIL and RCPT parameters (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8, RFC 3461 DSN,
//! RFC 8689 REQUIRETLS) and the xtext encoding their values travel in.

use std::fmt;

use thiserror::Error;

use crate::address::{AddressError, Mailbox, check_forbidden};

/// The `BODY=` parameter: what the content may contain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BodyType {
    /// 7-bit ASCII lines. No `BODY=` parameter is sent.
    #[default]
    SevenBit,
    /// 8-bit bytes in CRLF lines of at most 998 octets (RFC 6152). Needs `8BITMIME`.
    EightBitMime,
    /// Any bytes, sent verbatim with BDAT (RFC 3030). Needs `CHUNKING` and `BINARYMIME`.
    BinaryMime,
}

/// `RET=`: how much of the message a failure DSN should return (RFC 3461 §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ret {
    /// The whole message.
    Full,
    /// Only the headers.
    Headers,
}

/// `NOTIFY=`: which events should produce a DSN for a recipient (RFC 3461 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Notify {
    success: bool,
    failure: bool,
    delay: bool,
}

impl Notify {
    /// `NOTIFY=NEVER`.
    pub const NEVER: Self = Self {
        success: false,
        failure: false,
        delay: false,
    };

    /// `SUCCESS`: tell the sender when the message is delivered.
    pub const SUCCESS: Self = Self::on(true, false, false);
    /// `FAILURE`: tell the sender when delivery fails.
    pub const FAILURE: Self = Self::on(false, true, false);
    /// `DELAY`: tell the sender when delivery is delayed.
    pub const DELAY: Self = Self::on(false, false, true);

    /// A list of events; all three false is the same as [`Notify::NEVER`].
    pub const fn on(success: bool, failure: bool, delay: bool) -> Self {
        Self {
            success,
            failure,
            delay,
        }
    }
}

/// Events together: `Notify::FAILURE | Notify::DELAY`.
impl std::ops::BitOr for Notify {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        Self::on(
            self.success || other.success,
            self.failure || other.failure,
            self.delay || other.delay,
        )
    }
}

/// `never`, or events separated by commas (`failure,delay`); case does not matter.
impl std::str::FromStr for Notify {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        const FORM: &str = "expected never, or success, failure and delay separated by commas";
        let words: Vec<String> = s.split(',').map(|w| w.trim().to_ascii_lowercase()).collect();
        if words == ["never"] {
            return Ok(Self::NEVER);
        }
        let mut n = Self::NEVER;
        for w in &words {
            n = n | match w.as_str() {
                "success" => Self::SUCCESS,
                "failure" => Self::FAILURE,
                "delay" => Self::DELAY,
                "never" => return Err(format!("{s:?}: never cannot be combined with events; {FORM}")),
                _ => return Err(format!("{s:?}: {w:?} is not a DSN event; {FORM}")),
            };
        }
        Ok(n)
    }
}

/// `full` or `hdrs` (also `headers`); case does not matter.
impl std::str::FromStr for Ret {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Ok(Self::Full),
            "hdrs" | "headers" => Ok(Self::Headers),
            _ => Err(format!("{s:?} is not a RET value: use full or hdrs")),
        }
    }
}

impl fmt::Display for Notify {
    /// The parameter value: `NEVER` or a comma list such as `SUCCESS,FAILURE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [
            (self.success, "SUCCESS"),
            (self.failure, "FAILURE"),
            (self.delay, "DELAY"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        if names.is_empty() {
            f.write_str("NEVER")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

/// A DSN parameter value that cannot be sent.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParamError {
    /// Too long once encoded.
    #[error("the {param} value is {len} characters once encoded; at most {max} are allowed")]
    TooLong {
        /// `ENVID` or `ORCPT`.
        param: &'static str,
        /// Encoded length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Empty, or holds CR, LF or NUL, or a character the parameter does not allow.
    #[error("the {param} value is not valid: {reason}")]
    Invalid {
        /// `ENVID` or `ORCPT`.
        param: &'static str,
        /// Why.
        reason: String,
    },
}

/// `ENVID=`: an identifier for the transaction, echoed back in DSNs (RFC 3461 §4.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EnvelopeId(String);

impl EnvelopeId {
    /// RFC 3461 §4.4: printable US-ASCII, at most 100 characters once xtext-encoded.
    pub fn new(id: impl Into<String>) -> Result<Self, ParamError> {
        let id = id.into();
        let invalid = |reason: &str| ParamError::Invalid {
            param: "ENVID",
            reason: reason.to_string(),
        };
        check_forbidden(&id).map_err(|e| invalid(&e.to_string()))?;
        if id.is_empty() || !id.bytes().all(|b| (32..=126).contains(&b)) {
            return Err(invalid("it must be non-empty printable ASCII"));
        }
        let len = xtext_len(id.as_bytes());
        if len > 100 {
            return Err(ParamError::TooLong {
                param: "ENVID",
                len,
                max: 100,
            });
        }
        Ok(Self(id))
    }

    /// The identifier before encoding.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `ORCPT=`: the recipient address as the original sender wrote it (RFC 3461 §4.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OriginalRecipient(String);

impl OriginalRecipient {
    /// An `rfc822` original recipient; at most 500 characters once encoded.
    pub fn new(address: &str) -> Result<Self, ParamError> {
        check_forbidden(address).map_err(|e: AddressError| ParamError::Invalid {
            param: "ORCPT",
            reason: e.to_string(),
        })?;
        if address.is_empty() {
            return Err(ParamError::Invalid {
                param: "ORCPT",
                reason: "it is empty".into(),
            });
        }
        let len = "rfc822;".len() + xtext_len(address.as_bytes());
        if len > 500 {
            return Err(ParamError::TooLong {
                param: "ORCPT",
                len,
                max: 500,
            });
        }
        Ok(Self(address.to_string()))
    }

    /// The same address as a recipient's mailbox.
    pub fn from_mailbox(mailbox: &Mailbox) -> Self {
        Self(mailbox.as_str().to_string())
    }

    /// The address before encoding.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `b` passes through xtext unchanged (RFC 3461 §4: `!`..`~` except `+` and `=`).
fn xtext_plain(b: u8) -> bool {
    (33..=126).contains(&b) && b != b'+' && b != b'='
}

fn xtext_len(s: &[u8]) -> usize {
    s.iter().map(|&b| if xtext_plain(b) { 1 } else { 3 }).sum()
}

/// Appends `s` xtext-encoded: `+XX` (upper-case hex) for every octet outside `!`..`~`, `+` and `=`.
pub(crate) fn push_xtext(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s {
        if xtext_plain(b) {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'+', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

/// One envelope recipient with its DSN options.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recipient {
    /// The address for `RCPT TO`.
    pub mailbox: Mailbox,
    /// `NOTIFY=`, sent only when the server offers DSN.
    pub notify: Option<Notify>,
    /// `ORCPT=`, sent only when the server offers DSN.
    pub orcpt: Option<OriginalRecipient>,
}

impl Recipient {
    /// With `NOTIFY=`.
    pub fn notify(mut self, notify: Option<Notify>) -> Self {
        self.notify = notify;
        self
    }

    /// With `ORCPT=`.
    pub fn orcpt(mut self, orcpt: Option<OriginalRecipient>) -> Self {
        self.orcpt = orcpt;
        self
    }
}

impl From<Mailbox> for Recipient {
    fn from(mailbox: Mailbox) -> Self {
        Self {
            mailbox,
            notify: None,
            orcpt: None,
        }
    }
}

/// Options of the `MAIL FROM` command for one message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailOptions {
    /// `BODY=`.
    pub body: BodyType,
    /// Send `SMTPUTF8` even for ASCII addresses (for UTF-8 header fields). It is sent anyway when
    /// an envelope address is non-ASCII.
    pub smtputf8: bool,
    /// The message size in bytes when known: sent as `SIZE=` and checked against the server's limit
    /// before anything is sent.
    pub size: Option<u64>,
    /// `RET=`, sent only when the server offers DSN.
    pub ret: Option<Ret>,
    /// `ENVID=`, sent only when the server offers DSN.
    pub envid: Option<EnvelopeId>,
    /// `REQUIRETLS` (RFC 8689): refuse to send unless the session is encrypted and the server
    /// offers the extension.
    pub require_tls: bool,
    /// For 7-bit `body`: declare `BODY=8BITMIME` anyway when the server offers it. For content not
    /// known in advance (a stream), so that 8-bit bytes in it are declared where possible.
    pub prefer_8bitmime: bool,
    /// Send as `BODY=BINARYMIME` with BDAT, byte for byte, when the server offers CHUNKING and
    /// BINARYMIME; otherwise as `body` says. For content that is not line-oriented text (NUL
    /// bytes, lines longer than 998 octets).
    pub prefer_binarymime: bool,
}

impl MailOptions {
    /// What content measured as `p` needs declared: its exact `SIZE=`, `BODY=8BITMIME` for 8-bit
    /// bytes, `SMTPUTF8` for UTF-8 header fields, BINARYMIME preferred for binary content.
    pub fn for_content(p: &crate::data::Profile) -> Self {
        Self {
            size: Some(p.size),
            body: if p.eight_bit {
                BodyType::EightBitMime
            } else {
                BodyType::SevenBit
            },
            smtputf8: p.utf8_headers,
            prefer_binarymime: p.binary,
            ..Self::default()
        }
    }

    /// For content not measured before it is sent (a stream): 8BITMIME declared where offered.
    pub fn for_stream() -> Self {
        Self {
            prefer_8bitmime: true,
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xtext() {
        let mut out = Vec::new();
        push_xtext(&mut out, "a+b=c d\u{e9}~!".as_bytes());
        assert_eq!(out, b"a+2Bb+3Dc+20d+C3+A9~!");
    }

    #[test]
    fn notify_and_ret_parse() {
        assert_eq!("never".parse(), Ok(Notify::NEVER));
        assert_eq!("Failure, DELAY".parse(), Ok(Notify::FAILURE | Notify::DELAY));
        assert!("never,failure".parse::<Notify>().is_err());
        assert!(
            "bounce"
                .parse::<Notify>()
                .unwrap_err()
                .contains("not a DSN event")
        );
        assert!("".parse::<Notify>().is_err());
        assert_eq!("HDRS".parse(), Ok(Ret::Headers));
        assert!("some".parse::<Ret>().is_err());
    }

    #[test]
    fn notify_values() {
        assert_eq!(Notify::NEVER.to_string(), "NEVER");
        assert_eq!(Notify::on(false, false, false).to_string(), "NEVER");
        assert_eq!(Notify::on(true, true, false).to_string(), "SUCCESS,FAILURE");
        assert_eq!(Notify::on(false, true, true).to_string(), "FAILURE,DELAY");
    }

    #[test]
    fn envid_limits() {
        assert!(EnvelopeId::new("QQ314159").is_ok());
        assert!(EnvelopeId::new("a".repeat(100)).is_ok());
        assert!(matches!(
            EnvelopeId::new("+".repeat(34)),
            Err(ParamError::TooLong { len: 102, .. })
        ));
        assert!(matches!(
            EnvelopeId::new("a\r\nb"),
            Err(ParamError::Invalid { .. })
        ));
        assert!(EnvelopeId::new("").is_err());
        assert!(EnvelopeId::new("caf\u{e9}").is_err());
    }

    #[test]
    fn orcpt_limits() {
        assert!(OriginalRecipient::new("a@b.c").is_ok());
        assert!(OriginalRecipient::new("a\n@b.c").is_err());
        assert!(OriginalRecipient::new(&"a".repeat(494)).is_err());
    }
}
