//! The web: HTTP/1.1, the IRCv3 WebSocket transport, the built-in browser
//! client, `/metrics` and the JSON API, each without I/O; the transports
//! move the bytes.
//!
//! # Layout
//!
//! - [`http`]: requests framed from bytes, with limits and deadlines;
//!   responses to bytes.
//! - [`conn`]: one HTTP connection's state, request after request, until
//!   it closes or upgrades.
//! - [`site`]: what each path serves; [`origin`]: `Origin` and
//!   `X-Forwarded-For`.
//! - [`ws`]: the WebSocket upgrade, and a session turning frames into IRC
//!   lines and back.
//! - [`layer`]: the web as a layer of a connection (`transport::Session`).
//! - [`api`], [`jwt`]: `/api/v1` to router calls and back to JSON;
//!   [`metrics`]: `/metrics`.

pub mod api;
pub mod conn;
pub mod http;
pub mod jwt;
pub mod layer;
pub mod metrics;
pub mod origin;
pub mod site;
pub mod ws;
