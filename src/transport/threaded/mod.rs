//! The threaded transport: an accept thread per listening address, and a
//! reader and a writer thread per connection.
//!
//! The three share the connection's one socket through an `Arc<TcpStream>`
//! (reading and writing a socket from two threads at once is fine), so a
//! connection costs one file descriptor, and its [`Session`] (a TLS
//! session behind a lock taken only around rustls calls).
//!
//! - The reader first runs the session's setup (the TLS handshake) alone
//!   with the socket, then tells the router of the client. It frames
//!   lines, decodes them, holds them for flood control and sends them to
//!   the router. It blocks in `read` (with a timeout while
//!   lines wait for flood control), and on the router's inbox when the router
//!   is behind, which slows down this one client's TCP connection.
//! - The writer parks while the client's outbox is empty and writes
//!   everything queued at once, first without waiting: when the socket does
//!   not take it all, the writer tells the router (the client's mailbox
//!   says since when the socket stalled) and then waits for the socket. The router wakes it through a
//!   [`WriterNudge`] once per turn, however many messages it queued in that
//!   turn, so a burst costs one wake-up per writer. When the router drops
//!   the outbox, the writer sends what is left and the farewell, then shuts
//!   the socket down, which also wakes the reader.

mod http;
mod writer;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::{Admitted, Context, Intake, Next, Received, Session, Slot, describe};
use crate::client::{ClientId, Nudge, Outbox};
use crate::config::{Config, Scheme};
use crate::protocol::Protocol;
use crate::router::Input;
use crate::stats::Stats;
use writer::{Direct, Writer};
pub use writer::{Sink, WriterNudge, Writing, write_loop};

/// How many bytes a reader asks the kernel for at once, once its client
/// has sent more than [`FIRST_READ`] in one go. Each reader holds its
/// buffer for the connection's life, idle or not: 1 KiB takes any chat
/// line or burst of them in a read or two, and saved 2.4 KiB per idle
/// connection against 4 KiB (BENCHMARKS.md, "Idle connections").
const READ_CHUNK: usize = 1024;

/// What a reader's buffer starts at: a registration fits (`CAP LS 302`,
/// `NICK` and `USER` take 60-80 bytes), so a client that never sends more
/// at once, as most idle ones, never holds [`READ_CHUNK`] (BENCHMARKS.md,
/// "Threaded idle memory went up with TLS and the web").
const FIRST_READ: usize = 128;

/// A listening socket and the thread accepting on it.
#[derive(Debug)]
pub struct Listener {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    thread: JoinHandle<Vec<Connection>>,
}

/// The threads serving one connection, and a way to force its socket shut.
#[derive(Debug)]
pub struct Connection {
    /// Weak, so a finished connection's socket is closed at once rather than
    /// when the accept thread next prunes its list.
    stream: Weak<TcpStream>,
    /// Alive while the reader is still setting the connection up.
    setting_up: Weak<()>,
    threads: Vec<JoinHandle<()>>,
}

impl Connection {
    fn is_finished(&self) -> bool {
        self.threads.iter().all(JoinHandle::is_finished)
    }

    /// Shuts the socket down so its threads' blocking calls return at once.
    pub fn force_close(&self) {
        if let Some(stream) = self.stream.upgrade() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Waits for the connection's threads.
    pub fn join(self) {
        for thread in self.threads {
            if thread.join().is_err() {
                log::error!("a connection thread panicked");
            }
        }
    }
}

/// Starts accepting connections for `scheme` on `listener` (from
/// [`super::bind`]). Requests and disconnections go to the router over
/// `router`.
pub fn listen(
    scheme: Scheme,
    listener: TcpListener,
    context: Context,
    router: Sender<Input>,
) -> io::Result<Listener> {
    let addr = listener.local_addr()?;
    let stopping = Arc::new(AtomicBool::new(false));
    let thread = thread::Builder::new()
        .name(format!("sb-accept-{scheme}"))
        .spawn({
            let stopping = Arc::clone(&stopping);
            move || accept_loop(&listener, scheme, &context, &router, &stopping)
        })?;
    log::info!("serving {scheme}://{addr}");
    Ok(Listener {
        addr,
        stopping,
        thread,
    })
}

impl Listener {
    /// The bound address (with the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and hands back the connections still being served.
    /// Those still being set up (a TLS handshake) are closed: the router
    /// does not know them, so nobody would tell them to go.
    pub fn stop(self) -> Vec<Connection> {
        self.stopping.store(true, Ordering::SeqCst);
        // `accept` cannot be interrupted portably: connect to ourselves so it
        // returns and the loop sees the flag.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => [127, 0, 0, 1].into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        if let Err(error) = TcpStream::connect_timeout(&wake, Duration::from_secs(1)) {
            log::warn!("could not wake the accept thread on {wake}: {error}");
        }
        let connections = self.thread.join().unwrap_or_else(|_| {
            log::error!("the accept thread on {} panicked", self.addr);
            Vec::new()
        });
        connections
            .iter()
            .filter(|connection| connection.setting_up.strong_count() > 0)
            .for_each(Connection::force_close);
        connections
    }
}

