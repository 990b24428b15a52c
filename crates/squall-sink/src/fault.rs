//! Fault injection: make the sink misbehave at a chosen stage, the way real servers do.
//!
//! A fault is written `STAGE[#N][:ADDR]=ACTION`:
//!
//! * `STAGE`: `connect`, `greeting`, `ehlo`, `starttls`, `auth`, `mail`, `rcpt`, `data`, `bdat`,
//!   `data-end` (the reply after the final `.` or `BDAT … LAST`), `quit`;
//! * `#N`: only the Nth time this stage is reached on the server (counting from 1); else every time;
//! * `:ADDR`: only when the sender (`mail`), the recipient (`rcpt`) or any recipient (later
//!   stages) is this address;
//! * `ACTION`: a reply code with optional text (`451`, `550 5.1.1 no such user`), `disconnect`
//!   (close without answering), `stall` (never answer), `delay:DURATION` (`250ms`, `2s`, `1m`;
//!   then answer normally), `garbage` (answer with bytes that are not SMTP), or `overlong` (answer
//!   with a line longer than any client accepts).
//!
//! Examples: `rcpt:bad@example.com=550 5.1.1 no such user`, `data-end#3=disconnect`.
//!
//! A fault whose stage is never reached, or whose `#N` or address never matches, does nothing,
//! silently: a test that passes with it may be testing a well-behaved server. The sink counts
//! how often each fault *fired* (its action replaced the normal answer), so a test can say so:
//! [`SinkHandle::faults_fired`](crate::SinkHandle::faults_fired) and
//! [`SinkHandle::wait_fired`](crate::SinkHandle::wait_fired).

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use thiserror::Error;

/// Where in the dialog a fault applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum FaultStage {
    Connect,
    Greeting,
    Ehlo,
    StartTls,
    Auth,
    Mail,
    Rcpt,
    Data,
    Bdat,
    DataEnd,
    Quit,
}

impl FaultStage {
    const ALL: [(&'static str, Self); 11] = [
        ("connect", Self::Connect),
        ("greeting", Self::Greeting),
        ("ehlo", Self::Ehlo),
        ("starttls", Self::StartTls),
        ("auth", Self::Auth),
        ("mail", Self::Mail),
        ("rcpt", Self::Rcpt),
        ("data", Self::Data),
        ("bdat", Self::Bdat),
        ("data-end", Self::DataEnd),
        ("quit", Self::Quit),
    ];

    fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, s)| *s == self).map_or("?", |(n, _)| n)
    }
}

/// What the sink does instead of its normal answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer with this code and text (the command has no effect).
    Reply(u16, String),
    /// Close the connection without answering.
    Disconnect,
    /// Never answer; keep the connection open until the client gives up.
    Stall,
    /// Wait, then answer normally.
    Delay(Duration),
    /// Answer with bytes that are not an SMTP reply.
    Garbage,
    /// Answer with a line far longer than any client should accept.
    Overlong,
}

/// One fault: where, how often, for whom, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The stage.
    pub stage: FaultStage,
    /// Only the Nth occurrence of the stage on the server (1-based).
    pub nth: Option<u64>,
    /// Only for this address.
    pub addr: Option<String>,
    /// The action.
    pub action: FaultAction,
}

/// A fault specification that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("bad fault {spec:?}: {problem} (expected STAGE[#N][:ADDR]=ACTION, e.g. rcpt:bad@example.com=550)")]
pub struct FaultParseError {
    spec: String,
    problem: String,
}

impl FromStr for Fault {
    type Err = FaultParseError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = |problem: &str| FaultParseError {
            spec: spec.to_string(),
            problem: problem.to_string(),
        };
        let (target, action) = spec.split_once('=').ok_or_else(|| err("missing '='"))?;
        let (stage_nth, addr) = match target.split_once(':') {
            Some((s, a)) if !a.is_empty() => (s, Some(a.to_string())),
            Some(_) => return Err(err("empty address after ':'")),
            None => (target, None),
        };
        let (stage, nth) = match stage_nth.split_once('#') {
            Some((s, n)) => {
                let n: u64 = n.parse().map_err(|_| err("#N must be a positive number"))?;
                if n == 0 {
                    return Err(err("#N counts from 1"));
                }
                (s, Some(n))
            }
            None => (stage_nth, None),
        };
        let stage = FaultStage::ALL
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(stage.trim()))
            .map(|(_, s)| *s)
            .ok_or_else(|| {
                let names: Vec<&str> = FaultStage::ALL.iter().map(|(n, _)| *n).collect();
                err(&format!("unknown stage; one of {}", names.join(", ")))
            })?;
        let action = parse_action(action.trim()).map_err(|p| err(&p))?;
        Ok(Self {
            stage,
            nth,
            addr,
            action,
        })
    }
}

