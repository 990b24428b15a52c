//! Every shell example in the README runs and succeeds, against local sinks standing in for the
//! servers it names, so the front door cannot rot, and does what the README says it does
//! (`readme/promises.rs`): `--dry-run` sends nothing, `--json` has the documented fields,
//! `sendmail -t` removes Bcc, port 587 means STARTTLS required. (Its Rust examples are doctests
//! of the squall crate.) Every fenced block is read: a shell block (`sh`, `bash`, `shell`,
//! `console`) whose example is neither run nor listed in SKIPPED fails the test, and so does a
//! block of a kind this test does not know.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use squall_sink::{Sink, SinkHandle};

mod common;
use common::{not_run, pki};

#[path = "readme/promises.rs"]
mod promises;

const README: &str = include_str!("../../../README.md");
const PASSWORD: &str = "app-password";

const PG: &str =
    "needs a PostgreSQL server: crates/squall-cli/tests/queue_pg.rs drains one queue with three runners";

/// Examples not run here, and why.
const SKIPPED: &[(&str, &str)] = &[
    (
        "squall send --url lmtp:",
        "LMTP needs a mailbox server: crates/squall/tests/interop_lmtp.rs delivers to Dovecot",
    ),
    (
        "squall send --proxy",
        "needs a SOCKS5 proxy: crates/squall/tests/interop_socks.rs goes through Dante",
    ),
    ("squall queue add --queue-url postgres:", PG),
    ("squall queue run --queue-url postgres:", PG),
    ("squall queue stats --queue-url postgres:", PG),
    ("scripts/test.sh", "this is the suite that runs this test"),
    (
        "scripts/fuzz.sh",
        "scripts/test.sh runs every fuzz target (through scripts/fuzz.sh)",
    ),
    (
        "cargo install cargo-fuzz",
        "scripts/test.sh installs cargo-fuzz and runs every fuzz target",
    ),
    (
        "cd fuzz",
        "scripts/test.sh runs every fuzz target (through scripts/fuzz.sh)",
    ),
    (
        "cargo run --release -p squall-bench",
        "the benchmarks take minutes; CI runs the tests",
    ),
    (
        "cargo build --release -p squall-cli -p squall-bench",
        "the sink load benchmark takes minutes and streams 800 MiB",
    ),
    (
        "git send-email",
        "tests/sendmail.rs sends a real patch with git send-email",
    ),
    (
        "ln -s",
        "tests/sendmail.rs runs the binary through a link named sendmail",
    ),
];

/// Fence languages whose blocks hold shell commands.
const SHELL: &[&str] = &["sh", "bash", "shell", "console", "zsh"];
/// Fence languages whose blocks are not commands (Rust blocks are doctests of the squall crate).
const NOT_SHELL: &[&str] = &["rust", "rust,no_run", "toml", "text"];

/// The commands of every shell block: continuation lines joined, blank lines and comments
/// dropped, a `$ ` prompt removed. A fence of a kind not in [`SHELL`] or [`NOT_SHELL`] (or with
/// none) is an `Err`, so a new kind of block cannot go unread.
fn examples() -> Result<Vec<(usize, String)>, String> {
    let mut out = Vec::new();
    let mut fence: Option<bool> = None;
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in README.lines().enumerate() {
        if let Some(lang) = line.strip_prefix("```") {
            fence = match fence {
                Some(_) => None,
                None if SHELL.contains(&lang) => Some(true),
                None if NOT_SHELL.contains(&lang) => Some(false),
                None => {
                    return Err(format!(
                        "README:{}: a ```{lang} block this test does not know",
                        i + 1
                    ));
                }
            };
            continue;
        }
        let line = line.strip_prefix("$ ").unwrap_or(line);
        if fence != Some(true) || line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (start, mut text) = pending.take().unwrap_or((i + 1, String::new()));
        match line.strip_suffix('\\') {
            Some(head) => {
                text.push_str(head);
                pending = Some((start, text));
            }
            None => {
                text.push_str(line);
                out.push((start, text));
            }
        }
    }
    Ok(out)
}

/// The sinks the examples' servers are mapped to.
struct Servers {
    plain: SinkHandle,
    submission: SinkHandle,
    smtps: SinkHandle,
    ca: PathBuf,
}

