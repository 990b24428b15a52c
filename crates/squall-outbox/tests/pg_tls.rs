//! TLS to PostgreSQL: against the cluster `scripts/peers/postgres.sh` starts with `ssl = on` and
//! a certificate for 127.0.0.1 and localhost signed by a CA made at start
//! (`SQUALL_TEST_POSTGRES_CA`), and, for what needs no real server, against a stand-in that
//! answers the TLS request with "no".
//!
//! Each mode is checked both ways: it connects (and the connection is TLS, as the server's
//! `pg_stat_ssl` says) when it should, and is refused with the problem named when it should not.

mod engines;

use std::time::Duration;

use engines::{Db, admin_sql, client, message, not_run};
use squall_outbox::{Outbox, OutboxError, RunOptions, TlsProblem};
use squall_sink::Sink;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The variable naming the PEM file of the cluster's CA.
const CA_VAR: &str = "SQUALL_TEST_POSTGRES_CA";

/// A fresh database and the CA file, or `None` (recorded as NOT RUN) without them.
fn cluster() -> Option<(Db, String)> {
    let ca = match std::env::var(CA_VAR) {
        Ok(ca) => ca,
        Err(_) => {
            let why = format!(
                "{CA_VAR} is not set: this test needs the TLS-enabled PostgreSQL cluster that \
                 scripts/test.sh starts (scripts/peers/postgres.sh writes run/postgres.ca)"
            );
            if std::env::var_os("SQUALL_PEERS_REQUIRED").is_some() {
                panic!("{why}");
            }
            not_run(&why);
            return None;
        }
    };
    Some((Db::postgres()?, ca))
}

