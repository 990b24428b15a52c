//! The `DKIM-Signature` field: its tags, which header fields it covers, the data that is signed
//! (RFC 6376 §3.5, §3.7, §5.4).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::header::{self, Field, fields};
use super::{Canonicalization, DkimError};

/// The fields signed by default, when present: those that say who sent the message, to whom,
/// what it is, and how its content is to be read. Those that relays add (Received, Return-Path)
/// are left out, as they change in transit.
pub const DEFAULT_HEADERS: &[&str] = &[
    "From",
    "Sender",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "To",
    "Cc",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-ID",
    "Content-Description",
    "Content-Disposition",
    "List-Id",
    "List-Help",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Subscribe",
    "List-Post",
    "List-Owner",
    "List-Archive",
    "Resent-Date",
    "Resent-From",
    "Resent-Sender",
    "Resent-To",
    "Resent-Cc",
    "Resent-Message-ID",
    "Feedback-ID",
];

/// Lines of the field are folded to stay within this many characters (RFC 5322 §2.1.1).
const LINE: usize = 78;

/// What a signature says apart from the hashes: who signs (`d=`, `s=`, `i=`), how (`a=`, `c=`),
/// which fields, and for how long. Values are checked when set, so no CR, LF or `;` from a
/// caller can reach the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    domain: String,
    selector: String,
    algorithm: &'static str,
    header_canon: Canonicalization,
    body_canon: Canonicalization,
    headers: Vec<String>,
    oversign: Vec<String>,
    identity: Option<String>,
    expire_after: Option<u64>,
}

impl Template {
    /// A template for `domain` and `selector` (the key is published at
    /// `SELECTOR._domainkey.DOMAIN`), signing with `algorithm` (`rsa-sha256` or
    /// `ed25519-sha256`), relaxed/relaxed, the [`DEFAULT_HEADERS`], and From oversigned.
    pub fn new(domain: &str, selector: &str, algorithm: &str) -> Result<Self, DkimError> {
        let algorithm = match algorithm {
            "rsa-sha256" => "rsa-sha256",
            "ed25519-sha256" => "ed25519-sha256",
            _ => {
                return Err(DkimError::Tag {
                    what: "algorithm",
                    value: algorithm.into(),
                    why: "use rsa-sha256 or ed25519-sha256",
                });
            }
        };
        Ok(Self {
            domain: dns_name("domain", domain)?,
            selector: dns_name("selector", selector)?,
            algorithm,
            header_canon: Canonicalization::Relaxed,
            body_canon: Canonicalization::Relaxed,
            headers: DEFAULT_HEADERS.iter().map(|h| h.to_string()).collect(),
            oversign: vec!["From".into()],
            identity: None,
            expire_after: None,
        })
    }

    /// The canonicalizations of the header and of the body.
    pub fn canonicalization(mut self, header: Canonicalization, body: Canonicalization) -> Self {
        self.header_canon = header;
        self.body_canon = body;
        self
    }

    /// The body's canonicalization, for the [`Canonicalizer`](super::Canonicalizer).
    pub fn body_canonicalization(&self) -> Canonicalization {
        self.body_canon
    }

