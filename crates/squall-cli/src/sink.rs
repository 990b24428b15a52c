//! `squall sink`: a capture server on the command line.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use squall_sink::{Fault, Sink};

use crate::exit;

pub(crate) const EXAMPLES: &str = "Examples:
  squall sink --maildir ./mail
  squall sink --tls-cert cert.pem --tls-key key.pem --require-tls --user joe:secret
  squall sink --listen 127.0.0.1:2525 --fault 'rcpt:bad@example.com=550 5.1.1 no such user'
  squall sink --fault 'data-end#3=disconnect' --disable CHUNKING
  squall sink --chaos 0.01 --seed 7 --quiet";

#[derive(Args, Debug)]
pub(crate) struct SinkArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:2525")]
    listen: SocketAddr,
    /// Save each message here as <id>.eml plus <id>.json (created if missing).
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
    /// SIZE limit to advertise and enforce, in bytes.
    #[arg(long, value_name = "BYTES")]
    size_limit: Option<u64>,
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
}

pub(crate) async fn run(args: SinkArgs) -> u8 {
    let mut b = Sink::builder().listen(args.listen);
    if let Some(dir) = &args.maildir {
        b = b.maildir(dir);
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
    // Nothing is kept in memory: a long-running sink must not grow.
    b = b.keep_messages(false);
    if !args.quiet {
        b = b.on_message(|m| {
            let place = m
                .eml
                .as_ref()
                .map(|p| format!(" -> {}", p.display()))
                .unwrap_or_default();
            println!(
                "{} from <{}> to <{}> ({} bytes, {}){place}",
                m.id,
                m.mail_from,
                m.rcpt_to.join(">, <"),
                m.size,
                m.transfer
            );
            let _ = std::io::stdout().flush();
        });
    }
    let sink = match b.start().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("squall sink: cannot listen on {}: {e}", args.listen);
            return exit::UNAVAILABLE;
        }
    };
    println!("listening on {}", sink.addr());
    let _ = std::io::stdout().flush();
    wait_for_signal().await;
    sink.stop();
    exit::OK
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// A share between 0 and 1.
fn parse_share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("{s:?} is not a share between 0 and 1 (0.01 is 1%)")),
    }
}
