#![no_main]
//! See `rampart_fuzzing::oauth_form`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| rampart_fuzzing::oauth_form(data));
