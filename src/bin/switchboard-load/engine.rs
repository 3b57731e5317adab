//! Many simulated clients on one mio event loop, and the little parsing a
//! load generator needs, done on bytes.
//!
//! The engine has to outrun the fastest server on the same cores, so what
//! it does per received line is kept small: lines are cut with `memchr`
//! straight out of the read buffer (only a line split across two reads is
//! copied), chat messages are recognised by position rather than parsed,
//! the payload's three numbers are read digit by digit, and the clock is
//! read once per read call, not per line.

use std::io::{self, BufRead, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use memchr::memmem;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};
use socket2::SockRef;
use switchboard::transport::tls::client_trusting_anyone;

use crate::connect_from;
use crate::websocket::WsPeer;

/// The longest line the engine accepts from a server.
const MAX_LINE: usize = 64 * 1024;

/// How many bytes one `read` may take: big, so a burst costs few calls.
const READ_CHUNK: usize = 64 * 1024;

/// How many clients connect at once.
const CONNECT_BATCH: usize = 8;

/// How long a batch of connections may wait for its welcomes before the
/// next batch connects.
const BATCH_PAUSE: Duration = Duration::from_millis(20);

/// How long registration and joining may take before the run gives up.
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);

/// What a chat message carries: who sent it (the scenario's own numbering),
/// its sequence number for that sender, and when it was sent, in
/// microseconds on the engine's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Payload {
    pub sender: usize,
    pub seq: u64,
    pub at: u64,
}

/// One simulated client.
struct Peer {
    stream: TcpStream,
    /// Over TLS: the session the bytes go through.
    tls: Option<Box<ClientConnection>>,
    /// Over WebSocket: the framing, above TLS if both.
    ws: Option<Box<WsPeer>>,
    /// The start of a line the last read cut off.
    partial: Vec<u8>,
    /// Bytes not yet taken by the socket (or by the TLS session).
    out: Vec<u8>,
}

/// Many clients on one poll.
pub struct Engine {
    poll: Poll,
    events: Events,
    peers: Vec<Peer>,
    line: bool,
    /// Over TLS, the configuration every client's session is made from.
    tls: Option<Arc<ClientConfig>>,
    /// IRC over WebSocket, at `/ws` of an http:// or https:// listener.
    websocket: bool,
    quickack: bool,
    chunk: Vec<u8>,
    /// What a TLS read decrypted.
    plain: Vec<u8>,
    /// The lines WebSocket frames carried.
    unframed: Vec<u8>,
    /// The clock payload times count from.
    start: Instant,
    /// Clients owing the server a PONG, answered after the poll turn.
    pongs: Vec<(usize, Vec<u8>)>,
}

impl Engine {
    /// Connects and registers `count` clients, nicknames `load0`...
    ///
    /// With `quickack`, the engine re-arms TCP_QUICKACK after every read: a
    /// server that leaves Nagle on would otherwise wait for our delayed ACK
    /// (~40 ms) on every burst, and we would measure that instead of it.
    pub fn connect(
        target: SocketAddr,
        count: usize,
        line: bool,
        tls: bool,
        websocket: bool,
        quickack: bool,
    ) -> io::Result<Engine> {
        if line && websocket {
            return Err(io::Error::other(
                "--websocket speaks IRC, not the line protocol",
            ));
        }
        let tls = match tls {
            true => Some(Arc::new(
                client_trusting_anyone(None).map_err(io::Error::other)?,
            )),
            false => None,
        };
        let mut engine = Engine {
            poll: Poll::new()?,
            events: Events::with_capacity(1024),
            peers: Vec::with_capacity(count),
            line,
            tls,
            websocket,
            quickack,
            chunk: vec![0; READ_CHUNK],
            plain: Vec::new(),
            unframed: Vec::new(),
            start: Instant::now(),
            pongs: Vec::new(),
        };
        let welcome = if line { "- hello " } else { " 001 " };
        let mut welcomed = vec![false; count];
        // A few at a time, each batch given a moment to be taken in before
        // the next connects: a server with a short listen backlog (ngircd's
        // is 10) drops the connections it has not accepted yet, and each
        // drop costs a second's retry. Not until every welcome, though:
        // InspIRCd welcomes on a once-a-second tick.
        for first in (0..count).step_by(CONNECT_BATCH) {
            let batch = first..count.min(first + CONNECT_BATCH);
            for client in batch.clone() {
                engine.add_peer(target, client)?;
            }
            engine.await_marker(batch, welcome, &mut welcomed, BATCH_PAUSE)?;
        }
        engine.await_all(0..count, welcome, &mut welcomed, "registration")?;
        Ok(engine)
    }

