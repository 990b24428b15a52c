//! A message whose text is too large to hold in memory.
//!
//! The library renders everything but the text: the headers, and the MIME structure around the
//! text with the HTML, inline parts and attachments (RFC 2047 names, boundaries, base64). A
//! placeholder stands where the text goes; the rendered bytes are split there, and the text is
//! copied in between — as it is when it is 7bit, else base64-encoded (with that part's
//! Content-Transfer-Encoding changed to match) — into a temporary file the client sends from.
//! So a body from stdin combines with every other flag exactly as `--body` does.
//!
//! The library has no text part read from a stream or a file; with one, this module would go.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use squall::{Body, Error, Message};
use squall_proto::data::{Profile, Scanner};
use squall_proto::params::MailOptions;

use super::text::{Spooled, spool_error};
use crate::exit;

/// How mail-builder writes a short ASCII text part, which the placeholder is.
const SEVEN_BIT: &[u8] = b"Content-Transfer-Encoding: 7bit\r\n\r\n";
const BASE64: &[u8] = b"Content-Transfer-Encoding: base64\r\n\r\n";
/// Input per base64 run: a whole number of 57-octet groups, so each run ends a 76-character line.
const BASE64_RUN: usize = 57 * 1024;

/// A temporary file the client can open by path, once per attempt.
///
/// On Linux it has no name in `$TMPDIR` at all (`O_TMPFILE`), and the client opens it as
/// `/proc/self/fd/N`, which gives a fresh read position each time: nothing to plant a link at,
/// nothing to race for, nothing left behind when squall is killed. Elsewhere it is a named
/// temporary file (`O_EXCL`, mode 0600, a random name), deleted when this is dropped.
#[derive(Debug)]
pub(crate) struct Spool {
    file: File,
    path: PathBuf,
    _named: Option<tempfile::TempPath>,
}

impl Spool {
    fn new() -> io::Result<Self> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let file = tempfile::tempfile()?;
            let path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
            if path.exists() {
                return Ok(Self {
                    file,
                    path,
                    _named: None,
                });
            }
        }
        let (file, named) = tempfile::NamedTempFile::new()?.into_parts();
        Ok(Self {
            file,
            path: named.to_path_buf(),
            _named: Some(named),
        })
    }

    /// Where the client (and `--dry-run`) reads it.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// The message to send, and the file it is in.
pub(crate) struct Composed {
    pub(crate) body: Body,
    /// What MAIL declares for it: measured while it was written.
    pub(crate) options: MailOptions,
    pub(crate) spool: Spool,
}

/// Writes `message` with `text` as its text part into a spool file. `message` is left with a
/// placeholder text; its envelope and Message-ID are the ones to use.
pub(crate) async fn compose(message: &mut Message, text: Spooled) -> Result<Composed, (u8, Error)> {
    let token = format!("<squall text {}>", squall::new_message_id("squall.invalid"));
    message.set_text(&token);
    let (prefix, suffix) = split(&message.bytes(), token.as_bytes(), text.seven_bit).ok_or_else(|| {
        (
            exit::SOFTWARE,
            Error::from_input(
                "cannot place the text in the rendered message (a bug in squall: please report it)",
            ),
        )
    })?;
    let (spool, profile) = tokio::task::spawn_blocking(move || write(&prefix, text, &suffix))
        .await
        .map_err(|e| {
            (
                exit::SOFTWARE,
                Error::from_input(format!("the spool writer failed: {e}")),
            )
        })?
        .map_err(spool_error)?;
    let body = Body::file(spool.path()).await.map_err(spool_error)?;
    Ok(Composed {
        body,
        options: options_for(profile),
        spool,
    })
}

/// The rendered message before and after the placeholder, with the text part's
/// Content-Transfer-Encoding set for the text; `None` if the placeholder is not found once,
/// right after a 7bit part's header.
fn split(rendered: &[u8], token: &[u8], seven_bit: bool) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut found = memchr::memmem::find_iter(rendered, token);
    let at = found.next()?;
    if found.next().is_some() {
        return None;
    }
    let head = rendered[..at].strip_suffix(SEVEN_BIT)?;
    let mut prefix = head.to_vec();
    prefix.extend_from_slice(if seven_bit { SEVEN_BIT } else { BASE64 });
    Some((prefix, rendered[at + token.len()..].to_vec()))
}

