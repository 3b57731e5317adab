//! The chat state the router owns: clients, rooms and the rules for names.
//! Plain data, no I/O, no locks.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::accounts::sasl::{Mechanism, Payload};
use crate::accounts::scram::Exchange;
use crate::client::{ClientId, Delivery, IdMap, Link, Outbox, Turn};
use crate::protocol::irc::message::mask_matches;
use crate::protocol::{Ban, Caps, Mask, Name, Outgoing, Protocol, Request, Topic};
use crate::stats::Stats;

use super::run::Run;

pub use crate::limits::{
    BANS_PER_ROOM, HELD_MAX, KEY_MAX, NICK_MAX, REALNAME_MAX, ROOM_MAX, ROOMS_PER_CLIENT,
    TOPIC_MAX, USER_MAX,
};

/// The key under which a nickname or room name is unique: ASCII
/// case-insensitive, like IRC's `CASEMAPPING=ascii`.
pub fn fold(name: &str) -> Name {
    Name::from(&*folded(name))
}

/// [`fold`] for a lookup: borrowed when `name` is already folded, as most
/// names are, so looking one up allocates nothing.
pub fn folded(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
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

/// 1 to [`KEY_MAX`] bytes without spaces, commas or control characters, so
/// a key survives `JOIN #a,#b key1,key2`.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= KEY_MAX
        && !key
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',')
}

/// One connected client.
#[derive(Debug)]
pub struct Client {
    pub outbox: Outbox,
    pub peer: SocketAddr,
    pub protocol: Protocol,
    /// Whether it came over TLS, with which client certificate.
    pub link: Link,
    /// The nickname it asked for and holds, registered or not.
    pub nick: Option<Name>,
    /// IRC `USER`: its user name, given before registration.
    pub user: Option<Name>,
    pub realname: Name,
    /// Whether registration is complete: the client has a nickname (and for
    /// IRC a user name), has finished capability negotiation and gave the
    /// password if one is needed. Nothing else works before.
    pub registered: bool,
    /// IRC: a `CAP LS` or `CAP REQ` before registration holds it until `CAP END`.
    pub negotiating: bool,
    /// The server password it gave, if any.
    pub password: Option<String>,
    /// `nick!user@host`, once registered.
    pub mask: Option<Arc<Mask>>,
    pub away: Option<Name>,
    /// User mode `+i`: hidden from `WHO` by those who share no room with it.
    pub invisible: bool,
    /// User mode `+w`: receives `WALLOPS`.
    pub wallops: bool,
    /// User mode `+o`: a server operator, under this operator name.
    pub operator: Option<Name>,
    /// A password is being checked or an account change saved; requests
    /// wait in `held`, to be answered in order once that is done.
    pub waiting: bool,
    /// Requests that came while `waiting`, in order.
    pub held: VecDeque<Request>,
    /// The account it is logged in to, as registered.
    pub account: Option<Name>,
    /// IRC: an `AUTHENTICATE` exchange under way (boxed: 216 bytes, and
    /// rare).
    pub sasl: Option<Box<Sasl>>,
    /// When it is renamed, unless it logs in: it took a nickname that
    /// belongs to an account it is not logged in to.
    pub nick_deadline: Option<Instant>,
    /// Failed `OPER` attempts in a row, and when the next may be made.
    pub oper_failures: u32,
    pub oper_retry_at: Option<Instant>,
    /// Folded names of the rooms it is in, in the order it joined them.
    pub rooms: Vec<Name>,
    /// Folded names of the rooms it is invited to, oldest first, at most
    /// [`crate::limits::INVITES_PER_CLIENT`].
    pub invites: Vec<Name>,
    /// Folded name of the room plain text goes to (line protocol).
    pub current: Option<Name>,
    pub connected_at: Instant,
    /// Unix time of registration, for `WHOIS`.
    pub signon: i64,
    /// When it last said something, for `WHOIS` idle time.
    pub last_spoke: Instant,
    /// When it last sent anything at all, for IRC ping timeouts.
    pub last_seen: Instant,
    /// Whether an IRC `PING` is waiting for an answer.
    pub ping_sent: bool,
    /// Set while its outbox overflows; cleared once the outbox drains to half.
    pub lag: Option<Lag>,
}

