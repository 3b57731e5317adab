//! The evented transport: one thread, one mio event loop, every socket, and
//! the router.
//!
//! The loop accepts, reads, frames and decodes exactly as the threaded
//! transport does (the same [`Intake`](super::Intake)), and writes each
//! client's outbox when its socket can take bytes. Flood control holds lines
//! in the intake and sets a timer instead of sleeping.
//!
//! The loop owns the [`Router`] and hands it each request as soon as it is
//! decoded: the router does no I/O and never blocks, so calling it in place
//! costs what the work costs, where a router thread would add two thread
//! wake-ups to every message. The router still meets the sockets only
//! through the outboxes: it queues without waiting and lists the outbox in
//! its turn; at the end of the turn the loop writes to every client listed
//! (`Router::changed`). Other changes (an outbox closed, an HTTP answer
//! come) nudge the loop (`LoopNudge`), which marks the client ready; a
//! nudge from another thread wakes the loop through its `mio::Waker`, but
//! only when the loop is not already awake.
//!
//! The router's other inputs (the storage thread's and the hashing pool's
//! answers) come on the router's one channel, which the loop owns and
//! drains at the end of every turn; their senders wake the loop the same
//! way ([`RouterSender`] with the loop as its [`Wake`]).
//!
//! An HTTP connection is served by the loop too (`http`): its API calls
//! go to the router in place, and answers that come later (a password
//! checked on the hashing pool) nudge the connection like a delivery.

mod connection;
mod gather;
mod http;
mod setup;

pub use gather::Gathering;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::net::Shutdown;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};

use super::Context;
use crate::client::Nudge;
use crate::config::{Listen, Scheme};
use crate::router::{self, INBOX_CAPACITY, Input, Router, RouterSender, Wake};
use connection::Connection;
use setup::Setup;

/// The waker's token; listeners follow it, then connections.
const WAKER: Token = Token(0);

/// Connections' tokens start here, above any listener's.
const FIRST_CONNECTION: usize = 1 << 20;

/// How many bytes one read asks for.
const READ_CHUNK: usize = 16 * 1024;

/// At most this many reads per connection per loop turn, so one busy client
/// cannot keep the loop from the others; the rest waits for the next turn.
const READS_PER_TURN: usize = 8;

/// The largest write buffer kept for the next connection (see `Loop::spare`).
const SPARE_MAX: usize = 256 * 1024;

/// How often the loop looks for stalled writes.
const HOUSEKEEPING: Duration = Duration::from_millis(500);

/// The running loop, as the server holds it.
#[derive(Debug)]
pub struct EventLoop {
    control: Sender<Control>,
    shared: Arc<Shared>,
    thread: JoinHandle<()>,
}

/// What the server tells the loop.
#[derive(Debug)]
enum Control {
    /// Close the listening sockets and let every client go with the
    /// shutdown farewell.
    ShutDown,
    /// Close every connection and end the loop.
    Exit,
}

/// What the loop shares with the outboxes' nudges and the server.
#[derive(Debug)]
struct Shared {
    waker: Waker,
    /// Whether a wake-up is already on its way, or the loop is running and
    /// will look at `ready` before it sleeps again.
    awake: AtomicBool,
    /// Clients nudged since the loop last looked (see the module's
    /// documentation).
    ready: Sender<Token>,
    /// Clients whose outbox reached `--sendq` during the turn: they are
    /// written right after the read that filled them, so a long turn of
    /// reading piles up no more than one read's worth for anyone.
    filling: Sender<Token>,
}

impl Wake for Shared {
    fn wake(&self) {
        if !self.awake.swap(true, Ordering::AcqRel) {
            // A failed wake means the loop is gone; nothing to do.
            let _ = self.waker.wake();
        }
    }
}

/// The nudge one client's outbox gives the loop.
#[derive(Debug)]
struct LoopNudge {
    token: Token,
    /// Set while the token is in `ready` and not yet taken, so that it is
    /// there once.
    scheduled: AtomicBool,
    shared: Arc<Shared>,
}

