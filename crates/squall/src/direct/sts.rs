//! The MTA-STS policy of a recipient domain (RFC 8461): discovered through its `_mta-sts` TXT
//! record, fetched over verified HTTPS, and kept in memory for its `max_age` under the record's
//! `id` (a new id means a new policy to fetch).
//!
//! When a policy cannot be had (no answer, a bad certificate, a malformed file), a cached one that
//! has not expired still applies (§3.3, §5.1); without one the domain is treated as having no
//! policy, and the reason is returned so that the outcome can say so.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use squall_proto::mta_sts::{self, Policy, StsError};

use super::dns::Dns;
use super::fetch::Fetcher;

/// Policies by domain, shared by the clones of one [`Direct`](super::Direct).
#[derive(Clone, Debug)]
pub(crate) struct Sts {
    fetcher: Fetcher,
    cache: Arc<Mutex<HashMap<String, Cached>>>,
}

#[derive(Clone, Debug)]
struct Cached {
    id: String,
    policy: Policy,
    until: Instant,
}

/// The policy that applies to a domain, and what went wrong finding it.
pub(crate) struct Found {
    pub(crate) policy: Option<Policy>,
    pub(crate) problem: Option<String>,
}

impl Sts {
    pub(crate) fn new(fetcher: Fetcher) -> Self {
        Self {
            fetcher,
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The policy of `domain` (lower-case), from the cache when its id is current.
    pub(crate) async fn policy(&self, dns: &Dns, domain: &str) -> Found {
        let cached = self.cached(domain);
        let keep = |problem: String| Found {
            policy: cached.as_ref().map(|c| c.policy.clone()),
            problem: Some(problem),
        };
        let records = match dns.txt(&format!("_mta-sts.{domain}")).await {
            Ok(r) => r,
            Err(e) => return keep(format!("the _mta-sts.{domain} TXT lookup failed: {e}")),
        };
        let id = match mta_sts::parse_txt(records.iter().map(String::as_str)) {
            Ok(id) => id,
            // No record: a cached policy still holds until it expires (§3.3).
            Err(StsError::NoRecord) => {
                return Found {
                    policy: cached.map(|c| c.policy),
                    problem: None,
                };
            }
            Err(e) => return keep(e.to_string()),
        };
        if let Some(c) = cached.as_ref().filter(|c| c.id == id) {
            return Found {
                policy: Some(c.policy.clone()),
                problem: None,
            };
        }
        let text = match self.fetcher.fetch(dns, domain).await {
            Ok(t) => t,
            Err(e) => return keep(format!("the policy could not be fetched: {e}")),
        };
        match Policy::parse(&text) {
            Ok(policy) => {
                let until = Instant::now() + Duration::from_secs(policy.max_age);
                let entry = Cached {
                    id,
                    policy: policy.clone(),
                    until,
                };
                self.lock().insert(domain.to_string(), entry);
                Found {
                    policy: Some(policy),
                    problem: None,
                }
            }
            Err(e) => keep(e.to_string()),
        }
    }

    fn cached(&self, domain: &str) -> Option<Cached> {
        let mut cache = self.lock();
        let now = Instant::now();
        cache.retain(|_, c| c.until > now);
        cache.get(domain).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
