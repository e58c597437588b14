#![no_main]
//! See `rampart_fuzzing::problem`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| rampart_fuzzing::problem(data));
