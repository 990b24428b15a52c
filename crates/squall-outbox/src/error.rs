//! [`OutboxError`]: what went wrong with the queue itself (not with a delivery: those are
//! recorded per recipient and reported as [`Event`](crate::Event)s).

use std::path::PathBuf;
use std::sync::Arc;

use thiserror::Error;

/// A failure of the outbox: opening it, writing to it, reading it.
///
/// Each message says what happened, whether trying again can help, and what to do. Cheap to
/// clone: one commit failure is reported to every caller whose request shared it.
#[derive(Clone, Debug, Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// The URL names no backend this build has.
    #[error(
        "unsupported outbox URL {url:?}: use sqlite:PATH or postgres://USER@HOST:PORT/DATABASE; fix the URL"
    )]
    UnsupportedUrl {
        /// The URL as given (a password replaced by `***`).
        url: String,
    },
    /// The URL names a backend, but a part of it cannot be used as written.
    #[error("outbox URL {url:?}: {problem}; fix the URL")]
    InvalidUrl {
        /// The URL as given (a password replaced by `***`).
        url: String,
        /// What is wrong, and how to write it.
        problem: String,
    },
    /// TLS to the PostgreSQL server could not be set up as the URL's `sslmode` asks: the
    /// certificate was refused, or the server does not offer TLS. Retrying will not help.
    #[error("TLS to the outbox's PostgreSQL at {server} failed: {problem}")]
    Tls {
        /// Host, port and database (never the password).
        server: String,
        /// What went wrong, and what to do.
        problem: TlsProblem,
    },
    /// The PostgreSQL server cannot be reached (refused, timed out, or the connection was lost).
    #[error(
        "cannot reach the outbox's PostgreSQL at {server}: {detail}; check that the server runs and \
         accepts connections from here; trying again may help"
    )]
    Unreachable {
        /// Host, port and database (never the password).
        server: String,
        /// What the connection attempt or the lost connection said.
        detail: String,
        /// Why.
        #[source]
        source: Arc<tokio_postgres::Error>,
    },
    /// PostgreSQL refused or failed a request.
    #[error("outbox PostgreSQL error at {server}: {detail}; the request was not applied. {advice}")]
    Postgres {
        /// Host, port and database (never the password).
        server: String,
        /// The server's message and SQL state (or the client's error).
        detail: String,
        /// The error.
        #[source]
        source: Arc<tokio_postgres::Error>,
        /// Whether the same request may succeed later (a lost connection, a deadlock, a server
        /// shutting down), as opposed to a refusal (permissions, a broken schema).
        transient: bool,
        /// What to do.
        advice: &'static str,
    },
    /// The database file cannot be opened or created.
    #[error(
        "cannot open the outbox database {path}: {source}; check that the directory exists and is writable, then try again"
    )]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Arc<rusqlite::Error>,
    },
    /// The file is not an outbox (another program's database, or not SQLite at all).
    #[error(
        "{location} is not a squall outbox ({why}); nothing was changed. Point --queue-url at another \
         file or database, or move this one away"
    )]
    Foreign {
        /// The file, or the PostgreSQL database (host, port, name; never the password).
        location: String,
        /// What gave it away.
        why: String,
    },
    /// The database was written by a newer squall, whose schema this version does not know.
    #[error(
        "{location} has outbox schema version {found}, newer than this squall's {supported}; upgrade squall (retrying will not help)"
    )]
    TooNew {
        /// The file, or the PostgreSQL database (host, port, name; never the password).
        location: String,
        /// The version in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The database is locked by another process for longer than the busy timeout.
    #[error("the outbox database is busy (locked by another process); try again in a moment")]
    Busy,
    /// The disk (or the file system's quota) is full: nothing of the request was kept.
    #[error("the disk holding the outbox is full ({source}); nothing was queued. Free space and try again")]
    DiskFull {
        /// The error that said so.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// Another database error.
    #[error(
        "outbox database error: {source}; the request was not applied. Try again; if it persists, check the file ({hint})"
    )]
    Database {
        /// The error.
        #[source]
        source: Arc<rusqlite::Error>,
        /// Where to look.
        hint: &'static str,
    },
    /// A body file in the spool directory could not be written or read.
    #[error("outbox spool file {path}: {source}; check the directory's permissions and free space")]
    Spool {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The caller gave something that cannot be queued (no recipient, an invalid address).
    #[error("cannot queue this message: {0}; fix it and queue again")]
    Input(String),
    /// No message has that id.
    #[error("no queued message has id {0}; `squall queue list` shows the ids")]
    NotFound(i64),
    /// The request does not apply to the message in its present state.
    #[error("message {id} is {state}: {why}")]
    WrongState {
        /// The message.
        id: i64,
        /// Its state.
        state: String,
        /// Why that state does not allow the request.
        why: &'static str,
    },
    /// The outbox was closed (its database thread ended).
    #[error("the outbox is closed; open it again")]
    Closed,
}

