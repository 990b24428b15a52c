//! Reading a `postgres://` URL: the connection settings, the TLS settings (`sslmode`,
//! `sslrootcert`), and the name errors and logs show for the server (never the password).

use tokio_postgres::Config;
use tokio_postgres::config::Host;

use crate::error::OutboxError;

/// Whether `url` names a PostgreSQL database.
pub(crate) fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `url` with its password replaced by `***`, in the user part (`user:secret@`) and in a
/// `password=` parameter: safe to put in an error message or a log.
///
/// The user part ends at the *last* `@`, so a password with a raw `/`, `?` or `@` in it is
/// still hidden (at worst more than the password is hidden, never less).
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return redact_params(url);
    };
    let rest = match rest.rfind('@') {
        Some(at) => {
            let user = &rest[..at];
            match user.split_once(':') {
                Some((name, _)) => format!("{name}:***@{}", &rest[at + 1..]),
                None => rest.to_string(),
            }
        }
        None => rest.to_string(),
    };
    redact_params(&format!("{scheme}://{rest}"))
}

/// `password=` parameters of `url` as `password=***`.
fn redact_params(url: &str) -> String {
    let Some((head, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => p.to_string(),
        })
        .collect();
    format!("{head}?{}", params.join("&"))
}

/// How the connection is secured, by libpq's names for `sslmode`. Unlike libpq, every mode that
/// uses TLS verifies the certificate (see `Outbox::open` for why and for the default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// No TLS.
    Disable,
    /// TLS, verified, when the server offers it; plaintext only when it does not.
    Prefer,
    /// TLS, verified (chain and host name).
    Require,
    /// TLS; the chain must lead to the sslrootcert CA, the host name is not checked.
    VerifyCa,
    /// TLS, verified (chain and host name).
    VerifyFull,
}

impl std::fmt::Display for SslMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        })
    }
}

/// The CAs `sslrootcert` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RootCert {
    /// `sslrootcert=system`: squall's default roots, said explicitly.
    System,
    /// A PEM file of CA certificates, trusted instead of the default roots.
    File(std::path::PathBuf),
}

/// What a `postgres://` URL says: the connection settings for tokio-postgres and the TLS ones,
/// which are read here (tokio-postgres knows neither `verify-*` nor `sslrootcert`).
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) config: Config,
    pub(crate) mode: SslMode,
    pub(crate) rootcert: Option<RootCert>,
}

