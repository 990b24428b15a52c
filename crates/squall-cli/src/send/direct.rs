//! `squall send --direct`: straight to each recipient domain's MX hosts, without a relay.

use std::net::SocketAddr;

use squall::{Client, DomainOutcome, Error, TlsPolicy};

use super::{Prepared, SendArgs, input_error};
use crate::exit;

/// Sends the prepared message domain by domain and prints each domain's outcome (with `--json`,
/// one object with a `domains` list); the exit code is that of the first domain that failed,
/// or 0.
pub(super) async fn send(args: &SendArgs, prepared: Prepared) -> Result<u8, (u8, Error)> {
    let usage = |why: &str| (exit::USAGE, input_error(why.to_string()));
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
    let mut domains = Vec::new();
    for d in &report.domains {
        let this = match &d.result {
            Ok(receipt) => exit::for_receipt(receipt),
            Err(e) => exit::for_error(e),
        };
        if code == exit::OK {
            code = this;
        }
        if args.json {
            domains.push(domain_json(d));
        } else {
            print_domain(d);
        }
    }
    if args.json {
        println!("{}", serde_json::json!({ "domains": domains }));
    }
    Ok(code)
}

/// One domain's outcome for people: delivered on stdout; failed hosts, policy notes, refused
/// recipients and errors on stderr.
fn print_domain(d: &DomainOutcome) {
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
        }
        Err(e) => eprintln!("squall: {}: {e}", d.domain),
    }
}

/// One domain's outcome for programs: the receipt or the error in the shapes `send --json`
/// prints, with the MX used, the hosts that failed before it and the TLS policy.
fn domain_json(d: &DomainOutcome) -> serde_json::Value {
    let tried: Vec<_> = d
        .tried
        .iter()
        .map(|(host, e)| serde_json::json!({ "host": host, "error": e }))
        .collect();
    let policy = match d.tls_policy {
        TlsPolicy::MtaStsTesting => "mta-sts-testing",
        TlsPolicy::MtaStsEnforce => "mta-sts-enforce",
        _ => "opportunistic",
    };
    let mut v = serde_json::json!({
        "domain": d.domain,
        "recipients": d.recipients.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "mx": d.mx,
        "tried": tried,
        "tls_policy": policy,
        "policy_notes": d.policy_notes,
    });
    let (key, value) = match &d.result {
        Ok(receipt) => ("receipt", serde_json::to_value(receipt)),
        Err(e) => ("error", serde_json::to_value(e)),
    };
    v["delivered"] = d.result.is_ok().into();
    v[key] = value.unwrap_or_default();
    v
}
