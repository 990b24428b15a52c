//! Validated envelope addresses and the EHLO name (RFC 5321 §4.1.2, §4.5.3.1; RFC 6531).
//!
//! A value of these types is safe to put on a command line: it holds no CR, LF, NUL or other
//! control character, no space outside a quoted local part, no angle bracket, and fits the RFC
//! length limits. Checks happen once, at construction, so the encoder never has to refuse.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use thiserror::Error;

/// RFC 5321 §4.5.3.1.1.
const MAX_LOCAL_PART: usize = 64;
/// RFC 5321 §4.5.3.1.2.
const MAX_DOMAIN: usize = 255;
/// RFC 5321 §4.5.3.1.3: the path including its angle brackets.
const MAX_PATH: usize = 256;

/// Why a string is not a usable address or EHLO name.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AddressError {
    /// Nothing was given.
    #[error("the address is empty")]
    Empty,
    /// A CR, LF or NUL: refused outright, as they could inject SMTP commands.
    #[error(
        "contains a {name} character at byte {at}; CR, LF and NUL are never allowed (they could inject SMTP commands)"
    )]
    ForbiddenCharacter {
        /// `CR`, `LF` or `NUL`.
        name: &'static str,
        /// Byte offset in the input.
        at: usize,
    },
    /// Another character that cannot appear where it is.
    #[error("contains {ch:?} at byte {at}, which is not allowed {place}")]
    InvalidCharacter {
        /// The character.
        ch: char,
        /// Byte offset in the input.
        at: usize,
        /// Where it was found, such as `in the local part`.
        place: &'static str,
    },
    /// The address was written with angle brackets or a display name.
    #[error("write the bare address (user@example.org), without a display name or angle brackets")]
    NotBare,
    /// No `@`.
    #[error("has no @domain part")]
    MissingDomain,
    /// Nothing before the `@`.
    #[error("the local part (before the @) is empty")]
    EmptyLocalPart,
    /// A dot at the start or end of the local part, or two in a row.
    #[error(
        "the local part has a misplaced dot (at the start, at the end or doubled); quote it if that is really the address"
    )]
    MisplacedDot,
    /// A malformed domain.
    #[error("the domain {domain:?} is not valid: {problem}")]
    InvalidDomain {
        /// The domain as given (sanitized).
        domain: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A part is longer than RFC 5321 allows.
    #[error("the {part} is {len} bytes long; RFC 5321 allows at most {max}")]
    TooLong {
        /// `local part`, `domain` or `address`.
        part: &'static str,
        /// The length found.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Rejects CR, LF and NUL anywhere, naming the first one found.
pub(crate) fn check_forbidden(s: &str) -> Result<(), AddressError> {
    match s.bytes().position(|b| matches!(b, b'\r' | b'\n' | 0)) {
        None => Ok(()),
        Some(at) => Err(AddressError::ForbiddenCharacter {
            name: match s.as_bytes()[at] {
                b'\r' => "CR",
                b'\n' => "LF",
                _ => "NUL",
            },
            at,
        }),
    }
}

/// A mailbox `local@domain` (or the special `postmaster`), valid for `MAIL FROM` and `RCPT TO`.
///
/// Non-ASCII local parts and domains are accepted; sending them needs the server's SMTPUTF8
/// (see [`Mailbox::needs_smtputf8`]), which the session checks before it sends anything.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    addr: String,
    /// Byte offset of the `@` separating local part and domain.
    at: Option<usize>,
}

impl Mailbox {
    /// Parses and validates a bare address such as `user@example.org`.
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        check_forbidden(s)?;
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        if s.starts_with('<') || s.ends_with('>') || (s.contains('<') && !s.starts_with('"')) {
            return Err(AddressError::NotBare);
        }
        if s.eq_ignore_ascii_case("postmaster") {
            return Ok(Self {
                addr: s.to_string(),
                at: None,
            });
        }
        let at = s.rfind('@').ok_or(AddressError::MissingDomain)?;
        let (local, domain) = (&s[..at], &s[at + 1..]);
        check_local_part(local)?;
        check_domain(domain, at + 1)?;
        if s.len() + 2 > MAX_PATH {
            return Err(AddressError::TooLong {
                part: "address",
                len: s.len(),
                max: MAX_PATH - 2,
            });
        }
        Ok(Self {
            addr: s.to_string(),
            at: Some(at),
        })
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.addr
    }

    /// The part before the `@` (the whole of `postmaster`).
    pub fn local_part(&self) -> &str {
        self.at.map_or(&self.addr, |at| &self.addr[..at])
    }

    /// The part after the `@`, `None` for a bare `postmaster`.
    pub fn domain(&self) -> Option<&str> {
        self.at.map(|at| &self.addr[at + 1..])
    }

    /// True when the address has non-ASCII characters, so it can only be sent with SMTPUTF8.
    pub fn needs_smtputf8(&self) -> bool {
        !self.addr.is_ascii()
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.addr)
    }
}

