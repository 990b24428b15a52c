//! DKIM signing (feature `dkim`): [`DkimSigner`] holds a key, the domain and selector it is
//! published under, and what to sign; the canonical forms and the field come from
//! [`squall_proto::dkim`].

mod key;
mod sign;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use squall_proto::dkim::{Canonicalizer, DkimError, Template};

pub use key::DkimKey;
pub(crate) use sign::{sign_body, sign_body_off_thread};
pub use squall_proto::dkim::{Canonicalization, DEFAULT_HEADERS};

use crate::error::Error;

/// Signs messages with DKIM (RFC 6376): the receiver checks the signature against the key
/// published at `SELECTOR._domainkey.DOMAIN`, and knows the message comes from the domain and was
/// not changed on the way.
///
/// ```no_run
/// use squall::{Client, DkimKey, DkimSigner};
///
/// let key = DkimKey::from_pem_file("/etc/squall/dkim.key")?;
/// let signer = DkimSigner::new(key, "example.org", "2026")?;
/// let client = Client::builder("smtp.example.org").dkim(signer).build()?;
/// // Every message `client` sends now carries a DKIM-Signature.
/// # Ok::<(), squall::Error>(())
/// ```
///
/// The defaults are what receivers expect: relaxed canonicalization of header and body, the
/// usual header fields ([`DEFAULT_HEADERS`]) with From signed once more than it appears (so that
/// no second From can be added), and no expiry. A message is signed as the receiver stores it
/// (line ends normalised to CRLF); bytes and files are read once to be signed and once to be
/// sent, so a large file is never held in memory.
///
/// Cloning shares the key.
#[derive(Clone)]
pub struct DkimSigner {
    key: Arc<DkimKey>,
    template: Template,
}

impl DkimSigner {
    /// A signer for `domain`, with the key published under `selector`.
    pub fn new(key: DkimKey, domain: &str, selector: &str) -> Result<Self, Error> {
        let template = Template::new(domain, selector, key.algorithm())?;
        Ok(Self {
            key: Arc::new(key),
            template,
        })
    }

    /// The canonicalizations of header and body: `Simple` breaks on any change in transit.
    pub fn canonicalization(mut self, header: Canonicalization, body: Canonicalization) -> Self {
        self.template = self.template.canonicalization(header, body);
        self
    }

    /// The header fields to sign when present, instead of [`DEFAULT_HEADERS`]; From always is.
    pub fn headers<I, S>(mut self, names: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.template = self.template.headers(names)?;
        Ok(self)
    }

    /// The fields signed once more than they appear (`From` by default): none of them can then be
    /// added in transit without breaking the signature.
    pub fn oversign<I, S>(mut self, names: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.template = self.template.oversign(names)?;
        Ok(self)
    }

    /// The identity signed for (`i=`): an address at the domain or a subdomain of it.
    pub fn identity(mut self, identity: &str) -> Result<Self, Error> {
        self.template = self.template.identity(identity)?;
        Ok(self)
    }

    /// Signatures expire this long after they are made (`x=`).
    pub fn expire_after(mut self, lifetime: Duration) -> Self {
        self.template = self.template.expire_after(lifetime.as_secs().max(1));
        self
    }

    /// The `DKIM-Signature` field for `message` (CRLF-terminated, to put before it).
    pub fn signature(&self, message: &[u8]) -> Result<String, Error> {
        let mut fields = sign::sign_pieces(std::slice::from_ref(self), [Ok(message)])?;
        Ok(fields.remove(0))
    }

    /// `message` signed: the `DKIM-Signature` field, then the message with its line ends
    /// normalised to CRLF (as it is stored, and as it was signed).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        sign::signed_bytes(std::slice::from_ref(self), message)
    }

    /// A fresh reader of a message, and the time to sign it at.
    fn start(&self) -> (Canonicalizer, key::Sha256) {
        (
            Canonicalizer::new(self.template.body_canonicalization()),
            key::Sha256::new(),
        )
    }

    /// The field, from the header section and the body's hash.
    fn field(&self, section: &[u8], body_hash: &[u8]) -> Result<String, Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.template
            .header(section, body_hash, now, |data| self.key.sign(data))
    }
}

impl std::fmt::Debug for DkimSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimSigner")
            .field("key", &self.key)
            .field("template", &self.template)
            .finish()
    }
}

impl From<DkimError> for Error {
    fn from(e: DkimError) -> Self {
        Self::input(e.to_string())
    }
}

#[cfg(test)]
mod tests;
