//! The arguments of `MAIL FROM:` and `RCPT TO:`: a path per RFC 5321 §4.1.2 (with the UTF-8 of
//! RFC 6531), then ESMTP parameters.
//!
//! The path is parsed by its grammar, not by looking for the first `>`: a quoted local part may
//! hold `>`, spaces and `=`, so `<"x> NOTIFY=SUCCESS"@example.org>` is one recipient with no
//! parameters. Everything else the grammar does not allow is refused, so a recorded address or
//! parameter never holds a control character, an unbalanced quote or a stray bracket.
//!
//! Lenient where real clients are: a space after the colon, several spaces between parameters,
//! letters in any case, an underscore in a domain (common in host names, as squall's client
//! allows too). The source route `<@a,@b:user@c>` is accepted and dropped (§4.1.2 asks servers
//! to accept and ignore it).

use std::net::{Ipv4Addr, Ipv6Addr};

use thiserror::Error;

/// A parsed `MAIL FROM:` or `RCPT TO:` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PathArgs<'a> {
    /// The mailbox as written, quotes included and source route dropped; empty for `<>`.
    pub(crate) mailbox: &'a str,
    /// The ESMTP parameters, each `KEYWORD` or `KEYWORD=value`.
    pub(crate) params: Vec<&'a str>,
}

/// Why a path or its parameters were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub(crate) enum PathError {
    /// Not `FROM:` / `TO:` first.
    #[error("expected {0}<address>")]
    Prefix(&'static str),
    /// No `<` where the path starts.
    #[error("the address must be in angle brackets")]
    NoOpenBracket,
    /// `<>` where a mailbox is needed (RCPT).
    #[error("the null path <> is not allowed here")]
    NullPath,
    /// A malformed source route (`@a,@b:`).
    #[error("bad source route")]
    Route,
    /// A malformed local part.
    #[error("bad local part")]
    LocalPart,
    /// No `@domain` after the local part.
    #[error("missing @domain")]
    NoDomain,
    /// A malformed domain.
    #[error("bad domain")]
    Domain,
    /// A malformed address literal (`[192.0.2.1]`, `[IPv6:…]`, `[tag:text]`).
    #[error("bad address literal")]
    AddressLiteral,
    /// No `>` after the mailbox.
    #[error("the address is not closed by >")]
    NoCloseBracket,
    /// Something other than a space after the `>`.
    #[error("unexpected text after the address")]
    Trailing,
    /// A parameter that is not `KEYWORD[=value]`.
    #[error("bad parameter syntax")]
    Param,
}

impl PathError {
    /// Whether the parameters, not the path, were at fault.
    pub(crate) fn is_param(self) -> bool {
        self == Self::Param
    }
}

/// `FROM:<path> params`: the reverse path, which may be `<>`.
pub(crate) fn parse_mail(args: &str) -> Result<PathArgs<'_>, PathError> {
    parse(args, "FROM:", true)
}

/// `TO:<path> params`: a forward path (or `<Postmaster>`).
pub(crate) fn parse_rcpt(args: &str) -> Result<PathArgs<'_>, PathError> {
    parse(args, "TO:", false)
}

fn parse<'a>(args: &'a str, prefix: &'static str, null_ok: bool) -> Result<PathArgs<'a>, PathError> {
    let head = args.get(..prefix.len()).ok_or(PathError::Prefix(prefix))?;
    if !head.eq_ignore_ascii_case(prefix) {
        return Err(PathError::Prefix(prefix));
    }
    let rest = args[prefix.len()..].trim_start_matches(' ');
    let mut s = Scanner { text: rest, pos: 0 };
    if !s.eat('<') {
        return Err(PathError::NoOpenBracket);
    }
    let mailbox = if s.eat('>') {
        if !null_ok {
            return Err(PathError::NullPath);
        }
        ""
    } else {
        if s.peek() == Some('@') {
            source_route(&mut s)?;
        }
        let start = s.pos;
        mailbox(&mut s, !null_ok)?;
        let mailbox = &rest[start..s.pos];
        if !s.eat('>') {
            return Err(PathError::NoCloseBracket);
        }
        mailbox
    };
    let tail = &rest[s.pos..];
    if !tail.is_empty() && !tail.starts_with(' ') {
        return Err(PathError::Trailing);
    }
    let params: Vec<&str> = tail.split(' ').filter(|p| !p.is_empty()).collect();
    if !params.iter().all(|p| is_param(p)) {
        return Err(PathError::Param);
    }
    Ok(PathArgs { mailbox, params })
}

/// `@a,@b:` — accepted and ignored.
fn source_route(s: &mut Scanner<'_>) -> Result<(), PathError> {
    loop {
        if !s.eat('@') {
            return Err(PathError::Route);
        }
        let start = s.pos;
        s.take_while(is_domain_char);
        if !is_domain(&s.text[start..s.pos]) {
            return Err(PathError::Route);
        }
        if s.eat(':') {
            return Ok(());
        }
        if !s.eat(',') {
            return Err(PathError::Route);
        }
    }
}

