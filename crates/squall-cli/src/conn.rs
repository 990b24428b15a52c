//! How to reach and log in to the server: the flags `send` and `bulk` share.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use squall::{Client, ClientBuilder, Error, Mechanism, Tls};

use crate::exit;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum TlsArg {
    /// Never use TLS.
    None,
    /// STARTTLS when offered.
    Opportunistic,
    /// STARTTLS, required.
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum AuthArg {
    Plain,
    Login,
    #[value(name = "cram-md5")]
    CramMd5,
    Xoauth2,
}

/// Server, TLS and login flags.
#[derive(Args, Debug)]
pub(crate) struct ConnArgs {
    /// Server to send through (465 means implicit TLS, 587 STARTTLS, other ports STARTTLS when offered).
    #[arg(long, value_name = "HOST[:PORT]", conflicts_with = "url")]
    server: Option<String>,
    /// Server as a URL: smtp://[user:password@]host[:port][?tls=...], or smtps://... for implicit TLS.
    #[arg(long, env = "SQUALL_URL", value_name = "URL", hide_env_values = true)]
    url: Option<String>,
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
}

impl ConnArgs {
    /// The server from --url (or SQUALL_URL) or --server; `None` when neither is given.
    pub(crate) fn server(&self) -> Result<Option<ClientBuilder>, Error> {
        match (&self.url, &self.server) {
            (Some(url), _) => Client::builder_from_url(url).map(Some),
            (None, Some(server)) => ClientBuilder::server(server).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// Applies the EHLO, TLS, timeout, login and certificate flags.
    pub(crate) fn apply(&self, mut b: ClientBuilder) -> Result<ClientBuilder, (u8, Error)> {
        if let Some(name) = &self.ehlo {
            b = b.ehlo(name);
        }
        if let Some(t) = self.tls {
            b = b.tls(match t {
                TlsArg::None => Tls::None,
                TlsArg::Opportunistic => Tls::Opportunistic,
                TlsArg::Starttls => Tls::StartTls,
                TlsArg::Implicit => Tls::Implicit,
            });
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
            b = match self.auth {
                Some(AuthArg::Xoauth2) => b.oauth2(user, &secret),
                _ => b.credentials(user, &secret),
            };
            if let Some(m) = self.auth {
                b = b.mechanism(Mechanism::from_name(match m {
                    AuthArg::Plain => "PLAIN",
                    AuthArg::Login => "LOGIN",
                    AuthArg::CramMd5 => "CRAM-MD5",
                    AuthArg::Xoauth2 => "XOAUTH2",
                }));
            }
        }
        if let Some(ca) = &self.ca_file {
            b = b.ca_file(ca);
        }
        Ok(b.allow_insecure_auth(self.allow_insecure_auth)
            .dangerously_skip_certificate_verification(self.dangerously_skip_certificate_verification))
    }
}
