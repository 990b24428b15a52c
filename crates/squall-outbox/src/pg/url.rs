//! Reading a `postgres://` URL: the connection settings, the name errors and logs show for the
//! server (never the password), and the refusal of TLS, which this build cannot do yet.

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

/// The connection settings of `url`, refusing an `sslmode` that needs TLS.
pub(crate) fn config(url: &str) -> Result<Config, OutboxError> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    for p in query.split('&') {
        if let Some(("sslmode", mode)) = p.split_once('=')
            && !matches!(mode, "disable" | "prefer" | "allow")
        {
            return Err(OutboxError::TlsUnsupported {
                url: redact(url),
                mode: mode.to_string(),
            });
        }
    }
    // A raw `@` in the password makes the parser take the rest of it for the host, which would
    // then appear in errors ("cannot reach … at ss@host"): refuse it and say how to write it.
    let before_query = &url[..url.find('?').unwrap_or(url.len())];
    if before_query
        .split_once("://")
        .is_some_and(|(_, rest)| rest.matches('@').count() > 1)
    {
        return Err(OutboxError::UnsupportedUrl {
            url: format!(
                "{} (an @ in the user name or password: write it as %40)",
                redact(url)
            ),
        });
    }
    let mut config: Config = url.parse().map_err(|e| OutboxError::UnsupportedUrl {
        url: format!("{} ({e})", redact(url)),
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(std::time::Duration::from_secs(5));
    }
    config.application_name("squall-outbox");
    Ok(config)
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

    #[test]
    fn tls_is_refused_not_silently_dropped() {
        for mode in ["require", "verify-ca", "verify-full"] {
            let url = format!("postgres://u:pw@h/db?sslmode={mode}");
            let e = config(&url).unwrap_err();
            assert!(matches!(e, OutboxError::TlsUnsupported { .. }), "{e}");
            let text = e.to_string();
            assert!(
                text.contains("TLS") && text.contains(mode) && !text.contains("pw@"),
                "{text}"
            );
            assert!(!e.is_transient());
        }
        assert!(config("postgres://u@h/db?sslmode=disable").is_ok());
    }

    #[test]
    fn the_server_is_named_without_the_password() {
        let c = config("postgres://u:pw@10.0.0.7:6543/queue").unwrap();
        assert_eq!(server(&c), "10.0.0.7:6543/queue");
        let e = config("postgres://u:pw@h:notaport/db").unwrap_err();
        assert!(!e.to_string().contains("pw"), "{e}");
        // A raw @ in the password: refused, and no piece of the password shown as a host.
        let e = config("postgres://u:p@ss@127.0.0.1:1/db").unwrap_err();
        assert!(matches!(e, OutboxError::UnsupportedUrl { .. }), "{e}");
        assert!(
            e.to_string().contains("%40") && !e.to_string().contains("ss@"),
            "{e}"
        );
        assert!(config("postgres://u:p%40ss@127.0.0.1:1/db").is_ok());
    }
}
