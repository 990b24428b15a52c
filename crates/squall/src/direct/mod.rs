//! Direct delivery to each recipient domain's MX hosts (RFC 5321 §5.1), without a relay.
//!
//! Recipients are grouped by domain; each domain's MX records are looked up, ordered by
//! preference with equal preferences shuffled ([`squall_proto::mx::route`]), and the hosts tried
//! in turn with opportunistic TLS (RFC 7435): a temporary failure (4yz, no connection) moves on
//! to the next host, a permanent refusal ends that domain. A domain without MX records is its own
//! host (A/AAAA); a null MX (RFC 7505) fails at once. Each domain gets its own outcome, naming the
//! host that took the message and every host tried before it.
//!
//! Not yet: MTA-STS (RFC 8461) and DANE (RFC 7672) — TLS here is opportunistic only.

mod dns;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use squall_proto::address::{Mailbox, ReversePath};
use squall_proto::mx::{self, AfterFailure, Route};
use squall_proto::session::{ErrorKind, Stage, Tls};

use crate::builder::ClientBuilder;
use crate::error::{Error, What};
use crate::receipt::Receipt;
use dns::{Dns, MxAnswer};

/// Configures a [`Direct`] client; from [`Client::direct`](crate::Client::direct).
#[derive(Clone, Debug, Default)]
pub struct DirectBuilder {
    dns: Option<SocketAddr>,
    port: Option<u16>,
    ehlo: Option<String>,
    timeout: Option<Duration>,
}

impl DirectBuilder {
    /// Ask this DNS server (UDP, then TCP) instead of the system's: tests, split-horizon networks.
    pub fn dns(mut self, server: SocketAddr) -> Self {
        self.dns = Some(server);
        self
    }

    /// Connect to this port on the MX hosts instead of 25 (tests: port 25 needs root).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// The name to give in EHLO; an MX host may check that it resolves back to the sender.
    pub fn ehlo(mut self, name: &str) -> Self {
        self.ehlo = Some(name.to_string());
        self
    }

    /// Give up on any single wait (connect, reply) after this long.
    pub fn timeout(mut self, max: Duration) -> Self {
        self.timeout = Some(max);
        self
    }

    /// The client; fails when the resolver cannot be set up (no system configuration).
    pub fn build(self) -> Result<Direct, Error> {
        let dns = Dns::new(self.dns)
            .map_err(|e| Error::new(ErrorKind::Local, Stage::Prepare, What::Lookup(Arc::new(e))))?;
        Ok(Direct {
            dns,
            port: self.port.unwrap_or(25),
            ehlo: self.ehlo,
            timeout: self.timeout,
        })
    }
}

/// Sends straight to the recipients' mail servers: per domain, its MX hosts by preference (equal
/// preferences in random order), the next host after a temporary failure, the domain itself
/// without MX records, nothing for a null MX; opportunistic TLS. MTA-STS and DANE: not yet.
#[derive(Clone)]
pub struct Direct {
    dns: Dns,
    port: u16,
    ehlo: Option<String>,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direct")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// What happened to the message for one recipient domain.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DomainOutcome {
    /// The domain, lower-cased.
    pub domain: String,
    /// Its recipients.
    pub recipients: Vec<Mailbox>,
    /// The host that took the message (an MX host, or the domain itself without MX records).
    pub mx: Option<String>,
    /// Hosts that failed before, in order, with why.
    pub tried: Vec<(String, Error)>,
    /// The receipt from `mx`, or the last failure.
    pub result: Result<Receipt, Error>,
}

/// The outcome of a direct send: one entry per recipient domain, in the order they first appear.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DirectReport {
    /// Per domain.
    pub domains: Vec<DomainOutcome>,
}

impl DirectReport {
    /// Whether every domain took the message.
    pub fn all_delivered(&self) -> bool {
        self.domains.iter().all(|d| d.result.is_ok())
    }
}

