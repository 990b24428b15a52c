//! Setting up a connection, in one readable path: resolve and connect (TCP), implicit TLS when
//! configured, then a session for it with this connection's EHLO name and credentials.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use squall_proto::address::EhloName;
use squall_proto::auth::Credentials;
use squall_proto::session::{ClientSession, ErrorKind, Stage, Tls};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::config::Config;
use crate::driver::Link;
use crate::error::{Error, What, tls_kind};
use crate::resolve::{self, ConnectError};
use crate::transport::Transport;

/// Connects to the configured server; `connected` is called once TCP is up. The session that
/// comes with it waits for the greeting.
pub(crate) async fn open(
    config: &Config,
    connected: impl FnOnce(),
) -> Result<(Transport<TcpStream>, ClientSession, Link), Error> {
    let server = config.server();
    let fail = |kind, stage, what| Err(Error::new(kind, stage, what).with_server(&server));
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
    connected();
    let _ = tcp.set_nodelay(true);
    let local = tcp.local_addr().map(|a| a.ip()).unwrap_or([127, 0, 0, 1].into());
    let mut link = Link {
        server: server.clone(),
        ..Link::default()
    };
    let io = match (&config.tls, config.session.get_tls()) {
        (Some(setup), Tls::Implicit) => {
            let wait = config.session.get_timeouts().tls_handshake;
            match timeout(wait, setup.handshake(tcp, false)).await {
                Ok(Ok((tls, info))) => {
                    link.tls = Some(info);
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
    let mut session = config
        .session
        .clone()
        .ehlo_name(config.ehlo.clone().unwrap_or_else(|| EhloName::from_ip(local)));
    if crate::trace::wants_dialog() {
        session = session.transcript(true);
    }
    if let Some((user, source)) = &config.token_source {
        match source()
            .await
            .and_then(|t| Credentials::oauth2(user, t).map_err(|e| e.to_string()))
        {
            Ok(c) => session = session.credentials(c),
            Err(why) => return fail(ErrorKind::Transient, Stage::Auth, What::Token(why)),
        }
    }
    Ok((io, ClientSession::new(session, Instant::now()), link))
}
