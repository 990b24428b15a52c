//! Finding and reaching the server: name lookup through a [`Resolve`]r (the system's by
//! default), then Happy Eyeballs (RFC 8305): every address tried, IPv6 and IPv4 interleaved with
//! IPv6 first, a new attempt every 250 ms while earlier ones are still pending, each with its own
//! timeout, the first to connect winning. A dead first address costs a quarter of a second, not
//! the whole connect timeout.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout};

/// RFC 8305 §5: the "Connection Attempt Delay" recommended default.
const STAGGER: Duration = Duration::from_millis(250);

/// The future a [`Resolve`]r returns.
pub type Resolving<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>>;

/// Finds the addresses of a host name. The default asks the system (`getaddrinfo`: the hosts
/// file, then DNS); set another with [`ClientBuilder::resolver`](crate::ClientBuilder::resolver)
/// (split-horizon networks, tests).
///
/// Return [`io::ErrorKind::NotFound`] for a name that does not exist, so that squall can tell
/// it from a lookup that may work later.
pub trait Resolve: Send + Sync + 'static {
    /// The addresses of `host`, with `port` in them.
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Resolving<'a>;
}

/// The system resolver.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct System;

impl Resolve for System {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Resolving<'a> {
        Box::pin(async move {
            match tokio::net::lookup_host((host, port)).await {
                Ok(addrs) => Ok(addrs.collect()),
                Err(e) => Err(classify(e)),
            }
        })
    }
}

/// getaddrinfo's "no such name" comes back as an uncategorised error with glibc's words; give it
/// the kind callers can act on.
fn classify(e: io::Error) -> io::Error {
    let text = e.to_string();
    let missing = [
        "Name or service not known",
        "No address associated with hostname",
        "nodename nor servname",
    ];
    if missing.iter().any(|m| text.contains(m)) {
        io::Error::new(io::ErrorKind::NotFound, text)
    } else {
        e
    }
}

/// Fixed addresses instead of a lookup (see
/// [`ClientBuilder::resolve_to`](crate::ClientBuilder::resolve_to)).
#[derive(Clone, Debug)]
pub(crate) struct Fixed(pub(crate) Vec<SocketAddr>);

impl Resolve for Fixed {
    fn resolve<'a>(&'a self, _host: &'a str, _port: u16) -> Resolving<'a> {
        let addrs = self.0.clone();
        Box::pin(async move { Ok(addrs) })
    }
}

/// Why no connection could be made.
#[derive(Debug)]
pub(crate) enum ConnectError {
    /// The name lookup failed.
    Lookup(io::Error),
    /// The name has no address.
    NoAddress,
    /// Every address failed, in the order tried.
    Failed(Vec<(SocketAddr, io::Error)>),
}

/// One address's failure, for messages: `127.0.0.2:25: timed out after 5s`.
pub(crate) struct Tried<'a>(pub(crate) &'a [(SocketAddr, Arc<io::Error>)]);

impl fmt::Display for Tried<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (addr, e)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{addr}: {e}")?;
        }
        Ok(())
    }
}

/// Resolves `host` and races connections to its addresses; each attempt has `per_attempt`.
pub(crate) async fn connect(
    resolver: &dyn Resolve,
    host: &str,
    port: u16,
    per_attempt: Duration,
) -> Result<TcpStream, ConnectError> {
    let addrs = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => resolver.resolve(host, port).await.map_err(ConnectError::Lookup)?,
    };
    if addrs.is_empty() {
        return Err(ConnectError::NoAddress);
    }
    race(interleave(addrs), per_attempt)
        .await
        .map_err(ConnectError::Failed)
}

/// IPv6 first, then the families alternating (RFC 8305 §4).
fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let (v6, v4): (Vec<_>, Vec<_>) = addrs.into_iter().partition(SocketAddr::is_ipv6);
    let mut out = Vec::with_capacity(v6.len() + v4.len());
    let (mut a, mut b) = (v6.into_iter(), v4.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
}

/// Starts an attempt now and another every [`STAGGER`] (or as soon as one fails) until one
/// connects; the others are dropped.
async fn race(
    addrs: Vec<SocketAddr>,
    per_attempt: Duration,
) -> Result<TcpStream, Vec<(SocketAddr, io::Error)>> {
    let mut attempts = JoinSet::new();
    let mut queue = addrs.into_iter();
    let mut failures = Vec::new();
    let start = |attempts: &mut JoinSet<_>, addr: SocketAddr| {
        attempts.spawn(async move {
            let outcome = match timeout(per_attempt, TcpStream::connect(addr)).await {
                Ok(r) => r,
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no answer within {per_attempt:?}"),
                )),
            };
            (addr, outcome)
        });
    };
    if let Some(first) = queue.next() {
        start(&mut attempts, first);
    }
    loop {
        let more = queue.len() > 0;
        tokio::select! {
            done = attempts.join_next(), if !attempts.is_empty() => match done {
                Some(Ok((_, Ok(stream)))) => return Ok(stream),
                Some(Ok((addr, Err(e)))) => {
                    failures.push((addr, e));
                    if let Some(next) = queue.next() {
                        start(&mut attempts, next);
                    }
                }
                Some(Err(join)) => failures.push((
                    SocketAddr::from(([0, 0, 0, 0], 0)),
                    io::Error::other(format!("a connection attempt failed inside squall: {join}")),
                )),
                None => {}
            },
            () = sleep(STAGGER), if more => {
                if let Some(next) = queue.next() {
                    start(&mut attempts, next);
                }
            }
            else => return Err(failures),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_first_then_alternating() {
        let a: Vec<SocketAddr> = ["1.1.1.1:25", "[::1]:25", "2.2.2.2:25", "3.3.3.3:25", "[::2]:25"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let order: Vec<String> = interleave(a).iter().map(ToString::to_string).collect();
        assert_eq!(
            order,
            ["[::1]:25", "1.1.1.1:25", "[::2]:25", "2.2.2.2:25", "3.3.3.3:25"]
        );
    }

    #[test]
    fn unknown_names_get_the_not_found_kind() {
        let e = io::Error::other("failed to lookup address information: Name or service not known");
        assert_eq!(classify(e).kind(), io::ErrorKind::NotFound);
        let e =
            io::Error::other("failed to lookup address information: Temporary failure in name resolution");
        assert_ne!(classify(e).kind(), io::ErrorKind::NotFound);
    }
}
