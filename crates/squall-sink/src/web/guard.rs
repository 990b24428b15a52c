//! The rules every request passes before a handler sees it: the Host header (DNS
//! rebinding), the password, and a non-simple request for anything that changes state
//! (CSRF). Also the headers every response carries.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

/// The header a script sets to show a request is not a plain form post or link: a page on
/// another site cannot set it without a CORS preflight, which this server never grants.
pub(crate) const CSRF_HEADER: &str = "x-squall-sink";

/// What the guard checks against.
#[derive(Debug)]
pub(crate) struct Guard {
    /// Bound to loopback: only loopback names are accepted in Host.
    pub(crate) loopback: bool,
    /// Required for every request when set (HTTP Basic with any user name, or Bearer).
    pub(crate) password: Option<String>,
}

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    Host,
    Password,
    Csrf,
}

impl Refusal {
    fn response(&self) -> Response {
        let (status, text) = match self {
            Self::Host => (
                StatusCode::MISDIRECTED_REQUEST,
                "this server answers to localhost, 127.0.0.1 and [::1] only (Host header checked against DNS rebinding)",
            ),
            Self::Password => (StatusCode::UNAUTHORIZED, "a password is required"),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "a request that changes state needs a JSON body or an X-Squall-Sink header, and no foreign Origin",
            ),
        };
        let mut r = (status, axum::Json(serde_json::json!({ "error": text }))).into_response();
        if *self == Self::Password {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"squall sink\", charset=\"UTF-8\""),
            );
        }
        r
    }
}

impl Guard {
    fn check(&self, method: &Method, headers: &HeaderMap) -> Result<(), Refusal> {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if self.loopback && !is_loopback_name(host) {
            return Err(Refusal::Host);
        }
        if let Some(pw) = &self.password
            && !password_matches(headers, pw)
        {
            return Err(Refusal::Password);
        }
        if !matches!(*method, Method::GET | Method::HEAD) {
            let json = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| {
                    v.trim_start()
                        .to_ascii_lowercase()
                        .starts_with("application/json")
                });
            let marked = headers.contains_key(CSRF_HEADER);
            let foreign = headers
                .get(header::ORIGIN)
                .and_then(|o| o.to_str().ok())
                .is_some_and(|o| origin_host(o) != Some(host));
            if !(json || marked) || foreign {
                return Err(Refusal::Csrf);
            }
        }
        Ok(())
    }
}

/// Refuses what the guard refuses, and adds the headers every response needs.
pub(crate) async fn guard(State(g): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    if let Err(refusal) = g.check(req.method(), req.headers()) {
        return refusal.response();
    }
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    // Handlers that may be framed (the HTML of a message) set their own policy.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    r
}

/// `localhost`, `*.localhost`, `127.x.y.z` or `[::1]`, with or without a port.
fn is_loopback_name(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((ip, _port)) => return ip == "::1",
            None => return false,
        },
        None => host.rsplit_once(':').map_or(host, |(n, _)| n),
    };
    let name = name.to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The `host[:port]` of an Origin header (`http://host:port`).
fn origin_host(origin: &str) -> Option<&str> {
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
}

/// HTTP Basic with any user name and this password, or `Bearer <password>`; compared in
/// time that does not depend on where the first difference is.
fn password_matches(headers: &HeaderMap, password: &str) -> bool {
    let Some(v) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let given = if let Some(b) = v.strip_prefix("Basic ") {
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b.trim()) else {
            return false;
        };
        let Ok(text) = String::from_utf8(raw) else {
            return false;
        };
        match text.split_once(':') {
            Some((_, p)) => p.to_string(),
            None => return false,
        }
    } else if let Some(t) = v.strip_prefix("Bearer ") {
        t.trim().to_string()
    } else {
        return false;
    };
    let (a, b) = (given.as_bytes(), password.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn loopback_names() {
        for ok in [
            "localhost",
            "localhost:8025",
            "127.0.0.1:8025",
            "127.3.4.5",
            "[::1]:8025",
            "app.localhost",
        ] {
            assert!(is_loopback_name(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example:8025",
            "10.0.0.1",
            "[::2]:80",
            "localhost.evil.example",
            "[::1",
        ] {
            assert!(!is_loopback_name(bad), "{bad}");
        }
    }

    #[test]
    fn rules() {
        let g = Guard {
            loopback: true,
            password: None,
        };
        let get = Method::GET;
        let del = Method::DELETE;
        assert_eq!(g.check(&get, &headers(&[("host", "localhost:1")])), Ok(()));
        assert_eq!(
            g.check(&get, &headers(&[("host", "rebound.example:1")])),
            Err(Refusal::Host)
        );
        assert_eq!(
            g.check(&del, &headers(&[("host", "localhost:1")])),
            Err(Refusal::Csrf)
        );
        let marked = [("host", "localhost:1"), ("x-squall-sink", "1")];
        assert_eq!(g.check(&del, &headers(&marked)), Ok(()));
        let json = [("host", "localhost:1"), ("content-type", "application/json")];
        assert_eq!(g.check(&Method::POST, &headers(&json)), Ok(()));
        let foreign = [
            ("host", "localhost:1"),
            ("x-squall-sink", "1"),
            ("origin", "http://evil.example"),
        ];
        assert_eq!(g.check(&del, &headers(&foreign)), Err(Refusal::Csrf));
        let same = [
            ("host", "localhost:1"),
            ("x-squall-sink", "1"),
            ("origin", "http://localhost:1"),
        ];
        assert_eq!(g.check(&del, &headers(&same)), Ok(()));
    }

    #[test]
    fn password() {
        let g = Guard {
            loopback: false,
            password: Some("s3cret".into()),
        };
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("any:s3cret")
        );
        assert_eq!(
            g.check(
                &Method::GET,
                &headers(&[("host", "mail.lan"), ("authorization", &basic)])
            ),
            Ok(())
        );
        assert_eq!(
            g.check(
                &Method::GET,
                &headers(&[("host", "mail.lan"), ("authorization", "Bearer s3cret")])
            ),
            Ok(())
        );
        for bad in ["Bearer s3cre", "Bearer s3cret2", "Basic !!", "Digest x"] {
            assert_eq!(
                g.check(
                    &Method::GET,
                    &headers(&[("host", "mail.lan"), ("authorization", bad)])
                ),
                Err(Refusal::Password),
                "{bad}"
            );
        }
        assert_eq!(
            g.check(&Method::GET, &headers(&[("host", "mail.lan")])),
            Err(Refusal::Password)
        );
    }
}
