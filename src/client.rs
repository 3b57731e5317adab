//! A client as the router sees it from outside: an id and a bounded outbox.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::protocol::{Caps, Name, Outgoing};
use crate::stats::Stats;

/// A map keyed by connection. Ids are the server's own counter, so nobody
/// can pick keys that collide, and Fx hashing is one multiplication where
/// SipHash took 4% of the event loop's time in a busy room.
pub type IdMap<V> = std::collections::HashMap<ClientId, V, rustc_hash::FxBuildHasher>;

/// Identifies one connection for its whole life; never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub u64);

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What the connection layer learnt about a client's link while setting
/// it up, for the router (`Input::Connected`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Link {
    /// The connection is encrypted (TLS).
    pub tls: bool,
    /// The SHA-256 of the client certificate the peer proved it holds, in
    /// lowercase hex, if it offered one.
    pub certfp: Option<Box<str>>,
    /// IRC over WebSocket (an upgraded HTTP connection).
    pub websocket: bool,
}

/// How long a client's socket may take no bytes before the client counts
/// as slow. A client that reads takes bytes all the time, however busy its
/// rooms; meanwhile a burst waits for it, within `--sendq-bytes`.
pub const STALL: Duration = Duration::from_secs(1);

/// How many times `--sendq-bytes` may wait for a client whose socket is
/// taking everything it is given: then it is the server's writer that is
/// late (short of CPU, say), not the client, and the client should not pay
/// for it; but memory stays bounded all the same.
pub const LATE_WRITER: u64 = 4;

/// What the router and a connection's writer share besides the queue itself.
#[derive(Debug, Default)]
pub struct Mailbox {
    /// Messages dropped because the queue was full and not yet reported to the
    /// client; the writer reports and resets it after it drains the queue.
    missed: AtomicU64,
    /// Why the router closed the connection. The writer sends this after the
    /// last queued message, so the reason arrives even when the queue was full.
    farewell: OnceLock<Name>,
    /// Since when the client's socket has taken no bytes (a write would
    /// block, or one is waiting); `None` while it takes them. Only the writer
    /// sets it, and the router looks only at clients past `--sendq`: a lock
    /// is simpler than a message here, and rarely taken.
    stalled: Mutex<Option<Instant>>,
    /// The total weight of the events the writer took from the queue. The
    /// router adds up what it queued; the difference is what waits.
    taken: AtomicU64,
}

impl Mailbox {
    /// Takes the count of messages dropped since the last call.
    pub fn take_missed(&self) -> u64 {
        self.missed.swap(0, Ordering::Relaxed)
    }

    /// The reason the router gave when it let go of the client, if it did.
    pub fn farewell(&self) -> Option<&Name> {
        self.farewell.get()
    }

    /// The writer says since when the socket has taken no bytes, or that
    /// it takes them again (`None`).
    pub fn set_stalled(&self, since: Option<Instant>) {
        *self.stalled.lock() = since;
    }

    /// How long the socket has taken no bytes, at `now`, if it is not
    /// taking them.
    fn stalled_for(&self, now: Instant) -> Option<Duration> {
        self.stalled
            .lock()
            .map(|since| now.saturating_duration_since(since))
    }

    /// The writer took events of this total [`Outgoing::weight`] from the queue.
    pub fn took(&self, weight: u64) {
        self.taken.fetch_add(weight, Ordering::Relaxed);
    }
}

/// How whoever writes a client's socket hears that its outbox changed.
///
/// Telling is split in two so that a burst costs one wake-up per writer, not
/// one per message: [`Outbox::deliver`] calls `nudge` on every delivery and
/// notes the writers that need a `wake` in [`Wakes`]; the router wakes them
/// all once it has handled everything that was ready.
pub trait Nudge: Send + Sync + fmt::Debug {
    /// Something was queued. True when this is the first change since the
    /// writer last looked, so a [`Nudge::wake`] is owed.
    fn nudge(&self) -> bool;

    /// Makes sure the writer looks at its outbox soon; cheap when it is
    /// already awake.
    fn wake(&self);

    /// The queue reached `--sendq` in the middle of the router's turn: a
    /// writer that runs beside the router should start on it now rather
    /// than when the turn ends.
    fn filling(&self) {
        self.wake();
    }

    /// The outbox is gone (the router closed the connection or dropped
    /// it): the writer is to send what is left and the farewell, then hang
    /// up.
    fn closed(&self) {
        self.nudge();
        self.wake();
    }
}

/// Writers owed a wake-up: filled while the router works, emptied when it
/// has handled what was ready.
#[derive(Debug, Default)]
pub struct Wakes {
    owed: Vec<Arc<dyn Nudge>>,
    /// A queue reached `--sendq` since the last wake-up: its writer is
    /// behind, and the router had better let it run.
    filling: bool,
}