fn accept_loop(
    listener: &TcpListener,
    scheme: Scheme,
    context: &Context,
    router: &Sender<Input>,
    stopping: &AtomicBool,
) -> Vec<Connection> {
    let mut connections: Vec<Connection> = Vec::new();
    // Finished connections are joined when the list doubles, so pruning costs
    // O(1) per accept however many connections are live.
    let mut prune_at = 64;
    for incoming in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            break;
        }
        match incoming {
            Ok(stream) => connections.extend(start(stream, scheme, context, router)),
            Err(error) => {
                // Typically out of file descriptors: back off instead of
                // spinning, and let existing clients carry on.
                log::warn!("accept failed: {error}");
                thread::sleep(Duration::from_millis(100));
            }
        }
        if connections.len() >= prune_at {
            for done in connections.extract_if(.., |connection| connection.is_finished()) {
                done.join();
            }
            prune_at = (connections.len() * 2).max(64);
        }
    }
    connections
}

/// Starts serving one accepted socket, unless the server turns it away.
fn start(
    stream: TcpStream,
    scheme: Scheme,
    context: &Context,
    router: &Sender<Input>,
) -> Option<Connection> {
    let config = &context.config;
    let peer = stream.peer_addr().ok()?;
    let nudge = Arc::new(WriterNudge::default());
    let for_outbox: Arc<dyn Nudge> = nudge.clone();
    let for_reader = Arc::clone(&nudge);
    let admitted = context.admit(
        &stream,
        context.next_id(),
        scheme,
        peer,
        Some(for_outbox),
        false,
    )?;
    if let Err(error) = stream.set_write_timeout(Some(config.write_timeout)) {
        log::debug!("dropping {peer}: {error}");
        return None;
    }
    let Admitted {
        id,
        slot,
        outbox,
        inbox,
        codec,
        session,
    } = admitted;
    let stream = Arc::new(stream);
    let slot = Arc::new(slot);
    let setting_up = Arc::new(());
    // The router writes to this socket itself while the writer is parked.
    nudge.write_directly(Direct {
        stream: Arc::clone(&stream),
        inbox: inbox.for_router(),
        codec: codec.clone(),
        session: session.clone(),
        stats: Arc::clone(&context.stats),
    });
    let writer = Writer {
        id,
        inbox,
        nudge,
        codec,
        session: session.clone(),
        router: router.clone(),
        stats: Arc::clone(&context.stats),
        timeout: config.write_timeout,
    };
    let writer = spawn(
        "write",
        id,
        peer,
        config,
        Box::new({
            let stream = Arc::clone(&stream);
            let slot = Arc::clone(&slot);
            move || writer.run(&stream, slot)
        }),
    )?;
    let mut threads = Vec::with_capacity(2);
    threads.push(writer);
    let mut connection = Connection {
        stream: Arc::downgrade(&stream),
        setting_up: Arc::downgrade(&setting_up),
        threads,
    };
    // The reader sets the connection up, then tells the router (before
    // its first request); until then the writer has nothing to write.
    let reading = Reading {
        id,
        protocol: scheme.protocol(),
        peer,
        session,
        router: router.clone(),
        config: Arc::clone(config),
        nudge: for_reader,
        stats: Arc::clone(&context.stats),
    };
    let reader = spawn(
        "read",
        id,
        peer,
        config,
        Box::new(move || reading.run(&stream, outbox, setting_up, slot)),
    );
    // On failure the outbox is dropped with the closure, which ends the writer.
    connection.threads.extend(reader);
    Some(connection)
}

/// Starts one of a connection's threads. `body` comes boxed: unboxed, it
/// would be moved through the thread's first frames, which took a third
/// stack page.
fn spawn(
    role: &str,
    id: ClientId,
    peer: SocketAddr,
    config: &Config,
    body: Box<dyn FnOnce() + Send>,
) -> Option<JoinHandle<()>> {
    thread::Builder::new()
        .name(format!("sb-{role}-{}", id.0))
        .stack_size(config.thread_stack_kib * 1024)
        .spawn(body)
        .inspect_err(|error| log::error!("cannot start a {role} thread for {peer}: {error}"))
        .ok()
}

