//! Direct delivery to each recipient domain's MX hosts (RFC 5321 §5.1), without a relay.
//!
//! Recipients are grouped by domain; each domain's MX records are looked up, ordered by
//! preference with equal preferences shuffled ([`squall_proto::mx::route`]), and the hosts tried
//! in turn with opportunistic TLS (RFC 7435): a temporary failure (4yz, no connection) moves on
//! to the next host, a permanent refusal ends that domain. A domain without MX records is its own
//! host (A/AAAA); a null MX (RFC 7505) fails at once. Each domain gets its own outcome, naming the
//! host that took the message and every host tried before it.
//!
//! MTA-STS (RFC 8461, on by default): when a domain publishes a policy, `enforce` keeps only
//! the MX hosts it lists and requires verified TLS to them; `testing` delivers as usual and
//! reports what would have failed. Each outcome names the [`TlsPolicy`] applied. Not done: DANE
//! (RFC 7672); TLS is opportunistic wherever no `enforce` policy applies.

mod dns;
mod fetch;
mod sts;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use squall_proto::address::{Mailbox, ReversePath};
use squall_proto::mta_sts::{Mode, Policy};
use squall_proto::mx::{self, AfterFailure, Route};
use squall_proto::session::{ErrorKind, Stage, Tls};

use crate::builder::ClientBuilder;
use crate::error::{Error, What};
use crate::receipt::Receipt;
use dns::{Dns, MxAnswer};
use fetch::Fetcher;
use sts::Sts;

/// Configures a [`Direct`] client; from [`Client::direct`](crate::Client::direct).
#[derive(Clone, Debug, Default)]
pub struct DirectBuilder {
    dns: Option<SocketAddr>,
    port: Option<u16>,
    ehlo: Option<String>,
    timeout: Option<Duration>,
    no_mta_sts: bool,
    mta_sts_port: Option<u16>,
    ca_file: Option<PathBuf>,
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

    /// Look up and apply MTA-STS policies (RFC 8461); on by default. Off, TLS to every MX host
    /// is opportunistic.
    pub fn mta_sts(mut self, on: bool) -> Self {
        self.no_mta_sts = !on;
        self
    }

    /// Fetch MTA-STS policies from this port instead of 443 (tests, split-horizon networks).
    pub fn mta_sts_port(mut self, port: u16) -> Self {
        self.mta_sts_port = Some(port);
        self
    }

    /// Also trust the CA certificates in this PEM file, for the policy servers and the MX hosts
    /// (tests, private PKI); the usual roots stay trusted.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// The client; fails when the resolver cannot be set up (no system configuration).
    pub fn build(self) -> Result<Direct, Error> {
        let dns = Dns::new(self.dns)
            .map_err(|e| Error::new(ErrorKind::Local, Stage::Prepare, What::Lookup(Arc::new(e))))?;
        let sts = (!self.no_mta_sts).then(|| {
            Sts::new(Fetcher {
                port: self.mta_sts_port.unwrap_or(443),
                ca_file: self.ca_file.clone(),
                timeout: self.timeout.unwrap_or(Duration::from_secs(30)),
            })
        });
        Ok(Direct {
            dns,
            port: self.port.unwrap_or(25),
            ehlo: self.ehlo,
            timeout: self.timeout,
            sts,
            ca_file: self.ca_file,
        })
    }
}

/// Sends straight to the recipients' mail servers: per domain, its MX hosts by preference (equal
/// preferences in random order), the next host after a temporary failure, the domain itself
/// without MX records, nothing for a null MX; opportunistic TLS unless an MTA-STS policy in
/// `enforce` mode demands verified TLS. DANE: not done.
#[derive(Clone)]
pub struct Direct {
    dns: Dns,
    port: u16,
    ehlo: Option<String>,
    timeout: Option<Duration>,
    sts: Option<Sts>,
    ca_file: Option<PathBuf>,
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
    /// The TLS policy applied to the domain's MX hosts.
    pub tls_policy: TlsPolicy,
    /// What the MTA-STS policy found wrong or could not check: a policy that could not be
    /// fetched, hosts skipped under `enforce`, what `testing` would have refused.
    pub policy_notes: Vec<String>,
}

/// The TLS policy applied to one recipient domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsPolicy {
    /// No policy (or MTA-STS mode `none`, or MTA-STS switched off): opportunistic TLS.
    Opportunistic,
    /// An MTA-STS policy in `testing` mode: delivered as without one, mismatches reported.
    MtaStsTesting,
    /// An MTA-STS policy in `enforce` mode: only listed MX hosts, with verified TLS.
    MtaStsEnforce,
}