fn parse_action(s: &str) -> Result<FaultAction, String> {
    match s.to_ascii_lowercase().as_str() {
        "disconnect" => return Ok(FaultAction::Disconnect),
        "stall" => return Ok(FaultAction::Stall),
        "garbage" => return Ok(FaultAction::Garbage),
        "overlong" => return Ok(FaultAction::Overlong),
        _ => {}
    }
    if let Some(d) = s.strip_prefix("delay:") {
        return parse_duration(d).map(FaultAction::Delay);
    }
    let (code, text) = s.split_once(' ').unwrap_or((s, ""));
    let code: u16 = code.parse().ok().filter(|c| (200..600).contains(c)).ok_or(
        "the action is not a reply code (200-599), disconnect, stall, delay:DURATION, garbage or overlong",
    )?;
    if text.contains(['\r', '\n']) {
        return Err("the reply text may not contain CR or LF".into());
    }
    Ok(FaultAction::Reply(code, text.to_string()))
}

/// Parses a duration written `250ms`, `2s`, `1.5s` or `1m` (a bare number is seconds): the
/// syntax of `delay:` here and of the sink's time-limit flags.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("bad duration {s:?} (use e.g. 250ms, 2s, 1m)");
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| s.split_at(i));
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(bad()),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| bad())
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.stage.name())?;
        if let Some(n) = self.nth {
            write!(f, "#{n}")?;
        }
        if let Some(a) = &self.addr {
            write!(f, ":{a}")?;
        }
        match &self.action {
            FaultAction::Reply(c, t) if t.is_empty() => write!(f, "={c}"),
            FaultAction::Reply(c, t) => write!(f, "={c} {t}"),
            FaultAction::Disconnect => write!(f, "=disconnect"),
            FaultAction::Stall => write!(f, "=stall"),
            FaultAction::Delay(d) => write!(f, "=delay:{}ms", d.as_millis()),
            FaultAction::Garbage => write!(f, "=garbage"),
            FaultAction::Overlong => write!(f, "=overlong"),
        }
    }
}

/// The configured faults, with how often each one's stage was reached (for `#N`) and how often
/// it fired.
#[derive(Debug)]
pub(crate) struct FaultBook {
    faults: Vec<Fault>,
    reached: Vec<AtomicU64>,
    fired: Vec<AtomicU64>,
}

impl FaultBook {
    pub(crate) fn new(faults: &[Fault]) -> Self {
        let zeros = || faults.iter().map(|_| AtomicU64::new(0)).collect();
        Self {
            faults: faults.to_vec(),
            reached: zeros(),
            fired: zeros(),
        }
    }

    /// The action of the first fault that applies to this occurrence of `stage`, counted as
    /// fired; every fault for the stage (and address) counts the occurrence.
    pub(crate) fn pick(&self, stage: FaultStage, addrs: &[&str]) -> Option<FaultAction> {
        let mut hit = None;
        for (i, fault) in self.faults.iter().enumerate() {
            if fault.stage != stage {
                continue;
            }
            if let Some(a) = &fault.addr
                && !addrs.iter().any(|x| x.eq_ignore_ascii_case(a))
            {
                continue;
            }
            let n = self.reached[i].fetch_add(1, Ordering::Relaxed) + 1;
            if hit.is_none() && fault.nth.is_none_or(|nth| nth == n) {
                self.fired[i].fetch_add(1, Ordering::Release);
                hit = Some(fault.action.clone());
            }
        }
        hit
    }

    /// Each fault with the times it fired, in the order they were added.
    pub(crate) fn fired(&self) -> Vec<(Fault, u64)> {
        let counts = self.fired.iter().map(|n| n.load(Ordering::Acquire));
        self.faults.iter().cloned().zip(counts).collect()
    }

    /// The times the fault added `index`-th fired (0 for an index past the end).
    pub(crate) fn fired_at(&self, index: usize) -> u64 {
        self.fired.get(index).map_or(0, |n| n.load(Ordering::Acquire))
    }

    /// The fault added `index`-th.
    pub(crate) fn get(&self, index: usize) -> Option<&Fault> {
        self.faults.get(index)
    }
}

