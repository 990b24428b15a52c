//! DKIM signing from the command line (`--dkim-key`, `--dkim-domain`, `--dkim-selector`,
//! `--dkim-canon`) and from an account (the same keys without the dashes).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use squall::dkim::Canonicalization;
use squall::{ClientBuilder, DkimKey, DkimSigner, Error};

use crate::exit;

/// The DKIM flags.
#[derive(Args, Debug, Default, Clone)]
pub(crate) struct DkimArgs {
    /// Sign every message with DKIM using this private key (PEM: RSA of 2048 bits or more, or
    /// Ed25519); needs --dkim-domain and --dkim-selector.
    #[arg(long, value_name = "PEM", requires_all = ["dkim_domain", "dkim_selector"])]
    dkim_key: Option<PathBuf>,
    /// The signing domain (d=), whose DNS publishes the public key.
    #[arg(long, value_name = "DOMAIN", requires = "dkim_key")]
    dkim_domain: Option<String>,
    /// The selector (s=): the public key is the TXT record at SELECTOR._domainkey.DOMAIN.
    #[arg(long, value_name = "SELECTOR", requires = "dkim_key")]
    dkim_selector: Option<String>,
    /// Canonicalization of header/body: relaxed (the default), simple, or a pair such as
    /// relaxed/simple.
    #[arg(long, value_name = "C[/C]", requires = "dkim_key")]
    dkim_canon: Option<String>,
}

impl DkimArgs {
    /// Adds the signer the flags describe, if any.
    pub(crate) fn apply(&self, b: ClientBuilder) -> Result<ClientBuilder, (u8, Error)> {
        let (Some(key), Some(domain), Some(selector)) =
            (&self.dkim_key, &self.dkim_domain, &self.dkim_selector)
        else {
            return Ok(b);
        };
        if std::fs::metadata(key).is_err() {
            let e = format!("--dkim-key {}: no such file", escaped(key));
            return Err((exit::NOINPUT, Error::from_input(e)));
        }
        let signer = signer(key, domain, selector, self.dkim_canon.as_deref())
            .map_err(|e| (exit::CONFIG, Error::from_input(format!("DKIM: {e}"))))?;
        Ok(b.dkim(signer))
    }
}

/// A signer: the key read from `key`, for `domain` and `selector`, with `canon` (`H[/B]`).
pub(crate) fn signer(
    key: &Path,
    domain: &str,
    selector: &str,
    canon: Option<&str>,
) -> Result<DkimSigner, String> {
    let key = DkimKey::from_pem_file(key).map_err(|e| e.summary())?;
    let signer = DkimSigner::new(key, domain, selector).map_err(|e| e.summary())?;
    Ok(match canon {
        Some(c) => {
            let (h, b) = parse_canon(c)?;
            signer.canonicalization(h, b)
        }
        None => signer,
    })
}

/// `relaxed`, `simple`, or `HEADER/BODY`.
fn parse_canon(s: &str) -> Result<(Canonicalization, Canonicalization), String> {
    let one = |c: &str| {
        c.parse::<Canonicalization>().map_err(|_| {
            format!("canonicalization {s:?}: use relaxed, simple, or HEADER/BODY such as relaxed/simple")
        })
    };
    match s.split_once('/') {
        Some((h, b)) => Ok((one(h)?, one(b)?)),
        None => one(s).map(|c| (c, c)),
    }
}

/// `squall dkim …`.
#[derive(Subcommand, Debug)]
pub(crate) enum DkimCommand {
    /// Print the DNS TXT record that publishes a DKIM key, as a zone file line.
    Record {
        /// The private key (PEM), as given to --dkim-key.
        #[arg(long, value_name = "PEM")]
        key: PathBuf,
        /// The signing domain.
        #[arg(long, value_name = "DOMAIN")]
        domain: String,
        /// The selector.
        #[arg(long, value_name = "SELECTOR")]
        selector: String,
    },
}

pub(crate) const EXAMPLES: &str = "Examples:
  openssl genpkey -algorithm ed25519 -out dkim.pem
  squall dkim record --key dkim.pem --domain example.org --selector 2026
  squall send --dkim-key dkim.pem --dkim-domain example.org --dkim-selector 2026 --from a@example.org --to b@example.net --body hi";

/// Runs `squall dkim`.
pub(crate) fn run(cmd: DkimCommand) -> u8 {
    let DkimCommand::Record {
        key,
        domain,
        selector,
    } = cmd;
    match signer(&key, &domain, &selector, None).and_then(|_| {
        let record = DkimKey::from_pem_file(&key)
            .map_err(|e| e.summary())?
            .dns_record();
        Ok(zone_line(&selector, &domain, &record))
    }) {
        Ok(line) => {
            println!("{line}");
            exit::OK
        }
        Err(e) => {
            eprintln!("squall: {e}");
            exit::CONFIG
        }
    }
}

/// `SELECTOR._domainkey.DOMAIN. IN TXT ( "…" "…" )`: a TXT string holds at most 255 bytes,
/// and an RSA key's record is longer.
fn zone_line(selector: &str, domain: &str, record: &str) -> String {
    let strings: Vec<String> = record
        .as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect();
    format!("{selector}._domainkey.{domain}. IN TXT ( {} )", strings.join(" "))
}

fn escaped(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Canonicalization::{Relaxed, Simple};

    #[test]
    fn long_records_are_split_into_txt_strings() {
        let record = format!("v=DKIM1; k=rsa; p={}", "A".repeat(400));
        let line = zone_line("s1", "example.org", &record);
        assert!(
            line.starts_with("s1._domainkey.example.org. IN TXT ( \""),
            "{line}"
        );
        assert_eq!(line.matches('"').count(), 4, "two strings: {line}");
    }

    #[test]
    fn canonicalizations() {
        assert_eq!(parse_canon("simple"), Ok((Simple, Simple)));
        assert_eq!(parse_canon("relaxed/simple"), Ok((Relaxed, Simple)));
        for bad in ["", "loose", "relaxed/", "simple/simple/simple", "relaxed\r\n"] {
            assert!(
                parse_canon(bad).unwrap_err().contains("use relaxed, simple"),
                "{bad:?}"
            );
        }
    }
}
