//! `squall config`: where the accounts file is, and whether an account works.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use squall::{Error, ServerReport};

use crate::accounts::{self, Accounts};
use crate::conn::ConnArgs;
use crate::{exit, output};

pub(crate) const EXAMPLES: &str = "Examples:
  squall config path
  squall config check                       # the default account
  squall config check --account work --transcript
  squall config check --server smtp.example.org:587 --user me --password-env PW";

#[derive(Subcommand, Debug)]
pub(crate) enum ConfigCommand {
    /// Print where the accounts file is read from, and whether it exists and parses.
    Path {
        /// The accounts file to look at instead of the default.
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Connect with an account: report what the server offers and whether TLS and AUTH work.
    /// Nothing is sent.
    Check(Box<CheckArgs>),
}

#[derive(Args, Debug)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Print the SMTP dialog to stderr (secrets redacted).
    #[arg(long)]
    transcript: bool,
    /// Print the report (or the error) as one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(cmd: ConfigCommand) -> u8 {
    match cmd {
        ConfigCommand::Path { config } => path(config),
        ConfigCommand::Check(args) => match check(&args).await {
            Ok(()) => exit::OK,
            Err(e) => output::fail(args.json, "squall", e),
        },
    }
}

fn path(config: Option<PathBuf>) -> u8 {
    let Some(path) = config.or_else(accounts::default_path) else {
        eprintln!("squall: neither XDG_CONFIG_HOME nor HOME is set, so there is no default accounts file");
        return exit::CONFIG;
    };
    println!("{}", path.display());
    if !path.exists() {
        eprintln!("(it does not exist yet; see `squall config --help` for its format)");
        return exit::OK;
    }
    match Accounts::load(Some(&path)) {
        Ok(_) => exit::OK,
        Err(e) => {
            eprintln!("squall: {e}");
            exit::CONFIG
        }
    }
}

async fn check(args: &CheckArgs) -> Result<(), (u8, Error)> {
    let Some(target) = args.conn.target()? else {
        return Err((
            exit::CONFIG,
            Error::from_input(
                "nothing to check: no --server, --url, --account, SQUALL_URL or default account \
                 (`squall config path` shows where the accounts file goes)",
            ),
        ));
    };
    let mut builder = args.conn.apply(target.builder)?;
    if args.transcript {
        builder = builder.transcript(output::transcript_printer());
    }
    let client = builder.build().map_err(|e| (exit::CONFIG, e))?;
    let report = client.probe().await.map_err(|e| (exit::for_error(&e), e))?;
    if args.json {
        println!("{}", report_json(&report));
    } else {
        print_report(&report, target.from.as_deref());
    }
    Ok(())
}

fn print_report(r: &ServerReport, from: Option<&str>) {
    let caps = &r.capabilities;
    println!("server     {} (ready in {} ms)", r.server, r.elapsed.as_millis());
    println!("greeting   {}", r.greeting);
    match &r.tls {
        Some(tls) => println!("TLS        {tls}, certificate verified"),
        None => println!("TLS        none: the connection is not encrypted"),
    }
    let offered: Vec<&str> = caps.auth_mechanisms().iter().map(|m| m.name()).collect();
    let offered = if offered.is_empty() {
        "none offered".to_string()
    } else {
        format!("offered: {}", offered.join(" "))
    };
    match &r.authenticated {
        Some(m) => println!("AUTH       logged in with {} ({offered})", m.name()),
        None => println!("AUTH       not used ({offered})"),
    }
    println!("extensions {caps}");
    if let Some(limit) = caps.size_limit().filter(|&l| l > 0) {
        println!(
            "size limit {limit} bytes ({:.1} MiB)",
            limit as f64 / (1 << 20) as f64
        );
    }
    if let Some(from) = from {
        println!("from       {from}");
    }
    println!("ok: ready to send");
}

fn report_json(r: &ServerReport) -> String {
    let caps = &r.capabilities;
    serde_json::json!({
        "server": r.server,
        "elapsed_ms": r.elapsed.as_millis(),
        "greeting": r.greeting.to_string(),
        "tls": r.tls.as_ref().map(|t| serde_json::json!({"version": t.version, "cipher": t.cipher})),
        "authenticated": r.authenticated.as_ref().map(|m| m.name()),
        "auth_offered": caps.auth_mechanisms().iter().map(|m| m.name()).collect::<Vec<_>>(),
        "extensions": caps.to_string(),
        "size_limit": caps.size_limit(),
    })
    .to_string()
}
