//! PostgreSQL errors as [`OutboxError`]s: which ones may pass (a lost connection, a server
//! shutting down or restarting, a deadlock) and which will not (permissions, a broken schema).

use std::sync::Arc;

use tokio_postgres::error::SqlState;

use crate::error::OutboxError;

/// A failed connection attempt: the server named, the attempt transient.
pub(crate) fn connect_error(server: &str, e: tokio_postgres::Error) -> OutboxError {
    match e.code() {
        // The server answered and refused (no such database, role, or authentication failed):
        // retrying the same settings will not help.
        Some(code) if !transient_code(code) => OutboxError::Postgres {
            server: server.to_string(),
            detail: detail(&e),
            source: Arc::new(e),
            transient: false,
            advice: "Check the user, password and database name in the URL",
        },
        _ => OutboxError::Unreachable {
            server: server.to_string(),
            detail: detail(&e),
            source: Arc::new(e),
        },
    }
}

/// A failed request, classified.
pub(crate) fn pg_error(server: &str, e: tokio_postgres::Error) -> OutboxError {
    let Some(code) = e.code() else {
        // No SQL state: the connection was lost or broken (I/O), or a row did not convert.
        if e.is_closed() || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()) {
            return OutboxError::Unreachable {
                server: server.to_string(),
                detail: detail(&e),
                source: Arc::new(e),
            };
        }
        return OutboxError::Postgres {
            server: server.to_string(),
            detail: detail(&e),
            source: Arc::new(e),
            transient: false,
            advice: "The database holds something this squall does not expect; check its schema",
        };
    };
    if *code == SqlState::DISK_FULL {
        return OutboxError::DiskFull {
            source: Arc::new(std::io::Error::other(format!("PostgreSQL at {server}: {e}"))),
        };
    }
    let transient = transient_code(code);
    OutboxError::Postgres {
        server: server.to_string(),
        detail: detail(&e),
        source: Arc::new(e),
        transient,
        advice: if transient {
            "Try again; it may pass (the server was busy, restarting or lost the connection)"
        } else {
            "Retrying will not help: check the database's permissions and that only squall writes its tables"
        },
    }
}

/// What the error says, for people: the server's message and SQL state when the server
/// answered (tokio-postgres's own text is only "db error"), else the client's error.
fn detail(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQL state {})", db.message(), db.code().code()),
        None => {
            // tokio-postgres says "error connecting to server"; the why is in its sources.
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            for _ in 0..8 {
                let Some(s) = source else { break };
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        }
    }
}

/// SQL states that may pass: connection exceptions (08), a server shutting down or starting
/// (57P01-57P03), serialization failures and deadlocks (40), lack of resources (53), a lock
/// not available (55P03), a cancelled statement (57014).
fn transient_code(code: &SqlState) -> bool {
    let c = code.code();
    c.starts_with("08")
        || c.starts_with("40")
        || c.starts_with("53")
        || matches!(c, "57P01" | "57P02" | "57P03" | "55P03" | "57014")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_may_pass_is_told_from_what_will_not() {
        for code in [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::CONNECTION_FAILURE,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::LOCK_NOT_AVAILABLE,
        ] {
            assert!(transient_code(&code), "{code:?}");
        }
        for code in [
            SqlState::UNDEFINED_TABLE,
            SqlState::INSUFFICIENT_PRIVILEGE,
            SqlState::INVALID_PASSWORD,
            SqlState::UNDEFINED_DATABASE,
            SqlState::UNIQUE_VIOLATION,
        ] {
            assert!(!transient_code(&code), "{code:?}");
        }
    }
}
