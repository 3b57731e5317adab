//! See `switchboard::fuzz::codecs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard::fuzz::codecs(data));
