//! Which server `squall queue run` sends through: the one the user named, for everything, or
//! else for each message the account that queued it (its route).
//!
//! Mail queued through an account must leave through that account's relay and login (else it
//! fails SPF/DKIM or the relay refuses it); a server named on the command line is the user's
//! explicit override and takes everything.

use std::sync::{Arc, Mutex, PoisonError};

use squall::{Client, Error};

use crate::accounts::Accounts;
use crate::conn::{Choice, ConnArgs};
use crate::exit;

/// The clients of one run.
pub(super) enum Sender {
    /// --server, --url, --account or SQUALL_URL: everything through this client.
    One(Client),
    /// Each message through its route's account of the accounts file.
    ByAccount(Arc<AccountRouter>),
}

impl Sender {
    /// The user's server if they named one, else the accounts file's accounts; `Ok(None)`
    /// when there is neither (nothing could be sent).
    pub(super) fn choose(conn: ConnArgs, workers: usize) -> Result<Option<Self>, (u8, Error)> {
        if conn.names_server() {
            let Some(target) = conn.target()? else {
                return Ok(None);
            };
            let client = build(&conn, target.builder, workers)?;
            return Ok(Some(Self::One(client)));
        }
        let accounts =
            Accounts::load(conn.config()).map_err(|e| (exit::CONFIG, Error::from_input(e.to_string())))?;
        Ok(accounts.map(|accounts| {
            Self::ByAccount(Arc::new(AccountRouter {
                accounts,
                conn,
                workers,
                built: Mutex::new(Vec::new()),
            }))
        }))
    }

    /// Says goodbye (QUIT) on every connection the run opened.
    pub(super) async fn shutdown(self) {
        let clients = match self {
            Self::One(c) => vec![c],
            Self::ByAccount(r) => {
                std::mem::take(&mut *r.built.lock().unwrap_or_else(PoisonError::into_inner))
            }
        };
        for c in clients {
            c.shutdown().await;
        }
    }
}

/// The flags (`--tls`, `--timeout`, …) on top of `builder`, at most `workers` connections: the
/// way `send` builds its client.
fn build(conn: &ConnArgs, builder: squall::ClientBuilder, workers: usize) -> Result<Client, (u8, Error)> {
    conn.apply(builder)?
        .max_connections(workers)
        .build()
        .map_err(|e| (exit::CONFIG, e))
}

/// Builds the client of a route from the accounts file, as `send --account NAME` would.
pub(super) struct AccountRouter {
    accounts: Accounts,
    conn: ConnArgs,
    workers: usize,
    /// Every client built (one per account used in the run), to shut down after it.
    built: Mutex<Vec<Client>>,
}

impl AccountRouter {
    /// The client for messages queued through account `route` (`None`: queued without one,
    /// sent through the default account). An `Err` defers the message with that text, which
    /// `squall queue show` prints.
    pub(super) fn client(&self, route: Option<&str>) -> Result<Client, String> {
        let path = self.accounts.path.display();
        let account = match route {
            Some(name) => self.accounts.get(Some(name)).ok().flatten().ok_or_else(|| {
                format!(
                    "account {name} is not in the accounts file ({path}): add it back, or send \
                     with `squall queue run --server …`"
                )
            })?,
            None => self.accounts.get(None).ok().flatten().ok_or_else(|| {
                format!(
                    "queued without an account: run `squall queue run --server …` or set a \
                     default account (default = \"NAME\" in {path})"
                )
            })?,
        };
        let name = account.name.clone();
        let client = Choice::Account(Box::new(account.clone()))
            .into_target()
            .and_then(|t| build(&self.conn, t.builder, self.workers))
            .map_err(|(_, e)| format!("account {name}: {e}"))?;
        self.built
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(client.clone());
        Ok(client)
    }
}
