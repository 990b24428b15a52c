//! How to reach and log in to the server: the flags `send` and `bulk` share.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Deserialize;
use squall::{Client, ClientBuilder, Error, Mechanism, Tls};

use crate::accounts::{Account, Accounts};
use crate::exit;

/// A TLS mode, as a flag (`--tls`) or in the accounts file (`tls = …`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TlsArg {
    /// Never use TLS.
    None,
    /// STARTTLS when offered.
    Opportunistic,
    /// STARTTLS, required.
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
}

impl From<TlsArg> for Tls {
    fn from(t: TlsArg) -> Self {
        match t {
            TlsArg::None => Self::None,
            TlsArg::Opportunistic => Self::Opportunistic,
            TlsArg::Starttls => Self::StartTls,
            TlsArg::Implicit => Self::Implicit,
        }
    }
}

/// A SASL mechanism, as a flag (`--auth`) or in the accounts file (`auth = …`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum AuthArg {
    Plain,
    Login,
    #[value(name = "cram-md5")]
    CramMd5,
    #[value(name = "scram-sha-256")]
    #[serde(rename = "scram-sha-256")]
    ScramSha256,
    #[value(name = "scram-sha-256-plus")]
    #[serde(rename = "scram-sha-256-plus")]
    ScramSha256Plus,
    Xoauth2,
}

/// Logs in as `user` with `secret`: a password, or with XOAUTH2 an access token.
pub(crate) fn login(b: ClientBuilder, user: &str, secret: &str, auth: Option<AuthArg>) -> ClientBuilder {
    let b = match auth {
        Some(AuthArg::Xoauth2) => b.oauth2(user, secret),
        _ => b.credentials(user, secret),
    };
    match auth {
        None => b,
        Some(m) => b.mechanism(Mechanism::from_name(match m {
            AuthArg::Plain => "PLAIN",
            AuthArg::Login => "LOGIN",
            AuthArg::CramMd5 => "CRAM-MD5",
            AuthArg::ScramSha256 => "SCRAM-SHA-256",
            AuthArg::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
            AuthArg::Xoauth2 => "XOAUTH2",
        })),
    }
}

/// Server, TLS and login flags.
#[derive(Args, Debug, Default)]
pub(crate) struct ConnArgs {
    /// Server to send through (465 means implicit TLS, 587 STARTTLS, other ports STARTTLS when offered).
    #[arg(long, value_name = "HOST[:PORT]", conflicts_with = "url")]
    server: Option<String>,
    /// Server as a URL: smtp://[user:password@]host[:port][?tls=...], smtps://... for implicit
    /// TLS, lmtp://host[:port] or lmtp:///path/to/socket for LMTP. The SQUALL_URL environment variable is used when neither this, --server nor --account
    /// is given.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Use this account from the accounts file (default: the file's default account).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["server", "url"])]
    account: Option<String>,
    /// The accounts file (default: $XDG_CONFIG_HOME/squall/config.toml, else ~/.config/squall/config.toml).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Speak LMTP (RFC 2033) to a mailbox server: LHLO, and a verdict per recipient after the
    /// content (port 24 by default). Also given by an lmtp:// URL; lmtp:///path/to/socket
    /// connects to a Unix-domain socket.
    #[arg(long)]
    lmtp: bool,
    /// Connect through a SOCKS5 proxy: socks5://[user:password@]host[:port] resolves the
    /// server's name here, socks5h://... lets the proxy resolve it (port 1080 by default). Also
    /// read from SQUALL_PROXY, which keeps a proxy password off the command line.
    #[arg(long, value_name = "URL", env = "SQUALL_PROXY", hide_env_values = true)]
    proxy: Option<String>,
    /// Name to give in EHLO (default: the local address as [a.b.c.d]).
    #[arg(long, value_name = "NAME")]
    ehlo: Option<String>,
    /// TLS mode (default from the port).
    #[arg(long, value_enum)]
    tls: Option<TlsArg>,
    /// Log in as this user (the password comes from --password-env or --password-file, never argv).
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Read the password (or, with --auth xoauth2, the access token) from this environment variable.
    #[arg(long, value_name = "VAR", requires = "user", conflicts_with = "password_file")]
    password_env: Option<String>,
    /// Read the password (or token) from the first line of this file.
    #[arg(long, value_name = "PATH", requires = "user")]
    password_file: Option<PathBuf>,
    /// SASL mechanism (default: the strongest the server offers).
    #[arg(long, value_enum, requires = "user")]
    auth: Option<AuthArg>,
    /// Allow sending credentials without TLS (test servers only).
    #[arg(long)]
    allow_insecure_auth: bool,
    /// Also trust the CA certificates in this PEM file (for a private CA).
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// Accept any server certificate: the connection can then be intercepted. Test servers only.
    #[arg(long)]
    dangerously_skip_certificate_verification: bool,
    /// Give up on any single wait after this many seconds.
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    /// Try a message again this many times after a temporary failure (default 2), with backoff.
    #[arg(long, value_name = "N", conflicts_with = "no_retry")]
    retries: Option<u32>,
    /// Report every failure at once, without retrying.
    #[arg(long)]
    no_retry: bool,
    /// Also retry when the connection was lost after the content was sent and before the
    /// server's verdict (the message may then arrive twice).
    #[arg(long)]
    retry_ambiguous: bool,
    #[command(flatten)]
    dkim: crate::dkim::DkimArgs,
}

