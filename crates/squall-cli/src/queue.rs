//! `squall queue …`, `squall send --queue` and `squall sendmail --queue`: the durable outbox from
//! the shell.
//!
//! A queued message keeps its envelope, its content and the account it was queued through (its
//! route); `squall queue run` sends it through that account, or through the server it is told
//! (--server, --url, --account or SQUALL_URL), so queueing works with no server reachable — the
//! msmtpq use case — and mail of two accounts leaves through two relays.

mod route;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use squall::{Body, Envelope};
use squall_outbox::{EnqueueOptions, MessageState, Outbox, OutboxError, QueueId, RunOptions, Stats, Status};

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
        OutboxError::UnsupportedUrl { .. } => exit::USAGE,
        OutboxError::Input(_) => exit::DATAERR,
        OutboxError::Foreign { .. } | OutboxError::TooNew { .. } => exit::CONFIG,
        // A PostgreSQL refusal that retrying will not cure: no such database or role, wrong
        // password, no permission; a certificate refused, or no TLS where it is required.
        OutboxError::Tls { .. } | OutboxError::Postgres { transient: false, .. } => exit::CONFIG,
        _ if e.is_transient() => exit::TEMPFAIL,
        _ => exit::SOFTWARE,
    }
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

/// Queues a prepared message (`send --queue`, `queue add`, `sendmail --queue`): exit 0 only
/// once the message and its content are committed.
pub(crate) async fn add(
    db: &QueueUrl,
    report: Report,
    envelope: Envelope,
    content: Content,
    message_id: Option<String>,
    route: Option<String>,
) -> u8 {
    let url = match db.url(report == Report::Json) {
        Ok(u) => u,
        Err(code) => return code,
    };
    let options = EnqueueOptions {
        route,
        ..EnqueueOptions::default()
    };
    let result = async {
        let outbox = open(&url, false).await?;
        let id = match content {
            Content::Body(b) => match b.as_bytes() {
                Some(bytes) => outbox.enqueue_raw_with(envelope.clone(), bytes, &options).await?,
                None => {
                    let bytes = b
                        .read_to_vec()
                        .await
                        .map_err(|e| OutboxError::Input(format!("reading the message: {e}")))?;
                    outbox
                        .enqueue_raw_with(envelope.clone(), &bytes[..], &options)
                        .await?
                }
            },
            Content::File(p) => {
                let f = tokio::fs::File::open(&p)
                    .await
                    .map_err(|e| OutboxError::Input(format!("cannot read {}: {e}", p.display())))?;
                outbox.enqueue_raw_with(envelope.clone(), f, &options).await?
            }
            Content::Stdin => {
                outbox
                    .enqueue_raw_with(envelope.clone(), tokio::io::stdin(), &options)
                    .await?
            }
        };
        Ok::<_, OutboxError>((id, outbox))
    }
    .await;
    let json = report == Report::Json;
    match result {
        Ok(_) if report == Report::Silent => exit::OK,
        Ok((id, outbox)) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "queued": id, "message_id": message_id, "queue": outbox.location() })
                );
            } else {
                println!(
                    "queued as {id} in {} (`squall queue run` sends it)",
                    outbox.location()
                );
            }
            exit::OK
        }
        Err(e) => fail(json, &e),
    }
}

pub(crate) async fn run(cmd: QueueCommand) -> u8 {
    match cmd {
        QueueCommand::Add(mut args) => {
            args.queue = true;
            crate::send::run(*args).await
        }
        QueueCommand::Run(args) => run_workers(*args).await,
        QueueCommand::List(a) => list(a).await,
        QueueCommand::Show(a) => show(a).await,
        QueueCommand::Retry(a) => {
            change(a, "due now", |o, id| Box::pin(async move { o.retry(id).await })).await
        }
        QueueCommand::Cancel(a) => {
            change(a, "cancelled", |o, id| {
                Box::pin(async move { o.cancel(id).await })
            })
            .await
        }
        QueueCommand::Purge(a) => purge(a).await,
        QueueCommand::Stats(a) => stats(a).await,
    }
}

async fn run_workers(args: RunArgs) -> u8 {
    let workers = args.workers.max(1);
    let db = args
        .db
        .clone()
        .with_config(args.conn.config().map(Path::to_path_buf));
    let sender = match route::Sender::choose(args.conn, workers) {
        Ok(Some(s)) => s,
        Ok(None) => {
            eprintln!(
                "squall: queue run needs a server to send through: an accounts file, or --server,                  --url, --account, or SQUALL_URL"
            );
            return exit::USAGE;
        }
        Err(x) => return crate::output::fail(args.json, "squall", x),
    };
    let url = match db.url(args.json) {
        Ok(u) => u,
        Err(code) => return code,
    };
    let outbox = match open(&url, args.hold_duplicates).await {
        Ok(o) => o,
        Err(e) => return fail(args.json, &e),
    };
    let options = RunOptions {
        workers,
        window: args.window.max(1),
        until_empty: args.until_empty,
        lease: Duration::try_from_secs_f64(args.lease)
            .unwrap_or(Duration::from_secs(60))
            .max(Duration::from_millis(300)),
        ..RunOptions::default()
    };
    let stop = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    };
    let result = match &sender {
        route::Sender::One(client) => outbox.run(client.clone(), options, stop).await,
        route::Sender::ByAccount(router) => {
            let router = router.clone();
            outbox.run_routed(move |r| router.client(r), options, stop).await
        }
    };
    sender.shutdown().await;
    match result {
        Ok(report) => {
            let stats = outbox.stats().await.unwrap_or_default();
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({ "attempts": report.attempts, "stats": stats })
                );
            } else {
                println!("{} attempt(s); now {}", report.attempts, stats_line(&stats));
            }
            exit::OK
        }
        Err(e) => fail(args.json, &e),
    }
}