/// `url` with `params` added to its query.
fn with(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

/// How many of the outbox's connections to `url`'s database use TLS, and how many do not, as
/// the server sees them.
async fn outbox_connections(url: &str) -> (i64, i64) {
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    let (client, conn) = tokio_postgres::connect(url.split('?').next().unwrap(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl) \
             FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.datname = $1 AND a.application_name = 'squall-outbox'",
            &[&db],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

fn tls_problem(e: &OutboxError) -> &TlsProblem {
    match e {
        OutboxError::Tls { problem, .. } => problem,
        other => panic!("not a TLS error: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn verify_full_with_the_ca_queues_and_sends_over_tls() {
    let Some((db, ca)) = cluster() else { return };
    let url = with(&db.url(), &format!("sslmode=verify-full&sslrootcert={ca}"));
    let outbox = Outbox::open(&url).await.unwrap();
    for n in 0..3 {
        outbox.enqueue(&message(n)).await.unwrap();
    }
    let sink = Sink::start().await.unwrap();
    let client = client(&sink);
    let options = RunOptions {
        until_empty: true,
        ..RunOptions::default()
    };
    outbox.run(client, options, std::future::pending()).await.unwrap();
    assert_eq!(sink.messages().len(), 3);
    assert_eq!(outbox.stats().await.unwrap().queued, 0);
    // Every connection the outbox holds (pool and LISTEN) is TLS.
    let (tls, plain) = outbox_connections(&db.url()).await;
    assert!(tls >= 2 && plain == 0, "{tls} TLS, {plain} plaintext");
    drop(outbox);

    // By the name the certificate holds, too.
    let by_name = with(
        &db.url().replace("127.0.0.1", "localhost"),
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let o = Outbox::open(&by_name).await.unwrap();
    assert_eq!(o.stats().await.unwrap().queued, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn loopback_without_sslmode_stays_plaintext() {
    let Some((db, _)) = cluster() else { return };
    let outbox = Outbox::open(&db.url()).await.unwrap();
    outbox.enqueue(&message(0)).await.unwrap();
    let (tls, plain) = outbox_connections(&db.url()).await;
    assert!(tls == 0 && plain >= 1, "{tls} TLS, {plain} plaintext");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn a_certificate_from_an_unknown_ca_is_refused_naming_sslrootcert() {
    let Some((db, _)) = cluster() else { return };
    // require and prefer verify too: a server offering TLS must prove who it is, and prefer
    // does not fall back to plaintext when it cannot.
    for mode in ["verify-full", "require", "prefer"] {
        let url = with(
            &db.url().replace("postgres@", "postgres:s3cret@"),
            &format!("sslmode={mode}"),
        );
        let e = Outbox::open(&url).await.err().unwrap();
        let text = e.to_string();
        assert!(
            matches!(tls_problem(&e), TlsProblem::Untrusted { rootcert: None, .. }),
            "{mode}: {text}"
        );
        assert!(
            text.contains("sslrootcert=PATH") && text.contains("127.0.0.1"),
            "{text}"
        );
        assert!(
            !text.contains("s3cret") && !format!("{e:?}").contains("s3cret"),
            "{e:?}"
        );
        assert!(!e.is_transient(), "{text}");
    }
    let (tls, plain) = outbox_connections(&db.url()).await;
    assert_eq!((tls, plain), (0, 0), "nothing connected in plaintext instead");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn require_and_prefer_with_the_ca_use_tls() {
    let Some((db, ca)) = cluster() else { return };
    for mode in ["require", "prefer"] {
        let url = with(&db.url(), &format!("sslmode={mode}&sslrootcert={ca}"));
        let outbox = Outbox::open(&url).await.unwrap();
        outbox.enqueue(&message(0)).await.unwrap();
        let (tls, plain) = outbox_connections(&db.url()).await;
        assert!(tls >= 1 && plain == 0, "{mode}: {tls} TLS, {plain} plaintext");
    }
}

/// The server is reached at 127.0.0.1 (hostaddr) under a name its certificate does not hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn a_certificate_for_another_name_is_refused_unless_verify_ca() {
    let Some((db, ca)) = cluster() else { return };
    let other = with(
        &db.url().replace("127.0.0.1", "queue-db.squall.test"),
        &format!("hostaddr=127.0.0.1&sslrootcert={ca}"),
    );
    for mode in ["verify-full", "require"] {
        let e = Outbox::open(&with(&other, &format!("sslmode={mode}")))
            .await
            .err()
            .unwrap();
        let text = e.to_string();
        match tls_problem(&e) {
            TlsProblem::WrongName { name, presented } => {
                assert_eq!(name, "queue-db.squall.test");
                assert!(presented.iter().any(|p| p == "localhost"), "{presented:?}");
            }
            other => panic!("{mode}: {other}"),
        }
        assert!(
            text.contains("queue-db.squall.test") && !e.is_transient(),
            "{text}"
        );
    }
    // verify-ca checks the chain only, as asked explicitly.
    let outbox = Outbox::open(&with(&other, "sslmode=verify-ca")).await.unwrap();
    outbox.enqueue(&message(0)).await.unwrap();
    let (tls, plain) = outbox_connections(&db.url()).await;
    assert!(tls >= 1 && plain == 0, "{tls} TLS, {plain} plaintext");
}

/// A password login over TLS binds the TLS session (SCRAM-SHA-256-PLUS with
/// `tls-server-end-point`): with `channel_binding=require` the login fails unless the server
/// accepted the certificate hash the client sent. The cluster's pg_hba.conf asks the role
/// squall_scram for a SCRAM password over TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn a_password_login_over_tls_binds_the_channel() {
    let Some((db, ca)) = cluster() else { return };
    let name = db.url().rsplit('/').next().unwrap().to_string();
    admin_sql(
        &db.url(),
        &format!(
            "DO $$ BEGIN CREATE ROLE squall_scram LOGIN PASSWORD 'scram-s3cret'; \
             EXCEPTION WHEN duplicate_object THEN NULL; END $$; \
             ALTER DATABASE {name} OWNER TO squall_scram"
        ),
    );
    let url = with(
        &db.url().replace("postgres@", "squall_scram:scram-s3cret@"),
        &format!("sslmode=verify-full&sslrootcert={ca}&channel_binding=require"),
    );
    let outbox = Outbox::open(&url).await.unwrap();
    outbox.enqueue(&message(0)).await.unwrap();
    let (tls, plain) = outbox_connections(&db.url()).await;
    assert!(tls >= 1 && plain == 0, "{tls} TLS, {plain} plaintext");
    drop(outbox);
    // The wrong password: refused by the server, and not shown.
    let wrong = url.replace("scram-s3cret", "wr0ng-pw");
    let e = Outbox::open(&wrong).await.err().unwrap();
    let text = e.to_string();
    assert!(
        matches!(e, OutboxError::Postgres { transient: false, .. }),
        "{text}"
    );
    assert!(
        !text.contains("wr0ng-pw") && !format!("{e:?}").contains("wr0ng-pw"),
        "{e:?}"
    );
}

/// A stand-in server that answers the TLS request (SSLRequest) with "N", as a PostgreSQL with
/// `ssl = off` does: TLS is required, so nothing goes on in plaintext.
#[tokio::test]
async fn a_server_without_tls_is_refused_when_tls_is_required() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let mut requests = Vec::new();
        while let Ok(Ok((mut s, _))) = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await {
            let mut request = [0u8; 8];
            s.read_exact(&mut request).await.unwrap();
            requests.push(request);
            s.write_all(b"N").await.unwrap();
            // Whatever comes next would be plaintext: there must be nothing.
            let mut rest = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(1), s.read_to_end(&mut rest)).await;
            assert!(rest.is_empty(), "{rest:?}");
            if requests.len() == 2 {
                break;
            }
        }
        requests
    });
    for mode in ["require", "verify-full"] {
        let url = format!("postgres://app:s3cret@127.0.0.1:{port}/queue?sslmode={mode}");
        let e = Outbox::open(&url).await.err().unwrap();
        let text = e.to_string();
        assert_eq!(
            tls_problem(&e),
            &TlsProblem::NotOffered { mode: mode.into() },
            "{text}"
        );
        assert!(
            text.contains("does not offer TLS")
                && text.contains("sslmode=disable")
                && !text.contains("s3cret"),
            "{text}"
        );
        assert!(!e.is_transient());
    }
    // Both asked for TLS first: length 8, code 80877103.
    for r in server.await.unwrap() {
        assert_eq!(r, [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
    }
}

/// `prefer` asks for TLS first and goes on in plaintext only after the server's "no TLS" (here
/// a stand-in, which then reads the plaintext startup message and hangs up).
#[tokio::test]
async fn prefer_goes_on_in_plaintext_only_when_the_server_has_no_tls() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 8];
        s.read_exact(&mut request).await.unwrap();
        s.write_all(b"N").await.unwrap();
        let mut len = [0u8; 4];
        s.read_exact(&mut len).await.unwrap();
        let mut startup = vec![0u8; u32::from_be_bytes(len) as usize - 4];
        s.read_exact(&mut startup).await.unwrap();
        (request, startup)
    });
    let url = format!("postgres://app@127.0.0.1:{port}/queue?sslmode=prefer");
    let e = Outbox::open(&url).await.err().unwrap();
    assert!(matches!(e, OutboxError::Unreachable { .. }), "{e}");
    let (request, startup) = server.await.unwrap();
    assert_eq!(
        request,
        [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f],
        "TLS asked for first"
    );
    // Protocol 3.0, then the parameters: the plaintext startup message.
    assert_eq!(&startup[..4], &[0, 3, 0, 0]);
    assert!(startup.windows(9).any(|w| w == b"user\0app\0"), "{startup:?}");
}

#[tokio::test]
async fn an_unusable_sslrootcert_is_reported_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("ca.txt");
    std::fs::write(&not_pem, "not a certificate\n").unwrap();
    let missing = dir.path().join("missing.pem");
    // A device named by mistake is refused at once, not read without end.
    let device = std::path::PathBuf::from("/dev/zero");
    let huge = dir.path().join("huge.pem");
    std::fs::File::create(&huge).unwrap().set_len(5 << 20).unwrap();
    for (path, says) in [
        (&not_pem, "no PEM certificate"),
        (&missing, "cannot read"),
        (&device, "larger than 4 MiB"),
        (&huge, "larger than 4 MiB"),
    ] {
        // Port 1: nothing listens; the file is read before any connection is tried.
        let url = format!(
            "postgres://app:s3cret@127.0.0.1:1/queue?sslmode=verify-full&sslrootcert={}",
            path.display()
        );
        let e = Outbox::open(&url).await.err().unwrap();
        let text = e.to_string();
        assert!(matches!(tls_problem(&e), TlsProblem::RootCert { .. }), "{text}");
        assert!(
            text.contains(says) && text.contains(&path.display().to_string()),
            "{text}"
        );
        assert!(!text.contains("s3cret") && !e.is_transient(), "{text}");
    }
}