impl Wakes {
    /// Forgets every owed wake-up.
    pub fn clear(&mut self) {
        self.owed.clear();
        self.filling = false;
    }

    /// Wakes every writer owed it.
    pub fn wake_all(&mut self) {
        for nudge in self.owed.drain(..) {
            nudge.wake();
        }
        self.filling = false;
    }

    /// Whether a queue reached `--sendq` since the last wake-up.
    pub fn filling(&self) -> bool {
        self.filling
    }
}

/// The sending side of a client's bounded queue of outgoing events.
///
/// Only the router holds it. Dropping it is how the router closes a
/// connection: the writer sends what is queued, then the farewell, then hangs up.
#[derive(Debug)]
pub struct Outbox {
    queue: Sending,
    /// How many events always fit (`--sendq`). The queue itself is
    /// unbounded, so it allocates only what waits rather than every slot
    /// up front for every idle client; the bound is kept here, exactly,
    /// because the router is the only sender.
    capacity: usize,
    /// Beyond `capacity` events, more are queued only while the socket
    /// takes bytes (see [`STALL`]) and what waits weighs at most this
    /// (`--sendq-bytes`).
    max_weight: u64,
    /// The total weight of the events queued so far.
    given: u64,
    /// The client's IRC capabilities, sent along with each event so the
    /// writer encodes it as the client asked at the time it was queued.
    caps: Caps,
    mailbox: Arc<Mailbox>,
    stats: Arc<Stats>,
    /// Declared after `queue`, so that when the outbox goes, closed or simply
    /// dropped (by a router that panicked, say), the writer's wake-up comes
    /// after the disconnection it is to notice.
    nudge: Farewell,
}

/// The outbox's nudge, which wakes the writer a last time when the outbox
/// goes: a writer parked on an empty queue would otherwise never learn.
#[derive(Debug)]
struct Farewell(Option<Arc<dyn Nudge>>);

impl Drop for Farewell {
    fn drop(&mut self) {
        if let Some(nudge) = &self.0 {
            nudge.closed();
        }
    }
}

/// One event in an outbox.
#[derive(Debug)]
pub struct Queued {
    pub message: Arc<Outgoing>,
    pub caps: Caps,
}

/// A client's queue of events: a deque behind a lock, shared by the
/// outbox and its inbox.
///
/// Not a channel: a crossbeam channel costs about 1.2 KiB per client even
/// when empty (its cache-padded ends and the block of slots it keeps), and
/// most clients are idle. The deque gives its memory back when a short batch
/// empties it. The lock is held only to push one event or to take a batch
/// out (a swap, or at most `capacity` moves), never while encoding or
/// writing, so the router never waits on a writer's work.
#[derive(Debug, Default)]
struct Queue {
    events: Mutex<VecDeque<Queued>>,
    /// The outbox is gone: nothing more will be queued.
    closed: AtomicBool,
    /// An inbox is gone: the connection is ending and nobody will read.
    abandoned: AtomicBool,
}

/// The outbox's hold on the queue, which marks it closed when the outbox
/// goes.
#[derive(Debug)]
struct Sending(Arc<Queue>);

impl Drop for Sending {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::SeqCst);
    }
}

/// A batch this long marks a busy client, whose queue keeps room for the
/// next one (at most `capacity` events, 16 bytes each).
const BUSY_BATCH: usize = 32;

/// The writer's side of an [`Outbox`].
#[derive(Debug)]
pub struct Inbox {
    queue: Arc<Queue>,
    pub mailbox: Arc<Mailbox>,
    /// The outbox's capacity: a writer takes at most this many at once.
    pub capacity: usize,
}

/// Events taken from an [`Inbox`], oldest first.
#[derive(Debug, Default)]
pub struct Batch {
    pub events: VecDeque<Queued>,
    /// The outbox is gone and this batch emptied the queue: nothing more
    /// will come.
    pub closed: bool,
}

impl Inbox {
    /// Takes at most `most` events, oldest first. Never waits but for
    /// the router pushing one event.
    pub fn take(&self, most: usize) -> Batch {
        let mut queue = self.queue.events.lock();
        let events = if queue.is_empty() {
            VecDeque::new()
        } else if queue.len() <= most {
            // A busy client's next batch is likely as long as this one:
            // room for it up front spares the router the deque's growth (six
            // reallocations for 70 events). A quiet client's queue is left
            // holding no memory.
            let room = if queue.len() >= BUSY_BATCH {
                queue.len()
            } else {
                0
            };
            std::mem::replace(&mut *queue, VecDeque::with_capacity(room))
        } else {
            queue.drain(..most).collect()
        };
        // Set only after the last event was queued, so none can follow.
        let closed = queue.is_empty() && self.queue.closed.load(Ordering::SeqCst);
        Batch { events, closed }
    }

