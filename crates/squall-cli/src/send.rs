//! `squall send`: one message, from flags or a raw file, to a server or the built-in sink.
//!
//! The flags make a [`Message`]: addresses as mail clients write them (`addresses`), files
//! (`attach`), and a text from `--body`, `--body-file` or stdin (`text`). A text too large to
//! hold in memory is written into the rendered message in a temporary file (`compose`). DSN and
//! REQUIRETLS go on the envelope (`dsn`).

mod addresses;
mod attach;
mod compose;
mod direct;
mod dsn;
mod text;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use squall::{Body, Client, Envelope, Error, Message, NamedAddress, Receipt, Tls};
use squall_proto::address::ReversePath;
use squall_proto::command::{Command, MailParams};
use squall_proto::params::MailOptions;
use squall_sink::Sink;

use crate::conn::ConnArgs;
use crate::{exit, output};

pub(crate) const EXAMPLES: &str = "Examples:
  squall send --from 'Me <me@example.org>' --to you@example.org --subject hi --body 'Hello!'
  echo 'Hello!' | squall send --from a@example.org --to 'Ann <ann@example.org>, b@example.org'
  df -h | squall send --from a@example.org --to admin@example.org --subject 'disk usage'
  squall send --server mail.example.org:587 --from a@example.org --to b@example.org --body-file f
  squall send --from a@example.org --to b@example.org --attach 'scan.bin;type=application/pdf'
  squall send --from a@example.org --to b@example.org --html-file news.html --inline logo=logo.png
  squall send --from a@example.org --to b@example.org --body hi --notify failure,delay --ret hdrs
  squall send --url smtp://localhost:2525 --from a@example.org --to b@example.org --raw-file m.eml
  squall send --account work --to you@example.org --subject hi --body 'Hello!' --dry-run

Addresses: me@example.org, 'Me <me@example.org>', '\"Doe, J.\" <j@example.org>', or a list of
them separated by commas. The text: --body, --body-file, or standard input when neither is
given (squall stops with exit code 64 instead of waiting on a terminal); '-' reads stdin.";

