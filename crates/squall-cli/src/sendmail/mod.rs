//! `squall sendmail`, also run as `sendmail`: a message on stdin, sent through the configured
//! account, with sendmail's options and exit codes, so that cron, mutt, git send-email and PHP's
//! mail() can use squall unchanged.

mod addresses;
mod args;
mod dots;
mod headers;
mod input;
mod lines;
mod split;
mod spool;

use std::ffi::OsString;

use squall::{Error, NamedAddress};
use squall_proto::address::{Mailbox, ReversePath};
use tokio::io::AsyncReadExt;

use crate::conn::{Choice, ConnArgs};
use crate::queue::{self, Content, Report};
use crate::{exit, output};

pub(crate) const HELP: &str = "Usage: squall sendmail [OPTIONS] [--] [RECIPIENT...] < message
       sendmail [OPTIONS] [--] [RECIPIENT...] < message      (a link named sendmail)

Reads an RFC 5322 message on stdin and sends it through the default account (or SQUALL_URL).
Prints nothing on success; exit codes follow sysexits.h as sendmail's do.

Options:
  -t            also send to the addresses in To, Cc and Bcc (Bcc is removed before sending)
  -i, -oi       a line holding only '.' does not end the message
  -f ADDR       envelope sender (also -r; '<>' for none); default: the account's from, else
                the From field
  -F NAME       the sender's name, for a From field added when the message has none
  -v            print the SMTP dialog to stderr
  --account NAME, --config PATH, --server HOST[:PORT]   choose the server (squall's own)
  --queue, -odq put the message in squall's durable queue instead of sending it now (also
                `queue = true` in the account); `squall queue run` sends it later. Exit 0
                once it is committed to disk, 75 when the queue cannot take it (nothing kept)
  --queue-url URL   the queue: sqlite:PATH or postgres://USER@HOST:PORT/DB (default:
                SQUALL_QUEUE_URL, else the accounts file's queue_url, else
                $XDG_STATE_HOME/squall/queue.db)
  Accepted and ignored: -odi -odb -oem -oep and other -o settings, -B TYPE, -h N, -L TAG,
  -N DSN, -R RET, -V ENVID, -X FILE, -C FILE, -A X, -m -n -U -G, -bm.
  Refused: -bp -bs -bd -bi -q and other modes: squall sendmail only sends (or queues).

Lines end at CR, LF or CRLF, as they are sent. A header with a bare CR or a NUL, or longer
than 1 MiB, is refused (exit 65); a leading mbox 'From ' line is dropped. A message over
4 MiB waits in a private temporary file, deleted on exit.

Examples:
  printf 'Subject: hi\\n\\nhello\\n' | squall sendmail you@example.org
  squall sendmail -t -i < message.eml
  git send-email --sendmail-cmd='squall sendmail' --to list@example.org 0001-fix.patch
  squall sendmail --queue -t < message.eml ; squall queue run --until-empty   (msmtpq)";

pub(crate) async fn run(prog: &str, argv: Vec<OsString>) -> u8 {
    let opts = match args::parse(argv) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{prog}: {e} (see {prog} --help)");
            return exit::USAGE;
        }
    };
    if opts.help {
        println!("{HELP}");
        return exit::OK;
    }
    // On a signal, `send` is dropped: a spool file is deleted, and the caller hears "try again".
    let result = tokio::select! {
        r = send(&opts) => r,
        signal = stopped() => Err((
            exit::TEMPFAIL,
            Error::from_input(format!("stopped by {signal} before the message was sent")),
        )),
    };
    // A message read for the queue is committed outside the select: a signal now (caught and
    // ignored, as `stopped` installed the handlers) cannot make a committed message exit 75
    // and be handed over again. The commit takes milliseconds, at most the 5 s busy timeout.
    let result = match result {
        Ok(Done::Queue(held)) => {
            let (envelope, message, route) = *held;
            enqueue(&opts, envelope, message, route).await
        }
        Ok(Done::Sent(code)) => Ok(code),
        Err(e) => Err(e),
    };
    match result {
        Ok(code) => code,
        Err((code, e)) => {
            eprintln!("{prog}: {e}");
            code
        }
    }
}

/// What [`send`] leaves to do.
enum Done {
    /// Sent (or refused): the exit code.
    Sent(u8),
    /// Read and held, for the durable queue, with the account it goes out through (its route).
    Queue(Box<(Envelope, spool::Spooled, Option<String>)>),
}

