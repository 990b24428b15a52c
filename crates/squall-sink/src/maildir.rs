//! A real Maildir (cr.yp.to/proto/maildir.html), readable by mutt, Dovecot and Python's
//! `mailbox.Maildir`: each message is written to `tmp/` under a unique name, flushed to disk,
//! then renamed into `new/`, so a reader never sees a partial message.
//!
//! A Maildir file holds the content only. The envelope and session facts of each message the
//! sink delivers go beside it, in `squall-sink/<unique name>.json` under the Maildir's root (a
//! directory without a leading dot, so Maildir++ readers do not take it for a folder). At
//! start the sink reads `new/` and `cur/` back ([`Maildir::reload`]), with those records where
//! they exist.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;

use crate::escape::escape;
use crate::spool::{Content, TempFile};
use crate::store::{ReceivedMessage, rfc3339};

/// The directory of envelope records, under the Maildir's root.
const RECORDS: &str = "squall-sink";
/// Directory entries looked at per sub-directory at most, at start.
const MAX_ENTRIES: usize = 10_000_000;
/// An envelope record larger than this is not read (1,000 recipients of 256 bytes fit).
const MAX_RECORD: u64 = 4 * 1024 * 1024;
/// Warnings kept word for word; past this only counted.
const MAX_WARNINGS: usize = 100;

/// What reading a Maildir back at start found.
#[derive(Debug, Default)]
pub(crate) struct Reloaded {
    /// Oldest first; ids are not set yet.
    pub(crate) messages: Vec<ReceivedMessage>,
    /// Files skipped (and records unusable), counted.
    pub(crate) skipped: usize,
    /// Older messages left on disk to respect the cap.
    pub(crate) left: usize,
    /// One escaped line per problem, at most [`MAX_WARNINGS`].
    pub(crate) warnings: Vec<String>,
}

impl Reloaded {
    fn warn(&mut self, path: &Path, why: &str) {
        self.skipped += 1;
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings
                .push(format!("{}: {why}", escape(&path.display().to_string())));
        }
    }
}

/// The envelope facts the sink writes beside each Maildir file (a subset of
/// [`ReceivedMessage`]'s JSON).
#[derive(Debug, Deserialize)]
struct Record {
    mail_from: String,
    #[serde(default)]
    mail_params: Vec<String>,
    rcpt_to: Vec<String>,
    #[serde(default)]
    rcpt_params: Vec<Vec<String>>,
    helo: Option<String>,
    tls: bool,
    #[serde(default)]
    tls_version: Option<String>,
    #[serde(default)]
    tls_cipher: Option<String>,
    auth: Option<String>,
    received_at: String,
    transfer: String,
}

/// A Maildir the sink delivers into.
#[derive(Clone, Debug)]
pub(crate) struct Maildir {
    root: PathBuf,
    /// `.<host>`: the last part of every unique name.
    suffix: String,
}

impl Maildir {
    /// Opens `root`, creating it and its `tmp`, `new` and `cur` directories (mode 0700) if needed.
    pub(crate) fn create(root: &Path) -> io::Result<Self> {
        for sub in ["tmp", "new", "cur"] {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(root.join(sub))?;
        }
        Ok(Self {
            root: root.to_path_buf(),
            suffix: format!(".{}", host_part(&hostname())),
        })
    }

    /// Where spool files go: content spooled here is delivered by a rename.
    pub(crate) fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Appended to unique names (`.<host>`).
    pub(crate) fn suffix(&self) -> &str {
        &self.suffix
    }

    /// Delivers `content` to `new/`, returning the file's path there. Content spooled into this
    /// Maildir's `tmp/` is moved; anything else is written to `tmp/` first.
    pub(crate) fn deliver(&self, content: &mut Content) -> io::Result<PathBuf> {
        let tmp = self.tmp();
        let file = match content.take_file_in(&tmp) {
            Some(f) => f,
            None => content.copy_to_new(&tmp, &self.suffix)?,
        };
        self.publish(file)
    }

