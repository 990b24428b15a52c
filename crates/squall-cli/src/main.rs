//! `squall`: send mail and capture mail from the shell.

mod bulk;
mod conn;
mod exit;
mod output;
mod send;
mod sink;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Send mail over SMTP, and capture mail for tests.
#[derive(Parser, Debug)]
#[command(name = "squall", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Send one message. With no server given, it goes to a built-in capture server.
    #[command(after_help = send::EXAMPLES)]
    Send(Box<send::SendArgs>),
    /// Send many messages (generated, or files from a directory) and report throughput.
    #[command(after_help = bulk::EXAMPLES)]
    Bulk(Box<bulk::BulkArgs>),
    /// Run a capture server: every message is saved as an .eml file with a .json envelope.
    #[command(after_help = sink::EXAMPLES)]
    Sink(Box<sink::SinkArgs>),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { exit::OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("squall: cannot start the async runtime: {e}");
            return ExitCode::from(exit::SOFTWARE);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Send(args) => send::run(*args).await,
            Command::Sink(args) => sink::run(*args).await,
            Command::Bulk(args) => bulk::run(*args).await,
        }
    });
    ExitCode::from(code)
}
