//! The text body of `squall send`: `--body TEXT`, `--body-file PATH`, or standard input (`-` for
//! either flag, or neither flag while stdin is not a terminal, as mail(1) and msmtp read it).
//!
//! Input is read in pieces: up to [`IN_MEMORY`] bytes in memory, past that into an unnamed
//! temporary file (`O_TMPFILE`: no name in `$TMPDIR` to plant a link at, nothing left behind
//! however squall ends), scanned on the way for what [`super::compose`] needs to know (UTF-8,
//! and whether it can travel as it is). So a body of any size costs the same few MiB.
//!
//! A terminal on stdin with no body given is a usage error that says how to give one, never a
//! silent wait; `-` on a terminal is read, after a line on stderr saying how to end it.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Seek, Write};
use std::path::{Path, PathBuf};

use squall::Error;

use crate::exit;

/// The most bytes of text held in memory (and put into the message by the library); more is
/// spooled.
pub(crate) const IN_MEMORY: usize = 1 << 20;

/// Where the text comes from.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// `--body TEXT`.
    Given(String),
    /// `--body-file PATH`.
    File(PathBuf),
    /// Standard input; `explicit` when asked for with `-`.
    Stdin { explicit: bool },
    /// No text part (stdin is a terminal, and HTML or a file is the content).
    Nothing,
}

const HOW: &str = "give it with --body TEXT or --body-file PATH, pipe it in (echo hello | squall send …), \
                   type it after --body - (end with Ctrl-D), or send none with --body ''";

impl Source {
    /// The source the flags name; with neither flag, stdin unless it is a terminal.
    /// `other_content`: an HTML body, an attachment or an inline part will be sent.
    pub(crate) fn choose(
        body: Option<&str>,
        body_file: Option<&Path>,
        other_content: bool,
        stdin_is_terminal: bool,
    ) -> Result<Self, (u8, Error)> {
        Ok(match (body, body_file) {
            (Some("-"), _) => Self::Stdin { explicit: true },
            (Some(text), _) => Self::Given(text.to_string()),
            (None, Some(p)) if p == Path::new("-") => Self::Stdin { explicit: true },
            (None, Some(p)) => Self::File(p.to_path_buf()),
            (None, None) if !stdin_is_terminal => Self::Stdin { explicit: false },
            (None, None) if other_content => Self::Nothing,
            (None, None) => {
                return Err((
                    exit::USAGE,
                    Error::from_input(format!(
                        "no body given, and standard input is a terminal, so squall will not wait \
                         for one: {HOW}"
                    )),
                ));
            }
        })
    }
}

/// The text, read.
#[derive(Debug)]
pub(crate) enum Text {
    /// No text part.
    Nothing,
    /// Small enough for the library to put into the message itself.
    Memory(String),
    /// Too large to hold: in a temporary file, at its start.
    Spooled(Spooled),
}

/// Text in a temporary file, checked to be UTF-8.
#[derive(Debug)]
pub(crate) struct Spooled {
    pub(crate) file: File,
    /// ASCII lines of at most 998 octets with no control character but TAB (and CR only before
    /// LF): it can travel as it is (7bit); otherwise it is base64-encoded.
    pub(crate) seven_bit: bool,
}

/// Reads the text (blocking: run it off the runtime's workers).
pub(crate) fn read(source: Source) -> Result<Text, (u8, Error)> {
    match source {
        Source::Nothing => Ok(Text::Nothing),
        Source::Given(text) => Ok(Text::Memory(text)),
        Source::File(path) => {
            let what = format!("--body-file {path:?}");
            let unreadable = |why: String| {
                (
                    exit::NOINPUT,
                    Error::from_input(format!("{what}: cannot read it: {why}")),
                )
            };
            // A pipe or a device is fine (`--body-file <(cmd)`); a directory is not a body.
            if path.is_dir() {
                return Err(unreadable("it is a directory".into()));
            }
            let file = File::open(&path).map_err(|e| unreadable(e.to_string()))?;
            read_from(file, &what)
        }
        Source::Stdin { explicit } => {
            let stdin = io::stdin();
            if explicit && stdin.is_terminal() {
                eprintln!(
                    "squall: reading the body from the terminal; end it with Ctrl-D on a line of its own"
                );
            }
            // Empty stdin (/dev/null, a cron job) is no text, not an empty text part.
            match read_from(stdin.lock(), "standard input")? {
                Text::Memory(t) if t.is_empty() => Ok(Text::Nothing),
                text => Ok(text),
            }
        }
    }
}

