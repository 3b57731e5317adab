//! The threaded transport: an accept thread per listening address, and a
//! reader and a writer thread per connection.
//!
//! The three share the connection's one socket through an `Arc<TcpStream>`
//! (reading and writing a socket from two threads at once is fine), so a
//! connection costs one file descriptor.
//!
//! - The reader frames lines, decodes them, holds them for flood control and
//!   sends them to the router. It blocks in `read` (with a timeout while
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

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{self, AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use crossbeam_utils::Backoff;
use socket2::SockRef;

use super::{Admitted, Context, Intake, Next, Slot, describe};
use crate::client::{ClientId, Inbox, Mailbox, Nudge, Queued};
use crate::config::Config;
use crate::protocol::{Codec, Protocol};
use crate::router::Input;
use crate::stats::Stats;

/// How many bytes a reader asks the kernel for at once.
const READ_CHUNK: usize = 4096;

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

/// A writer that waited less than this for its last message spins a little
/// before it parks next time. Measured on two cores: spinning always made
/// fanout to 500 members a quarter slower, never spinning made fanout to
/// 100 members a quarter slower; this keeps most of both.
const SPIN_PAYS: Duration = Duration::from_millis(1);

/// How the router wakes a writer thread. The writer parks when its outbox
/// is empty; the router unparks it at the end of a turn in which it queued
/// something, and only if it is parked.
#[derive(Debug, Default)]
pub struct WriterNudge {
    /// The writer thread, known from its first look for an event.
    thread: OnceLock<Thread>,
    /// Set while the writer is parked or about to park.
    parked: AtomicBool,
    /// Something was queued since the writer was last woken.
    pending: AtomicBool,
}

impl Nudge for WriterNudge {
    fn nudge(&self) -> bool {
        !self.pending.swap(true, Ordering::AcqRel)
    }

    fn wake(&self) {
        self.pending.store(false, Ordering::Release);
        // Pairs with the fence in `next`: either the writer sees what was
        // queued before this, or this sees the writer parked.
        atomic::fence(Ordering::SeqCst);
        if self.parked.swap(false, Ordering::AcqRel)
            && let Some(thread) = self.thread.get()
        {
            thread.unpark();
        }
    }
}

impl WriterNudge {
    /// The next event in `inbox`, parking until the router queues one;
    /// `None` once the router has let go and the queue is empty.
    ///
    /// With `spin`, it first looks again a few times, spinning then
    /// yielding, as crossbeam's own `recv` does: in a busy room the next
    /// message often comes before a sleep and a wake-up would be over. But
    /// with hundreds of writers yielding to each other, spinning costs more
    /// than it saves, so `spin` says whether the last wait was short enough
    /// for it to pay, and this updates it.
    fn next(&self, inbox: &Inbox, spin: &mut bool) -> Option<Queued> {
        self.thread.get_or_init(thread::current);
        if *spin {
            let backoff = Backoff::new();
            while !backoff.is_completed() {
                match inbox.rx.try_recv() {
                    Ok(queued) => return Some(queued),
                    Err(TryRecvError::Disconnected) => return None,
                    Err(TryRecvError::Empty) => backoff.snooze(),
                }
            }
        }
        let waiting_since = Instant::now();
        loop {
            self.parked.store(true, Ordering::Release);
            // Announce the park before the last look; see `wake`.
            atomic::fence(Ordering::SeqCst);
            match inbox.rx.try_recv() {
                Ok(queued) => {
                    self.parked.store(false, Ordering::Release);
                    *spin = waiting_since.elapsed() < SPIN_PAYS;
                    return Some(queued);
                }
                Err(TryRecvError::Disconnected) => {
                    self.parked.store(false, Ordering::Release);
                    return None;
                }
                // Returns at once if the router woke us since the store above;
                // a spurious return just looks again.
                Err(TryRecvError::Empty) => thread::park(),
            }
        }
    }
}

/// Binds `addr` and starts accepting `protocol` connections on it.
/// Requests and disconnections go to the router over `router`.
pub fn listen(
    addr: SocketAddr,
    protocol: Protocol,
    context: Context,
    router: Sender<Input>,
) -> io::Result<Listener> {
    let listener = super::bind(addr)?;
    let addr = listener.local_addr()?;
    let stopping = Arc::new(AtomicBool::new(false));
    let thread = thread::Builder::new()
        .name(format!("sb-accept-{protocol}"))
        .spawn({
            let stopping = Arc::clone(&stopping);
            move || accept_loop(&listener, protocol, &context, &router, &stopping)
        })?;
    log::info!("serving the {protocol} protocol on {addr}");
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
        self.thread.join().unwrap_or_else(|_| {
            log::error!("the accept thread on {} panicked", self.addr);
            Vec::new()
        })
    }
}

