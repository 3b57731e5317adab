//! Events on their way out: wrapped once, encoded once per wire variant,
//! and weighed for the client's send queue.

use std::sync::{Arc, OnceLock};

use super::{Caps, Event, Mask, Name, Protocol, Reply, irc, line};

/// An event on its way to one or many clients, with its wire encodings.
///
/// The router wraps each event once and hands every recipient a clone of the
/// `Arc`. Each protocol's bytes are produced by the first writer that needs
/// them and shared by the rest, so a broadcast to a thousand clients is
/// formatted once per protocol, never once per recipient, and not while the
/// router is routing. Only IRC message tags (the time, client tags), which depend
/// on each recipient's capabilities, are put in front at write time.
#[derive(Debug)]
pub struct Outgoing {
    event: Event,
    /// Roughly how many bytes it takes: what a send queue's byte bound counts.
    weight: usize,
    /// When the router made it, for IRC's `server-time`.
    at: jiff::Timestamp,
    /// Each protocol's bytes, made in a buffer of the event's weight (its
    /// size, near enough) and kept as made: no growing, no shrinking.
    line: OnceLock<Vec<u8>>,
    /// The IRC body, and whether it is several lines (a long message).
    irc: OnceLock<(Vec<u8>, bool)>,
    /// The `server-time` tag value, formatted on first use.
    time: OnceLock<Box<str>>,
}

impl Outgoing {
    /// Wraps an event for delivery, stamped with the current time.
    pub fn new(event: Event) -> Arc<Outgoing> {
        Outgoing::at(event, jiff::Timestamp::now())
    }

    /// Wraps an event from the past, stamped with the time it happened.
    pub fn at(event: Event, at: jiff::Timestamp) -> Arc<Outgoing> {
        Arc::new(Outgoing {
            weight: weigh(&event),
            event,
            at,
            line: OnceLock::new(),
            irc: OnceLock::new(),
            time: OnceLock::new(),
        })
    }

    /// When the router made it (or, from the past, when it happened).
    pub fn time(&self) -> jiff::Timestamp {
        self.at
    }

    /// The event itself.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// Roughly how many bytes the event takes, queued or on the wire (the
    /// two are close): its text, plus `LINE` bytes for each line it becomes.
    /// What `--sendq-bytes` counts.
    pub fn weight(&self) -> usize {
        self.weight
    }

    /// Appends the event's bytes for a client of `codec` with `caps`.
    pub fn write_to(&self, codec: &Codec, caps: Caps, out: &mut Vec<u8>) {
        if let Event::Labeled { label, events } = &self.event {
            // Each as it would be alone, then labeled as a whole.
            let mut lines = Vec::new();
            for event in events {
                event.write_to(codec, caps, &mut lines);
            }
            match codec.protocol {
                Protocol::Line => out.extend_from_slice(&lines),
                Protocol::Irc => irc::write_labeled(label, &lines, &codec.server, caps, out),
            }
            return;
        }
        match codec.protocol {
            Protocol::Line => out.extend_from_slice(self.line.get_or_init(|| {
                let mut bytes = Vec::with_capacity(self.weight);
                line::encode(&self.event, &mut bytes);
                bytes
            })),
            Protocol::Irc => {
                let time = || &**self.time.get_or_init(|| format!("{:.3}", self.at).into());
                if let Event::Reply { .. } = self.event {
                    // Replies have one reader and may depend on its
                    // capabilities: nothing to share, nothing to cache.
                    irc::write_tags(&self.event, caps, time, 0, None, out);
                    irc::encode(&self.event, &codec.server, caps, out);
                    return;
                }
                let (body, several) = self.irc.get_or_init(|| {
                    let mut bytes = Vec::with_capacity(self.weight);
                    irc::encode(&self.event, &codec.server, Caps::default(), &mut bytes);
                    let lines = bytes.iter().filter(|&&byte| byte == b'\n').count();
                    (bytes, lines > 1)
                });
                if !several {
                    // Almost always: one line, written without looking
                    // through it again for every recipient.
                    irc::write_tags(&self.event, caps, time, 0, None, out);
                    out.extend_from_slice(body);
                    return;
                }
                // A long message from a line user is several IRC lines,
                // each with its tags.
                irc::write_lines(&self.event, caps, time, None, body, out);
            }
        }
    }
}

/// Two events are the same if they say the same; when they were made
/// does not matter (tests compare what was said).
impl PartialEq for Outgoing {
    fn eq(&self, other: &Outgoing) -> bool {
        self.event == other.event
    }
}

impl Eq for Outgoing {}

/// How one connection's writer encodes: its protocol and the server's name,
/// which prefixes IRC numerics.
#[derive(Clone, Debug)]
pub struct Codec {
    pub protocol: Protocol,
    pub server: Name,
}

