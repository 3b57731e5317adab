//! The web as a layer of the connection (`transport::Session`): an HTTP
//! connection being served, which may become IRC over WebSocket.
//!
//! While it is HTTP the connection is still being set up, as far as the
//! transport and the router are concerned: the transport feeds requests
//! in and writes responses out ([`Layer::serve`]), asks the router what
//! API calls and `/metrics` need, and tells the router of a client only
//! once the connection upgrades. After that the layer frames: one IRC line
//! per WebSocket message each way.

use std::net::IpAddr;
use std::time::Instant;

use super::conn::{HttpConn, Next};
use super::http::Limits;
use super::site::Settings;
use super::ws;
use crate::protocol::api::{Answer, Call, Credential};
use crate::stats::StatsSnapshot;

/// An HTTP connection, or what it upgraded to.
#[derive(Debug)]
pub enum Layer {
    Http(HttpConn),
    WebSocket(ws::Session),
}

/// What [`Layer::serve`] wants the transport to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Served {
    /// Read more.
    Read,
    /// Ask the router (`Input::Api`), then [`Layer::answer`].
    Ask {
        call: Call,
        credential: Credential,
        client: IpAddr,
    },
    /// The connection is IRC over WebSocket now, from `client`: tell the
    /// router. `lines` is what the client sent after its upgrade request,
    /// for the intake.
    Upgraded { client: IpAddr, lines: Vec<u8> },
    /// Write what was given, then close.
    Close,
}

impl Layer {
    /// A fresh HTTP connection from `peer`.
    pub fn http(peer: IpAddr, limits: Limits, now: Instant) -> Layer {
        Layer::Http(HttpConn::new(peer, limits, now))
    }

    /// Whether the connection still speaks HTTP.
    pub fn is_http(&self) -> bool {
        matches!(self, Layer::Http(_))
    }

    /// Takes bytes from below (the socket, or TLS): HTTP keeps them for
    /// [`Layer::serve`]; WebSocket hands `deliver` the lines they complete.
    /// False once the WebSocket is closed.
    pub fn receive(&mut self, bytes: &[u8], deliver: &mut impl FnMut(&[u8])) -> bool {
        match self {
            Layer::Http(conn) => {
                conn.push(bytes, Instant::now());
                true
            }
            Layer::WebSocket(session) => {
                let mut lines = Vec::new();
                session.read(bytes, &mut lines);
                if !lines.is_empty() {
                    deliver(&lines);
                }
                !session.is_closed()
            }
        }
    }

    /// Frames what was encoded into `buf` from `from` on, in place, after
    /// what the WebSocket owes the peer (pongs). HTTP has nothing to frame.
    pub fn seal(&mut self, buf: &mut Vec<u8>, from: usize) {
        if let Layer::WebSocket(session) = self {
            if buf.len() > from {
                session.write(&buf[from..]);
                buf.truncate(from);
            }
            session.take_output(buf);
        }
    }

    /// Appends the WebSocket's close frame.
    pub fn close(&mut self, buf: &mut Vec<u8>) {
        if let Layer::WebSocket(session) = self {
            session.close();
            session.take_output(buf);
        }
    }

    /// Whether the WebSocket has bytes of its own to send (a pong).
    pub fn wants_write(&self) -> bool {
        matches!(self, Layer::WebSocket(session) if session.has_output())
    }

    /// Serves the requests that have arrived, appending responses to
    /// `out`, until more bytes or the router are needed, the connection
    /// upgrades (the layer becomes a WebSocket) or it must close.
    pub fn serve(&mut self, settings: &Settings, now: Instant, out: &mut Vec<u8>) -> Served {
        let Layer::Http(conn) = self else {
            return Served::Read;
        };
        match conn.next(settings, now, out) {
            Next::Read => Served::Read,
            Next::Close => Served::Close,
            Next::Ask {
                call,
                credential,
                client,
            } => Served::Ask {
                call,
                credential,
                client,
            },
            Next::Upgrade { mode, client, rest } => {
                let mut session = ws::Session::new(mode);
                let mut lines = Vec::new();
                session.read(&rest, &mut lines);
                *self = Layer::WebSocket(session);
                Served::Upgraded { client, lines }
            }
        }
    }

    /// The router's answer to the last [`Served::Ask`], as a response in
    /// `out`; `serve` again after.
    pub fn answer(&mut self, answer: Answer, stats: &StatsSnapshot, out: &mut Vec<u8>) {
        if let Layer::Http(conn) = self {
            conn.answer(answer, stats, out);
        }
    }

    /// By when an HTTP client must have sent its request; none once the
    /// connection is a WebSocket (the router's pings watch it then).
    pub fn deadline(&self) -> Option<Instant> {
        match self {
            Layer::Http(conn) => conn.deadline(),
            Layer::WebSocket(_) => None,
        }
    }

    /// The deadline passed: a 408 if a request was arriving.
    pub fn timed_out(&mut self, out: &mut Vec<u8>) {
        if let Layer::Http(conn) = self {
            conn.timed_out(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::ws::Pipe;
    use tungstenite::Message;
    use tungstenite::protocol::{Role, WebSocketContext};

    const UPGRADE: &[u8] = b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

    #[test]
    fn http_is_served_until_an_upgrade_then_lines_are_framed() {
        let now = Instant::now();
        let mut layer = Layer::http([127, 0, 0, 1].into(), Limits::default(), now);
        let settings = Settings::default();
        let mut lines = Vec::new();
        let mut deliver = |bytes: &[u8]| lines.extend_from_slice(bytes);
        assert!(layer.receive(b"GET /nope HTTP/1.1\r\n\r\n", &mut deliver));
        let mut out = Vec::new();
        assert_eq!(layer.serve(&settings, now, &mut out), Served::Read);
        assert!(out.starts_with(b"HTTP/1.1 404"));
        assert!(layer.deadline().is_some());
        // The upgrade, with the client's first frame right behind it.
        let mut client = WebSocketContext::new(Role::Client, None);
        let mut pipe = Pipe::default();
        client.write(&mut pipe, Message::text("NICK web")).unwrap();
        client.flush(&mut pipe).unwrap();
        let mut frames = Vec::new();
        pipe.drain_into(&mut frames);
        let mut bytes = UPGRADE.to_vec();
        bytes.extend_from_slice(&frames);
        assert!(layer.receive(&bytes, &mut deliver));
        out.clear();
        let served = layer.serve(&settings, now, &mut out);
        assert_eq!(
            served,
            Served::Upgraded {
                client: [127, 0, 0, 1].into(),
                lines: b"NICK web\r\n".to_vec(),
            }
        );
        assert!(out.starts_with(b"HTTP/1.1 101 "));
        assert!(!layer.is_http() && layer.deadline().is_none());
        let mut sealed = b"kept".to_vec();
        sealed.extend_from_slice(b":s 001 web :hi\r\n");
        layer.seal(&mut sealed, 4);
        assert!(sealed.starts_with(b"kept"));
        pipe.push(&sealed[4..]);
        assert_eq!(
            client.read(&mut pipe).unwrap(),
            Message::text(":s 001 web :hi")
        );
    }
}
