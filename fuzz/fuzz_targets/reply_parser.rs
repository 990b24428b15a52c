//! The reply parser never panics, stays within its bounds, and parses the same whatever the
//! split of its input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use squall_proto::reply::{ReplyLimits, ReplyParser};

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else { return };
    let mut limits = ReplyLimits::default();
    limits.max_line_len = 64;
    limits.max_lines = 8;
    let parse = |chunks: &[&[u8]]| {
        let mut p = ReplyParser::new(limits);
        let mut out = Vec::new();
        for c in chunks {
            p.push(c);
            loop {
                match p.next_reply() {
                    Ok(Some(r)) => {
                        assert!(r.lines().len() <= limits.max_lines);
                        let _ = r.to_string();
                        out.push(Ok(r));
                    }
                    Ok(None) => break,
                    Err(e) => {
                        out.push(Err(e));
                        return out;
                    }
                }
            }
        }
        out
    };
    let whole = parse(&[input]);
    let at = usize::from(split) % (input.len() + 1);
    let (a, b) = input.split_at(at);
    let split = parse(&[a, b]);
    // An error may surface at a different point for a split input (a line too long is noticed
    // before its end arrives), so compare only the replies before any error.
    let ok = |v: &[Result<_, _>]| v.iter().take_while(|r| r.is_ok()).count();
    let n = ok(&whole).min(ok(&split));
    assert_eq!(whole[..n], split[..n]);
});