impl Client {
    /// Whether its outbox has drained to half, which ends a lag.
    fn caught_up(&self) -> bool {
        self.outbox.queued() <= self.outbox.capacity() / 2
    }

    /// Queues `message` ([`Outbox::deliver_placed`]) and keeps count of
    /// what it drops: the error is why a client that is not keeping up is
    /// to be cut off.
    pub(super) fn queue(
        &mut self,
        message: &Arc<Outgoing>,
        place: &mut Option<u32>,
        now: Instant,
        turn: &mut Turn,
        policy: SlowPolicy,
    ) -> Result<(), String> {
        // Whether a lagging client caught up is judged by what waited before
        // this message; only lagging clients pay for the look.
        let caught_up = self.lag.is_some() && self.caught_up();
        match self.outbox.deliver_placed(message, place, now, turn) {
            Delivery::Queued => {
                if caught_up {
                    self.lag = None;
                }
            }
            Delivery::Dropped => {
                let lag = self.lag.get_or_insert(Lag {
                    since: now,
                    dropped: 0,
                });
                lag.dropped += 1;
                if lag.dropped == policy.max_dropped {
                    return Err(match self.protocol {
                        Protocol::Line => format!("slow client: {} messages dropped", lag.dropped),
                        Protocol::Irc => "SendQ exceeded".to_owned(),
                    });
                }
            }
            // The connection is closing; its reader reports why.
            Delivery::Closed => {}
        }
        Ok(())
    }

    /// Queues `messages[range]`, a span of a room's run whose place in the
    /// router's turn is `first` once an outbox needed one
    /// ([`Outbox::place_run`]): at once where they all fit
    /// ([`Outbox::deliver_places`]), else one by one ([`Client::queue`]).
    pub(super) fn queue_run(
        &mut self,
        messages: &[Arc<Outgoing>],
        range: Range<usize>,
        first: &mut Option<u32>,
        now: Instant,
        turn: &mut Turn,
        policy: SlowPolicy,
    ) -> Result<(), String> {
        let first = self.outbox.place_run(messages, first, turn);
        let count = range.len() as u32;
        // A lagging client is judged message by message.
        if let Some(first) = first
            && self.lag.is_none()
            && self
                .outbox
                .deliver_places(first + range.start as u32, count, turn)
        {
            return Ok(());
        }
        let mut result = Ok(());
        for index in range {
            let mut place = first.map(|first| first + index as u32);
            if let Err(reason) = self.queue(&messages[index], &mut place, now, turn, policy) {
                result = Err(reason);
            }
        }
        result
    }

    /// Its nickname in replies: `*` until it is registered.
    pub fn me(&self) -> Name {
        match &self.nick {
            Some(nick) if self.registered => nick.clone(),
            _ => "*".into(),
        }
    }

    pub fn caps(&self) -> Caps {
        self.outbox.caps()
    }

    /// Its user modes, as IRC shows them: `+iow`, or `+` for none.
    pub fn user_modes(&self) -> String {
        let mut modes = String::from("+");
        for (on, letter) in [
            (self.invisible, 'i'),
            (self.operator.is_some(), 'o'),
            (self.wallops, 'w'),
        ] {
            if on {
                modes.push(letter);
            }
        }
        modes
    }
}

/// A SASL exchange: the mechanism, the payload being gathered, and how far
/// it got.
#[derive(Debug)]
pub struct Sasl {
    pub mechanism: Mechanism,
    pub payload: Payload,
    pub step: SaslStep,
}