fn stats_line(s: &Stats) -> String {
    let oldest = s
        .oldest_waiting_ms
        .map_or(String::new(), |ms| format!(", oldest waiting {} s", ms / 1000));
    format!(
        "{} queued ({} leased), {} held, {} sent, {} failed, {} expired, {} cancelled, {} possible duplicate(s){oldest}",
        s.queued, s.leased, s.held, s.sent, s.failed, s.expired, s.cancelled, s.possible_duplicates
    )
}

fn line(s: &Status) -> String {
    let to: Vec<String> = s
        .recipients
        .iter()
        .map(|r| format!("{} ({})", r.address, r.state))
        .collect();
    let dup = if s.possible_duplicate {
        " possible-duplicate"
    } else {
        ""
    };
    let via = s.route.as_deref().map_or(String::new(), |r| format!("  via {r}"));
    format!(
        "{:>6}  {:<9}  {} attempt(s)  {} -> {}{dup}{via}",
        s.id,
        s.state,
        s.attempts,
        if s.sender.is_empty() { "<>" } else { &s.sender },
        to.join(", ")
    )
}

async fn list(a: ListArgs) -> u8 {
    let state = match a.state.as_deref().map(|s| (s, MessageState::parse(s))) {
        None => None,
        Some((_, Some(s))) => Some(s),
        Some((s, None)) => {
            eprintln!("squall: --state {s:?}: use one of queued, held, sent, failed, expired, cancelled");
            return exit::USAGE;
        }
    };
    let url = match a.db.url(a.json) {
        Ok(u) => u,
        Err(code) => return code,
    };
    let r = async { open(&url, false).await?.list(state, a.limit).await }.await;
    match r {
        Ok(rows) if a.json => {
            println!("{}", serde_json::to_string(&rows).unwrap_or_default());
            exit::OK
        }
        Ok(rows) => {
            for s in &rows {
                println!("{}", line(s));
            }
            exit::OK
        }
        Err(e) => fail(a.json, &e),
    }
}

async fn show(a: IdArgs) -> u8 {
    let url = match a.db.url(a.json) {
        Ok(u) => u,
        Err(code) => return code,
    };
    let r = async { open(&url, false).await?.status(QueueId(a.id)).await }.await;
    match r {
        Ok(Some(s)) if a.json => {
            println!("{}", serde_json::to_string(&s).unwrap_or_default());
            exit::OK
        }
        Ok(Some(s)) => {
            println!("{}", line(&s));
            if let Some(m) = &s.message_id {
                println!("  message-id: <{m}>");
            }
            println!("  size: {} bytes", s.size);
            println!(
                "  account: {}",
                s.route.as_deref().unwrap_or("- (queued without one)")
            );
            for r in &s.recipients {
                println!(
                    "  {} {}: {}",
                    r.address,
                    r.state,
                    r.reply.as_deref().unwrap_or("-")
                );
            }
            if let Some(e) = &s.last_error {
                println!("  last error: {e}");
            }
            exit::OK
        }
        Ok(None) => fail(a.json, &OutboxError::NotFound(a.id)),
        Err(e) => fail(a.json, &e),
    }
}

type Change = fn(
    Outbox,
    QueueId,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), OutboxError>> + Send>>;

async fn change(a: IdArgs, done: &str, f: Change) -> u8 {
    let url = match a.db.url(a.json) {
        Ok(u) => u,
        Err(code) => return code,
    };
    let r = async { f(open(&url, false).await?, QueueId(a.id)).await }.await;
    match r {
        Ok(()) => {
            if a.json {
                println!("{}", serde_json::json!({ "id": a.id, "done": done }));
            } else {
                println!("message {}: {done}", a.id);
            }
            exit::OK
        }
        Err(e) => fail(a.json, &e),
    }
}

async fn purge(a: PurgeArgs) -> u8 {
    let age = match a.older_than.as_deref().map(parse_age) {
        None => Duration::ZERO,
        Some(Ok(d)) => d,
        Some(Err(e)) => {
            eprintln!("squall: --older-than: {e}");
            return exit::USAGE;
        }
    };
    let url = match a.db.url(a.json) {
        Ok(u) => u,
        Err(code) => return code,
    };
    let r = async { open(&url, false).await?.purge(age).await }.await;
    match r {
        Ok(n) => {
            if a.json {
                println!("{}", serde_json::json!({ "purged": n }));
            } else {
                println!("{n} finished message(s) deleted");
            }
            exit::OK
        }
        Err(e) => fail(a.json, &e),
    }
}

async fn stats(a: StatsArgs) -> u8 {
    let url = match a.db.url(a.json) {
        Ok(u) => u,
        Err(code) => return code,
    };
    let r = async { open(&url, false).await?.stats().await }.await;
    match r {
        Ok(s) if a.json => {
            println!("{}", serde_json::to_string(&s).unwrap_or_default());
            exit::OK
        }
        Ok(s) => {
            println!("{}", stats_line(&s));
            exit::OK
        }
        Err(e) => fail(a.json, &e),
    }
}

/// `30s`, `10m`, `12h`, `7d` (a bare number is seconds).
fn parse_age(s: &str) -> Result<Duration, String> {
    let bad = || format!("bad age {s:?} (use e.g. 30s, 10m, 12h, 7d)");
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs(n.saturating_mul(secs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_age("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_age("90"), Ok(Duration::from_secs(90)));
        assert!(parse_age("1w").is_err() && parse_age("").is_err());
    }
}