    /// The fields to sign when present, in place of the [`DEFAULT_HEADERS`]. From is always
    /// signed.
    pub fn headers<I, S>(mut self, names: I) -> Result<Self, DkimError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.headers = field_names(names)?;
        if !self.headers.iter().any(|h| h.eq_ignore_ascii_case("from")) {
            self.headers.insert(0, "From".into());
        }
        Ok(self)
    }

    /// Fields signed once more than they appear, so that no instance can be added in transit
    /// without breaking the signature (RFC 6376 §8.15). `From` by default.
    pub fn oversign<I, S>(mut self, names: I) -> Result<Self, DkimError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.oversign = field_names(names)?;
        Ok(self)
    }

    /// The agent or user the signature is for (`i=`): an address at the domain or one of its
    /// subdomains.
    pub fn identity(mut self, identity: &str) -> Result<Self, DkimError> {
        let bad = |why| DkimError::Tag {
            what: "identity",
            value: identity.into(),
            why,
        };
        let (local, domain) = identity.rsplit_once('@').ok_or(bad("it needs an @"))?;
        if !local
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b';' && b != b'=')
        {
            return Err(bad(
                "only printable ASCII other than ; and = may come before the @",
            ));
        }
        let domain = dns_name("identity", domain)?;
        let d = &self.domain;
        let within = domain == *d || domain.ends_with(&format!(".{d}"));
        if !within {
            return Err(bad("its domain must be the signing domain or a subdomain of it"));
        }
        self.identity = Some(format!("{local}@{domain}"));
        Ok(self)
    }

    /// Signatures expire (`x=`) this many seconds after they are made.
    pub fn expire_after(mut self, seconds: u64) -> Self {
        self.expire_after = Some(seconds);
        self
    }

    /// The `DKIM-Signature` field, CRLF-terminated, for a message whose CRLF header section is
    /// `section` and whose canonical body hashes to `body_hash`, signed at `now` (seconds since
    /// 1970). `sign` is given the data to sign (for `ed25519-sha256`, the caller hashes it
    /// first, RFC 8463 §3) and returns the signature.
    pub fn header<E>(
        &self,
        section: &[u8],
        body_hash: &[u8],
        now: u64,
        sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
    ) -> Result<String, E>
    where
        E: From<DkimError>,
    {
        let present = fields(section);
        let names = self.signed_names(&present)?;
        let mut unsigned = Folded::new("DKIM-Signature:");
        unsigned.tag("v=1");
        unsigned.tag(&format!("a={}", self.algorithm));
        unsigned.tag(&format!(
            "c={}/{}",
            self.header_canon.as_str(),
            self.body_canon.as_str()
        ));
        unsigned.tag(&format!("d={}", self.domain));
        unsigned.tag(&format!("s={}", self.selector));
        if let Some(i) = &self.identity {
            unsigned.tag(&format!("i={i}"));
        }
        unsigned.tag(&format!("t={now}"));
        if let Some(x) = self.expire_after {
            unsigned.tag(&format!("x={}", now.saturating_add(x)));
        }
        unsigned.list("h=", &names);
        unsigned.tag(&format!("bh={}", STANDARD.encode(body_hash)));
        unsigned.last("b=");

        let mut data = Vec::with_capacity(section.len() + unsigned.text.len());
        for f in select(&present, &names) {
            header::canonical(self.header_canon, f.raw, &mut data);
        }
        header::canonical(self.header_canon, unsigned.text.as_bytes(), &mut data);
        // The signature's own field is signed without its final CRLF (RFC 6376 §3.7).
        if self.header_canon == Canonicalization::Relaxed {
            data.truncate(data.len() - 2);
        }
        let signature = sign(&data)?;
        let mut field = unsigned;
        field.value(&STANDARD.encode(signature));
        field.text.push_str("\r\n");
        Ok(field.text)
    }

    /// The `h=` list: each configured field as many times as it appears, oversigned ones once
    /// more.
    fn signed_names(&self, present: &[Field<'_>]) -> Result<Vec<String>, DkimError> {
        if !present.iter().any(|f| f.is("From")) {
            return Err(DkimError::NoFrom);
        }
        let mut names = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for h in &self.headers {
            let lower = h.to_ascii_lowercase();
            if seen.contains(&lower) {
                continue;
            }
            let n = present.iter().filter(|f| f.is(h)).count();
            let extra = usize::from(self.oversign.iter().any(|o| o.eq_ignore_ascii_case(h)));
            names.extend(std::iter::repeat_n(lower.clone(), n + extra));
            seen.push(lower);
        }
        for o in &self.oversign {
            let lower = o.to_ascii_lowercase();
            if !seen.contains(&lower) {
                let n = present.iter().filter(|f| f.is(o)).count();
                names.extend(std::iter::repeat_n(lower.clone(), n + 1));
                seen.push(lower);
            }
        }
        Ok(names)
    }
}

