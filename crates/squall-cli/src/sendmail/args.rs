//! sendmail's command line, as cron, mutt, git send-email and PHP's mail() use it.
//!
//! Options follow getopt: single letters that combine (`-ti`), an option's argument attached or
//! in the next word (`-fme@x`, `-f me@x`), `--` before recipients. Words that are not options are
//! recipients (a word may hold several, separated by commas).

use std::ffi::OsString;
use std::path::PathBuf;

/// What the command line asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    /// `-t`: recipients from To, Cc and Bcc (Bcc removed before sending).
    pub(crate) extract: bool,
    /// `-i` or `-oi`: a line holding only `.` does not end the input.
    pub(crate) ignore_dots: bool,
    /// `-f ADDR` or `-r ADDR`: the envelope sender.
    pub(crate) sender: Option<String>,
    /// `-F NAME`: the sender's name, for a From field added to a message without one.
    pub(crate) full_name: Option<String>,
    /// `-v`: print the SMTP dialog to stderr.
    pub(crate) verbose: bool,
    pub(crate) recipients: Vec<String>,
    /// squall's own: `--account NAME`, `--config PATH`, `--server HOST[:PORT]`.
    pub(crate) account: Option<String>,
    pub(crate) config: Option<PathBuf>,
    pub(crate) server: Option<String>,
    /// `--queue`: into the durable queue (`squall queue run` sends it) instead of sending now.
    pub(crate) queue: bool,
    /// `--queue-url URL`: the queue database (default: SQUALL_QUEUE_URL, else the file under
    /// the XDG state directory).
    pub(crate) queue_url: Option<String>,
    /// `--help`.
    pub(crate) help: bool,
}

/// Options taking an argument that change nothing here (queueing, logging, delivery modes).
const IGNORED_WITH_ARG: &[char] = &['B', 'C', 'h', 'L', 'N', 'O', 'R', 'V', 'X', 'A'];
/// Options without an argument that change nothing here.
const IGNORED: &[char] = &['m', 'n', 'U', 'G'];

pub(crate) fn parse(args: Vec<OsString>) -> Result<Options, String> {
    let mut o = Options::default();
    let mut words = args.into_iter().map(|a| a.to_string_lossy().into_owned());
    let mut only_recipients = false;
    while let Some(word) = words.next() {
        if only_recipients || !word.starts_with('-') || word == "-" {
            o.recipients.extend(split_recipients(&word));
            continue;
        }
        if word == "--" {
            only_recipients = true;
            continue;
        }
        if let Some(long) = word.strip_prefix("--") {
            long_option(&mut o, long, &mut words)?;
            continue;
        }
        let letters: Vec<char> = word[1..].chars().collect();
        let mut i = 0;
        while i < letters.len() {
            let c = letters[i];
            let takes_arg = matches!(c, 'f' | 'r' | 'F' | 'o' | 'b' | 'q') || IGNORED_WITH_ARG.contains(&c);
            if !takes_arg {
                match c {
                    't' => o.extract = true,
                    'i' => o.ignore_dots = true,
                    'v' => o.verbose = true,
                    c if IGNORED.contains(&c) => {}
                    c => return Err(format!("unknown option -{c}")),
                }
                i += 1;
                continue;
            }
            let rest: String = letters[i + 1..].iter().collect();
            let arg = if !rest.is_empty() {
                rest
            } else if c == 'q' {
                String::new()
            } else {
                words
                    .next()
                    .ok_or_else(|| format!("option -{c} needs an argument"))?
            };
            match c {
                'f' | 'r' => o.sender = Some(arg),
                'F' => o.full_name = Some(arg),
                // -oi ignores dots; -odq and -odQ queue (as --queue); -odi, -odb, -oem, -oee, …
                // pick delivery and error modes that do not apply.
                'o' => match arg.as_str() {
                    "i" => o.ignore_dots = true,
                    "dq" | "dQ" => o.queue = true,
                    _ => {}
                },
                'b' if arg == "m" => {}
                'b' => {
                    return Err(format!(
                        "-b{arg} is not supported: squall sendmail only sends mail (mode -bm)"
                    ));
                }
                'q' => {
                    return Err("-q is not supported: `squall queue run` sends what --queue queued".into());
                }
                _ => {}
            }
            break;
        }
    }
    Ok(o)
}