/// As the waker of an HTTP request's answer: the connection is looked at
/// at the end of the turn, as if its outbox had changed.
impl Wake for LoopNudge {
    fn wake(&self) {
        Nudge::nudge(self);
        self.shared.wake();
    }
}

impl Nudge for LoopNudge {
    fn nudge(&self) -> bool {
        let first = !self.scheduled.swap(true, Ordering::AcqRel);
        if first {
            let _ = self.shared.ready.send(self.token);
        }
        first
    }

    fn wake(&self) {
        self.shared.wake();
    }

    fn filling(&self) {
        // The loop runs the router, so it is awake: it only needs to know.
        let _ = self.shared.filling.send(self.token);
    }
}

/// Starts the loop thread over every listener (from [`super::bind`]). It
/// owns the router that `router` makes: given how to send it inputs from
/// other threads (waking the loop), it starts the router's helpers.
pub fn start(
    endpoints: Vec<(Listen, std::net::TcpListener)>,
    context: Context,
    router: impl FnOnce(RouterSender) -> io::Result<Router>,
    watch: super::PanicWatch,
) -> io::Result<EventLoop> {
    let poll = Poll::new()?;
    let waker = Waker::new(poll.registry(), WAKER)?;
    let (ready_tx, ready_rx) = crossbeam_channel::unbounded();
    let (filling_tx, filling_rx) = crossbeam_channel::unbounded();
    let shared = Arc::new(Shared {
        waker,
        awake: AtomicBool::new(false),
        ready: ready_tx,
        filling: filling_tx,
    });
    let (inputs_tx, inputs) = crossbeam_channel::bounded(INBOX_CAPACITY);
    let waker: Arc<dyn Wake> = shared.clone();
    let router = router(RouterSender::new(inputs_tx, Some(waker)))?;
    let mut listeners = HashMap::new();
    for (index, (Listen { scheme, .. }, listener)) in endpoints.into_iter().enumerate() {
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        let token = Token(index + 1);
        poll.registry()
            .register(&mut listener, token, Interest::READABLE)?;
        let addr = listener.local_addr()?;
        log::info!("serving {scheme}://{addr}");
        listeners.insert(token, (listener, scheme));
    }
    let (control, control_rx) = crossbeam_channel::unbounded();
    let state = Loop {
        poll,
        listeners,
        connections: HashMap::default(),
        spare: Vec::new(),
        timers: BinaryHeap::new(),
        again: Vec::new(),
        chunk: vec![0; READ_CHUNK],
        housekept: Instant::now(),
        next_tick: Instant::now() + router::TICK,
        router,
        context,
        shared: Arc::clone(&shared),
        ready: ready_rx,
        filling: filling_rx,
        inputs,
        control: control_rx,
    };
    let thread = std::thread::Builder::new()
        .name("sb-events".into())
        .spawn(move || {
            let _watch = watch;
            state.run()
        })?;
    Ok(EventLoop {
        control,
        shared,
        thread,
    })
}

impl EventLoop {
    /// Closes the listening sockets and tells every client the server is
    /// going down; the loop goes on until their farewells are written.
    pub fn shut_down(&self) {
        let _ = self.control.send(Control::ShutDown);
        self.shared.wake();
    }

    /// Closes whatever connections are left and waits for the loop to end.
    pub fn exit(self) {
        let _ = self.control.send(Control::Exit);
        self.shared.wake();
        if self.thread.join().is_err() {
            log::error!("the event loop panicked");
        }
    }
}

