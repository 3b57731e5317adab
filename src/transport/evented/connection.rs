//! One connection as the event loop keeps it: reading and flood control,
//! writing what its outbox holds, and ending it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use mio::Token;
use mio::net::TcpStream;

use super::{Loop, LoopNudge, READ_CHUNK, READS_PER_TURN, SPARE_MAX, Setup};
use crate::client::{ClientId, Inbox};
use crate::protocol::Codec;
use crate::router::{Input, Router};
use crate::stats::Stats;
use crate::transport::{Intake, Next, Received, Session, Slot, append_notices, describe};

/// One connection as the loop keeps it.
pub(super) struct Connection {
    pub(super) stream: TcpStream,
    pub(super) id: ClientId,
    pub(super) codec: Codec,
    /// The connection layer between the socket and `intake` / `out`.
    pub(super) session: Session,
    /// While the session is being set up (a TLS handshake): what the
    /// router is told once it is; boxed, as most connections are past it.
    pub(super) setup: Option<Box<Setup>>,
    pub(super) intake: Intake,
    pub(super) inbox: Inbox,
    pub(super) nudge: Arc<LoopNudge>,
    /// Bytes encoded for the socket, and how many of them are written.
    pub(super) out: Vec<u8>,
    pub(super) written: usize,
    /// Since when output has been waiting without the socket taking any.
    pub(super) stalled_since: Option<Instant>,
    /// The client's lines wait for flood control until then.
    pub(super) resume_at: Option<Instant>,
    /// The router was told the connection ended; reading is over.
    pub(super) ended: bool,
    /// The peer sent all it will (it may still read): reading is over, and
    /// the connection ends once what waits for flood control is handed on.
    pub(super) finished: bool,
    /// The router let go (the outbox is closed); after what is encoded is
    /// written, the connection closes.
    pub(super) closing: bool,
    pub(super) _slot: Slot,
}

