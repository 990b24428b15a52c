//! What the server offers, read from its EHLO reply (RFC 5321 §4.1.1.1 and the extension RFCs).

use std::fmt;

use crate::auth::Mechanism;
use crate::reply::Reply;

/// One service extension from an EHLO reply line.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Extension {
    /// RFC 2920: commands may be sent in groups.
    Pipelining,
    /// RFC 3030: `BDAT` chunks instead of `DATA`.
    Chunking,
    /// RFC 3030: `BODY=BINARYMIME` (needs CHUNKING).
    BinaryMime,
    /// RFC 1870: the fixed size limit in bytes; `None` when the server gave no number or `0`.
    Size(Option<u64>),
    /// RFC 6152: `BODY=8BITMIME`.
    EightBitMime,
    /// RFC 6531: internationalised addresses and headers.
    SmtpUtf8,
    /// RFC 3207: `STARTTLS`.
    StartTls,
    /// RFC 4954: `AUTH` with these SASL mechanisms (the old `AUTH=` form is merged in).
    Auth(Vec<Mechanism>),
    /// RFC 3461: delivery status notification parameters.
    Dsn,
    /// RFC 2034: replies carry RFC 3463 enhanced status codes.
    EnhancedStatusCodes,
    /// RFC 8689: the `REQUIRETLS` MAIL parameter.
    RequireTls,
    /// Any other keyword, upper-cased, with its parameters as sent.
    Other {
        /// The keyword, upper-cased.
        keyword: String,
        /// The parameters after the keyword.
        params: Vec<String>,
    },
}

/// The server's name and extensions, as learned from one EHLO (or HELO) reply.
///
/// Capabilities are per session: after STARTTLS they are discarded and learned again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capabilities {
    domain: String,
    esmtp: bool,
    extensions: Vec<Extension>,
}

impl Capabilities {
    /// Reads an EHLO reply: the first line names the server, each later line is
    /// `keyword *(SP param)`. Keywords are case-insensitive; empty lines (such as the `250 ` that
    /// ends Postfix smtp-sink's reply) are skipped; unknown keywords are kept as [`Extension::Other`].
    pub fn from_ehlo(reply: &Reply) -> Self {
        let mut lines = reply.lines().iter();
        let domain = lines.next().map(|l| first_word(l)).unwrap_or_default();
        let mut caps = Self {
            domain,
            esmtp: true,
            extensions: Vec::new(),
        };
        for line in lines {
            caps.add_line(line);
        }
        caps
    }

    /// The capabilities of a server greeted with HELO: no extensions at all.
    pub fn from_helo(reply: &Reply) -> Self {
        Self {
            domain: reply.lines().first().map(|l| first_word(l)).unwrap_or_default(),
            esmtp: false,
            extensions: Vec::new(),
        }
    }

    fn add_line(&mut self, line: &str) {
        let mut words = line.split_ascii_whitespace();
        let Some(word) = words.next() else { return };
        // `AUTH=LOGIN PLAIN` is the pre-RFC 4954 spelling of `AUTH LOGIN PLAIN`.
        let (keyword, first_param) = match word.split_once('=') {
            Some((k, p)) if k.eq_ignore_ascii_case("AUTH") => (k, Some(p)),
            _ => (word, None),
        };
        let keyword = keyword.to_ascii_uppercase();
        let params: Vec<&str> = first_param
            .into_iter()
            .chain(words)
            .filter(|p| !p.is_empty())
            .collect();
        let ext = match keyword.as_str() {
            "PIPELINING" => Extension::Pipelining,
            "CHUNKING" => Extension::Chunking,
            "BINARYMIME" => Extension::BinaryMime,
            "SIZE" => Extension::Size(params.first().and_then(|p| p.parse().ok()).filter(|&n| n > 0)),
            "8BITMIME" => Extension::EightBitMime,
            "SMTPUTF8" => Extension::SmtpUtf8,
            "STARTTLS" => Extension::StartTls,
            "DSN" => Extension::Dsn,
            "ENHANCEDSTATUSCODES" => Extension::EnhancedStatusCodes,
            "REQUIRETLS" => Extension::RequireTls,
            "AUTH" => {
                let mechs: Vec<Mechanism> = params.iter().map(|p| Mechanism::from_name(p)).collect();
                if let Some(Extension::Auth(existing)) = self
                    .extensions
                    .iter_mut()
                    .find(|e| matches!(e, Extension::Auth(_)))
                {
                    for m in mechs {
                        if !existing.contains(&m) {
                            existing.push(m);
                        }
                    }
                    return;
                }
                Extension::Auth(mechs)
            }
            _ => Extension::Other {
                keyword,
                params: params.iter().map(|p| p.to_string()).collect(),
            },
        };
        if !self.extensions.contains(&ext) {
            self.extensions.push(ext);
        }
    }