/// A mailbox equals the address text it was parsed from (exactly, case included).
impl PartialEq<str> for Mailbox {
    fn eq(&self, other: &str) -> bool {
        self.addr == other
    }
}

impl PartialEq<&str> for Mailbox {
    fn eq(&self, other: &&str) -> bool {
        self.addr == *other
    }
}

impl PartialEq<String> for Mailbox {
    fn eq(&self, other: &String) -> bool {
        &self.addr == other
    }
}

impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.addr)
    }
}

impl FromStr for Mailbox {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Mailbox {
    type Error = AddressError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Mailbox {
    type Error = AddressError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

/// The `MAIL FROM` path: a mailbox, or the null path `<>` used for bounces and notifications.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReversePath {
    /// `<>` (RFC 5321 §4.5.5): no bounce goes back for this message.
    Null,
    /// An ordinary sender.
    Mailbox(Mailbox),
}

impl ReversePath {
    /// `""` and `"<>"` give the null path; anything else must be a valid mailbox.
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        match s {
            "" | "<>" => Ok(Self::Null),
            _ => Mailbox::parse(s).map(Self::Mailbox),
        }
    }

    /// The mailbox, if not null.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            Self::Null => None,
            Self::Mailbox(m) => Some(m),
        }
    }

    /// True when the path has non-ASCII characters.
    pub fn needs_smtputf8(&self) -> bool {
        self.mailbox().is_some_and(Mailbox::needs_smtputf8)
    }
}

impl From<Mailbox> for ReversePath {
    fn from(m: Mailbox) -> Self {
        Self::Mailbox(m)
    }
}

impl fmt::Display for ReversePath {
    /// `<>` or the bare address.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("<>"),
            Self::Mailbox(m) => m.fmt(f),
        }
    }
}

impl FromStr for ReversePath {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The name the client gives in `EHLO`/`HELO`: a domain or an address literal (RFC 5321 §4.1.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EhloName(String);

impl EhloName {
    /// A host name such as `mail.example.org`, or an address literal such as `[192.0.2.1]`.
    /// ASCII only: a name with non-ASCII labels must be given as its IDNA A-label
    /// (`xn--…`), since EHLO comes before any SMTPUTF8 could be agreed on.
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        check_forbidden(s)?;
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        if let Some((at, ch)) = s.char_indices().find(|(_, c)| !c.is_ascii()) {
            return Err(AddressError::InvalidCharacter {
                ch,
                at,
                place: "in an EHLO name (give a non-ASCII name as its IDNA A-label, xn--…)",
            });
        }
        check_domain(s, 0)?;
        Ok(Self(s.to_string()))
    }

    /// The address literal for an IP address: `[192.0.2.1]` or `[IPv6:2001:db8::1]`, what RFC 5321
    /// asks a client without a meaningful host name to send.
    pub fn from_ip(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self(format!("[{v4}]")),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(format!("[{v4}]")),
                None => Self(format!("[IPv6:{v6}]")),
            },
        }
    }

    /// The name as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EhloName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for EhloName {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// RFC 5321 atext, extended by RFC 6531 with any non-ASCII character.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || (!c.is_ascii() && !c.is_control())
}

fn check_local_part(local: &str) -> Result<(), AddressError> {
    if local.is_empty() {
        return Err(AddressError::EmptyLocalPart);
    }
    if local.len() > MAX_LOCAL_PART {
        return Err(AddressError::TooLong {
            part: "local part",
            len: local.len(),
            max: MAX_LOCAL_PART,
        });
    }
    if let Some(inner) = local
        .strip_prefix('"')
        .and_then(|l| l.strip_suffix('"'))
        .filter(|_| local.len() >= 2)
    {
        // Quoted-string: qtextSMTP (printable ASCII but `"` and `\`, plus space), or `\` + printable.
        let mut escaped = false;
        for (i, c) in inner.char_indices() {
            let ok = if escaped {
                escaped = false;
                (' '..='~').contains(&c)
            } else if c == '\\' {
                escaped = true;
                true
            } else {
                c != '"' && ((' '..='~').contains(&c) || (!c.is_ascii() && !c.is_control()))
            };
            if !ok {
                return Err(invalid(c, i + 1, "in a quoted local part"));
            }
        }
        if escaped {
            return Err(invalid(
                '\\',
                local.len() - 2,
                "at the end of a quoted local part",
            ));
        }
        return Ok(());
    }
    // Dot-string: atoms of atext separated by single dots.
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(AddressError::MisplacedDot);
    }
    match local.char_indices().find(|&(_, c)| c != '.' && !is_atext(c)) {
        Some((i, c)) => Err(invalid(
            c,
            i,
            "in the local part (quote the local part if it is real)",
        )),
        None => Ok(()),
    }
}

