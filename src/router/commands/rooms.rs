//! Rooms: joining, leaving, listing, topics, kicks and invitations.

use std::sync::Arc;
use std::time::Instant;

use super::unix_now;
use crate::client::ClientId;
use crate::limits::KICK_MAX;
use crate::protocol::{
    Caps, Error, Event, Mask, Member, Name, Outgoing, Protocol, Reply, RoomSummary, Topic, truncate,
};
use crate::router::Router;
use crate::router::state::{self, Membership, ROOMS_PER_CLIENT, Room, TOPIC_MAX, fold};

impl Router {
    pub(super) fn join(
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
            return match client.protocol {
                Protocol::Line => self.switch(id, name, now),
                Protocol::Irc => Ok(()),
            };
        }
        if client.rooms.len() >= ROOMS_PER_CLIENT {
            return Err(Error::TooManyRooms(ROOMS_PER_CLIENT));
        }
        let who = Arc::clone(client.mask.as_ref().expect("registered"));
        let away = client.away.clone();
        match self.rooms.get_mut(&folded) {
            Some(room) => {
                let invited = room.invited.contains(&id);
                let refused = if room.bans_mask(&who) && !invited {
                    Some(Error::Banned(room.name.to_string()))
                } else if room.modes.invite_only && !invited {
                    Some(Error::InviteOnly(room.name.to_string()))
                } else if room.modes.key.is_some() && room.modes.key != key {
                    Some(Error::BadKey(room.name.to_string()))
                } else if room
                    .modes
                    .limit
                    .is_some_and(|limit| room.members.len() >= limit)
                {
                    Some(Error::RoomFull(room.name.to_string()))
                } else {
                    None
                };
                if let Some(error) = refused {
                    return Err(error);
                }
                // An owned room's owner is its operator whenever present.
                let owner = room.owner.as_ref().map(|owner| fold(owner));
                let operator = owner.is_some() && owner == client.account.as_ref().map(|a| fold(a));
                room.members.insert(
                    id,
                    Membership {
                        operator,
                        voice: false,
                    },
                );
                self.take_invite(&folded, id);
            }
            None => {
                if let Some(key) = &key
                    && !state::valid_key(key)
                {
                    return Err(Error::InvalidKey(name.to_owned()));
                }
                log::debug!("{name} created by {who}");
                let mut room = Room::new(name.into(), id, unix_now());
                room.modes.key = key;
                self.rooms.insert(folded.clone(), room);
                self.recent.revive(&folded);
            }
        }
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        client.rooms.push(folded.clone());
        client.current = Some(folded.clone());
        let room_name = self.rooms[&folded].name.clone();
        let realname = self.clients.map[&id].realname.clone();
        self.announce_join(&folded, &room_name, &who, realname, now);
        if let Some(message) = away {
            let event = Event::Away {
                who,
                message: Some(message),
            };
            self.broadcast_to(&folded, event, Some(id), Caps::AWAY_NOTIFY, now);
        }
        let topic = self.rooms[&folded].topic.clone();
        if topic.is_some() {
            let reply = Reply::Topic {
                room: room_name,
                topic,
            };
            self.reply(id, reply, now);
        }
        self.names_of(id, &folded, now);
        self.replay(id, &folded, now);
        Ok(())
    }

    /// Tells a room (the joiner included) that `who` joined: members with
    /// `extended-join` get their own copy, with the account and real name.
    fn announce_join(
        &mut self,
        key: &Name,
        room: &Name,
        who: &Arc<Mask>,
        realname: Name,
        now: Instant,
    ) {
        let Some(members) = self.rooms.get(key).map(|room| room.members.keys()) else {
            return;
        };
        let (extended, plain): (Vec<ClientId>, Vec<ClientId>) = members
            .copied()
            .partition(|&member| self.clients.caps(member).contains(Caps::EXTENDED_JOIN));
        for (recipients, extended) in [(plain, None), (extended, Some(realname))] {
            if recipients.is_empty() {
                continue;
            }
            let event = Outgoing::new(Event::Joined {
                room: room.clone(),
                who: Arc::clone(who),
                extended,
            });
            for member in recipients {
                self.clients.send(member, &event, now);
            }
        }
    }

    /// Takes a client out of a room, telling the room (and the client) why.
    pub(super) fn part(&mut self, id: ClientId, key: &Name, reason: Option<String>, now: Instant) {
        let who = Arc::clone(self.clients.mask(id).expect("registered"));
        let room = self.rooms[key].name.clone();
        let event = Event::Left {
            room,
            who,
            reason: reason.map(Name::from),
        };
        self.broadcast(key, event, None, now);
        self.forget_member(id, key);
    }

    /// Drops `id` from the room's members and the room from `id`'s rooms;
    /// an emptied room ceases to exist.
    pub(super) fn forget_member(&mut self, id: ClientId, key: &Name) {
        if let Some(room) = self.rooms.get_mut(key) {
            room.members.remove(&id);
            if room.is_disposable() {
                self.forget_room(key);
            }
        }
        if let Some(client) = self.clients.map.get_mut(&id) {
            client.rooms.retain(|joined| joined != key);
            if client.current.as_ref() == Some(key) {
                client.current = client.rooms.last().cloned();
            }
        }
    }

    pub(super) fn switch(&mut self, id: ClientId, room: &str, now: Instant) -> Result<(), Error> {
        let key = self.member_room(id, Some(room))?;
        let room = self.rooms[&key].name.clone();
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        client.current = Some(key);
        self.reply(id, Reply::Switched(room), now);
        Ok(())
    }

    pub(super) fn list(&mut self, id: ClientId, only: &[String], now: Instant) {
        let wanted: Vec<Name> = only.iter().map(|room| state::fold(room)).collect();
        let mut rooms: Vec<RoomSummary> = self
            .rooms
            .iter()
            .filter(|(key, _)| wanted.is_empty() || wanted.contains(key))
            .filter(|(_, room)| self.visible(room, id))
            .map(|(_, room)| RoomSummary {
                name: room.name.clone(),
                members: room.members.len(),
                topic: room.topic.as_ref().map(|topic| topic.text.clone()),
            })
            .collect();
        rooms.sort_by_cached_key(|room| state::fold(&room.name));
        self.reply(id, Reply::Rooms(rooms), now);
    }

    pub(super) fn names(
        &mut self,
        id: ClientId,
        room: Option<String>,
        now: Instant,
    ) -> Result<(), Error> {
        let protocol = self.clients.map[&id].protocol;
        match (self.existing_room(id, room.as_deref()), protocol) {
            (Ok(key), _) if self.visible(&self.rooms[&key], id) => {
                self.names_of(id, &key, now);
                Ok(())
            }
            (Err(error), Protocol::Line) => Err(error),
            // IRC answers a NAMES it will not list with just its end.
            _ => {
                let room = room.unwrap_or_else(|| "*".into()).into();
                self.reply(id, Reply::NoNames(room), now);
                Ok(())
            }
        }
    }

    /// Sends `id` the member list of a room.
    pub(super) fn names_of(&mut self, id: ClientId, key: &Name, now: Instant) {
        let room = &self.rooms[key];
        let mut members: Vec<Member> = room
            .members
            .iter()
            .filter_map(|(&member, membership)| {
                Some(Member {
                    mask: Arc::clone(self.clients.mask(member)?),
                    operator: membership.operator,
                    voice: membership.voice,
                })
            })
            .collect();
        members.sort_by_cached_key(|member| state::fold(&member.mask.nick));
        let reply = Reply::Names {
            room: room.name.clone(),
            secret: room.modes.secret,
            members,
        };
        self.reply(id, reply, now);
    }

    /// Whether `id` may see who is in a room: it is public, `id` is in it,
    /// or `id` is a server operator.
    pub(super) fn visible(&self, room: &Room, id: ClientId) -> bool {
        !room.modes.secret || room.members.contains_key(&id) || self.is_server_operator(id)
    }

    pub(super) fn topic(
        &mut self,
        id: ClientId,
        room: Option<String>,
        text: Option<String>,
        now: Instant,
    ) -> Result<(), Error> {
        let Some(text) = text else {
            let key = self.existing_room(id, room.as_deref())?;
            let room = &self.rooms[&key];
            if !self.visible(room, id) {
                return Err(Error::NotInRoom(room.name.to_string()));
            }
            let reply = Reply::Topic {
                room: room.name.clone(),
                topic: room.topic.clone(),
            };
            self.reply(id, reply, now);
            return Ok(());
        };
        let key = self.member_room(id, room.as_deref())?;
        let who = Arc::clone(self.clients.mask(id).expect("registered"));
        let room = &self.rooms[&key];
        if room.modes.topic_locked && !room.is_operator(id) {
            return Err(Error::NotOperator(room.name.to_string()));
        }
        if text.len() > TOPIC_MAX {
            return Err(Error::TopicTooLong(TOPIC_MAX));
        }
        let text: Name = text.into();
        let event = Outgoing::new(Event::TopicChanged {
            room: room.name.clone(),
            who: Arc::clone(&who),
            text: text.clone(),
            id: self.message_id(),
        });
        let room = self.rooms.get_mut(&key).expect("member_room checked");
        room.topic = (!text.is_empty()).then(|| Topic {
            text,
            set_by: who,
            set_at: unix_now(),
        });
        for &member in room.members.keys() {
            self.clients.send(member, &event, now);
        }
        self.keep_event(&key, &event);
        Ok(())
    }

    pub(super) fn kick(
        &mut self,
        id: ClientId,
        room: &str,
        nick: &str,
        reason: Option<String>,
        now: Instant,
    ) -> Result<(), Error> {
        // Server operators may kick in any room, member or not.
        let server_operator = self.is_server_operator(id);
        let key = if server_operator {
            self.existing_room(id, Some(room))?
        } else {
            self.member_room(id, Some(room))?
        };
        let room = &self.rooms[&key];
        if !room.is_operator(id) && !server_operator {
            return Err(Error::NotOperator(room.name.to_string()));
        }
        let target = self
            .registered_id(nick)
            .ok_or_else(|| Error::NoSuchUser(nick.to_owned()))?;
        if !room.members.contains_key(&target) {
            return Err(Error::UserNotInRoom {
                nick: nick.to_owned(),
                room: room.name.to_string(),
            });
        }
        let event = Event::Kicked {
            room: room.name.clone(),
            by: Arc::clone(self.clients.mask(id).expect("registered")),
            nick: self.clients.map[&target].me(),
            reason: reason.map(|reason| truncate(&reason, KICK_MAX).into()),
        };
        self.broadcast(&key, event, None, now);
        self.forget_member(target, &key);
        Ok(())
    }

    pub(super) fn invite(
        &mut self,
        id: ClientId,
        nick: &str,
        room: Option<String>,
        now: Instant,
    ) -> Result<(), Error> {
        let key = self.member_room(id, room.as_deref())?;
        let target = self
            .registered_id(nick)
            .ok_or_else(|| Error::NoSuchUser(nick.to_owned()))?;
        let room = self.rooms.get_mut(&key).expect("member_room checked");
        if room.modes.invite_only && !room.members[&id].operator {
            return Err(Error::NotOperator(room.name.to_string()));
        }
        let target_client = &self.clients.map[&target];
        let nick = target_client.me();
        if room.members.contains_key(&target) {
            return Err(Error::AlreadyInRoom {
                nick: nick.to_string(),
                room: room.name.to_string(),
            });
        }
        let room_name = room.name.clone();
        let away = target_client.away.clone();
        self.add_invite(&key, target);
        self.reply(
            id,
            Reply::Inviting {
                nick: nick.clone(),
                room: room_name.clone(),
            },
            now,
        );
        let event = Outgoing::new(Event::Invited {
            by: Arc::clone(self.clients.mask(id).expect("registered")),
            nick: nick.clone(),
            room: room_name,
        });
        self.clients.send(target, &event, now);
        let notify: Vec<ClientId> = self.rooms[&key]
            .members
            .keys()
            .copied()
            .filter(|&member| {
                member != id && self.clients.caps(member).contains(Caps::INVITE_NOTIFY)
            })
            .collect();
        for member in notify {
            self.clients.send(member, &event, now);
        }
        if let Some(message) = away {
            self.reply(id, Reply::IsAway { nick, message }, now);
        }
        Ok(())
    }
}
