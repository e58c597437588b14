#![no_main]
//! See `rampart_fuzzing::audit_source`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| rampart_fuzzing::audit_source(data));
