//! Rooms over the API: creating, deleting, the topic, invites and kicks,
//! each allowed to the room's managers (see `mod.rs`).

use std::sync::Arc;
use std::time::Instant;

use super::{failed, no_room, room_info};
use crate::client::ClientId;
use crate::limits::{KICK_MAX, TOPIC_MAX};
use crate::protocol::api::{Answer, FailureKind};
use crate::protocol::{Event, Name, Outgoing, Topic, truncate};
use crate::router::Router;
use crate::router::commands::unix_now;
use crate::router::state::{self, Room};

impl Router {
    pub(super) fn create_room(
        &mut self,
        account: &Name,
        name: Name,
        topic: Option<String>,
    ) -> Answer {
        if !state::valid_room(&name) {
            return failed(
                FailureKind::Invalid,
                format!("{name} is not a room name (#name)"),
            );
        }
        if topic.as_ref().is_some_and(|topic| topic.len() > TOPIC_MAX) {
            return failed(
                FailureKind::Invalid,
                format!("topics are at most {TOPIC_MAX} bytes"),
            );
        }
        let key = state::fold(&name);
        if self.rooms.contains_key(&key) {
            return failed(FailureKind::Conflict, format!("{name} exists"));
        }
        let mut room = Room::owned(name, account.clone(), unix_now());
        room.topic = topic.filter(|text| !text.is_empty()).map(|text| Topic {
            text: text.into(),
            set_by: self.api_mask(account),
            set_at: unix_now(),
        });
        let info = room_info(&room);
        self.rooms.insert(key, room);
        Answer::Room(info)
    }

    /// Deletes a room: every member is told and parted, then it is gone.
    pub(super) fn delete_room(&mut self, account: &Name, name: &str, now: Instant) -> Answer {
        let key = state::fold(name);
        let Some(room) = self.rooms.get(&key) else {
            return no_room(name);
        };
        let owner = room
            .owner
            .as_ref()
            .is_some_and(|owner| owner.eq_ignore_ascii_case(account));
        if !owner && !self.is_oper_account(account) {
            return failed(
                FailureKind::Forbidden,
                "only the room's owner or an operator account may delete it",
            );
        }
        let reason: Name = format!("room deleted by {account}").into();
        let members: Vec<ClientId> = room.members.keys().copied().collect();
        for id in members {
            let Some(who) = self.clients.mask(id).cloned() else {
                continue;
            };
            let event = Event::Left {
                room: self.rooms[&key].name.clone(),
                who,
                reason: Some(reason.clone()),
            };
            self.broadcast(&key, event, None, now);
            self.forget_member(id, &key);
        }
        if self.rooms.contains_key(&key) {
            self.forget_room(&key);
        }
        Answer::Done
    }

    pub(super) fn set_topic(
        &mut self,
        account: &Name,
        name: &str,
        text: String,
        now: Instant,
    ) -> Answer {
        let key = state::fold(name);
        let Some(room) = self.rooms.get(&key) else {
            return no_room(name);
        };
        let allowed = self.manages(account, room)
            || (!room.modes.topic_locked && self.present(account, room));
        if !allowed {
            return failed(
                FailureKind::Forbidden,
                format!("you may not set the topic of {name}"),
            );
        }
        if text.len() > TOPIC_MAX {
            return failed(
                FailureKind::Invalid,
                format!("topics are at most {TOPIC_MAX} bytes"),
            );
        }
        let who = self.api_mask(account);
        let text: Name = text.into();
        let id = self.message_id();
        let room = self.rooms.get_mut(&key).expect("checked above");
        room.topic = (!text.is_empty()).then(|| Topic {
            text: text.clone(),
            set_by: Arc::clone(&who),
            set_at: unix_now(),
        });
        let event = Event::TopicChanged {
            room: room.name.clone(),
            who,
            text,
            id,
        };
        let event = self.tell_room(&key, event, now);
        self.keep_event(&key, &event);
        Answer::Done
    }

    pub(super) fn api_invite(
        &mut self,
        account: &Name,
        name: &str,
        nick: &str,
        now: Instant,
    ) -> Answer {
        let key = state::fold(name);
        let Some(room) = self.rooms.get(&key) else {
            return no_room(name);
        };
        let allowed =
            self.manages(account, room) || (!room.modes.invite_only && self.present(account, room));
        if !allowed {
            return failed(
                FailureKind::Forbidden,
                format!("you may not invite to {name}"),
            );
        }
        let Some(target) = self.registered_id(nick) else {
            return failed(FailureKind::NotFound, format!("nobody is called {nick}"));
        };
        if room.members.contains_key(&target) {
            return failed(
                FailureKind::Conflict,
                format!("{nick} is already in {name}"),
            );
        }
        let event = Outgoing::new(Event::Invited {
            by: self.api_mask(account),
            nick: self.clients.map[&target].me(),
            room: room.name.clone(),
        });
        self.add_invite(&key, target);
        self.clients.send(target, &event, now);
        Answer::Done
    }

    pub(super) fn api_kick(
        &mut self,
        account: &Name,
        name: &str,
        nick: &str,
        reason: Option<String>,
        now: Instant,
    ) -> Answer {
        let key = state::fold(name);
        let Some(room) = self.rooms.get(&key) else {
            return no_room(name);
        };
        if !self.manages(account, room) {
            return failed(
                FailureKind::Forbidden,
                format!("you may not kick in {name}"),
            );
        }
        let Some(target) = self
            .registered_id(nick)
            .filter(|id| room.members.contains_key(id))
        else {
            return failed(FailureKind::NotFound, format!("{nick} is not in {name}"));
        };
        let event = Event::Kicked {
            room: room.name.clone(),
            by: self.api_mask(account),
            nick: self.clients.map[&target].me(),
            reason: reason.map(|reason| truncate(&reason, KICK_MAX).into()),
        };
        self.broadcast(&key, event, None, now);
        self.forget_member(target, &key);
        Answer::Done
    }
}