/// What a reader thread needs besides its socket.
struct Reading {
    id: ClientId,
    protocol: Protocol,
    peer: SocketAddr,
    session: Session,
    router: Sender<Input>,
    config: Arc<Config>,
    /// Woken when the session has bytes of its own to send (a WebSocket
    /// pong), which the writer (or the router) seals and writes; says when
    /// the writer ends.
    nudge: Arc<WriterNudge>,
    /// For `/metrics`, served while the connection is HTTP.
    stats: Arc<Stats>,
}

impl Reading {
    fn run(self, stream: &TcpStream, outbox: Outbox, setting_up: Arc<()>, _slot: Arc<Slot>) {
        // A bug must not leave a ghost user behind: a panic counts as a disconnect.
        let ended = panic::catch_unwind(AssertUnwindSafe(|| {
            let mut intake = Intake::new(self.protocol, &self.config, Instant::now());
            let mut chunk = ReadBuffer::new();
            self.connect(stream, outbox, setting_up, &mut intake, &mut chunk)?;
            self.read_loop(stream, &mut intake, &mut chunk)
        }))
        .unwrap_or_else(|_| Some("internal error".into()));
        if let Some(reason) = ended {
            self.hang_up(reason);
        }
    }

    /// Sets the connection up and tells the router of the client; `None`
    /// when the connection ended before the router knew it.
    ///
    /// Never inlined, nor are the read loop and `hang_up`, and the intake
    /// is lent rather than moved: a thread keeps every stack page it ever
    /// touched, and the reader decodes every line it reads on top of
    /// `run`'s frame, which took 2 KiB with all of them inlined into it
    /// (BENCHMARKS.md, "Threaded idle memory went up with TLS and the web").
    #[inline(never)]
    fn connect(
        &self,
        stream: &TcpStream,
        outbox: Outbox,
        setting_up: Arc<()>,
        intake: &mut Intake,
        chunk: &mut ReadBuffer,
    ) -> Option<()> {
        if let Err(error) = self.set_up(stream, intake, chunk) {
            // Dropping the outbox ends the writer; the router never knew.
            log::info!("{}: {error}", self.peer);
            return None;
        }
        // An HTTP connection is a client only once it upgrades, from
        // the address it came from (behind a trusted proxy).
        let mut peer = self.peer;
        if self.session.is_http() {
            match self.serve_http(stream, intake, chunk) {
                Ok(Some(client)) => peer.set_ip(client),
                Ok(None) => return None,
                Err(error) => {
                    log::debug!("{}: {error}", self.peer);
                    return None;
                }
            }
        }
        drop(setting_up);
        let connected = Input::Connected {
            id: self.id,
            outbox,
            peer,
            protocol: self.protocol,
            link: self.session.link(),
        };
        // Fails only when the router is gone: shutting down.
        tell(&self.router, connected)
    }

    /// Tells the router that the client is gone, and why.
    #[inline(never)]
    fn hang_up(&self, reason: String) {
        // Blocks only while the router's inbox is full; fails only when
        // the router is gone, and then nobody needs to know.
        let _ = tell(&self.router, Input::Disconnected(self.id, reason));
    }

