//! Reaching the server through a SOCKS5 proxy (RFC 1928; user name and password, RFC 1929).
//!
//! `socks5://[user:password@]host[:port]` resolves the server's name here and hands the proxy an
//! address; `socks5h://` hands it the name (the proxy resolves it: the choice when only the proxy
//! can see the destination's DNS, as with Tor). The handshake itself is the core's
//! [`Socks5Client`]; this module moves its bytes, reading exactly what it asks for so nothing of
//! the server's greeting is read early.

use std::fmt;
use std::io;
use std::time::Duration;

use squall_proto::auth::Secret;
use squall_proto::socks5::{Destination, Socks5Client, Socks5Error, Step};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::resolve::{self, ConnectError, Resolve};

/// SOCKS5's registered port (RFC 1928 §3).
const DEFAULT_PORT: u16 = 1080;

/// A SOCKS5 proxy. `Debug` and `Display` never show the password.
#[derive(Clone)]
pub(crate) struct Proxy {
    host: String,
    port: u16,
    /// `socks5h`: the proxy resolves the server's name.
    remote_dns: bool,
    credentials: Option<(String, Secret)>,
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.remote_dns { "socks5h" } else { "socks5" };
        let user = match &self.credentials {
            Some((u, _)) => format!("{u}:***@"),
            None => String::new(),
        };
        if self.host.contains(':') {
            write!(f, "{scheme}://{user}[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{user}{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Proxy({self})")
    }
}

impl Proxy {
    /// Parses a `socks5://` or `socks5h://` URL. The error never repeats the password.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("invalid proxy URL {}: {why}", crate::url::redact(url));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected socks5://host:port"))?;
        let remote_dns = match scheme.to_ascii_lowercase().as_str() {
            "socks5" => false,
            "socks5h" => true,
            _ => {
                return Err(bad(
                    "the scheme must be socks5 (resolve here) or socks5h (the proxy resolves)",
                ));
            }
        };
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((info, hp)) => (Some(info), hp),
            None => (None, rest),
        };
        let (host, port) = crate::url::split_host_port(hostport.trim_end_matches('/'))
            .filter(|(h, _)| !h.is_empty())
            .ok_or_else(|| bad("the host or port is malformed"))?;
        let credentials = match userinfo {
            None => None,
            Some(info) => {
                let (user, pass) = info
                    .split_once(':')
                    .ok_or_else(|| bad("a proxy user needs a password (user:password@host)"))?;
                let decode =
                    |s: &str| crate::url::percent_decode(s).ok_or_else(|| bad("bad percent-encoding"));
                Some((decode(user)?, Secret::new(decode(pass)?)))
            }
        };
        Ok(Self {
            host,
            port: port.unwrap_or(DEFAULT_PORT),
            remote_dns,
            credentials,
        })
    }
}

/// Why the server could not be reached through the proxy.
#[derive(Clone, Debug)]
pub(crate) enum ProxyFailure {
    /// The proxy itself could not be reached.
    Reach(String),
    /// The server's name could not be resolved here (`socks5://`).
    Lookup(String),
    /// The proxy refused or failed the handshake.
    Handshake(Socks5Error),
    /// The connection to the proxy broke during the handshake.
    Io(String),
    /// The handshake did not finish in time.
    Timeout,
}

impl ProxyFailure {
    /// Whether trying again later may help.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Self::Handshake(e) => e.is_transient(),
            Self::Reach(_) | Self::Lookup(_) | Self::Io(_) | Self::Timeout => true,
        }
    }

    /// What to do about it.
    pub(crate) fn hint(&self) -> &'static str {
        use squall_proto::socks5::ReplyCode;
        match self {
            Self::Reach(_) => "check the proxy's host and port, and that it runs",
            Self::Lookup(_) => "check the server's name, or let the proxy resolve it (socks5h://)",
            Self::Handshake(Socks5Error::AuthFailed(_)) => "check the proxy user name and password",
            Self::Handshake(Socks5Error::NoAcceptableMethod {
                offered_password: false,
            }) => "give the proxy a user name and password (socks5://user:password@host)",
            Self::Handshake(Socks5Error::Refused(ReplyCode::NotAllowed)) => {
                "the proxy's rules do not allow this destination; ask its administrator"
            }
            Self::Handshake(Socks5Error::Refused(_)) => {
                "the proxy could not reach the server; check the server's host and port"
            }
            Self::Handshake(_) => "check that this is a SOCKS5 proxy",
            Self::Io(_) | Self::Timeout => "the proxy or the network is failing; try again later",
        }
    }
}

