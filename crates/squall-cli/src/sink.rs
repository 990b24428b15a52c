//! `squall sink`: a capture server on the command line.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use squall_sink::{Fault, Sink};

use crate::exit;

pub(crate) const EXAMPLES: &str = "Examples:
  squall sink --maildir ~/Maildir            # read it with mutt -f ~/Maildir
  squall sink --eml-dir ./mail               # <id>.eml plus an <id>.json envelope each
  squall sink --max-connections 50 --command-timeout 1m --memory-limit 16M --size-limit 0
  squall sink --tls-cert cert.pem --tls-key key.pem --require-tls --user joe:secret
  squall sink --listen 127.0.0.1:2525 --fault 'rcpt:bad@example.com=550 5.1.1 no such user'
  squall sink --fault 'data-end#3=disconnect' --disable CHUNKING
  squall sink --chaos 0.01 --seed 7 --quiet
  squall sink --web                          # the mail page on http://127.0.0.1:8025/
  squall sink --web 0.0.0.0:8025 --web-auth env:SINK_PASSWORD --max-messages 500
  squall sink --web --maildir ~/Maildir --web-release   # kept across restarts; release allowed";

#[derive(Args, Debug)]
pub(crate) struct SinkArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:2525")]
    listen: SocketAddr,
    /// Save each message here as <id>.eml plus an <id>.json envelope (created if missing).
    #[arg(long, value_name = "DIR")]
    eml_dir: Option<PathBuf>,
    /// Deliver each message into this Maildir (tmp/, new/, cur/ created if missing), as mutt,
    /// Dovecot and any Maildir reader expect: written to tmp/, then renamed into new/. With
    /// --web, the messages already in new/ and cur/ are shown again at start (the newest
    /// --max-messages); deleting on the page does not delete files.
    #[arg(long, value_name = "DIR")]
    maildir: Option<PathBuf>,
    /// Misbehave: STAGE[#N][:ADDR]=ACTION, e.g. 'rcpt:bad@example.com=550', 'data-end#3=disconnect'
    /// (stages: connect greeting ehlo starttls auth mail rcpt data bdat data-end quit; actions: a
    /// reply code with text, disconnect, stall, delay:DURATION, garbage, overlong). Repeatable.
    #[arg(long = "fault", value_name = "SPEC")]
    faults: Vec<Fault>,
    /// Inject a random fault (a refusal, a 421, a dropped connection, a delay) into about this
    /// share of transactions, e.g. 0.01; the same --seed gives the same choices.
    #[arg(long, value_name = "P", value_parser = parse_share)]
    chaos: Option<f64>,
    /// Seed for --chaos.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "chaos")]
    seed: u64,
    /// SIZE limit to advertise and enforce (default 64M); 0 means no limit. BYTES may end in
    /// K, M or G (binary multiples).
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    size_limit: Option<u64>,
    /// Connections served at once (default 500); beyond it: 421 and close.
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// How long a command line may take to arrive after the previous reply (default 5m), however
    /// slowly its bytes trickle in; then 421 and close.
    #[arg(long, value_name = "DURATION", value_parser = parse_limit)]
    command_timeout: Option<Duration>,
    /// How long a transaction may take from MAIL to the end of its content (default 10m).
    #[arg(long, value_name = "DURATION", value_parser = parse_limit)]
    transaction_timeout: Option<Duration>,
    /// Message content held in memory by all connections together (default 64M); past it,
    /// content is spooled to disk.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    memory_limit: Option<u64>,
    /// One message's content past this size is spooled to disk (default 1M).
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    spool_threshold: Option<u64>,
    /// Where spooled content goes when neither --maildir nor --eml-dir is given (default: the
    /// system's temporary directory).
    #[arg(long, value_name = "DIR")]
    spool_dir: Option<PathBuf>,
    /// Name in the greeting and EHLO reply.
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,
    /// Do not offer this extension (PIPELINING, CHUNKING, SIZE, 8BITMIME, SMTPUTF8, DSN, ...). Repeatable.
    #[arg(long = "disable", value_name = "EXTENSION")]
    disable: Vec<String>,
    /// Print only the "listening on" line, not one line per message.
    #[arg(long)]
    quiet: bool,
    /// Serve TLS with this certificate chain (PEM); STARTTLS is offered unless --implicit-tls.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) for --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// TLS from the first byte (port 465 style) instead of STARTTLS.
    #[arg(long, requires = "tls_cert")]
    implicit_tls: bool,
    /// Refuse MAIL and AUTH before STARTTLS.
    #[arg(long, requires = "tls_cert")]
    require_tls: bool,
    /// Require AUTH and accept USER:PASSWORD (a test server's account). Repeatable.
    #[arg(long = "user", value_name = "USER:PASSWORD")]
    users: Vec<String>,
    /// Offer AUTH before TLS too.
    #[arg(long)]
    auth_before_tls: bool,
    /// Serve the mail page and HTTP API (default address 127.0.0.1:8025); messages are kept
    /// in memory, the oldest dropped past --max-messages.
    #[cfg(feature = "web")]
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:8025")]
    web: Option<SocketAddr>,
    /// Require a password for the page and API, read from file:PATH or env:NAME (never given
    /// on the command line, where other users could read it). Needed for a non-loopback --web.
    #[cfg(feature = "web")]
    #[arg(long, value_name = "file:PATH|env:NAME", requires = "web")]
    web_auth: Option<String>,
    /// Serve a non-loopback --web address without a password: anyone who reaches it reads
    /// the mail.
    #[cfg(feature = "web")]
    #[arg(long, requires = "web")]
    web_insecure: bool,
    /// Allow POST /api/v1/messages/{id}/release, which forwards a captured message to the
    /// server at a URL the caller gives (smtp://host:port?tls=…), through the squall client.
    /// Off by default: it sends real mail.
    #[cfg(feature = "web")]
    #[arg(long, requires = "web")]
    web_release: bool,
    /// Messages kept in memory for the page and API; past it the oldest is dropped first.
    #[cfg(feature = "web")]
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_messages: u64,
}