    /// Connects client `client` and queues its registration.
    fn add_peer(&mut self, target: SocketAddr, client: usize) -> io::Result<()> {
        let source = Ipv4Addr::new(127, 0, 0, 2 + (client / 10_000) as u8);
        let std_stream = connect_from(source, target)?;
        std_stream.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(std_stream);
        self.poll.registry().register(
            &mut stream,
            Token(client),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let registration = if self.line {
            format!("/nick {}\n", nick(client))
        } else {
            format!("NICK {0}\r\nUSER {0} 0 * :{0}\r\n", nick(client))
        };
        let tls = match &self.tls {
            Some(config) => {
                let name = ServerName::IpAddress(target.ip().into());
                let session =
                    ClientConnection::new(Arc::clone(config), name).map_err(io::Error::other)?;
                Some(Box::new(session))
            }
            None => None,
        };
        let mut peer = Peer {
            stream,
            tls,
            ws: None,
            partial: Vec::new(),
            out: Vec::new(),
        };
        if self.websocket {
            let (ws, upgrade) = WsPeer::new(target);
            peer.ws = Some(Box::new(ws));
            peer.out = upgrade;
        }
        let start = peer.out.len();
        peer.out.extend_from_slice(registration.as_bytes());
        peer.framed(start)?;
        self.peers.push(peer);
        Ok(())
    }

    /// Joins each client to its room, if any, and waits until all are in.
    pub fn join(&mut self, room_of: impl Fn(usize) -> Option<String>) -> io::Result<()> {
        let mut joining = 0;
        for client in 0..self.peers.len() {
            if let Some(room) = room_of(client) {
                let join = if self.line {
                    format!("/join {room}\n")
                } else {
                    format!("JOIN {room}\r\n")
                };
                let peer = &mut self.peers[client];
                let start = peer.out.len();
                peer.out.extend_from_slice(join.as_bytes());
                peer.framed(start)?;
                joining += 1;
            }
        }
        if joining > 0 {
            let joined = if self.line { "- members of " } else { " 366 " };
            let mut done = vec![false; self.peers.len()];
            self.await_all(0..self.peers.len(), joined, &mut done, "joining")?;
        }
        Ok(())
    }

    /// Restarts the payload clock: times count from now.
    pub fn restart_clock(&mut self) {
        self.start = Instant::now();
    }

    /// Microseconds on the payload clock.
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// Sends `text` to `to` (a room or a nickname) as `client`, where `text`
    /// is `payload` padded with `x` to `size` bytes.
    pub fn send(&mut self, client: usize, to: &str, payload: Payload, size: usize) {
        let out = &mut self.peers[client].out;
        let start = out.len();
        if self.line {
            out.extend_from_slice(b"/msg ");
        } else {
            out.extend_from_slice(b"PRIVMSG ");
        }
        out.extend_from_slice(to.as_bytes());
        out.extend_from_slice(if self.line { b" " } else { b" :" });
        let begin = out.len();
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{} {} {}", payload.sender, payload.seq, payload.at);
        let written = out.len() - begin;
        if written < size {
            out.push(b' ');
            out.resize(begin + size, b'x');
        }
        out.extend_from_slice(if self.line { b"\n" } else { b"\r\n" });
        let peer = &mut self.peers[client];
        // Framing fails only for a broken session, which the next read
        // reports; a full socket is retried on its writable event.
        let _ = peer.framed(start);
        let _ = peer.flush();
    }

    /// Polls once, waiting at most `timeout`, and hands `on_message` every
    /// chat message received: the client that received it, its payload and
    /// when it arrived on the payload clock. Pings are answered.
    pub fn poll(
        &mut self,
        timeout: Duration,
        mut on_message: impl FnMut(usize, Payload, u64),
    ) -> io::Result<()> {
        let line_protocol = self.line;
        self.poll_lines(timeout, |client, line, now| {
            if let Some(payload) = chat_payload(line, line_protocol) {
                on_message(client, payload, now);
            }
        })
    }

    /// Polls until every client in `clients` has seen a line containing
    /// `marker` (noted in `done`), or fails after [`SETUP_TIMEOUT`].
    fn await_all(
        &mut self,
        clients: Range<usize>,
        marker: &str,
        done: &mut [bool],
        what: &str,
    ) -> io::Result<()> {
        let left = self.await_marker(clients, marker, done, SETUP_TIMEOUT)?;
        if left > 0 {
            return Err(io::Error::other(format!(
                "{what}: {left} clients never finished"
            )));
        }
        Ok(())
    }

    /// Polls for at most `limit` until every client in `clients` has seen
    /// a line containing `marker`, noting each in `done`; how many have not.
    fn await_marker(
        &mut self,
        clients: Range<usize>,
        marker: &str,
        done: &mut [bool],
        limit: Duration,
    ) -> io::Result<usize> {
        let finder = memmem::Finder::new(marker.as_bytes());
        let mut left = clients.clone().filter(|&client| !done[client]).count();
        let deadline = Instant::now() + limit;
        for peer in &mut self.peers[clients.clone()] {
            peer.flush()?;
        }
        while left > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let wait = (deadline - now).min(Duration::from_millis(50));
            self.poll_lines(wait, |client, line, _| {
                if !done[client] && finder.find(line).is_some() {
                    done[client] = true;
                    if clients.contains(&client) {
                        left -= 1;
                    }
                }
            })?;
        }
        Ok(left)
    }

