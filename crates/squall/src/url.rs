//! `smtp://` and `smtps://` URLs.
//!
//! `smtp[s]://[user[:password]@]host[:port][?tls=…&auth=…&ehlo=…&insecure-auth=true]`: user and
//! password are percent-decoded; `smtps` means implicit TLS (port 465 by default); `tls` is one
//! of `none`, `opportunistic`, `starttls`, `implicit`.

use crate::builder::ClientBuilder;
use crate::error::Error;
use squall_proto::auth::Mechanism;
use squall_proto::session::Tls;

/// Parses a URL into a builder (nothing is connected).
pub(crate) fn parse(url: &str) -> Result<ClientBuilder, Error> {
    let bad = |why: &str| Error::input(format!("invalid SMTP URL {}: {why}", redact(url)));
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("expected smtp://host or smtps://host"))?;
    let implicit = match scheme.to_ascii_lowercase().as_str() {
        "smtp" => false,
        "smtps" => true,
        _ => return Err(bad("the scheme must be smtp or smtps")),
    };
    let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = authority.trim_end_matches('/');
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (host, port) = split_host_port(hostport).ok_or_else(|| bad("the host or port is malformed"))?;
    if host.is_empty() {
        return Err(bad("the host is missing"));
    }
    let mut b = ClientBuilder::new(host);
    if let Some(port) = port {
        b = b.port(port);
    }
    if implicit {
        b = b.tls(Tls::Implicit);
    }
    if let Some(info) = userinfo {
        let (user, pass) = info
            .split_once(':')
            .ok_or_else(|| bad("a user needs a password (user:password@host)"))?;
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

fn percent_decode(s: &str) -> Option<String> {
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

/// The URL with its password replaced by `***`, for messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..end].rsplit_once('@') {
        Some((info, host)) => {
            let user = info.split_once(':').map_or(info, |(u, _)| u);
            format!("{scheme}://{user}:***@{host}{}", &rest[end..])
        }
        None => url.to_string(),
    }
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
}