/// Reads `input` to its end: into memory, or past [`IN_MEMORY`] into a temporary file.
fn read_from(mut input: impl Read, what: &str) -> Result<Text, (u8, Error)> {
    let mut buf = vec![0u8; 64 << 10];
    let mut memory = Vec::new();
    let mut spool: Option<BufWriter<File>> = None;
    let mut scan = Scan::default();
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err((exit::IOERR, Error::from_input(format!("cannot read {what}: {e}"))));
            }
        };
        let piece = &buf[..n];
        scan.push(piece);
        match &mut spool {
            Some(w) => w.write_all(piece).map_err(spool_error)?,
            None if memory.len() + n > IN_MEMORY => {
                let mut w = BufWriter::with_capacity(256 << 10, tempfile::tempfile().map_err(spool_error)?);
                w.write_all(&memory).map_err(spool_error)?;
                w.write_all(piece).map_err(spool_error)?;
                memory = Vec::new();
                spool = Some(w);
            }
            None => memory.extend_from_slice(piece),
        }
    }
    let seven_bit = scan.finish().map_err(|offset| {
        (
            exit::DATAERR,
            Error::from_input(format!(
                "{what} is not UTF-8 text (an invalid byte at offset {offset}): send it as an \
                 attachment (--attach FILE) or as a complete message (--raw-file)"
            )),
        )
    })?;
    match spool {
        None => Ok(Text::Memory(
            String::from_utf8(memory).expect("the scan found it to be UTF-8"),
        )),
        Some(w) => {
            let mut file = w.into_inner().map_err(|e| spool_error(e.into_error()))?;
            file.rewind().map_err(spool_error)?;
            Ok(Text::Spooled(Spooled { file, seven_bit }))
        }
    }
}

pub(crate) fn spool_error(e: io::Error) -> (u8, Error) {
    (
        exit::IOERR,
        Error::from_input(format!(
            "cannot hold the body in a temporary file (in {:?}): {e}",
            std::env::temp_dir()
        )),
    )
}

/// What the text is like, found as it is read, in pieces of any size.
#[derive(Debug, Default)]
struct Scan {
    /// Bytes seen.
    read: u64,
    /// An incomplete UTF-8 sequence at the end of the last piece.
    carry: Vec<u8>,
    /// Where the first byte that is not UTF-8 is.
    invalid_at: Option<u64>,
    /// Length of the line in progress.
    line: u64,
    /// The last byte was a CR (the next must be LF for 7bit).
    after_cr: bool,
    /// Something 7bit cannot carry was seen.
    not_seven_bit: bool,
}

impl Scan {
    fn push(&mut self, piece: &[u8]) {
        self.utf8(piece);
        if !self.not_seven_bit {
            self.seven_bit(piece);
        }
        self.read += piece.len() as u64;
    }

    fn utf8(&mut self, piece: &[u8]) {
        if self.invalid_at.is_some() {
            return;
        }
        let start = self.read - self.carry.len() as u64;
        let joined;
        let bytes = if self.carry.is_empty() {
            piece
        } else {
            joined = [&self.carry[..], piece].concat();
            &joined[..]
        };
        match std::str::from_utf8(bytes) {
            Ok(_) => self.carry.clear(),
            Err(e) if e.error_len().is_none() => self.carry = bytes[e.valid_up_to()..].to_vec(),
            Err(e) => self.invalid_at = Some(start + e.valid_up_to() as u64),
        }
    }

    fn seven_bit(&mut self, piece: &[u8]) {
        for &b in piece {
            if std::mem::take(&mut self.after_cr) && b != b'\n' {
                self.not_seven_bit = true;
                return;
            }
            match b {
                b'\n' => self.line = 0,
                b'\r' => self.after_cr = true,
                b'\t' | 0x20..=0x7e => self.line += 1,
                _ => {
                    self.not_seven_bit = true;
                    return;
                }
            }
            if self.line > 998 {
                self.not_seven_bit = true;
                return;
            }
        }
    }