    /// Runs the connection layer's setup (the TLS handshake) to its end,
    /// within `--register-timeout`. The reader is alone with the socket:
    /// the router does not know the client, so nothing is queued for the
    /// writer. What the client sends after it goes to `intake`.
    fn set_up(
        &self,
        mut stream: &TcpStream,
        intake: &mut Intake,
        chunk: &mut ReadBuffer,
    ) -> Result<(), String> {
        if !self.session.handshaking() {
            return Ok(());
        }
        let deadline = Instant::now() + self.config.register_timeout;
        let mut out = Vec::new();
        while self.session.handshaking() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("TLS handshake timed out".into());
            }
            stream
                .set_read_timeout(Some(left))
                .map_err(|error| describe(&error))?;
            let received = match chunk.read(stream) {
                Ok([]) => return Err("closed during the TLS handshake".into()),
                Ok(bytes) => self.session.receive(bytes, |bytes| intake.push(bytes)),
                Err(error) if is_transient(&error) => continue,
                Err(error) => return Err(describe(&error)),
            };
            // The handshake's next flight, or an alert saying what failed.
            self.session
                .seal(&mut out, 0)
                .map_err(|error| describe(&error))?;
            stream
                .write_all(&out)
                .map_err(|error| format!("TLS handshake: {}", describe(&error)))?;
            out.clear();
            match received {
                Ok(Received::Open) => {}
                Ok(Received::Closed) => return Err("closed during the TLS handshake".into()),
                Err(error) => return Err(format!("TLS handshake failed: {error}")),
            }
        }
        stream
            .set_read_timeout(None)
            .map_err(|error| describe(&error))
    }

    /// Reads lines and sends them to the router until the connection ends;
    /// says why, or `None` when there is nobody to tell (the router or the
    /// writer is gone, and with it the client).
    #[inline(never)]
    fn read_loop(
        &self,
        stream: &TcpStream,
        intake: &mut Intake,
        chunk: &mut ReadBuffer,
    ) -> Option<String> {
        let mut timeout = None;
        // The peer sent all it will (it may still read), and whether the
        // router was told how much still waits.
        let mut finished = false;
        let mut told = false;
        loop {
            let wait = loop {
                match intake.next(Instant::now()) {
                    // Blocks while the router's inbox is full: backpressure
                    // on this client only.
                    Next::Ready(request) => {
                        tell(&self.router, Input::Request(self.id, request))?;
                    }
                    Next::Wait(wait) => break Some(wait),
                    Next::Empty => break None,
                }
            };
            if intake.flooded() {
                return Some(crate::limits::EXCESS_FLOOD.into());
            }
            if finished {
                // What waits for flood control goes on at its pace, then the
                // connection ends; sooner if the writer does.
                let Some(wait) = wait else {
                    return Some("connection closed".into());
                };
                if !told {
                    let waiting = intake.waiting();
                    let draining = Input::Draining {
                        id: self.id,
                        waiting,
                    };
                    tell(&self.router, draining)?;
                    told = true;
                }
                if self.nudge.wait_for_end(wait) {
                    return None;
                }
                // A peer that is gone for good answers what is written to
                // it with a reset. Reads only say end of stream now; the
                // socket's error says whether the reset came.
                if !matches!(stream.take_error(), Ok(None)) {
                    return Some("connection closed".into());
                }
                continue;
            }
            // While lines wait for flood control, read only until the next
            // one may go; otherwise block until the client sends something.
            if wait != timeout {
                if let Err(error) = stream.set_read_timeout(wait) {
                    return Some(describe(&error));
                }
                timeout = wait;
            }
            match chunk.read(stream) {
                Ok([]) => finished = true,
                // Anything the layer must answer (a TLS key update) goes
                // out with the writer's next write.
                Ok(bytes) => match self.session.receive(bytes, |bytes| intake.push(bytes)) {
                    Ok(Received::Open) if self.session.wants_write() => self.nudge.wake(),
                    Ok(Received::Open) => {}
                    Ok(Received::Closed) => finished = true,
                    Err(error) => return Some(format!("connection error: {error}")),
                },
                Err(error) if is_transient(&error) => {}
                Err(error) => return Some(describe(&error)),
            }
        }
    }
}

/// A reader's buffer: [`FIRST_READ`] bytes until a read fills it, then
/// [`READ_CHUNK`] for the rest of the connection.
pub(super) struct ReadBuffer(Vec<u8>);

impl ReadBuffer {
    fn new() -> ReadBuffer {
        ReadBuffer(vec![0; FIRST_READ])
    }

    /// Reads once from `stream`: the bytes read, none at the end of the
    /// stream.
    pub(super) fn read(&mut self, mut stream: &TcpStream) -> io::Result<&[u8]> {
        let read = stream.read(&mut self.0)?;
        if read == self.0.len() {
            // Grown straight to its full size: a freed smaller buffer
            // would stay in this thread's malloc cache.
            self.0.resize(READ_CHUNK, 0);
        }
        Ok(&self.0[..read])
    }
}

/// Sends `input` to the router, blocking while its inbox is full; `None`
/// when the router is gone. Never inlined: a `send`, with crossbeam's
/// channel flavours inlined into it, holds several copies of the input
/// (and of the error that would hand it back) in its frame, 500 bytes,
/// which in a caller's frame would lie under everything the reader and
/// writer do.
#[inline(never)]
fn tell(router: &Sender<Input>, input: Input) -> Option<()> {
    router.send(input).ok()
}

/// Whether a read error only means "nothing yet": a timeout or a signal.
fn is_transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_buffer_starts_small_and_grows_once_a_read_fills_it() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let mut chunk = ReadBuffer::new();
        client.write_all(b"NICK a\r\n").unwrap();
        assert_eq!(chunk.read(&server).unwrap(), b"NICK a\r\n");
        assert_eq!(chunk.0.len(), FIRST_READ);
        let long: Vec<u8> = (0..FIRST_READ + 100).map(|n| n as u8).collect();
        client.write_all(&long).unwrap();
        let mut read = chunk.read(&server).unwrap().to_vec();
        assert_eq!(read, long[..FIRST_READ]);
        assert_eq!(chunk.0.len(), READ_CHUNK);
        // Nothing is lost to the growth: the rest comes next.
        while read.len() < long.len() {
            read.extend_from_slice(chunk.read(&server).unwrap());
        }
        assert_eq!(read, long);
        drop(client);
        assert!(chunk.read(&server).unwrap().is_empty());
    }
}