/// [`SinkHandle::wait_fired`](crate::SinkHandle::wait_fired) ran out of time, or was asked
/// about a fault the sink was not given.
#[derive(Debug, Error)]
#[error("fault {fault} fired {got} of {want} times within {timeout:?}")]
pub struct FiredTimeout {
    /// The fault, as written (`?` when there is no fault at that index).
    pub fault: String,
    /// How many times it fired.
    pub got: u64,
    /// How many times it was expected to.
    pub want: u64,
    /// How long it waited.
    pub timeout: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_fired_not_what_was_reached() {
        let faults: Vec<Fault> = ["rcpt#2=451", "rcpt:c@x=550", "mail=stall"]
            .iter()
            .map(|f| f.parse().unwrap())
            .collect();
        let book = FaultBook::new(&faults);
        assert_eq!(book.pick(FaultStage::Rcpt, &["a@x"]), None);
        assert_eq!(
            book.pick(FaultStage::Rcpt, &["c@x"]),
            Some(FaultAction::Reply(451, String::new()))
        );
        // The second fault matched too, but the first one answered: only that one fired.
        assert_eq!(
            book.pick(FaultStage::Rcpt, &["c@x"]),
            Some(FaultAction::Reply(550, String::new()))
        );
        let fired: Vec<u64> = book.fired().into_iter().map(|(_, n)| n).collect();
        assert_eq!(fired, [1, 1, 0]);
        assert_eq!((book.fired_at(2), book.fired_at(9)), (0, 0));
    }

    #[test]
    fn parses_the_documented_forms() {
        let f: Fault = "rcpt:bad@example.com=550 5.1.1 no such user".parse().unwrap();
        assert_eq!(f.stage, FaultStage::Rcpt);
        assert_eq!(f.addr.as_deref(), Some("bad@example.com"));
        assert_eq!(f.action, FaultAction::Reply(550, "5.1.1 no such user".into()));
        let f: Fault = "data-end#3=disconnect".parse().unwrap();
        assert_eq!(
            (f.stage, f.nth, f.action),
            (FaultStage::DataEnd, Some(3), FaultAction::Disconnect)
        );
        let f: Fault = "mail=delay:250ms".parse().unwrap();
        assert_eq!(f.action, FaultAction::Delay(Duration::from_millis(250)));
        assert_eq!(
            "GREETING=421".parse::<Fault>().unwrap().action,
            FaultAction::Reply(421, String::new())
        );
        for (spec, shown) in [
            ("rcpt:a@b=550 x", "rcpt:a@b=550 x"),
            ("ehlo#2=stall", "ehlo#2=stall"),
            ("bdat=delay:2s", "bdat=delay:2000ms"),
        ] {
            assert_eq!(spec.parse::<Fault>().unwrap().to_string(), shown);
        }
    }

    #[test]
    fn errors_name_the_problem() {
        for (spec, problem) in [
            ("rcpt", "missing '='"),
            ("helo=250", "unknown stage"),
            ("rcpt#0=550", "counts from 1"),
            ("rcpt#x=550", "positive number"),
            ("rcpt=9000", "not a reply code"),
            ("rcpt=delay:soon", "bad duration"),
            ("rcpt:=550", "empty address"),
        ] {
            let e = spec.parse::<Fault>().unwrap_err().to_string();
            assert!(e.contains(problem), "{spec}: {e}");
        }
    }
}

/// A random fault the sink's chaos mode injects into one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Chaos {
    /// This fault, at this stage of the transaction.
    At(FaultStage, FaultAction),
    /// Store the message, then drop the connection without the final reply: the client cannot
    /// know the message arrived.
    StoreThenDisconnect,
}

impl Chaos {
    pub(crate) const ALL: [Self; 9] = [
        Self::At(FaultStage::Rcpt, FaultAction::Reply(451, String::new())),
        Self::At(FaultStage::Rcpt, FaultAction::Reply(550, String::new())),
        Self::At(FaultStage::DataEnd, FaultAction::Reply(451, String::new())),
        Self::At(FaultStage::DataEnd, FaultAction::Reply(554, String::new())),
        Self::At(FaultStage::DataEnd, FaultAction::Disconnect),
        Self::StoreThenDisconnect,
        Self::At(FaultStage::Mail, FaultAction::Reply(421, String::new())),
        Self::At(FaultStage::Mail, FaultAction::Disconnect),
        Self::At(FaultStage::Rcpt, FaultAction::Delay(Duration::from_millis(50))),
    ];
}