/// Where a SASL exchange stands.
#[derive(Debug)]
pub enum SaslStep {
    /// Waiting for the client's first message.
    Start,
    /// SCRAM: the challenge was sent; waiting for the proof.
    Proof { exchange: Exchange, account: Name },
    /// SCRAM: the proof was good and our signature sent; waiting for the
    /// client's empty answer.
    Verified(Name),
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
    pub members: IdMap<Membership>,
    pub topic: Option<Topic>,
    /// Unix time it was created, for IRC's `RPL_CREATIONTIME`.
    pub created: i64,
    pub modes: RoomModes,
    pub bans: Vec<Ban>,
    /// Clients invited since they last joined: they pass `+i`, and bans.
    /// Oldest first, at most [`crate::limits::INVITES_PER_ROOM`]; each is
    /// also in its client's `invites` (see `router::invites`).
    pub invited: Vec<ClientId>,
    /// The account that created it over the HTTP API: such a room is kept
    /// while empty, until deleted, and its owner's clients are its
    /// operators when they join.
    pub owner: Option<Name>,
}

impl Room {
    /// A room with `creator` as its operator and the usual `+nt`.
    pub fn new(name: Name, creator: ClientId, now: i64) -> Room {
        Room {
            name,
            members: IdMap::from_iter([(
                creator,
                Membership {
                    operator: true,
                    voice: false,
                },
            )]),
            topic: None,
            created: now,
            modes: RoomModes {
                no_external: true,
                topic_locked: true,
                ..RoomModes::default()
            },
            bans: Vec::new(),
            invited: Vec::new(),
            owner: None,
        }
    }

    /// An empty room created by `owner` over the API, with the usual `+nt`.
    pub fn owned(name: Name, owner: Name, now: i64) -> Room {
        let mut room = Room::new(name, ClientId(0), now);
        room.members.clear();
        room.owner = Some(owner);
        room
    }

    /// Whether the room goes once its last member leaves.
    pub fn is_disposable(&self) -> bool {
        self.members.is_empty() && self.owner.is_none()
    }

    pub fn is_operator(&self, id: ClientId) -> bool {
        self.members.get(&id).is_some_and(|member| member.operator)
    }

    /// Whether `mask` matches one of the bans.
    pub fn bans_mask(&self, mask: &Mask) -> bool {
        let subject = mask.to_string();
        self.bans
            .iter()
            .any(|ban| mask_matches(&ban.mask, &subject))
    }

    /// Whether `id` may speak here: operators and voiced members always;
    /// others if not banned, unless the room is moderated, and only members
    /// when it takes no outside messages.
    pub fn may_speak(&self, id: ClientId, mask: &Mask) -> bool {
        match self.members.get(&id) {
            Some(member) if member.operator || member.voice => true,
            Some(_) => !self.modes.moderated && !self.bans_mask(mask),
            None => !self.modes.no_external && !self.modes.moderated && !self.bans_mask(mask),
        }
    }