impl Direct {
    /// Sends `body` (a complete message) from `from` to `to`, domain by domain. `Err` only for
    /// input that cannot be sent at all; each domain's outcome is in the report.
    pub async fn send<I, S>(&self, from: &str, to: I, body: impl Into<Bytes>) -> Result<DirectReport, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        ReversePath::parse(from).map_err(|e| Error::from_input(format!("sender {from:?}: {e}")))?;
        let mut recipients = Vec::new();
        for r in to {
            let r = r.as_ref();
            recipients
                .push(Mailbox::parse(r).map_err(|e| Error::from_input(format!("recipient {r:?}: {e}")))?);
        }
        let (groups, without) = mx::by_domain(&recipients);
        if let Some(r) = without.first() {
            return Err(Error::from_input(format!(
                "recipient {r} has no domain to deliver to"
            )));
        }
        let body: Bytes = body.into();
        let mut domains = Vec::new();
        for (domain, list) in groups {
            domains.push(self.deliver(from, domain, list, &body).await);
        }
        Ok(DirectReport { domains })
    }

    async fn deliver(
        &self,
        from: &str,
        domain: String,
        recipients: Vec<Mailbox>,
        body: &Bytes,
    ) -> DomainOutcome {
        let mut outcome = DomainOutcome {
            domain: domain.clone(),
            recipients,
            mx: None,
            tried: Vec::new(),
            result: Err(Error::from_input("no host was tried")),
        };
        let lookup_failed = |kind, e: std::io::Error| {
            Error::new(kind, Stage::Connect, What::Lookup(Arc::new(e))).with_server(&domain)
        };
        let records = match self.dns.mx(&domain).await {
            Ok(MxAnswer::Records(r)) => r,
            Ok(MxAnswer::NoDomain) => {
                let e = std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the domain does not exist (NXDOMAIN)",
                );
                outcome.result = Err(lookup_failed(ErrorKind::Permanent, e));
                return outcome;
            }
            Err(e) => {
                outcome.result = Err(lookup_failed(ErrorKind::Transient, e));
                return outcome;
            }
        };
        let hosts = match mx::route(&domain, &records, crate::tls::random_below) {
            Route::Hosts(h) => h,
            Route::Implicit(host) => vec![host],
            Route::NullMx => {
                let e = Error::new(ErrorKind::Permanent, Stage::Connect, What::NullMx(domain.clone()));
                outcome.result = Err(e.with_server(&domain));
                return outcome;
            }
        };
        let to: Vec<&str> = outcome.recipients.iter().map(Mailbox::as_str).collect();
        for host in hosts {
            let result = match self.client(&host) {
                Ok(client) => client.send(from, &to, body.clone()).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(receipt) => {
                    outcome.mx = Some(host);
                    outcome.result = Ok(receipt);
                    return outcome;
                }
                Err(e) if mx::after_failure(e.kind()) == AfterFailure::NextHost => {
                    outcome.tried.push((host, e));
                }
                Err(e) => {
                    outcome.mx = Some(host);
                    outcome.result = Err(e);
                    return outcome;
                }
            }
        }
        if let Some((_, last)) = outcome.tried.last() {
            outcome.result = Err(last.clone());
        }
        outcome
    }

    /// A one-connection client for one MX host: opportunistic TLS, no retries (the next host is
    /// the retry), this resolver for the host's addresses.
    fn client(&self, host: &str) -> Result<crate::Client, Error> {
        let mut b = ClientBuilder::new(host)
            .port(self.port)
            .tls(Tls::Opportunistic)
            .resolver(self.dns.clone())
            .no_retry()
            .idle_timeout(Duration::from_millis(100));
        if let Some(t) = self.timeout {
            b = b.timeout(t).connect_timeout(t);
        }
        if let Some(name) = &self.ehlo {
            b = b.ehlo(name);
        }
        b.build()
    }
}
