//! The words of an error: what happened, and what to do about it.

use std::io;

use squall_proto::error::{LocalError, PolicyError, ProtocolError};
use squall_proto::reply::Reply;

use super::{Error, ErrorKind, Stage, What};

/// What happened, with the server's own words.
pub(super) fn summary(e: &Error) -> String {
    let server = e.server().unwrap_or("the server");
    let during = during(e.stage());
    match e.what() {
        What::Input(msg) => msg.clone(),
        What::Rejected(r) => match e.stage() {
            Stage::Greeting => format!("{server} refused the session in its greeting: {r}"),
            Stage::Ehlo => format!("the server refused EHLO and HELO: {r}"),
            Stage::StartTls => format!("the server refused STARTTLS: {r}"),
            Stage::Auth => format!("the server refused the login: {r}"),
            Stage::Mail => format!("the server refused the sender (MAIL FROM): {r}"),
            Stage::Data => format!("the server refused to take the message content: {r}"),
            Stage::DataEnd => format!("the server refused the message after receiving it: {r}"),
            stage => format!("the server refused {stage}: {r}"),
        },
        What::NoValidRecipients => match e.rejected() {
            [one] => format!("the server refused recipient <{}>: {}", one.address, one.reply),
            all => {
                let list: Vec<String> = all
                    .iter()
                    .map(|r| format!("<{}>: {}", r.address, r.reply))
                    .collect();
                format!(
                    "the server refused all {} recipients: {}",
                    all.len(),
                    list.join("; ")
                )
            }
        },
        What::Local(err) => format!("not sent: {err}"),
        What::Policy(err) => format!("not sent: {err}"),
        What::Protocol(err) => format!("the server broke the SMTP protocol {during}: {err}"),
        What::ServerClosing(r) => format!("the server closed the session {during}: {r}"),
        What::ConnectionLost(Some(io)) => format!("the connection to {server} was lost {during}: {io}"),
        What::ConnectionLost(None) => format!("the connection to {server} was lost {during}"),
        What::Timeout => format!("{server} did not answer in time {during}"),
        What::Connect(io) => format!("could not connect to {server}: {io}"),
        What::Tls(io) => format!("the TLS handshake with {server} failed: {io}"),
        What::Body(io) => format!("reading the message body failed: {io}"),
        What::Token(why) => format!("could not get an OAuth 2.0 access token: {why}"),
        What::Deadline => "not sent before the message's deadline".into(),
        What::Internal(what) => format!("not sent: {what}"),
        What::Shutdown => "the client was shut down before the message was sent".into(),
    }
}

