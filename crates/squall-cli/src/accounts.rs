//! The accounts file: named servers with their login, so that `squall send`, `squall sendmail`
//! and `squall config check` need no flags.
//!
//! ```toml
//! default = "work"
//! queue_url = "sqlite:/var/spool/squall/queue.db"   # the queue (default: under $XDG_STATE_HOME)
//!
//! [accounts.work]
//! server = "mail.example.org"       # host, or host:port
//! port = 587                        # default from the TLS mode, else 587
//! tls = "starttls"                  # none | opportunistic | starttls | implicit
//! user = "me@example.org"
//! password_command = "pass show mail/work"   # or password_env, or password_file
//! from = "Me <me@example.org>"
//! queue = true                      # sendmail queues for `squall queue run` instead of sending
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::Deserialize;
use squall::{ClientBuilder, NamedAddress};
use toml::Spanned;

use crate::conn::{AuthArg, TlsArg, login};

/// Where the accounts file is looked for when `--config` is not given.
pub(crate) fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("squall").join("config.toml"))
}

/// A problem with the accounts file, pointing at the line and key.
#[derive(Debug)]
pub(crate) struct ConfigError {
    path: PathBuf,
    line: Option<usize>,
    key: Option<String>,
    message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    default: Option<Spanned<String>>,
    queue_url: Option<Spanned<String>>,
    #[serde(default)]
    accounts: BTreeMap<String, Spanned<AccountToml>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountToml {
    server: Spanned<String>,
    port: Option<u16>,
    tls: Option<TlsArg>,
    user: Option<Spanned<String>>,
    password_command: Option<Spanned<String>>,
    password_env: Option<Spanned<String>>,
    password_file: Option<Spanned<PathBuf>>,
    auth: Option<AuthArg>,
    from: Option<Spanned<String>>,
    ehlo: Option<Spanned<String>>,
    ca_file: Option<PathBuf>,
    timeout: Option<Spanned<f64>>,
    dkim_key: Option<Spanned<PathBuf>>,
    dkim_domain: Option<Spanned<String>>,
    dkim_selector: Option<Spanned<String>>,
    dkim_canon: Option<Spanned<String>>,
    queue: Option<bool>,
}

/// Where a password comes from; read only when a connection needs it.
#[derive(Clone, Debug)]
enum PasswordSource {
    Command(String),
    Env(String),
    File(PathBuf),
}

/// One account, checked.
#[derive(Clone, Debug)]
pub(crate) struct Account {
    pub(crate) name: String,
    server: String,
    port: Option<u16>,
    tls: Option<TlsArg>,
    login: Option<(String, PasswordSource)>,
    auth: Option<AuthArg>,
    /// The default sender.
    pub(crate) from: Option<String>,
    ehlo: Option<String>,
    ca_file: Option<PathBuf>,
    timeout: Option<Duration>,
    /// Signs every message (checked when the file is read).
    dkim: Option<squall::DkimSigner>,
    /// `queue = true`: `squall sendmail` puts mail for this account in the durable queue
    /// (sent by `squall queue run`) instead of sending it at once.
    pub(crate) queue: bool,
}

/// The accounts file, checked.
#[derive(Debug)]
pub(crate) struct Accounts {
    pub(crate) path: PathBuf,
    default: Option<String>,
    /// `queue_url = …`: the durable queue's database, when neither `--queue-url` nor
    /// SQUALL_QUEUE_URL names one.
    pub(crate) queue_url: Option<String>,
    accounts: BTreeMap<String, Account>,
}

impl Accounts {
    /// Reads `explicit`, or the default file if it exists (`Ok(None)` if it does not).
    pub(crate) fn load(explicit: Option<&Path>) -> Result<Option<Self>, ConfigError> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => match default_path() {
                Some(p) if p.exists() => p,
                _ => return Ok(None),
            },
        };
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError {
            path: path.clone(),
            line: None,
            key: None,
            message: format!("cannot read it: {e}"),
        })?;
        Self::parse(&path, &text).map(Some)
    }

    pub(crate) fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let at = |span: Range<usize>, key: Option<String>, message: String| ConfigError {
            path: path.to_path_buf(),
            line: Some(line_of(text, span.start)),
            key: key.or_else(|| key_at(text, span.start)),
            message,
        };
        let file: FileToml = toml::from_str(text)
            .map_err(|e| at(e.span().unwrap_or(0..0), None, e.message().trim().to_string()))?;
        let mut accounts = BTreeMap::new();
        for (name, a) in file.accounts {
            let a = a.into_inner();
            let key = |k: &str| Some(format!("accounts.{name}.{k}"));
            let sources: Vec<(Range<usize>, &str, PasswordSource)> = [
                a.password_command.map(|s| {
                    (
                        s.span(),
                        "password_command",
                        PasswordSource::Command(s.into_inner()),
                    )
                }),
                a.password_env
                    .map(|s| (s.span(), "password_env", PasswordSource::Env(s.into_inner()))),
                a.password_file
                    .map(|s| (s.span(), "password_file", PasswordSource::File(s.into_inner()))),
            ]
            .into_iter()
            .flatten()
            .collect();
            if let Some((span, k, _)) = sources.get(1) {
                return Err(at(
                    span.clone(),
                    key(k),
                    "give one of password_command, password_env and password_file".into(),
                ));
            }
            let login = match (a.user, sources.into_iter().next()) {
                (Some(user), Some((_, _, source))) => Some((user.into_inner(), source)),
                (Some(user), None) => {
                    return Err(at(
                        user.span(),
                        key("user"),
                        "a user needs password_command, password_env or password_file".into(),
                    ));
                }
                (None, Some((span, k, _))) => {
                    return Err(at(span, key(k), "a password needs a user".into()));
                }
                (None, None) => None,
            };
            let server = a.server.get_ref().trim().to_string();
            if server.is_empty() {
                return Err(at(a.server.span(), key("server"), "must name a host".into()));
            }
            if server.contains('@') {
                // Not echoed: what precedes the `@` is likely a password.
                return Err(at(
                    a.server.span(),
                    key("server"),
                    "takes a host (or host:port) without a user or password; give those with \
                     `user` and `password_command`, `password_env` or `password_file`"
                        .into(),
                ));
            }
            if a.port.is_some() && ClientBuilder::server(&server).is_ok() && has_port(&server) {
                return Err(at(
                    a.server.span(),
                    key("server"),
                    "gives a port and so does `port`; keep one".into(),
                ));
            }
            if let Some(from) = &a.from
                && let Err(e) = NamedAddress::parse(from.get_ref())
            {
                return Err(at(from.span(), key("from"), e.to_string()));
            }
            if let Some(ehlo) = &a.ehlo
                && let Err(e) = squall_proto::address::EhloName::parse(ehlo.get_ref())
            {
                return Err(at(ehlo.span(), key("ehlo"), e.to_string()));
            }
            let timeout = match a.timeout {
                Some(t) => Some(
                    Duration::try_from_secs_f64(*t.get_ref())
                        .ok()
                        .filter(|d| !d.is_zero())
                        .ok_or_else(|| {
                            at(
                                t.span(),
                                key("timeout"),
                                "must be a positive number of seconds".into(),
                            )
                        })?,
                ),
                None => None,
            };
            let dkim = match (a.dkim_key, a.dkim_domain, a.dkim_selector) {
                (Some(k), Some(d), Some(sel)) => {
                    let canon = a.dkim_canon.as_ref().map(|c| c.get_ref().as_str());
                    let path = resolve(path, k.get_ref());
                    let signer = crate::dkim::signer(&path, d.get_ref(), sel.get_ref(), canon)
                        .map_err(|e| at(k.span(), key("dkim_key"), e))?;
                    Some(signer)
                }
                (None, None, None) if a.dkim_canon.is_none() => None,
                (k, d, sel) => {
                    let span = [k.map(|x| x.span()), d.map(|x| x.span()), sel.map(|x| x.span())]
                        .into_iter()
                        .flatten()
                        .next()
                        .or(a.dkim_canon.map(|c| c.span()))
                        .unwrap_or(0..0);
                    return Err(at(
                        span,
                        key("dkim_key"),
                        "DKIM signing needs dkim_key, dkim_domain and dkim_selector together".into(),
                    ));
                }
            };
            accounts.insert(
                name.clone(),
                Account {
                    name,
                    server,
                    port: a.port,
                    tls: a.tls,
                    login,
                    auth: a.auth,
                    from: a.from.map(Spanned::into_inner),
                    ehlo: a.ehlo.map(Spanned::into_inner),
                    ca_file: a.ca_file,
                    timeout,
                    dkim,
                    queue: a.queue.unwrap_or(false),
                },
            );
        }
        if let Some(d) = &file.default
            && !accounts.contains_key(d.get_ref())
        {
            return Err(at(
                d.span(),
                Some("default".into()),
                format!("there is no [accounts.{}]{}", d.get_ref(), known(&accounts)),
            ));
        }
        let queue_url = match file.queue_url {
            Some(u) if u.get_ref().trim().is_empty() => {
                return Err(at(
                    u.span(),
                    Some("queue_url".into()),
                    "must name a database (sqlite:PATH or postgres://…); remove the line for the default"
                        .into(),
                ));
            }
            u => u.map(Spanned::into_inner),
        };
        Ok(Self {
            path: path.to_path_buf(),
            default: file.default.map(Spanned::into_inner),
            queue_url,
            accounts,
        })
    }

    /// The named account, or the default one (`default = …`, or the only one).
    pub(crate) fn get(&self, name: Option<&str>) -> Result<Option<&Account>, String> {
        match name {
            Some(n) => self.accounts.get(n).map(Some).ok_or_else(|| {
                format!(
                    "{}: there is no account {n:?}{}",
                    self.path.display(),
                    known(&self.accounts)
                )
            }),
            None => Ok(match &self.default {
                Some(d) => self.accounts.get(d),
                None if self.accounts.len() == 1 => self.accounts.values().next(),
                None => None,
            }),
        }
    }
}