    /// The modes as IRC shows them, e.g. `+ntk key` (arguments only for members).
    pub fn mode_string(&self, show_args: bool) -> String {
        let modes = &self.modes;
        let mut letters = String::from("+");
        let mut args = Vec::new();
        for (on, letter) in [
            (modes.invite_only, 'i'),
            (modes.moderated, 'm'),
            (modes.no_external, 'n'),
            (modes.secret, 's'),
            (modes.topic_locked, 't'),
        ] {
            if on {
                letters.push(letter);
            }
        }
        if let Some(key) = &modes.key {
            letters.push('k');
            args.push(if show_args { key.clone() } else { "*".into() });
        }
        if let Some(limit) = modes.limit {
            letters.push('l');
            args.push(limit.to_string());
        }
        std::iter::once(letters)
            .chain(args)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A room's settings, IRC's channel modes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoomModes {
    /// `+i`: only invited clients may join.
    pub invite_only: bool,
    /// `+m`: only operators and voiced members may speak.
    pub moderated: bool,
    /// `+n`: only members may send to the room.
    pub no_external: bool,
    /// `+s`: hidden from the room list and from `WHOIS` of others.
    pub secret: bool,
    /// `+t`: only operators set the topic.
    pub topic_locked: bool,
    /// `+k`: the key `/join` must give.
    pub key: Option<String>,
    /// `+l`: most members at once.
    pub limit: Option<usize>,
}

/// A client's standing in a room.
#[derive(Clone, Copy, Debug, Default)]
pub struct Membership {
    pub operator: bool,
    pub voice: bool,
}

impl Membership {
    /// IRC prefixes, highest first: all of them for `multi-prefix`, else the highest.
    pub fn prefixes(self, all: bool) -> &'static str {
        match (self.operator, self.voice, all) {
            (true, true, true) => "@+",
            (true, _, _) => "@",
            (false, true, _) => "+",
            (false, false, _) => "",
        }
    }
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
    /// Boxed: a client is near 500 bytes, and a map's table keeps up to
    /// half its slots free (0.5 KiB of the 2.6 per idle connection at
    /// 19,000; the box costs about 2% of the CPU per fan-out delivery).
    pub map: IdMap<Box<Client>>,
    /// Writers with something new to write, woken once the router has
    /// handled everything that was ready, and the turn's messages.
    pub turn: Turn,
    pub doomed: Vec<(ClientId, Name)>,
    pub policy: SlowPolicy,
    pub stats: Arc<Stats>,
    /// While a labeled request is handled: what it makes for its sender,
    /// gathered to go out as one labeled answer.
    pub labeling: Option<Labeling>,
    /// What was said in one room since the last delivery of anything
    /// else, not yet delivered; only where outboxes are written on the
    /// router's own thread (see `router::run`).
    pub run: Option<Run>,
}

/// The answer to a labeled request (IRC `labeled-response`), gathering.
#[derive(Debug)]
pub struct Labeling {
    pub id: ClientId,
    pub label: Name,
    pub events: Vec<Arc<Outgoing>>,
    /// The answer comes later (a history read): nothing is sent now.
    pub deferred: bool,
}

impl Clients {
    /// Queues `message` for client `id`, if it is still here.
    pub fn send(&mut self, id: ClientId, message: &Arc<Outgoing>, now: Instant) {
        if let Some(labeling) = &mut self.labeling
            && labeling.id == id
        {
            labeling.events.push(Arc::clone(message));
            return;
        }
        self.deliver(id, message, now);
    }

    /// Queues `message` for client `id`, outside any labeled answer.
    pub fn deliver(&mut self, id: ClientId, message: &Arc<Outgoing>, now: Instant) {
        // What was said in a room before this goes first.
        self.end_run(now);
        let Some(client) = self.map.get_mut(&id) else {
            return;
        };
        let mut place = self.turn.last_place(message);
        if let Err(reason) = client.queue(message, &mut place, now, &mut self.turn, self.policy) {
            self.cut_off(id, reason);
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
                lagging.push((id, client.protocol));
            }
        }
        for (id, protocol) in lagging {
            let reason = match protocol {
                Protocol::Line => format!("slow client: outbox full for {} s", max_lag.as_secs()),
                Protocol::Irc => "SendQ exceeded".to_owned(),
            };
            self.cut_off(id, reason);
        }
    }

    /// Condemns a slow client.
    pub(super) fn cut_off(&mut self, id: ClientId, reason: String) {
        self.stats.slow_disconnects.fetch_add(1, Ordering::Relaxed);
        self.doomed.push((id, reason.into()));
    }

    /// The mask of a registered client.
    pub fn mask(&self, id: ClientId) -> Option<&Arc<Mask>> {
        self.map.get(&id)?.mask.as_ref()
    }

    /// The capabilities of a client (none if it is gone).
    pub fn caps(&self, id: ClientId) -> Caps {
        self.map
            .get(&id)
            .map(|client| client.caps())
            .unwrap_or_default()
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
    fn keys() {
        let long = "k".repeat(KEY_MAX + 1);
        for bad in ["", " ", "with space", "a,b", "a\x07", long.as_str()] {
            assert!(!valid_key(bad), "{bad}");
        }
        assert!(valid_key("hunter2"));
    }

    #[test]
    fn folding_is_ascii_case_insensitive() {
        assert_eq!(fold("AlIcE"), fold("alice"));
        assert_eq!(fold("#Rust"), fold("#rust"));
        assert!(matches!(folded("alice"), Cow::Borrowed("alice")));
        assert_eq!(folded("#Rust"), "#rust");
    }
}
