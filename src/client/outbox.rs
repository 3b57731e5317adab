//! A client's bounded outbox: the router's side ([`Outbox`]) and the
//! writer's ([`Inbox`]).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use parking_lot::Mutex;

use super::{ClientId, Farewell, LATE_WRITER, Mailbox, Nudge, STALL, Turn};
use crate::protocol::{Caps, Codec, Name, Outgoing};
use crate::stats::Stats;

/// The sending side of a client's bounded queue of outgoing events.
///
/// Only the router holds it. Dropping it is how the router closes a
/// connection: the writer sends what is queued, then the farewell, then hangs up.
#[derive(Debug)]
pub struct Outbox {
    sink: Sink,
    /// How many events always fit (`--sendq`). The queue itself is
    /// unbounded, so it allocates only what waits rather than every slot
    /// up front for every idle client; the bound is kept here, exactly,
    /// because the router is the only sender.
    capacity: usize,
    /// Beyond `capacity` events, more are queued only while the socket
    /// takes bytes (see [`STALL`]) and what waits weighs at most this
    /// (`--sendq-bytes`).
    max_weight: u64,
    /// The client's IRC capabilities, sent along with each event so the
    /// writer encodes it as the client asked at the time it was queued.
    caps: Caps,
    mailbox: Arc<Mailbox>,
    stats: Arc<Stats>,
    nudge: Option<Arc<dyn Nudge>>,
}

/// Where an outbox puts what it is given.
#[derive(Debug)]
enum Sink {
    /// Events, for a writer on another thread to encode (the threaded
    /// transport): a queue behind a lock.
    Queue {
        queue: Arc<Queue>,
        /// The total weight of the events queued so far; the writer counts
        /// what it took (`Mailbox::took`).
        given: u64,
    },
    /// Events for a writer on the router's own thread (the event loop),
    /// which encodes them with [`Outbox::take_bytes`]. No lock, and no
    /// reference count raised and dropped per delivery: this turn's events
    /// are spans of places in the turn's messages ([`Turn`]). Those two locked
    /// instructions each way were a quarter of the loop's time in a room of
    /// 500. Encoding at delivery instead, as a relay does, made the loop
    /// write megabytes it read back cold when writing, and start writing
    /// later; fan-out was slower for it.
    Local(Local),
}

/// What an outbox on the router's own thread holds.
#[derive(Debug)]
struct Local {
    /// Which client, for the turn's list of outboxes holding places.
    id: ClientId,
    /// Oldest first: events kept from earlier turns (the socket was
    /// full), then this turn's.
    entries: Vec<Entry>,
    /// How many events `entries` hold.
    len: usize,
    /// Their total weight.
    weight: u64,
}

/// Events in an outbox on the router's own thread.
#[derive(Debug)]
enum Entry {
    /// `count` messages of this turn in a row, from place `first` in the
    /// turn's messages: a room's run of messages is one entry for each
    /// member.
    Places { first: u32, count: u32, caps: Caps },
    /// A message kept past its turn.
    Kept(Queued),
}

impl Local {
    /// Adds the `count` places from `first`, weighing `weight`, to the
    /// end; the turn lists the outbox as it is first given places.
    fn place(&mut self, first: u32, count: u32, caps: Caps, weight: u64, turn: &mut Turn) {
        match self.entries.last_mut() {
            Some(Entry::Places {
                first: last,
                count: before,
                caps: same,
            }) if *last + *before == first && *same == caps => *before += count,
            last => {
                if !matches!(last, Some(Entry::Places { .. })) {
                    turn.holding.push(self.id);
                }
                self.entries.push(Entry::Places { first, count, caps });
            }
        }
        self.len += count as usize;
        self.weight += weight;
        turn.deliveries += count as usize;
    }
}

