//! A client as the router sees it from outside: an id and a bounded outbox.

mod outbox;
mod turn;

pub use outbox::{Batch, Delivery, Inbox, Outbox, Queued, outbox};
pub use turn::Turn;

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::protocol::Name;

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
    /// Boxed, as most clients are not leaving.
    farewell: OnceLock<Box<Farewell>>,
    /// Since when the client's socket has taken no bytes (a write would
    /// block, or one is waiting); `None` while it takes them. Only the writer
    /// sets it, and the router looks only at clients past `--sendq`: a lock
    /// is simpler than a message here, and rarely taken.
    stalled: Mutex<Option<Instant>>,
    /// The total weight of the events the writer took from the queue. The
    /// router adds up what it queued; the difference is what waits.
    taken: AtomicU64,
    /// The outbox is gone: nothing more will be queued.
    closed: AtomicBool,
    /// An inbox is gone: the connection is ending and nobody will read.
    abandoned: AtomicBool,
}

/// What the router said as it let go of a client.
#[derive(Debug)]
struct Farewell {
    reason: Name,
    /// What an outbox on the router's thread still held, for the writer to
    /// send before the reason.
    leftover: Mutex<Vec<Queued>>,
}

impl Mailbox {
    /// Takes the count of messages dropped since the last call.
    pub fn take_missed(&self) -> u64 {
        // A plain load first: nearly always nothing was missed, and a swap
        // is a locked instruction on every write.
        if self.missed.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        self.missed.swap(0, Ordering::Relaxed)
    }

    /// The reason the router gave when it let go of the client, if it did.
    pub fn farewell(&self) -> Option<&Name> {
        self.farewell.get().map(|farewell| &farewell.reason)
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

    /// The writer took events of this total
    /// [`crate::protocol::Outgoing::weight`] from the queue.
    pub fn took(&self, weight: u64) {
        self.taken.fetch_add(weight, Ordering::Relaxed);
    }

    /// Whether the outbox is gone, so that nothing more will be queued.
    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Takes what an outbox on the router's thread held when the router
    /// let go of it.
    pub fn take_leftover(&self) -> Vec<Queued> {
        self.farewell
            .get()
            .map(|farewell| std::mem::take(&mut *farewell.leftover.lock()))
            .unwrap_or_default()
    }
}

/// How whoever writes a client's socket hears that its outbox changed.
///
/// Telling is split in two so that a burst costs one wake-up per writer, not
/// one per message: [`Outbox::deliver`] calls `nudge` on every delivery to
/// a writer on another thread and notes the writers that need a `wake` in
/// [`Turn`]; the router wakes them all once it has handled everything that
/// was ready. A writer on the router's own thread is not nudged for
/// deliveries: it walks [`Turn::holding`].
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