    /// Whether nothing waits (the outbox may be closed or not).
    pub fn is_empty(&self) -> bool {
        self.queue.events.lock().is_empty()
    }

    /// A second receiving side for whoever writes in the writer's place
    /// while it is parked; the two take turns, never read at once.
    pub fn for_router(&self) -> Inbox {
        Inbox {
            queue: Arc::clone(&self.queue),
            mailbox: Arc::clone(&self.mailbox),
            capacity: self.capacity,
        }
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.queue.abandoned.store(true, Ordering::SeqCst);
    }
}

/// Whether [`Outbox::deliver`] queued the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    Queued,
    /// The client is not keeping up: the message was dropped for this
    /// client and counted.
    Dropped,
    /// The writer is gone; the connection is closing.
    Closed,
}

/// A bounded queue (see [`Outbox::deliver`] for the bounds): the router's
/// outbox and the writer's inbox. `nudge`, if any, is told of every change.
pub fn outbox(
    capacity: usize,
    max_weight: usize,
    stats: Arc<Stats>,
    nudge: Option<Arc<dyn Nudge>>,
) -> (Outbox, Inbox) {
    let queue = Arc::new(Queue::default());
    let mailbox = Arc::new(Mailbox::default());
    let outbox = Outbox {
        queue: Sending(Arc::clone(&queue)),
        capacity,
        max_weight: max_weight as u64,
        given: 0,
        caps: Caps::default(),
        mailbox: Arc::clone(&mailbox),
        stats,
        nudge: Farewell(nudge),
    };
    let inbox = Inbox {
        queue,
        mailbox,
        capacity,
    };
    (outbox, inbox)
}

impl Outbox {
    /// Queues a message without ever blocking, unless the client is not
    /// keeping up; then the message is dropped for it and counted.
    ///
    /// Up to `capacity` events always fit. Beyond that, a client keeps up
    /// while its socket has not stalled for [`STALL`] and what waits weighs
    /// at most `max_weight`, or, while the socket is taking everything it
    /// is given (the writer is late, not the client), [`LATE_WRITER`] times
    /// that: a burst bigger than the queue reaches a client that reads, and
    /// only one whose socket stops taking bytes (or one the burst outgrows)
    /// loses messages. The writer is not woken yet: if it is owed a
    /// wake-up, its nudge goes in `wakes`.
    pub fn deliver(
        &mut self,
        message: &Arc<Outgoing>,
        now: Instant,
        wakes: &mut Wakes,
    ) -> Delivery {
        let weight = message.weight() as u64;
        let queue = &self.queue.0;
        if queue.abandoned.load(Ordering::Relaxed) {
            return Delivery::Closed;
        }
        let mut events = queue.events.lock();
        let waiting = events.len();
        // Only past the queue's length does the writer's word count.
        if waiting >= self.capacity && self.falls_behind(weight, now) {
            drop(events);
            self.mailbox.missed.fetch_add(1, Ordering::Relaxed);
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return Delivery::Dropped;
        }
        self.given += weight;
        events.push_back(Queued {
            message: Arc::clone(message),
            caps: self.caps,
        });
        drop(events);
        if let Some(nudge) = &self.nudge.0 {
            if nudge.nudge() {
                wakes.owed.push(Arc::clone(nudge));
            }
            if waiting + 1 == self.capacity {
                nudge.filling();
                wakes.filling = true;
            }
        }
        Delivery::Queued
    }

    /// The capabilities events are encoded for from now on.
    pub fn caps(&self) -> Caps {
        self.caps
    }

    /// Changes the capabilities events are encoded for from now on.
    pub fn set_caps(&mut self, caps: Caps) {
        self.caps = caps;
    }

    /// How many messages wait in the queue.
    pub fn queued(&self) -> usize {
        self.queue.0.events.lock().len()
    }

    /// How many messages always fit in the queue.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether a client past `capacity` falls behind with `weight` more.
    fn falls_behind(&self, weight: u64, now: Instant) -> bool {
        let waiting = self.waiting_weight() + weight;
        match self.mailbox.stalled_for(now) {
            Some(stalled) => stalled >= STALL || waiting > self.max_weight,
            None => waiting > LATE_WRITER * self.max_weight,
        }
    }

    /// The total [`Outgoing::weight`] of what waits in the queue.
    fn waiting_weight(&self) -> u64 {
        // The writer counts an event after taking it, so `taken` trails.
        self.given - self.mailbox.taken.load(Ordering::Relaxed)
    }

    /// Lets go of the client: the writer flushes the queue, sends `reason`
    /// and hangs up.
    pub fn close(self, reason: Name) {
        // Set before the queue is marked closed (with `self`, right after),
        // so the writer sees it once its last batch says closed.
        let _ = self.mailbox.farewell.set(reason);
    }
}
