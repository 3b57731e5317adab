//! One method per request. Each checks the request against the state, changes
//! the state, and queues the events that tell everyone concerned.

use std::sync::Arc;
use std::time::Instant;

mod accounts;
mod api;
mod certificates;
mod history;
mod messages;
mod modes;
mod operators;
mod ownership;
mod queries;
mod registration;
mod rooms;
mod sasl;

use super::Router;
use super::state::{self, HELD_MAX, Labeling};
use crate::client::ClientId;
use crate::protocol::{Caps, Error, Event, Mask, Name, Outgoing, Protocol, Reply, Request};

/// The current Unix time in seconds.
fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

impl Router {
    /// Handles a labeled request: for a client with `labeled-response`,
    /// whatever it makes for its sender goes out as one labeled answer.
    fn labeled(&mut self, id: ClientId, label: Name, request: Request, now: Instant) {
        if !self.clients.caps(id).contains(Caps::LABELED_RESPONSE) {
            return self.request(id, request, now);
        }
        self.clients.labeling = Some(Labeling {
            id,
            label,
            events: Vec::new(),
            deferred: false,
        });
        self.request(id, request, now);
        self.finish_label(now);
    }

    /// Sends the labeled answer gathered, unless it comes later: from a
    /// helper (a history read), or after a password check or a save, which
    /// are answered unlabeled.
    pub(super) fn finish_label(&mut self, now: Instant) {
        let Some(labeling) = self.clients.labeling.take() else {
            return;
        };
        let waiting = self
            .clients
            .map
            .get(&labeling.id)
            .is_some_and(|client| client.waiting);
        if labeling.events.is_empty() && (labeling.deferred || waiting) {
            return;
        }
        let answer = Outgoing::new(Event::Labeled {
            label: labeling.label,
            events: labeling.events,
        });
        self.clients.deliver(labeling.id, &answer, now);
    }

    /// The label of the request being handled for `id`, marked as answered
    /// later, by whoever takes it (an error meanwhile is still answered at
    /// once: a deferred answer with events goes out).
    pub(super) fn defer_label(&mut self, id: ClientId) -> Option<Name> {
        let labeling = self
            .clients
            .labeling
            .as_mut()
            .filter(|labeling| labeling.id == id)?;
        labeling.deferred = true;
        Some(labeling.label.clone())
    }

    /// Starts gathering a labeled answer that comes later.
    pub(super) fn resume_label(&mut self, id: ClientId, label: Option<Name>) {
        self.clients.labeling = label.map(|label| Labeling {
            id,
            label,
            events: Vec::new(),
            deferred: false,
        });
    }

