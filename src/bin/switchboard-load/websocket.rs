//! IRC over WebSocket for the load generator (`--websocket`): each client
//! upgrades at `/ws` and then sends each line as one masked text frame and
//! reads one line per frame, through tungstenite's client-side
//! `WebSocketContext` over the same in-memory pipe the server uses.

use std::io;
use std::net::SocketAddr;

use memchr::memmem;
use switchboard::web::ws::Pipe;
use tungstenite::Message;
use tungstenite::protocol::{Role, WebSocketContext};

/// One client's WebSocket.
pub struct WsPeer {
    context: WebSocketContext,
    pipe: Pipe,
    /// The server's answer to the upgrade, until it is whole.
    head: Option<Vec<u8>>,
}

impl WsPeer {
    /// A client that will upgrade at `target`, and the request to send
    /// before anything else.
    pub fn new(target: SocketAddr) -> (WsPeer, Vec<u8>) {
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: {target}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {}\r\n\
             Sec-WebSocket-Protocol: text.ircv3.net\r\n\r\n",
            tungstenite::handshake::client::generate_key()
        );
        let peer = WsPeer {
            context: WebSocketContext::new(Role::Client, None),
            pipe: Pipe::default(),
            head: Some(Vec::new()),
        };
        (peer, request.into_bytes())
    }

    /// Replaces the IRC lines in `out` from `start` on with one frame each.
    pub fn frame_from(&mut self, out: &mut Vec<u8>, start: usize) -> io::Result<()> {
        let lines = out.split_off(start);
        for line in lines.split(|&byte| byte == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            let text = String::from_utf8_lossy(line).into_owned();
            self.context
                .write(&mut self.pipe, Message::text(text))
                .map_err(io::Error::other)?;
        }
        self.context
            .flush(&mut self.pipe)
            .map_err(io::Error::other)?;
        self.pipe.drain_into(out);
        Ok(())
    }

    /// Turns bytes read from the server into IRC lines (each ending in a
    /// line feed) in `lines`, after the upgrade's answer.
    pub fn unframe(&mut self, mut data: &[u8], lines: &mut Vec<u8>) -> io::Result<()> {
        lines.clear();
        if let Some(head) = &mut self.head {
            head.extend_from_slice(data);
            let Some(end) = memmem::find(head, b"\r\n\r\n") else {
                return Ok(());
            };
            if !head.starts_with(b"HTTP/1.1 101 ") {
                let answer = String::from_utf8_lossy(&head[..end]).into_owned();
                return Err(io::Error::other(format!("upgrade refused: {answer}")));
            }
            let rest = head.split_off(end + 4);
            self.head = None;
            self.pipe.push(&rest);
            data = &[];
        }
        self.pipe.push(data);
        loop {
            match self.context.read(&mut self.pipe) {
                Ok(Message::Text(text)) => {
                    lines.extend_from_slice(text.as_bytes());
                    lines.push(b'\n');
                }
                Ok(Message::Binary(bytes)) => {
                    lines.extend_from_slice(&bytes);
                    lines.push(b'\n');
                }
                Ok(Message::Close(_)) => return Err(io::Error::other("the server closed")),
                Ok(_) => {}
                Err(tungstenite::Error::Io(error)) if error.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(());
                }
                Err(error) => return Err(io::Error::other(error)),
            }
        }
    }
}
