//! LMTP (RFC 2033) on the builder: the protocol switch, and Unix-domain sockets, where mailbox
//! servers such as Dovecot and Cyrus usually listen for it.

use std::path::{Path, PathBuf};

use squall_proto::session::{Protocol, Tls};

use super::ClientBuilder;
use crate::error::Error;

/// LMTP's port when none is given. RFC 2033 names none (it forbids 25); 24 is the one IANA
/// lists for "any private mail system" and the one LMTP servers are commonly set up on.
pub(super) const PORT: u16 = 24;

impl ClientBuilder {
    /// Speak LMTP (RFC 2033) instead of SMTP: `LHLO`, and one verdict per recipient after the
    /// content, which the [`Receipt`](crate::Receipt) reports like refused recipients in SMTP
    /// (a mailbox over quota refuses while the others take the message). For the last hop into
    /// a mailbox server (Dovecot, Cyrus); without a port, 24 is used.
    pub fn lmtp(self) -> Self {
        self.session(|s| s.protocol(Protocol::Lmtp))
    }

    /// Connect to this Unix-domain socket instead of the host and port (the host then only
    /// names the server in messages). TLS is off there unless set otherwise, and any mode but
    /// [`Tls::None`] is refused: the socket is local, and there is no name to verify.
    pub fn unix_socket(mut self, path: impl Into<PathBuf>) -> Self {
        self.socket = Some(path.into());
        self
    }
}

/// The TLS mode for the connection: over a Unix socket `None`, and an explicit other mode is a
/// contradiction.
pub(super) fn check_socket(socket: Option<&Path>, asked: Option<Tls>, resolved: Tls) -> Result<Tls, Error> {
    match (socket, asked) {
        (None, _) => Ok(resolved),
        (Some(_), None | Some(Tls::None)) => Ok(Tls::None),
        (Some(path), Some(t)) => Err(Error::input(format!(
            "TLS ({t:?}) was asked for over the Unix socket {}: a local socket has no TLS; \
             leave the TLS mode unset",
            path.display()
        ))),
    }
}
