//! The real servers `scripts/test.sh` starts, and how to find what they received.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use squall::{Client, Tls};

pub(crate) struct Peer {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) dir: PathBuf,
}

/// The peer `SQUALL_PEER_{name}` names. Every test that calls this is `#[ignore]`d, so a plain
/// `cargo test` reports it ignored rather than passed; `scripts/test.sh` runs it with
/// `--include-ignored` and the peers started. A missing peer then fails the test, unless its
/// family was explicitly left out (`SQUALL_PEER_POSTFIX_SKIP=why`): then the test is recorded as
/// not run (see [`not_run`]) and returns `None`.
pub(crate) fn peer(name: &str) -> Option<Peer> {
    let var = format!("SQUALL_PEER_{name}");
    let Ok(addr) = std::env::var(&var) else {
        // SQUALL_PEER_POSTFIX_SKIP explains why every SQUALL_PEER_POSTFIX_* is missing.
        let family = var.rsplit_once('_').map_or(var.as_str(), |(family, _)| family);
        if let Ok(why) = std::env::var(format!("{family}_SKIP")) {
            not_run(&var, &why);
            return None;
        }
        panic!(
            "{var} is not set: this test needs the real peer servers, which scripts/test.sh starts \
             (a plain `cargo test` ignores it)"
        );
    };
    let (host, port) = addr.rsplit_once(':').expect("HOST:PORT");
    let dir = std::env::var(format!("{var}_DIR")).expect("the peer's mail directory");
    Some(Peer {
        host: host.to_string(),
        port: port.parse().unwrap(),
        dir: dir.into(),
    })
}

impl Peer {
    pub(crate) fn client(&self) -> squall::ClientBuilder {
        Client::builder(&self.host)
            .port(self.port)
            .tls(Tls::None)
            .idle_timeout(Duration::from_millis(200))
            .timeout(Duration::from_secs(30))
    }

    /// A client that reaches the peer as `localhost` and trusts the test CA.
    pub(crate) fn secure(&self, tls: Tls) -> squall::ClientBuilder {
        let ca = std::env::var("SQUALL_PEER_CA").expect("scripts/test.sh sets SQUALL_PEER_CA");
        Client::builder("localhost")
            .port(self.port)
            .tls(tls)
            .ca_file(ca)
            .idle_timeout(Duration::from_millis(200))
            .timeout(Duration::from_secs(30))
    }
}

/// Records that the running test did not do its checks because `what` is missing, and why:
/// one line in the file `SQUALL_NOT_RUN_LOG` names (which `scripts/test.sh` counts and shows in
/// its summary, failing the run unless told otherwise), and on stderr.
pub(crate) fn not_run(what: &str, why: &str) {
    let test = std::thread::current().name().unwrap_or("?").to_string();
    let line = format!("{}::{test}: {what}: {why}\n", env!("CARGO_CRATE_NAME"));
    eprint!("NOT RUN: {line}");
    if let Some(log) = std::env::var_os("SQUALL_NOT_RUN_LOG") {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("SQUALL_NOT_RUN_LOG can be written");
        f.write_all(line.as_bytes())
            .expect("SQUALL_NOT_RUN_LOG can be written");
    }
}

/// A recipient address no other test uses.
pub(crate) fn unique(label: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("{label}-{nanos:x}@example.org")
}

/// Polls `dir` until `pick` finds what it wants in a file.
pub(crate) fn wait_for_file<T>(dir: &Path, pick: impl Fn(&Path) -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                if let Some(found) = pick(&e.path()) {
                    return found;
                }
            }
        }
        assert!(Instant::now() < deadline, "nothing arrived in {}", dir.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `.eml` bytes aiosmtpd stored for the message to `rcpt`, with its JSON envelope.
pub(crate) fn aiosmtpd_message(p: &Peer, rcpt: &str) -> (Vec<u8>, serde_json::Value) {
    wait_for_file(&p.dir, |path| {
        if path.extension()? != "json" {
            return None;
        }
        let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        let rcpts = meta["rcpt_tos"].as_array()?;
        rcpts.iter().any(|r| r == rcpt).then(|| {
            let eml = std::fs::read(path.with_extension("eml")).unwrap();
            (eml, meta)
        })
    })
}

/// The message Postfix delivered to `rcpt` (with its own headers added, LF line ends).
pub(crate) fn postfix_message(p: &Peer, rcpt: &str) -> String {
    let needle = format!("X-Original-To: {rcpt}\n");
    wait_for_file(&p.dir, |path| {
        let text = String::from_utf8_lossy(&std::fs::read(path).ok()?).into_owned();
        text.contains(&needle).then_some(text)
    })
}

/// The independent DKIM verifier (dkimpy, through `scripts/peers/dkim_verify.py`) that
/// `scripts/test.sh` installs, as a command line. Called only by ignored tests, so a missing
/// verifier fails the test.
pub(crate) fn dkim_verifier() -> Option<Vec<String>> {
    let Ok(cmd) = std::env::var("SQUALL_DKIM_VERIFY") else {
        panic!("SQUALL_DKIM_VERIFY is not set: scripts/test.sh installs dkimpy and sets it");
    };
    Some(cmd.split_whitespace().map(str::to_string).collect())
}

/// What dkimpy says of each signature of `message` (CRLF), with the public keys given as
/// `(selector, domain, record)`: one "pass" or "fail …" line per signature.
pub(crate) fn dkim_verify(verifier: &[String], message: &[u8], keys: &[(&str, &str, String)]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.eml");
    std::fs::write(&path, message).unwrap();
    let out = std::process::Command::new(&verifier[0])
        .args(&verifier[1..])
        .arg(&path)
        .args(keys.iter().map(|(s, d, r)| format!("{s}._domainkey.{d}={r}")))
        .output()
        .expect("the DKIM verifier runs");
    assert!(
        out.stderr.is_empty() || out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}
