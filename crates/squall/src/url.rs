//! `smtp://`, `smtps://` and `lmtp://` URLs.
//!
//! `smtp[s]://[user[:password]@]host[:port][?tls=…&auth=…&ehlo=…&insecure-auth=true]`: user and
//! password are percent-decoded; `smtps` means implicit TLS (port 465 by default); `tls` is one
//! of `none`, `opportunistic`, `starttls`, `implicit`.
//!
//! `lmtp://host[:port]` speaks LMTP (port 24 by default); `lmtp:///path/to/socket` (an empty
//! host, then the absolute path, as in `file:///`) connects to a Unix-domain socket, where
//! mailbox servers usually listen for LMTP.
//!
//! The userinfo ends at the *last* `@`: people paste passwords holding `@`, `?`, `/` or `#`
//! without percent-encoding them, and no host, port or parameter value of ours holds an `@`.
//! [`split`] is the one place that says so, for the parser and for [`redact`] alike: when they
//! disagreed (the parser took `abc?def` as a password, the redactor stopped at `?`), error
//! messages printed the password.

use crate::builder::ClientBuilder;
use crate::error::Error;
use squall_proto::auth::Mechanism;
use squall_proto::session::Tls;

/// Parses a URL into a builder (nothing is connected).
pub(crate) fn parse(url: &str) -> Result<ClientBuilder, Error> {
    let bad = |why: &str| Error::input(format!("invalid SMTP URL {}: {why}", redact(url)));
    let Parts {
        scheme: Some(scheme),
        userinfo,
        hostport,
        query,
    } = split(url)
    else {
        return Err(bad("expected smtp://host, smtps://host or lmtp://host"));
    };
    let (implicit, lmtp) = match scheme.to_ascii_lowercase().as_str() {
        "smtp" => (false, false),
        "smtps" => (true, false),
        "lmtp" => (false, true),
        _ => return Err(bad("the scheme must be smtp, smtps or lmtp")),
    };
    let mut b = match hostport.strip_prefix('/') {
        Some(_) if !lmtp => return Err(bad("only lmtp:// URLs may name a socket path")),
        Some(_) if userinfo.is_some() => return Err(bad("lmtp:///path takes no user or password")),
        Some(_) => {
            let path =
                percent_decode(hostport).ok_or_else(|| bad("bad percent-encoding in the socket path"))?;
            ClientBuilder::new("localhost").unix_socket(path).lmtp()
        }
        None => {
            let (host, port) =
                split_host_port(hostport).ok_or_else(|| bad("the host or port is malformed"))?;
            if host.is_empty() {
                return Err(bad("the host is missing"));
            }
            let b = ClientBuilder::new(host);
            let b = if lmtp { b.lmtp() } else { b };
            match port {
                Some(port) => b.port(port),
                None => b,
            }
        }
    };
    if implicit {
        b = b.tls(Tls::Implicit);
    }
    if let Some(info) = userinfo {
        let (user, pass) = split_userinfo(info);
        let pass = pass.ok_or_else(|| bad("a user needs a password (user:password@host)"))?;
        let user = percent_decode(user).ok_or_else(|| bad("bad percent-encoding in the user"))?;
        let pass = percent_decode(pass).ok_or_else(|| bad("bad percent-encoding in the password"))?;
        b = b.credentials(&user, &pass);
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v).ok_or_else(|| bad("bad percent-encoding in the query"))?;
        b = match k {
            "tls" => b.tls(match v.as_str() {
                "none" => Tls::None,
                "opportunistic" => Tls::Opportunistic,
                "starttls" => Tls::StartTls,
                "implicit" => Tls::Implicit,
                _ => return Err(bad("tls must be none, opportunistic, starttls or implicit")),
            }),
            "auth" => b.mechanism(Mechanism::from_name(&v)),
            "ehlo" => b.ehlo(&v),
            "insecure-auth" => b.allow_insecure_auth(matches!(v.as_str(), "1" | "true" | "yes")),
            _ => {
                return Err(bad(&format!(
                    "unknown parameter {k:?} (known: tls, auth, ehlo, insecure-auth)"
                )));
            }
        };
    }
    Ok(b)
}