/// Checks a domain or address literal; `offset` places errors in the whole input.
fn check_domain(domain: &str, offset: usize) -> Result<(), AddressError> {
    let bad = |problem| AddressError::InvalidDomain {
        domain: domain.chars().filter(|c| !c.is_control()).take(80).collect(),
        problem,
    };
    if domain.is_empty() {
        return Err(bad("it is empty"));
    }
    if domain.len() > MAX_DOMAIN {
        return Err(AddressError::TooLong {
            part: "domain",
            len: domain.len(),
            max: MAX_DOMAIN,
        });
    }
    if let Some(inner) = domain.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or(bad("an address literal must end with ]"))?;
        return check_address_literal(inner).map_err(bad);
    }
    for label in domain.split('.') {
        if label.is_empty() {
            return Err(bad("it has an empty label (a leading, trailing or doubled dot)"));
        }
        if label.len() > 63 {
            return Err(bad("a label is longer than 63 bytes"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad("a label starts or ends with a hyphen"));
        }
    }
    // Underscores are outside RFC 5321's grammar but common in real host names; allow them.
    match domain.char_indices().find(|&(_, c)| {
        !(c.is_ascii_alphanumeric()
            || c == '-'
            || c == '.'
            || c == '_'
            || (!c.is_ascii() && !c.is_control() && !c.is_whitespace()))
    }) {
        Some((i, c)) => Err(invalid(c, offset + i, "in a domain")),
        None => Ok(()),
    }
}

/// `[192.0.2.1]`, `[IPv6:2001:db8::1]`, or a general literal `[tag:text]` (RFC 5321 §4.1.3).
fn check_address_literal(inner: &str) -> Result<(), &'static str> {
    if inner.parse::<std::net::Ipv4Addr>().is_ok() {
        return Ok(());
    }
    let (tag, text) = inner
        .split_once(':')
        .ok_or("an address literal is neither IPv4 nor tag:value")?;
    if tag.eq_ignore_ascii_case("IPv6") {
        return text
            .parse::<std::net::Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| "bad IPv6 address literal");
    }
    let tag_ok =
        !tag.is_empty() && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && !tag.ends_with('-');
    // dcontent: printable US-ASCII except `[`, `\` and `]`.
    let text_ok = !text.is_empty()
        && text
            .bytes()
            .all(|b| (33..=126).contains(&b) && !b"[\\]".contains(&b));
    if tag_ok && text_ok {
        Ok(())
    } else {
        Err("bad general address literal")
    }
}

