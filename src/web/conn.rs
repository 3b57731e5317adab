//! One HTTP connection, without I/O: bytes in, responses out, until it
//! closes or becomes a WebSocket.
//!
//! The transport feeds it what it reads ([`HttpConn::push`]), asks it what
//! to do next ([`HttpConn::next`]) and writes what it appended to `out`.
//! Requests are answered one at a time, in order: while the router is
//! asked (an API call, `/metrics`), later requests wait in the reader.

use std::net::IpAddr;
use std::time::Instant;

use super::http::{HttpError, Limits, RequestReader, Response, Status};
use super::site::{self, Route, Settings};
use super::{api, metrics, ws};
use crate::protocol::api::{Answer, Call, Credential};
use crate::stats::StatsSnapshot;

/// What the transport does next for an HTTP connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Read more (after writing what is in `out`, if anything).
    Read,
    /// Send this to the router as `Input::Api` and, once the answer comes,
    /// give it to [`HttpConn::answer`]; read nothing meanwhile.
    Ask {
        call: Call,
        credential: Credential,
        client: IpAddr,
    },
    /// The `101` is in `out`: from now on the connection carries IRC over
    /// WebSocket, from the client at `client`; `rest` is what the client
    /// sent after its upgrade request, already frames.
    Upgrade {
        mode: ws::Mode,
        client: IpAddr,
        rest: Vec<u8>,
    },
    /// Write what is in `out`, then close.
    Close,
}

/// An HTTP connection's state.
#[derive(Debug)]
pub struct HttpConn {
    reader: RequestReader,
    peer: IpAddr,
    /// The request the router is being asked about: whether its answer
    /// leaves out the body (`HEAD`), keeps the connection, and is
    /// `/metrics`.
    asking: Option<Asking>,
    /// Set once a response said `Connection: close`.
    closing: bool,
}

#[derive(Debug)]
struct Asking {
    head_only: bool,
    keep_alive: bool,
    metrics: bool,
    cors: Option<String>,
}

impl HttpConn {
    /// A connection from `peer` that opened at `now`.
    pub fn new(peer: IpAddr, limits: Limits, now: Instant) -> HttpConn {
        HttpConn {
            reader: RequestReader::new(limits, now),
            peer,
            asking: None,
            closing: false,
        }
    }

    /// Takes bytes read from the peer at `now`.
    pub fn push(&mut self, bytes: &[u8], now: Instant) {
        self.reader.push(bytes, now);
    }

    /// By when the peer must have sent the rest of its request (or its
    /// next one); the transport then calls [`HttpConn::timed_out`]. None
    /// while the router is asked: the router always answers.
    pub fn deadline(&self) -> Option<Instant> {
        self.asking.is_none().then(|| self.reader.deadline())
    }

    /// The deadline passed: a request that was arriving gets a 408.
    pub fn timed_out(&mut self, out: &mut Vec<u8>) -> Next {
        if self.reader.is_partial() {
            HttpError::new(Status::REQUEST_TIMEOUT, "request not received in time")
                .response()
                .write_to(false, out);
        }
        Next::Close
    }

    /// Handles what the reader holds, appending responses to `out`, until
    /// it needs more bytes or the router, or the connection ends.
    pub fn next(&mut self, settings: &Settings, now: Instant, out: &mut Vec<u8>) -> Next {
        loop {
            if self.closing {
                return Next::Close;
            }
            if self.asking.is_some() {
                return Next::Read;
            }
            let request = match self.reader.next(now) {
                Ok(Some(request)) => request,
                Ok(None) => return Next::Read,
                Err(error) => {
                    log::debug!("bad HTTP request from {}: {error}", self.peer);
                    error.response().write_to(false, out);
                    return Next::Close;
                }
            };
            let client = site::client_ip(&request, self.peer, settings);
            let head_only = request.method == "HEAD";
            let keep_alive = request.keep_alive();
            let cors = site::cors_origin(&request, settings);
            match site::route(&request, settings, jiff::Timestamp::now().as_second()) {
                Route::Respond(response) => {
                    let asked = Asking {
                        head_only,
                        keep_alive,
                        metrics: false,
                        cors,
                    };
                    self.respond(response, &asked, out);
                }
                Route::Upgrade(upgrade) => {
                    upgrade.response.write_to(false, out);
                    return Next::Upgrade {
                        mode: upgrade.mode,
                        client,
                        rest: self.reader.take_rest(),
                    };
                }
                Route::Ask { call, credential } => {
                    self.asking = Some(Asking {
                        head_only,
                        keep_alive,
                        metrics: call == Call::Metrics,
                        cors,
                    });
                    return Next::Ask {
                        call,
                        credential,
                        client,
                    };
                }
            }
        }
    }