async fn send(opts: &args::Options) -> Result<Done, (u8, Error)> {
    let conn = ConnArgs::choose(opts.server.clone(), opts.account.clone(), opts.config.clone());
    let choice = conn.choice()?;
    // Queueing needs no server: `squall queue run` chooses it when it sends.
    let queue = opts.queue || choice.as_ref().is_some_and(Choice::queues);
    if choice.is_none() && !queue {
        return Err((
            exit::CONFIG,
            Error::from_input(
                "no server configured: set SQUALL_URL, or write an accounts file \
                 (`squall config path` shows where; `squall config --help` shows how), \
                 or queue the message with --queue for `squall queue run`",
            ),
        ));
    }
    let account_from = choice
        .as_ref()
        .and_then(Choice::from)
        .and_then(|f| NamedAddress::parse(f).ok());
    let mut stdin = Stdin::new(opts.ignore_dots);
    let (head, split) = stdin.header().await?;
    let header = headers::Header::read(head, split);
    let envelope = Envelope::choose(opts, account_from, &header)?;
    let prefix = header.to_send(&envelope.header_from, envelope.full_name.as_deref());
    let message = stdin.spool(&prefix).await?;
    if queue {
        let route = choice.as_ref().and_then(Choice::route).map(str::to_string);
        return Ok(Done::Queue(Box::new((envelope, message, route))));
    }

    let target = choice.expect("checked above").into_target()?;
    let mut builder = conn.apply(target.builder)?;
    if opts.verbose {
        builder = builder.transcript(output::transcript_printer());
    }
    let client = builder.build().map_err(|e| (exit::CONFIG, e))?;
    let from = envelope.sender.to_string();
    let result = client.send(&from, &envelope.recipients, message.body).await;
    client.shutdown().await;
    let receipt = result.map_err(|e| (exit::for_error(&e), e))?;
    for r in &receipt.rejected {
        eprintln!("squall sendmail: {r} (other recipients were delivered)");
    }
    Ok(Done::Sent(exit::for_receipt(&receipt)))
}

/// `--queue` or an account's `queue = true`: the message into the durable queue, streamed from
/// where it waits; 0 only once it is committed, 75 when the database cannot take it now.
/// `route` is the account it was queued through: `squall queue run` sends it through that one.
async fn enqueue(
    opts: &args::Options,
    envelope: Envelope,
    message: spool::Spooled,
    route: Option<String>,
) -> Result<u8, (u8, Error)> {
    let mut recipients = Vec::with_capacity(envelope.recipients.len());
    for r in &envelope.recipients {
        let mailbox = Mailbox::parse(r).map_err(|e| {
            (
                exit::DATAERR,
                Error::from_input(format!("invalid recipient address {r:?}: {e}")),
            )
        })?;
        recipients.push(mailbox);
    }
    let queued = squall::Envelope::new(envelope.sender, recipients)
        .map_err(|e| (exit::USAGE, Error::from_input(e.to_string())))?;
    // The temporary file, if any, is read by the enqueue: it goes with `message`, at the end.
    let content = match message.path().map(std::path::Path::to_path_buf) {
        Some(path) => Content::File(path),
        None => Content::Body(message.body),
    };
    let db = queue::QueueUrl {
        queue_url: opts.queue_url.clone(),
        config: opts.config.clone(),
    };
    Ok(queue::add(&db, Report::Silent, queued, content, None, route).await)
}

/// Whom the message is from and for.
struct Envelope {
    sender: ReversePath,
    /// The address for a From field, if one is added: never the null sender.
    header_from: String,
    /// The name for that From field.
    full_name: Option<String>,
    recipients: Vec<String>,
}

impl Envelope {
    /// The sender is `-f`, else the account's `from`, else the message's From, else the local
    /// user; the recipients are the arguments, and with `-t` those of the header.
    fn choose(
        opts: &args::Options,
        account_from: Option<NamedAddress>,
        header: &headers::Header<'_>,
    ) -> Result<Self, (u8, Error)> {
        let account_mailbox = account_from.as_ref().map(|a| a.mailbox.to_string());
        let sender = match opts.sender.as_deref() {
            Some(arg) => envelope_sender(arg)?,
            None => envelope_sender(
                &account_mailbox
                    .clone()
                    .or_else(|| header.sender_address())
                    .map_or_else(local_sender, Ok)?,
            )?,
        };
        let header_from = match sender.mailbox() {
            Some(m) => m.to_string(),
            None => header_mailbox(account_mailbox.map_or_else(local_sender, Ok)?)?,
        };
        let mut recipients = opts.recipients.clone();
        if opts.extract {
            let found = header.recipients();
            recipients.extend(found.map_err(|e| (exit::DATAERR, Error::from_input(e.to_string())))?);
        }
        if recipients.is_empty() {
            return Err((
                exit::USAGE,
                Error::from_input(
                    "no recipients: give them as arguments, or use -t to take them from the message",
                ),
            ));
        }
        Ok(Self {
            sender,
            header_from,
            full_name: opts
                .full_name
                .clone()
                .or_else(|| account_from.and_then(|a| a.name)),
            recipients,
        })
    }
}

