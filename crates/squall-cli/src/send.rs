//! `squall send`: one message, from flags or a raw file, to a server or the built-in sink.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use squall::{Body, Client, ClientBuilder, Error, Mechanism, Message, Receipt, Tls};
use squall_sink::Sink;

use crate::{exit, output};

pub(crate) const EXAMPLES: &str = "Examples:
  squall send --from me@example.org --to you@example.org --subject hi --body 'Hello!'
  squall send --server mail.example.org:587 --from me@example.org --to you@example.org --body-file note.txt
  squall send --url smtp://localhost:2525 --from a@example.org --to b@example.org --raw-file message.eml
  squall send --from a@example.org --to b@example.org --attach report.pdf --json";

#[derive(Clone, Copy, Debug, ValueEnum)]
enum TlsArg {
    /// Never use TLS.
    None,
    /// STARTTLS when offered.
    Opportunistic,
    /// STARTTLS, required.
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum AuthArg {
    Plain,
    Login,
    #[value(name = "cram-md5")]
    CramMd5,
    Xoauth2,
}

#[derive(Args, Debug)]
pub(crate) struct SendArgs {
    /// Server to send through (465 means implicit TLS, 587 STARTTLS, other ports STARTTLS when offered).
    #[arg(long, value_name = "HOST[:PORT]", conflicts_with = "url")]
    server: Option<String>,
    /// Server as a URL: smtp://[user:password@]host[:port][?tls=...], or smtps://... for implicit TLS.
    #[arg(long, env = "SQUALL_URL", value_name = "URL", hide_env_values = true)]
    url: Option<String>,
    /// Sender (envelope and From header).
    #[arg(long, value_name = "ADDR")]
    from: String,
    /// Recipient (To). Repeatable.
    #[arg(long, value_name = "ADDR", required = true)]
    to: Vec<String>,
    /// Copy recipient (Cc). Repeatable.
    #[arg(long, value_name = "ADDR")]
    cc: Vec<String>,
    /// Hidden recipient: gets the message, never appears in it. Repeatable.
    #[arg(long, value_name = "ADDR")]
    bcc: Vec<String>,
    /// Subject.
    #[arg(long)]
    subject: Option<String>,
    /// Plain-text body.
    #[arg(long, conflicts_with = "body_file")]
    body: Option<String>,
    /// Plain-text body from a file ('-' for stdin).
    #[arg(long, value_name = "PATH")]
    body_file: Option<PathBuf>,
    /// HTML body from a file.
    #[arg(long, value_name = "PATH")]
    html_file: Option<PathBuf>,
    /// Attach a file. Repeatable.
    #[arg(long, value_name = "PATH")]
    attach: Vec<PathBuf>,
    /// Extra header, 'Name: value'. Repeatable.
    #[arg(long = "header", value_name = "'NAME: VALUE'")]
    headers: Vec<String>,
    /// Send this complete RFC 5322 message as it is ('-' for stdin); --to and --bcc give the envelope.
    #[arg(long, value_name = "PATH|-", conflicts_with_all = ["subject", "body", "body_file", "html_file", "attach", "headers", "cc"])]
    raw_file: Option<PathBuf>,
    /// Name to give in EHLO (default: the local address as [a.b.c.d]).
    #[arg(long, value_name = "NAME")]
    ehlo: Option<String>,
    /// TLS mode (default from the port).
    #[arg(long, value_enum)]
    tls: Option<TlsArg>,
    /// Log in as this user (the password comes from --password-env or --password-file, never argv).
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Read the password (or, with --auth xoauth2, the access token) from this environment variable.
    #[arg(long, value_name = "VAR", requires = "user", conflicts_with = "password_file")]
    password_env: Option<String>,
    /// Read the password (or token) from the first line of this file.
    #[arg(long, value_name = "PATH", requires = "user")]
    password_file: Option<PathBuf>,
    /// SASL mechanism (default: the strongest the server offers).
    #[arg(long, value_enum, requires = "user")]
    auth: Option<AuthArg>,
    /// Allow sending credentials without TLS (test servers only).
    #[arg(long)]
    allow_insecure_auth: bool,
    /// Also trust the CA certificates in this PEM file (for a private CA).
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// Accept any server certificate: the connection can then be intercepted. Test servers only.
    #[arg(long)]
    dangerously_skip_certificate_verification: bool,
    /// Give up on any single wait after this many seconds.
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    /// Print the receipt (or the error) as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Print the SMTP dialog to stderr (secrets redacted).
    #[arg(long)]
    transcript: bool,
}

/// Where the message goes.
enum Target {
    Server(Box<ClientBuilder>),
    /// Nothing configured: the built-in capture server, saving into this directory.
    Capture(PathBuf),
}

pub(crate) async fn run(args: SendArgs) -> u8 {
    match send(&args).await {
        Ok(code) => code,
        Err((code, e)) => {
            if args.json {
                println!("{}", output::error_json(&e));
            } else {
                eprintln!("squall: {e}");
            }
            code
        }
    }
}

async fn send(args: &SendArgs) -> Result<u8, (u8, Error)> {
    let target = target(args).map_err(|e| (exit::CONFIG, e))?;
    let (body, to, message_id) = content(args).await?;
    let (builder, capture) = match target {
        Target::Server(b) => (*b, None),
        Target::Capture(dir) => {
            let sink = Sink::builder().maildir(&dir).start().await.map_err(|e| {
                (
                    exit::SOFTWARE,
                    input_error(format!("cannot start the capture server: {e}")),
                )
            })?;
            let b = Client::builder(sink.addr().ip().to_string())
                .port(sink.addr().port())
                .tls(Tls::None);
            (b, Some(sink))
        }
    };
    let mut builder = builder;
    if let Some(name) = &args.ehlo {
        builder = builder.ehlo(name);
    }
    if let Some(t) = args.tls {
        builder = builder.tls(match t {
            TlsArg::None => Tls::None,
            TlsArg::Opportunistic => Tls::Opportunistic,
            TlsArg::Starttls => Tls::StartTls,
            TlsArg::Implicit => Tls::Implicit,
        });
    }
    if let Some(secs) = args.timeout {
        let d = Duration::try_from_secs_f64(secs)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                (
                    exit::USAGE,
                    input_error(format!(
                        "--timeout must be a positive number of seconds, not {secs}"
                    )),
                )
            })?;
        builder = builder.timeout(d);
    }
    if args.transcript {
        builder = builder.transcript(|line| eprintln!("{line}"));
    }
    builder = security(builder, args).map_err(|e| (exit::CONFIG, e))?;
    let client = builder.build().map_err(|e| (exit::CONFIG, e))?;
    let result = client.send(&args.from, &to, body).await;
    client.shutdown().await;
    let mut receipt = result.map_err(|e| (exit::for_error(&e), e))?;
    if receipt.message_id.is_none() {
        receipt.message_id = message_id;
    }
    let captured = capture.and_then(|sink| sink.messages().pop()).and_then(|m| m.eml);
    report(args, &receipt, captured.as_deref());
    Ok(exit::for_receipt(&receipt))
}