impl Servers {
    async fn start(dir: &Path) -> Self {
        let (ca, cert, key) = pki();
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, ca).unwrap();
        std::fs::write(dir.join("cert.pem"), &cert).unwrap();
        std::fs::write(dir.join("key.pem"), &key).unwrap();
        let secure = |implicit: bool| {
            let mut b = Sink::builder()
                .tls_pem(cert.as_bytes(), key.as_bytes())
                .unwrap()
                .implicit_tls(implicit)
                .require_tls(true);
            for user in ["me", "me@example.org", "me@gmail.com", "me@fastmail.com"] {
                b = b.user(user, PASSWORD);
            }
            b.start()
        };
        Self {
            plain: Sink::builder().start().await.unwrap(),
            submission: secure(false).await.unwrap(),
            smtps: secure(true).await.unwrap(),
            ca: ca_path,
        }
    }

    /// The example with its servers replaced by the local ones.
    fn rewrite(&self, cmd: &str) -> String {
        let mut cmd = cmd.replace("cargo run --release -p squall-cli -- ", "squall ");
        let plain = self.plain.addr().to_string();
        cmd = cmd.replace(
            "--url smtp://localhost:2525",
            &format!("--url smtp://{plain}?tls=none"),
        );
        if cmd.starts_with("squall sink") {
            cmd = cmd.replace("--listen 127.0.0.1:2525", "");
            // Stopped with SIGINT once it says it listens (within 60 s), not after a fixed
            // time: a loaded machine once took more than 2 s to get there. Its status is the
            // sink's own.
            return format!(
                "{cmd} --listen 127.0.0.1:0 > sink.out & pid=$!; i=0; \
                 until grep -q 'listening on' sink.out || ! kill -0 $pid || [ $i -ge 1200 ]; do sleep 0.05; i=$((i+1)); done; \
                 kill -INT $pid; wait $pid; status=$?; cat sink.out; rm -f sink.out; exit $status"
            );
        }
        cmd = cmd.replace("--generate 100000", "--generate 300");
        let words: Vec<&str> = cmd.split(' ').collect();
        let Some(at) = words.iter().position(|w| *w == "--server") else {
            return cmd;
        };
        let server = words[at + 1];
        let replacement = if !cmd.contains("--user") {
            format!("{plain} --tls none")
        } else if server.ends_with(":465") {
            format!(
                "localhost:{} --tls implicit --ca-file {}",
                self.smtps.addr().port(),
                self.ca.display()
            )
        } else {
            format!(
                "localhost:{} --ca-file {}",
                self.submission.addr().port(),
                self.ca.display()
            )
        };
        cmd.replacen(
            &format!("--server {server}"),
            &format!("--server {replacement}"),
            1,
        )
    }

    /// Accounts named as in the README: `work` (the default, a submission server) and `local`.
    fn accounts(&self) -> String {
        format!(
            "default = \"work\"\n\n[accounts.work]\nserver = \"localhost:{}\"\ntls = \"starttls\"\n\
             ca_file = \"{}\"\nuser = \"me@example.org\"\npassword_command = \"echo {PASSWORD}\"\n\
             from = \"Me <me@example.org>\"\n\n[accounts.local]\nserver = \"{}\"\ntls = \"none\"\n",
            self.submission.addr().port(),
            self.ca.display(),
            self.plain.addr()
        )
    }
}

/// A test key for the DKIM examples.
const DKIM_KEY: &str = include_str!("../../squall/tests/data/dkim/ed25519.pem");