impl Account {
    /// A client builder for this account (password read now, if there is a login).
    pub(crate) fn builder(&self) -> Result<ClientBuilder, String> {
        let mut b = ClientBuilder::server(&self.server).map_err(|e| format!("server: {e}"))?;
        if let Some(tls) = self.tls {
            b = b.tls(tls.into());
        }
        if let Some(port) = self.port {
            b = b.port(port);
        }
        if let Some(name) = &self.ehlo {
            b = b.ehlo(name);
        }
        if let Some(ca) = &self.ca_file {
            b = b.ca_file(ca);
        }
        if let Some(t) = self.timeout {
            b = b.timeout(t);
        }
        if let Some(signer) = &self.dkim {
            b = b.dkim(signer.clone());
        }
        if let Some((user, source)) = &self.login {
            let secret = source
                .read()
                .map_err(|e| format!("the password for account {:?}: {e}", self.name))?;
            b = login(b, user, &secret, self.auth);
        }
        Ok(b)
    }
}

/// A path from the accounts file: relative ones are relative to the file's directory.
fn resolve(file: &Path, p: &Path) -> PathBuf {
    match file.parent() {
        Some(dir) if p.is_relative() => dir.join(p),
        _ => p.to_path_buf(),
    }
}

impl PasswordSource {
    /// The secret: a command's first line of output, a variable, or a file's first line.
    fn read(&self) -> Result<String, String> {
        match self {
            Self::Command(cmd) => {
                let out = Command::new("sh")
                    .args(["-c", cmd])
                    .stdin(std::process::Stdio::null())
                    .output()
                    .map_err(|e| format!("cannot run password_command: {e}"))?;
                if !out.status.success() {
                    let err = String::from_utf8_lossy(&out.stderr);
                    return Err(format!(
                        "password_command failed ({}): {}",
                        out.status,
                        err.trim()
                    ));
                }
                first_line(
                    &String::from_utf8_lossy(&out.stdout),
                    "password_command printed nothing",
                )
            }
            Self::Env(var) => std::env::var(var)
                .map_err(|_| format!("password_env: the variable {var} is not set (or not UTF-8)")),
            Self::File(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("password_file {}: {e}", path.display()))?;
                first_line(&text, "password_file is empty")
            }
        }
    }
}

