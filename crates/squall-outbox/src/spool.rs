//! Taking content in with bounded memory: small content is kept to be stored inline in its
//! database row; content past the inline limit is streamed to a file in the spool directory,
//! which is fsynced (with its directory) before the row naming it commits.
//!
//! Why two places: a row commit is one fsync shared by every request in the group commit, so
//! inline content costs nothing extra and a 1 KiB message takes about 1.3 KiB on disk; a file
//! costs its own fsyncs and at least one file system block, which only large content can afford.
//! SQLite's incremental blob I/O would keep large content in the database too, but it needs
//! the size before writing (a stream has none) and holds the write transaction while it streams.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use squall_proto::data::{Profile, Scanner};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::error::OutboxError;

/// Where content is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stored {
    /// In the row.
    Inline(Vec<u8>),
    /// In a file of the spool directory, by name.
    File(String),
    /// In the database's `chunks` table (PostgreSQL), this many rows: streamed while sent.
    Chunks(i64),
}

/// Content taken in: where it is and what it contains.
#[derive(Debug)]
pub(crate) struct Content {
    pub(crate) stored: Stored,
    pub(crate) profile: Profile,
}

/// Makes spool file names unique within a process; the time and pid make them unique across.
static COUNTER: AtomicU64 = AtomicU64::new(0);

fn file_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{nanos:x}-{:x}-{n:x}.eml", std::process::id())
}

/// Reads `body` to its end: up to `inline_limit` bytes stay in memory, more goes to a new file
/// in `dir`, durable when this returns.
pub(crate) async fn take_in(
    mut body: impl AsyncRead + Unpin,
    inline_limit: usize,
    dir: &Path,
) -> Result<Content, OutboxError> {
    let mut scanner = Scanner::new();
    let mut head = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = body
            .read(&mut buf)
            .await
            .map_err(|e| OutboxError::Input(format!("reading the message content failed: {e}")))?;
        if n == 0 {
            return Ok(Content {
                stored: Stored::Inline(head),
                profile: scanner.finish(),
            });
        }
        scanner.push(&buf[..n]);
        head.extend_from_slice(&buf[..n]);
        if head.len() > inline_limit {
            break;
        }
    }
    let name = file_name();
    let path = dir.join(&name);
    let result = spill(&path, &head, &mut body, &mut buf, &mut scanner).await;
    match result {
        Ok(()) => Ok(Content {
            stored: Stored::File(name),
            profile: scanner.finish(),
        }),
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            Err(e)
        }
    }
}

async fn spill(
    path: &Path,
    head: &[u8],
    body: &mut (impl AsyncRead + Unpin),
    buf: &mut [u8],
    scanner: &mut Scanner,
) -> Result<(), OutboxError> {
    let err = |e| OutboxError::spool(path, e);
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await
        .map_err(err)?;
    file.write_all(head).await.map_err(err)?;
    loop {
        let n = body
            .read(buf)
            .await
            .map_err(|e| OutboxError::Input(format!("reading the message content failed: {e}")))?;
        if n == 0 {
            break;
        }
        scanner.push(&buf[..n]);
        file.write_all(&buf[..n]).await.map_err(err)?;
    }
    file.sync_all().await.map_err(err)?;
    sync_dir(path.parent().unwrap_or(Path::new("."))).await
}

/// Makes a new name in `dir` durable.
async fn sync_dir(dir: &Path) -> Result<(), OutboxError> {
    let d = dir.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::File::open(&d).and_then(|f| f.sync_all()))
        .await
        .map_err(|e| OutboxError::spool(dir, std::io::Error::other(e)))?
        .map_err(|e| OutboxError::spool(dir, e))
}

/// Spool files older than this that no row names are left over from a crash between writing
/// the file and committing its row. Younger ones may belong to an enqueue in progress.
const ORPHAN_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes left-over files from `dir` (those not in `referenced` and older than an hour);
/// returns how many.
pub(crate) fn sweep(dir: &Path, referenced: &std::collections::HashSet<String>) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > ORPHAN_AGE));
        if old
            && name.ends_with(".eml")
            && !referenced.contains(&name)
            && std::fs::remove_file(e.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// The spool directory beside the database file `db`: `queue.db` has `queue.db.spool/`.
pub(crate) fn dir_for(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(".spool");
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn small_content_stays_inline_and_large_goes_to_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let c = take_in(&b"Subject: x\r\n\r\nhi\r\n"[..], 100, dir.path())
            .await
            .unwrap();
        assert_eq!(c.stored, Stored::Inline(b"Subject: x\r\n\r\nhi\r\n".to_vec()));
        assert_eq!(c.profile.size, 18);

        let big = vec![b'a'; 1000];
        let c = take_in(&big[..], 100, dir.path()).await.unwrap();
        let Stored::File(name) = c.stored else {
            panic!("inline")
        };
        assert_eq!(std::fs::read(dir.path().join(name)).unwrap(), big);
        // As the server stores it: a final CRLF is added to content without one.
        assert_eq!(c.profile.size, 1002);
    }

    #[test]
    fn sweep_removes_only_old_unreferenced_files() {
        let dir = tempfile::tempdir().unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        for name in ["kept.eml", "orphan.eml", "other.txt"] {
            let f = std::fs::File::create(dir.path().join(name)).unwrap();
            f.set_modified(old).unwrap();
        }
        std::fs::write(dir.path().join("young.eml"), "x").unwrap();
        let referenced = ["kept.eml".to_string()].into_iter().collect();
        assert_eq!(sweep(dir.path(), &referenced), 1);
        assert!(!dir.path().join("orphan.eml").exists());
        assert!(dir.path().join("young.eml").exists() && dir.path().join("other.txt").exists());
    }
}