fn accept_loop(
    listener: &TcpListener,
    protocol: Protocol,
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
            Ok(stream) => connections.extend(start(stream, protocol, context, router)),
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
    protocol: Protocol,
    context: &Context,
    router: &Sender<Input>,
) -> Option<Connection> {
    let config = &context.config;
    let peer = stream.peer_addr().ok()?;
    let nudge = Arc::new(WriterNudge::default());
    let for_outbox: Arc<dyn Nudge> = nudge.clone();
    let admitted = context.admit(&stream, context.next_id(), protocol, peer, Some(for_outbox))?;
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
    } = admitted;
    let stream = Arc::new(stream);
    let slot = Arc::new(slot);
    // Disconnected when the writer ends, for a reader waiting on its own.
    let (hangup, writer_gone) = crossbeam_channel::bounded(0);
    let spawn = |role: &str, body: Box<dyn FnOnce() + Send>| {
        thread::Builder::new()
            .name(format!("sb-{role}-{}", id.0))
            .stack_size(config.thread_stack_kib * 1024)
            .spawn(body)
            .inspect_err(|error| log::error!("cannot start a {role} thread for {peer}: {error}"))
    };
    let writer = Writer {
        id,
        inbox,
        nudge,
        codec,
        router: router.clone(),
        stats: Arc::clone(&context.stats),
        timeout: config.write_timeout,
        _hangup: hangup,
        _slot: Arc::clone(&slot),
    };
    let writer = spawn(
        "write",
        Box::new({
            let stream = Arc::clone(&stream);
            move || writer.run(&stream)
        }),
    )
    .ok()?;
    let mut connection = Connection {
        stream: Arc::downgrade(&stream),
        threads: vec![writer],
    };
    // The router must hear of the client before its first request, so the
    // reader starts only after this.
    let connected = Input::Connected {
        id,
        outbox,
        peer,
        protocol,
    };
    if router.send(connected).is_err() {
        // Shutting down; dropping the outbox ends the writer.
        return Some(connection);
    }
    let reader = spawn(
        "read",
        Box::new({
            let router = router.clone();
            let config = Arc::clone(config);
            let reading = Reading {
                id,
                protocol,
                router,
                config,
                writer_gone,
            };
            move || reading.run(&stream, slot)
        }),
    );
    match reader {
        Ok(reader) => connection.threads.push(reader),
        Err(error) => {
            let _ = router.send(Input::Disconnected(id, error.to_string()));
        }
    }
    Some(connection)
}

/// What a reader thread needs besides its socket.
struct Reading {
    id: ClientId,
    protocol: Protocol,
    router: Sender<Input>,
    config: Arc<Config>,
    /// Disconnects when the writer ends: the connection is over.
    writer_gone: Receiver<()>,
}

impl Reading {
    fn run(self, stream: &TcpStream, _slot: Arc<Slot>) {
        // A bug must not leave a ghost user behind: a panic counts as a disconnect.
        let ended = panic::catch_unwind(AssertUnwindSafe(|| self.read_loop(stream)))
            .unwrap_or_else(|_| Some("internal error".into()));
        if let Some(reason) = ended {
            // Blocks only while the router's inbox is full; fails only when
            // the router is gone, and then nobody needs to know.
            let _ = self.router.send(Input::Disconnected(self.id, reason));
        }
    }

    /// Reads lines and sends them to the router until the connection ends;
    /// says why, or `None` when there is nobody to tell (the router or the
    /// writer is gone, and with it the client).
    fn read_loop(&self, mut stream: &TcpStream) -> Option<String> {
        let mut intake = Intake::new(self.protocol, &self.config, Instant::now());
        let mut chunk = vec![0; READ_CHUNK];
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
                        self.router.send(Input::Request(self.id, request)).ok()?;
                    }
                    Next::Wait(wait) => break Some(wait),
                    Next::Empty => break None,
                }
            };
            if intake.flooded() {
                return Some("excess flood".into());
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
                    self.router.send(draining).ok()?;
                    told = true;
                }
                if self.writer_gone.recv_timeout(wait) != Err(RecvTimeoutError::Timeout) {
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
            match stream.read(&mut chunk) {
                Ok(0) => finished = true,
                Ok(read) => intake.push(&chunk[..read]),
                Err(error) if is_transient(&error) => {}
                Err(error) => return Some(describe(&error)),
            }
        }
    }
}

