//! What the router keeps in memory for history: each room's latest
//! messages, for the replay on join, and how full each offline box is.
//! Plain data, no I/O.
//!
//! The replay comes from memory, not from the store: a join is answered
//! in the same turn, so the replay reaches the joiner before any message
//! said after the join, with no round trip to the storage thread to wait
//! for and no later messages to hold back meanwhile.

use std::collections::{HashMap, VecDeque};

use crate::limits::{OFFLINE_PER_RECIPIENT, OFFLINE_PER_SENDER};
use crate::protocol::{Event, Name, Outgoing, Past};

/// Rings kept for rooms nobody is in (emptied, or not yet joined since a
/// restart); past this, the one emptied longest ago goes.
pub const DORMANT_MAX: usize = 1024;

/// Most bytes of text one ring holds, whatever `--replay-lines` says: 20
/// of the longest line messages would be 80 KiB.
pub const RING_BYTES: usize = 16 * 1024;

/// How old a message may be and still be replayed on join.
pub const REPLAY_AGE: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// The latest messages of rooms, and the offline boxes' counts.
#[derive(Debug, Default)]
pub struct Recent {
    /// `--replay-lines`: how many messages each ring keeps.
    lines: usize,
    /// By folded room name. A ring outlives its room (a room goes when its
    /// last member leaves), so whoever comes back later still reads what
    /// was said.
    rings: HashMap<Name, Ring>,
    /// Rooms nobody is in whose rings are kept, longest empty first.
    dormant: VecDeque<Name>,
    /// Messages waiting for each offline account (folded), by sender party.
    boxes: HashMap<Name, OfflineBox>,
}

/// A room's latest messages, oldest first, and the bytes of their text.
/// Each is the event as delivered (its text shared with the delivered
/// copy, not the copy's encodings) and its time.
#[derive(Debug, Default)]
struct Ring {
    messages: VecDeque<Past>,
    bytes: usize,
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
    /// Rings of `lines` messages, filled from what the store had (rooms
    /// nobody is in yet: the [`DORMANT_MAX`] latest are kept), and the
    /// boxes' counts (owner, sender, count).
    pub fn new(
        lines: usize,
        mut rooms: Vec<(Name, Vec<Past>)>,
        boxes: Vec<(Name, Name, usize)>,
    ) -> Recent {
        let mut recent = Recent {
            lines,
            ..Recent::default()
        };
        rooms.sort_by_key(|(_, messages)| messages.last().map(|past| past.at));
        let skip = rooms.len().saturating_sub(DORMANT_MAX);
        for (key, messages) in rooms.into_iter().skip(skip) {
            for past in messages {
                recent.push(&key, past);
            }
            recent.dormant.push_back(key);
        }
        for (owner, sender, count) in boxes {
            let entry = recent.boxes.entry(owner).or_default();
            entry.total += count;
            *entry.by_sender.entry(sender).or_default() += count;
        }
        recent
    }

    /// Keeps `message` as the latest of the room `key`.
    pub fn remember(&mut self, key: &Name, message: &Outgoing) {
        let past = Past {
            at: message.time(),
            message: message.event().clone(),
        };
        self.push(key, past);
    }

    fn push(&mut self, key: &Name, past: Past) {
        if self.lines == 0 {
            return;
        }
        let added = weight(&past);
        let ring = self.rings.entry(key.clone()).or_default();
        ring.messages.push_back(past);
        ring.bytes += added;
        while ring.messages.len() > self.lines || ring.bytes > RING_BYTES {
            let Some(oldest) = ring.messages.pop_front() else {
                break;
            };
            ring.bytes -= weight(&oldest);
        }
    }

    /// The room `key` emptied: its ring is kept, among the dormant ones.
    pub fn dormant(&mut self, key: &Name) {
        if !self.rings.contains_key(key) {
            return;
        }
        self.dormant.push_back(key.clone());
        if self.dormant.len() > DORMANT_MAX
            && let Some(oldest) = self.dormant.pop_front()
        {
            self.rings.remove(&oldest);
        }
    }

    /// The room `key` has members again: its ring is no longer dormant.
    pub fn revive(&mut self, key: &Name) {
        if let Some(at) = self.dormant.iter().position(|dormant| dormant == key) {
            self.dormant.remove(at);
        }
    }

    /// The room's messages to replay at `now`: those of the last day,
    /// oldest first.
    pub fn replay(&self, key: &Name, now: jiff::Timestamp) -> Vec<Past> {
        let Some(ring) = self.rings.get(key) else {
            return Vec::new();
        };
        let since = now - REPLAY_AGE;
        ring.messages
            .iter()
            .filter(|past| past.at > since)
            .cloned()
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

/// What a kept message counts against [`RING_BYTES`]: its text.
fn weight(past: &Past) -> usize {
    match &past.message {
        Event::Message { text, .. } => text.len(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::said;

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
            recent.remember(&key, &said(text));
        }
        let now = jiff::Timestamp::now();
        assert_eq!(texts(&recent.replay(&key, now)), ["two", "three"]);
        assert!(recent.replay(&key, now + REPLAY_AGE).is_empty());
        assert!(recent.replay(&"#other".into(), now).is_empty());
    }

    #[test]
    fn a_ring_holds_so_many_bytes_and_so_many_empty_rooms_keep_theirs() {
        let mut recent = Recent::new(20, Vec::new(), Vec::new());
        let key: Name = "#r".into();
        let long = "x".repeat(RING_BYTES / 3);
        for _ in 0..5 {
            recent.remember(&key, &said(&long));
        }
        let now = jiff::Timestamp::now();
        assert_eq!(recent.replay(&key, now).len(), 3);
        for n in 0..=DORMANT_MAX {
            let room: Name = format!("#{n}").into();
            recent.remember(&room, &said("hi"));
            recent.dormant(&room);
        }
        // The first to empty went; a room with members again is not
        // dormant, so it never goes.
        assert!(recent.replay(&"#0".into(), now).is_empty());
        assert_eq!(recent.replay(&"#1".into(), now).len(), 1);
        recent.revive(&"#1".into());
        for late in ["#late", "#later"] {
            recent.remember(&late.into(), &said("hi"));
            recent.dormant(&late.into());
        }
        assert_eq!(recent.replay(&"#1".into(), now).len(), 1);
        assert!(recent.replay(&"#2".into(), now).is_empty());
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