fn long_option(o: &mut Options, long: &str, words: &mut impl Iterator<Item = String>) -> Result<(), String> {
    let (name, inline) = match long.split_once('=') {
        Some((n, v)) => (n, Some(v.to_string())),
        None => (long, None),
    };
    match (name, &inline) {
        ("help", None) => {
            o.help = true;
            return Ok(());
        }
        ("queue", None) => {
            o.queue = true;
            return Ok(());
        }
        ("help" | "queue", Some(_)) => return Err(format!("--{name} takes no value")),
        _ => {}
    }
    let mut value = || {
        inline
            .clone()
            .or_else(|| words.next())
            .ok_or_else(|| format!("--{name} needs a value"))
    };
    match name {
        "account" => o.account = Some(value()?),
        "config" => o.config = Some(PathBuf::from(value()?)),
        "server" => o.server = Some(value()?),
        "queue-url" => o.queue_url = Some(value()?),
        _ => return Err(format!("unknown option --{name}")),
    }
    Ok(())
}

fn split_recipients(word: &str) -> impl Iterator<Item = String> + '_ {
    word.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Options, String> {
        parse(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn what_real_callers_send() {
        // git send-email
        let o = p(&["-i", "a@example.org", "b@example.org"]).unwrap();
        assert!(o.ignore_dots && !o.extract);
        assert_eq!(o.recipients, ["a@example.org", "b@example.org"]);
        // PHP mail()
        let o = p(&["-t", "-i"]).unwrap();
        assert!(o.extract && o.ignore_dots);
        // mutt
        let o = p(&["-oem", "-oi", "--", "c@example.org"]).unwrap();
        assert!(o.ignore_dots);
        assert_eq!(o.recipients, ["c@example.org"]);
        // cron
        let o = p(&["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"]).unwrap();
        assert_eq!(o.full_name.as_deref(), Some("CronDaemon"));
        assert_eq!(o.recipients, ["root"]);
        // combined letters, attached and separate arguments
        let o = p(&["-tif", "me@example.org", "-F", "Me Myself", "-odi"]).unwrap();
        assert!(o.extract && o.ignore_dots);
        assert_eq!(o.sender.as_deref(), Some("me@example.org"));
        assert_eq!(o.full_name.as_deref(), Some("Me Myself"));
        assert!(!o.recipients.iter().any(|r| r.starts_with('-')));
        let o = p(&["-fme@example.org", "x@example.org, y@example.org"]).unwrap();
        assert_eq!(o.sender.as_deref(), Some("me@example.org"));
        assert_eq!(o.recipients, ["x@example.org", "y@example.org"]);
        // after --, everything is a recipient
        assert_eq!(
            p(&["--", "-odd@example.org"]).unwrap().recipients,
            ["-odd@example.org"]
        );
        // squall's own options
        let o = p(&["--account=work", "--config", "/x.toml", "-t"]).unwrap();
        assert_eq!(o.account.as_deref(), Some("work"));
        assert_eq!(o.config, Some(PathBuf::from("/x.toml")));
        let o = p(&["--queue", "--queue-url=sqlite:/q.db", "-i", "root"]).unwrap();
        assert!(o.queue && o.ignore_dots);
        assert_eq!(o.queue_url.as_deref(), Some("sqlite:/q.db"));
        assert_eq!(o.recipients, ["root"]);
        // sendmail's queue-only delivery modes queue; the others deliver now
        for (mode, queues) in [("-odq", true), ("-odQ", true), ("-odi", false), ("-odb", false)] {
            assert_eq!(p(&[mode, "root"]).unwrap().queue, queues, "{mode}");
        }
    }

    #[test]
    fn unknown_and_unsupported_options_are_refused_clearly() {
        for (args, says) in [
            (&["-x"][..], "unknown option -x"),
            (&["-tZ"][..], "unknown option -Z"),
            (&["-bp"][..], "-bp is not supported"),
            (&["-q"][..], "-q is not supported"),
            (&["-q1h"][..], "-q is not supported"),
            (&["-f"][..], "option -f needs an argument"),
            (&["--frobnicate"][..], "unknown option --frobnicate"),
            (&["--account"][..], "--account needs a value"),
            (&["--queue=yes"][..], "--queue takes no value"),
        ] {
            let e = p(args).unwrap_err();
            assert!(e.contains(says), "{args:?}: {e}");
        }
    }
}