#[derive(Args, Debug)]
pub(crate) struct SendArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Sender, 'Name <address>' or an address (envelope and From); default: the account's `from`.
    #[arg(long, value_name = "ADDR")]
    from: Option<String>,
    /// Recipients (To): an address, 'Name <address>', or a list separated by commas. Repeatable.
    #[arg(long, value_name = "ADDRS", required = true)]
    to: Vec<String>,
    /// Copy recipients (Cc), as --to takes them. Repeatable.
    #[arg(long, value_name = "ADDRS")]
    cc: Vec<String>,
    /// Hidden recipients: they get the message and never appear in it. Repeatable.
    #[arg(long, value_name = "ADDRS")]
    bcc: Vec<String>,
    /// Where replies go (Reply-To), as --to takes them. Repeatable.
    #[arg(long, value_name = "ADDRS")]
    reply_to: Vec<String>,
    /// Subject.
    #[arg(long)]
    subject: Option<String>,
    /// Plain-text body ('-' reads it from stdin). Without --body and --body-file, stdin is read
    /// when it is not a terminal.
    #[arg(long, conflicts_with = "body_file")]
    body: Option<String>,
    /// Plain-text body from a file ('-' for stdin).
    #[arg(long, value_name = "PATH")]
    body_file: Option<PathBuf>,
    /// HTML body from a file (sent with the text as its alternative).
    #[arg(long, value_name = "PATH")]
    html_file: Option<PathBuf>,
    /// Attach a file, optionally with its type and the name recipients see. Repeatable.
    #[arg(long, value_name = "PATH[;type=TYPE][;name=NAME]")]
    attach: Vec<OsString>,
    /// A file the HTML body shows as <img src="cid:CID">. Repeatable.
    #[arg(long, value_name = "CID=PATH[;type=TYPE][;name=NAME]", requires = "html_file")]
    inline: Vec<OsString>,
    /// Extra header, 'Name: value'. Repeatable.
    #[arg(long = "header", value_name = "'NAME: VALUE'")]
    headers: Vec<String>,
    /// Delivery status notifications to ask for: never, or a list of success, failure, delay.
    #[arg(long, value_name = "EVENTS")]
    notify: Option<String>,
    /// What a failure notification returns: full (the message) or hdrs (its headers).
    #[arg(long, value_name = "full|hdrs")]
    ret: Option<String>,
    /// An identifier for this message that notifications quote (printable ASCII).
    #[arg(long, value_name = "ID")]
    envid: Option<String>,
    /// REQUIRETLS (RFC 8689): send only over TLS to a server that offers REQUIRETLS, and ask
    /// every later hop to do the same.
    #[arg(long)]
    require_tls: bool,
    /// Send this complete RFC 5322 message as it is ('-' for stdin); --to and --bcc give the envelope.
    #[arg(long, value_name = "PATH|-", conflicts_with_all = ["subject", "body", "body_file", "html_file", "attach", "inline", "headers", "cc", "reply_to"])]
    raw_file: Option<PathBuf>,
    /// Deliver straight to each recipient domain's MX hosts (by preference, the next one after
    /// a temporary failure; opportunistic TLS), without a relay. MTA-STS and DANE are not checked.
    #[arg(long, conflicts_with_all = ["server", "url", "account", "lmtp", "proxy"])]
    direct: bool,
    /// With --direct: the DNS server to ask (IP:PORT) instead of the system's.
    #[arg(long, value_name = "IP:PORT", requires = "direct")]
    dns: Option<String>,
    /// With --direct: connect to this port of the MX hosts instead of 25 (tests).
    #[arg(long, value_name = "PORT", requires = "direct", hide = true)]
    mx_port: Option<u16>,
    /// Print the receipt (or the error) as one JSON object on stdout; with --direct, one object
    /// with each domain's outcome (`{"domains": [...]}`).
    #[arg(long)]
    json: bool,
    /// Print the SMTP dialog to stderr (secrets redacted; coloured on a terminal).
    #[arg(long)]
    transcript: bool,
    /// Print the envelope and the message as they would be sent, and send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Put the message in the durable queue instead of sending it now (`squall queue run`
    /// sends it).
    #[arg(long, conflicts_with = "dry_run")]
    pub(crate) queue: bool,
    #[command(flatten)]
    queue_db: crate::queue::QueueUrl,
}

pub(crate) async fn run(args: SendArgs) -> u8 {
    send(&args)
        .await
        .unwrap_or_else(|e| output::fail(args.json, "squall", e))
}