/// Whether a read error only means "nothing yet": a timeout or a signal.
fn is_transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// What a writer thread owns.
struct Writer {
    id: ClientId,
    inbox: Inbox,
    nudge: Arc<WriterNudge>,
    codec: Codec,
    router: Sender<Input>,
    stats: Arc<Stats>,
    timeout: Duration,
    /// Dropped when the writer ends, which a reader handing on a closed
    /// peer's last lines waits for.
    _hangup: Sender<()>,
    /// Held for the thread's life: the connection counts until both its
    /// threads are gone.
    _slot: Arc<Slot>,
}

impl Writer {
    fn run(self, stream: &TcpStream) {
        let mut out = stream;
        let written = panic::catch_unwind(AssertUnwindSafe(|| {
            write_loop(
                &mut out,
                &self.inbox,
                &self.nudge,
                &self.codec,
                &self.stats,
                self.timeout,
            )
        }))
        .unwrap_or_else(|_| Err(io::Error::other("internal error")));
        if let Err(error) = written {
            // Usually the reader notices too; the router acts on whichever
            // report arrives first.
            let _ = self
                .router
                .send(Input::Disconnected(self.id, describe(&error)));
        }
        // Ends the reader's `read` as well.
        let _ = stream.shutdown(Shutdown::Both);
    }
}

/// A socket as the writer sees it: it can also be written without waiting.
pub trait Sink: Write {
    /// Writes what the socket takes at once, if anything; never waits.
    fn write_now(&mut self, buf: &[u8]) -> io::Result<usize>;
}

