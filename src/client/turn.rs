//! What the router's deliveries leave for the end of its turn.

use std::sync::Arc;

use super::{ClientId, Nudge};
use crate::protocol::{Caps, Codec, Outgoing, Protocol};

/// What the router's deliveries leave for the end of its turn: the
/// writers owed a wake-up, and, for outboxes on the router's own thread,
/// the turn's messages, which those outboxes hold as spans of places in
/// this list rather than by a reference count each (see
/// [`super::Outbox::deliver`]).
#[derive(Debug, Default)]
pub struct Turn {
    pub(super) owed: Vec<Arc<dyn Nudge>>,
    /// A queue reached `--sendq` since the last wake-up: its writer is
    /// behind, and the router had better let it run.
    pub(super) filling: bool,
    /// Each message delivered to such an outbox this turn, once per run of
    /// deliveries of it.
    messages: Vec<Arc<Outgoing>>,
    /// The total [`Outgoing::weight`] of `messages` up to each one, itself
    /// included.
    weights: Vec<u64>,
    /// The clients whose outbox holds places in `messages`.
    pub(super) holding: Vec<ClientId>,
    /// How many places this turn gave out, one per delivery.
    pub(super) deliveries: usize,
    /// The turn's messages as encoded for each kind of client, most used
    /// first.
    encodings: Vec<Encoding>,
}

/// A stretch of the turn's messages encoded for one kind of client. The
/// members of a room take the same span of them: copying its bytes in
/// place of encoding each message for each member made the event loop's
/// fan-out faster (BENCHMARKS.md).
#[derive(Debug)]
struct Encoding {
    protocol: Protocol,
    caps: Caps,
    /// The place of the first message encoded.
    start: usize,
    bytes: Vec<u8>,
    /// Where each message's bytes end.
    ends: Vec<usize>,
}

/// How many kinds of client a turn encodes for at once; the one used
/// longest ago makes way for another. Clients of one server ask for a
/// handful of capability sets.
const ENCODINGS: usize = 8;

/// How many messages an encoding takes in that nobody asked for, to reach
/// a span further on; past that it starts again from the span.
const GAP_MAX: usize = 64;

/// How much of an encoding's buffer outlives a turn.
const ENCODING_KEEP: usize = 64 * 1024;

/// The part of a list of running totals (`ends`) that the `count` items
/// from `first` make up: where they start and where they end.
fn span<T: Copy + Default>(ends: &[T], first: usize, count: usize) -> (T, T) {
    let start = first
        .checked_sub(1)
        .map_or_else(T::default, |last| ends[last]);
    (start, ends[first + count - 1])
}

impl Turn {
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

    /// The `index`th client whose outbox was given places in this turn's
    /// messages, in the order they were given; one whose outbox was
    /// emptied and given more is listed again.
    pub fn holding(&self, index: usize) -> Option<ClientId> {
        self.holding.get(index).copied()
    }

    /// How many messages this turn gave outboxes on the router's own
    /// thread, and how many deliveries of them it made.
    pub fn size(&self) -> (usize, usize) {
        (self.messages.len(), self.deliveries)
    }

    /// Takes the clients whose outbox holds places in this turn's
    /// messages: each is to [`super::Outbox::keep`] them before
    /// [`Turn::finish`].
    pub fn take_holding(&mut self) -> Vec<ClientId> {
        std::mem::take(&mut self.holding)
    }

    /// Forgets this turn's messages, once no outbox holds a place in them.
    pub fn finish(&mut self, mut holding: Vec<ClientId>) {
        holding.clear();
        self.holding = holding;
        self.messages.clear();
        self.weights.clear();
        self.deliveries = 0;
        // Its places are about to be given to other messages; a kind of
        // client nobody asked for this turn is forgotten.
        self.encodings.retain(|encoding| !encoding.ends.is_empty());
        for encoding in &mut self.encodings {
            encoding.start = 0;
            encoding.ends.clear();
            encoding.bytes.clear();
            encoding.bytes.shrink_to(ENCODING_KEEP);
        }
    }

