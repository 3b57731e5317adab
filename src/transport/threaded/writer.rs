//! The writer thread of a threaded connection, and how the router reaches
//! it: [`WriterNudge`] wakes a parked writer, or, when the writer is parked
//! and the socket takes the bytes at once, lets the router write them
//! itself (see [`WriterNudge::wake`]).

use std::cell::RefCell;
use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{self, AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use crossbeam_utils::Backoff;
use parking_lot::Mutex;
use socket2::SockRef;

use super::tell;
use crate::client::{Batch, ClientId, Inbox, Mailbox, Nudge};
use crate::protocol::Codec;
use crate::router::Input;
use crate::stats::Stats;
use crate::transport::{Session, Slot, append_notices, describe};

/// A writer that waited less than this for its last message spins a little
/// before it parks next time. Measured on two cores: spinning always made
/// fanout to 500 members a quarter slower, never spinning made fanout to
/// 100 members a quarter slower; this keeps most of both.
const SPIN_PAYS: Duration = Duration::from_millis(1);

/// What a writer's buffer starts at when it has something to write.
const BATCH_BUFFER: usize = 4096;

/// The writer is awake and owns the socket's writing side.
const RUNNING: u8 = 0;
/// The writer is parked, or about to park; whoever moves it out of this
/// state owns the writing side.
const PARKED: u8 = 1;
/// The router is writing the socket itself, the writer parked.
const ROUTER: u8 = 2;

/// How the router wakes a writer thread, or writes in its place.
///
/// The writer parks when its outbox is empty. At the end of a turn in
/// which it queued something, the router takes the writing side from a
/// parked writer and writes the queue itself, without waiting
/// (`MSG_DONTWAIT`): most of the time the socket takes it all and the
/// writer sleeps on, which saves a wake-up and a hand-off per delivery.
/// When the socket pushes back, the router hands the rest to the writer
/// and wakes it; the writer waits for the socket as before. One owner of
/// the writing side at a time (`state`) keeps the bytes in order.
#[derive(Debug, Default)]
pub struct WriterNudge {
    /// The writer thread, known from its first look for an event.
    thread: OnceLock<Thread>,
    /// Who owns the writing side: `RUNNING`, `PARKED` or `ROUTER`.
    state: AtomicU8,
    /// Something was queued since the writer was last woken.
    pending: AtomicBool,
    /// The router let go of the client: only the writer may write now,
    /// so the farewell comes last.
    closed: AtomicBool,
    /// What the router needs to write in the writer's place; unset, it
    /// always wakes the writer.
    direct: OnceLock<Direct>,
    /// Bytes the router could not write; the writer writes them before
    /// anything still queued, which was queued after them.
    handover: Mutex<Vec<u8>>,
    /// The writer has ended (see [`WriterNudge::wait_for_end`]).
    ended: AtomicBool,
    /// The reader, once it waits for the writer to end.
    reader: OnceLock<Thread>,
}

/// The socket and queue as the router sees them when it writes itself.
#[derive(Debug)]
pub struct Direct {
    pub stream: Arc<TcpStream>,
    pub inbox: Inbox,
    pub codec: Codec,
    pub session: Session,
    pub stats: Arc<Stats>,
}

/// Why [`WriterNudge::next`] returned.
enum Woken {
    /// Events to write, or word that the router let go, or both.
    Events(Batch),
    /// The router handed over bytes it could not write.
    Handover,
}

thread_local! {
    /// The router's buffer for the batches it writes itself, kept between
    /// turns so a delivery allocates nothing.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Nudge for WriterNudge {
    fn nudge(&self) -> bool {
        // A plain load first: in a burst the flag is nearly always set
        // already, and a swap is a locked instruction per delivery.
        !self.pending.load(Ordering::Acquire) && !self.pending.swap(true, Ordering::AcqRel)
    }

    fn wake(&self) {
        self.pending.store(false, Ordering::Release);
        // Pairs with the fence in `next`: either the writer sees what was
        // queued before this, or this sees the writer parked.
        atomic::fence(Ordering::SeqCst);
        if let Some(direct) = self.direct.get()
            && !self.closed.load(Ordering::SeqCst)
            && self
                .state
                .compare_exchange(PARKED, ROUTER, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            if direct.write(&self.handover) {
                self.state.store(PARKED, Ordering::SeqCst);
                return;
            }
            // The writer finishes what the socket would not take now.
            self.state.store(RUNNING, Ordering::SeqCst);
            if let Some(thread) = self.thread.get() {
                thread.unpark();
            }
            return;
        }
        if self
            .state
            .compare_exchange(PARKED, RUNNING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
            && let Some(thread) = self.thread.get()
        {
            thread.unpark();
        }
    }

    fn closed(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.wake();
    }
}

impl WriterNudge {
    /// Lets the router write `direct`'s socket itself while the writer is
    /// parked.
    pub fn write_directly(&self, direct: Direct) {
        let _ = self.direct.set(direct);
    }

    /// The next events in `inbox` (at most one queue's worth), parking
    /// until the router queues some or hands over bytes; the batch says
    /// when the router has let go and nothing is left.
    ///
    /// With `spin`, it first looks again a few times, spinning then
    /// yielding, as crossbeam's own `recv` does: in a busy room the next
    /// message often comes before a sleep and a wake-up would be over. But
    /// with hundreds of writers yielding to each other, spinning costs more
    /// than it saves, so `spin` says whether the last wait was short enough
    /// for it to pay, and this updates it.
    fn next(&self, inbox: &Inbox, spin: &mut bool) -> Woken {
        self.thread.get_or_init(thread::current);
        let most = inbox.capacity;
        if *spin {
            let backoff = Backoff::new();
            while !backoff.is_completed() {
                let batch = inbox.take(most);
                if !batch.events.is_empty() || batch.closed {
                    return Woken::Events(batch);
                }
                backoff.snooze();
            }
        }
        let waiting_since = Instant::now();
        loop {
            let batch = inbox.take(most);
            if !batch.events.is_empty() || batch.closed || self.layer_wants_write() {
                *spin = waiting_since.elapsed() < SPIN_PAYS;
                return Woken::Events(batch);
            }
            self.state.store(PARKED, Ordering::SeqCst);
            // Announce the park before the last look; see `wake`. The look
            // takes nothing: from here the router may be draining the queue.
            atomic::fence(Ordering::SeqCst);
            if inbox.is_empty() && !self.closed.load(Ordering::SeqCst) {
                // Returns at once if the router woke us since the store
                // above; a spurious return just looks again.
                thread::park();
            }
            // Take the writing side back, unless the router has it: then
            // wait until it is done (and leaves it parked) or hands over.
            while let Err(ROUTER) =
                self.state
                    .compare_exchange(PARKED, RUNNING, Ordering::SeqCst, Ordering::SeqCst)
            {
                thread::park();
            }
            if !self.handover.lock().is_empty() {
                return Woken::Handover;
            }
        }
    }
}

impl WriterNudge {
    /// Waits at most `wait` for the writer to end (a reader handing on a
    /// closed peer's last lines waits for it); true if it has. It may
    /// return early without it.
    ///
    /// A flag and a park rather than a channel: a zero-capacity crossbeam
    /// channel took 152 bytes of every connection (BENCHMARKS.md,
    /// "Threaded idle memory went up with TLS and the web").
    pub fn wait_for_end(&self, wait: Duration) -> bool {
        self.reader.get_or_init(thread::current);
        // Pairs with the fence in `end`: either the writer sees the
        // reader, or the reader sees the writer ended.
        atomic::fence(Ordering::SeqCst);
        if !self.ended.load(Ordering::SeqCst) {
            thread::park_timeout(wait);
        }
        self.ended.load(Ordering::SeqCst)
    }

    /// The writer has ended: wakes the reader if it waits for that.
    fn end(&self) {
        self.ended.store(true, Ordering::SeqCst);
        atomic::fence(Ordering::SeqCst);
        if let Some(reader) = self.reader.get() {
            reader.unpark();
        }
    }

    /// Whether the connection's session has bytes of its own to send (a
    /// WebSocket pong its reader received a ping for).
    fn layer_wants_write(&self) -> bool {
        self.direct
            .get()
            .is_some_and(|direct| direct.session.wants_write())
    }
}

impl Direct {
    /// Writes what is queued, as the writer would, but only what the socket
    /// takes at once; true if it took it all and nothing more waits.
    /// Otherwise the rest goes to `handover` and the socket counts as
    /// stalled until the writer has written it. If the connection's reader
    /// is using the session (decrypting), the writer is left to do it all.
    fn write(&self, handover: &Mutex<Vec<u8>>) -> bool {
        let Some(mut sealer) = self.session.try_sealer() else {
            self.stats.session_busy.fetch_add(1, Ordering::Relaxed);
            return false;
        };
        SCRATCH.with_borrow_mut(|buf| {
            buf.clear();
            let batch = self.inbox.take(self.inbox.capacity);
            let mut weight = 0;
            for queued in &batch.events {
                queued.message.write_to(&self.codec, queued.caps, buf);
                weight += queued.message.weight();
            }
            let events = batch.events.len() as u64;
            self.inbox.mailbox.took(weight as u64);
            append_notices(&self.inbox, &self.codec, false, buf);
            if let Err(error) = sealer.seal(buf, 0) {
                log::warn!("cannot seal a batch: {error}");
                buf.clear();
            }
            drop(sealer);
            // On an error nothing was written: the writer meets the error
            // again and ends the connection.
            let written = SockRef::from(&*self.stream)
                .send_with_flags(buf, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
                .unwrap_or_default();
            self.stats.write_calls.fetch_add(1, Ordering::Relaxed);
            self.stats.written.fetch_add(events, Ordering::Relaxed);
            if written == buf.len() {
                return self.inbox.is_empty();
            }
            self.inbox.mailbox.set_stalled(Some(Instant::now()));
            handover.lock().extend_from_slice(&buf[written..]);
            false
        })
    }
}

/// What a writer thread owns.
pub struct Writer {
    pub id: ClientId,
    pub inbox: Inbox,
    pub nudge: Arc<WriterNudge>,
    pub codec: Codec,
    pub session: Session,
    pub router: Sender<Input>,
    pub stats: Arc<Stats>,
    pub timeout: Duration,
}

impl Writer {
    /// Writes until the router lets go, then shuts the socket down.
    /// `_slot` is held for the thread's life: the connection counts until
    /// both its threads are gone.
    pub fn run(self, stream: &TcpStream, _slot: Arc<Slot>) {
        let mut out = stream;
        let written = panic::catch_unwind(AssertUnwindSafe(|| {
            write_loop(
                &mut out,
                &Writing {
                    inbox: &self.inbox,
                    nudge: &self.nudge,
                    codec: &self.codec,
                    session: &self.session,
                    stats: &self.stats,
                },
                self.timeout,
            )
        }))
        .unwrap_or_else(|_| Err(io::Error::other("internal error")));
        if let Err(error) = written {
            // Usually the reader notices too; the router acts on whichever
            // report arrives first.
            let _ = tell(&self.router, Input::Disconnected(self.id, describe(&error)));
        }
        // Ends the reader's `read` as well.
        let _ = stream.shutdown(Shutdown::Both);
    }
}

impl Drop for Writer {
    /// Tells a reader waiting for the writer, however the writer ended
    /// (a panic too).
    fn drop(&mut self) {
        self.nudge.end();
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

/// What [`write_loop`] writes from, and through.
pub struct Writing<'a> {
    pub inbox: &'a Inbox,
    pub nudge: &'a WriterNudge,
    pub codec: &'a Codec,
    pub session: &'a Session,
    pub stats: &'a Stats,
}

/// Writes the client's events until the router drops its outbox, then the
/// farewell. Everything queued when the writer wakes goes out at once (see
/// `write_batch`), followed by how many messages were dropped meanwhile,
/// if any; bytes the router handed over go before anything else.
pub fn write_loop<W: Sink>(
    out: &mut W,
    writing: &Writing<'_>,
    timeout: Duration,
) -> io::Result<()> {
    let Writing {
        inbox,
        nudge,
        codec,
        session,
        stats,
    } = *writing;
    let mut buf = Vec::new();
    let mut spin = true;
    loop {
        // Parks until the router queues something, hands over bytes or
        // drops the outbox.
        let batch = match nudge.next(inbox, &mut spin) {
            Woken::Events(batch) => batch,
            Woken::Handover => {
                let rest = std::mem::take(&mut *nudge.handover.lock());
                write_within(out, &rest, timeout)?;
                inbox.mailbox.set_stalled(None);
                continue;
            }
        };
        if !batch.events.is_empty() || session.wants_write() {
            // One allocation rather than a doubling from a few bytes: each
            // smaller buffer it replaced would stay cached in this thread's
            // malloc cache (glibc's tcache keeps freed blocks up to 1 KiB
            // per thread), a few KiB for every idle connection.
            buf.reserve(BATCH_BUFFER);
            let mut weight = 0;
            for queued in &batch.events {
                queued.message.write_to(codec, queued.caps, &mut buf);
                weight += queued.message.weight();
            }
            inbox.mailbox.took(weight as u64);
            append_notices(inbox, codec, false, &mut buf);
            session.seal(&mut buf, 0)?;
            write_batch(out, &buf, timeout, &inbox.mailbox)?;
            stats.write_calls.fetch_add(1, Ordering::Relaxed);
            stats
                .written
                .fetch_add(batch.events.len() as u64, Ordering::Relaxed);
            buf.clear();
            if inbox.is_empty() {
                // Idle: give the buffer back; most connections are idle most of
                // the time.
                buf = Vec::new();
            }
        }
        if batch.closed {
            break;
        }
    }
    append_notices(inbox, codec, true, &mut buf);
    session.seal(&mut buf, 0)?;
    session.close(&mut buf)?;
    write_within(out, &buf, timeout)?;
    out.flush()
}

/// Writes a batch whole. It is tried first without waiting: whether the
/// socket takes it all is what tells a client that keeps up from a slow one.
/// If it does not, the router learns that the socket stalled (after
/// [`crate::client::STALL`] it queues at most `--sendq` messages) until the
/// rest is written.
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
mod tests;
