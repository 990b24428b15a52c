//! The RFC 5322 §3.4 address syntax, read as people type it (with the obsolete forms still in
//! use: empty list elements, dots in display names, a comma left out after a group).

use squall_proto::address::Mailbox;

use super::address::NamedAddress;
use super::fields::check_text;
use crate::error::Error;

/// The addresses of an address list; a group counts as its members.
pub(super) fn address_list(s: &str) -> Result<Vec<NamedAddress>, Error> {
    Parser { s, at: 0 }.list()
}

pub(super) const EXPECTED: &str = "write name@example.org or Name <name@example.org> (quote a name with commas: \"Doe, J.\" <j@example.org>), several separated by commas";

/// A recursive-descent reader of RFC 5322 §3.4 (with the obsolete forms people still type:
/// empty list elements, dots in display names).
struct Parser<'a> {
    s: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.at..].chars().next()
    }

    fn fail(&self, problem: &str) -> Error {
        let near: String = self.s[self.at..].chars().take(30).collect();
        let near = if near.is_empty() {
            "at the end".to_string()
        } else {
            format!("at {near:?}")
        };
        Error::input(format!(
            "invalid address {:?}: {problem} {near}; {EXPECTED}",
            self.s
        ))
    }

    /// Skips white space and comments (which may nest, and hold quoted pairs).
    fn skip_cfws(&mut self) -> Result<(), Error> {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => self.at += c.len_utf8(),
                Some('(') => {
                    let mut depth = 0u32;
                    let mut chars = self.s[self.at..].char_indices();
                    let end = loop {
                        match chars.next() {
                            Some((_, '\\')) => {
                                chars.next();
                            }
                            Some((_, '(')) => depth += 1,
                            Some((i, ')')) => {
                                depth -= 1;
                                if depth == 0 {
                                    break i + 1;
                                }
                            }
                            Some(_) => {}
                            None => return Err(self.fail("a comment is not closed")),
                        }
                    };
                    self.at += end;
                }
                _ => return Ok(()),
            }
        }
    }

    fn list(mut self) -> Result<Vec<NamedAddress>, Error> {
        if let Some(c) = self.s.chars().find(|&c| c.is_control() && c != '\t') {
            let place = if self.s.contains('<') {
                "display name or address"
            } else {
                "address"
            };
            check_text(place, &c.to_string())?;
        }
        let mut out = Vec::new();
        loop {
            self.skip_cfws()?;
            match self.peek() {
                None => return Ok(out),
                Some(',') => self.at += 1,
                Some(_) => {
                    self.address(&mut out)?;
                    // A group's ';' ends it well enough: the comma after it is often left out.
                    let after_group = self.s[..self.at].ends_with(';');
                    self.skip_cfws()?;
                    match self.peek() {
                        None => return Ok(out),
                        Some(',') => self.at += 1,
                        Some(_) if after_group => {}
                        Some(_) => return Err(self.fail("expected a comma between addresses")),
                    }
                }
            }
        }
    }

    /// One mailbox or group, added to `out`.
    fn address(&mut self, out: &mut Vec<NamedAddress>) -> Result<(), Error> {
        let start = self.at;
        let name = self.phrase()?;
        self.skip_cfws()?;
        match self.peek() {
            Some('<') => {
                let mailbox = self.angle_addr()?;
                out.push(NamedAddress {
                    name: (!name.is_empty()).then_some(name),
                    mailbox,
                });
                Ok(())
            }
            Some(':') if !name.is_empty() => {
                self.at += 1;
                loop {
                    self.skip_cfws()?;
                    match self.peek() {
                        Some(';') => {
                            self.at += 1;
                            return Ok(());
                        }
                        Some(',') => self.at += 1,
                        None => return Err(self.fail("a group is not closed with ';'")),
                        Some(_) => self.address(out)?,
                    }
                }
            }
            _ => {
                // No angle brackets: the whole element is an addr-spec.
                self.at = start;
                let mailbox = self.addr_spec()?;
                out.push(NamedAddress { name: None, mailbox });
                Ok(())
            }
        }
    }

    /// A display name: atoms (dots allowed, as people type them) and quoted strings.
    fn phrase(&mut self) -> Result<String, Error> {
        let mut words: Vec<String> = Vec::new();
        loop {
            self.skip_cfws()?;
            match self.peek() {
                Some('"') => words.push(self.quoted()?),
                Some(c) if is_atext(c) || c == '.' => {
                    let rest = &self.s[self.at..];
                    let len = rest
                        .find(|c: char| !(is_atext(c) || c == '.'))
                        .unwrap_or(rest.len());
                    words.push(rest[..len].to_string());
                    self.at += len;
                }
                _ => return Ok(words.join(" ")),
            }
        }
    }

    /// A quoted string, its quoted pairs undone.
    fn quoted(&mut self) -> Result<String, Error> {
        let mut text = String::new();
        let mut chars = self.s[self.at + 1..].char_indices();
        loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, c)) => text.push(c),
                    None => return Err(self.fail("a quoted name ends in a backslash")),
                },
                Some((i, '"')) => {
                    self.at += 1 + i + 1;
                    return Ok(text);
                }
                Some((_, c)) => text.push(c),
                None => return Err(self.fail("a quoted name is not closed")),
            }
        }
    }

    /// `<address>` (an obsolete source route `@a,@b:` before it is dropped).
    fn angle_addr(&mut self) -> Result<Mailbox, Error> {
        let rest = &self.s[self.at + 1..];
        let Some(close) = closing_angle(rest) else {
            return Err(self.fail("'<' is not closed with '>'"));
        };
        let inner = rest[..close].trim();
        let inner = match (inner.starts_with('@'), inner.find(':')) {
            (true, Some(colon)) => &inner[colon + 1..],
            _ => inner,
        };
        let mailbox = Mailbox::parse(inner.trim())
            .map_err(|e| Error::input(format!("invalid address {inner:?} in {:?}: {e}", self.s)))?;
        self.at += 1 + close + 1;
        Ok(mailbox)
    }

    /// A bare address, up to the next comma, semicolon or end outside quotes.
    fn addr_spec(&mut self) -> Result<Mailbox, Error> {
        let rest = &self.s[self.at..];
        let mut quoted = false;
        let mut escaped = false;
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                ',' | ';' if !quoted => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let text = without_comments(&rest[..end]);
        let text = text.trim();
        if closing_angle(text).is_some() || without_quotes(text).contains('<') {
            return Err(self.fail("a name and an address need the address in angle brackets:"));
        }
        let mailbox = Mailbox::parse(text).map_err(|e| {
            let words = text.split_whitespace().count();
            if words > 1 && text.contains('@') {
                Error::input(format!(
                    "invalid address {text:?}: a display name needs the address in angle brackets, such as Alice <alice@example.org>"
                ))
            } else {
                Error::input(format!("invalid address {text:?}: {e}; {EXPECTED}"))
            }
        })?;
        self.at += end;
        Ok(mailbox)
    }
}

