//! A threaded connection while it serves HTTP: the reader thread alone
//! with the socket (the router does not know the client, so the writer
//! has nothing to write), answering requests in turn until the
//! connection closes or upgrades to a WebSocket.

use std::io::Write;
use std::net::{IpAddr, TcpStream};
use std::time::{Duration, Instant};

use super::{ReadBuffer, Reading, is_transient, tell};
use crate::protocol::api::{Answer, Failure, FailureKind};
use crate::router::{ApiRequest, Input, Replier};
use crate::transport::{Intake, Received, describe};
use crate::web::layer::Served;

/// The longest an HTTP request waits for the router's answer. The router
/// always answers; this only bounds a shutdown's race.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

impl Reading {
    /// Serves HTTP requests until one upgrades to a WebSocket (the client's
    /// address, with what it sent after the upgrade in `intake`) or the
    /// connection ends (`None`; an error says why it ended early).
    pub(super) fn serve_http(
        &self,
        mut stream: &TcpStream,
        intake: &mut Intake,
        chunk: &mut ReadBuffer,
    ) -> Result<Option<IpAddr>, String> {
        let settings = &self.config.web;
        let mut out = Vec::new();
        loop {
            let served = self
                .session
                .serve_http(settings, Instant::now(), &mut out)
                .map_err(|error| describe(&error))?;
            let upgraded = match served {
                Served::Read => None,
                Served::Close => {
                    let _ = stream.write_all(&out);
                    return Ok(None);
                }
                Served::Ask {
                    call,
                    credential,
                    client,
                } => {
                    let (reply, answer) = Replier::new(None);
                    let request = ApiRequest {
                        call,
                        credential,
                        peer: client,
                        reply,
                    };
                    // Blocks while the router's inbox is full, as any
                    // reader does; fails only when it is gone.
                    tell(&self.router, Input::Api(request))
                        .ok_or_else(|| "shutting down".to_owned())?;
                    let answer = answer.recv_timeout(ANSWER_TIMEOUT).unwrap_or_else(|_| {
                        Answer::Failed(Failure::new(FailureKind::Busy, "no answer in time"))
                    });
                    self.session
                        .answer_http(answer, &self.stats.snapshot(), &mut out)
                        .map_err(|error| describe(&error))?;
                    continue;
                }
                Served::Upgraded { client, lines } => {
                    intake.push(&lines);
                    Some(client)
                }
            };
            if !out.is_empty() {
                stream.write_all(&out).map_err(|error| describe(&error))?;
                out.clear();
            }
            if upgraded.is_some() {
                // The read loop sets its own timeouts from here.
                stream
                    .set_read_timeout(None)
                    .map_err(|error| describe(&error))?;
                return Ok(upgraded);
            }
            self.read_http(stream, intake, chunk, &mut out)?;
        }
    }

    /// Reads once, within the HTTP deadline; past it, a 408 if a request
    /// was arriving, and the end.
    fn read_http(
        &self,
        mut stream: &TcpStream,
        intake: &mut Intake,
        chunk: &mut ReadBuffer,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let deadline = self.session.http_deadline().unwrap_or_else(Instant::now);
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            self.session
                .http_timed_out(out)
                .map_err(|error| describe(&error))?;
            let _ = stream.write_all(out);
            return Err("HTTP request timed out".into());
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|error| describe(&error))?;
        match chunk.read(stream) {
            Ok([]) => Err("closed".into()),
            Ok(bytes) => match self.session.receive(bytes, |bytes| intake.push(bytes)) {
                Ok(Received::Open) => Ok(()),
                Ok(Received::Closed) => Err("closed".into()),
                Err(error) => Err(format!("connection error: {error}")),
            },
            Err(error) if is_transient(&error) => Ok(()),
            Err(error) => Err(describe(&error)),
        }
    }
}