/// A URL cut into its parts (nothing decoded or checked).
#[derive(Debug, PartialEq, Eq)]
struct Parts<'a> {
    /// What comes before `://`, when that looks like a scheme (RFC 3986 §3.1).
    scheme: Option<&'a str>,
    /// Everything before the last `@` (after the scheme).
    userinfo: Option<&'a str>,
    /// Between the userinfo and the query, without trailing slashes.
    hostport: &'a str,
    /// After the first `?` that follows the userinfo.
    query: &'a str,
}

/// Cuts `url` into its parts: the one reading of where the userinfo ends, shared by the parser
/// and the redactor. Input that is not a URL at all still gets a userinfo (everything before the
/// last `@`), so that the redactor hides a password in it too.
fn split(url: &str) -> Parts<'_> {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) if is_scheme(scheme) => (Some(scheme), rest),
        _ => (None, url),
    };
    let (userinfo, after) = match rest.rsplit_once('@') {
        Some((info, after)) => (Some(info), after),
        None => (None, rest),
    };
    let (hostport, query) = after.split_once('?').unwrap_or((after, ""));
    Parts {
        scheme,
        userinfo,
        hostport: hostport.trim_end_matches('/'),
        query,
    }
}

/// `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` (RFC 3986 §3.1).
fn is_scheme(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// `user:password` → (user, password): the password starts after the first `:`.
fn split_userinfo(info: &str) -> (&str, Option<&str>) {
    match info.split_once(':') {
        Some((user, pass)) => (user, Some(pass)),
        None => (info, None),
    }
}

/// `host`, `host:25`, `[::1]:25` → (host, port).
pub(crate) fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    match s.rsplit_once(':') {
        // More than one colon and no brackets: a bare IPv6 address.
        Some((h, _)) if h.contains(':') => Some((s.to_string(), None)),
        Some((h, p)) => Some((h.to_string(), Some(p.parse().ok()?))),
        None => Some((s.to_string(), None)),
    }
}

pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The URL with its password replaced by `***`, for messages: whatever [`parse`] would take for
/// a password is never shown, whether or not the URL is valid. The user is shown only when it
/// is certainly one: after `smtp://` or `smtps://`, and before a `:`. Otherwise the whole
/// userinfo is hidden, as it may be a password typed without its user, or a token.
pub(crate) fn redact(url: &str) -> String {
    let parts = split(url);
    let Some(info) = parts.userinfo else {
        return url.to_string();
    };
    let smtp = parts
        .scheme
        .is_some_and(|s| s.eq_ignore_ascii_case("smtp") || s.eq_ignore_ascii_case("smtps"));
    let shown = match split_userinfo(info) {
        (user, Some(_)) if smtp => format!("{user}:***"),
        _ => "***".to_string(),
    };
    // The userinfo starts right after `scheme://` (or at the start), and `@host…` follows it.
    let start = parts.scheme.map_or(0, |s| s.len() + "://".len());
    let end = start + info.len();
    format!("{}{shown}{}", &url[..start], &url[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port() {
        assert_eq!(split_host_port("mx.example"), Some(("mx.example".into(), None)));
        assert_eq!(
            split_host_port("mx.example:2525"),
            Some(("mx.example".into(), Some(2525)))
        );
        assert_eq!(split_host_port("[::1]:25"), Some(("::1".into(), Some(25))));
        assert_eq!(split_host_port("::1"), Some(("::1".into(), None)));
        assert_eq!(split_host_port("mx:x"), None);
        assert_eq!(split_host_port("[::1]x"), None);
    }

    #[test]
    fn decoding_and_redaction() {
        assert_eq!(percent_decode("p%40ss%3Aw0rd").as_deref(), Some("p@ss:w0rd"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(
            redact("smtps://joe:s3cret@mx:465?tls=implicit"),
            "smtps://joe:***@mx:465?tls=implicit"
        );
        assert_eq!(redact("smtp://mx"), "smtp://mx");
    }

    #[test]
    fn url_password_after_question_mark_is_redacted() {
        // The URL: the parser takes `abc?defSECRET` for the password, and so does the
        // redactor now.
        let url = "smtp://joe:abc?defSECRET@host";
        assert_eq!(redact(url), "smtp://joe:***@host");
        let c = parse(url).unwrap().resolve().unwrap();
        assert_eq!(c.host, "host");
        let session = format!("{:?}", c.session);
        assert!(session.contains("username: \"joe\""), "{session}");
        assert!(!session.contains("SECRET"), "{session}");
        for url in [
            "smtp://joe:ab/cSECRET@host:25?tls=none",
            "smtp://joe:a#b@cSECRET@host",
            "smtp://joe:SECRET@host:99999",
            "smtp:/joe:SECRET@host",
            "smtp//joe:SECRET@host",
            "joe:SECRET@host",
            "joe:ab://SECRET@host",
            "smtp://joe:SECRET@",
            "http://joe:SECRET@host",
            "smtp://joe:SEC%zzRET@host",
        ] {
            assert!(!redact(url).contains("SEC"), "{url} → {}", redact(url));
            if let Err(e) = parse(url).and_then(|b| b.resolve()) {
                assert!(!e.to_string().contains("SEC"), "{url}: {e}");
            }
        }
        assert_eq!(
            redact("smtp://joe:SECRET@host/?tls=none"),
            "smtp://joe:***@host/?tls=none"
        );
        assert_eq!(redact("joe:ab://SECRET@host"), "***@host");
        assert_eq!(redact("a://SECRET@host"), "a://***@host");
        assert_eq!(
            redact("smtp://SECRET@host"),
            "smtp://***@host",
            "a user alone may be a token"
        );
        assert_eq!(redact("smtps://joe:SECRET@host"), "smtps://joe:***@host");
    }

    #[test]
    fn one_split_for_parser_and_redactor() {
        let p = split("smtps://u:p?w/d@h:465/?tls=implicit&ehlo=x");
        assert_eq!(
            p,
            Parts {
                scheme: Some("smtps"),
                userinfo: Some("u:p?w/d"),
                hostport: "h:465",
                query: "tls=implicit&ehlo=x",
            }
        );
        assert_eq!(split("mx?tls=none").userinfo, None);
        assert_eq!(split("1x://a@b").scheme, None, "not a scheme");
        assert_eq!(split_userinfo("a:b:c"), ("a", Some("b:c")));
        assert_eq!(split_userinfo("a"), ("a", None));
    }

    #[test]
    fn urls() {
        let b = parse("smtps://joe%40example.org:p%40ss@mail.example.org").unwrap();
        let c = b.resolve().unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.session.get_tls()),
            ("mail.example.org", 465, Tls::Implicit)
        );
        assert!(c.session.has_credentials());
        let c = parse("smtp://[::1]:2525?tls=none&ehlo=me.example")
            .unwrap()
            .resolve()
            .unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.session.get_tls()),
            ("::1", 2525, Tls::None)
        );
        for bad in [
            "http://x",
            "smtp://",
            "smtp://x:99999",
            "smtp://joe@x",
            "smtp://x?tls=maybe",
            "smtp://x?color=1",
        ] {
            assert!(parse(bad).and_then(|b| b.resolve()).is_err(), "{bad}");
        }
        let e = parse("smtp://joe:hunter2@x?zz=1").err().unwrap().to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn lmtp_urls() {
        use squall_proto::session::Protocol;
        let c = parse("lmtp://mail.example").unwrap().resolve().unwrap();
        assert_eq!((c.host.as_str(), c.port), ("mail.example", 24));
        assert_eq!(c.session.get_protocol(), Protocol::Lmtp);
        assert_eq!(c.socket, None);
        let c = parse("lmtp://127.0.0.1:2424?tls=none")
            .unwrap()
            .resolve()
            .unwrap();
        assert_eq!((c.port, c.session.get_tls()), (2424, Tls::None));
        let c = parse("lmtp:///run/dovecot/lmtp%20x").unwrap().resolve().unwrap();
        assert_eq!(
            c.socket.as_deref(),
            Some(std::path::Path::new("/run/dovecot/lmtp x"))
        );
        assert_eq!(
            (c.session.get_protocol(), c.session.get_tls()),
            (Protocol::Lmtp, Tls::None)
        );
        assert_eq!(c.server(), "/run/dovecot/lmtp x");
        assert_eq!(
            parse("smtp://mx")
                .unwrap()
                .resolve()
                .unwrap()
                .session
                .get_protocol(),
            Protocol::Smtp
        );
        for bad in [
            "smtp:///run/socket",
            "lmtp://joe:pw@/run/socket",
            "lmtp:///run/socket?tls=starttls",
            "lmtp://",
        ] {
            assert!(parse(bad).and_then(|b| b.resolve()).is_err(), "{bad}");
        }
    }
}