/// `text` without its comments (outside quotes): `a@example.org (Alice)` is `a@example.org `.
fn without_comments(text: &str) -> String {
    let (mut out, mut depth, mut quoted, mut escaped) = (String::new(), 0u32, false, false);
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted || depth > 0 => escaped = true,
            '"' if depth == 0 => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                continue;
            }
            _ => {}
        }
        if depth == 0 {
            out.push(c);
        }
    }
    out
}

/// `text` with its quoted strings left out.
fn without_quotes(text: &str) -> String {
    let (mut out, mut quoted, mut escaped) = (String::new(), false, false);
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if !quoted => out.push(c),
            _ => {}
        }
    }
    out
}

/// The index of the `>` closing an angle address, skipping quoted local parts.
fn closing_angle(s: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// RFC 5322 atext, and any non-ASCII letter (RFC 6532).
fn is_atext(c: char) -> bool {
    c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &str) -> Vec<(Option<String>, String)> {
        NamedAddress::parse_list(s)
            .unwrap()
            .into_iter()
            .map(|a| (a.name, a.mailbox.to_string()))
            .collect()
    }

    fn n(name: &str, addr: &str) -> (Option<String>, String) {
        (Some(name.to_string()), addr.to_string())
    }

    fn bare(addr: &str) -> (Option<String>, String) {
        (None, addr.to_string())
    }

    #[test]
    fn the_forms_people_type() {
        assert_eq!(parsed("a@example.org"), [bare("a@example.org")]);
        assert_eq!(parsed("Alice <a@example.org>"), [n("Alice", "a@example.org")]);
        assert_eq!(
            parsed("Alice Smith<a@example.org>"),
            [n("Alice Smith", "a@example.org")]
        );
        assert_eq!(parsed("<a@example.org>"), [bare("a@example.org")]);
        assert_eq!(
            parsed(r#""Doe, John" <j@example.org>, b@example.net"#),
            [n("Doe, John", "j@example.org"), bare("b@example.net")]
        );
        assert_eq!(
            parsed(r#""Say \"hi\"" <q@example.org>"#),
            [n(r#"Say "hi""#, "q@example.org")]
        );
        assert_eq!(parsed("J. Doe <j@example.org>"), [n("J. Doe", "j@example.org")]);
        assert_eq!(
            parsed("Team: a@example.org, B <b@example.org>; c@example.org"),
            [
                bare("a@example.org"),
                n("B", "b@example.org"),
                bare("c@example.org")
            ]
        );
        assert_eq!(parsed("undisclosed-recipients:;"), []);
        assert_eq!(
            parsed("a@example.org (Alice), , b@example.org"),
            [bare("a@example.org"), bare("b@example.org")]
        );
        assert_eq!(parsed("Grüße <g@example.org>"), [n("Grüße", "g@example.org")]);
        assert_eq!(parsed(r#""x y"@example.org"#), [bare(r#""x y"@example.org"#)]);
        assert_eq!(parsed("<@relay.example:a@example.org>"), [bare("a@example.org")]);
    }

    #[test]
    fn mistakes_name_the_part_and_the_form() {
        for (input, says) in [
            ("b@example.com, c@example.com, ", ""),
            ("Alice a@example.org", "angle brackets"),
            ("Alice <a@example.org", "not closed"),
            ("\"Alice <a@example.org>", "not closed"),
            ("a@", "a@"),
            ("Team: a@example.org", "';'"),
        ] {
            match NamedAddress::parse_list(input) {
                Ok(v) if says.is_empty() => assert_eq!(v.len(), 2, "{input}"),
                Ok(v) => panic!("{input:?} parsed as {v:?}"),
                Err(e) => {
                    let e = e.to_string();
                    assert!(e.contains(says), "{input:?}: {e}");
                    assert!(
                        e.contains("name@example.org") || e.contains("Alice <alice@example.org>"),
                        "{e}"
                    );
                }
            }
        }
        let e = NamedAddress::parse("a@example.org, b@example.org")
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds 2 addresses"), "{e}");
        let e = NamedAddress::parse("Evil\r\n <a@example.org>")
            .unwrap_err()
            .to_string();
        assert!(e.contains("display name or address contains a CR"), "{e}");
    }

    #[test]
    fn display_quotes_what_needs_it() {
        let a = NamedAddress::parse(r#""Doe, \"J\"" <j@example.org>"#).unwrap();
        assert_eq!(a.to_string(), r#""Doe, \"J\"" <j@example.org>"#);
        assert_eq!(NamedAddress::parse_list(&a.to_string()).unwrap(), [a]);
        assert_eq!(
            NamedAddress::new("Alice", "a@example.org").unwrap().to_string(),
            "Alice <a@example.org>"
        );
    }
}
