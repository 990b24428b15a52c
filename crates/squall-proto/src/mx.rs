//! Where mail for a domain goes, from its MX records (RFC 5321 §5.1, RFC 7505): the planning half
//! of direct delivery, with no DNS and no randomness of its own.
//!
//! The caller looks the records up (and tells "the domain has no MX records" apart from "the
//! domain does not exist", which is a permanent failure before any of this), then asks
//! [`route`] for the hosts to try, in order. Hosts of equal preference are shuffled with the
//! caller's `pick`, so that load spreads as RFC 5321 asks while tests stay deterministic.
//!
//! squall's `Client::direct()` does the lookups and the per-domain delivery loop over these
//! hosts. Not yet: MTA-STS and DANE (see `notes/issue-15.md`).

use crate::address::Mailbox;

/// One MX record: a preference (lower first) and the exchange's host name (`.` for a null MX).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxRecord {
    /// Lower values are tried first.
    pub preference: u16,
    /// The host name, with or without the trailing dot.
    pub exchange: String,
}

impl MxRecord {
    /// A record.
    pub fn new(preference: u16, exchange: impl Into<String>) -> Self {
        Self {
            preference,
            exchange: exchange.into(),
        }
    }

    fn is_null(&self) -> bool {
        self.exchange.trim_end_matches('.').is_empty()
    }
}

/// How mail for a domain is to be delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Try these hosts in this order (trailing dots removed); each 4yz or connection failure
    /// moves on to the next, a 5yz ends the attempt (see [`after_failure`]).
    Hosts(Vec<String>),
    /// The domain publishes a null MX (RFC 7505, a single `0 .`): it accepts no mail. A
    /// permanent failure without any connection; servers answer it with `556 5.1.10`.
    NullMx,
    /// No MX records: the domain itself is the one host (its A/AAAA records, RFC 5321 §5.1).
    Implicit(String),
}

/// The hosts to try for `domain`, given its MX records. `pick(n)` returns an index below `n`
/// (a random one in use); it shuffles hosts of equal preference.
pub fn route(domain: &str, records: &[MxRecord], mut pick: impl FnMut(usize) -> usize) -> Route {
    if records.is_empty() {
        return Route::Implicit(domain.trim_end_matches('.').to_string());
    }
    // RFC 7505 §3: a null MX is the only record. Should a domain publish `.` beside real hosts
    // anyway, `.` is no host to connect to; the real ones are used.
    if records.iter().all(MxRecord::is_null) {
        return Route::NullMx;
    }
    let mut usable: Vec<&MxRecord> = records.iter().filter(|r| !r.is_null()).collect();
    usable.sort_by_key(|r| r.preference);
    let mut hosts: Vec<String> = Vec::with_capacity(usable.len());
    for group in usable.chunk_by(|a, b| a.preference == b.preference) {
        let mut names: Vec<String> = group
            .iter()
            .map(|r| r.exchange.trim_end_matches('.').to_ascii_lowercase())
            .collect();
        // Fisher–Yates with the caller's choices.
        for i in (1..names.len()).rev() {
            let j = pick(i + 1).min(i);
            names.swap(i, j);
        }
        for n in names {
            if !hosts.contains(&n) {
                hosts.push(n);
            }
        }
    }
    Route::Hosts(hosts)
}

/// What an attempt at one host of a [`Route::Hosts`] leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    /// The next host (a 4yz, a lost or refused connection, a timeout: RFC 5321 §5.1 "the
    /// SMTP client SHOULD try the next").
    NextHost,
    /// Stop: the domain refused for good (5yz), or the message was refused here; another of
    /// its hosts would say the same.
    Stop,
}

/// Whether a failed attempt moves on to the next host: only a temporary failure does.
pub fn after_failure(kind: crate::session::ErrorKind) -> AfterFailure {
    match kind {
        crate::session::ErrorKind::Transient => AfterFailure::NextHost,
        crate::session::ErrorKind::Permanent | crate::session::ErrorKind::Local => AfterFailure::Stop,
    }
}

/// Recipients grouped by domain (lower-cased), in the order the domains first appear. Addresses
/// without a domain (`postmaster`) have none to look up and are returned apart.
pub fn by_domain<'a>(
    recipients: impl IntoIterator<Item = &'a Mailbox>,
) -> (Vec<(String, Vec<Mailbox>)>, Vec<Mailbox>) {
    let mut groups: Vec<(String, Vec<Mailbox>)> = Vec::new();
    let mut without = Vec::new();
    for r in recipients {
        let Some(domain) = r.domain() else {
            without.push(r.clone());
            continue;
        };
        let domain = domain.to_ascii_lowercase();
        match groups.iter_mut().find(|(d, _)| *d == domain) {
            Some((_, list)) => list.push(r.clone()),
            None => groups.push((domain, vec![r.clone()])),
        }
    }
    (groups, without)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::ErrorKind;

    fn hosts(r: Route) -> Vec<String> {
        match r {
            Route::Hosts(h) => h,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn preference_order_and_shuffle_among_equals() {
        let records = [
            MxRecord::new(20, "c.example."),
            MxRecord::new(10, "a.example."),
            MxRecord::new(10, "B.example"),
            MxRecord::new(30, "d.example."),
        ];
        // pick always 0: the last of the group swaps with the first.
        assert_eq!(
            hosts(route("example", &records, |_| 0)),
            ["b.example", "a.example", "c.example", "d.example"]
        );
        // pick the last index: nothing moves.
        assert_eq!(
            hosts(route("example", &records, |n| n - 1)),
            ["a.example", "b.example", "c.example", "d.example"]
        );
        // Out-of-range picks are clamped, never a panic.
        assert_eq!(hosts(route("example", &records, |_| 99)).len(), 4);
    }

    #[test]
    fn both_orders_happen_among_equals() {
        let records = [MxRecord::new(5, "x."), MxRecord::new(5, "y.")];
        let mut seen = std::collections::HashSet::new();
        for k in 0..4 {
            seen.insert(hosts(route("d", &records, |n| k % n)));
        }
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn null_mx_and_implicit_mx() {
        assert_eq!(
            route("nomail.example", &[MxRecord::new(0, ".")], |_| 0),
            Route::NullMx
        );
        assert_eq!(
            route("example.org.", &[], |_| 0),
            Route::Implicit("example.org".into())
        );
        // `.` beside real hosts is skipped, not connected to.
        assert_eq!(
            hosts(route(
                "d",
                &[MxRecord::new(0, "."), MxRecord::new(10, "mx.d.")],
                |_| 0
            )),
            ["mx.d"]
        );
    }

    #[test]
    fn only_permanent_refusals_stop() {
        assert_eq!(after_failure(ErrorKind::Transient), AfterFailure::NextHost);
        assert_eq!(after_failure(ErrorKind::Permanent), AfterFailure::Stop);
        assert_eq!(after_failure(ErrorKind::Local), AfterFailure::Stop);
    }

    #[test]
    fn grouping() {
        let list: Vec<Mailbox> = ["a@X.example", "b@y.example", "c@x.example", "postmaster"]
            .iter()
            .map(|a| Mailbox::parse(a).unwrap())
            .collect();
        let (groups, without) = by_domain(&list);
        let shape: Vec<(&str, usize)> = groups.iter().map(|(d, l)| (d.as_str(), l.len())).collect();
        assert_eq!(shape, [("x.example", 2), ("y.example", 1)]);
        assert_eq!(without.len(), 1);
    }
}
