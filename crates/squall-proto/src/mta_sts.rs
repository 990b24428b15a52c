//! MTA-STS (RFC 8461): the `_mta-sts` TXT record, the policy file, and whether an MX host name
//! is one the policy allows. No I/O here: the caller looks the record up, fetches the policy over
//! HTTPS (`https://mta-sts.DOMAIN/.well-known/mta-sts.txt`) and hands the text in.
//!
//! Everything here takes untrusted input and fails with an [`StsError`] instead of panicking.

use std::fmt;

/// The largest `max_age` the RFC allows (§3.2): one year, in seconds.
pub const MAX_AGE_LIMIT: u64 = 31_557_600;

/// Why a TXT record or a policy file is not usable.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StsError {
    /// No TXT record starting with `v=STSv1`: the domain has no policy.
    NoRecord,
    /// More than one `v=STSv1` TXT record: treated as no policy (§3.1).
    ManyRecords,
    /// The TXT record is malformed (the text says how).
    BadRecord(String),
    /// The policy file is malformed (the text says how).
    BadPolicy(String),
}

impl fmt::Display for StsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoRecord => f.write_str("no MTA-STS TXT record"),
            Self::ManyRecords => f.write_str("more than one MTA-STS TXT record"),
            Self::BadRecord(why) => write!(f, "malformed MTA-STS TXT record: {why}"),
            Self::BadPolicy(why) => write!(f, "malformed MTA-STS policy: {why}"),
        }
    }
}

impl std::error::Error for StsError {}

/// Picks the one `v=STSv1` record out of a domain's TXT records (each given as its strings
/// joined) and returns its `id` (§3.1). Records that do not start with `v=STSv1` are ignored.
pub fn parse_txt<'a>(records: impl IntoIterator<Item = &'a str>) -> Result<String, StsError> {
    let mut ours = records.into_iter().filter(|r| {
        let first = r.split(';').next().unwrap_or("").trim_matches([' ', '\t']);
        first == "v=STSv1"
    });
    let Some(record) = ours.next() else {
        return Err(StsError::NoRecord);
    };
    if ours.next().is_some() {
        return Err(StsError::ManyRecords);
    }
    let mut id = None;
    for field in record.split(';').skip(1) {
        let field = field.trim_matches([' ', '\t']);
        if field.is_empty() {
            continue;
        }
        let Some((key, value)) = field.split_once('=') else {
            return Err(StsError::BadRecord(format!("field {field:?} has no '='")));
        };
        if key == "id" && id.is_none() {
            let ok =
                !value.is_empty() && value.len() <= 32 && value.bytes().all(|b| b.is_ascii_alphanumeric());
            if !ok {
                return Err(StsError::BadRecord(format!(
                    "id {value:?} is not 1 to 32 letters and digits"
                )));
            }
            id = Some(value.to_string());
        }
    }
    id.ok_or_else(|| StsError::BadRecord("no id".into()))
}

/// A policy's mode (§5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// Deliver only to matching MX hosts whose certificates verify.
    Enforce,
    /// Deliver as without a policy, and report what would have failed.
    Testing,
    /// The domain has withdrawn its policy.
    None,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Enforce => "enforce",
            Self::Testing => "testing",
            Self::None => "none",
        })
    }
}

/// A parsed policy file (§3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The mode.
    pub mode: Mode,
    /// How long the policy may be cached, in seconds (at most [`MAX_AGE_LIMIT`]).
    pub max_age: u64,
    /// The `mx` patterns, lower-cased, without a trailing dot.
    pub mx: Vec<String>,
}

impl Policy {
    /// Parses a policy file: `key: value` lines ended by CRLF or LF; `version: STSv1`, `mode`,
    /// `max_age` and (unless the mode is `none`) at least one `mx` are required; unknown keys
    /// are ignored; of a repeated key other than `mx`, the first counts.
    pub fn parse(text: &str) -> Result<Self, StsError> {
        let bad = |why: String| Err(StsError::BadPolicy(why));
        let (mut version, mut mode, mut max_age) = (None, None, None);
        let mut mx = Vec::new();
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                return bad(format!("line {line:?} is not \"key: value\""));
            };
            let value = value.trim_matches([' ', '\t']);
            match key {
                "version" if version.is_none() => version = Some(value),
                "mode" if mode.is_none() => {
                    mode = Some(match value {
                        "enforce" => Mode::Enforce,
                        "testing" => Mode::Testing,
                        "none" => Mode::None,
                        other => return bad(format!("unknown mode {other:?}")),
                    })
                }
                "max_age" if max_age.is_none() => {
                    let n =
                        (!value.is_empty() && value.len() <= 10 && value.bytes().all(|b| b.is_ascii_digit()))
                            .then(|| value.parse::<u64>().ok())
                            .flatten();
                    match n {
                        Some(n) if n <= MAX_AGE_LIMIT => max_age = Some(n),
                        _ => {
                            return bad(format!(
                                "max_age {value:?} is not a number of seconds up to {MAX_AGE_LIMIT}"
                            ));
                        }
                    }
                }
                "mx" => {
                    let pattern = value.trim_end_matches('.').to_ascii_lowercase();
                    if !valid_pattern(&pattern) {
                        return bad(format!("mx {value:?} is not a host name or *.domain"));
                    }
                    mx.push(pattern);
                }
                _ => {}
            }
        }
        match version {
            Some("STSv1") => {}
            Some(v) => return bad(format!("version {v:?} is not STSv1")),
            None => return bad("no version".into()),
        }
        let Some(mode) = mode else {
            return bad("no mode".into());
        };
        let Some(max_age) = max_age else {
            return bad("no max_age".into());
        };
        if mx.is_empty() && mode != Mode::None {
            return bad("no mx".into());
        }
        Ok(Self { mode, max_age, mx })
    }

    /// Whether `host` (an MX host name, any case, a trailing dot allowed) matches one of the
    /// `mx` patterns (§4.1): equal, or `*.d` for a host that is exactly one label more than `d`.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.mx.iter().any(|p| match p.strip_prefix("*.") {
            Some(parent) => host
                .split_once('.')
                .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
            None => *p == host,
        })
    }
}

/// A host name of LDH labels, optionally behind a leading `*.` (the wildcard covers one label).
fn valid_pattern(p: &str) -> bool {
    let name = p.strip_prefix("*.").unwrap_or(p);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests;