    /// Writes the envelope record of `msg`, delivered to `path`, by atomic rename.
    pub(crate) fn record(&self, path: &Path, msg: &ReceivedMessage) -> io::Result<()> {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return Ok(());
        };
        let dir = self.root.join(RECORDS);
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir)?;
        let json = serde_json::to_vec_pretty(msg).map_err(io::Error::other)?;
        let mut file = TempFile::create_unique(&dir, ".tmp")?;
        file.file().write_all(&json)?;
        file.persist(&dir.join(format!("{}.json", unique_part(name))))?;
        Ok(())
    }

    /// Reads the messages in `new/` and `cur/` back, oldest (by modification time) first, at
    /// most `cap` of them (the newest), each at most `size_limit` bytes. Blocking. Symlinks
    /// and anything but regular files are skipped, as are files that cannot be read; every
    /// skip is counted and explained in `warnings`. Never panics on what it finds.
    pub(crate) fn reload(&self, cap: Option<usize>, size_limit: Option<u64>) -> Reloaded {
        let mut out = Reloaded::default();
        let mut found: Vec<(SystemTime, String, PathBuf, u64)> = Vec::new();
        for sub in ["new", "cur"] {
            let dir = self.root.join(sub);
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) => {
                    out.warn(&dir, &format!("cannot list: {e}"));
                    continue;
                }
            };
            for entry in entries.take(MAX_ENTRIES) {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        out.warn(&dir, &format!("cannot list: {e}"));
                        continue;
                    }
                };
                let path = entry.path();
                let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                    out.warn(&path, "name is not UTF-8");
                    continue;
                };
                if name.starts_with('.') {
                    // Not a message, by the Maildir rules.
                    continue;
                }
                // `DirEntry::metadata` does not follow symlinks.
                let meta = match entry.metadata() {
                    Ok(m) => m,
                    Err(e) => {
                        out.warn(&path, &format!("cannot stat: {e}"));
                        continue;
                    }
                };
                if !meta.file_type().is_file() {
                    out.warn(&path, "not a regular file (symlinks are not followed)");
                    continue;
                }
                let time = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                found.push((time, name, path, meta.len()));
            }
        }
        found.sort();
        if let Some(cap) = cap {
            let cap = cap.max(1);
            if found.len() > cap {
                out.left = found.len() - cap;
                found.drain(..out.left);
            }
        }
        for (time, name, path, len) in found {
            if let Some(limit) = size_limit
                && len > limit
            {
                out.warn(&path, &format!("{len} bytes, over the size limit of {limit}"));
                continue;
            }
            let data = match read_nofollow(&path, size_limit.unwrap_or(u64::MAX)) {
                Ok(d) => d,
                Err(e) => {
                    out.warn(&path, &format!("cannot read: {e}"));
                    continue;
                }
            };
            if data.is_empty() {
                out.warn(&path, "empty file");
                continue;
            }
            let record = self
                .root
                .join(RECORDS)
                .join(format!("{}.json", unique_part(&name)));
            let record = match read_nofollow(&record, MAX_RECORD) {
                Ok(bytes) => match serde_json::from_slice::<Record>(&bytes) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        out.warn(&record, &format!("envelope record unusable: {e}"));
                        None
                    }
                },
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => {
                    out.warn(&record, &format!("envelope record unreadable: {e}"));
                    None
                }
            };
            out.messages.push(reloaded_message(path, time, data, record));
        }
        out
    }

    fn publish(&self, mut file: TempFile) -> io::Result<PathBuf> {
        file.file().flush()?;
        file.file().sync_all()?;
        let to = self.root.join("new").join(file.name());
        file.persist(&to)
    }
}