impl std::fmt::Display for TlsPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Opportunistic => "opportunistic TLS (no MTA-STS policy)",
            Self::MtaStsTesting => "MTA-STS testing",
            Self::MtaStsEnforce => "MTA-STS enforce",
        })
    }
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
            tls_policy: TlsPolicy::Opportunistic,
            policy_notes: Vec::new(),
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
        let policy = self.policy(&mut outcome).await;
        let enforce = outcome.tls_policy == TlsPolicy::MtaStsEnforce;
        let Some(hosts) = allowed(&mut outcome, policy.as_ref(), hosts) else {
            return outcome;
        };
        let to: Vec<&str> = outcome.recipients.iter().map(Mailbox::as_str).collect();
        for host in hosts {
            let result = match self.client(&host, enforce) {
                Ok(client) => client.send(from, &to, body.clone()).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(receipt) => {
                    if let Some(p) = policy.as_ref().filter(|p| p.mode == Mode::Testing) {
                        testing_report(&mut outcome, p, &host, &receipt);
                    }
                    outcome.mx = Some(host);
                    outcome.result = Ok(receipt);
                    return outcome;
                }
                // Under enforce, a host whose TLS does not verify is skipped like one that is down.
                Err(e)
                    if mx::after_failure(e.kind()) == AfterFailure::NextHost
                        || (enforce && (e.kind() == ErrorKind::Local || is_tls(&e))) =>
                {
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

    /// The domain's MTA-STS policy (when switched on), recorded in `outcome`: the TLS policy it
    /// sets and any problem finding it.
    async fn policy(&self, outcome: &mut DomainOutcome) -> Option<Policy> {
        let found = self.sts.as_ref()?.policy(&self.dns, &outcome.domain).await;
        outcome.tls_policy = match found.policy.as_ref().map(|p| p.mode) {
            Some(Mode::Enforce) => TlsPolicy::MtaStsEnforce,
            Some(Mode::Testing) => TlsPolicy::MtaStsTesting,
            _ => TlsPolicy::Opportunistic,
        };
        if let Some(why) = found.problem {
            outcome.policy_notes.push(match &found.policy {
                Some(_) => format!("MTA-STS: {why}; the cached policy applies"),
                None => format!("MTA-STS: {why}; no cached policy, so TLS is opportunistic"),
            });
        }
        found.policy
    }

    /// A one-connection client for one MX host: opportunistic TLS (verified STARTTLS when an
    /// MTA-STS policy enforces), no retries (the next host is the retry), this resolver for the
    /// host's addresses.
    fn client(&self, host: &str, verified_tls: bool) -> Result<crate::Client, Error> {
        let tls = if verified_tls {
            Tls::StartTls
        } else {
            Tls::Opportunistic
        };
        let mut b = ClientBuilder::new(host)
            .port(self.port)
            .tls(tls)
            .resolver(self.dns.clone())
            .no_retry()
            .idle_timeout(Duration::from_millis(100));
        if let Some(t) = self.timeout {
            b = b.timeout(t).connect_timeout(t);
        }
        if let Some(name) = &self.ehlo {
            b = b.ehlo(name);
        }
        if let Some(path) = &self.ca_file {
            b = b.ca_file(path);
        }
        b.build()
    }
}

/// The hosts to try under `policy`: under `enforce` only those it lists (the others are noted as
/// skipped); `None` when that leaves none, with the failure in `outcome`.
fn allowed(outcome: &mut DomainOutcome, policy: Option<&Policy>, hosts: Vec<String>) -> Option<Vec<String>> {
    let Some(policy) = policy.filter(|p| p.mode == Mode::Enforce) else {
        return Some(hosts);
    };
    let (listed, other): (Vec<String>, Vec<String>) = hosts.into_iter().partition(|h| policy.allows(h));
    for h in &other {
        outcome
            .policy_notes
            .push(format!("MTA-STS enforce: {h} skipped, it is not in the policy"));
    }
    if listed.is_empty() {
        let why = format!("none of its MX hosts ({}) is in the policy", other.join(", "));
        let e = Error::new(ErrorKind::Transient, Stage::Connect, What::MtaSts(why));
        outcome.result = Err(e.with_server(&outcome.domain));
        return None;
    }
    Some(listed)
}

/// Whether the failure came from the TLS handshake (a certificate that does not verify).
fn is_tls(e: &Error) -> bool {
    matches!(e.stage(), Stage::Tls | Stage::StartTls)
}

/// What an `enforce` policy would have refused about a delivery made under `testing`.
fn testing_report(outcome: &mut DomainOutcome, policy: &Policy, host: &str, receipt: &Receipt) {
    if !policy.allows(host) {
        outcome.policy_notes.push(format!(
            "MTA-STS testing: {host} is not in the policy (delivered anyway)"
        ));
    }
    match &receipt.tls {
        Some(tls) if tls.is_verified() => {}
        Some(tls) => outcome.policy_notes.push(format!(
            "MTA-STS testing: the certificate of {host} did not verify: {} (delivered anyway)",
            tls.problem.as_deref().unwrap_or("unverified")
        )),
        None => outcome.policy_notes.push(format!(
            "MTA-STS testing: {host} was sent to without TLS (delivered anyway)"
        )),
    }
}