/// What to do, and whether a retry can help.
pub(super) fn advice(e: &Error) -> String {
    let what = match e.what() {
        What::Input(_) => "fix the input and send again".to_string(),
        What::Rejected(r) | What::ServerClosing(r) => for_reply(e.stage(), r).to_string(),
        What::NoValidRecipients => e
            .rejected()
            .first()
            .map_or("check the recipients", |r| for_reply(Stage::Rcpt, &r.reply))
            .to_string(),
        What::Local(err) => match err {
            LocalError::MessageTooLarge { .. } => "send a smaller message (attachments are the usual cause)",
            LocalError::SmtpUtf8Unsupported => "use ASCII addresses, or a server that offers SMTPUTF8",
            LocalError::EightBitUnsupported => "encode the body as quoted-printable or base64",
            LocalError::BinaryUnsupported => "encode the body as base64, or use a server with BINARYMIME",
            LocalError::RequireTlsUnavailable { .. } => {
                "use an encrypted connection to a server that offers REQUIRETLS, or drop the requirement"
            }
            _ => "check where the message content comes from",
        }
        .to_string(),
        What::Policy(err) => match err {
            PolicyError::StartTlsNotOffered => {
                "use the server's implicit-TLS port (465), or choose --tls opportunistic only if cleartext is acceptable"
            }
            PolicyError::AuthNeedsTls => {
                "enable TLS (STARTTLS, or port 465), or allow insecure AUTH explicitly for a test server"
            }
            PolicyError::AuthNotOffered { .. } => {
                "check the port: submission servers (587 with STARTTLS, 465) offer AUTH; port 25 usually does not"
            }
            _ => "choose a mechanism the server offers, or let squall pick one",
        }
        .to_string(),
        What::Protocol(ProtocolError::DataAfterStartTls { .. }) => {
            "something on the path injected data into the session; do not trust this network path".into()
        }
        What::Protocol(_) => "this is a fault of the server or of something on the path; report it to its operator".into(),
        What::ConnectionLost(_) => "the server or the network dropped the connection".into(),
        What::Timeout => "the server may be overloaded or the network slow; raise the timeout or try later".into(),
        What::Connect(io) => match io.kind() {
            io::ErrorKind::ConnectionRefused => "nothing accepts connections there; check the host and port".into(),
            io::ErrorKind::TimedOut => "the host did not answer; check the address and any firewall".into(),
            _ => "check the host name and port".into(),
        },
        What::Tls(io) => {
            // rustls names certificate problems in its Display text, in either of two spellings.
            let text = io.to_string().to_ascii_lowercase().replace(' ', "");
            if text.contains("notvalidforname") {
                "the server's certificate is not for this host name; connect with the name the certificate names"
            } else if text.contains("expired") || text.contains("notvalidyet") {
                "the server's certificate is outside its validity period (check the server's certificate, and this clock)"
            } else if text.contains("invalidpeercertificate") {
                "the server's certificate is not signed by a trusted CA; for a private CA pass its certificate (--ca-file)"
            } else if io.kind() == io::ErrorKind::InvalidData {
                "the server's TLS could not be agreed on; check the port (465 wants implicit TLS, 587 STARTTLS)"
            } else {
                "the TLS handshake was interrupted; check the port and the network"
            }
            .into()
        }
        What::Body(_) => "check the file or stream the message comes from".into(),
        What::Token(_) => "check the token source (its refresh token, client id, or endpoint)".into(),
        What::Deadline => "the server was slow or unreachable for too long; raise the deadline or try later".into(),
        What::Internal(_) => "this is a bug in squall; please report it (sending again may work)".into(),
        What::Shutdown => "send it again with a running client".into(),
    };
    let retry = if e.is_ambiguous() {
        "the server may already have accepted it: resending may deliver it twice"
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
        Stage::Mail => "at MAIL FROM",
        Stage::Rcpt => "at RCPT TO",
        Stage::Data => "while sending the message",
        Stage::DataEnd => "while waiting for the server to confirm the message",
        Stage::Quit => "at QUIT",
    }
}

/// Advice for a refusal, from its enhanced status code (RFC 3463) or, failing that, its code.
pub(crate) fn for_reply(stage: Stage, reply: &Reply) -> &'static str {
    let code = reply.code().value();
    if code == 421 {
        return "the server is closing the connection (busy, or shutting down)";
    }
    if let Some(e) = reply.enhanced() {
        match (e.subject(), e.detail()) {
            (1, 1) => return "the address does not exist there; check the spelling",
            (1, 2) => return "the recipient's domain does not accept mail; check the domain",
            (1, 3) => return "the address is malformed",
            (1, 7) | (1, 8) => {
                return "the sender address is not accepted; use an address at a domain the server knows";
            }
            (1, 10) => return "the recipient address does not accept mail (null MX)",
            (2, 1) => return "the mailbox is disabled",
            (2, 2) => return "the recipient's mailbox is full",
            (2, 3) | (3, 4) => return "the message is too large for the server; send a smaller one",
            (3, _) => return "a problem in the server's mail system",
            (4, _) => return "a network or routing problem at the server",
            (5, 3) => return "too many recipients in one message; send the rest in another message",
            (5, _) => return "the server did not understand the command",
            (6, 7) => return "the address needs SMTPUTF8, which the path does not support",
            (6, _) => return "the server does not accept this content",
            (7, 0) if code == 530 => {
                return "the server requires authentication; configure a user and password";
            }
            (7, 8) => {
                return "the user name or password is wrong; check them (some providers need an app password)";
            }
            (7, 9) => return "the authentication mechanism is too weak for the server",
            (7, 11) => return "the server requires encryption for this; use TLS",
            (7, 1) => {
                return "refused by the server's policy (relaying denied, sender not allowed, or spam filtering); check that this server may send for you, usually by logging in";
            }
            (7, _) => return "refused for security or policy reasons",
            _ => {}
        }
    }
    match (stage, code) {
        (_, 530) => "the server requires authentication; configure a user and password",
        (_, 535) => "the user name or password is wrong; check them (some providers need an app password)",
        (_, 552) => "the message is too large for the server, or the mailbox is full",
        (_, 554) if stage == Stage::Greeting => "the server does not accept mail from this client",
        (Stage::Rcpt, 550 | 551 | 553) => "the address does not exist or is not accepted there; check it",
        (Stage::Rcpt, 452) => "too many recipients in one message; send the rest in another message",
        (_, 500..=504) => "the server did not understand the command",
        (_, 400..=499) => "a temporary problem at the server",
        _ => "the server refused it",
    }
}
