//! The proxy setting on the builder.

use super::ClientBuilder;
use crate::error::Error;
use crate::proxy::Proxy;

impl ClientBuilder {
    /// Connect through a SOCKS5 proxy: `socks5://[user:password@]host[:port]` (the server's
    /// name is resolved here, the proxy gets an address) or `socks5h://…` (the proxy resolves
    /// the name). Port 1080 by default. The password is never shown in errors, `Debug` or logs.
    /// An invalid URL is reported by `build`.
    pub fn proxy(mut self, url: &str) -> Self {
        match Proxy::parse(url) {
            Ok(p) => {
                self.proxy = Some(p);
                self
            }
            Err(why) => self.fail(Error::input(why)),
        }
    }
}
