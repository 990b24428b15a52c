//! Whatever the server sends and whatever the application does, the session never panics,
//! settles every message exactly once, ends exactly once, and never emits a bare CR or LF.
#![no_main]

use libfuzzer_sys::fuzz_target;
use squall_proto::fuzzing::{config, Harness, Op};

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, ops)) = data.split_first() else { return };
    let mut h = Harness::new(config(cfg));
    for op in Op::decode_all(ops) {
        h.apply(op);
    }
    if let Err(e) = h.finish() {
        panic!("{e}");
    }
});