impl Loop {
    /// Reads what the socket has (a turn's worth) and passes on what flood
    /// control allows. Unless `to_the_end`, a short read ends the turn: the
    /// socket is empty and data that comes later raises a new event, so
    /// asking again would only cost a system call to hear WouldBlock. When
    /// the peer has hung up (or the turn resumes an earlier one) the socket
    /// is read until it says so, since no new event would tell of the end.
    /// The new event is how Linux's epoll and the BSDs' kqueue behave; mio
    /// itself promises one only after WouldBlock (its `poll(2)` fallback
    /// needs it), so a port to such a backend must read to WouldBlock.
    pub(super) fn read(&mut self, token: Token, to_the_end: bool) {
        let Some(connection) = self.connections.get_mut(&token) else {
            return;
        };
        if connection.ended {
            return;
        }
        if connection.finished {
            // Nothing more will come, but a peer that is gone for good
            // answers what was written to it with a reset. Reads only say
            // end of stream now; the socket's error says whether it came.
            if !matches!(connection.stream.take_error(), Ok(None)) {
                self.end(token, "connection closed".into());
            }
            return;
        }
        let mut ended = None;
        // The layer has bytes of its own to send (a handshake flight).
        let mut answer = false;
        for turn in 0.. {
            if turn == READS_PER_TURN {
                self.again.push(token);
                break;
            }
            // A short read ends the turn (see above).
            let mut short = false;
            let received = match connection.stream.read(&mut self.chunk) {
                Ok(0) => Ok(Received::Closed),
                Ok(read) => {
                    short = read < READ_CHUNK && !to_the_end;
                    let intake = &mut connection.intake;
                    let received = connection
                        .session
                        .receive(&self.chunk[..read], |bytes| intake.push(bytes));
                    // The layer's answer (a handshake flight, an alert)
                    // goes out after this turn's reads.
                    let before = connection.out.len();
                    if let Err(error) = connection.session.seal(&mut connection.out, before) {
                        ended = Some(describe(&error));
                        break;
                    }
                    answer |= connection.out.len() > before;
                    received
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => Err(error),
            };
            match received {
                Err(error) if connection.setup.is_some() => {
                    ended = Some(format!("TLS handshake failed: {error}"));
                    break;
                }
                Err(error) => {
                    ended = Some(describe(&error));
                    break;
                }
                Ok(Received::Closed) if connection.setup.is_some() => {
                    ended = Some(if connection.session.handshaking() {
                        "closed during the TLS handshake".to_owned()
                    } else {
                        "closed".to_owned()
                    });
                    break;
                }
                Ok(Received::Closed) => {
                    if connection.resume_at.is_some() {
                        // Lines still wait their turn; the timer ends it.
                        connection.finished = true;
                        let waiting = connection.intake.waiting();
                        let draining = Input::Draining {
                            id: connection.id,
                            waiting,
                        };
                        self.router.handle(draining, Instant::now());
                    } else {
                        ended = Some("connection closed".to_owned());
                    }
                    break;
                }
                Ok(Received::Open) => {}
            }
            Self::connect(
                connection,
                token,
                &mut self.router,
                &mut self.timers,
                &self.context,
            );
            if connection.intake.flooded() {
                ended = Some(crate::limits::EXCESS_FLOOD.to_owned());
                break;
            }
            if short {
                break;
            }
        }
        // HTTP responses wait in `out` too.
        let responded = connection.setup.is_some() && connection.written < connection.out.len();
        if let Some(reason) = ended {
            self.end(token, reason);
        } else if answer || responded {
            self.flush(token);
        }
    }

    /// Hands the router the requests flood control lets through now, and
    /// sets a timer for the rest.
    pub(super) fn dispatch(
        connection: &mut Connection,
        token: Token,
        router: &mut Router,
        timers: &mut BinaryHeap<Reverse<(Instant, Token)>>,
    ) {
        if connection.resume_at.is_some() {
            // A timer is set; it dispatches when it fires.
            return;
        }
        let now = Instant::now();
        loop {
            match connection.intake.next(now) {
                Next::Ready(request) => router.handle(Input::Request(connection.id, request), now),
                Next::Wait(wait) => {
                    let at = now + wait;
                    connection.resume_at = Some(at);
                    timers.push(Reverse((at, token)));
                    return;
                }
                Next::Empty => return,
            }
        }
    }

    /// Writes what the socket takes: what is already encoded, then what the
    /// outbox holds, batched. Closes the connection once the router has let
    /// go and everything, farewell included, is written.
    pub(super) fn flush(&mut self, token: Token) {
        let Some(connection) = self.connections.get_mut(&token) else {
            return;
        };
        if connection.setup.is_some() && connection.session.serving_http() {
            // An answer from the router may have come.
            connection.serve_http(&mut self.router, &self.context);
        }
        match connection.write_out(&mut self.router, &self.context.stats, &mut self.spare) {
            // Close only once the farewell is out, not when the socket is full.
            Ok(()) if connection.closing && connection.written == connection.out.len() => {
                self.close(token);
            }
            Ok(()) => {}
            Err(error) => {
                self.end(token, describe(&error));
                self.close(token);
            }
        }
    }

    /// Tells the router, once, that the connection ended, and stops reading.
    /// One the router does not know yet is closed at once, after the
    /// layer's last words (a TLS alert) if the socket takes them.
    pub(super) fn end(&mut self, token: Token, reason: String) {
        let Some(connection) = self.connections.get_mut(&token) else {
            return;
        };
        if let Some(setup) = &connection.setup {
            if connection.session.is_http() {
                log::debug!("{}: {reason}", setup.peer);
            } else {
                log::info!("{}: {reason}", setup.peer);
            }
            let _ = connection
                .stream
                .write(&connection.out[connection.written..]);
            self.close(token);
            return;
        }
        if !connection.ended {
            connection.ended = true;
            let disconnected = Input::Disconnected(connection.id, reason);
            self.router.handle(disconnected, Instant::now());
        }
    }

    /// Forgets the connection and closes its socket.
    pub(super) fn close(&mut self, token: Token) {
        if let Some(mut connection) = self.connections.remove(&token) {
            let _ = self.poll.registry().deregister(&mut connection.stream);
            let _ = connection.stream.shutdown(Shutdown::Both);
        }
    }
}

impl Connection {
    /// Writes until the socket is full or nothing is left; a write error
    /// means the peer is gone. With the socket full, the writable event
    /// brings us back.
    fn write_out(
        &mut self,
        router: &mut Router,
        stats: &Stats,
        spare: &mut Vec<u8>,
    ) -> io::Result<()> {
        // Nothing reaches the outbox while the loop writes: once a refill
        // emptied it, another would find nothing.
        let mut emptied = false;
        loop {
            if self.written == self.out.len() {
                self.out.clear();
                self.written = 0;
                if !emptied {
                    if self.out.capacity() == 0 {
                        self.out = std::mem::take(spare);
                    }
                    emptied = self.refill(router, stats)?;
                }
                if self.out.is_empty() && !emptied {
                    // Events that came to no bytes for this client, and
                    // more wait: no nudge would bring the loop back.
                    continue;
                }
                if self.out.is_empty() {
                    // Idle: hand the buffer on; most connections are idle
                    // most of the time, and keep none.
                    let idle = std::mem::take(&mut self.out);
                    if idle.capacity() > spare.capacity() && idle.capacity() <= SPARE_MAX {
                        *spare = idle;
                    }
                    return Ok(());
                }
            }
            match self.stream.write(&self.out[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => {
                    self.written += written;
                    if self.stalled_since.take().is_some() {
                        self.inbox.mailbox.set_stalled(None);
                    }
                    if self.written == self.out.len() {
                        stats.write_calls.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    // The router hears of it: a socket stalled for long
                    // gets at most `--sendq` messages queued.
                    if self.stalled_since.is_none() {
                        let now = Instant::now();
                        self.stalled_since = Some(now);
                        self.inbox.mailbox.set_stalled(Some(now));
                    }
                    return Ok(());
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Encodes what the outbox holds (at most one queue's worth), the
    /// count of dropped messages, and, once the router let go, what the
    /// outbox still held and the farewell, and seals it. True when the
    /// outbox holds nothing more (or is gone).
    fn refill(&mut self, router: &mut Router, stats: &Stats) -> io::Result<bool> {
        let most = self.inbox.capacity;
        let (mut events, emptied) = match router.outbox(self.id) {
            Some((outbox, turn)) => {
                let events = outbox.take_bytes(&self.codec, &mut self.out, most, turn);
                (events, events < most)
            }
            None => (0, true),
        };
        let mailbox = &self.inbox.mailbox;
        let farewell = mailbox.closed() && !self.closing;
        if farewell {
            let leftover = mailbox.take_leftover();
            events += leftover.len();
            for queued in leftover {
                queued
                    .message
                    .write_to(&self.codec, queued.caps, &mut self.out);
            }
        }
        if events > 0 {
            stats.written.fetch_add(events as u64, Ordering::Relaxed);
        }
        self.closing |= farewell;
        append_notices(&self.inbox, &self.codec, farewell, &mut self.out);
        self.session.seal(&mut self.out, 0)?;
        if farewell {
            self.session.close(&mut self.out)?;
        }
        Ok(emptied)
    }
}