    /// Polls once and hands `on_line` every complete line received, with
    /// the client and the time of the read that brought it.
    fn poll_lines(
        &mut self,
        timeout: Duration,
        mut on_line: impl FnMut(usize, &[u8], u64),
    ) -> io::Result<()> {
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Ok(()) => {}
            // A signal (a debugger, say): a turn with no events.
            Err(error) if error.kind() == io::ErrorKind::Interrupted => self.events.clear(),
            Err(error) => return Err(error),
        }
        for event in self.events.iter() {
            let client = event.token().0;
            let peer = &mut self.peers[client];
            if event.is_writable() && peer.has_output() {
                peer.flush()?;
            }
            if !event.is_readable() {
                continue;
            }
            // With the peer gone there is no later event: read to the end.
            let to_the_end = event.is_read_closed() || event.is_error();
            loop {
                let read = match peer.stream.read(&mut self.chunk) {
                    Ok(0) => {
                        return Err(io::Error::other(format!(
                            "{} was disconnected",
                            nick(client)
                        )));
                    }
                    Ok(read) => read,
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                    Err(error) => return Err(error),
                };
                let now = self.start.elapsed().as_micros() as u64;
                let data = match &mut peer.tls {
                    Some(tls) => {
                        decrypt(tls, &self.chunk[..read], &mut self.plain)?;
                        // The handshake's next flight, or a key update.
                        if tls.wants_write() {
                            peer.flush()?;
                        }
                        &self.plain[..]
                    }
                    None => &self.chunk[..read],
                };
                let data = match &mut peer.ws {
                    Some(ws) => {
                        ws.unframe(data, &mut self.unframed)?;
                        &self.unframed[..]
                    }
                    None => data,
                };
                let mut handle = |line: &[u8]| {
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if let Some(token) = line.strip_prefix(b"PING ") {
                        self.pongs.push((client, token.to_vec()));
                    } else {
                        on_line(client, line, now);
                    }
                };
                split_lines(&mut peer.partial, data, &mut handle)?;
                // A short read emptied the socket; more data would raise a
                // new event (on Linux's epoll; mio promises one only after
                // WouldBlock). This saves the read that says so, which would
                // cost every server the same.
                if read < self.chunk.len() && !to_the_end {
                    break;
                }
            }
            // Linux drops out of quick-ACK mode by itself; re-arm it so the
            // server never waits on our delayed ACK.
            if self.quickack {
                let _ = SockRef::from(&peer.stream).set_tcp_quickack(true);
            }
        }
        for (client, token) in std::mem::take(&mut self.pongs) {
            let peer = &mut self.peers[client];
            let start = peer.out.len();
            peer.out.extend_from_slice(b"PONG ");
            peer.out.extend_from_slice(&token);
            peer.out.extend_from_slice(b"\r\n");
            peer.framed(start)?;
            peer.flush()?;
        }
        Ok(())
    }
}

