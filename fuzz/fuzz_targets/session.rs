//! Whatever the server sends and whatever the application does, the session never panics,
//! settles every message exactly once, ends exactly once, never emits a bare CR or LF outside
//! BDAT payloads, sends no parameter the server did not offer (BINARYMIME, SMTPUTF8, DSN, …),
//! and every message it reports delivered reached the toy server intact: decoded there by its
//! own reading of RFC 5321, compared with a reference normalisation (see
//! `squall_proto::fuzzing`).
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
