//! `squall queue …`, `squall send --queue` and `squall sendmail --queue`: the durable outbox from
//! the shell.
//!
//! A queued message keeps its envelope, its content and the account it was queued through (its
//! route); `squall queue run` sends it through that account, or through the server it is told
//! (--server, --url, --account or SQUALL_URL), so queueing works with no server reachable — the
//! msmtpq use case — and mail of two accounts leaves through two relays.

mod add;
mod admin;
mod route;
mod run;
mod show;

pub(crate) use add::add;

use std::path::PathBuf;

use clap::{Args, Subcommand};
use squall::Body;
use squall_outbox::{Outbox, OutboxError};

use crate::accounts::Accounts;
use crate::conn::ConnArgs;
use crate::exit;

pub(crate) const EXAMPLES: &str = "Examples:
  squall queue add --from a@example.org --to b@example.org --subject hi --body 'queued'
  squall send --queue --from a@example.org --to b@example.org --body 'same as queue add'
  squall sendmail --queue -t < message.eml        # or queue = true in the account (msmtpq)
  squall queue run --until-empty           # each message through the account that queued it
  squall queue run --server mail.example.org:587 --until-empty   # everything through this server
  squall queue run --account work --workers 4          # everything through work, until Ctrl-C
  squall queue list --state queued --json
  squall queue show 12 ; squall queue retry 12 ; squall queue cancel 12
  squall queue purge --older-than 7d ; squall queue stats --json

The queue is a SQLite file: --queue-url sqlite:PATH, else SQUALL_QUEUE_URL, else queue_url
in the accounts file, else sqlite:$XDG_STATE_HOME/squall/queue.db (~/.local/state/squall/queue.db);
or a PostgreSQL database that many machines share: --queue-url postgres://USER@HOST:PORT/DATABASE
(verified TLS unless the host is this machine; ?sslmode=disable|prefer|require|verify-ca|verify-full,
&sslrootcert=CA.pem to trust your own CA).";

/// The database flag every queue command takes.
#[derive(Args, Debug, Default, Clone)]
pub(crate) struct QueueUrl {
    /// The queue database: sqlite:PATH or postgres://USER@HOST:PORT/DATABASE (default:
    /// SQUALL_QUEUE_URL, else the accounts file's queue_url, else
    /// sqlite:$XDG_STATE_HOME/squall/queue.db).
    #[arg(long, value_name = "URL")]
    pub(crate) queue_url: Option<String>,
    /// The accounts file to read `queue_url` from (a command's --config), else the default one.
    #[arg(skip)]
    pub(crate) config: Option<PathBuf>,
}

impl QueueUrl {
    /// With the accounts file `config` (a command's `--config`) instead of the default one.
    pub(crate) fn with_config(mut self, config: Option<PathBuf>) -> Self {
        self.config = config;
        self
    }

    /// The URL: the flag, else SQUALL_QUEUE_URL, else the accounts file's `queue_url`, else
    /// the file under the XDG state directory (made if missing). An accounts file that cannot
    /// be read is an error (exit 78), not skipped: the queue it names would be silently missed.
    fn resolve(&self) -> Result<String, String> {
        if let Some(u) = &self.queue_url {
            return Ok(u.clone());
        }
        if let Some(u) = std::env::var_os("SQUALL_QUEUE_URL").filter(|u| !u.is_empty()) {
            return Ok(u.to_string_lossy().into_owned());
        }
        let accounts = Accounts::load(self.config.as_deref()).map_err(|e| e.to_string())?;
        if let Some(u) = accounts.and_then(|a| a.queue_url) {
            return Ok(u);
        }
        let state = std::env::var_os("XDG_STATE_HOME")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
            .unwrap_or_else(|| PathBuf::from("."));
        let dir = state.join("squall");
        let _ = std::fs::create_dir_all(&dir);
        Ok(format!("sqlite:{}", dir.join("queue.db").display()))
    }

    /// [`resolve`](Self::resolve), or the exit code once the error is told.
    fn url(&self, json: bool) -> Result<String, u8> {
        self.resolve().map_err(|e| {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "error": e, "transient": false, "exit": exit::CONFIG })
                );
            }
            eprintln!("squall: {e}");
            exit::CONFIG
        })
    }
}

#[derive(Subcommand, Debug)]
pub(crate) enum QueueCommand {
    /// Queue a message (the same flags as `send`); `queue run` sends it.
    Add(Box<crate::send::SendArgs>),
    /// Send queued messages: until Ctrl-C, or with --until-empty until nothing is due.
    ///
    /// Each message goes through the account of the accounts file it was queued through
    /// (`send --account NAME --queue`, `sendmail --queue`, `queue = true`), messages queued
    /// without one through the default account. With --server, --url, --account or SQUALL_URL,
    /// everything goes through that server instead, whatever account queued it.
    Run(Box<RunArgs>),
    /// List queued (and finished) messages.
    List(ListArgs),
    /// One message: its recipients, their states and last replies.
    Show(IdArgs),
    /// Make a held, deferred or expired message due now.
    Retry(IdArgs),
    /// Cancel a waiting message.
    Cancel(IdArgs),
    /// Delete finished messages (sent, failed, expired, cancelled).
    Purge(PurgeArgs),
    /// Counts by state and the age of the oldest waiting message.
    Stats(StatsArgs),
}