pub(crate) async fn run(args: SinkArgs) -> u8 {
    let mut b = Sink::builder().listen(args.listen);
    if let Some(dir) = &args.eml_dir {
        b = b.eml_dir(dir);
    }
    if let Some(dir) = &args.maildir {
        b = b.maildir(dir);
    }
    if let Some(dir) = &args.spool_dir {
        b = b.spool_dir(dir);
    }
    if let Some(n) = args.max_connections {
        b = b.max_connections(n);
    }
    if let Some(d) = args.command_timeout {
        b = b.command_timeout(d);
    }
    if let Some(d) = args.transaction_timeout {
        b = b.transaction_timeout(d);
    }
    if let Some(n) = args.memory_limit {
        b = b.memory_limit(usize::try_from(n).unwrap_or(usize::MAX));
    }
    if let Some(n) = args.spool_threshold {
        b = b.spool_threshold(usize::try_from(n).unwrap_or(usize::MAX));
    }
    for f in args.faults {
        b = b.fault(f);
    }
    if let Some(p) = args.chaos {
        b = b.chaos(p, args.seed);
    }
    if let Some(n) = args.size_limit {
        b = b.size_limit(n);
    }
    if let Some(h) = args.hostname {
        b = b.hostname(h);
    }
    for d in &args.disable {
        b = b.disable(d);
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        b = match b.tls_files(cert, key) {
            Ok(b) => b,
            Err(e) => {
                eprintln!(
                    "squall sink: cannot use {} and {}: {e}",
                    cert.display(),
                    key.display()
                );
                return exit::CONFIG;
            }
        };
    }
    b = b
        .implicit_tls(args.implicit_tls)
        .require_tls(args.require_tls)
        .auth_before_tls(args.auth_before_tls);
    for u in &args.users {
        let Some((name, password)) = u.split_once(':') else {
            eprintln!("squall sink: --user {u:?} must look like USER:PASSWORD");
            return exit::USAGE;
        };
        b = b.user(name, password);
    }
    // Nothing is kept in memory unless the page shows it: a long-running sink must not grow.
    b = b.keep_messages(false);
    #[cfg(feature = "web")]
    if let Some(addr) = args.web {
        b = b
            .keep_messages(true)
            .max_messages(usize::try_from(args.max_messages).unwrap_or(usize::MAX))
            .web(addr)
            .web_insecure(args.web_insecure);
        if args.web_release {
            b = b.on_release(release);
        }
        if let Some(spec) = &args.web_auth {
            match read_password(spec) {
                Ok(p) => b = b.web_password(p),
                Err(e) => {
                    eprintln!("squall sink: --web-auth {spec}: {e}");
                    return exit::CONFIG;
                }
            }
        }
    }
    if !args.quiet {
        // The summary escapes whatever the client chose: no terminal escapes reach stdout.
        b = b.on_message(|m| {
            println!("{}", m.summary());
            let _ = std::io::stdout().flush();
        });
    }
    let sink = match b.start().await {
        Ok(s) => s,
        #[cfg(feature = "web")]
        Err(e) if e.get_ref().is_some_and(|i| i.is::<squall_sink::WebError>()) => {
            eprintln!("squall sink: {e}");
            return exit::USAGE;
        }
        Err(e) => {
            eprintln!("squall sink: cannot start on {}: {e}", args.listen);
            return exit::UNAVAILABLE;
        }
    };
    let stop = stop_signal();
    println!("listening on {}", sink.addr());
    if let Some(web) = sink.web_addr() {
        println!("mail page on http://{web}/ (API under /api/v1)");
    }
    report_reload(sink.reload(), args.quiet);
    let _ = std::io::stdout().flush();
    stop.await;
    sink.stop();
    if !args.quiet {
        // A fault that never fired tested nothing: say how often each one did.
        for (fault, n) in sink.faults_fired() {
            println!("fault {fault}: fired {n} times");
        }
    }
    exit::OK
}

