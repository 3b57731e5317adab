//! The chat state the router owns: clients, rooms and the rules for names.
//! Plain data, no I/O, no locks.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::client::{ClientId, Delivery, Outbox};
use crate::protocol::{Name, Outgoing, Topic};
use crate::stats::Stats;

/// Longest nickname, in bytes.
pub const NICK_MAX: usize = 24;
/// Longest room name, in bytes, `#` included.
pub const ROOM_MAX: usize = 50;
/// Longest topic, in bytes.
pub const TOPIC_MAX: usize = 390;
/// Most rooms one client can be in at once.
pub const ROOMS_PER_CLIENT: usize = 50;

/// The key under which a nickname or room name is unique: ASCII
/// case-insensitive, like IRC's `CASEMAPPING=ascii`.
pub fn fold(name: &str) -> Name {
    name.to_ascii_lowercase().into()
}

/// Letters, digits and `-[]\`^_{|}`, not starting with a digit or `-`.
pub fn valid_nick(nick: &str) -> bool {
    let special = |c: u8| b"[]\\`^_{|}".contains(&c);
    let bytes = nick.as_bytes();
    match bytes.first() {
        Some(&first) if first.is_ascii_alphabetic() || special(first) => {}
        _ => return false,
    }
    bytes.len() <= NICK_MAX
        && bytes
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || special(c))
}

/// `#` and at least one more character; no whitespace, commas or control
/// characters, so names survive being split on spaces and commas.
pub fn valid_room(name: &str) -> bool {
    name.len() > 1
        && name.len() <= ROOM_MAX
        && name.starts_with('#')
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',')
}

/// One connected client.
#[derive(Debug)]
pub struct Client {
    pub outbox: Outbox,
    /// Where it connected from, for the log.
    pub peer: SocketAddr,
    /// `None` until the client picks a nickname; nothing else works before.
    pub nick: Option<Name>,
    /// Folded names of the rooms it is in, in the order it joined them.
    pub rooms: Vec<Name>,
    /// Folded name of the room plain text goes to.
    pub current: Option<Name>,
    pub connected_at: Instant,
    /// Set while its outbox overflows; cleared once the outbox drains to half.
    pub lag: Option<Lag>,
}

impl Client {
    /// Whether its outbox has drained to half, which ends a lag.
    fn caught_up(&self) -> bool {
        self.outbox.len() <= self.outbox.capacity() / 2
    }
}

/// A spell of a client's outbox overflowing.
#[derive(Clone, Copy, Debug)]
pub struct Lag {
    pub since: Instant,
    pub dropped: u64,
}

/// One room. It exists while somebody is in it.
#[derive(Debug)]
pub struct Room {
    /// The name as its creator spelled it.
    pub name: Name,
    pub members: HashMap<ClientId, Membership>,
    pub topic: Option<Topic>,
    /// Only operators may set the topic (IRC's `+t`, on for every new room).
    pub topic_locked: bool,
    /// The key `/join` must give, if the room has one.
    pub key: Option<String>,
}

/// A client's standing in a room.
#[derive(Clone, Copy, Debug, Default)]
pub struct Membership {
    pub operator: bool,
}

/// When a slow client is cut off.
#[derive(Clone, Copy, Debug)]
pub struct SlowPolicy {
    pub max_dropped: u64,
    pub max_lag: Duration,
}

/// Every client, and the delivery of events to them.
///
/// Delivery never blocks: a full outbox drops the event for that client only.
/// A client that lags past the [`SlowPolicy`] is put on `doomed`, and the
/// router removes it once it is done with the request at hand, because a
/// removal changes the rooms being iterated while delivering.
#[derive(Debug)]
pub struct Clients {
    pub map: HashMap<ClientId, Client>,
    pub doomed: Vec<(ClientId, Name)>,
    pub policy: SlowPolicy,
    pub stats: Arc<Stats>,
}

impl Clients {
    /// Queues `message` for client `id`, if it is still here.
    pub fn send(&mut self, id: ClientId, message: &Arc<Outgoing>, now: Instant) {
        let Some(client) = self.map.get_mut(&id) else {
            return;
        };
        // Whether a lagging client caught up is judged by what waited before
        // this message; only lagging clients pay for the look.
        let caught_up = client.lag.is_some() && client.caught_up();
        match client.outbox.deliver(message) {
            Delivery::Queued => {
                if caught_up {
                    client.lag = None;
                }
            }
            Delivery::Dropped => {
                let lag = client.lag.get_or_insert(Lag {
                    since: now,
                    dropped: 0,
                });
                lag.dropped += 1;
                if lag.dropped == self.policy.max_dropped {
                    let reason = format!("slow client: {} messages dropped", lag.dropped);
                    self.cut_off(id, reason);
                }
            }
            // The connection is closing; its reader reports why.
            Delivery::Closed => {}
        }
    }

    /// Cuts off clients whose outbox stayed full too long, and ends the lag
    /// of clients that caught up since their last delivery (in a quiet room
    /// no delivery would notice).
    pub fn check_lag(&mut self, now: Instant) {
        let max_lag = self.policy.max_lag;
        let max_dropped = self.policy.max_dropped;
        let mut lagging = Vec::new();
        for (&id, client) in &mut self.map {
            let Some(lag) = client.lag else { continue };
            if client.caught_up() {
                client.lag = None;
            } else if lag.dropped < max_dropped && now.duration_since(lag.since) >= max_lag {
                lagging.push(id);
            }
        }
        for id in lagging {
            self.cut_off(
                id,
                format!("slow client: outbox full for {} s", max_lag.as_secs()),
            );
        }
    }

    /// Condemns a slow client.
    fn cut_off(&mut self, id: ClientId, reason: String) {
        self.stats.slow_disconnects.fetch_add(1, Ordering::Relaxed);
        self.doomed.push((id, reason.into()));
    }

    /// The nickname of a registered client.
    pub fn nick(&self, id: ClientId) -> Option<&Name> {
        self.map.get(&id)?.nick.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicknames() {
        for good in [
            "alice",
            "Bob",
            "a",
            "[x]",
            "_under",
            "x-1",
            "a".repeat(NICK_MAX).as_str(),
        ] {
            assert!(valid_nick(good), "{good}");
        }
        let long = "a".repeat(NICK_MAX + 1);
        for bad in ["", "1abc", "-x", "a b", "al!ce", "é", "a,b", long.as_str()] {
            assert!(!valid_nick(bad), "{bad}");
        }
    }

    #[test]
    fn room_names() {
        for good in ["#a", "#rust-lang", "#café", "#a.b"] {
            assert!(valid_room(good), "{good}");
        }
        let long = format!("#{}", "a".repeat(ROOM_MAX));
        for bad in ["#", "rust", "#a b", "#a,b", "#a\x07", long.as_str()] {
            assert!(!valid_room(bad), "{bad}");
        }
    }

    #[test]
    fn folding_is_ascii_case_insensitive() {
        assert_eq!(fold("AlIcE"), fold("alice"));
        assert_eq!(fold("#Rust"), fold("#rust"));
    }
}
