//! The words of an error: what happened, and what to do about it.

use std::io;

use rustls::CertificateError;
use squall_proto::advice;
use squall_proto::error::{LocalError, PolicyError, ProtocolError};
use squall_proto::session::{Cause, ErrorKind, Stage};

use super::{Error, What};

/// What happened, with the server's own words.
pub(super) fn summary(e: &Error) -> String {
    let server = e.server().unwrap_or("the server");
    let during = during(e.stage());
    match e.what() {
        What::Session(cause) => match cause {
            Cause::Rejected(r) => match e.stage() {
                Stage::Greeting => format!("{server} refused the session in its greeting: {r}"),
                Stage::Ehlo => format!("the server refused EHLO and HELO: {r}"),
                Stage::StartTls => format!("the server refused STARTTLS: {r}"),
                Stage::Auth => format!("the server refused the login: {r}"),
                Stage::Mail => format!("the server refused the sender (MAIL FROM): {r}"),
                Stage::Data | Stage::Bdat => format!("the server refused to take the message content: {r}"),
                Stage::DataEnd => format!("the server refused the message after receiving it: {r}"),
                stage => format!("the server refused {stage}: {r}"),
            },
            Cause::NoValidRecipients => match e.rejected() {
                [one] => one.summary(),
                all => {
                    let list: Vec<String> = all
                        .iter()
                        .map(|r| format!("<{}>: {}", r.recipient, r.reply))
                        .collect();
                    format!(
                        "the server refused all {} recipients: {}",
                        all.len(),
                        list.join("; ")
                    )
                }
            },
            Cause::Local(err) => format!("not sent: {err}"),
            Cause::Policy(err) => format!("not sent: {err}"),
            Cause::Protocol(err) => format!("the server broke the SMTP protocol {during}: {err}"),
            Cause::ServerClosing(r) => format!("the server closed the session {during}: {r}"),
            Cause::Timeout => format!("{server} did not answer in time {during}"),
            Cause::NotAttempted => "not sent: the connection ended before the message was started".into(),
            _ => format!("the connection to {server} was lost {during}"),
        },
        What::Input(msg) => msg.clone(),
        What::Partial { ambiguous } => {
            let total = e.accepted().len() + e.rejected().len() + ambiguous.len();
            let mut parts: Vec<String> = e
                .rejected()
                .iter()
                .map(|r| format!("refused <{}>: {}", r.recipient, r.reply))
                .collect();
            parts.extend(ambiguous.iter().map(|a| format!("<{a}> may or may not have it")));
            format!(
                "the server took the message for {} of {total} recipients; {}",
                e.accepted().len(),
                parts.join("; ")
            )
        }
        What::Io(io) => format!("the connection to {server} was lost {during}: {io}"),
        What::WriteStalled => format!("{server} stopped taking data {during}"),
        What::Lookup(io) => format!("could not look up the name of {server}: {io}"),
        What::Connect(tried) => match tried.as_slice() {
            [(_, io)] => format!("could not connect to {server}: {io}"),
            all => format!(
                "could not connect to {server}: every address failed ({})",
                crate::resolve::Tried(all)
            ),
        },
        What::Proxy { proxy, failure } => {
            format!("could not reach {server} through the proxy {proxy}: {failure}")
        }
        What::NullMx(domain) => format!("{domain} accepts no mail: it publishes a null MX (RFC 7505)"),
        What::MtaSts(why) => format!("not delivered under the MTA-STS policy of {server}: {why}"),
        What::Tls(io) => format!("the TLS handshake with {server} failed: {io}"),
        What::Body(io) => format!("reading the message body failed: {io}"),
        What::Token(why) => format!("could not get an OAuth 2.0 access token: {why}"),
        What::Deadline => "not sent before the message's deadline".into(),
        What::Internal(what) => format!("not sent: {what}"),
        What::Shutdown => "the client was shut down before the message was sent".into(),
        What::Runtime(e) => format!("could not start squall's background runtime: {e}"),
    }
}

