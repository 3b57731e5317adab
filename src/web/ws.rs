//! The IRCv3 WebSocket transport (<https://ircv3.net/specs/extensions/websocket>)
//! without I/O: the upgrade handshake, and a session that turns frames into
//! IRC lines and IRC lines into frames.
//!
//! `tungstenite` does the framing (masking, fragments, control frames,
//! UTF-8 checks of text frames, size limits) through its
//! `WebSocketContext`, given an in-memory [`Pipe`] instead of a socket: the
//! transport pushes what it read, takes what is to be written, and decides
//! when. Like a TLS session, one [`Session`] serves both directions, since
//! reading a ping makes a pong to write.

use std::borrow::Cow;
use std::io::{self, Read, Write};

use tungstenite::Message;
use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tungstenite::protocol::frame::{CloseFrame, FrameHeader};
use tungstenite::protocol::{Role, WebSocketConfig, WebSocketContext};

use super::http::{HttpError, Request, Response, Status};
use crate::limits::WS_MESSAGE_MAX;

/// The subprotocol for UTF-8 text frames.
pub const TEXT: &str = "text.ircv3.net";
/// The subprotocol for binary frames, any bytes.
pub const BINARY: &str = "binary.ircv3.net";

/// Which kind of frame carries IRC lines to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Text frames: what is sent must be UTF-8, so other bytes are replaced
    /// with U+FFFD.
    Text,
    /// Binary frames: the bytes as they are.
    Binary,
}

/// An accepted upgrade: how to frame, and the `101` that says so.
#[derive(Debug)]
pub struct Upgrade {
    pub mode: Mode,
    pub response: Response,
}

/// Answers a WebSocket upgrade request: the first of the client's
/// subprotocols that the server speaks, in the client's order of
/// preference, or text frames when it names none (as InspIRCd and ergo do,
/// for browsers' plain `new WebSocket(url)`). A client that names only
/// subprotocols the server does not speak is refused.
pub fn upgrade(request: &Request) -> Result<Upgrade, HttpError> {
    if request.method != "GET" {
        return Err(HttpError::new(
            Status::METHOD_NOT_ALLOWED,
            "a WebSocket upgrade is a GET",
        ));
    }
    if !request.has_token("connection", "upgrade")
        || !request
            .header("upgrade")
            .is_some_and(|value| value.eq_ignore_ascii_case("websocket"))
    {
        return Err(HttpError::new(
            Status::UPGRADE_REQUIRED,
            "this endpoint speaks WebSocket only (Upgrade: websocket)",
        ));
    }
    if request.header("sec-websocket-version") != Some("13") {
        return Err(HttpError::new(
            Status::UPGRADE_REQUIRED,
            "only WebSocket version 13 is spoken",
        )
        .with_header("Sec-WebSocket-Version", "13"));
    }
    let key = request
        .header("sec-websocket-key")
        .filter(|key| key.len() == 24)
        .ok_or_else(|| HttpError::new(Status::BAD_REQUEST, "missing Sec-WebSocket-Key"))?;
    let offered: Vec<&str> = request
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("sec-websocket-protocol"))
        .filter_map(|(_, value)| std::str::from_utf8(value).ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .collect();
    let chosen = offered.iter().find_map(|&name| match name {
        TEXT => Some((Mode::Text, TEXT)),
        BINARY => Some((Mode::Binary, BINARY)),
        _ => None,
    });
    let mode = match chosen {
        Some((mode, _)) => mode,
        None if offered.is_empty() => Mode::Text,
        None => {
            return Err(HttpError::new(
                Status::BAD_REQUEST,
                format!("no supported subprotocol: offer {TEXT} or {BINARY}"),
            ));
        }
    };
    let mut response = Response::empty(Status::SWITCHING_PROTOCOLS)
        .with_header("Upgrade", "websocket")
        .with_header("Connection", "Upgrade")
        .with_header(
            "Sec-WebSocket-Accept",
            tungstenite::handshake::derive_accept_key(key.as_bytes()),
        );
    if let Some((_, name)) = chosen {
        response = response.with_header("Sec-WebSocket-Protocol", name);
    }
    Ok(Upgrade { mode, response })
}

/// Bytes in each direction between a session and its transport: what was
/// read and not yet framed, and frames not yet written.
#[derive(Debug, Default)]
pub struct Pipe {
    input: Vec<u8>,
    read: usize,
    output: Vec<u8>,
}

impl Pipe {
    /// Takes bytes read from the peer.
    pub fn push(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
    }

    /// Appends the bytes to write to the peer to `out`, leaving none.
    pub fn drain_into(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.output);
    }
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let waiting = &self.input[self.read..];
        if waiting.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let length = waiting.len().min(buf.len());
        buf[..length].copy_from_slice(&waiting[..length]);
        self.read += length;
        if self.read == self.input.len() {
            self.input.clear();
            self.read = 0;
        }
        Ok(length)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One WebSocket connection carrying IRC, after the upgrade.