fn invalid(ch: char, at: usize, place: &'static str) -> AddressError {
    AddressError::InvalidCharacter { ch, at, place }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_mailboxes() {
        for ok in [
            "user@example.org",
            "first.last+tag@sub.example.co.uk",
            "postmaster",
            "PostMaster",
            "\"john doe\"@example.org",
            "\"a\\\"b\"@example.org",
            "\"x@y\"@example.org",
            "user@[192.0.2.1]",
            "user@[IPv6:2001:db8::1]",
            "bü@exämple.com",
            "用户@例子.广告",
            "o'brien@example.org",
            "x@under_score.example",
        ] {
            Mailbox::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        let m = Mailbox::parse("\"x@y\"@example.org").unwrap();
        assert_eq!(m.local_part(), "\"x@y\"");
        assert_eq!(m.domain(), Some("example.org"));
        assert!(!m.needs_smtputf8());
        assert!(Mailbox::parse("bü@example.com").unwrap().needs_smtputf8());
        assert_eq!(Mailbox::parse("postmaster").unwrap().domain(), None);
    }

    #[test]
    fn forbidden_characters_are_named() {
        assert_eq!(
            Mailbox::parse("a@b.c\r\nRCPT TO:<x@y>"),
            Err(AddressError::ForbiddenCharacter { name: "CR", at: 5 })
        );
        assert_eq!(
            Mailbox::parse("a\n@b.c"),
            Err(AddressError::ForbiddenCharacter { name: "LF", at: 1 })
        );
        assert_eq!(
            Mailbox::parse("\"a\0\"@b.c"),
            Err(AddressError::ForbiddenCharacter { name: "NUL", at: 2 })
        );
        assert_eq!(
            EhloName::parse("me\r\nQUIT"),
            Err(AddressError::ForbiddenCharacter { name: "CR", at: 2 })
        );
    }

    #[test]
    fn invalid_mailboxes() {
        type Check = fn(&AddressError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("", |e| *e == AddressError::Empty),
            ("<a@b.c>", |e| *e == AddressError::NotBare),
            ("Joe <a@b.c>", |e| *e == AddressError::NotBare),
            ("nobody", |e| *e == AddressError::MissingDomain),
            ("@b.c", |e| *e == AddressError::EmptyLocalPart),
            (".a@b.c", |e| *e == AddressError::MisplacedDot),
            ("a..b@b.c", |e| *e == AddressError::MisplacedDot),
            ("a b@b.c", |e| {
                matches!(e, AddressError::InvalidCharacter { ch: ' ', at: 1, .. })
            }),
            ("a@b.c SIZE=1", |e| {
                matches!(e, AddressError::InvalidCharacter { ch: ' ', .. })
            }),
            ("a(b)@b.c", |e| {
                matches!(e, AddressError::InvalidCharacter { ch: '(', .. })
            }),
            ("a\t@b.c", |e| {
                matches!(e, AddressError::InvalidCharacter { ch: '\t', .. })
            }),
            ("a@", |e| matches!(e, AddressError::InvalidDomain { .. })),
            ("a@b..c", |e| matches!(e, AddressError::InvalidDomain { .. })),
            ("a@-b.c", |e| matches!(e, AddressError::InvalidDomain { .. })),
            ("a@b.c.", |e| matches!(e, AddressError::InvalidDomain { .. })),
            ("a@[1.2.3]", |e| matches!(e, AddressError::InvalidDomain { .. })),
            ("a@[IPv6:zz]", |e| matches!(e, AddressError::InvalidDomain { .. })),
            ("a@b>c", |e| {
                matches!(e, AddressError::NotBare | AddressError::InvalidCharacter { .. })
            }),
            ("\"a\"b\"@c.d", |e| {
                matches!(e, AddressError::InvalidCharacter { .. })
            }),
            ("\"ab\\\"@c.d", |e| {
                matches!(e, AddressError::InvalidCharacter { .. })
            }),
        ];
        for (input, check) in cases {
            let err = Mailbox::parse(input).expect_err(input);
            assert!(check(&err), "{input:?} gave {err:?}");
        }
    }

    #[test]
    fn length_limits() {
        let local = "a".repeat(64);
        assert!(Mailbox::parse(&format!("{local}@b.c")).is_ok());
        assert!(matches!(
            Mailbox::parse(&format!("a{local}@b.c")),
            Err(AddressError::TooLong {
                part: "local part",
                len: 65,
                max: 64
            })
        ));
        let label = "d".repeat(63);
        let domain = [label.as_str(); 4].join(".");
        assert_eq!(domain.len(), 255);
        assert!(EhloName::parse(&domain).is_ok());
        assert!(matches!(
            Mailbox::parse(&format!("{local}@{domain}")),
            Err(AddressError::TooLong { part: "address", .. })
        ));
        assert!(matches!(
            EhloName::parse(&format!("{domain}x")),
            Err(AddressError::TooLong { part: "domain", .. })
        ));
    }

    #[test]
    fn reverse_path() {
        assert_eq!(ReversePath::parse("<>").unwrap(), ReversePath::Null);
        assert_eq!(ReversePath::parse("").unwrap().to_string(), "<>");
        assert!(ReversePath::parse("<a@b.c>").is_err());
        assert!(ReversePath::parse("bü@b.c").unwrap().needs_smtputf8());
    }

    #[test]
    fn ehlo_names() {
        assert_eq!(
            EhloName::from_ip("192.0.2.1".parse().unwrap()).as_str(),
            "[192.0.2.1]"
        );
        assert_eq!(EhloName::from_ip("::1".parse().unwrap()).as_str(), "[IPv6:::1]");
        assert_eq!(
            EhloName::from_ip("::ffff:10.0.0.1".parse().unwrap()).as_str(),
            "[10.0.0.1]"
        );
        assert!(EhloName::parse("client.example.org").is_ok());
        assert!(EhloName::parse("[IPv6:::1]").is_ok());
        assert!(EhloName::parse("two words").is_err());
        let e = EhloName::parse("mail.bücher.example").unwrap_err().to_string();
        assert!(e.contains("A-label"), "{e}");
        assert!(EhloName::parse("mail.xn--bcher-kva.example").is_ok());
        assert!(EhloName::parse("").is_err());
    }
}