    /// The place of `message` in this turn's messages if it is the last
    /// one added: a room's members get the same message in a row.
    pub fn last_place(&self, message: &Arc<Outgoing>) -> Option<u32> {
        let last = self.messages.last()?;
        Arc::ptr_eq(last, message).then(|| (self.messages.len() - 1) as u32)
    }

    /// Adds `messages` to this turn's messages, in order, and says where
    /// the first went.
    pub fn add_all(&mut self, messages: &[Arc<Outgoing>]) -> u32 {
        let first = self.messages.len() as u32;
        let mut total = self.weights.last().copied().unwrap_or_default();
        for message in messages {
            total += message.weight() as u64;
            self.weights.push(total);
            self.messages.push(Arc::clone(message));
        }
        first
    }

    /// Adds `message` to this turn's messages, and says where.
    pub(super) fn add(&mut self, message: &Arc<Outgoing>) -> u32 {
        self.add_all(std::slice::from_ref(message))
    }

    /// The message at `place`.
    pub(super) fn message(&self, place: u32) -> &Arc<Outgoing> {
        &self.messages[place as usize]
    }

    /// The total [`Outgoing::weight`] of the `count` messages from place
    /// `first`.
    pub(super) fn weight(&self, first: u32, count: u32) -> u64 {
        let (start, end) = span(&self.weights, first as usize, count as usize);
        end - start
    }

    /// The bytes of the `count` messages from place `first`, encoded with
    /// `codec` for `caps`: each message is encoded once per kind of client
    /// in a turn, however many outboxes hold it.
    pub(super) fn bytes(&mut self, codec: &Codec, caps: Caps, first: u32, count: u32) -> &[u8] {
        let kind =
            |encoding: &Encoding| encoding.protocol == codec.protocol && encoding.caps == caps;
        let index = match self.encodings.iter().position(kind) {
            Some(index) => index,
            None => {
                if self.encodings.len() == ENCODINGS {
                    self.encodings.pop();
                }
                self.encodings.push(Encoding {
                    protocol: codec.protocol,
                    caps,
                    start: 0,
                    bytes: Vec::new(),
                    ends: Vec::new(),
                });
                self.encodings.len() - 1
            }
        };
        // The kind asked for now is likely asked for next: kept in front.
        self.encodings[..=index].rotate_right(1);
        let encoding = &mut self.encodings[0];
        let (first, count) = (first as usize, count as usize);
        // Spans come mostly in order, one room's after another's: the
        // encoding grows to take in the next, unless it is behind or far
        // ahead.
        let encoded = encoding.start + encoding.ends.len();
        if first < encoding.start || first > encoded + GAP_MAX {
            encoding.start = first;
            encoding.bytes.clear();
            encoding.ends.clear();
        }
        let encoded = encoding.start + encoding.ends.len();
        if let Some(more) = self.messages.get(encoded..first + count) {
            for message in more {
                message.write_to(codec, caps, &mut encoding.bytes);
                encoding.ends.push(encoding.bytes.len());
            }
        }
        let (start, end) = span(&encoding.ends, first - encoding.start, count);
        &encoding.bytes[start..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::said;

    #[test]
    fn spans_come_from_one_encoding_grown_or_begun_again_as_outboxes_ask() {
        let codec = Codec {
            protocol: Protocol::Line,
            server: "test".into(),
        };
        let messages: Vec<_> = (0..200).map(|n| said(&n.to_string())).collect();
        let mut turn = Turn::default();
        assert_eq!(turn.add_all(&messages), 0);
        let encoded = |first: usize, count: usize| {
            let mut bytes = Vec::new();
            for message in &messages[first..first + count] {
                message.write_to(&codec, Caps::default(), &mut bytes);
            }
            bytes
        };
        // Within, past the end, far past it, and behind.
        for (first, count) in [(10, 5), (0, 3), (12, 20), (150, 10), (140, 60)] {
            let bytes = turn.bytes(&codec, Caps::default(), first as u32, count as u32);
            assert_eq!(bytes, encoded(first, count), "{count} from {first}");
        }
        let weight: usize = messages[3..10].iter().map(|message| message.weight()).sum();
        assert_eq!(turn.weight(3, 7), weight as u64);
    }
}
