//! Issue 13: a sink given a Maildir reads the messages already there back at start, oldest
//! first, within the cap, with the envelope it recorded beside them; what it cannot use is
//! skipped and counted, never followed (symlinks) and never a panic.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{Smtp, send_data};
use squall_sink::Sink;

/// Sends one message with `subject` to a sink on `maildir` and stops it.
async fn deliver(maildir: &Path, from: &str, to: &str, subject: &str) {
    let sink = Sink::builder().maildir(maildir).start().await.unwrap();
    let mut c = Smtp::ehlo(sink.addr()).await;
    let content = format!("Subject: {subject}\r\n\r\nbody of {subject}\r\n");
    let r = send_data(&mut c, from, to, content.as_bytes()).await;
    assert!(r.starts_with("250 "), "{r}");
}

/// Sets a file's modification time `secs` after a fixed past instant.
fn age(path: &Path, secs: u64) {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs);
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(t).unwrap();
}

fn files_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn messages_come_back_oldest_first_with_their_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("Maildir");
    deliver(&md, "a@example.org", "first@example.net", "first").await;
    deliver(&md, "b@example.org", "second@example.net", "second").await;
    // A reader moved the first to cur/ and marked it seen, as mutt does.
    let news = files_in(&md.join("new"));
    assert_eq!(news.len(), 2);
    let (first, second) = {
        let is_first = |p: &Path| std::fs::read_to_string(p).unwrap().contains("first");
        let f = news.iter().find(|p| is_first(p)).unwrap().clone();
        let s = news.iter().find(|p| !is_first(p)).unwrap().clone();
        (f, s)
    };
    let moved = md
        .join("cur")
        .join(format!("{}:2,S", first.file_name().unwrap().to_str().unwrap()));
    std::fs::rename(&first, &moved).unwrap();
    age(&moved, 10);
    age(&second, 20);

    let sink = Sink::builder().maildir(&md).start().await.unwrap();
    assert_eq!(sink.reload().loaded, 2, "{:?}", sink.reload());
    assert_eq!(sink.reload().skipped, 0, "{:?}", sink.reload());
    let kept = sink.messages();
    let subjects: Vec<_> = sink
        .mails()
        .iter()
        .map(|m| m.subject().unwrap().to_string())
        .collect();
    assert_eq!(subjects, ["first", "second"]);
    assert_eq!(kept[0].mail_from, "a@example.org");
    assert_eq!(kept[0].rcpt_to, ["first@example.net"]);
    assert_eq!(kept[1].rcpt_to, ["second@example.net"]);
    for m in &kept {
        assert!(m.reloaded && m.envelope_known, "{m:?}");
        assert_eq!(m.transfer, "DATA");
        assert!(m.helo.is_some(), "{m:?}");
    }
    assert_eq!(kept[0].maildir.as_deref(), Some(moved.as_path()));
    // Reloaded messages are kept, not delivered in this run; ids are new and distinct.
    assert_eq!(sink.delivered(), 0);
    assert_ne!(kept[0].id, kept[1].id);

    // A new message goes after them, and the next start finds all three.
    let mut c = Smtp::ehlo(sink.addr()).await;
    let r = send_data(
        &mut c,
        "c@example.org",
        "third@example.net",
        b"Subject: third\r\n\r\nx\r\n",
    )
    .await;
    assert!(r.starts_with("250 "), "{r}");
    let last = sink.messages().pop().unwrap();
    assert!(!last.reloaded && last.envelope_known);
    drop(c);
    drop(sink);
    let sink = Sink::builder().maildir(&md).start().await.unwrap();
    assert_eq!(sink.reload().loaded, 3, "{:?}", sink.reload());
    assert_eq!(sink.messages()[2].rcpt_to, ["third@example.net"]);
}

