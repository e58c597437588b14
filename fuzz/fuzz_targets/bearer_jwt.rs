#![no_main]
//! See `rampart_fuzzing::bearer_jwt`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| rampart_fuzzing::bearer_jwt(data));