/// `--web-release`: sends the captured content through squall to the URL the API caller
/// gave; the receipt or the error as `squall send --json` prints them.
#[cfg(feature = "web")]
async fn release(r: squall_sink::Release) -> squall_sink::ReleaseOutcome {
    let json = |e: &squall::Error| serde_json::to_value(e).unwrap_or_else(|_| e.to_string().into());
    let client = squall::Client::from_url(&r.url).map_err(|e| json(&e))?;
    let sent = client.send(&r.from, &r.to, r.message.data.clone()).await;
    client.shutdown().await;
    match sent {
        Ok(receipt) => {
            serde_json::to_value(&receipt).map_err(|e| serde_json::json!({ "error": e.to_string() }))
        }
        Err(e) => Err(json(&e)),
    }
}

/// What was read back from --maildir at start (with --web, which keeps messages): a line on
/// stdout unless quiet, and each skipped file on stderr (the lines are escaped by the sink).
fn report_reload(r: &squall_sink::Reload, quiet: bool) {
    // The warnings first: whoever reads the summary line knows they are written.
    for w in &r.warnings {
        eprintln!("squall sink: warning: skipped {w}");
    }
    if r.skipped > r.warnings.len() {
        eprintln!(
            "squall sink: warning: {} more skipped",
            r.skipped - r.warnings.len()
        );
    }
    if !quiet && (r.loaded > 0 || r.skipped > 0 || r.left > 0) {
        let mut line = format!("reloaded {} messages from the Maildir", r.loaded);
        if r.left > 0 {
            line.push_str(&format!(", {} older left on disk (--max-messages)", r.left));
        }
        if r.skipped > 0 {
            line.push_str(&format!(", {} skipped (see stderr)", r.skipped));
        }
        println!("{line}");
    }
}

/// Listens for SIGINT and SIGTERM from this call on; the future ends at the first. Called
/// before the "listening on" line: a supervisor (or a test) that signals as soon as it reads
/// that line stops the sink cleanly, instead of killing it before it listened for signals.
#[cfg(unix)]
fn stop_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{Signal, SignalKind, signal};
    let int = signal(SignalKind::interrupt()).ok();
    let term = signal(SignalKind::terminate()).ok();
    let next = |s: Option<Signal>| async move {
        match s {
            Some(mut s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    async move {
        tokio::select! {
            () = next(int) => {}
            () = next(term) => {}
        }
    }
}

/// Ctrl-C, from when the future is first polled.
#[cfg(not(unix))]
fn stop_signal() -> impl std::future::Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The web password from `file:PATH` (first line) or `env:NAME`.
#[cfg(feature = "web")]
fn read_password(spec: &str) -> Result<String, String> {
    let password = if let Some(path) = spec.strip_prefix("file:") {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        text.lines().next().unwrap_or("").to_string()
    } else if let Some(name) = spec.strip_prefix("env:") {
        std::env::var(name).map_err(|_| format!("the environment variable {name} is not set"))?
    } else {
        return Err("say where the password is: file:PATH or env:NAME".into());
    };
    if password.is_empty() {
        return Err("the password is empty".into());
    }
    Ok(password)
}

/// A share between 0 and 1.
fn parse_share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("{s:?} is not a share between 0 and 1 (0.01 is 1%)")),
    }
}

/// A time limit: a duration (`250ms`, `30s`, `5m`) that is not zero.
fn parse_limit(s: &str) -> Result<Duration, String> {
    match squall_sink::fault::parse_duration(s)? {
        d if d.is_zero() => Err("a time limit must be longer than zero".into()),
        d => Ok(d),
    }
}

/// `1048576`, `64K`, `64M`, `1G` (also `KiB`, `MiB`, `GiB`; binary multiples).
fn parse_bytes(s: &str) -> Result<u64, String> {
    let bad = || format!("{s:?} is not a size in bytes (e.g. 1048576, 512K, 64M, 1G)");
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(digits);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" => 0,
        "K" | "KIB" => 10,
        "M" | "MIB" => 20,
        "G" | "GIB" => 30,
        _ => return Err(bad()),
    };
    n.checked_mul(1 << shift).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_limits() {
        assert_eq!(parse_bytes("0"), Ok(0));
        assert_eq!(parse_bytes("512K"), Ok(512 * 1024));
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("1g"), Ok(1 << 30));
        assert_eq!(parse_bytes("18446744073709551615"), Ok(u64::MAX));
        for bad in ["", "M", "1.5M", "1T", "-1", "99999999999999999999G"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_limit("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_limit("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_limit("0s").is_err());
        assert!(parse_limit("soon").is_err());
    }
}
