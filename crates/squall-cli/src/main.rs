//! `squall`: send mail and capture mail from the shell.

mod accounts;
mod bulk;
mod check;
mod conn;
mod dkim;
mod exit;
mod output;
mod queue;
mod send;
mod sendmail;
mod sink;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `squall … | head -1`: once the reader is gone, printing fails with EPIPE and `println!`
/// panics. Exit as a tool killed by SIGPIPE would (status 141), without a trace. (SIGPIPE itself
/// stays ignored: with its default action a peer that resets a socket would kill the process.)
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

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
    /// Run a capture server: one line per message, saved as .eml + .json (--eml-dir) or into a Maildir.
    #[command(after_help = sink::EXAMPLES)]
    Sink(Box<sink::SinkArgs>),
    /// Read a message on stdin and send it, as sendmail does (also when run as `sendmail`).
    #[command(
        after_help = sendmail::HELP,
        disable_help_flag = true,
        allow_hyphen_values = true
    )]
    Sendmail {
        /// sendmail's options and recipients (see below).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "ARGS")]
        args: Vec<std::ffi::OsString>,
    },
    /// The accounts file: where it is, and whether an account works.
    #[command(subcommand, after_help = check::EXAMPLES, long_about = ACCOUNTS_HELP)]
    Config(check::ConfigCommand),
    /// DKIM keys: print the DNS record that publishes one.
    #[command(subcommand, after_help = dkim::EXAMPLES)]
    Dkim(dkim::DkimCommand),
    /// The durable queue: add, run, list, show, retry, cancel, purge, stats.
    #[command(subcommand, after_help = queue::EXAMPLES)]
    Queue(queue::QueueCommand),
    /// Print a shell completion script for bash, zsh or fish.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

const COMPLETIONS_EXAMPLES: &str = "Examples:
  squall completions bash > ~/.local/share/bash-completion/completions/squall
  squall completions zsh > ~/.zfunc/_squall      # with fpath+=(~/.zfunc) in ~/.zshrc
  squall completions fish > ~/.config/fish/completions/squall.fish";

const ACCOUNTS_HELP: &str = r#"The accounts file: where it is, and whether an account works.

The file ($XDG_CONFIG_HOME/squall/config.toml, else ~/.config/squall/config.toml,
or --config PATH) names servers and their logins:

  default = "work"
  queue_url = "sqlite:/var/spool/squall/queue.db"   # optional: the durable queue
                                       #   (after --queue-url and SQUALL_QUEUE_URL)

  [accounts.work]
  server = "mail.example.org"          # host, or host:port
  port = 587                           # optional; default from tls (465 for implicit, else 587)
  tls = "starttls"                     # none | opportunistic | starttls | implicit
  user = "me@example.org"
  password_command = "pass show mail"  # or password_env = "VAR", or password_file = "path"
  auth = "plain"                       # optional: plain | login | cram-md5 | xoauth2
  from = "Me <me@example.org>"         # default sender
  ehlo = "laptop.example.org"          # optional
  ca_file = "/etc/ssl/private-ca.pem"  # optional
  timeout = 30                         # optional, seconds
  dkim_key = "dkim.pem"                # optional: sign with DKIM (a path relative to this file)
  dkim_domain = "example.org"          #   with dkim_key: the d= domain
  dkim_selector = "2026"               #   and the selector (TXT at 2026._domainkey.example.org)
  dkim_canon = "relaxed"               #   optional: relaxed | simple | HEADER/BODY
  queue = true                         # optional: `squall sendmail` queues instead of sending;
                                       #   `squall queue run` sends (see `squall queue --help`)

  [accounts.local]
  server = "127.0.0.1:2525"
  tls = "none"

--server, --url and --account choose explicitly; otherwise SQUALL_URL, then the default account
(`default`, or the only one). Errors name the file, the line and the key."#;

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    // Installed as (or linked to) `sendmail`: speak sendmail's command line.
    let mut argv = std::env::args_os();
    let argv0 = argv.next().unwrap_or_default();
    if std::path::Path::new(&argv0)
        .file_name()
        .is_some_and(|n| n == "sendmail")
    {
        return ExitCode::from(in_runtime_reading_stdin(sendmail::run(
            "sendmail",
            argv.collect(),
        )));
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { exit::OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    if let Command::Dkim(cmd) = cli.command {
        return ExitCode::from(dkim::run(cmd));
    }
    if let Command::Completions { shell } = cli.command {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut cmd, "squall", &mut script);
        return match std::io::Write::write_all(&mut std::io::stdout(), &script) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(141),
            Err(e) => {
                eprintln!("squall: writing the completion script failed: {e}");
                ExitCode::from(exit::IOERR)
            }
        };
    }
    if let Command::Sendmail { args } = cli.command {
        return ExitCode::from(in_runtime_reading_stdin(sendmail::run("squall sendmail", args)));
    }
    ExitCode::from(in_runtime(async {
        match cli.command {
            Command::Send(args) => send::run(*args).await,
            Command::Sink(args) => sink::run(*args).await,
            Command::Bulk(args) => bulk::run(*args).await,
            Command::Config(cmd) => check::run(cmd).await,
            Command::Queue(cmd) => queue::run(cmd).await,
            Command::Sendmail { .. } | Command::Completions { .. } | Command::Dkim(_) => exit::OK,
        }
    }))
}

/// Runs `work` on a multi-threaded tokio runtime and returns its exit code.
fn in_runtime(work: impl std::future::Future<Output = u8>) -> u8 {
    match runtime() {
        Some(rt) => rt.block_on(work),
        None => exit::SOFTWARE,
    }
}

/// As [`in_runtime`], for work that may stop reading stdin with a read still waiting (sendmail
/// stopped by a signal): tokio cannot cancel that read, and would wait for it before exiting.
fn in_runtime_reading_stdin(work: impl std::future::Future<Output = u8>) -> u8 {
    match runtime() {
        Some(rt) => {
            let code = rt.block_on(work);
            rt.shutdown_background();
            code
        }
        None => exit::SOFTWARE,
    }
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| eprintln!("squall: cannot start the async runtime: {e}"))
        .ok()
}
