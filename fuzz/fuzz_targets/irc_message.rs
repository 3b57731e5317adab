//! See `switchboard::fuzz::irc_message`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| switchboard::fuzz::irc_message(data));
