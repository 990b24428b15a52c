//! What the sink keeps of each message, in memory and as files.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

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
    /// The authenticated user, if any.
    pub auth: Option<String>,
    /// Content size in bytes.
    pub size: usize,
    /// When the final reply was sent, RFC 3339 UTC.
    pub received_at: String,
    /// `DATA` or `BDAT`.
    pub transfer: &'static str,
    /// The content exactly as received, dot-stuffing undone.
    #[serde(skip)]
    pub data: Vec<u8>,
    /// The `.eml` file, when the sink writes files.
    pub eml: Option<PathBuf>,
}

impl ReceivedMessage {
    /// Writes `<id>.eml`, then `<id>.json` (last, by atomic rename, so a watcher that sees the
    /// JSON can read both).
    pub(crate) fn save(&mut self, dir: &Path) -> io::Result<()> {
        let eml = dir.join(format!("{}.eml", self.id));
        write_atomically(&eml, &self.data)?;
        self.eml = Some(eml);
        let json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        write_atomically(&dir.join(format!("{}.json", self.id)), &json)
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
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
