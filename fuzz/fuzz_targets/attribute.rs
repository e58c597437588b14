#![no_main]
//! See `rampart_fuzzing::attribute`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| rampart_fuzzing::attribute(data));
