//! See `switchboard::fuzz::framer`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard::fuzz::framer(data));
