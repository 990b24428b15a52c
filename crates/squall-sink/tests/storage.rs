//! Where messages are written: issue 11, item 8. Files are created so that a planted symlink is
//! never followed, under names that cannot be guessed, and `maildir` writes a Maildir that a
//! real Maildir reader (Python's `mailbox.Maildir`) reads back.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use common::{Smtp, note, send_data};
use md5::{Digest, Md5};
use squall_sink::Sink;

/// The names the sink used to write through, for ids `<epoch>-<pid>-<n>` around now.
#[cfg(unix)]
fn plant_symlinks(dir: &Path, victim: &Path) -> usize {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let mut planted = 0;
    for epoch in now - 2..=now + 2 {
        for n in 1..=4 {
            let id = format!("{epoch}-{}-{n:06}", std::process::id());
            for ext in ["tmp", "eml", "json", "eml.tmp", "json.tmp"] {
                std::os::unix::fs::symlink(victim, dir.join(format!("{id}.{ext}"))).unwrap();
                planted += 1;
            }
        }
    }
    planted
}

#[cfg(unix)]
#[tokio::test]
async fn symlink_planted_at_temp_name_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mail");
    std::fs::create_dir(&out).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let planted = plant_symlinks(&out, &victim);
    let s = Sink::builder()
        .eml_dir(&out)
        .spool_threshold(1024)
        .start()
        .await
        .unwrap();
    let mut c = Smtp::ehlo(s.addr()).await;
    // One message in memory, one spooled to disk on the way.
    let r = send_data(
        &mut c,
        "a@example.org",
        "b@example.org",
        b"Subject: small\r\n\r\nhi\r\n",
    )
    .await;
    assert!(r.starts_with("250 "), "{r}");
    let big = [
        b"Subject: big\r\n\r\n".to_vec(),
        vec![b'x'; 10_000],
        b"\r\n".to_vec(),
    ]
    .concat();
    let r = send_data(&mut c, "a@example.org", "b@example.org", &big).await;
    assert!(r.starts_with("250 "), "{r}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    // The final names replaced the planted links with regular files.
    for m in s.messages() {
        let eml = m.eml.unwrap();
        let meta = std::fs::symlink_metadata(&eml).unwrap();
        assert!(meta.file_type().is_file(), "{}", eml.display());
        let json = eml.with_extension("json");
        assert!(std::fs::symlink_metadata(&json).unwrap().file_type().is_file());
    }
    let links = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_symlink())
        .count();
    assert_eq!(
        links,
        planted - 4,
        "only the 2 × (.eml, .json) links were replaced"
    );
}

#[tokio::test]
async fn eml_and_json_sidecar_are_written_by_default_store() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sink::builder().eml_dir(dir.path()).start().await.unwrap();
    let mut c = Smtp::ehlo(s.addr()).await;
    let r = send_data(
        &mut c,
        "a@example.org",
        "b@example.org",
        b"Subject: x\r\n\r\n..dot\r\n",
    )
    .await;
    assert!(r.starts_with("250 "), "{r}");
    let m = &s.messages()[0];
    let eml = m.eml.clone().unwrap();
    assert_eq!(std::fs::read(&eml).unwrap(), b"Subject: x\r\n\r\n.dot\r\n");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(eml.with_extension("json")).unwrap()).unwrap();
    assert_eq!(json["mail_from"], "a@example.org");
    assert_eq!(json["rcpt_to"][0], "b@example.org");
    assert!(json.get("maildir").is_none());
    // Nothing else is left in the directory: no temporary files.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

/// Reads the Maildir with Python's `mailbox.Maildir`: one line per message, sorted, with its
/// sub-directory, Subject, size and MD5 as the reader sees them.
const READER: &str = r#"
import hashlib, mailbox, sys
md = mailbox.Maildir(sys.argv[1], factory=None, create=False)
rows = []
for key in md.keys():
    msg = md.get_message(key)
    raw = md.get_bytes(key)
    rows.append("%s %s %d %s" % (msg.get_subdir(), msg["Subject"], len(raw), hashlib.md5(raw).hexdigest()))
for row in sorted(rows):
    print(row)
"#;

#[tokio::test]
async fn maildir_is_read_back_by_a_real_maildir_reader() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("Maildir");
    let s = Sink::builder()
        .maildir(&maildir)
        .eml_dir(dir.path().join("eml"))
        .spool_threshold(64 * 1024)
        .start()
        .await
        .unwrap();
    let mut c = Smtp::ehlo(s.addr()).await;
    let small = b"Subject: one\r\n\r\n..stuffed line\r\n".to_vec();
    let r = send_data(&mut c, "a@example.org", "b@example.org", &small).await;
    assert!(r.starts_with("250 "), "{r}");
    // Past the spool threshold, by BDAT: spooled into tmp/, then renamed into new/.
    let big = [
        b"Subject: two\r\n\r\n".to_vec(),
        vec![b'z'; 300_000],
        b"\r\n".to_vec(),
    ]
    .concat();
    c.ok("MAIL FROM:<a@example.org>", "250").await;
    c.ok("RCPT TO:<b@example.org>", "250").await;
    c.send(format!("BDAT {} LAST\r\n", big.len())).await;
    c.send(&big).await;
    assert!(c.reply().await.starts_with("250 "));

    let msgs = s.messages();
    assert_eq!(msgs.len(), 2);
    let mut want: Vec<String> = [
        (&b"Subject: one\r\n\r\n.stuffed line\r\n"[..], "one"),
        (&big[..], "two"),
    ]
    .iter()
    .map(|(bytes, subject)| format!("new {subject} {} {:x}", bytes.len(), Md5::digest(bytes)))
    .collect();
    want.sort();
    for m in &msgs {
        let path = m.maildir.as_ref().unwrap();
        assert_eq!(path.parent().unwrap(), maildir.join("new"));
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(!name.starts_with('.') && !name.contains([':', '/']), "{name}");
        // The .eml store got the same bytes.
        assert_eq!(
            std::fs::read(m.eml.as_ref().unwrap()).unwrap(),
            std::fs::read(path).unwrap()
        );
    }
    assert_eq!(std::fs::read_dir(maildir.join("tmp")).unwrap().count(), 0);

    let out = match Command::new("python3")
        .arg("-c")
        .arg(READER)
        .arg(&maildir)
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            assert!(
                std::env::var_os("SQUALL_PEERS_REQUIRED").is_none(),
                "python3 is needed to read the Maildir back ({e}) and peers are required"
            );
            note(&format!(
                "skipped: reading the Maildir back with Python's mailbox module: python3: {e}"
            ));
            return;
        }
    };
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(got, want);
}