/// The server from --url (or SQUALL_URL) or --server; none means the capture server.
fn target(args: &SendArgs) -> Result<Target, Error> {
    if let Some(url) = &args.url {
        return Ok(Target::Server(Box::new(Client::builder_from_url(url)?)));
    }
    if let Some(server) = &args.server {
        return Ok(Target::Server(Box::new(ClientBuilder::server(server)?)));
    }
    let dir = std::env::var_os("SQUALL_CAPTURE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("squall-captured"));
    Ok(Target::Capture(dir))
}

/// Credentials, mechanism and certificate settings from the flags.
fn security(mut b: ClientBuilder, args: &SendArgs) -> Result<ClientBuilder, Error> {
    if let Some(user) = &args.user {
        let secret = match (&args.password_env, &args.password_file) {
            (Some(var), _) => std::env::var(var).map_err(|_| {
                input_error(format!(
                    "--password-env {var}: the variable is not set (or not UTF-8)"
                ))
            })?,
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| input_error(format!("--password-file {}: {e}", path.display())))?
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
            (None, None) => {
                return Err(input_error(
                    "--user needs --password-env VAR or --password-file PATH (passwords never go on the command line)".into(),
                ));
            }
        };
        b = match args.auth {
            Some(AuthArg::Xoauth2) => b.oauth2(user, &secret),
            _ => b.credentials(user, &secret),
        };
        if let Some(m) = args.auth {
            b = b.mechanism(Mechanism::from_name(match m {
                AuthArg::Plain => "PLAIN",
                AuthArg::Login => "LOGIN",
                AuthArg::CramMd5 => "CRAM-MD5",
                AuthArg::Xoauth2 => "XOAUTH2",
            }));
        }
    }
    if let Some(ca) = &args.ca_file {
        b = b.ca_file(ca);
    }
    Ok(b.allow_insecure_auth(args.allow_insecure_auth)
        .dangerously_skip_certificate_verification(args.dangerously_skip_certificate_verification))
}

