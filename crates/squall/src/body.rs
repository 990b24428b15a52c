//! Message content: bytes in memory, a file, or a stream read piece by piece as it is sent.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use squall_proto::data::{Profile, Scanner, profile};
use squall_proto::params::MailOptions;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The content of a message: a complete RFC 5322 message (headers, blank line, body).
///
/// From bytes it is sent as is; from a file ([`Body::file`]) or a reader ([`Body::from_reader`])
/// it is read in pieces while it is sent, so a large message is never held whole in memory.
/// Line ends are normalised to CRLF and lines starting with `.` are protected on the wire; only
/// binary content (a NUL, or a line over 998 octets) sent to a server that offers BINARYMIME
/// goes byte for byte.
///
/// Bytes and files are measured before sending, so MAIL declares their exact `SIZE=` and their
/// `BODY=` type, and a server's limits refuse them before any content is sent. A stream's size is
/// unknown: it declares 8BITMIME when the server offers it, and is stopped with a clear error if
/// it turns out too large, or 8-bit for a server without 8BITMIME.
pub struct Body(pub(crate) Source);

pub(crate) enum Source {
    Bytes(Bytes),
    /// Opened for each attempt, so a retry can read it again.
    File(FileBody),
    /// Read once: `None` once sending it began, after which it cannot be retried.
    Reader(Option<Box<dyn AsyncRead + Send + Unpin>>),
}

pub(crate) struct FileBody {
    pub(crate) path: PathBuf,
    /// Measured when the body was made (the prefix included).
    pub(crate) profile: Profile,
    /// Sent before the file (DKIM signatures).
    pub(crate) prefix: Bytes,
}

impl FileBody {
    /// The file with `prefix` (complete CRLF header fields) sent before it.
    #[cfg_attr(not(feature = "dkim"), allow(dead_code))]
    pub(crate) fn with_prefix(mut self, prefix: Bytes) -> Self {
        self.profile.size += prefix.len() as u64;
        self.prefix = [self.prefix, prefix].concat().into();
        self
    }
}

impl Body {
    /// Content read from `reader` while it is sent.
    pub fn from_reader(reader: impl AsyncRead + Send + Unpin + 'static) -> Self {
        Self(Source::Reader(Some(Box::new(reader))))
    }

    /// Content read from a file while it is sent (and read again if the message is retried).
    /// The file is read through once now, to measure it (its size and whether it is 8-bit, for
    /// MAIL to declare); fails now if it cannot be read.
    pub async fn file(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        tokio::task::spawn_blocking(move || Self::open(path))
            .await
            .map_err(io::Error::other)?
    }

    /// [`Body::file`] for code that is not async (it blocks while it measures the file).
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let mut file = std::fs::File::open(path)?;
        let mut scanner = Scanner::new();
        let mut buf = vec![0; 256 * 1024];
        loop {
            match io::Read::read(&mut file, &mut buf) {
                Ok(0) => break,
                Ok(n) => scanner.push(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Self(Source::File(FileBody {
            path: path.to_path_buf(),
            profile: scanner.finish(),
            prefix: Bytes::new(),
        })))
    }

    /// The whole content, read into memory (for a preview such as `squall send --dry-run`).
    pub async fn read_to_vec(self) -> io::Result<Vec<u8>> {
        match self.0 {
            Source::Bytes(b) => Ok(b.to_vec()),
            Source::File(f) => {
                let mut v = f.prefix.to_vec();
                v.extend_from_slice(&tokio::fs::read(f.path).await?);
                Ok(v)
            }
            Source::Reader(Some(mut r)) => {
                let mut v = Vec::new();
                r.read_to_end(&mut v).await?;
                Ok(v)
            }
            Source::Reader(None) => Err(io::Error::other("the stream was already read")),
        }
    }

    /// The bytes, when the content is in memory.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.0 {
            Source::Bytes(b) => Some(b),
            Source::File(_) | Source::Reader(_) => None,
        }
    }

    /// The size a receiver stores (line ends normalised), when known before sending.
    pub fn size(&self) -> Option<u64> {
        self.profile().map(|p| p.size)
    }

    fn profile(&self) -> Option<Profile> {
        match &self.0 {
            Source::Bytes(b) => Some(profile(b)),
            Source::File(f) => Some(f.profile),
            Source::Reader(_) => None,
        }
    }

    /// The MAIL options this content needs: exact size and body type when known; for a stream,
    /// 8BITMIME when the server offers it.
    pub(crate) fn mail_options(&self) -> MailOptions {
        let Some(p) = self.profile() else {
            return MailOptions::for_stream();
        };
        let mut o = MailOptions::for_content(&p);
        // A file is read again when sent: if it changed to 8-bit meanwhile, the server should
        // have been told it may be.
        o.prefer_8bitmime = matches!(self.0, Source::File(_));
        o
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Source::Bytes(b) => write!(f, "Body(<{} bytes>)", b.len()),
            Source::File(file) => write!(f, "Body(<file {}>)", file.path.display()),
            Source::Reader(_) => f.write_str("Body(<stream>)"),
        }
    }
}

/// Takes the vector as it is: no copy.
impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Self(Source::Bytes(v.into()))
    }
}

/// Shares the bytes: no copy.
impl From<Arc<[u8]>> for Body {
    fn from(v: Arc<[u8]>) -> Self {
        Self(Source::Bytes(Bytes::from_owner(v)))
    }
}

/// Shares the bytes: no copy.
impl From<Bytes> for Body {
    fn from(v: Bytes) -> Self {
        Self(Source::Bytes(v))
    }
}

impl From<&[u8]> for Body {
    fn from(v: &[u8]) -> Self {
        Self(Source::Bytes(Bytes::copy_from_slice(v)))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        s.into_bytes().into()
    }
}

impl From<&str> for Body {
    fn from(s: &str) -> Self {
        s.as_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use squall_proto::params::BodyType;

    #[tokio::test]
    async fn a_file_declares_its_exact_size_and_type() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.eml");
        // LF line ends: the receiver stores CRLF, so the size is more than the file's.
        std::fs::write(&path, "Subject: x\n\nGrüße\n".as_bytes()).unwrap();
        let b = Body::file(&path).await.unwrap();
        let o = b.mail_options();
        assert_eq!(
            o.size,
            Some(squall_proto::data::normalized_len(
                "Subject: x\n\nGrüße\n".as_bytes()
            ))
        );
        assert_eq!(o.body, BodyType::EightBitMime);
        assert!(o.prefer_8bitmime);
        let s = Body::from_reader(&b"x"[..]).mail_options();
        assert_eq!(
            (s.size, s.body, s.prefer_8bitmime),
            (None, BodyType::SevenBit, true)
        );
    }
}