async fn send(args: &SendArgs) -> Result<u8, (u8, Error)> {
    let target = args.conn.target()?;
    let from = match (&args.from, target.as_ref().and_then(|t| t.from.as_deref())) {
        (Some(f), _) => addresses::one("--from", f)?,
        (None, Some(f)) => addresses::one("the account's from", f)?,
        (None, None) => {
            return Err((
                exit::USAGE,
                input_error("give the sender with --from ADDR (or `from` in the account)".into()),
            ));
        }
    };
    let dsn = dsn::Dsn::from_flags(
        args.notify.as_deref(),
        args.ret.as_deref(),
        args.envid.as_deref(),
        args.require_tls,
    )?;
    let prepared = prepare(args, from, &dsn).await?;
    if args.dry_run {
        return dry_run(args, prepared).await;
    }
    if args.queue {
        let route = target.as_ref().and_then(|t| t.account.clone());
        return Ok(queued(args, prepared, route).await);
    }
    if args.direct {
        return direct::send(args, prepared).await;
    }
    let (builder, capture) = match target {
        Some(t) => (t.builder, None),
        None => {
            // Nothing configured: the built-in capture server, saving into a directory.
            let dir = std::env::var_os("SQUALL_CAPTURE_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join("squall-captured"));
            let sink = Sink::builder().eml_dir(&dir).start().await.map_err(|e| {
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
    let mut builder = args.conn.apply(builder)?;
    if args.transcript {
        builder = builder.transcript(output::transcript_printer());
    }
    let client = builder.build().map_err(|e| (exit::CONFIG, e))?;
    let Prepared {
        envelope,
        body,
        message_id,
        spool,
    } = prepared;
    let result = client.send_envelope(envelope, body).await;
    client.shutdown().await;
    // The spool file is read by every attempt: it goes only now.
    drop(spool);
    let mut receipt = result.map_err(|e| (exit::for_error(&e), e))?;
    if receipt.message_id.is_none() {
        receipt.message_id = message_id;
    }
    let captured = capture.and_then(|sink| sink.messages().pop()).and_then(|m| m.eml);
    report(args, &receipt, captured.as_deref());
    Ok(exit::for_receipt(&receipt))
}

/// `--queue`: into the durable queue, the content streamed from where it is; `route` is the
/// account the server came from, which `queue run` sends it through.
async fn queued(args: &SendArgs, prepared: Prepared, route: Option<String>) -> u8 {
    use crate::queue::Content;
    let Prepared {
        envelope,
        body,
        message_id,
        spool,
    } = prepared;
    let content = match (&spool, &args.raw_file) {
        (Some(s), _) => Content::File(s.path().to_path_buf()),
        (None, Some(p)) if p == Path::new("-") => Content::Stdin,
        (None, Some(p)) => Content::File(p.clone()),
        (None, None) => Content::Body(body),
    };
    let report = if args.json {
        crate::queue::Report::Json
    } else {
        crate::queue::Report::Text
    };
    let db = args
        .queue_db
        .clone()
        .with_config(args.conn.config().map(Path::to_path_buf));
    let code = crate::queue::add(&db, report, envelope, content, message_id, route).await;
    drop(spool);
    code
}

/// What to send: the envelope (DSN and REQUIRETLS on it), the content, the Message-ID when
/// squall made the message, and the spool file the content may be in.
struct Prepared {
    envelope: Envelope,
    body: Body,
    message_id: Option<String>,
    spool: Option<compose::Spool>,
}

/// The message from the flags (or the raw file), and its envelope.
async fn prepare(args: &SendArgs, from: NamedAddress, dsn: &dsn::Dsn) -> Result<Prepared, (u8, Error)> {
    if let Some(path) = &args.raw_file {
        return raw(args, from, dsn, path).await;
    }
    let mut m = fields(args, from)?;
    let other_content = files(args, &mut m).await?;
    // The text is read last, once everything else is known to be right.
    let (body, options, spool) = text_part(args, &mut m, other_content).await?;
    let envelope = m.envelope().map_err(|e| (exit::DATAERR, e))?;
    let envelope = dsn.envelope(
        envelope.from().clone(),
        envelope.recipients().iter().map(|r| r.mailbox.clone()),
        options,
    )?;
    Ok(Prepared {
        envelope,
        body,
        message_id: Some(m.message_id().to_string()),
        spool,
    })
}

/// A refusal of `name`'s value by the library: exit 65, the flag named.
fn flag(name: &'static str) -> impl Fn(Error) -> (u8, Error) {
    move |e| (exit::DATAERR, input_error(format!("{name}: {}", e.summary())))
}

/// The message's header fields: From, To, Cc, Bcc, Reply-To, Subject and --header.
fn fields(args: &SendArgs, from: NamedAddress) -> Result<Message, (u8, Error)> {
    // Built with its From first, so that the Message-ID is made at the sender's domain; every
    // other field is then set one by one, each error naming its flag.
    let mut m = Message::builder().from(from).build().map_err(flag("--from"))?;
    for a in addresses::list("--to", &args.to)? {
        m.add_to(a).map_err(flag("--to"))?;
    }
    for a in addresses::list("--cc", &args.cc)? {
        m.add_cc(a).map_err(flag("--cc"))?;
    }
    for a in addresses::list("--bcc", &args.bcc)? {
        m.add_bcc(a).map_err(flag("--bcc"))?;
    }
    for a in addresses::list("--reply-to", &args.reply_to)? {
        m.add_reply_to(a).map_err(flag("--reply-to"))?;
    }
    if let Some(s) = &args.subject {
        m.set_subject(s).map_err(flag("--subject"))?;
    }
    for h in &args.headers {
        let (name, value) = h.split_once(':').ok_or_else(|| {
            (
                exit::USAGE,
                input_error(format!("--header {h:?} must look like 'Name: value'")),
            )
        })?;
        m.add_header(name.trim(), value.trim())
            .map_err(flag("--header"))?;
    }
    Ok(m)
}

/// The HTML body, attachments and inline parts; whether there is any of them.
async fn files(args: &SendArgs, m: &mut Message) -> Result<bool, (u8, Error)> {
    let html = match &args.html_file {
        Some(p) => Some(read_html(p).await?),
        None => None,
    };
    if let Some(h) = &html {
        m.set_html(h);
    }
    for value in &args.attach {
        m.attach(attach::attachment(value).await?);
    }
    for value in &args.inline {
        let (cid, part) = attach::inline(value).await?;
        m.add_inline(&cid, part).map_err(flag("--inline"))?;
        if !html.as_deref().is_some_and(|h| h.contains(&format!("cid:{cid}"))) {
            eprintln!(
                "squall: warning: --inline {cid:?}: the HTML does not mention \"cid:{cid}\", so it will not show the part"
            );
        }
    }
    Ok(html.is_some() || !args.attach.is_empty())
}

/// `--html-file`: held in memory by the message, so a regular file (not /dev/zero).
async fn read_html(p: &Path) -> Result<String, (u8, Error)> {
    let unreadable = |why: String| {
        (
            exit::NOINPUT,
            input_error(format!("--html-file {p:?}: cannot read it: {why}")),
        )
    };
    match tokio::fs::metadata(p).await {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(unreadable("not a regular file".into())),
        Err(e) => return Err(unreadable(e.to_string())),
    }
    tokio::fs::read_to_string(p)
        .await
        .map_err(|e| unreadable(e.to_string()))
}

/// The text part from --body, --body-file or stdin, put into `m`; the content to send, what
/// MAIL declares for it, and the spool file it is in when it is large.
async fn text_part(
    args: &SendArgs,
    m: &mut Message,
    other_content: bool,
) -> Result<(Body, MailOptions, Option<compose::Spool>), (u8, Error)> {
    let source = text::Source::choose(
        args.body.as_deref(),
        args.body_file.as_deref(),
        other_content,
        std::io::stdin().is_terminal(),
    )?;
    let text = tokio::task::spawn_blocking(move || text::read(source))
        .await
        .map_err(|e| {
            (
                exit::SOFTWARE,
                input_error(format!("reading the body failed: {e}")),
            )
        })??;
    match text {
        text::Text::Spooled(t) => {
            let c = compose::compose(m, t).await?;
            Ok((c.body, c.options, Some(c.spool)))
        }
        text::Text::Memory(t) => {
            m.set_text(&t);
            Ok((Body::from(m.bytes()), content_options(m)?, None))
        }
        text::Text::Nothing => Ok((Body::from(m.bytes()), content_options(m)?, None)),
    }
}

/// What MAIL declares for a message held in memory (the library's measure of it).
fn content_options(m: &Message) -> Result<MailOptions, (u8, Error)> {
    Ok(m.envelope().map_err(|e| (exit::DATAERR, e))?.options().clone())
}

/// `--raw-file`: the message as it is; the envelope from --from, --to and --bcc.
async fn raw(
    args: &SendArgs,
    from: NamedAddress,
    dsn: &dsn::Dsn,
    path: &Path,
) -> Result<Prepared, (u8, Error)> {
    let rcpts = addresses::list("--to", &args.to)?
        .into_iter()
        .chain(addresses::list("--bcc", &args.bcc)?)
        .map(|a| a.mailbox);
    // Streamed, never read whole: a raw message may be larger than memory.
    let (body, options) = if path == Path::new("-") {
        if std::io::stdin().is_terminal() {
            eprintln!(
                "squall: reading the message from the terminal; end it with Ctrl-D on a line of its own"
            );
        }
        (Body::from_reader(tokio::io::stdin()), MailOptions::for_stream())
    } else {
        let unreadable = |e: std::io::Error| {
            (
                exit::NOINPUT,
                input_error(format!("--raw-file {path:?}: cannot read it: {e}")),
            )
        };
        let body = Body::file(path).await.map_err(unreadable)?;
        let owned = path.to_path_buf();
        let profile = tokio::task::spawn_blocking(move || compose::profile_of(&owned))
            .await
            .map_err(|e| {
                (
                    exit::SOFTWARE,
                    input_error(format!("reading the message failed: {e}")),
                )
            })?
            .map_err(unreadable)?;
        (body, compose::options_for(profile))
    };
    Ok(Prepared {
        envelope: dsn.envelope(ReversePath::Mailbox(from.mailbox), rcpts, options)?,
        body,
        message_id: None,
        spool: None,
    })
}

/// `--dry-run`: the envelope as SMTP would carry it (DSN parameters as sent to a server that
/// offers DSN; SIZE and BODY, which depend on the server, left out), then the message, on stdout.
async fn dry_run(args: &SendArgs, prepared: Prepared) -> Result<u8, (u8, Error)> {
    let Prepared {
        envelope,
        body,
        spool,
        ..
    } = prepared;
    let o = envelope.options();
    let line = |c: Command<'_>| {
        let mut v = Vec::new();
        c.encode(&mut v);
        String::from_utf8_lossy(v.strip_suffix(b"\r\n").unwrap_or(&v)).into_owned()
    };
    let mail = line(Command::Mail {
        from: envelope.from(),
        params: MailParams {
            ret: o.ret,
            envid: o.envid.as_ref(),
            require_tls: o.require_tls,
            ..MailParams::default()
        },
    });
    let rcpts: Vec<String> = envelope
        .recipients()
        .iter()
        .map(|r| line(Command::Rcpt { to: r, dsn: true }))
        .collect();
    let sender = match envelope.from() {
        ReversePath::Null => String::new(),
        ReversePath::Mailbox(m) => m.to_string(),
    };
    let read_error = |e: std::io::Error| {
        (
            exit::NOINPUT,
            input_error(format!("cannot read the message: {e}")),
        )
    };
    if args.json {
        let params = |l: &str| -> Vec<String> {
            l.rsplit_once('>')
                .map_or("", |(_, p)| p)
                .split_whitespace()
                .map(str::to_string)
                .collect()
        };
        let bytes = match &spool {
            Some(s) => tokio::fs::read(s.path()).await.map_err(read_error)?,
            None => body.read_to_vec().await.map_err(read_error)?,
        };
        let v = serde_json::json!({
            "mail_from": sender,
            "mail_params": params(&mail),
            "rcpt_to": envelope.recipients().iter().map(|r| r.mailbox.to_string()).collect::<Vec<_>>(),
            "rcpt_params": rcpts.iter().map(|l| params(l)).collect::<Vec<_>>(),
            "message": String::from_utf8_lossy(&bytes),
        });
        println!("{v}");
        return Ok(exit::OK);
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{mail}");
    for r in &rcpts {
        let _ = writeln!(out, "{r}");
    }
    let _ = writeln!(out);
    match (&spool, body.as_bytes()) {
        (Some(s), _) => {
            let mut file = std::fs::File::open(s.path()).map_err(read_error)?;
            let _ = std::io::copy(&mut file, &mut out);
        }
        (None, Some(bytes)) => {
            let _ = out.write_all(bytes);
        }
        (None, None) => {
            drop(out);
            let bytes = body.read_to_vec().await.map_err(read_error)?;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&bytes);
            let _ = out.flush();
            return Ok(exit::OK);
        }
    }
    let _ = out.flush();
    Ok(exit::OK)
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
            "No server was given (--server, --url, --account, SQUALL_URL or a default account in \
             `squall config path`), so the message went to squall's \
             built-in capture server instead of being sent.\nSaved: {}",
            p.display()
        );
    }
    let _ = std::io::stdout().flush();
}