pub struct Session {
    mode: Mode,
    context: WebSocketContext,
    pipe: Pipe,
    /// Set once a close frame was sent or received, or the peer broke the
    /// protocol: nothing more is read, and the transport closes after
    /// writing what is left.
    closed: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("mode", &self.mode)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session in `mode`.
    pub fn new(mode: Mode) -> Session {
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0)
            .max_message_size(Some(WS_MESSAGE_MAX))
            .max_frame_size(Some(WS_MESSAGE_MAX));
        Session {
            mode,
            context: WebSocketContext::new(Role::Server, Some(config)),
            pipe: Pipe::default(),
            closed: false,
        }
    }

    /// Whether the session is over: the transport writes what
    /// [`Session::take_output`] has, then closes.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Takes bytes read from the peer, and appends the IRC lines their
    /// frames complete to `lines`, each ending in CR LF, as a TCP client
    /// would send them. A trailing CR LF in a frame is allowed and not
    /// doubled. A broken frame closes the session with the matching close
    /// code (1002 protocol error, 1007 text that is not UTF-8, 1009 too big).
    pub fn read(&mut self, bytes: &[u8], lines: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        self.pipe.input.extend_from_slice(bytes);
        loop {
            match self.context.read(&mut self.pipe) {
                Ok(Message::Text(text)) => push_line(text.as_bytes(), lines),
                Ok(Message::Binary(data)) => push_line(&data, lines),
                // tungstenite queues the pong itself; `take_output` flushes it.
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                Ok(Message::Close(_)) => {
                    self.closed = true;
                    break;
                }
                Err(tungstenite::Error::Io(error)) if error.kind() == io::ErrorKind::WouldBlock => {
                    break;
                }
                Err(error) => {
                    self.fail(&error);
                    break;
                }
            }
        }
        // Pongs and the answer to a close are ready to send at once.
        let _ = self.context.flush(&mut self.pipe);
    }

    /// Whether there are bytes to send that nothing was written for: a
    /// pong, a close.
    pub fn has_output(&self) -> bool {
        !self.pipe.output.is_empty()
    }

    /// Frames each line of `irc` (IRC lines ending in LF or CR LF) as one
    /// message, without its line end.
    ///
    /// A server's data frames are unmasked and unfragmented, and carry
    /// nothing the context keeps state for, so each is tungstenite's frame
    /// header and the line appended in place, after anything the context
    /// has queued (a pong): no allocation per line, which the context's
    /// `Message` would cost every recipient of every message.
    pub fn write(&mut self, irc: &[u8]) {
        if self.closed {
            return;
        }
        let _ = self.context.flush(&mut self.pipe);
        let opcode = match self.mode {
            Mode::Text => OpCode::Data(Data::Text),
            Mode::Binary => OpCode::Data(Data::Binary),
        };
        let header = FrameHeader {
            opcode,
            ..FrameHeader::default()
        };
        let out = &mut self.pipe.output;
        for line in irc.split(|&byte| byte == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            let payload = match self.mode {
                Mode::Text => match String::from_utf8_lossy(line) {
                    Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
                    Cow::Owned(text) => Cow::Owned(text.into_bytes()),
                },
                Mode::Binary => Cow::Borrowed(line),
            };
            // Writing into a Vec cannot fail.
            let _ = header.format(payload.len() as u64, out);
            out.extend_from_slice(&payload);
        }
    }

    /// Starts a clean close (code 1000), after whatever was written.
    pub fn close(&mut self) {
        if !self.closed {
            let _ = self.context.close(&mut self.pipe, None);
            self.closed = true;
        }
    }

    /// Appends the bytes to write to the peer (frames, pongs, close).
    pub fn take_output(&mut self, out: &mut Vec<u8>) {
        let _ = self.context.flush(&mut self.pipe);
        out.append(&mut self.pipe.output);
    }

    /// Closes for a peer that broke the protocol, saying why in the
    /// close frame.
    fn fail(&mut self, error: &tungstenite::Error) {
        let code = match error {
            tungstenite::Error::Capacity(_) => CloseCode::Size,
            tungstenite::Error::Utf8(_) => CloseCode::Invalid,
            _ => CloseCode::Protocol,
        };
        log::debug!("WebSocket peer broke the protocol: {error}");
        let frame = CloseFrame {
            code,
            reason: error
                .to_string()
                .chars()
                .take(100)
                .collect::<String>()
                .into(),
        };
        let _ = self.context.close(&mut self.pipe, Some(frame));
        self.closed = true;
    }
}

/// Appends one frame's line with a CR LF, unless it is empty.
fn push_line(payload: &[u8], lines: &mut Vec<u8>) {
    let line = payload.strip_suffix(b"\n").unwrap_or(payload);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if !line.is_empty() {
        lines.extend_from_slice(line);
        lines.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests;