    /// The name the server gave for itself on the first line.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// False when the server only understood HELO (no extensions may be used).
    pub fn is_esmtp(&self) -> bool {
        self.esmtp
    }

    /// Every extension, in the order the server listed them.
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    fn has(&self, ext: &Extension) -> bool {
        self.extensions.contains(ext)
    }

    /// `PIPELINING` was offered.
    pub fn pipelining(&self) -> bool {
        self.has(&Extension::Pipelining)
    }

    /// `CHUNKING` was offered.
    pub fn chunking(&self) -> bool {
        self.has(&Extension::Chunking)
    }

    /// `BINARYMIME` was offered together with `CHUNKING` (it is useless without it).
    pub fn binary_mime(&self) -> bool {
        self.chunking() && self.has(&Extension::BinaryMime)
    }

    /// `8BITMIME` was offered.
    pub fn eight_bit_mime(&self) -> bool {
        self.has(&Extension::EightBitMime)
    }

    /// `SMTPUTF8` was offered.
    pub fn smtputf8(&self) -> bool {
        self.has(&Extension::SmtpUtf8)
    }

    /// `STARTTLS` was offered.
    pub fn starttls(&self) -> bool {
        self.has(&Extension::StartTls)
    }

    /// `DSN` was offered.
    pub fn dsn(&self) -> bool {
        self.has(&Extension::Dsn)
    }

    /// `ENHANCEDSTATUSCODES` was offered.
    pub fn enhanced_status_codes(&self) -> bool {
        self.has(&Extension::EnhancedStatusCodes)
    }

    /// `REQUIRETLS` was offered.
    pub fn require_tls(&self) -> bool {
        self.has(&Extension::RequireTls)
    }

    /// `SIZE` was offered (with or without a limit).
    pub fn size(&self) -> bool {
        self.extensions.iter().any(|e| matches!(e, Extension::Size(_)))
    }

    /// The fixed message size limit, when the server declared a non-zero one.
    pub fn size_limit(&self) -> Option<u64> {
        self.extensions.iter().find_map(|e| match e {
            Extension::Size(n) => *n,
            _ => None,
        })
    }

    /// The SASL mechanisms offered, empty when AUTH was not offered.
    pub fn auth_mechanisms(&self) -> &[Mechanism] {
        self.extensions
            .iter()
            .find_map(|e| match e {
                Extension::Auth(m) => Some(m.as_slice()),
                _ => None,
            })
            .unwrap_or_default()
    }
}

impl fmt::Display for Capabilities {
    /// `mx.example.org: PIPELINING CHUNKING SIZE=10485760 AUTH(PLAIN LOGIN) …`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.domain)?;
        if !self.esmtp {
            return write!(f, " (HELO only, no extensions)");
        }
        for ext in &self.extensions {
            match ext {
                Extension::Pipelining => write!(f, " PIPELINING")?,
                Extension::Chunking => write!(f, " CHUNKING")?,
                Extension::BinaryMime => write!(f, " BINARYMIME")?,
                Extension::Size(Some(n)) => write!(f, " SIZE={n}")?,
                Extension::Size(None) => write!(f, " SIZE")?,
                Extension::EightBitMime => write!(f, " 8BITMIME")?,
                Extension::SmtpUtf8 => write!(f, " SMTPUTF8")?,
                Extension::StartTls => write!(f, " STARTTLS")?,
                Extension::Dsn => write!(f, " DSN")?,
                Extension::EnhancedStatusCodes => write!(f, " ENHANCEDSTATUSCODES")?,
                Extension::RequireTls => write!(f, " REQUIRETLS")?,
                Extension::Auth(m) => {
                    let names: Vec<&str> = m.iter().map(Mechanism::name).collect();
                    write!(f, " AUTH({})", names.join(" "))?;
                }
                Extension::Other { keyword, .. } => {
                    let mut k = String::new();
                    crate::reply::push_sanitized(&mut k, keyword);
                    write!(f, " {k}")?;
                }
            }
        }
        Ok(())
    }
}