/// The loop's own state; it lives on the loop thread only.
struct Loop {
    poll: Poll,
    listeners: HashMap<Token, (TcpListener, Scheme)>,
    /// Boxed: a map's free slots are as big as its values, and at tens of
    /// thousands of idle connections those would cost more than the boxes.
    connections: HashMap<Token, Box<Connection>, rustc_hash::FxBuildHasher>,
    /// The write buffer of the last connection that went idle, lent to the
    /// next one with something to write: in a busy room each then encodes
    /// into room it already has instead of growing a fresh buffer (a tenth
    /// of the loop's time went to malloc and realloc).
    spare: Vec<u8>,
    /// Flood-control deadlines, earliest first; stale entries are skipped.
    timers: BinaryHeap<Reverse<(Instant, Token)>>,
    /// Connections that had more to read when their turn ended.
    again: Vec<Token>,
    chunk: Vec<u8>,
    /// When stalled writes were last looked for.
    housekept: Instant,
    /// When the router next checks its clocks.
    next_tick: Instant,
    router: Router,
    context: Context,
    shared: Arc<Shared>,
    ready: Receiver<Token>,
    filling: Receiver<Token>,
    /// The router's channel, for inputs from other threads.
    inputs: Receiver<Input>,
    control: Receiver<Control>,
}