#[tokio::test]
async fn the_cap_keeps_the_newest_and_leaves_the_rest_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("Maildir");
    for i in 0..5 {
        let p = md.join("new").join(format!("100{i}.M1P1.host"));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, format!("Subject: m{i}\r\n\r\nx\r\n")).unwrap();
        // Names sort against age: the order must come from the times.
        age(&p, 100 - i);
    }
    let sink = Sink::builder()
        .maildir(&md)
        .max_messages(2)
        .start()
        .await
        .unwrap();
    let r = sink.reload();
    assert_eq!((r.loaded, r.left, r.skipped), (2, 3, 0), "{r:?}");
    let subjects: Vec<_> = sink
        .mails()
        .iter()
        .map(|m| m.subject().unwrap().to_string())
        .collect();
    assert_eq!(subjects, ["m1", "m0"]);
    assert_eq!(files_in(&md.join("new")).len(), 5, "nothing is deleted");

    // Messages not kept: nothing is read.
    let sink = Sink::builder()
        .maildir(&md)
        .keep_messages(false)
        .start()
        .await
        .unwrap();
    assert_eq!(sink.reload().loaded, 0);
}

#[tokio::test]
async fn a_foreign_file_has_no_envelope_and_bad_files_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("Maildir");
    let new = md.join("new");
    std::fs::create_dir_all(&new).unwrap();
    std::fs::create_dir_all(md.join("cur")).unwrap();
    // Put there by something else: no record.
    let foreign = new.join("1.M1P1.elsewhere");
    std::fs::write(&foreign, "Subject: foreign\r\n\r\nhello\r\n").unwrap();
    age(&foreign, 1);
    // Empty, a directory, a dot file (not a message: ignored), and a symlink to a secret.
    std::fs::write(new.join("2.M2P2.empty"), "").unwrap();
    std::fs::create_dir(new.join("3.M3P3.dir")).unwrap();
    std::fs::write(new.join(".hidden"), "Subject: hidden\r\n\r\n").unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "Subject: secret\r\n\r\nprecious\r\n").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&secret, md.join("cur").join("4.M4P4.link:2,S")).unwrap();
    // Over the size limit.
    std::fs::write(new.join("5.M5P5.big"), vec![b'x'; 2000]).unwrap();
    // A message with a broken record: kept, without the envelope, and counted.
    let broken = new.join("6.M6P6.broken");
    std::fs::write(&broken, "Subject: broken record\r\n\r\nx\r\n").unwrap();
    age(&broken, 2);
    std::fs::create_dir_all(md.join("squall-sink")).unwrap();
    std::fs::write(md.join("squall-sink/6.M6P6.broken.json"), "{not json").unwrap();

    let sink = Sink::builder()
        .maildir(&md)
        .size_limit(1000)
        .start()
        .await
        .unwrap();
    let r = sink.reload().clone();
    let expected_skips = if cfg!(unix) { 5 } else { 4 };
    assert_eq!((r.loaded, r.skipped), (2, expected_skips), "{r:#?}");
    assert_eq!(r.warnings.len(), expected_skips);
    for why in [
        "empty file",
        "not a regular file",
        "over the size limit",
        "record unusable",
    ] {
        assert!(r.warnings.iter().any(|w| w.contains(why)), "{why}: {r:#?}");
    }
    let kept = sink.messages();
    assert_eq!(kept.len(), 2);
    for m in &kept {
        assert!(m.reloaded && !m.envelope_known, "{m:?}");
        assert!(m.mail_from.is_empty() && m.rcpt_to.is_empty() && !m.tls);
        assert!(
            m.received_at.starts_with("2023-11-14T22:13:2"),
            "{}",
            m.received_at
        );
    }
    let texts: Vec<_> = sink.mails().iter().filter_map(|m| m.text()).collect();
    assert!(!texts.iter().any(|t| t.contains("precious")), "{texts:?}");
    // The secret was not touched either.
    assert!(std::fs::read_to_string(&secret).unwrap().contains("precious"));
}

#[tokio::test]
async fn a_record_that_cannot_be_written_does_not_refuse_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("Maildir");
    std::fs::create_dir_all(&md).unwrap();
    // A file where the records' directory goes.
    std::fs::write(md.join("squall-sink"), "in the way").unwrap();
    deliver(&md, "a@example.org", "b@example.net", "no record").await;
    let sink = Sink::builder().maildir(&md).start().await.unwrap();
    assert_eq!(sink.reload().loaded, 1, "{:?}", sink.reload());
    let m = &sink.messages()[0];
    assert!(!m.envelope_known && m.rcpt_to.is_empty(), "{m:?}");
}
