//! The web: HTTP/1.1, the IRCv3 WebSocket transport, the built-in browser
//! client, `/metrics` and the JSON API, each without I/O; the transports
//! move the bytes.

pub mod http;
pub mod ws;