#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(flatten)]
    db: QueueUrl,
    /// Worker loops (each leases its own batch of messages), and connections open at most.
    #[arg(long, default_value_t = 1, value_name = "N")]
    workers: usize,
    /// Stop once nothing is due now (deferred messages stay queued for a later run).
    #[arg(long)]
    until_empty: bool,
    /// Messages in flight per worker (also how many a crash may leave as possible duplicates).
    #[arg(long, default_value_t = 64, value_name = "N")]
    window: usize,
    /// Hold possible duplicates (after a crash) for `queue retry` instead of resending them.
    #[arg(long)]
    hold_duplicates: bool,
    /// How long a lease lasts unless renewed (seconds): how soon another runner takes over the
    /// messages of one that died.
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    lease: f64,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    db: QueueUrl,
    /// Only messages in this state: queued, held, sent, failed, expired, cancelled.
    #[arg(long, value_name = "STATE")]
    state: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    limit: usize,
    /// One JSON array.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub(crate) struct IdArgs {
    #[command(flatten)]
    db: QueueUrl,
    /// The message's queue id (from `queue add` or `queue list`).
    id: i64,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub(crate) struct PurgeArgs {
    #[command(flatten)]
    db: QueueUrl,
    /// Only messages finished longer ago than this (30s, 10m, 12h, 7d; default: all).
    #[arg(long, value_name = "AGE")]
    older_than: Option<String>,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub(crate) struct StatsArgs {
    #[command(flatten)]
    db: QueueUrl,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

/// What `send --queue` / `queue add` hands over: where the content is, so that it streams.
pub(crate) enum Content {
    /// Held in memory already.
    Body(Body),
    /// A file (a raw message, or the composed message spooled by `send`).
    File(PathBuf),
    /// Standard input (`--raw-file -`).
    Stdin,
}

async fn open(url: &str, hold: bool) -> Result<Outbox, OutboxError> {
    Outbox::builder(url).hold_possible_duplicates(hold).open().await
}

/// The exit code for an outbox failure: 75 when trying again may work (the database locked,
/// unreachable, the disk full), 78 for a file or database that is not a queue (or TLS to
/// PostgreSQL that failed as configured, or a PostgreSQL refusal such as an unknown database),
/// 64 for a bad id or URL.
fn code_for(e: &OutboxError) -> u8 {
    match e {
        OutboxError::NotFound(_) | OutboxError::WrongState { .. } => exit::USAGE,
        OutboxError::UnsupportedUrl { .. } | OutboxError::InvalidUrl { .. } => exit::USAGE,
        OutboxError::Input(_) => exit::DATAERR,
        OutboxError::Foreign { .. } | OutboxError::TooNew { .. } => exit::CONFIG,
        // A PostgreSQL refusal that retrying will not cure: no such database or role, wrong
        // password, no permission; a certificate refused, or no TLS where it is required.
        OutboxError::Tls { .. } | OutboxError::Postgres { transient: false, .. } => exit::CONFIG,
        _ if e.is_transient() => exit::TEMPFAIL,
        _ => exit::SOFTWARE,
    }
}

/// Opens the queue `db` names and runs `f` on it. An error is reported (also as JSON with
/// `json`) and becomes the exit code.
async fn on_queue<T, Fut>(db: &QueueUrl, json: bool, f: impl FnOnce(Outbox) -> Fut) -> Result<T, u8>
where
    Fut: std::future::Future<Output = Result<T, OutboxError>>,
{
    let url = db.url(json)?;
    let outbox = open(&url, false).await.map_err(|e| fail(json, &e))?;
    f(outbox).await.map_err(|e| fail(json, &e))
}

fn fail(json: bool, e: &OutboxError) -> u8 {
    let code = code_for(e);
    if json {
        println!(
            "{}",
            serde_json::json!({ "error": e.to_string(), "transient": e.is_transient(), "exit": code })
        );
    }
    eprintln!("squall: {e}");
    code
}

/// What [`add`] prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Report {
    /// "queued as ID in PATH" on stdout, errors on stderr.
    Text,
    /// One JSON object on stdout (also for an error), errors also on stderr.
    Json,
    /// Nothing on success, errors on stderr (sendmail is silent).
    Silent,
}

pub(crate) async fn run(cmd: QueueCommand) -> u8 {
    match cmd {
        QueueCommand::Add(mut args) => {
            args.queue = true;
            crate::send::run(*args).await
        }
        QueueCommand::Run(args) => run::run(*args).await,
        QueueCommand::List(a) => show::list(a).await,
        QueueCommand::Show(a) => show::show(a).await,
        QueueCommand::Retry(a) => admin::change(a, "due now", |o, id| async move { o.retry(id).await }).await,
        QueueCommand::Cancel(a) => {
            admin::change(a, "cancelled", |o, id| async move { o.cancel(id).await }).await
        }
        QueueCommand::Purge(a) => admin::purge(a).await,
        QueueCommand::Stats(a) => show::stats(a).await,
    }
}
