//! `squall bulk`: many messages through one client, with a progress bar and a summary.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use squall::{Error, ErrorKind, Receipt, RecipientReply};
use tokio::task::JoinSet;

use crate::conn::ConnArgs;
use crate::exit;

pub(crate) const EXAMPLES: &str = "Examples:
  squall bulk --server localhost:2525 --generate 10000 --size 1024 --from a@example.org --to b@example.org
  squall bulk --server mail.example.org:587 --user me --password-env PW --messages ./outbox --from me@example.org --to list@example.org --rate 5
  squall bulk --server localhost:2525 --generate 100000 --size 1024 --from a@example.org --to b@example.org --connections 8 --json";

/// Content held for messages awaiting their outcome, beyond two per connection, at most.
const WINDOW_BYTES: usize = 64 << 20;

#[derive(Args, Debug)]
pub(crate) struct BulkArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Send this many generated messages.
    #[arg(
        long,
        value_name = "N",
        required_unless_present = "messages",
        conflicts_with = "messages"
    )]
    generate: Option<u64>,
    /// Size of each generated message, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1024, requires = "generate")]
    size: usize,
    /// Send every file in this directory (complete RFC 5322 messages), in name order.
    #[arg(long, value_name = "DIR")]
    messages: Option<PathBuf>,
    /// Envelope sender (and From of generated messages).
    #[arg(long, value_name = "ADDR")]
    from: String,
    /// Envelope recipient (and To of generated messages). Repeatable.
    #[arg(long, value_name = "ADDR", required = true)]
    to: Vec<String>,
    /// Connections to use at most.
    #[arg(long, value_name = "C", default_value_t = 1)]
    connections: usize,
    /// Start at most this many messages per second.
    #[arg(long, value_name = "R")]
    rate: Option<f64>,
    /// Close a connection after this many messages and open another.
    #[arg(long, value_name = "N")]
    per_connection: Option<u64>,
    /// Messages awaiting their final reply at once per connection, with CHUNKING (default 32).
    #[arg(long, value_name = "N")]
    window: Option<usize>,
    /// Do not use PIPELINING even when offered.
    #[arg(long)]
    no_pipelining: bool,
    /// Do not use CHUNKING (BDAT) even when offered.
    #[arg(long)]
    no_chunking: bool,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Where message i comes from.
enum Source {
    Generated {
        count: u64,
        size: usize,
        from: String,
        to: String,
        /// Lines of text enough for the largest message: each takes what it needs.
        text: Vec<u8>,
    },
    Files(Vec<PathBuf>),
}

impl Source {
    /// The file message `i` comes from, if it comes from one.
    fn file(&self, i: u64) -> Option<String> {
        match self {
            Self::Generated { .. } => None,
            Self::Files(f) => f.get(i as usize).map(|p| p.display().to_string()),
        }
    }

    fn len(&self) -> u64 {
        match self {
            Self::Generated { count, .. } => *count,
            Self::Files(f) => f.len() as u64,
        }
    }

    /// Message `i`'s bytes: generated headers and lines of text, or a file's content.
    async fn message(&self, i: u64) -> Result<Vec<u8>, Error> {
        match self {
            Self::Generated {
                count,
                size,
                from,
                to,
                text,
            } => Ok(generate(i, *count, *size, from, to, text)),
            Self::Files(files) => {
                let path = &files[i as usize];
                tokio::fs::read(path)
                    .await
                    .map_err(|e| Error::from_input(format!("cannot read {}: {e}", path.display())))
            }
        }
    }
}

/// Message `i` of `count`: headers that make it unique, then `text` up to `size` bytes.
fn generate(i: u64, count: u64, size: usize, from: &str, to: &str, text: &[u8]) -> Vec<u8> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let mut m = Vec::with_capacity(size + 256);
    m.extend_from_slice(
        format!(
            "From: <{from}>\r\nTo: <{to}>\r\nSubject: squall bulk {n}/{count}\r\nMessage-ID: <{nanos:x}.{i}@squall.bulk>\r\n\r\n",
            n = i + 1
        )
        .as_bytes(),
    );
    let take = size.saturating_sub(m.len()).min(text.len());
    m.extend_from_slice(&text[..take]);
    if !m.ends_with(b"\r\n") {
        m.extend_from_slice(b"\r\n");
    }
    m
}

/// Lines of text, `size` bytes of them.
fn lines_of_text(size: usize) -> Vec<u8> {
    const LINE: &[u8] = b"The quick brown fox jumps over the lazy dog; squall sends mail in bulk.\r\n";
    LINE.iter().copied().cycle().take(size).collect()
}