fn first_word(line: &str) -> String {
    let mut out = String::new();
    crate::reply::push_sanitized(&mut out, line.split_ascii_whitespace().next().unwrap_or(""));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::ReplyParser;

    fn caps(raw: &str) -> Capabilities {
        let mut p = ReplyParser::default();
        p.push(raw.as_bytes());
        Capabilities::from_ehlo(&p.next_reply().unwrap().unwrap())
    }

    #[test]
    fn postfix_after_starttls() {
        let c = caps(
            "250-postfix.test\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n250-VRFY\r\n250-ETRN\r\n\
             250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n\
             250-SMTPUTF8\r\n250 CHUNKING\r\n",
        );
        assert_eq!(c.domain(), "postfix.test");
        assert!(c.pipelining() && c.chunking() && c.eight_bit_mime() && c.smtputf8() && c.dsn());
        assert!(c.enhanced_status_codes() && !c.starttls() && !c.binary_mime() && !c.require_tls());
        assert_eq!(c.size_limit(), Some(10_485_760));
        assert_eq!(c.auth_mechanisms(), &[Mechanism::Plain, Mechanism::Login]);
        assert!(c.extensions().contains(&Extension::Other {
            keyword: "VRFY".into(),
            params: vec![]
        }));
        assert_eq!(
            c.to_string(),
            "postfix.test: PIPELINING SIZE=10485760 VRFY ETRN AUTH(PLAIN LOGIN) \
             ENHANCEDSTATUSCODES 8BITMIME DSN SMTPUTF8 CHUNKING"
        );
    }

    #[test]
    fn smtp_sink_empty_last_line_and_params_kept() {
        let c = caps("250-smtp-sink\r\n250-PIPELINING\r\n250-XCLIENT NAME HELO\r\n250-DSN\r\n250 \r\n");
        assert_eq!(c.extensions().len(), 3);
        assert_eq!(
            c.extensions()[1],
            Extension::Other {
                keyword: "XCLIENT".into(),
                params: vec!["NAME".into(), "HELO".into()]
            }
        );
    }

    #[test]
    fn lowercase_old_auth_and_size_forms() {
        let c = caps(
            "250-mx hello\r\n250-pipelining\r\n250-auth=LOGIN\r\n250-AUTH login CRAM-MD5 xoauth2\r\n\
             250-Size\r\n250-starttls\r\n250-BINARYMIME\r\n250-chunking\r\n250 requiretls\r\n",
        );
        assert!(c.pipelining() && c.starttls() && c.binary_mime() && c.require_tls());
        assert!(c.size());
        assert_eq!(c.size_limit(), None);
        assert_eq!(
            c.auth_mechanisms(),
            &[Mechanism::Login, Mechanism::CramMd5, Mechanism::XOAuth2]
        );
        assert_eq!(caps("250-mx\r\n250 SIZE 0\r\n").size_limit(), None);
        assert_eq!(caps("250-mx\r\n250 SIZE junk\r\n").size_limit(), None);
    }

    #[test]
    fn helo_has_nothing() {
        let mut p = ReplyParser::default();
        p.push(b"250 old.example.org\r\n");
        let c = Capabilities::from_helo(&p.next_reply().unwrap().unwrap());
        assert!(!c.is_esmtp() && !c.pipelining());
        assert_eq!(c.to_string(), "old.example.org: (HELO only, no extensions)");
    }
}