impl Sink for &TcpStream {
    fn write_now(&mut self, buf: &[u8]) -> io::Result<usize> {
        // The reader shares the socket and blocks in `read`, so the socket
        // itself stays blocking and this one call does not wait.
        SockRef::from(*self).send_with_flags(buf, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
    }
}

/// Writes the client's events until the router drops its outbox, then the
/// farewell. Everything queued when the writer wakes goes out at once (see
/// [`write_batch`]), followed by how many messages were dropped meanwhile,
/// if any.
pub fn write_loop<W: Sink>(
    out: &mut W,
    inbox: &Inbox,
    nudge: &WriterNudge,
    codec: &Codec,
    stats: &Stats,
    timeout: Duration,
) -> io::Result<()> {
    let most = inbox.capacity;
    let mut buf = Vec::new();
    let mut spin = true;
    // Parks until the router queues something or drops the outbox.
    while let Some(first) = nudge.next(inbox, &mut spin) {
        first.message.write_to(codec, first.caps, &mut buf);
        let mut events = 1;
        let mut weight = first.message.weight();
        // At most one queue's worth, so a fast router cannot grow the buffer
        // without bound while we drain.
        for next in inbox.rx.try_iter().take(most) {
            next.message.write_to(codec, next.caps, &mut buf);
            events += 1;
            weight += next.message.weight();
        }
        inbox.mailbox.took(weight as u64);
        super::append_notices(inbox, codec, false, &mut buf);
        write_batch(out, &buf, timeout, &inbox.mailbox)?;
        stats.write_calls.fetch_add(1, Ordering::Relaxed);
        stats.written.fetch_add(events, Ordering::Relaxed);
        buf.clear();
        if inbox.rx.is_empty() {
            // Idle: give the buffer back; most connections are idle most of
            // the time.
            buf = Vec::new();
        }
    }
    super::append_notices(inbox, codec, true, &mut buf);
    write_within(out, &buf, timeout)?;
    out.flush()
}

/// Writes a batch whole. It is tried first without waiting: whether the
/// socket takes it all is what tells a client that keeps up from a slow one.
/// If it does not, the router learns that the socket stalled (after
/// [`client::STALL`] it queues at most `--sendq` messages) until the rest
/// is written.
/// Waiting longer than `timeout` in all ends the connection, so a peer
/// taking a byte at a time cannot keep a writer forever.
fn write_batch<W: Sink>(
    out: &mut W,
    buf: &[u8],
    timeout: Duration,
    mailbox: &Mailbox,
) -> io::Result<()> {
    let written = match out.write_now(buf) {
        Ok(written) => written,
        Err(error)
            if matches!(
                error.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) =>
        {
            0
        }
        Err(error) => return Err(error),
    };
    if written == buf.len() {
        return Ok(());
    }
    mailbox.set_stalled(Some(Instant::now()));
    write_within(out, &buf[written..], timeout)?;
    mailbox.set_stalled(None);
    Ok(())
}

/// `write_all` that gives up once `timeout` has passed in all. Each `write`
/// also gives up on its own after the socket's write timeout.
fn write_within<W: Write>(out: &mut W, mut buf: &[u8], timeout: Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    while !buf.is_empty() {
        if Instant::now() > deadline {
            return Err(io::ErrorKind::TimedOut.into());
        }
        match out.write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => buf = &buf[written..],
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client;
    use crate::protocol::{Destination, Event, Mask, MessageKind, Outgoing};

    /// Records each `write` call.
    #[derive(Default)]
    struct Recorder {
        writes: Vec<Vec<u8>>,
    }

    impl Sink for Recorder {
        fn write_now(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write(buf)
        }
    }

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.writes.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn message(n: usize) -> std::sync::Arc<Outgoing> {
        let from = Arc::new(Mask {
            nick: "alice".into(),
            user: "~alice".into(),
            host: "127.0.0.1".into(),
        });
        Outgoing::new(Event::Message {
            from,
            to: Destination::Room("#r".into()),
            text: n.to_string().into(),
            kind: MessageKind::Say,
            tags: None,
            id: n.to_string().into(),
            long: false,
        })
    }

    fn line_codec() -> Codec {
        Codec {
            protocol: Protocol::Line,
            server: "test".into(),
        }
    }

    /// Queues messages 0..count in an outbox of `capacity`, closes it (with
    /// `farewell`, if any) and runs the writer over it.
    fn written(capacity: usize, count: usize, farewell: Option<&str>) -> (Recorder, Arc<Stats>) {
        let stats = Arc::new(Stats::default());
        let nudge = Arc::new(WriterNudge::default());
        let for_outbox: Arc<dyn Nudge> = nudge.clone();
        let (mut outbox, inbox) =
            client::outbox(capacity, 1 << 20, Arc::clone(&stats), Some(for_outbox));
        // Its socket has stalled, so the outbox holds at most `capacity`.
        inbox
            .mailbox
            .set_stalled(Some(Instant::now() - client::STALL));
        let mut wakes = client::Wakes::default();
        for n in 0..count {
            outbox.deliver(&message(n), Instant::now(), &mut wakes);
        }
        wakes.wake_all();
        match farewell {
            Some(reason) => outbox.close(reason.into()),
            None => drop(outbox),
        }
        let mut out = Recorder::default();
        write_loop(
            &mut out,
            &inbox,
            &nudge,
            &line_codec(),
            &stats,
            Duration::from_secs(5),
        )
        .unwrap();
        (out, stats)
    }

    #[test]
    fn everything_queued_goes_out_in_one_write() {
        let (out, stats) = written(100, 50, Some("bye"));
        assert_eq!(out.writes.len(), 2, "one batch, then the farewell");
        let batch = String::from_utf8(out.writes[0].clone()).unwrap();
        assert_eq!(batch.lines().count(), 50);
        assert!(batch.starts_with("[#r] <alice> 0\n"));
        assert_eq!(out.writes[1], b"! closing: bye\n");
        assert_eq!(stats.snapshot().write_calls, 1);
        assert_eq!(stats.snapshot().written, 50);
    }

    #[test]
    fn dropped_messages_are_reported_after_the_queue_drains() {
        let (out, stats) = written(3, 10, None);
        let text = String::from_utf8(out.writes.concat()).unwrap();
        assert_eq!(
            text,
            "[#r] <alice> 0\n[#r] <alice> 1\n[#r] <alice> 2\n\
             ! missed 7 messages: your connection was too slow\n"
        );
        assert_eq!(stats.snapshot().dropped, 7);
    }

    /// A router that panics drops its outboxes without closing them; their
    /// writers, parked on empty queues, must still end, or shutdown hangs
    /// joining them.
    #[test]
    fn dropping_the_outbox_ends_a_parked_writer() {
        let stats = Arc::new(Stats::default());
        let nudge = Arc::new(WriterNudge::default());
        let for_outbox: Arc<dyn Nudge> = nudge.clone();
        let (outbox, inbox) = client::outbox(10, 1 << 20, Arc::clone(&stats), Some(for_outbox));
        let (ended_tx, ended) = crossbeam_channel::bounded(1);
        let writer = thread::spawn({
            let nudge = Arc::clone(&nudge);
            move || {
                let mut out = Recorder::default();
                let timeout = Duration::from_secs(5);
                let result = write_loop(&mut out, &inbox, &nudge, &line_codec(), &stats, timeout);
                let _ = ended_tx.send(result.is_ok());
            }
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while !nudge.parked.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "the writer never parked");
            thread::yield_now();
        }
        drop(outbox);
        let ended = ended.recv_timeout(Duration::from_secs(5));
        assert_eq!(ended, Ok(true), "the writer ended cleanly");
        writer.join().unwrap();
    }
}
