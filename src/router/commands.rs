//! One method per request. Each checks the request against the state, changes
//! the state, and queues the events that tell everyone concerned.

use std::collections::HashMap;
use std::time::Instant;

use super::Router;
use super::state::{self, Membership, ROOMS_PER_CLIENT, Room, TOPIC_MAX};
use crate::client::ClientId;
use crate::protocol::{
    Destination, Error, Event, Member, MessageKind, Name, Outgoing, Request, RoomSummary, Target,
    Topic,
};

impl Router {
    /// Dispatches one request from a connected client.
    pub(super) fn request(&mut self, id: ClientId, request: Request, now: Instant) {
        let Some(client) = self.clients.map.get(&id) else {
            // Sent before the disconnect was handled; nobody is listening.
            return;
        };
        let registered = client.nick.is_some();
        let result = match request {
            Request::Help => {
                self.reply(id, Event::Help, now);
                Ok(())
            }
            Request::Invalid(error) => Err(error),
            Request::Quit(reason) => {
                let farewell = match &reason {
                    Some(reason) => format!("you quit ({reason})"),
                    None => "you quit".to_owned(),
                };
                self.remove(id, reason.map(Name::from), farewell.into(), now);
                Ok(())
            }
            Request::Nick(nick) => self.nick(id, nick, now),
            _ if !registered => Err(Error::NeedNick),
            Request::Join { room, key } => self.join(id, &room, key, now),
            Request::Leave { room, reason } => self.leave(id, room, reason, now),
            Request::Switch(room) => self.switch(id, &room, now),
            Request::Rooms => {
                self.list_rooms(id, now);
                Ok(())
            }
            Request::Who(room) => self.who(id, room, now),
            Request::Topic { room, text } => self.topic(id, room, text, now),
            Request::Message { to, text, kind } => self.message(id, to, text, kind, now),
        };
        if let Err(error) = result {
            self.reply(id, Event::Error(error), now);
        }
    }

    fn nick(&mut self, id: ClientId, nick: String, now: Instant) -> Result<(), Error> {
        if !state::valid_nick(&nick) {
            return Err(Error::BadNick(nick));
        }
        let key = state::fold(&nick);
        let old = self.clients.nick(id).cloned();
        match self.nicks.get(&key) {
            Some(&owner) if owner != id => return Err(Error::NickInUse(nick)),
            // Only a change of case; anything else is no change at all.
            Some(_) if old.as_deref() == Some(nick.as_str()) => return Err(Error::AlreadyNamed),
            _ => {}
        }
        let nick: Name = nick.into();
        if let Some(old) = &old {
            self.nicks.remove(&state::fold(old));
        }
        self.nicks.insert(key, id);
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        client.nick = Some(nick.clone());
        match old {
            None => {
                log::debug!("{id} is {nick}");
                self.reply(id, Event::Welcome { nick }, now);
            }
            Some(old) => {
                let changed = Outgoing::new(Event::NickChanged { old, new: nick });
                self.clients.send(id, &changed, now);
                for peer in self.peers(id) {
                    self.clients.send(peer, &changed, now);
                }
            }
        }
        Ok(())
    }

    fn join(
        &mut self,
        id: ClientId,
        name: &str,
        key: Option<String>,
        now: Instant,
    ) -> Result<(), Error> {
        if !state::valid_room(name) {
            return Err(Error::BadRoomName(name.to_owned()));
        }
        let folded = state::fold(name);
        let client = &self.clients.map[&id];
        if client.rooms.contains(&folded) {
            return self.switch(id, name, now);
        }
        if client.rooms.len() >= ROOMS_PER_CLIENT {
            return Err(Error::TooManyRooms(ROOMS_PER_CLIENT));
        }
        let nick = client.nick.clone().expect("registered");
        let room = match self.rooms.get_mut(&folded) {
            Some(room) => {
                if room.key.is_some() && room.key != key {
                    return Err(Error::BadKey(room.name.to_string()));
                }
                room.members.insert(id, Membership::default());
                room
            }
            None => {
                log::debug!("{name} created by {nick}");
                let room = Room {
                    name: name.into(),
                    members: HashMap::from([(id, Membership { operator: true })]),
                    topic: None,
                    topic_locked: true,
                    key,
                };
                self.rooms.entry(folded.clone()).or_insert(room)
            }
        };
        let name = room.name.clone();
        let topic = room.topic.clone();
        let members = members_of(room, &self.clients);
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        client.rooms.push(folded.clone());
        client.current = Some(folded.clone());
        self.broadcast(
            &folded,
            Event::Joined {
                room: name.clone(),
                nick,
            },
            None,
            now,
        );
        if topic.is_some() {
            self.reply(
                id,
                Event::Topic {
                    room: name.clone(),
                    topic,
                },
                now,
            );
        }
        self.reply(
            id,
            Event::Members {
                room: name,
                members,
            },
            now,
        );
        Ok(())
    }

