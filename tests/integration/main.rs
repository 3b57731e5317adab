//! Integration tests over real sockets on 127.0.0.1, one module per topic.

mod accounts;
mod browser;
mod chat;
mod conformance;
mod disconnect;
mod hardening;
mod input;
mod irc;
mod limits;
mod scale;
mod shutdown;
mod slow;
mod util;