/// The settings of `url`. Without `sslmode`: `disable` when every host is on this machine (a
/// loopback address, `localhost`, a Unix socket), else `verify-full`.
pub(crate) fn config(url: &str) -> Result<Settings, OutboxError> {
    let refuse = |problem: String| OutboxError::InvalidUrl {
        url: redact(url),
        problem,
    };
    // A raw `@` in the password makes the parser take the rest of it for the host, which would
    // then appear in errors ("cannot reach … at ss@host"): refuse it and say how to write it.
    let (head, query) = url.split_once('?').unwrap_or((url, ""));
    if head
        .split_once("://")
        .is_some_and(|(_, rest)| rest.matches('@').count() > 1)
    {
        return Err(refuse(
            "an @ in the user name or password: write it as %40".into(),
        ));
    }
    let (mut mode, mut rootcert) = (None, None);
    let mut rest = Vec::new();
    for p in query.split('&').filter(|p| !p.is_empty()) {
        match p.split_once('=') {
            Some(("sslmode", v)) => mode = Some(parse_mode(&decode(v)).map_err(refuse)?),
            Some(("sslrootcert", v)) => {
                let v = decode(v);
                rootcert = Some(match v.as_str() {
                    "" => return Err(refuse("sslrootcert is empty: give the CA's PEM file".into())),
                    "system" => RootCert::System,
                    _ => RootCert::File(v.into()),
                });
            }
            _ => rest.push(p),
        }
    }
    let bare = if rest.is_empty() {
        head.to_string()
    } else {
        format!("{head}?{}", rest.join("&"))
    };
    let mut config: Config = bare.parse().map_err(|e| refuse(format!("{e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(std::time::Duration::from_secs(5));
    }
    config.application_name("squall-outbox");
    let mode = mode.unwrap_or_else(|| {
        if is_local(&config) {
            SslMode::Disable
        } else {
            SslMode::VerifyFull
        }
    });
    if mode == SslMode::VerifyCa && !matches!(rootcert, Some(RootCert::File(_))) {
        return Err(refuse(
            "sslmode=verify-ca accepts any certificate the CA signed, whatever its name, so it \
             needs your own CA: add sslrootcert=PATH, or use sslmode=verify-full"
                .into(),
        ));
    }
    config.ssl_mode(match mode {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            tokio_postgres::config::SslMode::Require
        }
    });
    Ok(Settings {
        config,
        mode,
        rootcert,
    })
}

fn parse_mode(v: &str) -> Result<SslMode, String> {
    Ok(match v {
        "disable" => SslMode::Disable,
        "prefer" => SslMode::Prefer,
        "require" => SslMode::Require,
        "verify-ca" => SslMode::VerifyCa,
        "verify-full" => SslMode::VerifyFull,
        _ => {
            return Err(format!(
                "sslmode={v} is not supported: use disable, prefer, require, verify-ca or verify-full"
            ));
        }
    })
}

/// Whether every host `config` names is this machine: loopback addresses, `localhost`, Unix
/// sockets. Traffic to them never crosses a network.
fn is_local(config: &Config) -> bool {
    let loopback = |h: &str| {
        h.eq_ignore_ascii_case("localhost")
            || h.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    };
    let hosts_local = config.get_hosts().iter().all(|h| match h {
        Host::Tcp(h) => loopback(h),
        #[cfg(unix)]
        Host::Unix(_) => true,
    });
    hosts_local && config.get_hostaddrs().iter().all(|a| a.is_loopback())
}

/// `%XX` escapes of a URL parameter decoded (a path may hold spaces or `&`).
fn decode(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Host, port and database, as errors name the server.
pub(crate) fn server(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or_else(|| config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let cases = [
            ("postgres://app:s3cret@db:5432/q", "postgres://app:***@db:5432/q"),
            ("postgresql://app:s3cret@db", "postgresql://app:***@db"),
            (
                "postgres://app@db/q?password=s3cret&x=1",
                "postgres://app@db/q?password=***&x=1",
            ),
            ("postgres://db/q", "postgres://db/q"),
            ("postgres://a:b:c@d@h/x", "postgres://a:***@h/x"),
            ("postgres://app:s3cret/x?y@db/q", "postgres://app:***@db/q"),
            (
                "postgres://app:s3cret@db/q?sslmode=disable",
                "postgres://app:***@db/q?sslmode=disable",
            ),
            ("not a url password=s3cret", "not a url password=s3cret"),
        ];
        for (url, want) in cases {
            assert_eq!(redact(url), want);
            if url.contains("://") {
                assert!(!redact(url).contains("s3cret"), "{url}");
            }
        }
    }

    fn mode(url: &str) -> SslMode {
        config(url).unwrap().mode
    }

    #[test]
    fn every_libpq_mode_is_read() {
        for (name, want) in [
            ("disable", SslMode::Disable),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-full", SslMode::VerifyFull),
        ] {
            assert_eq!(
                mode(&format!("postgres://u:pw@db.internal/q?sslmode={name}")),
                want
            );
            assert_eq!(want.to_string(), name);
        }
        let s = config("postgres://u@db/q?sslmode=verify-ca&sslrootcert=/etc/ca.pem").unwrap();
        assert_eq!(s.mode, SslMode::VerifyCa);
        assert_eq!(s.rootcert, Some(RootCert::File("/etc/ca.pem".into())));
    }

    #[test]
    fn tokio_postgres_is_told_whether_tls_is_required() {
        use tokio_postgres::config::SslMode as Pg;
        let pg = |url: &str| config(url).unwrap().config.get_ssl_mode();
        assert_eq!(pg("postgres://u@db/q?sslmode=disable"), Pg::Disable);
        assert_eq!(pg("postgres://u@db/q?sslmode=prefer"), Pg::Prefer);
        assert_eq!(pg("postgres://u@db/q?sslmode=require"), Pg::Require);
        assert_eq!(pg("postgres://u@db/q?sslmode=verify-full"), Pg::Require);
        assert_eq!(pg("postgres://u@db/q"), Pg::Require);
        assert_eq!(pg("postgres://u@127.0.0.1/q"), Pg::Disable);
    }

    #[test]
    fn the_default_is_verified_tls_unless_every_host_is_this_machine() {
        for local in [
            "postgres://u@127.0.0.1:5432/q",
            "postgres://u@127.0.0.9/q",
            "postgres://u@localhost/q",
            "postgres://u@[::1]:5432/q",
            "postgres://u@%2Fvar%2Frun%2Fpostgresql/q",
            "postgres://u@localhost,127.0.0.1/q",
        ] {
            assert_eq!(mode(local), SslMode::Disable, "{local}");
        }
        for remote in [
            "postgres://u@db.internal/q",
            "postgres://u@10.0.0.7/q",
            "postgres://u@localhost,db.internal/q",
            "postgres://u@localhost/q?hostaddr=10.0.0.7",
            "postgres://u@localhost.example/q",
        ] {
            assert_eq!(mode(remote), SslMode::VerifyFull, "{remote}");
        }
    }

    #[test]
    fn sslrootcert_is_decoded_and_kept_from_tokio_postgres() {
        let s = config("postgres://u@db/q?sslrootcert=/etc/my%20ca%26co.pem&connect_timeout=3").unwrap();
        assert_eq!(s.rootcert, Some(RootCert::File("/etc/my ca&co.pem".into())));
        assert_eq!(
            s.config.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(3))
        );
        assert_eq!(s.mode, SslMode::VerifyFull);
        let s = config("postgres://u@db/q?sslrootcert=system&sslmode=require").unwrap();
        assert_eq!((s.mode, s.rootcert), (SslMode::Require, Some(RootCert::System)));
        assert_eq!(decode("a%2fb%zz%4"), "a/b%zz%4");
    }

    #[test]
    fn unknown_or_weak_settings_are_refused_with_the_fix() {
        for (url, says) in [
            ("postgres://u:pw@db/q?sslmode=allow", "verify-full"),
            ("postgres://u:pw@db/q?sslmode=verify_full", "verify-full"),
            ("postgres://u:pw@db/q?sslmode=verify-ca", "sslrootcert=PATH"),
            (
                "postgres://u:pw@db/q?sslmode=verify-ca&sslrootcert=system",
                "sslrootcert=PATH",
            ),
            ("postgres://u:pw@db/q?sslrootcert=", "PEM"),
        ] {
            let e = config(url).unwrap_err();
            assert!(matches!(e, OutboxError::InvalidUrl { .. }), "{e}");
            let text = e.to_string();
            assert!(text.contains(says) && !text.contains("pw@"), "{url}: {text}");
            assert!(!e.is_transient());
        }
    }

    #[test]
    fn the_server_is_named_without_the_password() {
        let c = config("postgres://u:pw@10.0.0.7:6543/queue").unwrap();
        assert_eq!(server(&c.config), "10.0.0.7:6543/queue");
        let e = config("postgres://u:pw@h:notaport/db").unwrap_err();
        assert!(!e.to_string().contains("pw"), "{e}");
        // A raw @ in the password: refused, and no piece of the password shown as a host.
        let e = config("postgres://u:p@ss@127.0.0.1:1/db").unwrap_err();
        assert!(matches!(e, OutboxError::InvalidUrl { .. }), "{e}");
        assert!(
            e.to_string().contains("%40") && !e.to_string().contains("ss@"),
            "{e}"
        );
        assert!(config("postgres://u:p%40ss@127.0.0.1:1/db").is_ok());
    }
}
