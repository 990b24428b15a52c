//! Where the message waits until it is sent: in memory while it is small, in a temporary file
//! past [`IN_MEMORY`] bytes, so that `sendmail` holds a few MiB whatever the size of its input.
//!
//! The file is created by `tempfile` in `$TMPDIR` (or /tmp) with a random name, `O_EXCL` and
//! mode 0600, so no other user can read it or plant a link there; it is deleted when the spool
//! is dropped, which `squall sendmail` makes sure of on exit and on SIGINT, SIGTERM and SIGHUP.

use std::io;

use squall::Body;
use tempfile::NamedTempFile;
use tokio::io::AsyncWriteExt;

/// The most bytes held in memory: a message up to this size is sent from memory (so its exact
/// SIZE is declared), a larger one from the file.
pub(crate) const IN_MEMORY: usize = 4 << 20;

/// A message being written.
pub(crate) struct Spool {
    memory: Vec<u8>,
    file: Option<(NamedTempFile, tokio::io::BufWriter<tokio::fs::File>)>,
    limit: usize,
}

/// A spooled message, ready to send; the temporary file, if any, lives as long as this.
pub(crate) struct Spooled {
    pub(crate) body: Body,
    _file: Option<NamedTempFile>,
}

impl Spooled {
    /// The temporary file holding the message, if it went to one.
    pub(crate) fn path(&self) -> Option<&std::path::Path> {
        self._file.as_ref().map(NamedTempFile::path)
    }
}

impl Spool {
    pub(crate) fn new() -> Self {
        Self::with_limit(IN_MEMORY)
    }

    fn with_limit(limit: usize) -> Self {
        Self {
            memory: Vec::new(),
            file: None,
            limit,
        }
    }

    /// Appends `bytes`, moving what is held to a temporary file once it would pass the limit.
    pub(crate) async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.file.is_none() && self.memory.len() + bytes.len() > self.limit {
            let named = tempfile::Builder::new()
                .prefix("squall-sendmail-")
                .suffix(".eml")
                .tempfile()?;
            let mut writer = tokio::io::BufWriter::with_capacity(
                256 << 10,
                tokio::fs::File::from_std(named.as_file().try_clone()?),
            );
            writer.write_all(&self.memory).await?;
            self.memory = Vec::new();
            self.file = Some((named, writer));
        }
        match &mut self.file {
            Some((_, writer)) => writer.write_all(bytes).await,
            None => {
                self.memory.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    /// The message to send.
    pub(crate) async fn finish(self) -> io::Result<Spooled> {
        match self.file {
            None => Ok(Spooled {
                body: Body::from(self.memory),
                _file: None,
            }),
            Some((named, mut writer)) => {
                writer.flush().await?;
                Ok(Spooled {
                    body: Body::file(named.path()).await?,
                    _file: Some(named),
                })
            }
        }
    }

    /// The temporary file, if the message went to one.
    #[cfg(test)]
    fn path(&self) -> Option<&std::path::Path> {
        self.file.as_ref().map(|(named, _)| named.path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn small_stays_in_memory_large_goes_to_a_private_file_that_is_deleted() {
        let mut s = Spool::with_limit(10);
        s.write(b"12345").await.unwrap();
        s.write(b"67890").await.unwrap();
        assert!(s.path().is_none());
        assert_eq!(
            s.finish().await.unwrap().body.as_bytes(),
            Some(&b"1234567890"[..])
        );

        let mut s = Spool::with_limit(10);
        s.write(b"12345").await.unwrap();
        s.write(b"678901").await.unwrap();
        s.write(b"tail").await.unwrap();
        let path = s.path().unwrap().to_path_buf();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only the owner may read it");
        let spooled = s.finish().await.unwrap();
        assert!(spooled.body.as_bytes().is_none(), "sent from the file");
        assert_eq!(spooled.path(), Some(path.as_path()));
        assert_eq!(std::fs::read(&path).unwrap(), b"12345678901tail");
        drop(spooled);
        assert!(!path.exists(), "deleted with the spool");
    }
}