/// A reloaded message: the record's envelope when there is one, else an unknown envelope.
fn reloaded_message(
    path: PathBuf,
    time: SystemTime,
    data: Vec<u8>,
    record: Option<Record>,
) -> ReceivedMessage {
    let mut msg = ReceivedMessage {
        id: String::new(),
        mail_from: String::new(),
        mail_params: Vec::new(),
        rcpt_to: Vec::new(),
        rcpt_params: Vec::new(),
        helo: None,
        tls: false,
        tls_version: None,
        tls_cipher: None,
        auth: None,
        size: data.len(),
        received_at: rfc3339(time),
        transfer: "",
        data,
        eml: None,
        maildir: Some(path),
        reloaded: true,
        envelope_known: false,
    };
    if let Some(r) = record {
        msg.mail_from = r.mail_from;
        msg.mail_params = r.mail_params;
        msg.rcpt_to = r.rcpt_to;
        msg.rcpt_params = r.rcpt_params;
        msg.helo = r.helo;
        msg.tls = r.tls;
        msg.tls_version = r.tls_version;
        msg.tls_cipher = r.tls_cipher;
        msg.auth = r.auth;
        msg.received_at = r.received_at;
        msg.transfer = match r.transfer.as_str() {
            "BDAT" => "BDAT",
            "DATA" => "DATA",
            _ => "",
        };
        msg.envelope_known = true;
    }
    msg
}

/// The unique name of a Maildir file: its name without the `:2,FLAGS` info a reader adds
/// when it moves the file to `cur/`.
fn unique_part(name: &str) -> &str {
    name.split_once(':').map_or(name, |(u, _)| u)
}

/// Reads at most `limit` bytes of a regular file, refusing a symlink (`O_NOFOLLOW`).
fn read_nofollow(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    let file: File = options.open(path)?;
    if !file.metadata()?.file_type().is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    let mut data = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut data)?;
    if data.len() as u64 > limit {
        return Err(io::Error::other("grew past the size limit"));
    }
    Ok(data)
}

/// The machine's name, for the right-hand part of unique names.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// A host name made safe for a unique name: `/` → `\057`, `:` → `\072` (as the spec asks),
/// and anything else that is not a plain name character dropped.
fn host_part(host: &str) -> String {
    let mut out = String::new();
    for c in host.chars() {
        match c {
            '/' => out.push_str("\\057"),
            ':' => out.push_str("\\072"),
            c if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' => out.push(c),
            _ => {}
        }
    }
    if out.is_empty() { "localhost".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_drop_the_info_a_reader_adds() {
        assert_eq!(unique_part("1.M2P3.host:2,S"), "1.M2P3.host");
        assert_eq!(unique_part("1.M2P3.host"), "1.M2P3.host");
    }

    #[test]
    fn host_names_are_made_safe() {
        assert_eq!(host_part("mail.example.org"), "mail.example.org");
        assert_eq!(host_part("a/b:c"), "a\\057b\\072c");
        assert_eq!(host_part("\x1b[31m"), "31m");
        assert_eq!(host_part(""), "localhost");
    }

    #[test]
    fn delivery_goes_through_tmp_into_new() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::create(&dir.path().join("Maildir")).unwrap();
        let mut content = Content::Memory(b"Subject: hi\r\n\r\nhello\r\n".to_vec());
        let path = md.deliver(&mut content).unwrap();
        assert_eq!(path.parent().unwrap(), dir.path().join("Maildir/new"));
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(name.ends_with(md.suffix()) && !name.contains(':'), "{name}");
        assert_eq!(std::fs::read(&path).unwrap(), b"Subject: hi\r\n\r\nhello\r\n");
        assert_eq!(std::fs::read_dir(md.tmp()).unwrap().count(), 0);

        // Content spooled into tmp/ is renamed, not copied: same unique name.
        let spooled = TempFile::create_unique(&md.tmp(), md.suffix()).unwrap();
        let name = spooled.name().to_string();
        let mut content = Content::File(spooled);
        let path = md.deliver(&mut content).unwrap();
        assert_eq!(path.file_name().unwrap().to_str().unwrap(), name);
        assert_eq!(std::fs::read_dir(md.tmp()).unwrap().count(), 0);
    }
}