/// The body to send, the envelope recipients, and the Message-ID when squall made the message.
async fn content(args: &SendArgs) -> Result<(Body, Vec<String>, Option<String>), (u8, Error)> {
    let mut to: Vec<String> = args.to.clone();
    if let Some(path) = &args.raw_file {
        to.extend(args.bcc.iter().cloned());
        let bytes = read_input(path).map_err(|e| (exit::NOINPUT, e))?;
        return Ok((Body::from(bytes), to, None));
    }
    let mut b = Message::builder().from(&args.from);
    for t in &args.to {
        b = b.to(t);
    }
    for c in &args.cc {
        b = b.cc(c);
        to.push(c.clone());
    }
    to.extend(args.bcc.iter().cloned());
    if let Some(s) = &args.subject {
        b = b.subject(s);
    }
    let text = match (&args.body, &args.body_file) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(p)) => {
            let bytes = read_input(p).map_err(|e| (exit::NOINPUT, e))?;
            Some(String::from_utf8(bytes).map_err(|_| {
                (
                    exit::DATAERR,
                    input_error(format!("{} is not UTF-8 text", p.display())),
                )
            })?)
        }
        (None, None) => None,
    };
    if let Some(t) = &text {
        b = b.text(t);
    }
    if let Some(p) = &args.html_file {
        let html = std::fs::read_to_string(p).map_err(|e| {
            (
                exit::NOINPUT,
                input_error(format!("cannot read {}: {e}", p.display())),
            )
        })?;
        b = b.html(&html);
    }
    for p in &args.attach {
        if !p.is_file() {
            return Err((
                exit::NOINPUT,
                input_error(format!("cannot attach {}: not a readable file", p.display())),
            ));
        }
        b = b.attach_file(p);
    }
    for h in &args.headers {
        let (name, value) = h.split_once(':').ok_or_else(|| {
            (
                exit::USAGE,
                input_error(format!("--header {h:?} must look like 'Name: value'")),
            )
        })?;
        b = b.header(name.trim(), value.trim());
    }
    let message = b.build().map_err(|e| (exit::DATAERR, e))?;
    let id = message.message_id().to_string();
    Ok((Body::from(message.bytes()), to, Some(id)))
}

fn read_input(path: &Path) -> Result<Vec<u8>, Error> {
    if path == Path::new("-") {
        let mut v = Vec::new();
        std::io::stdin()
            .read_to_end(&mut v)
            .map_err(|e| input_error(format!("cannot read stdin: {e}")))?;
        return Ok(v);
    }
    std::fs::read(path).map_err(|e| input_error(format!("cannot read {}: {e}", path.display())))
}

fn input_error(msg: String) -> Error {
    squall::Error::from_input(msg)
}

fn report(args: &SendArgs, r: &Receipt, captured: Option<&Path>) {
    if args.json {
        println!(
            "{}",
            output::receipt_json(r, captured.map(|p| p.display().to_string()))
        );
        return;
    }
    let (line, refusals) = output::receipt_text(r);
    println!("{line}");
    for x in refusals {
        eprintln!("squall: {x}");
    }
    if let Some(p) = captured {
        println!(
            "No server was given (--server, --url or SQUALL_URL), so the message went to squall's \
             built-in capture server instead of being sent.\nSaved: {}",
            p.display()
        );
    }
    let _ = std::io::stdout().flush();
}