    /// Whether it is 7bit; `Err(offset)` if it is not UTF-8.
    fn finish(self) -> Result<bool, u64> {
        if let Some(at) = self.invalid_at {
            return Err(at);
        }
        if !self.carry.is_empty() {
            return Err(self.read - self.carry.len() as u64);
        }
        Ok(!self.not_seven_bit && !self.after_cr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scans `input` in pieces of every size from 1 to 7 bytes, and whole, and checks they agree.
    fn scan(input: &[u8]) -> Result<bool, u64> {
        let whole = {
            let mut s = Scan::default();
            s.push(input);
            s.finish()
        };
        for size in 1..8 {
            let mut s = Scan::default();
            for piece in input.chunks(size) {
                s.push(piece);
            }
            assert_eq!(s.finish(), whole, "{input:?} in pieces of {size}");
        }
        whole
    }

    #[test]
    fn what_travels_as_it_is() {
        assert_eq!(scan(b"hello\nworld\r\n\ttab\n"), Ok(true));
        assert_eq!(scan(b""), Ok(true));
        assert_eq!(scan("Grüße\n".as_bytes()), Ok(false), "8-bit");
        assert_eq!(scan(b"nul\0"), Ok(false));
        assert_eq!(scan(b"esc\x1b[31m"), Ok(false));
        assert_eq!(scan(b"bare\rcr"), Ok(false));
        assert_eq!(scan(b"ends in cr\r"), Ok(false));
        assert_eq!(scan(b"del\x7f"), Ok(false));
        assert_eq!(scan(&[b'a'; 998]), Ok(true));
        assert_eq!(scan(&[b'a'; 999]), Ok(false), "a line over 998 octets");
    }

    #[test]
    fn invalid_utf8_is_found_where_it_is() {
        assert_eq!(scan(b"abc\xffdef"), Err(3));
        assert_eq!(scan("ab€".as_bytes()), Ok(false));
        assert_eq!(scan(&"ab€".as_bytes()[..4]), Err(2), "cut off at the end");
        assert_eq!(scan(b"\xe2\x82\x28"), Err(0));
    }

    #[test]
    fn the_source_the_flags_name() {
        let c = |body: Option<&str>, file: Option<&str>, other: bool, tty: bool| {
            Source::choose(body, file.map(Path::new), other, tty)
        };
        assert_eq!(
            c(Some("-"), None, false, true).unwrap(),
            Source::Stdin { explicit: true }
        );
        assert_eq!(
            c(None, Some("-"), false, true).unwrap(),
            Source::Stdin { explicit: true }
        );
        assert_eq!(
            c(Some("hi"), None, false, true).unwrap(),
            Source::Given("hi".into())
        );
        assert_eq!(
            c(None, None, false, false).unwrap(),
            Source::Stdin { explicit: false }
        );
        assert_eq!(
            c(None, None, true, false).unwrap(),
            Source::Stdin { explicit: false }
        );
        assert_eq!(c(None, None, true, true).unwrap(), Source::Nothing);
        let (code, e) = c(None, None, false, true).unwrap_err();
        assert_eq!(code, 64);
        assert!(e.to_string().contains("--body-file PATH, pipe it in"), "{e}");
    }

    #[test]
    fn large_input_goes_to_a_file_small_stays() {
        let small = read_from(&b"hello\n"[..], "input").unwrap();
        assert!(
            matches!(small, Text::Memory(ref t) if t == "hello\n"),
            "{small:?}"
        );
        let big = "line of text\n".repeat(IN_MEMORY / 10);
        let Text::Spooled(mut s) = read_from(big.as_bytes(), "input").unwrap() else {
            panic!("spooled")
        };
        assert!(s.seven_bit);
        let mut back = String::new();
        s.file.read_to_string(&mut back).unwrap();
        assert_eq!(back, big);
        let (code, e) = read_from(&b"caf\xe9\n"[..], "standard input").unwrap_err();
        assert_eq!(code, 65);
        assert!(e.to_string().contains("offset 3"), "{e}");
    }
}