/// Warns, once, when `--url` holds a user and password: the command line of a running process
/// can be read by every user of the machine (`ps`, /proc/PID/cmdline), while its environment
/// (SQUALL_URL) can be read only by the same user and root, so SQUALL_URL gets no warning.
fn warn_if_password_in_argv(url: &str) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // A URL's userinfo ends at its last `@`, and a user must come with a password.
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    if after_scheme.contains('@') {
        ONCE.call_once(|| {
            eprintln!(
                "squall: warning: the password in --url can be read by other users of this \
                 machine while squall runs (ps shows command lines); give it with --user and \
                 --password-env or --password-file, or keep it in an account \
                 (squall config --help)"
            );
        });
    }
}

/// Where to send, and the sender an account names.
pub(crate) struct Target {
    pub(crate) builder: ClientBuilder,
    /// The account's `from`, if the server came from an account.
    pub(crate) from: Option<String>,
    /// The account's name, if the server came from an account: a queued message's route, so
    /// that `squall queue run` sends it through the same account.
    pub(crate) account: Option<String>,
}

/// Where the server comes from: flags or SQUALL_URL, or an account.
pub(crate) enum Choice {
    /// --url, --server or SQUALL_URL.
    Plain(Box<ClientBuilder>),
    /// An account of the accounts file (its password not read yet).
    Account(Box<Account>),
}

impl Choice {
    /// The account's `from`, if the server comes from an account.
    pub(crate) fn from(&self) -> Option<&str> {
        match self {
            Self::Plain(_) => None,
            Self::Account(a) => a.from.as_deref(),
        }
    }

    /// The account's name, if the server comes from an account: the route a message queued
    /// through it records.
    pub(crate) fn route(&self) -> Option<&str> {
        match self {
            Self::Plain(_) => None,
            Self::Account(a) => Some(&a.name),
        }
    }

    /// True for an account with `queue = true`.
    pub(crate) fn queues(&self) -> bool {
        matches!(self, Self::Account(a) if a.queue)
    }

    /// The builder, reading the account's password if it has one.
    pub(crate) fn into_target(self) -> Result<Target, (u8, Error)> {
        match self {
            Self::Plain(builder) => Ok(Target {
                builder: *builder,
                from: None,
                account: None,
            }),
            Self::Account(account) => Ok(Target {
                builder: account
                    .builder()
                    .map_err(|e| (exit::CONFIG, Error::from_input(e)))?,
                from: account.from.clone(),
                account: Some(account.name.clone()),
            }),
        }
    }
}

impl ConnArgs {
    /// Only the choice of server (for commands with their own syntax, like sendmail).
    pub(crate) fn choose(server: Option<String>, account: Option<String>, config: Option<PathBuf>) -> Self {
        Self {
            server,
            account,
            config,
            ..Self::default()
        }
    }

    /// Whether the user named the server (--server, --url, --account or SQUALL_URL) rather
    /// than leaving it to the accounts file's default: `queue run` then sends every message
    /// through it, whatever account queued it.
    pub(crate) fn names_server(&self) -> bool {
        self.server.is_some()
            || self.url.is_some()
            || self.account.is_some()
            || std::env::var_os("SQUALL_URL").is_some_and(|u| !u.is_empty())
    }

    /// The accounts file given with `--config`, if any.
    pub(crate) fn config(&self) -> Option<&Path> {
        self.config.as_deref()
    }

    /// The server: --server or --url, else --account, else SQUALL_URL, else the accounts file's
    /// default account; `None` when there is none of these.
    pub(crate) fn target(&self) -> Result<Option<Target>, (u8, Error)> {
        self.choice()?.map(Choice::into_target).transpose()
    }