#[derive(Serialize, Default)]
struct Summary {
    messages: u64,
    /// Every recipient accepted.
    delivered: u64,
    /// Accepted for some recipients, refused for others.
    partially_rejected: u64,
    /// Not accepted, for good (5yz or a local problem).
    failed: u64,
    /// Not accepted, but trying again later may work.
    failed_transient: u64,
    /// The connection was lost after the content was sent: the server may have it.
    ambiguous: u64,
    /// Messages that took more than one attempt.
    retried: u64,
    seconds: f64,
    msgs_per_sec: f64,
    latency_ms: Latency,
    connections: u64,
    /// Every message not delivered to all its recipients, in order, with why.
    not_delivered: Vec<Undelivered>,
    /// Messages never tried: the run stopped after a permanent setup failure.
    not_sent: u64,
    /// Why the run stopped early, if it did.
    stopped: Option<String>,
    #[serde(skip)]
    stop: Option<Error>,
}

impl Summary {
    /// Adds one message's outcome.
    fn count(&mut self, i: u64, file: Option<String>, result: Result<Receipt, Error>) {
        // The connection cannot be set up with these settings (a certificate, the credentials, a
        // policy): every further message would meet the same failure, so none is tried.
        if let Err(e) = &result
            && e.is_setup()
            && e.is_permanent()
            && self.stop.is_none()
        {
            self.stop = Some(e.clone());
        }
        let attempts = match &result {
            Ok(r) => r.attempts.len(),
            Err(e) => e.attempts().len(),
        };
        if attempts > 1 {
            self.retried += 1;
        }
        let (outcome, error) = match result {
            Ok(r) if r.is_complete() => {
                self.delivered += 1;
                return;
            }
            Ok(r) if !r.ambiguous.is_empty() => {
                self.ambiguous += 1;
                (
                    "ambiguous",
                    format!(
                        "may or may not have reached {}",
                        r.ambiguous
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            }
            Ok(r) => {
                self.partially_rejected += 1;
                let refused: Vec<String> = r.rejected.iter().map(RecipientReply::to_string).collect();
                ("partial", refused.join("; "))
            }
            Err(e) if e.is_ambiguous() => {
                self.ambiguous += 1;
                ("ambiguous", e.to_string())
            }
            Err(e) if e.kind() == ErrorKind::Transient => {
                self.failed_transient += 1;
                ("transient", e.to_string())
            }
            Err(e) => {
                self.failed += 1;
                ("permanent", e.to_string())
            }
        };
        self.not_delivered.push(Undelivered {
            message: i + 1,
            file,
            outcome,
            error,
        });
    }

    /// sysexits: a setup failure that stopped the run says why (credentials 77, configuration
    /// 78, …); then permanent failures, then temporary or unknown outcomes, then refusals.
    fn exit_code(&self) -> u8 {
        if let Some(e) = &self.stop {
            exit::for_error(e)
        } else if self.failed > 0 {
            exit::UNAVAILABLE
        } else if self.failed_transient + self.ambiguous > 0 {
            exit::TEMPFAIL
        } else if self.partially_rejected > 0 {
            exit::NOUSER
        } else {
            exit::OK
        }
    }
}

#[derive(Serialize, Default)]
struct Latency {
    p50: f64,
    p99: f64,
    max: f64,
}

#[derive(Serialize)]
struct Undelivered {
    /// Its number, from 1.
    message: u64,
    /// The file it came from, with --messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    /// `permanent`, `transient`, `ambiguous`, or `partial` (some recipients refused).
    outcome: &'static str,
    error: String,
}

pub(crate) async fn run(args: BulkArgs) -> u8 {
    bulk(&args)
        .await
        .unwrap_or_else(|e| crate::output::fail(args.json, "squall bulk", e))
}

async fn bulk(args: &BulkArgs) -> Result<u8, (u8, Error)> {
    let Some(target) = args.conn.target()? else {
        return Err((
            exit::USAGE,
            Error::from_input(
                "squall bulk needs a server: --server HOST[:PORT], --url URL, --account NAME or SQUALL_URL",
            ),
        ));
    };
    let builder = target.builder;
    let mut builder = args.conn.apply(builder)?.max_connections(args.connections.max(1));
    if let Some(r) = args.rate {
        builder = builder.rate_limit(r);
    }
    if let Some(n) = args.per_connection {
        builder = builder.max_messages_per_connection(n);
    }
    if let Some(w) = args.window {
        builder = builder.max_in_flight(w);
    }
    builder = builder
        .pipelining(!args.no_pipelining)
        .chunking(!args.no_chunking);
    let client = builder.build().map_err(|e| (exit::CONFIG, e))?;
    let source = match (&args.generate, &args.messages) {
        (Some(n), _) => Source::Generated {
            count: *n,
            size: args.size,
            text: lines_of_text(args.size),
            from: args.from.clone(),
            to: args.to[0].clone(),
        },
        (None, Some(dir)) => {
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| {
                    (
                        exit::NOINPUT,
                        Error::from_input(format!("cannot read {}: {e}", dir.display())),
                    )
                })?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            Source::Files(files)
        }
        (None, None) => {
            return Err((
                exit::USAGE,
                Error::from_input("give --generate N or --messages DIR"),
            ));
        }
    };
    let total = source.len();
    let bar = progress(total);
    // Enough sends outstanding to keep every connection's pipeline full, few enough that memory
    // stays flat however many messages there are: the client's queue is kept short (two per
    // connection) while its connections hold what they can pipeline (a few with DATA, up to
    // max_in_flight with CHUNKING); at most 64 per connection and, beyond two per connection,
    // at most WINDOW_BYTES of content held.
    let conns = args.connections.max(1);
    let (max_window, min_window) = (conns * 64, conns * 2);
    let mut held_bytes = 0usize;
    let mut tasks: JoinSet<(u64, usize, Duration, Result<Receipt, Error>)> = JoinSet::new();
    let mut summary = Summary {
        messages: total,
        ..Summary::default()
    };
    let mut latencies: Vec<f32> = Vec::with_capacity(total.min(10_000_000) as usize);
    let started = Instant::now();
    let mut next = 0u64;
    // One finished send: its outcome counted, its bytes released.
    let mut settle =
        |done: Result<(u64, usize, Duration, Result<Receipt, Error>), tokio::task::JoinError>,
         summary: &mut Summary,
         held_bytes: &mut usize|
         -> Result<(), (u8, Error)> {
            let (i, size, elapsed, result) = done.map_err(|e| {
                (
                    exit::SOFTWARE,
                    Error::from_input(format!("a send task failed: {e}")),
                )
            })?;
            *held_bytes -= size;
            latencies.push(elapsed.as_secs_f32() * 1000.0);
            summary.count(i, source.file(i), result);
            bar.inc(1);
            Ok(())
        };
    while next < total || !tasks.is_empty() {
        while next < total
            && summary.stop.is_none()
            && tasks.len() < max_window
            && (tasks.len() < min_window || (held_bytes < WINDOW_BYTES && client.stats().queued < min_window))
        {
            // Queued here, in order; only the waiting for the outcome runs concurrently.
            let i = next;
            let t0 = Instant::now();
            let (size, submitted) = match source.message(i).await {
                Ok(body) => (body.len(), client.submit(&args.from, &args.to, body)),
                Err(e) => (0, Err(e)),
            };
            held_bytes += size;
            tasks.spawn(async move {
                let r = match submitted {
                    Ok(s) => s.await,
                    Err(e) => Err(e),
                };
                (i, size, t0.elapsed(), r)
            });
            next += 1;
            // Outcomes that are in already count now: a setup failure stops the queueing at once.
            while let Some(done) = tasks.try_join_next() {
                settle(done, &mut summary, &mut held_bytes)?;
            }
        }
        let Some(done) = tasks.join_next().await else {
            break;
        };
        settle(done, &mut summary, &mut held_bytes)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    if let Some(e) = &summary.stop {
        summary.not_sent = total - next;
        summary.stopped = Some(format!(
            "stopped after a setup failure every message would meet; {} message(s) not tried: {e}",
            total - next
        ));
    }
    summary.not_delivered.sort_by_key(|u| u.message);
    client.shutdown().await;
    bar.finish_and_clear();
    summary.seconds = seconds;
    summary.msgs_per_sec = total as f64 / seconds.max(1e-9);
    summary.connections = client.connections_opened();
    latencies.sort_by(f32::total_cmp);
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0) as f64
    };
    summary.latency_ms = Latency {
        p50: pct(0.50),
        p99: pct(0.99),
        max: pct(1.0),
    };
    print_summary(args, &summary);
    Ok(summary.exit_code())
}

/// A progress bar on a terminal; nothing otherwise.
fn progress(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} eta {eta}") {
        bar.set_style(style);
    }
    bar
}

fn print_summary(args: &BulkArgs, s: &Summary) {
    if args.json {
        println!("{}", serde_json::to_string(s).expect("serializable"));
        return;
    }
    println!(
        "{} messages in {:.2} s: {:.0} msgs/s; delivered {}, partially rejected {}, failed {}, \
         failed temporarily {}, ambiguous {}; {} retried; latency p50 {:.1} ms, p99 {:.1} ms; \
         {} connection(s)",
        s.messages,
        s.seconds,
        s.msgs_per_sec,
        s.delivered,
        s.partially_rejected,
        s.failed,
        s.failed_transient,
        s.ambiguous,
        s.retried,
        s.latency_ms.p50,
        s.latency_ms.p99,
        s.connections
    );
    if let Some(why) = &s.stopped {
        eprintln!("squall bulk: {why}");
    }
    for u in &s.not_delivered {
        let from = u.file.as_deref().map(|f| format!(" ({f})")).unwrap_or_default();
        eprintln!(
            "squall bulk: message {}{from}: {}: {}",
            u.message, u.outcome, u.error
        );
    }
}
