//! Not an API: the `squall` command is the binary. Built with `--cfg fuzzing`, this library
//! exposes sendmail's reading of a message to the fuzz target
//! `fuzz/fuzz_targets/sendmail_headers.rs`; otherwise it is empty.

/// The binary's own sendmail modules, compiled a second time here (they use only other crates).
#[cfg(fuzzing)]
#[allow(dead_code, unreachable_pub)]
mod sendmail {
    pub(crate) mod addresses;
    pub(crate) mod dots;
    pub(crate) mod headers;
    pub(crate) mod input;
    pub(crate) mod lines;
    pub(crate) mod split;
}

#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