/// `Local-part "@" ( Domain / address-literal )`, or `Postmaster` alone for RCPT.
fn mailbox(s: &mut Scanner<'_>, postmaster_ok: bool) -> Result<(), PathError> {
    let start = s.pos;
    if s.peek() == Some('"') {
        quoted_string(s)?;
    } else {
        s.take_while(|c| is_atext(c) || c == '.');
        let local = &s.text[start..s.pos];
        if local.is_empty() || local.split('.').any(str::is_empty) {
            return Err(PathError::LocalPart);
        }
        if postmaster_ok && local.eq_ignore_ascii_case("postmaster") && s.peek() == Some('>') {
            return Ok(());
        }
    }
    if !s.eat('@') {
        return Err(match s.peek() {
            Some('>') | None => PathError::NoDomain,
            Some(_) => PathError::LocalPart,
        });
    }
    if s.peek() == Some('[') {
        let start = s.pos;
        s.pos += 1;
        s.take_while(|c| c != ']' && is_dcontent(c));
        if !s.eat(']') || !is_address_literal(&s.text[start + 1..s.pos - 1]) {
            return Err(PathError::AddressLiteral);
        }
        return Ok(());
    }
    let start = s.pos;
    s.take_while(is_domain_char);
    if is_domain(&s.text[start..s.pos]) {
        Ok(())
    } else {
        Err(PathError::Domain)
    }
}

/// `DQUOTE *QcontentSMTP DQUOTE`, with RFC 6531's UTF-8 in qtext.
fn quoted_string(s: &mut Scanner<'_>) -> Result<(), PathError> {
    s.eat('"');
    loop {
        match s.bump().ok_or(PathError::LocalPart)? {
            '"' => return Ok(()),
            // quoted-pairSMTP: a backslash and one printable ASCII character or space.
            '\\' => match s.bump() {
                Some(c) if (' '..='~').contains(&c) => {}
                _ => return Err(PathError::LocalPart),
            },
            c if is_qtext(c) => {}
            _ => return Err(PathError::LocalPart),
        }
    }
}

/// RFC 5321 atext, with any non-ASCII character that is not a control or space (RFC 6531).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || is_utf8_text(c)
}

/// qtextSMTP: printable ASCII and space except `"` and `\`, and RFC 6531 UTF-8.
fn is_qtext(c: char) -> bool {
    (c.is_ascii() && (' '..='~').contains(&c) && c != '"' && c != '\\') || is_utf8_text(c)
}

/// dcontent: printable ASCII except `[`, `\`, `]`.
fn is_dcontent(c: char) -> bool {
    ('!'..='~').contains(&c) && !matches!(c, '[' | '\\' | ']')
}

fn is_utf8_text(c: char) -> bool {
    !c.is_ascii() && !c.is_control() && !c.is_whitespace()
}

fn is_domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' || is_utf8_text(c)
}

/// `sub-domain *("." sub-domain)`: labels of letters, digits and inner hyphens (U-labels too).
fn is_domain(d: &str) -> bool {
    !d.is_empty()
        && d.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c != '.' && is_domain_char(c))
        })
}

/// The inside of `[...]`: IPv4, `IPv6:` and an address, or `tag:dcontent`.
fn is_address_literal(inner: &str) -> bool {
    if inner.parse::<Ipv4Addr>().is_ok() {
        return true;
    }
    let Some((tag, text)) = inner.split_once(':') else {
        return false;
    };
    if tag.eq_ignore_ascii_case("IPv6") {
        return text.parse::<Ipv6Addr>().is_ok();
    }
    let tag_ok = tag.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !tag.ends_with('-');
    tag_ok && !text.is_empty() && text.chars().all(is_dcontent)
}

/// `esmtp-keyword ["=" esmtp-value]`; the value may hold any printable character but `=` and
/// space, and UTF-8 (RFC 6531).
fn is_param(p: &str) -> bool {
    let (keyword, value) = match p.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (p, None),
    };
    let keyword_ok = keyword.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && keyword.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let value_ok = value.is_none_or(|v| {
        !v.is_empty()
            && v.chars()
                .all(|c| (('!'..='~').contains(&c) && c != '=') || is_utf8_text(c))
    });
    keyword_ok && value_ok
}

/// A cursor over the argument text.
struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, want: char) -> bool {
        if self.peek() == Some(want) {
            self.pos += want.len_utf8();
            true
        } else {
            false
        }
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) {
        while let Some(c) = self.peek().filter(|&c| f(c)) {
            self.pos += c.len_utf8();
        }
    }
}

#[cfg(test)]
mod tests;