/// The files the examples name.
fn fixtures(work: &Path, home: &Path) {
    std::fs::write(work.join("report.txt"), "The report.\n").unwrap();
    std::fs::write(work.join("note.txt"), "A note.\n").unwrap();
    std::fs::write(work.join("report.pdf"), b"%PDF-1.4\n%fake\n").unwrap();
    std::fs::write(work.join("scan.bin"), b"%PDF-1.4\n%scanned\n").unwrap();
    std::fs::write(work.join("news.html"), "<p>News</p><img src=\"cid:logo\">\n").unwrap();
    std::fs::write(work.join("logo.png"), b"\x89PNG\r\n\x1a\n").unwrap();
    std::fs::write(
        work.join("message.eml"),
        "From: Me <me@example.org>\nTo: you@example.org\nBcc: hidden@example.org\nSubject: raw\n\nRaw.\n",
    )
    .unwrap();
    std::fs::write(work.join("dkim.pem"), DKIM_KEY).unwrap();
    std::fs::create_dir_all(work.join("outbox")).unwrap();
    for i in 0..3 {
        std::fs::write(
            work.join(format!("outbox/{i}.eml")),
            format!("Subject: {i}\n\nbulk {i}\n"),
        )
        .unwrap();
    }
    std::fs::create_dir_all(home.join(".config/squall")).unwrap();
    std::fs::write(home.join(".config/fastmail-password"), format!("{PASSWORD}\n")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shell_example_in_the_readme_works() {
    let work = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let servers = Servers::start(work.path()).await;
    fixtures(work.path(), home.path());
    std::fs::write(home.path().join(".config/squall/config.toml"), servers.accounts()).unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_squall"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let mut ran = 0;
    let mut failures = Vec::new();
    let mut exports: Vec<(String, String)> = Vec::new();
    let sinks = [&servers.plain, &servers.submission, &servers.smtps];
    let capture_dir = work.path().join("captured");
    let mut checked = Vec::new();
    for (line, example) in examples().unwrap() {
        if let Some((_, why)) = SKIPPED.iter().find(|(prefix, _)| example.starts_with(prefix)) {
            eprintln!("README:{line}: not run here: {why}");
            continue;
        }
        if let Some(assignment) = example.strip_prefix("export ") {
            let (k, v) = assignment.split_once('=').expect("export NAME=VALUE");
            exports.push((k.to_string(), v.trim_matches('\'').to_string()));
            continue;
        }
        let known = [
            "squall ",
            "cargo run --release -p squall-cli -- ",
            "printf ",
            "df -h | squall ",
        ];
        if !known.iter().any(|k| example.starts_with(k)) {
            failures.push(format!(
                "README:{line}: an example this test does not know how to run: {example}"
            ));
            continue;
        }
        let cmd = servers.rewrite(&example);
        let mut c = Command::new("sh");
        c.args(["-c", &cmd])
            .current_dir(work.path())
            .env("PATH", &path)
            .env("HOME", home.path())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("SQUALL_URL")
            // The queue examples use the default queue, under this HOME.
            .env_remove("XDG_STATE_HOME")
            .env_remove("SQUALL_QUEUE_URL")
            .env("SQUALL_CAPTURE_DIR", &capture_dir)
            .env("PW", PASSWORD)
            .env("SMTP_PASSWORD", PASSWORD)
            .env("ACCESS_TOKEN", PASSWORD)
            .envs(exports.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null());
        let before = promises::snapshot(&sinks, &capture_dir);
        let started = Instant::now();
        let o = tokio::task::spawn_blocking(move || c.output().unwrap())
            .await
            .unwrap();
        ran += 1;
        checked.push(example.clone());
        for broken in promises::check(&example, &o, &sinks, &capture_dir, &before) {
            failures.push(format!("README:{line}: {example}\n  {broken}"));
        }
        let ok = o.status.success()
            && (!cmd.contains("squall sink") || String::from_utf8_lossy(&o.stdout).contains("listening on"));
        if !ok || started.elapsed() > Duration::from_secs(60) {
            failures.push(format!(
                "README:{line}: {example}\n  ran: {cmd}\n  status {:?} after {:?}\n  stdout: {}\n  stderr: {}",
                o.status.code(),
                started.elapsed(),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ));
        }
    }
    assert!(ran >= 20, "only {ran} examples ran: is the README parsed right?");
    for promise in ["--dry-run", "--json", "sendmail -t"] {
        assert!(
            checked.iter().any(|e| e.contains(promise)),
            "no README example with {promise} ran: its promise went unchecked"
        );
    }
    assert!(
        failures.is_empty(),
        "{} README examples failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The accounts file shown in the README parses.
#[test]
fn the_readme_accounts_file_parses() {
    let start = README.find("```toml\n").expect("a toml example") + "```toml\n".len();
    let toml = &README[start..start + README[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(&file, toml).unwrap();
    std::fs::write(dir.path().join("dkim.pem"), DKIM_KEY).unwrap();
    let o = common::Run::new(["config", "path", "--config", file.to_str().unwrap()]).output();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// "587: STARTTLS is required; squall refuses to go on in cleartext": every README example
/// that names port 587 (and no proxy), pointed at a server on 127.0.0.1:587 that offers no STARTTLS, sends
/// nothing and exits 78. Binding port 587 needs root (as in CI); elsewhere the check is
/// recorded as not run (see `scripts/test.sh`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_587_means_starttls_required() {
    let cleartext = match Sink::builder()
        .listen("127.0.0.1:587".parse().unwrap())
        .start()
        .await
    {
        Ok(s) => s,
        Err(e) => {
            not_run(
                "port_587_means_starttls_required",
                &format!("cannot listen on 127.0.0.1:587: {e}"),
            );
            return;
        }
    };
    let examples: Vec<(usize, String)> = examples()
        .unwrap()
        .into_iter()
        // Through a proxy, the server would be reached by the proxy, which is not there.
        .filter(|(_, e)| e.starts_with("squall send") && e.contains(":587 ") && !e.contains("--proxy"))
        .collect();
    assert!(
        examples.len() >= 2,
        "the README's port 587 examples: {examples:?}"
    );
    for (line, example) in examples {
        let words: Vec<&str> = example.split(' ').collect();
        let at = words.iter().position(|w| *w == "--server").unwrap();
        let cmd = example.replacen(words[at + 1], "127.0.0.1:587", 1);
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("report.txt"), "r").unwrap();
        std::fs::write(home.path().join("report.pdf"), "%PDF").unwrap();
        let o = tokio::task::spawn_blocking(move || {
            Command::new("sh")
                .args([
                    "-c",
                    &cmd.replacen("squall ", &format!("{} ", env!("CARGO_BIN_EXE_squall")), 1),
                ])
                .current_dir(home.path())
                .env("HOME", home.path())
                .env_remove("SQUALL_URL")
                .env("SMTP_PASSWORD", PASSWORD)
                .env("ACCESS_TOKEN", PASSWORD)
                .stdin(Stdio::null())
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(78), "README:{line}: {example}\n{stderr}");
        assert!(stderr.contains("STARTTLS"), "README:{line}: {stderr}");
        assert_eq!(cleartext.delivered(), 0, "README:{line}: sent in cleartext");
    }
}