impl Peer {
    /// Over WebSocket, turns the lines queued in `out` from `start` on
    /// into frames.
    fn framed(&mut self, start: usize) -> io::Result<()> {
        match &mut self.ws {
            Some(ws) => ws.frame_from(&mut self.out, start),
            None => Ok(()),
        }
    }

    /// Whether something waits to be written.
    fn has_output(&self) -> bool {
        !self.out.is_empty() || self.tls.as_ref().is_some_and(|tls| tls.wants_write())
    }

    /// Writes what the socket takes of `out`; over TLS, `out` goes into
    /// the session (which keeps it until the handshake is over) and the
    /// session's records to the socket.
    fn flush(&mut self) -> io::Result<()> {
        if let Some(tls) = &mut self.tls {
            if !self.out.is_empty() {
                tls.writer().write_all(&self.out)?;
                self.out.clear();
            }
            while tls.wants_write() {
                match tls.write_tls(&mut self.stream) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(_) => {}
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => return Err(error),
                }
            }
            return Ok(());
        }
        let mut written = 0;
        while written < self.out.len() {
            match self.stream.write(&self.out[written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(count) => written += count,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        self.out.drain(..written);
        Ok(())
    }
}

/// Feeds `data` (read from the socket) to `tls` and puts what it decrypts
/// in `plain`.
fn decrypt(tls: &mut ClientConnection, mut data: &[u8], plain: &mut Vec<u8>) -> io::Result<()> {
    plain.clear();
    while !data.is_empty() {
        tls.read_tls(&mut data)?;
        tls.process_new_packets().map_err(io::Error::other)?;
        let mut reader = tls.reader();
        loop {
            match reader.fill_buf() {
                Ok([]) => return Err(io::Error::other("the server closed the TLS session")),
                Ok(chunk) => {
                    let length = chunk.len();
                    plain.extend_from_slice(chunk);
                    reader.consume(length);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) => return Err(error),
            }
        }
    }
    Ok(())
}

/// Hands `handle` each complete line of `partial` followed by `data`,
/// without its `\n`, and keeps the incomplete end in `partial`. Lines are
/// cut out of `data` in place; only one split across reads is copied.
fn split_lines(
    partial: &mut Vec<u8>,
    mut data: &[u8],
    handle: &mut impl FnMut(&[u8]),
) -> io::Result<()> {
    if !partial.is_empty() {
        let Some(end) = memchr::memchr(b'\n', data) else {
            partial.extend_from_slice(data);
            return check_length(partial);
        };
        partial.extend_from_slice(&data[..end]);
        handle(partial);
        partial.clear();
        data = &data[end + 1..];
    }
    let mut begin = 0;
    for end in memchr::memchr_iter(b'\n', data) {
        handle(&data[begin..end]);
        begin = end + 1;
    }
    partial.extend_from_slice(&data[begin..]);
    check_length(partial)
}

fn check_length(partial: &[u8]) -> io::Result<()> {
    if partial.len() > MAX_LINE {
        return Err(io::Error::other("the server sent a line over 64 KiB"));
    }
    Ok(())
}

/// The payload of a chat message, if `line` is one: IRC's
/// `:prefix PRIVMSG target :text` or the line protocol's `... <nick> text`.
fn chat_payload(line: &[u8], line_protocol: bool) -> Option<Payload> {
    let text = if line_protocol {
        // Nicknames and room names hold no `>`.
        let rest = &line[memchr::memchr(b'>', line)? + 1..];
        rest.strip_prefix(b" ")?
    } else {
        // Words are short here: a plain search beats memchr's set-up.
        let after_space = |bytes: &[u8]| Some(bytes.iter().position(|&b| b == b' ')? + 1);
        let rest = line.strip_prefix(b":")?;
        let rest = rest[after_space(rest)?..].strip_prefix(b"PRIVMSG ")?;
        // The target is one word.
        rest[after_space(rest)?..].strip_prefix(b":")?
    };
    parse_payload(text)
}

/// `K SEQ MICROS` at the start of `text`, followed by a space or nothing.
fn parse_payload(text: &[u8]) -> Option<Payload> {
    let mut numbers = [0u64; 3];
    let mut at = 0;
    for (index, number) in numbers.iter_mut().enumerate() {
        let begin = at;
        while let Some(&digit @ b'0'..=b'9') = text.get(at) {
            *number = number
                .checked_mul(10)?
                .checked_add(u64::from(digit - b'0'))?;
            at += 1;
        }
        if at == begin {
            return None;
        }
        match text.get(at) {
            Some(b' ') => at += 1,
            None if index == 2 => {}
            _ => return None,
        }
    }
    let [sender, seq, at] = numbers;
    Some(Payload {
        sender: usize::try_from(sender).ok()?,
        seq,
        at,
    })
}

/// The nickname of client `client`.
pub fn nick(client: usize) -> String {
    format!("load{client}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_found_in_both_protocols() {
        let expected = Some(Payload {
            sender: 3,
            seq: 41,
            at: 123456,
        });
        let irc = b":load7!~load7@127.0.0.2 PRIVMSG #load0 :3 41 123456 xxxxxxxx";
        assert_eq!(chat_payload(irc, false), expected);
        let private = b":load7!~load7@::1 PRIVMSG load8 :3 41 123456";
        assert_eq!(chat_payload(private, false), expected);
        let line = b"[#load0] <load7> 3 41 123456 xxxx";
        assert_eq!(chat_payload(line, true), expected);
        assert_eq!(chat_payload(b":server 001 load0 :Welcome", false), None);
        assert_eq!(chat_payload(b":a!b@c PRIVMSG #r :3 41x 1", false), None);
        assert_eq!(chat_payload(b":a!b@c NOTICE #r :3 41 1", false), None);
    }

    #[test]
    fn lines_split_across_reads_are_joined() {
        let mut partial = Vec::new();
        let mut lines = Vec::new();
        let mut handle = |line: &[u8]| lines.push(line.to_vec());
        split_lines(&mut partial, b"one\r\ntw", &mut handle).unwrap();
        split_lines(&mut partial, b"o\nthr", &mut handle).unwrap();
        split_lines(&mut partial, b"ee", &mut handle).unwrap();
        split_lines(&mut partial, b"\n", &mut handle).unwrap();
        assert_eq!(lines, [&b"one\r"[..], b"two", b"three"]);
        assert!(partial.is_empty());
    }
}
