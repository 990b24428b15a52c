//! What the sink keeps of each message: in memory for tests, and on disk as `<id>.eml` plus a
//! `<id>.json` envelope, as a Maildir, or both.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::escape::escape;
use crate::maildir::Maildir;
use crate::spool::{Content, TempFile};

/// One message the sink accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReceivedMessage {
    /// The sink's id for it, also the file name stem and the queue id in the final reply.
    pub id: String,
    /// The reverse path, without angle brackets (empty for `<>`).
    pub mail_from: String,
    /// The MAIL parameters as sent (`SIZE=123`, `BODY=8BITMIME`, …).
    pub mail_params: Vec<String>,
    /// The accepted recipients, in order.
    pub rcpt_to: Vec<String>,
    /// The RCPT parameters of each accepted recipient.
    pub rcpt_params: Vec<Vec<String>>,
    /// The EHLO or HELO name.
    pub helo: Option<String>,
    /// Whether the session was encrypted.
    pub tls: bool,
    /// The TLS protocol version of the session (`TLSv1.2`, `TLSv1.3`), when encrypted.
    #[serde(default)]
    pub tls_version: Option<String>,
    /// The TLS cipher suite of the session, by its rustls name (`TLS13_AES_256_GCM_SHA384`),
    /// when encrypted.
    #[serde(default)]
    pub tls_cipher: Option<String>,
    /// The authenticated user, if any.
    pub auth: Option<String>,
    /// Content size in bytes.
    pub size: usize,
    /// When the final reply was sent, RFC 3339 UTC.
    pub received_at: String,
    /// `DATA` or `BDAT`.
    pub transfer: &'static str,
    /// The content exactly as received, dot-stuffing undone. Content spooled to disk (past the
    /// spool threshold) is read back only when the sink keeps messages in memory; otherwise it
    /// is empty here and found in the files.
    #[serde(skip)]
    pub data: Vec<u8>,
    /// The `.eml` file, when the sink writes `.eml` files.
    pub eml: Option<PathBuf>,
    /// The file in the Maildir's `new/`, when the sink writes a Maildir (for a message
    /// reloaded at start: where it was found, in `new/` or `cur/`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maildir: Option<PathBuf>,
    /// Read back from the Maildir when the sink started, not received in this run.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reloaded: bool,
    /// Whether the envelope and session facts above are known. False only for a message
    /// reloaded from a Maildir without the sink's record of it (a message put there by
    /// something else, or whose record is gone): a Maildir file holds the content only, so
    /// `mail_from`, `rcpt_to`, `helo`, `tls` and `auth` are then empty, not facts, and
    /// `received_at` is the file's modification time.
    pub envelope_known: bool,
}

impl ReceivedMessage {
    /// One line for a log or a terminal: id, envelope, size and where it was saved. Everything
    /// the client chose is [escaped](crate::escape), so the line cannot carry terminal control
    /// sequences, line breaks or text-direction tricks.
    pub fn summary(&self) -> String {
        let rcpts: Vec<_> = self.rcpt_to.iter().map(|r| escape(r)).collect();
        let mut line = format!(
            "{} from <{}> to <{}> ({} bytes, {})",
            escape(&self.id),
            escape(&self.mail_from),
            rcpts.join(">, <"),
            self.size,
            self.transfer
        );
        for place in [&self.eml, &self.maildir].into_iter().flatten() {
            line.push_str(" -> ");
            line.push_str(&escape(&place.display().to_string()));
        }
        line
    }
}

/// Where accepted messages are written.
#[derive(Debug, Default)]
pub(crate) struct Store {
    /// `<id>.eml` and `<id>.json` go here.
    eml_dir: Option<PathBuf>,
    maildir: Option<Maildir>,
}

impl Store {
    /// Creates the directories that are missing.
    pub(crate) fn open(eml_dir: Option<&Path>, maildir: Option<&Path>) -> io::Result<Self> {
        if let Some(dir) = eml_dir {
            std::fs::create_dir_all(dir)?;
        }
        Ok(Self {
            eml_dir: eml_dir.map(Path::to_path_buf),
            maildir: maildir.map(Maildir::create).transpose()?,
        })
    }

    /// The Maildir delivered into, if any.
    pub(crate) fn maildir(&self) -> Option<&Maildir> {
        self.maildir.as_ref()
    }

    /// Whether anything is written to disk.
    pub(crate) fn writes_files(&self) -> bool {
        self.eml_dir.is_some() || self.maildir.is_some()
    }

    /// Where to spool content, so that saving it is a rename: the Maildir's `tmp/`, else the
    /// `.eml` directory, else `fallback`. Returns the directory and the suffix of file names.
    pub(crate) fn spool_place(&self, fallback: &Path) -> (PathBuf, String) {
        match (&self.maildir, &self.eml_dir) {
            (Some(md), _) => (md.tmp(), md.suffix().to_string()),
            (None, Some(dir)) => (dir.clone(), ".tmp".into()),
            (None, None) => (fallback.to_path_buf(), ".tmp".into()),
        }
    }

    /// Writes the message (blocking: call it off the async threads). `.eml` first, then the
    /// Maildir, then the `.json` last, by atomic rename, so a watcher that sees the JSON finds
    /// everything else in place. Fills `msg.data` (see its doc) and the paths.
    pub(crate) fn save(&self, msg: &mut ReceivedMessage, mut content: Content, keep: bool) -> io::Result<()> {
        let spooled = matches!(content, Content::File(_));
        if spooled && keep {
            msg.data = content.read_all()?;
        }
        if let Some(dir) = &self.eml_dir {
            // The spool file can be moved only if no Maildir wants it after.
            let moved = if self.maildir.is_none() {
                content.take_file_in(dir)
            } else {
                None
            };
            let file = match moved {
                Some(f) => f,
                None => content.copy_to_new(dir, ".tmp")?,
            };
            msg.eml = Some(file.persist(&dir.join(format!("{}.eml", msg.id)))?);
        }
        if let Some(md) = &self.maildir {
            let path = md.deliver(&mut content)?;
            msg.maildir = Some(path.clone());
            // Best effort: the message is delivered already, and refusing it now would make
            // the client send it again. Without its record, a restart lists it with its
            // envelope marked unknown.
            let _ = md.record(&path, msg);
        }
        if let Some(dir) = &self.eml_dir {
            let json = serde_json::to_vec_pretty(msg).map_err(io::Error::other)?;
            let mut file = TempFile::create_unique(dir, ".tmp")?;
            file.file().write_all(&json)?;
            file.persist(&dir.join(format!("{}.json", msg.id)))?;
        }
        if let Content::Memory(v) = content
            && !spooled
        {
            msg.data = v;
        }
        Ok(())
    }
}

/// `2026-11-26T03:51:51.123Z` for `t`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, dd) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn formats_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_665_111_123);
        assert_eq!(rfc3339(t), "2026-11-26T03:51:51.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }
}