impl fmt::Display for ProxyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Reach(why) => write!(f, "could not connect to the proxy: {why}"),
            Self::Lookup(why) => write!(f, "could not look up the server's name: {why}"),
            Self::Handshake(e) => e.fmt(f),
            Self::Io(why) => write!(f, "the connection to the proxy broke: {why}"),
            Self::Timeout => f.write_str("the proxy did not answer in time"),
        }
    }
}

/// Connects to `host:port` through `proxy`; `limit` bounds each connection and each handshake.
pub(crate) async fn connect(
    proxy: &Proxy,
    resolver: &dyn Resolve,
    host: &str,
    port: u16,
    limit: Duration,
) -> Result<TcpStream, ProxyFailure> {
    let destinations = if proxy.remote_dns {
        vec![Destination::name(host).map_err(ProxyFailure::Handshake)?]
    } else if let Ok(ip) = host.parse() {
        vec![Destination::Ip(ip)]
    } else {
        let addrs = resolver
            .resolve(host, port)
            .await
            .map_err(|e| ProxyFailure::Lookup(e.to_string()))?;
        if addrs.is_empty() {
            return Err(ProxyFailure::Lookup("the name has no address".into()));
        }
        addrs.into_iter().map(|a| Destination::Ip(a.ip())).collect()
    };
    // Each address of the server through its own proxy connection, until one works.
    let mut last = ProxyFailure::Lookup("no address".into());
    for destination in destinations {
        let stream = match resolve::connect(resolver, &proxy.host, proxy.port, limit).await {
            Ok(s) => s,
            Err(ConnectError::Lookup(e)) => return Err(ProxyFailure::Reach(e.to_string())),
            Err(ConnectError::NoAddress) => {
                return Err(ProxyFailure::Reach("the proxy's name has no address".into()));
            }
            Err(ConnectError::Failed(tried)) => {
                let tried: Vec<_> = tried
                    .into_iter()
                    .map(|(a, e)| (a, std::sync::Arc::new(e)))
                    .collect();
                return Err(ProxyFailure::Reach(resolve::Tried(&tried).to_string()));
            }
        };
        let client = Socks5Client::new(destination, port, proxy.credentials.clone())
            .map_err(ProxyFailure::Handshake)?;
        match timeout(limit, handshake(stream, client)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e @ ProxyFailure::Handshake(Socks5Error::Refused(_)))) => last = e,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(ProxyFailure::Timeout),
        }
    }
    Err(last)
}

/// Runs the handshake over `stream`: writes what the core gives, reads exactly what it wants.
async fn handshake(mut stream: TcpStream, mut client: Socks5Client) -> Result<TcpStream, ProxyFailure> {
    let io = |e: io::Error| ProxyFailure::Io(e.to_string());
    let mut out = Vec::new();
    let mut buf = [0u8; 257];
    // At most: method, login, reply head, name length, reply tail.
    for _ in 0..8 {
        if client.poll_transmit(&mut out) {
            stream.write_all(&out).await.map_err(io)?;
            out.clear();
        }
        let n = client.wants();
        let read = buf
            .get_mut(..n)
            .ok_or(ProxyFailure::Io("an oversized read".into()))?;
        stream.read_exact(read).await.map_err(io)?;
        match client.handle_input(read).map_err(ProxyFailure::Handshake)? {
            Step::Continue => {}
            Step::Connected => return Ok(stream),
        }
    }
    Err(ProxyFailure::Io("the handshake did not end".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_redaction() {
        let p = Proxy::parse("socks5h://joe:s%40cret@proxy.example:9050").unwrap();
        assert_eq!(p.to_string(), "socks5h://joe:***@proxy.example:9050");
        assert!(!format!("{p:?}").contains("cret"));
        assert_eq!(p.credentials.as_ref().unwrap().1.expose(), "s@cret");
        let p = Proxy::parse("socks5://[::1]").unwrap();
        assert_eq!((p.port, p.remote_dns), (1080, false));
        assert_eq!(p.to_string(), "socks5://[::1]:1080");
        for bad in [
            "http://x",
            "socks5://",
            "socks5://joe@x",
            "socks5://joe:SECRET@x:99999",
            "x",
        ] {
            let e = Proxy::parse(bad).unwrap_err();
            assert!(!e.contains("SECRET"), "{e}");
        }
    }
}