/// What to do, and whether a retry can help.
pub(super) fn advice(e: &Error) -> String {
    let what: String = match e.what() {
        What::Session(cause) => match cause {
            Cause::Rejected(r) | Cause::ServerClosing(r) => advice::for_reply(e.stage(), r).into(),
            Cause::NoValidRecipients => e
                .rejected()
                .first()
                .map_or("check the recipients", |r| r.hint())
                .into(),
            Cause::Local(err) => local(err).into(),
            Cause::Policy(err) => policy(err).into(),
            Cause::Protocol(ProtocolError::DataAfterStartTls { .. }) => {
                "something on the path injected data into the session; do not trust this network path".into()
            }
            Cause::Protocol(_) => {
                "this is a fault of the server or of something on the path; report it to its operator".into()
            }
            Cause::Timeout => {
                "the server may be overloaded or the network slow; raise the timeout or try later".into()
            }
            _ => "the server or the network dropped the connection".into(),
        },
        What::Input(_) => "fix the input and send again".into(),
        What::Partial { .. } => e
            .rejected()
            .first()
            .map_or("the connection was lost before the server's verdict", |r| {
                r.hint()
            })
            .into(),
        What::Io(_) => "the server or the network dropped the connection".into(),
        What::WriteStalled => "the server or the network is too slow; raise the timeout or try later".into(),
        What::Lookup(io) if io.kind() == io::ErrorKind::NotFound => {
            "the name does not exist; check the spelling of the host".into()
        }
        What::Lookup(_) => "the name lookup failed; check the network's DNS, or try again later".into(),
        What::Connect(tried) => match tried.last().map(|(_, io)| io.kind()) {
            Some(io::ErrorKind::ConnectionRefused) => {
                "nothing accepts connections there; check the host and port".into()
            }
            Some(io::ErrorKind::TimedOut) => {
                "the host did not answer; check the address and any firewall".into()
            }
            _ => "check the host name and port".into(),
        },
        What::Proxy { failure, .. } => failure.hint().into(),
        What::NullMx(_) => "the address cannot receive mail; check the domain with its owner".into(),
        What::MtaSts(_) => {
            "the domain demands verified TLS to the MX hosts its policy lists; try later, or ask \
             its owner to fix the MX records or the policy"
                .into()
        }
        What::Tls(io) => tls(io).into(),
        What::Body(_) => "check the file or stream the message comes from".into(),
        What::Token(_) => "check the token source (its refresh token, client id, or endpoint)".into(),
        What::Deadline => {
            "the server was slow or unreachable for too long; raise the deadline or try later".into()
        }
        What::Internal(_) => "this is a bug in squall; please report it (sending again may work)".into(),
        What::Shutdown => "send it again with a running client".into(),
        What::Runtime(_) => {
            "the system is short of threads or file descriptors; free some and try again".into()
        }
    };
    let refused = matches!(e.what(), What::Connect(tried)
        if tried.iter().all(|(_, io)| io.kind() == io::ErrorKind::ConnectionRefused));
    let retry = if e.is_ambiguous() {
        "the server may already have accepted it: resending may deliver it twice"
    } else if refused {
        "nothing was sent; it can go once a server listens there"
    } else {
        match e.kind() {
            ErrorKind::Transient => "a temporary failure: trying again later may work",
            ErrorKind::Permanent => "a permanent failure: sending the same again will fail the same way",
            ErrorKind::Local => "nothing was sent",
        }
    };
    match e.attempts().len() {
        0 | 1 => format!("{what} ({retry})"),
        n => format!("{what} ({retry}; {n} attempts were made)"),
    }
}