    /// The router answered the request asked about; `stats` fills in
    /// `/metrics`. Call [`HttpConn::next`] after.
    pub fn answer(&mut self, answer: Answer, stats: &StatsSnapshot, out: &mut Vec<u8>) {
        let Some(asking) = self.asking.take() else {
            return;
        };
        let response = match answer {
            Answer::Metrics(counts) if asking.metrics => Response::new(
                Status::OK,
                metrics::CONTENT_TYPE,
                metrics::render(stats, &counts),
            ),
            answer => api::respond(answer),
        };
        self.respond(response, &asking, out);
    }

    /// Writes the response to the request `asked` describes.
    fn respond(&mut self, mut response: Response, asked: &Asking, out: &mut Vec<u8>) {
        if !asked.keep_alive {
            response = response.closing();
        }
        if let Some(origin) = &asked.cors {
            response = response
                .with_header("Access-Control-Allow-Origin", origin.clone())
                .with_header("Vary", "Origin");
        }
        self.closing = response.close;
        response.write_to(asked.head_only, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::Counts;

    fn fresh() -> (HttpConn, Instant) {
        let now = Instant::now();
        (
            HttpConn::new([127, 0, 0, 1].into(), Limits::default(), now),
            now,
        )
    }

    #[test]
    fn kept_alive_requests_are_answered_in_turn_and_close_closes() {
        let (mut conn, now) = fresh();
        let settings = Settings::default();
        let mut out = Vec::new();
        conn.push(
            b"GET /nope HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n",
            now,
        );
        assert_eq!(conn.next(&settings, now, &mut out), Next::Close);
        let out = String::from_utf8_lossy(&out);
        assert!(out.starts_with("HTTP/1.1 404"), "{out}");
        assert_eq!(out.matches("HTTP/1.1 ").count(), 2, "{out}");
        assert!(
            out.contains("HTTP/1.1 200 OK") && out.ends_with("</html>\n"),
            "{out}"
        );
    }

    #[test]
    fn the_router_is_asked_and_its_answer_written_before_the_next_request() {
        let (mut conn, now) = fresh();
        let settings = Settings::default();
        let mut out = Vec::new();
        conn.push(b"GET /metrics HTTP/1.1\r\n\r\nHEAD / HTTP/1.1\r\n\r\n", now);
        let Next::Ask { call, .. } = conn.next(&settings, now, &mut out) else {
            panic!("asks the router");
        };
        assert_eq!(call, Call::Metrics);
        assert_eq!(conn.deadline(), None);
        assert_eq!(conn.next(&settings, now, &mut out), Next::Read);
        assert!(out.is_empty());
        let counts = Counts {
            rooms: 3,
            ..Counts::default()
        };
        conn.answer(
            Answer::Metrics(Box::new(counts)),
            &StatsSnapshot::default(),
            &mut out,
        );
        assert_eq!(conn.next(&settings, now, &mut out), Next::Read);
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("switchboard_rooms 3"), "{text}");
        let head = text.rsplit("HTTP/1.1 ").next().unwrap();
        assert!(
            head.starts_with("200 OK") && head.ends_with("\r\n\r\n"),
            "HEAD has no body: {head}"
        );
    }

    #[test]
    fn garbage_and_slowloris_are_answered_and_closed() {
        let (mut conn, now) = fresh();
        let mut out = Vec::new();
        conn.push(b"\x00\x01garbage\r\n\r\n", now);
        assert_eq!(conn.next(&Settings::default(), now, &mut out), Next::Close);
        assert!(out.starts_with(b"HTTP/1.1 400"));
        let (mut slow, now) = fresh();
        slow.push(b"GET / HTTP/1.1\r\nX-A: ", now);
        let mut out = Vec::new();
        assert_eq!(slow.next(&Settings::default(), now, &mut out), Next::Read);
        assert!(slow.deadline().unwrap() <= now + Limits::default().request_timeout);
        assert_eq!(slow.timed_out(&mut out), Next::Close);
        assert!(out.starts_with(b"HTTP/1.1 408"));
    }

    #[test]
    fn an_upgrade_hands_over_the_bytes_after_it() {
        let (mut conn, now) = fresh();
        let mut out = Vec::new();
        conn.push(
            b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
              Sec-WebSocket-Protocol: binary.ircv3.net\r\nX-Forwarded-For: 192.0.2.9\r\n\r\nFRAMES",
            now,
        );
        let next = conn.next(&Settings::default(), now, &mut out);
        assert_eq!(
            next,
            Next::Upgrade {
                mode: ws::Mode::Binary,
                client: [127, 0, 0, 1].into(),
                rest: b"FRAMES".to_vec(),
            },
            "X-Forwarded-For is ignored from an untrusted peer"
        );
        assert!(out.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    }
}
