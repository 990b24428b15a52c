//! Message content: bytes in memory, or a stream read piece by piece as it is sent.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::AsyncRead;

/// The content of a message: a complete RFC 5322 message (headers, blank line, body).
///
/// From bytes it is sent as is; from a reader ([`Body::from_reader`], [`Body::file`]) it is read in
/// pieces while it is sent, so a large message is never held whole in memory. Either way line
/// ends are normalised to CRLF and lines starting with `.` are protected on the wire.
pub struct Body(pub(crate) Source);

pub(crate) enum Source {
    Bytes(Arc<[u8]>),
    /// Opened for each attempt, so a retry can read it again.
    File(PathBuf),
    /// Read once: `None` once sending it began, after which it cannot be retried.
    Reader(Option<Box<dyn AsyncRead + Send + Unpin>>),
}

impl Body {
    /// Content read from `reader` while it is sent.
    pub fn from_reader(reader: impl AsyncRead + Send + Unpin + 'static) -> Self {
        Self(Source::Reader(Some(Box::new(reader))))
    }

    /// Content read from a file while it is sent (and read again if the message is retried).
    /// Fails now if the file cannot be opened.
    pub async fn file(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        tokio::fs::File::open(path).await?;
        Ok(Self(Source::File(path.to_path_buf())))
    }

    /// The whole content, read into memory (for a preview such as `squall send --dry-run`).
    pub async fn read_to_vec(self) -> io::Result<Vec<u8>> {
        use tokio::io::AsyncReadExt;
        match self.0 {
            Source::Bytes(b) => Ok(b.to_vec()),
            Source::File(path) => tokio::fs::read(path).await,
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
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Source::Bytes(b) => write!(f, "Body(<{} bytes>)", b.len()),
            Source::File(p) => write!(f, "Body(<file {}>)", p.display()),
            Source::Reader(_) => f.write_str("Body(<stream>)"),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Self(Source::Bytes(v.into()))
    }
}

impl From<Arc<[u8]>> for Body {
    fn from(v: Arc<[u8]>) -> Self {
        Self(Source::Bytes(v))
    }
}

impl From<&[u8]> for Body {
    fn from(v: &[u8]) -> Self {
        Self(Source::Bytes(v.into()))
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