/// The fields `names` covers, in `h=` order: for a name listed again, the next instance up
/// from the bottom; none once they run out (RFC 6376 §5.4.2).
fn select<'a>(present: &[Field<'a>], names: &[String]) -> Vec<Field<'a>> {
    let mut used: Vec<(&str, usize)> = Vec::new();
    let mut out = Vec::new();
    for name in names {
        let k = match used.iter_mut().find(|(n, _)| n == name) {
            Some((_, k)) => k,
            None => {
                used.push((name, 0));
                &mut used.last_mut().expect("just pushed").1
            }
        };
        if let Some(f) = present.iter().rev().filter(|f| f.is(name)).nth(*k) {
            out.push(*f);
        }
        *k += 1;
    }
    out
}

/// A field built tag by tag, folded before a piece that would not fit on the line.
struct Folded {
    text: String,
    line: usize,
}

impl Folded {
    fn new(name: &str) -> Self {
        Self {
            text: name.into(),
            line: name.len(),
        }
    }

    /// Appends `piece` after `sep`, or on a new line if it would not fit.
    fn piece(&mut self, sep: &str, piece: &str) {
        if self.line + sep.len() + piece.len() > LINE {
            self.text.push_str("\r\n\t");
            self.line = 1;
        } else {
            self.text.push_str(sep);
            self.line += sep.len();
        }
        self.text.push_str(piece);
        self.line += piece.len();
    }

    fn tag(&mut self, tag: &str) {
        self.piece(" ", &format!("{tag};"));
    }

    /// A colon-separated list, folded between items.
    fn list(&mut self, tag: &str, items: &[String]) {
        let n = items.len();
        for (k, item) in items.iter().enumerate() {
            let (sep, head) = if k == 0 { (" ", tag) } else { ("", "") };
            let end = if k + 1 == n { ";" } else { ":" };
            self.piece(sep, &format!("{head}{item}{end}"));
        }
    }

    /// The last tag's name: its value is the signature, appended later.
    fn last(&mut self, tag: &str) {
        self.piece(" ", tag);
    }

    /// A base64 value, filling lines and folding within it (whitespace in it is ignored).
    fn value(&mut self, mut v: &str) {
        while !v.is_empty() {
            let room = LINE.saturating_sub(self.line);
            if room == 0 {
                self.text.push_str("\r\n\t");
                self.line = 1;
                continue;
            }
            let (now, rest) = v.split_at(room.min(v.len()));
            self.text.push_str(now);
            self.line += now.len();
            v = rest;
        }
    }
}

/// A domain or selector: dot-separated labels of letters, digits, hyphens and underscores.
fn dns_name(what: &'static str, value: &str) -> Result<String, DkimError> {
    let bad = |why| DkimError::Tag {
        what,
        value: value.into(),
        why,
    };
    if value.is_empty() || value.len() > 253 {
        return Err(bad("it must be 1 to 253 characters"));
    }
    if !value.is_ascii() {
        return Err(bad("use the ASCII (xn--) form of an international name"));
    }
    let ok = value.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !l.starts_with('-')
            && !l.ends_with('-')
    });
    if !ok {
        return Err(bad(
            "only letters, digits, hyphens, underscores and dots between labels may appear",
        ));
    }
    Ok(value.to_ascii_lowercase())
}

fn field_names<I, S>(names: I) -> Result<Vec<String>, DkimError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    names
        .into_iter()
        .map(|n| {
            let n = n.as_ref();
            if !n.is_empty() && n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b':') {
                Ok(n.to_string())
            } else {
                Err(DkimError::Tag {
                    what: "header name",
                    value: n.into(),
                    why: "a field name is printable ASCII without a colon",
                })
            }
        })
        .collect()
}
