//! `squall send`: one message, from flags or a raw file, to a server or the built-in sink.
//!
//! The flags make a [`Message`], with addresses as mail clients write them (`addresses`).

mod addresses;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use squall::{Attachment, Body, Client, Envelope, Error, Message, NamedAddress, Receipt, Tls};
use squall_proto::address::{Mailbox, ReversePath};
use squall_sink::Sink;

use crate::conn::ConnArgs;
use crate::{exit, output};

pub(crate) const EXAMPLES: &str = "Examples:
  squall send --from me@example.org --to you@example.org --subject hi --body 'Hello!'
  squall send --server mail.example.org:587 --from me@example.org --to you@example.org --body-file note.txt
  squall send --url smtp://localhost:2525 --from a@example.org --to b@example.org --raw-file message.eml
  squall send --from a@example.org --to b@example.org --attach report.pdf --json
  squall send --account work --to you@example.org --subject hi --body 'Hello!' --dry-run";

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
    #[arg(long, value_name = "PATH|-", conflicts_with_all = ["subject", "body", "body_file", "html_file", "attach", "headers", "cc", "reply_to"])]
    raw_file: Option<PathBuf>,
    /// Print the receipt (or the error) as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Print the SMTP dialog to stderr (secrets redacted; coloured on a terminal).
    #[arg(long)]
    transcript: bool,
    /// Print the envelope and the message as they would be sent, and send nothing.
    #[arg(long)]
    dry_run: bool,
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
    // The envelope gets the address; the From field also the name.
    let sender = from.mailbox.to_string();
    let (body, to, message_id) = content(args, from).await?;
    if args.dry_run {
        return dry_run(args, &sender, &to, body).await;
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
    let result = client.send(&sender, &to, body).await;
    client.shutdown().await;
    let mut receipt = result.map_err(|e| (exit::for_error(&e), e))?;
    if receipt.message_id.is_none() {
        receipt.message_id = message_id;
    }
    let captured = capture.and_then(|sink| sink.messages().pop()).and_then(|m| m.eml);
    report(args, &receipt, captured.as_deref());
    Ok(exit::for_receipt(&receipt))
}

/// The body to send, the envelope recipients, and the Message-ID when squall made the message.
async fn content(
    args: &SendArgs,
    from: NamedAddress,
) -> Result<(Body, Vec<String>, Option<String>), (u8, Error)> {
    if let Some(path) = &args.raw_file {
        let to = addresses::list("--to", &args.to)?
            .into_iter()
            .chain(addresses::list("--bcc", &args.bcc)?)
            .map(|a| a.mailbox.to_string())
            .collect();
        // Streamed, never read whole: a raw message may be larger than memory.
        let body = if path == Path::new("-") {
            Body::from_reader(tokio::io::stdin())
        } else {
            Body::file(path).await.map_err(|e| {
                (
                    exit::NOINPUT,
                    input_error(format!("cannot read {}: {e}", path.display())),
                )
            })?
        };
        return Ok((body, to, None));
    }
    let mut m = fields(args, from)?;
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
        m.set_text(t);
    }
    if let Some(p) = &args.html_file {
        let html = std::fs::read_to_string(p).map_err(|e| {
            (
                exit::NOINPUT,
                input_error(format!("cannot read {}: {e}", p.display())),
            )
        })?;
        m.set_html(&html);
    }
    for p in &args.attach {
        if !p.is_file() {
            return Err((
                exit::NOINPUT,
                input_error(format!("cannot attach {}: not a readable file", p.display())),
            ));
        }
        m.attach(Attachment::read(p).await.map_err(|e| (exit::NOINPUT, e))?);
    }
    let envelope = m.envelope().map_err(|e| (exit::DATAERR, e))?;
    let to = envelope
        .recipients()
        .iter()
        .map(|r| r.mailbox.to_string())
        .collect();
    Ok((Body::from(m.bytes()), to, Some(m.message_id().to_string())))
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

/// `--dry-run`: the envelope as SMTP would carry it, then the message, on stdout.
async fn dry_run(args: &SendArgs, from: &str, to: &[String], body: Body) -> Result<u8, (u8, Error)> {
    let envelope = Envelope::new(
        from.parse::<ReversePath>().map_err(|e| {
            (
                exit::DATAERR,
                input_error(format!("invalid sender {from:?}: {e}")),
            )
        })?,
        to.iter()
            .map(|t| t.parse::<Mailbox>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| (exit::DATAERR, input_error(format!("invalid recipient: {e}"))))?,
    )
    .map_err(|_| (exit::USAGE, input_error("no recipient".into())))?;
    let bytes = body.read_to_vec().await.map_err(|e| {
        (
            exit::NOINPUT,
            input_error(format!("cannot read the message: {e}")),
        )
    })?;
    let sender = match envelope.from() {
        ReversePath::Null => String::new(),
        ReversePath::Mailbox(m) => m.to_string(),
    };
    if args.json {
        let v = serde_json::json!({
            "mail_from": sender,
            "rcpt_to": envelope.recipients().iter().map(|r| r.mailbox.to_string()).collect::<Vec<_>>(),
            "message": String::from_utf8_lossy(&bytes),
        });
        println!("{v}");
    } else {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "MAIL FROM:<{sender}>");
        for r in envelope.recipients() {
            let _ = writeln!(out, "RCPT TO:<{}>", r.mailbox);
        }
        let _ = writeln!(out);
        let _ = out.write_all(&bytes);
        let _ = out.flush();
    }
    Ok(exit::OK)
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
            "No server was given (--server, --url, --account, SQUALL_URL or a default account in \
             `squall config path`), so the message went to squall's \
             built-in capture server instead of being sent.\nSaved: {}",
            p.display()
        );
    }
    let _ = std::io::stdout().flush();
}