    /// Where the server comes from, as [`target`](Self::target) chooses it, before an account's
    /// password is read.
    pub(crate) fn choice(&self) -> Result<Option<Choice>, (u8, Error)> {
        let config = |e: String| (exit::CONFIG, Error::from_input(e));
        let plain = |builder| Some(Choice::Plain(Box::new(builder)));
        match (&self.url, &self.server) {
            (Some(url), _) => {
                warn_if_password_in_argv(url);
                return Ok(plain(
                    Client::builder_from_url(url).map_err(|e| (exit::CONFIG, e))?,
                ));
            }
            (None, Some(server)) if server.contains('@') => {
                // Not echoed: what precedes the `@` is likely a password.
                return Err(config(
                    "--server takes HOST[:PORT], without a user or password: give those with \
                     --user and --password-env or --password-file (or use an account)"
                        .into(),
                ));
            }
            (None, Some(server)) => {
                return Ok(plain(
                    ClientBuilder::server(server).map_err(|e| (exit::CONFIG, e))?,
                ));
            }
            (None, None) => {}
        }
        let env_url = std::env::var("SQUALL_URL").ok().filter(|u| !u.is_empty());
        if self.account.is_none()
            && let Some(url) = &env_url
        {
            let b = Client::builder_from_url(url).map_err(|e| config(format!("SQUALL_URL: {e}")))?;
            return Ok(plain(b));
        }
        let accounts = Accounts::load(self.config.as_deref()).map_err(|e| config(e.to_string()))?;
        let account = match (&accounts, &self.account) {
            (Some(a), name) => a.get(name.as_deref()).map_err(config)?,
            (None, Some(name)) => {
                let path = crate::accounts::default_path().map_or_else(
                    || "~/.config/squall/config.toml".into(),
                    |p| p.display().to_string(),
                );
                return Err(config(format!(
                    "--account {name}: there is no accounts file ({path} does not exist)"
                )));
            }
            (None, None) => None,
        };
        Ok(account.map(|a| Choice::Account(Box::new(a.clone()))))
    }

    /// Applies the EHLO, TLS, timeout, login and certificate flags.
    pub(crate) fn apply(&self, mut b: ClientBuilder) -> Result<ClientBuilder, (u8, Error)> {
        if self.lmtp {
            b = b.lmtp();
        }
        if let Some(url) = &self.proxy {
            b = b.proxy(url);
        }
        if let Some(name) = &self.ehlo {
            b = b.ehlo(name);
        }
        if let Some(t) = self.tls {
            b = b.tls(t.into());
        }
        if let Some(secs) = self.timeout {
            let d = Duration::try_from_secs_f64(secs)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    (
                        exit::USAGE,
                        Error::from_input(format!(
                            "--timeout must be a positive number of seconds, not {secs}"
                        )),
                    )
                })?;
            b = b.timeout(d);
        }
        if self.no_retry {
            b = b.no_retry();
        } else if let Some(n) = self.retries {
            b = b.retries(n);
        }
        b = b.retry_ambiguous(self.retry_ambiguous);
        let b = self.dkim.apply(b)?;
        self.security(b).map_err(|e| (exit::CONFIG, e))
    }

    /// Credentials, mechanism and certificate settings.
    fn security(&self, mut b: ClientBuilder) -> Result<ClientBuilder, Error> {
        if let Some(user) = &self.user {
            let secret = match (&self.password_env, &self.password_file) {
                (Some(var), _) => std::env::var(var).map_err(|_| {
                    Error::from_input(format!(
                        "--password-env {var}: the variable is not set (or not UTF-8)"
                    ))
                })?,
                (None, Some(path)) => std::fs::read_to_string(path)
                    .map_err(|e| Error::from_input(format!("--password-file {}: {e}", path.display())))?
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                (None, None) => {
                    return Err(Error::from_input(
                        "--user needs --password-env VAR or --password-file PATH (passwords never go on the command line)",
                    ));
                }
            };
            b = login(b, user, &secret, self.auth);
        }
        if let Some(ca) = &self.ca_file {
            b = b.ca_file(ca);
        }
        // The flags only turn these on: off, they leave what the URL (`insecure-auth=true`) set.
        if self.allow_insecure_auth {
            b = b.allow_insecure_auth(true);
        }
        if self.dangerously_skip_certificate_verification {
            b = b.dangerously_skip_certificate_verification(true);
        }
        Ok(b)
    }
}
