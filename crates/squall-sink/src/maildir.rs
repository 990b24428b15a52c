//! A real Maildir (cr.yp.to/proto/maildir.html), readable by mutt, Dovecot and Python's
//! `mailbox.Maildir`: each message is written to `tmp/` under a unique name, flushed to disk,
//! then renamed into `new/`, so a reader never sees a partial message.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::spool::{Content, TempFile};

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

    fn publish(&self, mut file: TempFile) -> io::Result<PathBuf> {
        file.file().flush()?;
        file.file().sync_all()?;
        let to = self.root.join("new").join(file.name());
        file.persist(&to)
    }
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
