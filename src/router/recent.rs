//! What the router keeps in memory for history: each room's latest
//! messages, for the replay on join, and how full each offline box is.
//! Plain data, no I/O.
//!
//! The replay comes from memory, not from the store: a join is answered
//! in the same turn, so the replay reaches the joiner before any message
//! said after the join, with no round trip to the storage thread to wait
//! for and no later messages to hold back meanwhile.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::limits::{OFFLINE_PER_RECIPIENT, OFFLINE_PER_SENDER};
use crate::protocol::{Name, Outgoing, Past};

/// Rooms whose latest messages are kept; past this, the rings of rooms
/// nobody is in go, the longest quiet first.
pub const RINGS_MAX: usize = 4096;

/// How old a message may be and still be replayed on join.
pub const REPLAY_AGE: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// The latest messages of rooms, and the offline boxes' counts.
#[derive(Debug, Default)]
pub struct Recent {
    /// `--replay-lines`: how many messages each ring keeps.
    lines: usize,
    /// By folded room name, oldest first. A ring outlives its room (a room
    /// goes when its last member leaves), so whoever comes back later
    /// still reads what was said.
    rings: HashMap<Name, VecDeque<Arc<Outgoing>>>,
    /// Messages waiting for each offline account (folded), by sender party.
    boxes: HashMap<Name, OfflineBox>,
}

/// One account's offline box: how many messages wait, and from whom.
#[derive(Debug, Default)]
struct OfflineBox {
    total: usize,
    by_sender: HashMap<Name, usize>,
}

/// Why a message cannot be left in an offline box.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoxFull;

impl Recent {
    /// Rings of `lines` messages, filled from what the store had, and the
    /// boxes' counts (owner, sender, count).
    pub fn new(
        lines: usize,
        rooms: Vec<(Name, Vec<Past>)>,
        boxes: Vec<(Name, Name, usize)>,
    ) -> Recent {
        let mut recent = Recent {
            lines,
            ..Recent::default()
        };
        for (key, messages) in rooms.into_iter().take(RINGS_MAX) {
            for past in messages {
                recent.remember(&key, &Outgoing::at(past.message, past.at), |_| false);
            }
        }
        for (owner, sender, count) in boxes {
            let entry = recent.boxes.entry(owner).or_default();
            entry.total += count;
            *entry.by_sender.entry(sender).or_default() += count;
        }
        recent
    }

    /// Keeps `message` as the latest of the room `key`. `live` says which
    /// rooms have members, whose rings are never the ones to go.
    pub fn remember(&mut self, key: &Name, message: &Arc<Outgoing>, live: impl Fn(&Name) -> bool) {
        if self.lines == 0 {
            return;
        }
        if !self.rings.contains_key(key) && self.rings.len() >= RINGS_MAX {
            let quietest = self
                .rings
                .iter()
                .filter(|(room, _)| !live(room))
                .min_by_key(|(_, ring)| ring.back().map(|message| message.time()))
                .map(|(room, _)| room.clone());
            if let Some(room) = quietest {
                self.rings.remove(&room);
            }
        }
        let ring = self.rings.entry(key.clone()).or_default();
        if ring.len() == self.lines {
            ring.pop_front();
        }
        ring.push_back(Arc::clone(message));
    }

    /// The room's messages to replay at `now`: those of the last day,
    /// oldest first.
    pub fn replay(&self, key: &Name, now: jiff::Timestamp) -> Vec<Past> {
        let Some(ring) = self.rings.get(key) else {
            return Vec::new();
        };
        let since = now - REPLAY_AGE;
        ring.iter()
            .filter(|message| message.time() > since)
            .map(|message| Past {
                at: message.time(),
                message: message.event().clone(),
            })
            .collect()
    }

    /// Takes a place in `owner`'s box for a message from `sender`, or says
    /// the box is full (or holds all this sender may leave there).
    pub fn reserve(&mut self, owner: &Name, sender: &Name) -> Result<(), BoxFull> {
        let entry = self.boxes.entry(owner.clone()).or_default();
        let from_sender = entry.by_sender.get(sender).copied().unwrap_or(0);
        if entry.total >= OFFLINE_PER_RECIPIENT || from_sender >= OFFLINE_PER_SENDER {
            return Err(BoxFull);
        }
        entry.total += 1;
        *entry.by_sender.entry(sender.clone()).or_default() += 1;
        Ok(())
    }

    /// Gives back places in `owner`'s box: messages from `sender` that
    /// were delivered, or never saved.
    pub fn release(&mut self, owner: &Name, sender: &Name, count: usize) {
        let Some(entry) = self.boxes.get_mut(owner) else {
            return;
        };
        entry.total = entry.total.saturating_sub(count);
        if let Some(from_sender) = entry.by_sender.get_mut(sender) {
            *from_sender = from_sender.saturating_sub(count);
            if *from_sender == 0 {
                entry.by_sender.remove(sender);
            }
        }
        if entry.total == 0 {
            self.boxes.remove(owner);
        }
    }

    /// Whether messages wait for `owner`.
    pub fn has_mail(&self, owner: &Name) -> bool {
        self.boxes.contains_key(owner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Destination, Event, Mask, MessageKind};

    fn said(text: &str) -> Arc<Outgoing> {
        Outgoing::new(Event::Message {
            from: Arc::new(Mask {
                nick: "ada".into(),
                user: "~ada".into(),
                host: "127.0.0.1".into(),
                account: None,
            }),
            to: Destination::Room("#r".into()),
            text: text.into(),
            kind: MessageKind::Say,
            tags: None,
            id: text.into(),
            long: false,
        })
    }

    fn texts(pasts: &[Past]) -> Vec<String> {
        pasts
            .iter()
            .map(|past| match &past.message {
                Event::Message { text, .. } => text.to_string(),
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn a_ring_keeps_the_latest_lines_of_the_last_day() {
        let mut recent = Recent::new(2, Vec::new(), Vec::new());
        let key: Name = "#r".into();
        for text in ["one", "two", "three"] {
            recent.remember(&key, &said(text), |_| true);
        }
        let now = jiff::Timestamp::now();
        assert_eq!(texts(&recent.replay(&key, now)), ["two", "three"]);
        assert!(recent.replay(&key, now + REPLAY_AGE).is_empty());
        assert!(recent.replay(&"#other".into(), now).is_empty());
    }

    #[test]
    fn an_offline_box_takes_so_many_in_all_and_from_each_sender() {
        let mut recent = Recent::default();
        let owner: Name = "bob".into();
        for _ in 0..OFFLINE_PER_SENDER {
            recent.reserve(&owner, &"ada".into()).unwrap();
        }
        assert_eq!(recent.reserve(&owner, &"ada".into()), Err(BoxFull));
        for sender in 0..(OFFLINE_PER_RECIPIENT - OFFLINE_PER_SENDER) {
            recent.reserve(&owner, &sender.to_string().into()).unwrap();
        }
        assert_eq!(recent.reserve(&owner, &"eve".into()), Err(BoxFull));
        recent.release(&owner, &"ada".into(), OFFLINE_PER_SENDER);
        assert!(recent.has_mail(&owner));
        recent.reserve(&owner, &"eve".into()).unwrap();
    }
}
