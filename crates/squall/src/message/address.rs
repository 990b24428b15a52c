//! [`NamedAddress`]: a mailbox with its display name, as header fields carry it, and the RFC 5322
//! §3.4 address syntax people type: `alice@example.org`, `Alice <alice@example.org>`,
//! `"Doe, John" <john@example.org>`, lists separated by commas, and groups
//! (`Team: a@example.org, b@example.org;`).

use std::fmt;

use squall_proto::address::Mailbox;

use super::fields::check_text;
use crate::error::Error;

/// A mailbox as it appears in a header: an optional display name and an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedAddress {
    /// `Alice` in `Alice <alice@example.org>` (unquoted, escapes undone).
    pub name: Option<String>,
    /// The address.
    pub mailbox: Mailbox,
}

impl NamedAddress {
    /// One address: `alice@example.org`, `Alice <alice@example.org>` or `"Doe, J." <j@example.org>`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let mut list = Self::parse_list(s)?;
        match list.len() {
            1 => Ok(list.remove(0)),
            0 => Err(Error::input(format!(
                "no address in {s:?}: {}",
                super::syntax::EXPECTED
            ))),
            n => Err(Error::input(format!(
                "{s:?} holds {n} addresses where one is expected; give one, such as Alice <alice@example.org>"
            ))),
        }
    }

    /// An address list (RFC 5322 §3.4): addresses separated by commas; a group such as
    /// `Team: a@example.org, b@example.org;` counts as its members.
    pub fn parse_list(s: &str) -> Result<Vec<Self>, Error> {
        super::syntax::address_list(s)
    }

    /// An address with a display name, given as parts (nothing to quote or escape).
    pub fn new(name: &str, address: &str) -> Result<Self, Error> {
        check_text("display name", name)?;
        check_text("address", address)?;
        let mailbox = Mailbox::parse(address.trim())
            .map_err(|e| Error::input(format!("invalid address {address:?}: {e}")))?;
        let name = name.trim();
        Ok(Self {
            name: (!name.is_empty()).then(|| name.to_string()),
            mailbox,
        })
    }
}

impl fmt::Display for NamedAddress {
    /// `"Doe, J." <j@example.org>` (quoted when the name needs it), or the bare address.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            None => write!(f, "{}", self.mailbox),
            Some(n)
                if n.chars()
                    .all(|c| c.is_alphanumeric() || " !#$%&'*+-/=?^_`{|}~".contains(c)) =>
            {
                write!(f, "{n} <{}>", self.mailbox)
            }
            Some(n) => write!(
                f,
                "\"{}\" <{}>",
                n.replace('\\', "\\\\").replace('"', "\\\""),
                self.mailbox
            ),
        }
    }
}

impl From<Mailbox> for NamedAddress {
    fn from(mailbox: Mailbox) -> Self {
        Self { name: None, mailbox }
    }
}

/// What names one or more addresses for a message's address fields: a `&str` in RFC 5322
/// syntax (a list is fine), a `(name, address)` pair, a [`NamedAddress`] or a [`Mailbox`].
pub trait IntoAddresses {
    /// The addresses, or why the input is not one.
    fn into_addresses(self) -> Result<Vec<NamedAddress>, Error>;
}

impl IntoAddresses for &str {
    fn into_addresses(self) -> Result<Vec<NamedAddress>, Error> {
        NamedAddress::parse_list(self)
    }
}

impl IntoAddresses for &String {
    fn into_addresses(self) -> Result<Vec<NamedAddress>, Error> {
        NamedAddress::parse_list(self)
    }
}

impl IntoAddresses for String {
    fn into_addresses(self) -> Result<Vec<NamedAddress>, Error> {
        NamedAddress::parse_list(&self)
    }
}

impl IntoAddresses for (&str, &str) {
    fn into_addresses(self) -> Result<Vec<NamedAddress>, Error> {
        Ok(vec![NamedAddress::new(self.0, self.1)?])
    }
}

impl IntoAddresses for NamedAddress {
    fn into_addresses(self) -> Result<Vec<NamedAddress>, Error> {
        Ok(vec![self])
    }
}

impl IntoAddresses for Mailbox {
    fn into_addresses(self) -> Result<Vec<NamedAddress>, Error> {
        Ok(vec![self.into()])
    }
}
