//! `squall send --direct`: straight to each recipient domain's MX hosts, without a relay.

use std::net::SocketAddr;

use squall::{Client, Error};

use super::{Prepared, SendArgs, input_error};
use crate::exit;

/// Sends the prepared message domain by domain and prints each domain's outcome; the exit code
/// is that of the first domain that failed, or 0.
pub(super) async fn send(args: &SendArgs, prepared: Prepared) -> Result<u8, (u8, Error)> {
    let usage = |why: &str| (exit::USAGE, input_error(why.to_string()));
    if args.json {
        return Err(usage("--json is not available with --direct yet"));
    }
    if args.notify.is_some() || args.ret.is_some() || args.envid.is_some() || args.require_tls {
        return Err(usage(
            "DSN flags and --require-tls are not available with --direct yet",
        ));
    }
    let mut b = Client::direct();
    if let Some(dns) = &args.dns {
        let addr: SocketAddr = dns
            .parse()
            .map_err(|_| usage("--dns takes IP:PORT, such as 127.0.0.1:53"))?;
        b = b.dns(addr);
    }
    if let Some(port) = args.mx_port {
        b = b.port(port);
    }
    let direct = b.build().map_err(|e| (exit::CONFIG, e))?;
    let Prepared { envelope, body, .. } = prepared;
    let body = body
        .read_to_vec()
        .await
        .map_err(|e| (exit::NOINPUT, input_error(format!("reading the message: {e}"))))?;
    let from = envelope.from().to_string();
    let to: Vec<String> = envelope
        .recipients()
        .iter()
        .map(|r| r.mailbox.to_string())
        .collect();
    let report = direct
        .send(&from, &to, body)
        .await
        .map_err(|e| (exit::DATAERR, e))?;
    let mut code = exit::OK;
    for d in &report.domains {
        for (host, e) in &d.tried {
            eprintln!("squall: {}: {host} failed, trying the next MX: {e}", d.domain);
        }
        for note in &d.policy_notes {
            eprintln!("squall: {}: {note}", d.domain);
        }
        match &d.result {
            Ok(receipt) => {
                let names: Vec<String> = receipt.accepted.iter().map(|r| r.recipient.to_string()).collect();
                println!(
                    "delivered to {} via {} ({}); TLS policy: {}",
                    names.join(", "),
                    d.mx.as_deref().unwrap_or("?"),
                    receipt.reply,
                    d.tls_policy
                );
                for r in &receipt.rejected {
                    eprintln!("squall: {r}");
                }
                if code == exit::OK {
                    code = exit::for_receipt(receipt);
                }
            }
            Err(e) => {
                eprintln!("squall: {}: {e}", d.domain);
                if code == exit::OK {
                    code = exit::for_error(e);
                }
            }
        }
    }
    Ok(code)
}
