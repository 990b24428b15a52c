//! Running the `squall` binary as a user would, isolated from the caller's environment: no
//! SQUALL_URL, and an empty config directory unless a test writes one.

#![allow(dead_code, unreachable_pub)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use std::io::Write;

/// One run of the binary.
pub struct Run {
    cmd: Command,
    stdin: Option<Vec<u8>>,
    _home: tempfile::TempDir,
}

impl Run {
    /// `squall ARGS…`.
    pub fn new<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) -> Self {
        Self::program(env!("CARGO_BIN_EXE_squall"), args)
    }

    /// Another path to the binary (a `sendmail` link, say).
    pub fn program<S: AsRef<OsStr>>(program: impl AsRef<OsStr>, args: impl IntoIterator<Item = S>) -> Self {
        let home = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_remove("SQUALL_URL")
            .env_remove("SQUALL_QUEUE_URL")
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join(".config"))
            .env("SQUALL_CAPTURE_DIR", home.path().join("captured"));
        Self {
            cmd,
            stdin: None,
            _home: home,
        }
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Writes `toml` as the default accounts file.
    pub fn accounts(self, toml: &str) -> Self {
        let dir = self.config_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), toml).unwrap();
        self
    }

    pub fn config_dir(&self) -> PathBuf {
        self._home.path().join(".config").join("squall")
    }

    pub fn home(&self) -> &Path {
        self._home.path()
    }

    /// Runs to the end (blocking).
    pub fn output(mut self) -> Output {
        self.cmd.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = self.cmd.spawn().expect("the binary runs");
        if let Some(bytes) = self.stdin.take() {
            let mut pipe = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        child.wait_with_output().expect("the binary runs")
    }

    /// Runs off the async runtime, so that an in-process sink can answer it.
    pub async fn run(self) -> Output {
        tokio::task::spawn_blocking(move || self.output()).await.unwrap()
    }
}

pub fn squall(args: &[&str], capture_dir: &Path) -> Output {
    squall_env(args, &[], capture_dir)
}

pub fn squall_env(args: &[&str], env: &[(&str, &str)], capture_dir: &Path) -> Output {
    let mut r = Run::new(args).env("SQUALL_CAPTURE_DIR", capture_dir);
    for (k, v) in env {
        r = r.env(k, v);
    }
    r.output()
}

pub async fn squall_async(args: Vec<String>) -> Output {
    Run::new(args).run().await
}

pub async fn squall_async_env(args: Vec<String>, env: Vec<(&'static str, &'static str)>) -> Output {
    let mut r = Run::new(args);
    for (k, v) in env {
        r = r.env(k, v);
    }
    r.run().await
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

/// A private CA and a certificate for localhost: (CA PEM, certificate PEM, key PEM).
pub fn pki() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// A submission sink (STARTTLS required, then AUTH as `user`) and a CA file that trusts it.
pub async fn submission_sink(
    user: &str,
    password: &str,
) -> (squall_sink::SinkHandle, tempfile::TempDir, PathBuf) {
    let (ca, cert, key) = pki();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let sink = squall_sink::Sink::builder()
        .tls_pem(cert.as_bytes(), key.as_bytes())
        .unwrap()
        .require_tls(true)
        .user(user, password)
        .start()
        .await
        .unwrap();
    (sink, dir, ca_file)
}

/// Records that `test` could not do its checks, for `scripts/test.sh`'s NOT RUN summary (the
/// file `SQUALL_NOT_RUN_LOG` names; the run fails unless told otherwise).
pub fn not_run(test: &str, why: &str) {
    let line = format!("squall-cli::{test}: {why}\n");
    eprint!("NOT RUN: {line}");
    if let Some(log) = std::env::var_os("SQUALL_NOT_RUN_LOG") {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("SQUALL_NOT_RUN_LOG can be written");
        f.write_all(line.as_bytes())
            .expect("SQUALL_NOT_RUN_LOG can be written");
    }
}

/// The peer address in `var`, set by `scripts/test.sh`. Tests that call this are `#[ignore]`d
/// (a plain `cargo test` reports them ignored); once running, a missing peer fails the test
/// unless `skip` explains why its family was left out (then it is recorded as not run).
pub fn peer(var: &str, skip: &str) -> Option<String> {
    if let Ok(v) = std::env::var(var) {
        return Some(v);
    }
    if let Ok(why) = std::env::var(skip) {
        let test = std::thread::current().name().unwrap_or("?").to_string();
        not_run(&test, &format!("{var}: {why}"));
        return None;
    }
    panic!("{var} is not set: this test needs the real peer servers, which scripts/test.sh starts");
}

/// A queue database in `dir`, as a `--queue-url`.
pub fn queue_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite:{}", dir.path().join("q.db").display())
}