impl Codec {
    /// Appends the bytes of an event that only this client sees.
    pub fn encode(&self, event: Event, caps: Caps, out: &mut Vec<u8>) {
        Outgoing::new(event).write_to(self, caps, out);
    }
}

/// What a line costs besides its text: prefix, command, separators, tags.
pub const LINE: usize = 64;

/// An event's weight: see [`Outgoing::weight`].
fn weigh(event: &Event) -> usize {
    let text = |text: &Option<Name>| text.as_ref().map_or(0, |text| text.len());
    LINE + match event {
        Event::Greeting | Event::Ping(_) | Event::Missed(_) => 0,
        Event::Joined {
            room,
            who,
            extended,
        } => room.len() + mask(who) + text(extended),
        Event::Left { room, who, reason } => room.len() + mask(who) + text(reason),
        Event::Kicked {
            room,
            by,
            nick,
            reason,
        } => room.len() + mask(by) + nick.len() + text(reason),
        Event::Quit { who, reason } => mask(who) + text(reason),
        Event::NickChanged { who, new } => mask(who) + new.len(),
        Event::TopicChanged {
            room,
            who,
            text,
            id,
        } => room.len() + mask(who) + text.len() + id.len(),
        Event::ModeChanged {
            target,
            by,
            changes,
        } => {
            let changes: usize = changes
                .iter()
                .map(|change| 3 + change.arg.as_ref().map_or(0, String::len))
                .sum();
            target.len() + mask(by) + changes
        }
        Event::Message {
            from,
            to,
            text: said,
            tags,
            id,
            ..
        } => mask(from) + to.name().len() + said.len() + text(tags) + id.len(),
        Event::TagMessage { from, to, tags, id } => {
            mask(from) + to.name().len() + tags.len() + id.len()
        }
        Event::Wallops { from, text } => mask(from) + text.len(),
        Event::Away { who, message } => mask(who) + text(message),
        Event::Invited { by, nick, room } => mask(by) + nick.len() + room.len(),
        Event::RealnameChanged { who, realname } => mask(who) + realname.len(),
        Event::AccountChanged { who, account } => mask(who) + text(account),
        Event::Closing(reason) => reason.len(),
        Event::Reply { reply, .. } => weigh_reply(reply),
        Event::Labeled { label, events } => {
            label.len() + events.iter().map(|event| event.weight()).sum::<usize>()
        }
    }
}

/// A reply's weight beyond its first line: lists count a line per entry.
fn weigh_reply(reply: &Reply) -> usize {
    let motd = |motd: &Option<Vec<String>>| {
        motd.iter()
            .flatten()
            .map(|line| LINE + line.len())
            .sum::<usize>()
    };
    match reply {
        Reply::Welcome(welcome) => 16 * LINE + motd(&welcome.info.motd),
        Reply::Motd(info) => motd(&info.motd),
        Reply::Names { members, .. } => members
            .iter()
            .map(|member| member.mask.nick.len() + 2)
            .sum(),
        Reply::Rooms(rooms) => rooms
            .iter()
            .map(|room| LINE + room.name.len() + room.topic.as_ref().map_or(0, |topic| topic.len()))
            .sum(),
        Reply::Who { rows, .. } => rows
            .iter()
            .map(|row| LINE + mask(&row.mask) + row.realname.len())
            .sum(),
        Reply::Whois(whois) => {
            10 * LINE + whois.rooms.iter().map(|room| room.len() + 1).sum::<usize>()
        }
        Reply::BanList { bans, .. } => bans
            .iter()
            .map(|ban| LINE + ban.mask.len() + ban.set_by.len())
            .sum(),
        Reply::Help => 40 * LINE,
        Reply::History { messages, .. } => messages
            .iter()
            .map(|past| LINE + weigh(&past.message))
            .sum(),
        Reply::HistoryTargets(targets) => {
            targets.iter().map(|target| LINE + target.name.len()).sum()
        }
        // One line, or a few short ones.
        _ => LINE,
    }
}

fn mask(mask: &Mask) -> usize {
    mask.nick.len() + mask.user.len() + mask.host.len() + 2
}

/// `text` said in `#r` by `alice`, its id the text too: a message for tests.
#[cfg(test)]
pub(crate) fn said(text: &str) -> Arc<Outgoing> {
    use super::{Destination, MessageKind};
    let from = Arc::new(Mask {
        nick: "alice".into(),
        user: "~alice".into(),
        host: "127.0.0.1".into(),
        account: None,
    });
    Outgoing::new(Event::Message {
        from,
        to: Destination::Room("#r".into()),
        text: text.into(),
        kind: MessageKind::Say,
        tags: None,
        id: text.into(),
        long: false,
    })
}