/// When the outbox goes, closed or simply dropped (by a router that
/// panicked, say), the writer hears that it is closed, then is woken: a
/// writer parked on an empty queue would otherwise never learn.
impl Drop for Outbox {
    fn drop(&mut self) {
        self.mailbox.closed.store(true, Ordering::SeqCst);
        if let Some(nudge) = &self.nudge {
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
type Queue = Mutex<VecDeque<Queued>>;

/// A batch this long marks a busy client, whose queue keeps room for the
/// next one (at most `capacity` events, 16 bytes each).
const BUSY_BATCH: usize = 32;

/// The writer's side of an [`Outbox`].
#[derive(Debug)]
pub struct Inbox {
    /// None for an outbox on the router's own thread, which its writer
    /// takes from through the router.
    queue: Option<Arc<Queue>>,
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
        let Some(queue) = &self.queue else {
            let closed = self.mailbox.closed();
            return Batch {
                events: VecDeque::new(),
                closed,
            };
        };
        let mut queue = queue.lock();
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
        let closed = queue.is_empty() && self.mailbox.closed();
        Batch { events, closed }
    }

    /// Whether nothing waits (the outbox may be closed or not).
    pub fn is_empty(&self) -> bool {
        self.queue
            .as_ref()
            .is_none_or(|queue| queue.lock().is_empty())
    }

    /// A second receiving side for whoever writes in the writer's place
    /// while it is parked; the two take turns, never read at once.
    pub fn for_router(&self) -> Inbox {
        Inbox {
            queue: self.queue.clone(),
            mailbox: Arc::clone(&self.mailbox),
            capacity: self.capacity,
        }
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.mailbox.abandoned.store(true, Ordering::SeqCst);
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
/// Given `local` (the client), the writer runs on the router's own thread
/// and takes encoded events through it ([`Outbox::take_bytes`]); without,
/// it runs on another and takes events from the inbox.
pub fn outbox(
    capacity: usize,
    max_weight: usize,
    stats: Arc<Stats>,
    nudge: Option<Arc<dyn Nudge>>,
    local: Option<ClientId>,
) -> (Outbox, Inbox) {
    let mailbox = Arc::new(Mailbox::default());
    let (sink, queue) = match local {
        Some(id) => {
            let local = Local {
                id,
                entries: Vec::new(),
                len: 0,
                weight: 0,
            };
            (Sink::Local(local), None)
        }
        None => {
            let queue = Arc::new(Queue::default());
            let sink = Sink::Queue {
                queue: Arc::clone(&queue),
                given: 0,
            };
            (sink, Some(queue))
        }
    };
    let outbox = Outbox {
        sink,
        capacity,
        max_weight: max_weight as u64,
        caps: Caps::default(),
        mailbox: Arc::clone(&mailbox),
        stats,
        nudge,
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
    /// wake-up, its nudge goes in `turn`.
    pub fn deliver(&mut self, message: &Arc<Outgoing>, now: Instant, turn: &mut Turn) -> Delivery {
        let mut place = turn.last_place(message);
        self.deliver_placed(message, &mut place, now, turn)
    }

    /// [`Outbox::deliver`], for a message delivered to many outboxes in
    /// turn: `place` is its place in the turn's messages, given on the
    /// first delivery that needs one and shared by the rest.
    pub fn deliver_placed(
        &mut self,
        message: &Arc<Outgoing>,
        place: &mut Option<u32>,
        now: Instant,
        turn: &mut Turn,
    ) -> Delivery {
        let weight = message.weight() as u64;
        let full = |waiting: usize, waiting_weight: u64| {
            // Only past the queue's length does the writer's word count.
            waiting >= self.capacity
                && falls_behind(&self.mailbox, self.max_weight, waiting_weight + weight, now)
        };
        let (waiting, local) = match &mut self.sink {
            Sink::Queue { queue, given } => {
                // A writer thread that is gone takes nothing more. The event
                // loop tells the router of every connection that ends, and
                // the look would cost a cache miss per delivery.
                if self.mailbox.abandoned.load(Ordering::Relaxed) {
                    return Delivery::Closed;
                }
                let mut events = queue.lock();
                let waiting = events.len();
                // The writer counts an event after taking it, so `taken` trails.
                if full(waiting, *given - self.mailbox.taken.load(Ordering::Relaxed)) {
                    drop(events);
                    return self.dropped();
                }
                *given += weight;
                events.push_back(Queued {
                    message: Arc::clone(message),
                    caps: self.caps,
                });
                (waiting, false)
            }
            Sink::Local(local) => {
                let waiting = local.len;
                if full(waiting, local.weight) {
                    return self.dropped();
                }
                let place = *place.get_or_insert_with(|| turn.add(message));
                local.place(place, 1, self.caps, weight, turn);
                (waiting, true)
            }
        };
        if let Some(nudge) = &self.nudge {
            // A writer on the router's thread needs no nudge per delivery:
            // at the end of the turn it writes to every outbox the turn
            // lists ([`Turn::holding`]). A flag, a channel and a reference
            // count per recipient were half the loop's user time in a room
            // of 500 at 250 messages a second.
            if !local && nudge.nudge() {
                turn.owed.push(Arc::clone(nudge));
            }
        }
        self.filled(waiting, waiting + 1, turn);
        Delivery::Queued
    }

    /// Tells the writer, if the queue just reached `--sendq` in going from
    /// `before` events to `after`, to start on it.
    fn filled(&self, before: usize, after: usize, turn: &mut Turn) {
        if let Some(nudge) = &self.nudge
            && before < self.capacity
            && after >= self.capacity
        {
            nudge.filling();
            turn.filling = true;
        }
    }

    /// Places a room's run of `messages` in the router's turn for an
    /// outbox on the router's own thread, unless an earlier member's
    /// outbox did (`first`), and says where the first is; None for an
    /// outbox on another thread, which holds messages themselves.
    pub fn place_run(
        &self,
        messages: &[Arc<Outgoing>],
        first: &mut Option<u32>,
        turn: &mut Turn,
    ) -> Option<u32> {
        match self.sink {
            Sink::Local(_) => Some(*first.get_or_insert_with(|| turn.add_all(messages))),
            Sink::Queue { .. } => None,
        }
    }

    /// Delivers the `count` messages from place `first` in the router's
    /// turn ([`Outbox::place_run`]) at once, if they all fit in the
    /// outbox's capacity; if not, it delivers none and says so, and they
    /// are to go one by one ([`Outbox::deliver_placed`]).
    pub fn deliver_places(&mut self, first: u32, count: u32, turn: &mut Turn) -> bool {
        let Sink::Local(local) = &mut self.sink else {
            return false;
        };
        let waiting = local.len;
        if waiting + count as usize > self.capacity {
            return false;
        }
        let weight = turn.weight(first, count);
        local.place(first, count, self.caps, weight, turn);
        self.filled(waiting, waiting + count as usize, turn);
        true
    }

    /// Counts a message dropped for a client that is not keeping up.
    fn dropped(&self) -> Delivery {
        self.mailbox.missed.fetch_add(1, Ordering::Relaxed);
        self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        Delivery::Dropped
    }

    /// Encodes at most `most` events of an outbox on the router's thread
    /// with `codec`, oldest first, at the end of `out`, and says how many.
    /// `turn` is the router's, whose messages this turn's events are places
    /// in; each is encoded once for every outbox of a kind
    /// ([`Turn::bytes`]).
    pub fn take_bytes(
        &mut self,
        codec: &Codec,
        out: &mut Vec<u8>,
        most: usize,
        turn: &mut Turn,
    ) -> usize {
        let Sink::Local(local) = &mut self.sink else {
            return 0;
        };
        let mut left = most;
        let mut done = 0;
        for entry in &mut local.entries {
            if left == 0 {
                break;
            }
            match entry {
                Entry::Kept(queued) => {
                    queued.message.write_to(codec, queued.caps, out);
                    local.weight -= queued.message.weight() as u64;
                    left -= 1;
                    done += 1;
                }
                Entry::Places { first, count, caps } => {
                    let taken = (*count).min(left as u32);
                    out.extend_from_slice(turn.bytes(codec, *caps, *first, taken));
                    local.weight -= turn.weight(*first, taken);
                    left -= taken as usize;
                    if taken == *count {
                        done += 1;
                    } else {
                        *first += taken;
                        *count -= taken;
                    }
                }
            }
        }
        local.entries.drain(..done);
        let taken = most - left;
        local.len -= taken;
        taken
    }

    /// Keeps what this turn queued past its end, as the router's turn
    /// messages are about to be forgotten; call it for every outbox the
    /// turn lists ([`Turn::take_holding`]) and before letting one go.
    pub fn keep(&mut self, turn: &Turn) {
        let Sink::Local(local) = &mut self.sink else {
            return;
        };
        // This turn's places come after the events kept from earlier ones.
        let places = local
            .entries
            .iter()
            .position(|entry| matches!(entry, Entry::Places { .. }))
            .unwrap_or(local.entries.len());
        for entry in local.entries.split_off(places) {
            match entry {
                Entry::Places { first, count, caps } => {
                    local.entries.extend((first..first + count).map(|place| {
                        let message = Arc::clone(turn.message(place));
                        Entry::Kept(Queued { message, caps })
                    }));
                }
                kept => local.entries.push(kept),
            }
        }
    }

    /// Gives back the memory of an outbox on the router's thread that
    /// holds nothing, so a client that went quiet keeps none. Call it now
    /// and then.
    pub fn trim(&mut self) {
        if let Sink::Local(local) = &mut self.sink
            && local.entries.is_empty()
        {
            local.entries = Vec::new();
        }
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
        match &self.sink {
            Sink::Queue { queue, .. } => queue.lock().len(),
            Sink::Local(local) => local.len,
        }
    }

    /// How many messages always fit in the queue.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Lets go of the client: the writer flushes the queue, sends `reason`
    /// and hangs up. `turn` is the router's (see [`Outbox::keep`]).
    pub fn close(mut self, reason: Name, turn: &Turn) {
        self.keep(turn);
        // An outbox on the router's thread goes now: what it holds goes
        // with the reason.
        let leftover = match &mut self.sink {
            Sink::Local(local) => local
                .entries
                .drain(..)
                .filter_map(|entry| match entry {
                    Entry::Kept(queued) => Some(queued),
                    Entry::Places { .. } => None,
                })
                .collect(),
            Sink::Queue { .. } => Vec::new(),
        };
        let farewell = Farewell {
            reason,
            leftover: Mutex::new(leftover),
        };
        // Set before the queue is marked closed (as `self` drops, right after),
        // so the writer sees it once its last batch says closed.
        let _ = self.mailbox.farewell.set(Box::new(farewell));
    }
}

/// Whether a client past its outbox's capacity falls behind with
/// `waiting` weight queued: its socket stalled for [`STALL`] or what waits
/// outweighs `max_weight`, or, while its socket takes bytes, [`LATE_WRITER`]
/// times that.
fn falls_behind(mailbox: &Mailbox, max_weight: u64, waiting: u64, now: Instant) -> bool {
    match mailbox.stalled_for(now) {
        Some(stalled) => stalled >= STALL || waiting > max_weight,
        None => waiting > LATE_WRITER * max_weight,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Protocol, said};

    fn codec() -> Codec {
        Codec {
            protocol: Protocol::Line,
            server: "test".into(),
        }
    }

    /// The texts of the line-protocol lines in `bytes`, in order.
    fn texts(bytes: &[u8]) -> Vec<String> {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(|line| line.rsplit(' ').next().unwrap_or_default().to_owned())
            .collect()
    }

    /// An outbox of client `id` on the router's thread, for 100 events.
    fn local(id: u64) -> (Outbox, Inbox) {
        outbox(
            100,
            1 << 20,
            Arc::new(Stats::default()),
            None,
            Some(ClientId(id)),
        )
    }

    #[test]
    fn a_loop_outbox_keeps_what_its_socket_did_not_take_past_the_turn() {
        let (mut outbox, _inbox) = local(7);
        let (mut other, _other_inbox) = local(8);
        let mut turn = Turn::default();
        let now = Instant::now();
        for text in ["one", "two", "three"] {
            let message = said(text);
            outbox.deliver(&message, now, &mut turn);
            other.deliver(&message, now, &mut turn);
        }
        // Recipients in a row share one place per message.
        assert_eq!(turn.size(), (3, 6));
        assert_eq!(turn.holding, [ClientId(7), ClientId(8)]);
        let mut out = Vec::new();
        assert_eq!(outbox.take_bytes(&codec(), &mut out, 1, &mut turn), 1);
        assert_eq!(texts(&out), ["one"]);
        // The turn ends with two not taken: they outlive its messages.
        let holding = turn.take_holding();
        outbox.keep(&turn);
        turn.finish(holding);
        assert_eq!(turn.size(), (0, 0));
        assert_eq!(outbox.queued(), 2);
        outbox.deliver(&said("four"), now, &mut turn);
        out.clear();
        assert_eq!(outbox.take_bytes(&codec(), &mut out, 100, &mut turn), 3);
        assert_eq!(texts(&out), ["two", "three", "four"]);
        assert_eq!(outbox.queued(), 0);
    }

    #[test]
    fn a_run_is_held_in_spans_that_fit_whole_and_taken_in_batches() {
        let stats = Arc::new(Stats::default());
        let (mut outbox, _inbox) = outbox(4, 1 << 20, stats.clone(), None, Some(ClientId(1)));
        let (threaded, _threaded_inbox) = super::outbox(4, 1 << 20, stats, None, None);
        let mut turn = Turn::default();
        let run = ["a", "b", "c", "d", "e"].map(said);
        let mut first = None;
        assert_eq!(threaded.place_run(&run, &mut first, &mut turn), None);
        assert_eq!(outbox.place_run(&run, &mut first, &mut turn), Some(0));
        // Placed once for every member.
        assert_eq!(outbox.place_run(&run, &mut first, &mut turn), Some(0));
        assert_eq!(turn.size(), (5, 0));
        // Five do not fit in a queue of four: none is queued.
        assert!(!outbox.deliver_places(0, 5, &mut turn));
        assert_eq!(outbox.queued(), 0);
        // The run but what the member said itself ("c").
        assert!(outbox.deliver_places(0, 2, &mut turn));
        assert!(outbox.deliver_places(3, 2, &mut turn));
        assert_eq!(turn.holding, [ClientId(1)]);
        assert_eq!((outbox.queued(), turn.size()), (4, (5, 4)));
        let mut out = Vec::new();
        assert_eq!(outbox.take_bytes(&codec(), &mut out, 3, &mut turn), 3);
        assert_eq!(texts(&out), ["a", "b", "d"]);
        // The rest of a span outlives its turn.
        let holding = turn.take_holding();
        outbox.keep(&turn);
        turn.finish(holding);
        out.clear();
        assert_eq!(outbox.take_bytes(&codec(), &mut out, 100, &mut turn), 1);
        assert_eq!(texts(&out), ["e"]);
    }

    #[test]
    fn a_turn_encodes_for_each_kind_of_client_and_forgets_it_with_its_messages() {
        let irc = Codec {
            protocol: Protocol::Irc,
            server: "test".into(),
        };
        let (mut plain, _plain_inbox) = local(1);
        let (mut stamped, _stamped_inbox) = local(2);
        stamped.set_caps(Caps::SERVER_TIME);
        let mut turn = Turn::default();
        let now = Instant::now();
        for text in ["one", "two"] {
            let message = said(text);
            plain.deliver(&message, now, &mut turn);
            stamped.deliver(&message, now, &mut turn);
        }
        let take = |outbox: &mut Outbox, turn: &mut Turn| {
            let mut out = Vec::new();
            outbox.take_bytes(&irc, &mut out, 100, turn);
            String::from_utf8(out).unwrap()
        };
        let lines = take(&mut stamped, &mut turn);
        assert_eq!(lines.matches("@time=").count(), 2);
        let lines = take(&mut plain, &mut turn);
        assert_eq!(lines.lines().count(), 2);
        assert!(lines.ends_with(":two\r\n") && !lines.contains("time="));
        // The next turn gives the same places to other messages.
        let holding = turn.take_holding();
        turn.finish(holding);
        for text in ["three", "four"] {
            plain.deliver(&said(text), now, &mut turn);
        }
        let lines = take(&mut plain, &mut turn);
        assert!(lines.contains(":three\r\n") && lines.ends_with(":four\r\n"));
    }

    #[test]
    fn a_loop_outbox_closed_mid_turn_leaves_what_it_held_with_the_reason() {
        let (mut outbox, inbox) = local(7);
        let mut turn = Turn::default();
        let now = Instant::now();
        outbox.deliver(&said("kept"), now, &mut turn);
        let holding = turn.take_holding();
        outbox.keep(&turn);
        turn.finish(holding);
        outbox.deliver(&said("placed"), now, &mut turn);
        outbox.close("bye".into(), &turn);
        assert!(inbox.mailbox.closed());
        assert_eq!(
            inbox.mailbox.farewell().map(|reason| &**reason),
            Some("bye")
        );
        let mut bytes = Vec::new();
        for queued in inbox.mailbox.take_leftover() {
            queued.message.write_to(&codec(), queued.caps, &mut bytes);
        }
        assert_eq!(texts(&bytes), ["kept", "placed"]);
    }

    #[test]
    fn a_loop_outbox_is_listed_once_per_run_of_deliveries_and_never_nudged() {
        #[derive(Debug, Default)]
        struct Count(std::sync::atomic::AtomicUsize);
        impl Nudge for Count {
            fn nudge(&self) -> bool {
                self.0.fetch_add(1, Ordering::Relaxed);
                true
            }
            fn wake(&self) {}
        }
        let count = Arc::new(Count::default());
        let nudge: Arc<dyn Nudge> = count.clone();
        let (mut outbox, _inbox) = outbox(
            100,
            1 << 20,
            Arc::new(Stats::default()),
            Some(nudge),
            Some(ClientId(1)),
        );
        let mut turn = Turn::default();
        let now = Instant::now();
        for text in ["a", "b", "c"] {
            outbox.deliver(&said(text), now, &mut turn);
        }
        assert_eq!(turn.holding(0), Some(ClientId(1)));
        assert_eq!(turn.holding(1), None);
        // Emptied by its writer, then given more: listed again.
        outbox.take_bytes(&codec(), &mut Vec::new(), 100, &mut turn);
        outbox.deliver(&said("d"), now, &mut turn);
        assert_eq!(turn.holding(1), Some(ClientId(1)));
        assert_eq!(count.0.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_turn_counts_a_message_once_however_many_outboxes_it_reaches() {
        let stats = Arc::new(Stats::default());
        let mut outboxes: Vec<Outbox> = (1..=3)
            .map(|id| outbox(100, 1 << 20, stats.clone(), None, Some(ClientId(id))).0)
            .collect();
        let mut turn = Turn::default();
        let now = Instant::now();
        let room = said("to the room");
        for outbox in &mut outboxes {
            outbox.deliver(&room, now, &mut turn);
        }
        assert_eq!(turn.size(), (1, 3));
        // A private message each: as many messages as outboxes.
        let mut private = Turn::default();
        for outbox in &mut outboxes[..2] {
            outbox.keep(&turn);
            outbox.deliver(&said("just you"), now, &mut private);
        }
        assert_eq!(private.size(), (2, 2));
    }
}
