//! Setting up a connection, in one readable path: resolve and connect (TCP, or a Unix-domain
//! socket for LMTP), implicit TLS when configured, then a session for it with this connection's
//! EHLO name and credentials.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use squall_proto::address::EhloName;
use squall_proto::auth::Credentials;
use squall_proto::session::{ClientSession, ErrorKind, Stage, Tls};
use tokio::time::timeout;

use crate::config::Config;
use crate::driver::Link;
use crate::error::{Error, What, tls_kind};
use crate::resolve::{self, ConnectError};
use crate::transport::{Stream, Transport};

/// Connects to the configured server; `connected` is called once TCP is up. The session that
/// comes with it waits for the greeting.
pub(crate) async fn open(
    config: &Config,
    connected: impl FnOnce(),
) -> Result<(Transport<Stream>, ClientSession, Link), Error> {
    let server = config.server();
    let fail = |kind, stage, what| Err(Error::new(kind, stage, what).with_server(&server));
    if let Some(path) = &config.socket {
        let reached = timeout(config.connect_timeout, connect_socket(path)).await;
        let stream = match reached {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return fail(socket_kind(&e), Stage::Connect, What::Io(Arc::new(e))),
            Err(_) => {
                let e = io::Error::new(io::ErrorKind::TimedOut, "the socket did not accept in time");
                return fail(ErrorKind::Transient, Stage::Connect, What::Io(Arc::new(e)));
            }
        };
        connected();
        let link = Link {
            server: server.clone(),
            ..Link::default()
        };
        // No address to name this end: the loopback literal stands for "this machine".
        let session = session_config(config, [127, 0, 0, 1].into(), &server).await?;
        return Ok((Transport::Plain(stream), session, link));
    }
    if let Some(proxy) = &config.proxy {
        let through = crate::proxy::connect(
            proxy,
            &*config.resolver,
            &config.host,
            config.port,
            config.connect_timeout,
        )
        .await;
        match through {
            Ok(tcp) => return finish(config, tcp, connected, &server).await,
            Err(failure) => {
                let kind = if failure.is_transient() {
                    ErrorKind::Transient
                } else {
                    ErrorKind::Permanent
                };
                let proxy = proxy.to_string();
                return fail(kind, Stage::Connect, What::Proxy { proxy, failure });
            }
        }
    }
    let reached = resolve::connect(
        &*config.resolver,
        &config.host,
        config.port,
        config.connect_timeout,
    )
    .await;
    let tcp = match reached {
        Ok(tcp) => tcp,
        Err(ConnectError::Lookup(e)) => {
            let kind = if e.kind() == io::ErrorKind::NotFound {
                ErrorKind::Permanent
            } else {
                ErrorKind::Transient
            };
            return fail(kind, Stage::Connect, What::Lookup(Arc::new(e)));
        }
        Err(ConnectError::NoAddress) => {
            let e = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
            return fail(ErrorKind::Permanent, Stage::Connect, What::Lookup(Arc::new(e)));
        }
        Err(ConnectError::Failed(tried)) => {
            let tried = tried.into_iter().map(|(a, e)| (a, Arc::new(e))).collect();
            return fail(ErrorKind::Transient, Stage::Connect, What::Connect(tried));
        }
    };
    finish(config, tcp, connected, &server).await
}

/// A TCP connection is up (directly or through the proxy): implicit TLS when configured, then
/// the session.
async fn finish(
    config: &Config,
    tcp: tokio::net::TcpStream,
    connected: impl FnOnce(),
    server: &str,
) -> Result<(Transport<Stream>, ClientSession, Link), Error> {
    let fail = |kind, stage, what| Err(Error::new(kind, stage, what).with_server(server));
    connected();
    let _ = tcp.set_nodelay(true);
    let local = tcp.local_addr().map(|a| a.ip()).unwrap_or([127, 0, 0, 1].into());
    let mut link = Link {
        server: server.to_string(),
        ..Link::default()
    };
    let tcp = Stream::Tcp(tcp);
    let mut binding = None;
    let io = match (&config.tls, config.session.get_tls()) {
        (Some(setup), Tls::Implicit) => {
            let wait = config.session.get_timeouts().tls_handshake;
            match timeout(wait, setup.handshake(tcp, false)).await {
                Ok(Ok((tls, info))) => {
                    link.tls = Some(info);
                    binding = crate::tls::channel_binding(&tls);
                    Transport::Tls(Box::new(tls))
                }
                Ok(Err(e)) => return fail(tls_kind(&e), Stage::Tls, What::Tls(Arc::new(e))),
                Err(_) => {
                    return fail(
                        ErrorKind::Transient,
                        Stage::Tls,
                        What::Session(squall_proto::session::Cause::Timeout),
                    );
                }
            }
        }
        _ => Transport::Plain(tcp),
    };
    let mut session = session_config(config, local, server).await?;
    if let Some(b) = binding {
        session.set_channel_binding(b);
    }
    Ok((io, session, link))
}

/// The session for a new connection: the template with this connection's EHLO name (the local
/// address literal unless one is configured) and, with a token source, fresh credentials.
async fn session_config(
    config: &Config,
    local: std::net::IpAddr,
    server: &str,
) -> Result<ClientSession, Error> {
    let mut session = config
        .session
        .clone()
        .ehlo_name(config.ehlo.clone().unwrap_or_else(|| EhloName::from_ip(local)));
    if crate::trace::wants_dialog() {
        session = session.transcript(true);
    }
    if session.has_credentials()
        && let Some(nonce) = crate::tls::scram_nonce()
    {
        session = session.scram_nonce(nonce);
    }
    if let Some((user, source)) = &config.token_source {
        match source()
            .await
            .and_then(|t| Credentials::oauth2(user, t).map_err(|e| e.to_string()))
        {
            Ok(c) => session = session.credentials(c),
            Err(why) => {
                return Err(
                    Error::new(ErrorKind::Transient, Stage::Auth, What::Token(why)).with_server(server)
                );
            }
        }
    }
    Ok(ClientSession::new(session, Instant::now()))
}

#[cfg(unix)]
async fn connect_socket(path: &std::path::Path) -> io::Result<Stream> {
    tokio::net::UnixStream::connect(path).await.map(Stream::Unix)
}

#[cfg(not(unix))]
async fn connect_socket(_: &std::path::Path) -> io::Result<Stream> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "Unix-domain sockets need a Unix system",
    ))
}

/// A socket that is not there (or not ours to open) stays that way: permanent. A refused
/// connection (the server is restarting) may come back.
fn socket_kind(e: &io::Error) -> ErrorKind {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied | io::ErrorKind::Unsupported => {
            ErrorKind::Permanent
        }
        _ => ErrorKind::Transient,
    }
}