    fn leave(
        &mut self,
        id: ClientId,
        room: Option<String>,
        reason: Option<String>,
        now: Instant,
    ) -> Result<(), Error> {
        let key = self.member_room(id, room.as_deref())?;
        let nick = self.clients.nick(id).cloned().expect("registered");
        let name = self.rooms[&key].name.clone();
        self.broadcast(
            &key,
            Event::Left {
                room: name,
                nick,
                reason: reason.map(Name::from),
            },
            None,
            now,
        );
        let room = self.rooms.get_mut(&key).expect("member_room checked");
        room.members.remove(&id);
        if room.members.is_empty() {
            self.rooms.remove(&key);
        }
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        client.rooms.retain(|joined| *joined != key);
        if client.current.as_ref() == Some(&key) {
            client.current = client.rooms.last().cloned();
        }
        Ok(())
    }

    fn switch(&mut self, id: ClientId, room: &str, now: Instant) -> Result<(), Error> {
        let key = self.member_room(id, Some(room))?;
        let room = self.rooms[&key].name.clone();
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        client.current = Some(key);
        self.reply(id, Event::Switched { room }, now);
        Ok(())
    }

    fn list_rooms(&mut self, id: ClientId, now: Instant) {
        let mut rooms: Vec<RoomSummary> = self
            .rooms
            .values()
            .map(|room| RoomSummary {
                name: room.name.clone(),
                members: room.members.len(),
                topic: room.topic.as_ref().map(|topic| topic.text.clone()),
            })
            .collect();
        rooms.sort_by_cached_key(|room| state::fold(&room.name));
        self.reply(id, Event::Rooms(rooms), now);
    }

    fn who(&mut self, id: ClientId, room: Option<String>, now: Instant) -> Result<(), Error> {
        let key = self.existing_room(id, room.as_deref())?;
        let room = &self.rooms[&key];
        let event = Event::Members {
            room: room.name.clone(),
            members: members_of(room, &self.clients),
        };
        self.reply(id, event, now);
        Ok(())
    }

    fn topic(
        &mut self,
        id: ClientId,
        room: Option<String>,
        text: Option<String>,
        now: Instant,
    ) -> Result<(), Error> {
        let Some(text) = text else {
            let key = self.existing_room(id, room.as_deref())?;
            let room = &self.rooms[&key];
            let event = Event::Topic {
                room: room.name.clone(),
                topic: room.topic.clone(),
            };
            self.reply(id, event, now);
            return Ok(());
        };
        let key = self.member_room(id, room.as_deref())?;
        let nick = self.clients.nick(id).cloned().expect("registered");
        let room = self.rooms.get_mut(&key).expect("member_room checked");
        if room.topic_locked && !room.members[&id].operator {
            return Err(Error::NotOperator(room.name.to_string()));
        }
        if text.len() > TOPIC_MAX {
            return Err(Error::TopicTooLong(TOPIC_MAX));
        }
        let text: Name = text.into();
        room.topic = (!text.is_empty()).then(|| Topic {
            text: text.clone(),
            set_by: nick.clone(),
        });
        let event = Event::TopicChanged {
            room: room.name.clone(),
            nick,
            text,
        };
        self.broadcast(&key, event, None, now);
        Ok(())
    }

    fn message(
        &mut self,
        id: ClientId,
        to: Option<Target>,
        text: String,
        kind: MessageKind,
        now: Instant,
    ) -> Result<(), Error> {
        let from = self.clients.nick(id).cloned().expect("registered");
        match to {
            Some(Target::User(nick)) => {
                let &recipient = self
                    .nicks
                    .get(&state::fold(&nick))
                    .ok_or(Error::NoSuchUser(nick))?;
                let to = self.clients.nick(recipient).cloned().expect("registered");
                let event = Event::Message {
                    from,
                    to: Destination::User(to),
                    text: text.into(),
                    kind,
                };
                self.reply(recipient, event, now);
            }
            Some(Target::Room(room)) => {
                let key = self.member_room(id, Some(&room))?;
                self.say_in_room(id, &key, from, text, kind, now);
            }
            None => {
                let key = self.member_room(id, None)?;
                self.say_in_room(id, &key, from, text, kind, now);
            }
        }
        Ok(())
    }

    fn say_in_room(
        &mut self,
        id: ClientId,
        key: &Name,
        from: Name,
        text: String,
        kind: MessageKind,
        now: Instant,
    ) {
        let event = Event::Message {
            from,
            to: Destination::Room(self.rooms[key].name.clone()),
            text: text.into(),
            kind,
        };
        self.broadcast(key, event, Some(id), now);
    }

    /// The folded name of a room the client is in: `room`, or its current
    /// room when `None`.
    fn member_room(&self, id: ClientId, room: Option<&str>) -> Result<Name, Error> {
        let key = self.existing_room(id, room)?;
        if self.rooms[&key].members.contains_key(&id) {
            Ok(key)
        } else {
            Err(Error::NotInRoom(self.rooms[&key].name.to_string()))
        }
    }

    /// The folded name of an existing room: `room`, or the client's current
    /// room when `None`.
    fn existing_room(&self, id: ClientId, room: Option<&str>) -> Result<Name, Error> {
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
    fn peers(&self, id: ClientId) -> Vec<ClientId> {
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

/// A room's members sorted by nickname, for `/who` and joins.
fn members_of(room: &Room, clients: &super::Clients) -> Vec<Member> {
    let mut members: Vec<Member> = room
        .members
        .iter()
        .filter_map(|(&id, membership)| {
            Some(Member {
                nick: clients.nick(id)?.clone(),
                operator: membership.operator,
            })
        })
        .collect();
    members.sort_by_cached_key(|member| state::fold(&member.nick));
    members
}