    /// Dispatches one request from a connected client.
    pub(super) fn request(&mut self, id: ClientId, request: Request, now: Instant) {
        // Only a message may add to what was said in a room (`run`):
        // anything else may change who is in it or a client's
        // capabilities, also when a held request is answered late.
        if !matches!(request, Request::Message { .. }) {
            self.clients.end_run(now);
        }
        let Some(client) = self.clients.map.get_mut(&id) else {
            // Sent before the disconnect was handled; nobody is listening.
            return;
        };
        client.last_seen = now;
        client.ping_sent = false;
        if client.waiting {
            // Answered in order once the password check or save is done.
            if client.held.len() == HELD_MAX {
                self.counters.cut_flood += 1;
                self.clients
                    .doomed
                    .push((id, crate::limits::EXCESS_FLOOD.into()));
            } else {
                client.held.push_back(request);
            }
            return;
        }
        if let Request::Labeled { label, request } = request {
            return self.labeled(id, label.into(), *request, now);
        }
        let registered = client.registered;
        let protocol = client.protocol;
        let quiet = matches!(request, Request::Message { kind, .. } if kind.is_quiet());
        let result = match request {
            Request::Help => {
                self.reply(id, Reply::Help, now);
                Ok(())
            }
            // Before registration a command gets "register first" however
            // it is malformed: irssi probes with a bare `JOIN :` and expects
            // exactly that.
            Request::Invalid(Error::MissingArgument { command, .. })
                if !registered && !REGISTRATION.contains(&command) =>
            {
                Err(not_registered(protocol))
            }
            Request::Invalid(error) => Err(error),
            Request::Quit(reason) => {
                self.quit(id, reason, now);
                Ok(())
            }
            Request::Ping(token) => {
                self.reply(id, Reply::Pong(token.into()), now);
                Ok(())
            }
            Request::Pong => Ok(()),
            Request::TimingMark => {
                self.reply(id, Reply::TimingMark, now);
                Ok(())
            }
            Request::Pass(password) => self.pass(id, password),
            Request::Cap(command) => {
                self.cap(id, command, now);
                Ok(())
            }
            Request::Nick(nick) => self.nick(id, nick, now),
            Request::User { user, realname } => self.user(id, &user, &realname, now),
            Request::Authenticate(argument) => {
                self.authenticate(id, &argument, now);
                Ok(())
            }
            _ if !registered => Err(not_registered(protocol)),
            Request::Account(command) => {
                self.account_command(id, command, now);
                Ok(())
            }
            Request::Join(rooms) => {
                for (room, key) in rooms {
                    if let Err(error) = self.join(id, &room, key, now) {
                        self.reply(id, Reply::Error(error), now);
                    }
                }
                Ok(())
            }
            Request::LeaveAll => {
                let rooms = self.clients.map[&id].rooms.clone();
                for key in rooms {
                    self.part(id, &key, None, now);
                }
                Ok(())
            }
            Request::Leave { rooms, reason } if rooms.is_empty() => self
                .member_room(id, None)
                .map(|key| self.part(id, &key, reason, now)),
            Request::Leave { rooms, reason } => {
                for room in rooms {
                    match self.member_room(id, Some(&room)) {
                        Ok(key) => self.part(id, &key, reason.clone(), now),
                        Err(error) => self.reply(id, Reply::Error(error), now),
                    }
                }
                Ok(())
            }
            Request::Switch(room) => self.switch(id, &room, now),
            Request::List(rooms) => {
                self.list(id, &rooms, now);
                Ok(())
            }
            Request::Names(room) => self.names(id, room, now),
            Request::Who { mask, whox } => {
                self.who(id, &mask, whox, now);
                Ok(())
            }
            Request::Whois(nick) => {
                self.whois(id, &nick, now);
                Ok(())
            }
            Request::Topic { room, text } => self.topic(id, room, text, now),
            Request::Message {
                to,
                text,
                kind,
                tags,
            } => {
                self.counters.messages_in += 1;
                self.message(id, to, text, kind, tags, now)
            }
            Request::TagMessage { to, tags } => self.tag_message(id, to, tags, now),
            Request::History { target, query } => self.read_history(id, target, query),
            Request::HistoryTargets { from, to, limit } => self.read_targets(id, from, to, limit),
            // Unwrapped above; a label inside a label is one too many.
            Request::Labeled { .. } => Err(Error::UnknownCommand("label".into())),
            // `TARGMAX` says one nickname per KICK: each is a broadcast.
            Request::Kick { nicks, .. } if nicks.len() > 1 => Err(Error::TooManyTargets {
                target: nicks[1].clone(),
            }),
            Request::Kick {
                room,
                nicks,
                reason,
            } => {
                for nick in nicks {
                    if let Err(error) = self.kick(id, &room, &nick, reason.clone(), now) {
                        self.reply(id, Reply::Error(error), now);
                    }
                }
                Ok(())
            }
            Request::Invite { nick, room } => self.invite(id, &nick, room, now),
            Request::Mode { target, changes } if target.starts_with('#') => {
                self.room_mode(id, &target, changes, now)
            }
            Request::Mode { target, changes } => self.user_mode(id, &target, changes, now),
            Request::Away(message) => {
                self.away(id, message, now);
                Ok(())
            }
            Request::Ison(nicks) => {
                let online = nicks
                    .iter()
                    .filter_map(|nick| self.registered_nick(nick))
                    .collect();
                self.reply(id, Reply::Ison(online), now);
                Ok(())
            }
            Request::Userhost(nicks) => {
                let users = nicks
                    .iter()
                    .take(5)
                    .filter_map(|nick| {
                        let client = &self.clients.map[&self.registered_id(nick)?];
                        Some((Mask::clone(client.mask.as_ref()?), client.away.is_some()))
                    })
                    .collect();
                self.reply(id, Reply::Userhost(users), now);
                Ok(())
            }
            Request::Version => {
                self.reply(id, Reply::Version(Arc::clone(&self.info)), now);
                Ok(())
            }
            Request::Time => {
                let time = jiff::Zoned::now().strftime("%A %B %-d %Y -- %H:%M:%S %Z");
                self.reply(id, Reply::Time(time.to_string().into()), now);
                Ok(())
            }
            Request::Lusers => {
                self.reply(id, Reply::Lusers(self.lusers()), now);
                Ok(())
            }
            Request::Motd => {
                self.reply(id, Reply::Motd(Arc::clone(&self.info)), now);
                Ok(())
            }
            Request::Info => {
                self.reply(id, Reply::Info(Arc::clone(&self.info)), now);
                Ok(())
            }
            Request::Whowas { nick, count } => {
                let entries = self.history.lookup(&state::fold(&nick), count);
                let reply = Reply::Whowas {
                    nick: nick.into(),
                    entries,
                };
                self.reply(id, reply, now);
                Ok(())
            }
            Request::Oper { name, password } => self.oper(id, &name, password, now),
            Request::Kill { nick, reason } => self.kill(id, &nick, reason, now),
            Request::Wallops(text) => self.wallops(id, text, now),
            Request::SetName(realname) => {
                self.set_name(id, &realname, now);
                Ok(())
            }
        };
        if let Err(error) = result {
            // Notices are never answered automatically, not even with errors.
            if !quiet {
                self.reply(id, Reply::Error(error), now);
            }
        }
    }

