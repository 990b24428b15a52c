//! The sink's command framing and its command and path parsers never panic, frame lines as a
//! plain model says whatever the split, and never accept a path or parameter that could move
//! where the path ends (see `squall_sink::fuzzing` for every promise checked).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    squall_sink::fuzzing::check_command_input(data);
});
