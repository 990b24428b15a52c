//! The resolver of direct delivery: MX records for a domain, addresses for its hosts, from the
//! system's configuration or from one DNS server given by the caller (tests, split horizon).

use std::io;
use std::net::SocketAddr;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use squall_proto::mx::MxRecord;

use crate::resolve::{Resolve, Resolving};

/// A hickory resolver, shared by the MX lookups and the connections to the MX hosts.
#[derive(Clone)]
pub(crate) struct Dns(TokioResolver);

/// What an MX lookup found.
pub(crate) enum MxAnswer {
    /// The records (empty: the domain exists and has no MX, so its A/AAAA records count).
    Records(Vec<MxRecord>),
    /// The domain does not exist (NXDOMAIN): a permanent failure.
    NoDomain,
}

impl Dns {
    /// The system's resolver configuration, or only `server` (UDP, then TCP) when given.
    pub(crate) fn new(server: Option<SocketAddr>) -> io::Result<Self> {
        let resolver = match server {
            Some(addr) => {
                let mut config = ResolverConfig::new();
                config.add_name_server(NameServerConfig::new(addr, Protocol::Udp));
                config.add_name_server(NameServerConfig::new(addr, Protocol::Tcp));
                let mut opts = ResolverOpts::default();
                opts.attempts = 2;
                TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
                    .with_options(opts)
                    .build()
            }
            None => TokioResolver::builder_tokio().map_err(io::Error::other)?.build(),
        };
        Ok(Self(resolver))
    }

    /// The MX records of `domain`.
    pub(crate) async fn mx(&self, domain: &str) -> io::Result<MxAnswer> {
        let fqdn = format!("{}.", domain.trim_end_matches('.'));
        match self.0.mx_lookup(fqdn).await {
            Ok(found) => Ok(MxAnswer::Records(
                found
                    .iter()
                    .map(|mx| MxRecord::new(mx.preference(), mx.exchange().to_ascii()))
                    .collect(),
            )),
            Err(e) if e.is_nx_domain() => Ok(MxAnswer::NoDomain),
            Err(e) if e.is_no_records_found() => Ok(MxAnswer::Records(Vec::new())),
            Err(e) => Err(io::Error::other(e.to_string())),
        }
    }

    /// The TXT records at `name`, each one's strings joined (RFC 8461 §3.1 reads them so);
    /// none when the name does not exist or has no TXT records.
    pub(crate) async fn txt(&self, name: &str) -> io::Result<Vec<String>> {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match self.0.txt_lookup(fqdn).await {
            Ok(found) => Ok(found
                .iter()
                .map(|txt| {
                    let bytes: Vec<u8> = txt.txt_data().iter().flat_map(|s| s.iter().copied()).collect();
                    String::from_utf8_lossy(&bytes).into_owned()
                })
                .collect()),
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => Ok(Vec::new()),
            Err(e) => Err(io::Error::other(e.to_string())),
        }
    }
}

impl Resolve for Dns {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Resolving<'a> {
        Box::pin(async move {
            let fqdn = format!("{}.", host.trim_end_matches('.'));
            match self.0.lookup_ip(fqdn).await {
                Ok(ips) => Ok(ips.iter().map(|ip| SocketAddr::new(ip, port)).collect()),
                Err(e) if e.is_nx_domain() || e.is_no_records_found() => {
                    Err(io::Error::new(io::ErrorKind::NotFound, e.to_string()))
                }
                Err(e) => Err(io::Error::other(e.to_string())),
            }
        })
    }
}