fn local(err: &LocalError) -> &'static str {
    match err {
        LocalError::MessageTooLarge { .. } | LocalError::MessageGrewTooLarge { .. } => {
            "send a smaller message (attachments are the usual cause)"
        }
        LocalError::SmtpUtf8Unsupported => "use ASCII addresses, or a server that offers SMTPUTF8",
        LocalError::EightBitUnsupported => "encode the body as quoted-printable or base64",
        LocalError::BinaryUnsupported => "encode the body as base64, or use a server with BINARYMIME",
        LocalError::RequireTlsUnavailable {
            tls: true,
            verified: false,
            ..
        } => {
            "give the server's CA (ca_file, --ca-file) so that its certificate verifies, or drop the requirement"
        }
        LocalError::RequireTlsUnavailable { .. } => {
            "use an encrypted connection to a server that offers REQUIRETLS, or drop the requirement"
        }
        _ => "check where the message content comes from",
    }
}

fn policy(err: &PolicyError) -> &'static str {
    match err {
        PolicyError::StartTlsNotOffered => {
            "use the server's implicit-TLS port (465), or choose --tls opportunistic only if cleartext is acceptable"
        }
        PolicyError::AuthNeedsTls => {
            "enable TLS (STARTTLS, or port 465), or allow insecure AUTH explicitly for a test server"
        }
        PolicyError::AuthNeedsVerifiedTls => {
            "use --tls starttls (or implicit) with a certificate squall can verify: pass a private CA with --ca-file, or connect with the name the certificate names"
        }
        PolicyError::AuthNotOffered { .. } => {
            "check the port: submission servers (587 with STARTTLS, 465) offer AUTH; port 25 usually does not"
        }
        _ => "choose a mechanism the server offers, or let squall pick one",
    }
}

/// Advice for a failed TLS handshake, from the rustls error behind it.
fn tls(io: &io::Error) -> &'static str {
    let rustls = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>());
    match rustls {
        Some(rustls::Error::InvalidCertificate(c)) => certificate(c),
        Some(_) => {
            "the server's TLS could not be agreed on; check the port (465 wants implicit TLS, 587 STARTTLS)"
        }
        None if io.kind() == io::ErrorKind::InvalidData => {
            "the server's TLS could not be agreed on; check the port (465 wants implicit TLS, 587 STARTTLS)"
        }
        None => "the TLS handshake was interrupted; check the port and the network",
    }
}

fn certificate(c: &CertificateError) -> &'static str {
    match c {
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "the server's certificate is not for this host name; connect with the name the certificate names"
        }
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => {
            "the server's certificate is outside its validity period (check the server's certificate, and this clock)"
        }
        CertificateError::UnknownIssuer => {
            "the server's certificate is not signed by a trusted CA; for a private CA pass its certificate (--ca-file)"
        }
        // A trusted CA of the same name, with another key: the chain does not verify.
        CertificateError::BadSignature
        | CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "the server's certificate is not signed by a trusted CA (one of that name is trusted, but it did not sign this certificate); pass the CA that did (--ca-file)"
        }
        CertificateError::Other(other)
            if other
                .0
                .downcast_ref::<webpki::Error>()
                .is_some_and(|e| matches!(e, webpki::Error::CaUsedAsEndEntity)) =>
        {
            "the server presents a CA certificate (CA:TRUE) as its own; a file holding that certificate cannot make it valid: give the server a certificate issued by that CA (CA:FALSE, with the host name), or for a test server use --dangerously-skip-certificate-verification"
        }
        _ => {
            "the server's certificate failed the checks; check it with `openssl s_client -connect HOST:PORT`"
        }
    }
}

/// "while waiting for the greeting", "at RCPT TO", ….
fn during(stage: Stage) -> &'static str {
    match stage {
        Stage::Prepare => "before sending",
        Stage::Connect => "while connecting",
        Stage::Tls => "during the TLS handshake",
        Stage::Greeting => "while waiting for the greeting",
        Stage::Ehlo => "during EHLO",
        Stage::StartTls => "during STARTTLS",
        Stage::Auth => "during AUTH",
        Stage::Queued => "before the message was started",
        Stage::Mail => "at MAIL FROM",
        Stage::Rcpt => "at RCPT TO",
        Stage::Data | Stage::Bdat => "while sending the message",
        Stage::DataEnd => "while waiting for the server to confirm the message",
        Stage::Rset => "at RSET",
        Stage::Quit => "at QUIT",
        _ => "",
    }
}