/// Why TLS to PostgreSQL failed; each says what to change.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TlsProblem {
    /// The server answered that it does not do TLS, and the `sslmode` requires TLS.
    #[error(
        "the server does not offer TLS, and sslmode={mode} requires it; turn on ssl in the server's \
         postgresql.conf, or, only on a network you trust, put sslmode=disable in the URL (over a \
         Unix socket PostgreSQL has no TLS: use sslmode=disable there)"
    )]
    NotOffered {
        /// The sslmode of the URL (or the default).
        mode: String,
    },
    /// The server's certificate was not issued by a CA this client trusts.
    #[error("{}", untrusted(.detail, .rootcert.as_deref()))]
    Untrusted {
        /// What the verifier said.
        detail: String,
        /// The `sslrootcert` file, when one was given.
        rootcert: Option<String>,
    },
    /// The certificate is valid, but not for the host name connected to.
    #[error(
        "the server's certificate is not valid for the name {name:?} (it names {presented:?}); connect \
         with a host name the certificate holds, or have the certificate issued for this one"
    )]
    WrongName {
        /// The host in the URL.
        name: String,
        /// The names the certificate holds.
        presented: Vec<String>,
    },
    /// The `sslrootcert` file cannot be used.
    #[error("cannot use the sslrootcert file {path:?}: {why}; give a PEM file of CA certificates")]
    RootCert {
        /// The file.
        path: String,
        /// Why.
        why: String,
    },
    /// No CA is trusted: squall was built without root certificates and no `sslrootcert` was
    /// given.
    #[error(
        "no CA is trusted: add sslrootcert=PATH (the PEM file of the CA that signed the server's \
         certificate), or build squall with the webpki-roots or native-roots feature"
    )]
    NoRoots,
    /// Another TLS failure (an expired certificate, no common protocol version).
    #[error("{detail}; check the server's certificate and TLS settings")]
    Handshake {
        /// What failed.
        detail: String,
    },
}

fn untrusted(detail: &str, rootcert: Option<&str>) -> String {
    match rootcert {
        Some(path) => format!(
            "the server's certificate was not issued by the CA in sslrootcert={path} ({detail}); \
             check that this file holds the CA that signed the server's certificate"
        ),
        None => format!(
            "the server's certificate was not issued by a trusted CA ({detail}); add \
             sslrootcert=PATH to the URL, naming the PEM file of the CA that signed it"
        ),
    }
}

impl OutboxError {
    /// Whether trying the same request again later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Busy
                | Self::DiskFull { .. }
                | Self::Database { .. }
                | Self::Open { .. }
                | Self::Spool { .. }
                | Self::Unreachable { .. }
                | Self::Postgres { transient: true, .. }
        )
    }

    /// A database error, classified: full disk and busy get their own variants.
    pub(crate) fn db(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        match e.sqlite_error_code() {
            Some(C::DatabaseBusy | C::DatabaseLocked) => Self::Busy,
            Some(C::DiskFull) => Self::DiskFull {
                source: Arc::new(std::io::Error::other(e.to_string())),
            },
            Some(C::NotADatabase) => Self::Database {
                source: Arc::new(e),
                hint: "it is not a SQLite database",
            },
            Some(C::DatabaseCorrupt) => Self::Database {
                source: Arc::new(e),
                hint: "the file is corrupt: restore it from a backup or move it away",
            },
            _ => Self::Database {
                source: Arc::new(e),
                hint: "permissions, free space, and that no other program rewrites it",
            },
        }
    }

    /// A spool file error, with a full disk named as such.
    pub(crate) fn spool(path: impl Into<PathBuf>, e: std::io::Error) -> Self {
        if e.raw_os_error() == Some(28) || e.kind() == std::io::ErrorKind::StorageFull {
            return Self::DiskFull { source: Arc::new(e) };
        }
        Self::Spool {
            path: path.into(),
            source: Arc::new(e),
        }
    }
}

impl From<rusqlite::Error> for OutboxError {
    fn from(e: rusqlite::Error) -> Self {
        Self::db(e)
    }
}
