//! `squall send` signing with DKIM, from flags and from an account; the signatures are checked
//! by dkimpy (scripts/test.sh sets SQUALL_DKIM_VERIFY) when it is there.

use std::path::PathBuf;

use squall_sink::{Sink, SinkHandle};

mod common;
use common::{Run, code, text};

fn key(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../squall/tests/data/dkim")
        .join(name)
}

fn record(name: &str) -> String {
    squall::DkimKey::from_pem_file(key(name)).unwrap().dns_record()
}

const MESSAGE: [&str; 8] = [
    "--from",
    "Ann <ann@example.org>",
    "--to",
    "bob@example.net",
    "--subject",
    "signed",
    "--body",
    "Hello\n\n",
];

/// dkimpy's verdicts on `message`, or `None` when it is not installed (outside scripts/test.sh).
fn verify(message: &[u8], keys: &[(&str, String)]) -> Option<Vec<String>> {
    let Ok(cmd) = std::env::var("SQUALL_DKIM_VERIFY") else {
        assert!(
            std::env::var_os("SQUALL_PEERS_REQUIRED").is_none(),
            "SQUALL_DKIM_VERIFY is not set"
        );
        eprintln!("skipped the dkimpy check: SQUALL_DKIM_VERIFY is not set");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.eml");
    std::fs::write(&path, message).unwrap();
    let mut words = cmd.split_whitespace();
    let out = std::process::Command::new(words.next().unwrap())
        .args(words)
        .arg(&path)
        .args(
            keys.iter()
                .map(|(sel, r)| format!("{sel}._domainkey.example.org={r}")),
        )
        .output()
        .unwrap();
    Some(text(&out.stdout).lines().map(str::to_string).collect())
}

async fn sink() -> SinkHandle {
    Sink::builder().start().await.unwrap()
}

#[tokio::test]
async fn flags_sign_and_the_signature_verifies() {
    let s = sink().await;
    let k = key("ed25519.pem");
    let mut args = vec!["send", "--server"];
    let addr = s.addr().to_string();
    args.push(&addr);
    args.extend(MESSAGE);
    args.extend([
        "--dkim-key",
        k.to_str().unwrap(),
        "--dkim-domain",
        "example.org",
        "--dkim-selector",
        "ed",
        "--dkim-canon",
        "relaxed/simple",
    ]);
    let o = Run::new(&args).run().await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let m = &s.messages()[0];
    let data = text(&m.data);
    assert!(
        data.starts_with("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/simple; d=example.org; s=ed;"),
        "{data}"
    );
    if let Some(v) = verify(&m.data, &[("ed", record("ed25519.pem"))]) {
        assert_eq!(v, ["pass"], "{data}");
    }
}

#[tokio::test]
async fn an_account_signs_with_a_key_beside_the_file() {
    let s = sink().await;
    let run = Run::new([
        "send",
        "--account",
        "signed",
        "--to",
        "bob@example.net",
        "--subject",
        "s",
        "--body",
        "b",
    ]);
    std::fs::create_dir_all(run.config_dir()).unwrap();
    std::fs::copy(key("rsa2048.pem"), run.config_dir().join("dkim.pem")).unwrap();
    let toml = format!(
        "[accounts.signed]\nserver = \"{}\"\ntls = \"none\"\nfrom = \"ann@example.org\"\ndkim_key = \"dkim.pem\"\ndkim_domain = \"example.org\"\ndkim_selector = \"rsa\"\n",
        s.addr()
    );
    let o = run.accounts(&toml).run().await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let m = &s.messages()[0];
    assert!(text(&m.data).starts_with("DKIM-Signature: v=1; a=rsa-sha256;"));
    if let Some(v) = verify(&m.data, &[("rsa", record("rsa2048.pem"))]) {
        assert_eq!(v, ["pass"]);
    }
}

#[tokio::test]
async fn mistakes_are_named_and_nothing_is_sent() {
    let s = sink().await;
    let addr = s.addr().to_string();
    let base = |extra: &[&str]| {
        let mut v = vec!["send", "--server", &addr];
        v.extend(MESSAGE);
        v.extend_from_slice(extra);
        v.iter().map(|x| x.to_string()).collect::<Vec<_>>()
    };
    let (small, ed) = (key("rsa1024.pem"), key("ed25519.pem"));
    let (k, ed) = (small.to_str().unwrap(), ed.to_str().unwrap());
    for (extra, exit, says) in [
        (
            vec![
                "--dkim-key",
                "/nonexistent/k.pem",
                "--dkim-domain",
                "example.org",
                "--dkim-selector",
                "s",
            ],
            66,
            "no such file",
        ),
        (
            vec![
                "--dkim-key",
                k,
                "--dkim-domain",
                "example.org",
                "--dkim-selector",
                "s",
            ],
            78,
            "under 2048 bits",
        ),
        (
            vec![
                "--dkim-key",
                ed,
                "--dkim-domain",
                "example.org;x=1",
                "--dkim-selector",
                "s",
            ],
            78,
            "invalid DKIM domain",
        ),
        (
            vec!["--dkim-key", k, "--dkim-domain", "example.org"],
            64,
            "--dkim-selector",
        ),
    ] {
        let o = Run::new(base(&extra)).run().await;
        assert_eq!(code(&o), exit, "{extra:?}: {}", text(&o.stderr));
        assert!(text(&o.stderr).contains(says), "{extra:?}: {}", text(&o.stderr));
    }
    let run = Run::new([
        "send",
        "--account",
        "half",
        "--to",
        "b@example.net",
        "--body",
        "x",
    ]);
    let toml =
        format!("[accounts.half]\nserver = \"{addr}\"\ntls = \"none\"\ndkim_domain = \"example.org\"\n");
    let o = run.accounts(&toml).run().await;
    assert_eq!(code(&o), 78, "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("config.toml:4"), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("dkim_key, dkim_domain and dkim_selector together"));
    assert_eq!(s.delivered(), 0);
}

/// `squall dkim record` publishes the key OpenSSL derives from the same file.
#[test]
fn the_record_holds_the_public_key_openssl_derives() {
    let k = key("rsa2048.pem");
    let o = Run::new([
        "dkim",
        "record",
        "--key",
        k.to_str().unwrap(),
        "--domain",
        "example.org",
        "--selector",
        "s1",
    ])
    .output();
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let line = text(&o.stdout);
    assert!(
        line.starts_with("s1._domainkey.example.org. IN TXT ( \"v=DKIM1; k=rsa; p="),
        "{line}"
    );
    let joined: String = line.split('"').skip(1).step_by(2).collect();
    let Ok(pem) = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&k)
        .output()
    else {
        assert!(
            std::env::var_os("SQUALL_PEERS_REQUIRED").is_none(),
            "openssl is not installed (scripts/peers/install.sh installs it)"
        );
        eprintln!("skipped the OpenSSL comparison: openssl is not installed");
        return;
    };
    let expected: String = text(&pem.stdout)
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert_eq!(joined, format!("v=DKIM1; k=rsa; p={expected}"));
}