/// stdin, read 64 KiB at a time through an [`input::Reader`].
struct Stdin {
    stdin: tokio::io::Stdin,
    buf: Vec<u8>,
    reader: input::Reader,
    /// Body bytes from the last piece.
    body: Vec<u8>,
}

impl Stdin {
    fn new(ignore_dots: bool) -> Self {
        Self {
            stdin: tokio::io::stdin(),
            buf: vec![0; 64 << 10],
            reader: input::Reader::new(ignore_dots),
            body: Vec::new(),
        }
    }

    /// Reads until the header section is known.
    async fn header(&mut self) -> Result<(&[u8], split::Split), (u8, Error)> {
        while self.reader.header().is_none() {
            self.next_piece().await?;
        }
        Ok(self.reader.header().expect("the loop ends when it is known"))
    }

    /// Spools `prefix` (the header to send), then the body, reading it to its end.
    async fn spool(mut self, prefix: &[u8]) -> Result<spool::Spooled, (u8, Error)> {
        let mut spool = spool::Spool::new();
        spool.write(prefix).await.map_err(spool_error)?;
        loop {
            spool.write(&self.body).await.map_err(spool_error)?;
            if self.reader.ended() {
                break;
            }
            self.body.clear();
            self.next_piece().await?;
        }
        spool.finish().await.map_err(spool_error)
    }

    /// Reads the next piece into the reader, which appends any body bytes to `self.body`.
    async fn next_piece(&mut self) -> Result<(), (u8, Error)> {
        let n = self.stdin.read(&mut self.buf).await.map_err(|e| {
            (
                exit::IOERR,
                Error::from_input(format!("cannot read the message on stdin: {e}")),
            )
        })?;
        let result = if n == 0 {
            self.reader.finish(&mut self.body)
        } else {
            self.reader.push(&self.buf[..n], &mut self.body)
        };
        result.map_err(|e| (exit::DATAERR, Error::from_input(e.to_string())))
    }
}

fn spool_error(e: std::io::Error) -> (u8, Error) {
    (
        exit::IOERR,
        Error::from_input(format!(
            "cannot hold the message in a temporary file (in {}): {e}",
            std::env::temp_dir().display()
        )),
    )
}

/// The envelope sender from `-f` (with or without angle brackets; `<>` or `''` for none).
fn envelope_sender(arg: &str) -> Result<ReversePath, (u8, Error)> {
    let bare = arg.trim();
    let bare = bare
        .strip_prefix('<')
        .and_then(|b| b.strip_suffix('>'))
        .unwrap_or(bare);
    ReversePath::parse(bare).map_err(|e| {
        (
            exit::DATAERR,
            Error::from_input(format!("invalid sender address {arg:?}: {e}")),
        )
    })
}

/// A mailbox checked for a From field (no line break or other surprise can reach the header).
fn header_mailbox(addr: String) -> Result<String, (u8, Error)> {
    Mailbox::parse(&addr).map(|m| m.to_string()).map_err(|e| {
        (
            exit::CONFIG,
            Error::from_input(format!(
                "cannot make a From address of {addr:?}: {e}; give one with -f or an account's `from`"
            )),
        )
    })
}

/// `user@host` for the user running this, as sendmail does without `-f`.
fn local_sender() -> Result<String, (u8, Error)> {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "root".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    header_mailbox(format!("{user}@{host}"))
}

/// Waits for SIGINT, SIGTERM or SIGHUP, and names it. A signal this process was started with
/// ignored (`nohup` ignores SIGHUP, a shell's `&` SIGINT) stays ignored: it is not watched.
async fn stopped() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let ignored = ignored_signals();
    let watch = |kind: SignalKind, name| {
        let watched = ignored & (1 << (kind.as_raw_value() - 1)) == 0;
        let stream = watched.then(|| signal(kind).ok()).flatten();
        async move {
            match stream {
                Some(mut s) => {
                    s.recv().await;
                    name
                }
                None => std::future::pending().await,
            }
        }
    };
    let (int, term, hup) = (
        watch(SignalKind::interrupt(), "SIGINT"),
        watch(SignalKind::terminate(), "SIGTERM"),
        watch(SignalKind::hangup(), "SIGHUP"),
    );
    tokio::select! {
        name = int => name,
        name = term => name,
        name = hup => name,
    }
}

/// The signals ignored by this process, as a mask (bit n-1 for signal n), from Linux's
/// /proc/self/status; none where that cannot be read.
fn ignored_signals() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .unwrap_or(0)
}