    /// Queues one shared event for the members of a room with `cap`, but `except`.
    pub(super) fn broadcast_to(
        &mut self,
        key: &Name,
        event: Event,
        except: Option<ClientId>,
        cap: Caps,
        now: Instant,
    ) {
        let Some(room) = self.rooms.get(key) else {
            return;
        };
        let message = Outgoing::new(event);
        for &member in room.members.keys() {
            if Some(member) != except && self.clients.caps(member).contains(cap) {
                self.clients.send(member, &message, now);
            }
        }
    }

    /// The id of the registered client called `nick`.
    pub(super) fn registered_id(&self, nick: &str) -> Option<ClientId> {
        let &id = self.nicks.get(&*state::folded(nick))?;
        self.clients.map[&id].registered.then_some(id)
    }

    /// The nickname, as its owner spells it, of the registered client `nick`.
    pub(super) fn registered_nick(&self, nick: &str) -> Option<Name> {
        Some(self.clients.map[&self.registered_id(nick)?].me())
    }

    /// The folded name of a room the client is in: `room`, or its current
    /// room when `None`.
    pub(super) fn member_room(&self, id: ClientId, room: Option<&str>) -> Result<Name, Error> {
        let key = self.existing_room(id, room)?;
        if self.rooms[&key].members.contains_key(&id) {
            Ok(key)
        } else {
            Err(Error::NotInRoom(self.rooms[&key].name.to_string()))
        }
    }

    /// The folded name of an existing room: `room`, or the client's current
    /// room when `None`.
    pub(super) fn existing_room(&self, id: ClientId, room: Option<&str>) -> Result<Name, Error> {
        let key = match room {
            Some(room) => state::fold(room),
            None => self.clients.map[&id]
                .current
                .clone()
                .ok_or(Error::NoCurrentRoom)?,
        };
        if self.rooms.contains_key(&key) {
            Ok(key)
        } else {
            Err(Error::NoSuchRoom(room.unwrap_or_default().to_owned()))
        }
    }

    /// Everyone who shares a room with `id`, each once, `id` excluded.
    pub(super) fn peers(&self, id: ClientId) -> Vec<ClientId> {
        let mut peers: Vec<ClientId> = self.clients.map[&id]
            .rooms
            .iter()
            .filter_map(|key| self.rooms.get(key))
            .flat_map(|room| room.members.keys().copied())
            .filter(|&peer| peer != id)
            .collect();
        peers.sort_unstable();
        peers.dedup();
        peers
    }
}

/// Commands that work before registration.
const REGISTRATION: [&str; 8] = [
    "CAP",
    "PASS",
    "NICK",
    "USER",
    "PING",
    "PONG",
    "QUIT",
    "AUTHENTICATE",
];

/// The error for a command sent before registration.
fn not_registered(protocol: Protocol) -> Error {
    match protocol {
        Protocol::Line => Error::NeedNick,
        Protocol::Irc => Error::NotRegistered,
    }
}
