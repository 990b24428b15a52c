//! Message content while it arrives: in memory while it is small and the shared budget allows,
//! in a file on disk past that, so a big message never sits in RAM.
//!
//! Every file the sink writes is created here, by [`TempFile::create`]: with `O_CREAT|O_EXCL`
//! and `O_NOFOLLOW`, mode 0600, under a name with 64 random bits. A symlink or file planted
//! where the sink writes makes the write fail instead of being followed, and the names cannot be
//! guessed in advance. Final names are given by `rename`, which replaces a planted symlink
//! rather than writing through it.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use thiserror::Error;

use crate::limits::{MemoryBudget, Reservation};

/// Where content goes when it leaves memory, and when it must.
#[derive(Clone, Debug)]
pub(crate) struct Spool {
    /// The directory for spool files (the Maildir's `tmp/` when there is one, so delivery is a
    /// rename).
    pub(crate) dir: PathBuf,
    /// Appended to spool file names: `.<host>` in a Maildir, `.tmp` elsewhere.
    pub(crate) suffix: String,
    /// One message's content past this many bytes goes to disk.
    pub(crate) threshold: usize,
    /// The memory shared by every connection's content.
    pub(crate) budget: Arc<MemoryBudget>,
    /// Content past this many bytes is refused (`None`: no limit).
    pub(crate) size_limit: Option<u64>,
}

/// A file created by the sink; removed when dropped unless [`persist`](Self::persist)ed.
#[derive(Debug)]
pub(crate) struct TempFile {
    path: PathBuf,
    file: File,
    keep: bool,
}

impl TempFile {
    /// Creates `dir/name`, which must not exist (not even as a dangling symlink).
    pub(crate) fn create(dir: &Path, name: &str) -> io::Result<Self> {
        let path = dir.join(name);
        let file = create_new(&path)?;
        Ok(Self {
            path,
            file,
            keep: false,
        })
    }

    /// Creates a file with an unpredictable name in `dir`.
    pub(crate) fn create_unique(dir: &Path, suffix: &str) -> io::Result<Self> {
        Self::create(dir, &format!("{}{suffix}", unique_name()?))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// The file name, without its directory.
    pub(crate) fn name(&self) -> &str {
        self.path.file_name().and_then(|n| n.to_str()).unwrap_or_default()
    }

    /// Gives the file its final name (atomically; whatever was at `to` is replaced, not followed).
    pub(crate) fn persist(mut self, to: &Path) -> io::Result<PathBuf> {
        std::fs::rename(&self.path, to)?;
        self.keep = true;
        Ok(to.to_path_buf())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// `open(path, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW, 0600)`.
pub(crate) fn create_new(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// `<secs>.M<usec>P<pid>Q<n>R<random>`: a Maildir delivery identifier (cr.yp.to/proto/maildir.html)
/// with 64 random bits, so it is unique and cannot be guessed.
pub(crate) fn unique_name() -> io::Result<String> {
    static DELIVERIES: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut random = [0u8; 8];
    getrandom::getrandom(&mut random).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(format!(
        "{}.M{}P{}Q{}R{:016x}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        DELIVERIES.fetch_add(1, Ordering::Relaxed) + 1,
        u64::from_le_bytes(random)
    ))
}

/// The content of one message as it arrives.
#[derive(Debug)]
pub(crate) struct Body {
    /// Bytes received, whether kept or not.
    len: u64,
    memory: Vec<u8>,
    held: Reservation,
    file: Option<TempFile>,
    state: BodyState,
}

#[derive(Debug)]
enum BodyState {
    Ok,
    /// Past the size limit: nothing more is kept.
    TooBig,
    /// Writing to disk failed: nothing more is kept.
    Failed(io::Error),
}

/// Why content cannot be stored.
#[derive(Debug, Error)]
pub(crate) enum BodyError {
    /// Larger than the size limit.
    #[error("the message is larger than the size limit")]
    TooBig,
    /// The spool file could not be written.
    #[error("cannot spool the message to disk: {0}")]
    Spool(#[source] io::Error),
}

/// Content that arrived whole.
#[derive(Debug)]
pub(crate) enum Content {
    Memory(Vec<u8>),
    File(TempFile),
}

impl Body {
    pub(crate) fn new(spool: &Spool) -> Self {
        Self {
            len: 0,
            memory: Vec::new(),
            held: Reservation::new(&spool.budget),
            file: None,
            state: BodyState::Ok,
        }
    }

    /// Bytes received so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Past the size limit already.
    pub(crate) fn too_big(&self) -> bool {
        matches!(self.state, BodyState::TooBig)
    }

    /// Appends content, moving it to disk when it outgrows memory.
    pub(crate) fn push(&mut self, bytes: &[u8], spool: &Spool) {
        if bytes.is_empty() {
            return;
        }
        self.len = self.len.saturating_add(bytes.len() as u64);
        if !matches!(self.state, BodyState::Ok) {
            return;
        }
        if spool.size_limit.is_some_and(|limit| self.len > limit) {
            self.drop_content(BodyState::TooBig);
            return;
        }
        if let Err(e) = self.store(bytes, spool) {
            self.drop_content(BodyState::Failed(e));
        }
    }

    fn store(&mut self, bytes: &[u8], spool: &Spool) -> io::Result<()> {
        if self.file.is_none() {
            let total = self.memory.len().saturating_add(bytes.len());
            if total <= spool.threshold && self.held.cover(total) {
                self.memory.extend_from_slice(bytes);
                return Ok(());
            }
            let mut file = TempFile::create_unique(&spool.dir, &spool.suffix)?;
            file.file().write_all(&self.memory)?;
            self.memory = Vec::new();
            self.held.release();
            self.file = Some(file);
        }
        match &mut self.file {
            Some(f) => f.file().write_all(bytes),
            None => Ok(()),
        }
    }

    fn drop_content(&mut self, state: BodyState) {
        self.memory = Vec::new();
        self.held.release();
        self.file = None;
        self.state = state;
    }

    /// The whole content, once the end of data is reached.
    pub(crate) fn finish(self) -> Result<Content, BodyError> {
        match self.state {
            BodyState::TooBig => Err(BodyError::TooBig),
            BodyState::Failed(e) => Err(BodyError::Spool(e)),
            BodyState::Ok => Ok(match self.file {
                Some(f) => Content::File(f),
                None => Content::Memory(self.memory),
            }),
        }
    }
}

impl Content {
    /// The bytes, read back from disk if they were spooled.
    pub(crate) fn read_all(&mut self) -> io::Result<Vec<u8>> {
        match self {
            Self::Memory(v) => Ok(v.clone()),
            Self::File(f) => {
                let file = f.file();
                file.rewind()?;
                let mut v = Vec::new();
                file.read_to_end(&mut v)?;
                Ok(v)
            }
        }
    }

    /// The spool file, if the content was spooled into `dir` (so it can be renamed, not copied).
    pub(crate) fn take_file_in(&mut self, dir: &Path) -> Option<TempFile> {
        match std::mem::replace(self, Self::Memory(Vec::new())) {
            Self::File(f) if f.path().parent() == Some(dir) => Some(f),
            other => {
                *self = other;
                None
            }
        }
    }

    /// Writes the content into a new file with an unpredictable name in `dir`.
    pub(crate) fn copy_to_new(&mut self, dir: &Path, suffix: &str) -> io::Result<TempFile> {
        let mut out = TempFile::create_unique(dir, suffix)?;
        match self {
            Self::Memory(v) => out.file().write_all(v)?,
            Self::File(f) => {
                let src = f.file();
                src.rewind()?;
                io::copy(src, out.file())?;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