impl Loop {
    fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut gathering = Gathering::default();
        loop {
            let timeout = if gathering.looking() {
                Duration::ZERO
            } else {
                self.timeout()
            };
            if let Err(error) = self.poll.poll(&mut events, Some(timeout))
                && error.kind() != io::ErrorKind::Interrupted
            {
                log::error!("event loop cannot poll: {error}");
                break;
            }
            for event in events.iter() {
                match event.token() {
                    WAKER => {}
                    token if self.listeners.contains_key(&token) => self.accept(token),
                    token => {
                        let closed = event.is_read_closed() || event.is_error();
                        if event.is_readable() || closed {
                            self.read(token, closed);
                            self.write_filling();
                        }
                        if event.is_writable() {
                            self.flush(token);
                        }
                    }
                }
            }
            if self.take_control() {
                break;
            }
            for token in std::mem::take(&mut self.again) {
                self.read(token, true);
                self.write_filling();
            }
            self.fire_timers();
            self.write_filling();
            self.tick();
            self.check_stalled();
            // Before writing, look again for input that came while this
            // turn worked (`Gathering`): in a busy room that halves the
            // writes per message, for the price of an `epoll_wait`.
            self.router.end_run(Instant::now());
            let (messages, deliveries) = self.router.turn_size();
            let output = !self.ready.is_empty() || self.router.changed(0).is_some();
            if gathering.again(!events.is_empty(), output, messages, deliveries) {
                continue;
            }
            self.take_ready();
        }
        // Exit: whatever is left is closed as it stands.
        for (_, connection) in self.connections.drain() {
            let _ = connection.stream.shutdown(Shutdown::Both);
        }
    }

    /// How long `poll` may sleep: not at all if reads are left over, else
    /// until the next flood-control deadline or router tick, whichever
    /// comes first.
    fn timeout(&self) -> Duration {
        if !self.again.is_empty() {
            return Duration::ZERO;
        }
        let mut wake_at = self.next_tick;
        if let Some(&Reverse((at, _))) = self.timers.peek() {
            wake_at = wake_at.min(at);
        }
        wake_at.saturating_duration_since(Instant::now())
    }

    /// Lets the router check its clocks (registration, ping and lag
    /// deadlines) every [`router::TICK`].
    fn tick(&mut self) {
        let now = Instant::now();
        if now >= self.next_tick {
            self.router.tick(now);
            self.next_tick = now + router::TICK;
        }
    }

    /// Applies the server's commands; true when the loop must end.
    fn take_control(&mut self) -> bool {
        while let Ok(command) = self.control.try_recv() {
            match command {
                Control::ShutDown => {
                    for (_, (mut listener, _)) in self.listeners.drain() {
                        let _ = self.poll.registry().deregister(&mut listener);
                    }
                    self.router.shutdown();
                    // The router does not know those still being set up:
                    // nobody would tell them to go.
                    let setting_up: Vec<Token> = self
                        .connections
                        .iter()
                        .filter(|(_, connection)| connection.setup.is_some())
                        .map(|(&token, _)| token)
                        .collect();
                    for token in setting_up {
                        self.close(token);
                    }
                }
                Control::Exit => return true,
            }
        }
        false
    }

    /// Writes to the clients whose outbox reached `--sendq` since the last
    /// look. They stay on the ready list, where a second look costs little.
    fn write_filling(&mut self) {
        while let Ok(token) = self.filling.try_recv() {
            self.flush(token);
        }
    }

    /// Hands the router what other threads sent it, then writes to every
    /// client whose outbox changed.
    fn take_ready(&mut self) {
        // Cleared before looking, so a nudge or an input from another
        // thread while we work wakes the loop again rather than being lost.
        // Nudges from the router while we write (a write error ends a
        // client, whose peers hear of it) land in `ready` and are taken in
        // this same loop.
        self.shared.awake.store(false, Ordering::Release);
        let now = Instant::now();
        for input in self.inputs.try_iter().take(INBOX_CAPACITY) {
            self.router.handle(input, now);
        }
        if !self.inputs.is_empty() {
            // More than a turn's worth: the rest next turn, without sleeping.
            self.shared.wake();
        }
        self.router.end_run(now);
        // Every outbox the router gave something this turn, and those
        // nudged otherwise (closed ones, HTTP answers); writing to one may
        // change others.
        let mut next = 0;
        loop {
            while let Ok(token) = self.ready.try_recv() {
                if let Some(connection) = self.connections.get(&token) {
                    connection.nudge.scheduled.store(false, Ordering::Release);
                    self.flush(token);
                }
            }
            while let Some(id) = self.router.changed(next) {
                next += 1;
                let token = setup::token_of(id);
                // A full socket says when it takes more (a writable event).
                if self
                    .connections
                    .get(&token)
                    .is_some_and(|connection| connection.stalled_since.is_none())
                {
                    self.flush(token);
                }
            }
            if self.ready.is_empty() {
                break;
            }
        }
        // What full sockets did not take waits for them past the turn.
        self.router.end_turn();
    }

    /// Dispatches the lines of clients whose flood-control wait is over.
    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(&Reverse((at, token))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            if let Some(connection) = self.connections.get_mut(&token)
                && connection.resume_at == Some(at)
            {
                connection.resume_at = None;
                Self::dispatch(connection, token, &mut self.router, &mut self.timers);
                if connection.finished && connection.resume_at.is_none() {
                    self.end(token, "connection closed".into());
                }
            }
        }
    }

    /// Ends connections whose output made no progress for `--write-timeout`,
    /// and those whose setup outlived `--register-timeout`. Looks at every
    /// connection, so only once per housekeeping interval.
    fn check_stalled(&mut self) {
        let now = Instant::now();
        if now.duration_since(self.housekept) < HOUSEKEEPING {
            return;
        }
        self.housekept = now;
        let timeout = self.context.config.write_timeout;
        let stalled: Vec<Token> = self
            .connections
            .iter()
            .filter(|(_, connection)| {
                connection
                    .stalled_since
                    .is_some_and(|since| now.duration_since(since) >= timeout)
            })
            .map(|(&token, _)| token)
            .collect();
        let late: Vec<Token> = self
            .connections
            .iter()
            .filter(|(_, connection)| connection.late(now))
            .map(|(&token, _)| token)
            .collect();
        for token in late {
            let reason = match self.connections.get_mut(&token) {
                Some(connection) if connection.session.serving_http() => {
                    // A 408 for a request that was arriving.
                    let _ = connection.session.http_timed_out(&mut connection.out);
                    "HTTP request timed out"
                }
                _ => "TLS handshake timed out",
            };
            self.end(token, reason.into());
        }
        for token in stalled {
            self.end(token, "connection timed out".into());
            self.close(token);
        }
    }
}
