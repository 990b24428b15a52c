//! [`NamedAddress`]: a mailbox with its display name, as header fields carry it.

use squall_proto::address::Mailbox;

use super::fields::check_text;
use crate::error::Error;

/// A mailbox as it appears in a header: an optional display name and an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedAddress {
    /// `Alice` in `Alice <alice@example.org>`.
    pub name: Option<String>,
    /// The address.
    pub mailbox: Mailbox,
}

impl NamedAddress {
    /// Parses `alice@example.org` or `Alice <alice@example.org>` (the name may be quoted).
    pub fn parse(s: &str) -> Result<Self, Error> {
        // Checked before trimming: a CR or LF is refused wherever it is, not quietly dropped.
        check_text("address", s)?;
        let s = s.trim();
        let (name, addr) = match (s.rfind('<'), s.ends_with('>')) {
            (Some(lt), true) => {
                let name = s[..lt].trim().trim_matches('"').trim();
                (Some(name).filter(|n| !n.is_empty()), &s[lt + 1..s.len() - 1])
            }
            _ => (None, s),
        };
        let mailbox = Mailbox::parse(addr.trim())
            .map_err(|e| Error::input(format!("invalid address {addr:?}: {e}")))?;
        Ok(Self {
            name: name.map(str::to_string),
            mailbox,
        })
    }
}
