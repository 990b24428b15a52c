use super::*;
use crate::limits::MemoryBudget;

fn spool(dir: &Path, threshold: usize, memory: usize, size_limit: Option<u64>) -> Spool {
    Spool {
        dir: dir.to_path_buf(),
        suffix: ".tmp".into(),
        threshold,
        budget: MemoryBudget::new(memory),
        size_limit,
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[cfg(unix)]
#[test]
fn symlink_planted_at_temp_name_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join("planted.tmp")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("nowhere"), dir.path().join("dangling.tmp")).unwrap();
    for name in ["planted.tmp", "dangling.tmp"] {
        let e = TempFile::create(dir.path(), name).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{name}: {e}");
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(!dir.path().join("nowhere").exists());
}

#[test]
fn temp_names_are_unpredictable() {
    let a = unique_name().unwrap();
    let b = unique_name().unwrap();
    assert_ne!(a, b);
    let random = |n: &str| n.rsplit_once('R').unwrap().1.to_string();
    assert_eq!(random(&a).len(), 16);
    assert_ne!(random(&a), random(&b));
    // A Maildir unique name: no slash or colon, not starting with a dot.
    assert!(!a.contains(['/', ':']) && !a.starts_with('.'));
}

#[cfg(unix)]
#[test]
fn spool_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let f = TempFile::create_unique(dir.path(), ".tmp").unwrap();
    let mode = std::fs::metadata(f.path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "{mode:o}");
}

#[test]
fn small_content_stays_in_memory_and_big_content_goes_to_disk() {
    let dir = tempfile::tempdir().unwrap();
    let s = spool(dir.path(), 1000, 1 << 20, None);
    let mut small = Body::new(&s);
    small.push(&[b'a'; 600], &s);
    small.push(&[b'b'; 400], &s);
    assert!(files(dir.path()).is_empty());
    assert!(s.budget.in_use() >= 1000);
    let Ok(Content::Memory(v)) = small.finish() else {
        panic!("in memory")
    };
    assert_eq!(v.len(), 1000);
    assert_eq!(s.budget.in_use(), 0);

    let mut big = Body::new(&s);
    big.push(&[b'a'; 600], &s);
    big.push(&[b'b'; 401], &s);
    assert_eq!(files(dir.path()).len(), 1);
    assert_eq!(s.budget.in_use(), 0, "memory given back once on disk");
    let Ok(mut content @ Content::File(_)) = big.finish() else {
        panic!("on disk")
    };
    let v = content.read_all().unwrap();
    assert_eq!(v, [vec![b'a'; 600], vec![b'b'; 401]].concat());
    drop(content);
    assert!(files(dir.path()).is_empty(), "removed unless persisted");
}

#[test]
fn when_the_shared_budget_is_spent_content_goes_to_disk_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = spool(dir.path(), 1 << 20, 100 * 1024, None);
    let mut first = Body::new(&s);
    first.push(&[1; 90 * 1024], &s);
    let mut second = Body::new(&s);
    second.push(&[2; 20 * 1024], &s);
    assert_eq!(files(dir.path()).len(), 1);
    assert!(s.budget.in_use() <= 100 * 1024);
    assert!(matches!(first.finish(), Ok(Content::Memory(_))));
    assert!(matches!(second.finish(), Ok(Content::File(_))));
}

#[test]
fn content_past_the_size_limit_is_dropped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let s = spool(dir.path(), 10, 1 << 20, Some(25));
    let mut b = Body::new(&s);
    b.push(&[b'x'; 20], &s);
    b.push(&[b'x'; 5], &s);
    assert!(!b.too_big());
    b.push(b"y", &s);
    assert!(b.too_big());
    assert_eq!(b.len(), 26);
    assert!(files(dir.path()).is_empty(), "the spool file is gone");
    assert!(matches!(b.finish(), Err(BodyError::TooBig)));
}

#[test]
fn the_largest_size_limit_does_not_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let s = spool(dir.path(), 1 << 20, 1 << 20, Some(u64::MAX));
    let mut b = Body::new(&s);
    b.push(b"hello", &s);
    let Ok(mut c) = b.finish() else { panic!() };
    assert_eq!(c.read_all().unwrap(), b"hello");
}

#[test]
fn a_spool_directory_that_cannot_be_written_fails_the_message_not_the_sink() {
    let dir = tempfile::tempdir().unwrap();
    let s = spool(&dir.path().join("missing"), 4, 1 << 20, None);
    let mut b = Body::new(&s);
    b.push(b"more than four", &s);
    b.push(b"and more", &s);
    assert_eq!(b.len(), 22);
    assert!(matches!(b.finish(), Err(BodyError::Spool(_))));
}