/// The spool file: `prefix`, the text, `suffix`; and its profile for MAIL.
fn write(prefix: &[u8], text: Spooled, suffix: &[u8]) -> io::Result<(Spool, Profile)> {
    let spool = Spool::new()?;
    let profile = write_into(&spool.file, prefix, text, suffix)?;
    Ok((spool, profile))
}

fn write_into(file: &File, prefix: &[u8], mut text: Spooled, suffix: &[u8]) -> io::Result<Profile> {
    let mut out = Out {
        w: BufWriter::with_capacity(256 << 10, file),
        scanner: Scanner::new(),
    };
    out.put(prefix)?;
    if text.seven_bit {
        let mut buf = vec![0u8; 256 << 10];
        loop {
            let n = read_full(&mut text.file, &mut buf)?;
            if n == 0 {
                break;
            }
            out.put(&buf[..n])?;
        }
    } else {
        let mut buf = vec![0u8; BASE64_RUN];
        let mut encoded = Vec::with_capacity(BASE64_RUN / 57 * 78);
        loop {
            let n = read_full(&mut text.file, &mut buf)?;
            if n == 0 {
                break;
            }
            encoded.clear();
            mail_builder::encoders::base64::base64_encode_mime(&buf[..n], &mut encoded, false)?;
            out.put(&encoded)?;
        }
    }
    out.put(suffix)?;
    out.w.flush()?;
    Ok(out.scanner.finish())
}

/// Bytes written and scanned.
struct Out<'a> {
    w: BufWriter<&'a File>,
    scanner: Scanner,
}

impl Out<'_> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.scanner.push(bytes);
        self.w.write_all(bytes)
    }
}

/// Fills `buf` unless the input ends first; the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// What MAIL declares for content measured before sending: its exact size and body type. The
/// same as the library's own choice for a file (`Body::mail_options`, which is not public).
pub(crate) fn options_for(p: Profile) -> MailOptions {
    let mut o = MailOptions::for_content(&p);
    // A file is read again when sent: if it turned 8-bit meanwhile, the server was told.
    o.prefer_8bitmime = true;
    o
}

/// The profile of a file, read through once (blocking).
pub(crate) fn profile_of(path: &Path) -> io::Result<Profile> {
    let mut file = File::open(path)?;
    let mut scanner = Scanner::new();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = read_full(&mut file, &mut buf)?;
        if n == 0 {
            return Ok(scanner.finish());
        }
        scanner.push(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_sets_the_encoding_of_the_text_part_only() {
        let rendered = b"Subject: x\r\nContent-Transfer-Encoding: 7bit\r\n\r\n<T>\r\n--b--\r\n";
        let (p, s) = split(rendered, b"<T>", false).unwrap();
        assert_eq!(p, b"Subject: x\r\nContent-Transfer-Encoding: base64\r\n\r\n");
        assert_eq!(s, b"\r\n--b--\r\n");
        let (p, _) = split(rendered, b"<T>", true).unwrap();
        assert!(p.ends_with(SEVEN_BIT));
        assert!(split(b"<T> <T>", b"<T>", true).is_none(), "twice");
        assert!(
            split(b"X: y\r\n\r\n<T>", b"<T>", true).is_none(),
            "not after a 7bit part header"
        );
    }

    #[tokio::test]
    async fn a_spooled_text_is_placed_with_its_attachments() {
        let raw = "ünïcödé line\n".repeat(10);
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(raw.as_bytes()).unwrap();
        std::io::Seek::rewind(&mut file).unwrap();
        let mut m = Message::builder()
            .from("Ann <ann@example.org>")
            .to("b@example.org")
            .subject("big")
            .attachment("a.txt", "text/plain", &b"attached"[..])
            .build()
            .unwrap();
        let c = compose(
            &mut m,
            Spooled {
                file,
                seven_bit: false,
            },
        )
        .await
        .unwrap();
        let bytes = std::fs::read(c.spool.path()).unwrap();
        assert_eq!(c.options.size, Some(bytes.len() as u64), "CRLF already");
        let parsed = mail_parser::MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(parsed.body_text(0).unwrap(), raw);
        assert_eq!(parsed.attachment(0).unwrap().contents(), b"attached");
        assert_eq!(parsed.subject(), Some("big"));
    }
}