fn first_line(text: &str, empty: &str) -> Result<String, String> {
    match text.lines().next() {
        Some(l) if !l.is_empty() => Ok(l.to_string()),
        _ => Err(empty.to_string()),
    }
}

fn has_port(server: &str) -> bool {
    match server.rsplit_once(':') {
        Some((host, port)) => !host.ends_with(':') && port.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

fn known(accounts: &BTreeMap<String, Account>) -> String {
    if accounts.is_empty() {
        " (the file defines no [accounts.NAME])".into()
    } else {
        let names: Vec<&str> = accounts.keys().map(String::as_str).collect();
        format!(" (accounts: {})", names.join(", "))
    }
}

/// The 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The key written on the line holding `offset` (`tls` in `tls = "bogus"`), or the table name.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let start = text[..offset.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?.trim();
    if let Some(table) = line.strip_prefix('[') {
        return Some(table.trim_end_matches(']').trim().to_string());
    }
    line.split_once('=')
        .map(|(k, _)| k.trim().to_string())
        .filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Accounts, String> {
        Accounts::parse(Path::new("config.toml"), text).map_err(|e| e.to_string())
    }

    const GOOD: &str = r#"
default = "work"

[accounts.work]
server = "mail.example.org"
port = 587
tls = "starttls"
user = "me@example.org"
password_env = "WORK_PW"
from = "Me <me@example.org>"

[accounts.test]
server = "127.0.0.1:2525"
tls = "none"
"#;

    #[test]
    fn accounts_and_the_default() {
        let a = parse(GOOD).unwrap();
        assert_eq!(a.get(None).unwrap().unwrap().name, "work");
        assert_eq!(a.get(Some("test")).unwrap().unwrap().server, "127.0.0.1:2525");
        let login = a
            .get(None)
            .unwrap()
            .unwrap()
            .login
            .as_ref()
            .map(|(u, _)| u.as_str());
        assert_eq!(login, Some("me@example.org"));
        let e = a.get(Some("home")).unwrap_err();
        assert!(e.contains("no account \"home\" (accounts: test, work)"), "{e}");
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        for (text, says) in [
            (
                "[accounts.a]\nserver = \"x\"\ntls = \"bogus\"\n",
                "config.toml:3: tls: unknown variant `bogus`",
            ),
            (
                "[accounts.a]\nserver = \"x\"\nsever = 1\n",
                "config.toml:3: sever: unknown field `sever`",
            ),
            (
                "[accounts.a]\nport = 25\n",
                "config.toml:1: accounts.a: missing field `server`",
            ),
            (
                "default = \"b\"\n[accounts.a]\nserver = \"x\"\n",
                "config.toml:1: default: there is no [accounts.b] (accounts: a)",
            ),
            (
                "[accounts.a]\nserver = \"x\"\nuser = \"u\"\npassword_env = \"P\"\npassword_file = \"f\"\n",
                "config.toml:5: accounts.a.password_file: give one of",
            ),
            (
                "[accounts.a]\nserver = \"x\"\nuser = \"u\"\n",
                "config.toml:3: accounts.a.user: a user needs",
            ),
            (
                "[accounts.a]\nserver = \"x\"\nfrom = \"not an address\"\n",
                "config.toml:3: accounts.a.from: ",
            ),
            (
                "[accounts.a]\nserver = \"x:25\"\nport = 26\n",
                "config.toml:2: accounts.a.server: gives a port",
            ),
            (
                "[accounts.a]\nserver = \"x\"\ntimeout = -1.0\n",
                "config.toml:3: accounts.a.timeout: must be a positive",
            ),
            ("[accounts.a\nserver = 1", "config.toml:1: "),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.starts_with(says), "{text:?}\n  gave: {e}\n  want: {says}");
        }
    }

    #[test]
    fn a_password_in_server_is_not_echoed() {
        let e = parse("[accounts.a]\nserver = \"joe:hunter2@x.example.org\"\n").unwrap_err();
        assert!(
            e.starts_with("config.toml:2: accounts.a.server: takes a host"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn passwords_come_from_their_source() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "from-file\nsecond line\n").unwrap();
        assert_eq!(PasswordSource::File(file).read().unwrap(), "from-file");
        assert_eq!(
            PasswordSource::Command("echo from-command".into())
                .read()
                .unwrap(),
            "from-command"
        );
        let e = PasswordSource::Command("echo nope >&2; exit 3".into())
            .read()
            .unwrap_err();
        assert!(e.contains("failed") && e.contains("nope"), "{e}");
        assert!(
            PasswordSource::Env("SQUALL_SURELY_UNSET_VAR".into())
                .read()
                .is_err()
        );
    }
}
