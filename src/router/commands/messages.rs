//! Messages to rooms and users, with or without text.

use std::sync::Arc;
use std::time::Instant;

use super::history::worth_keeping;
use crate::client::ClientId;
use crate::limits::TARGETS_MAX;
use crate::protocol::{
    Caps, Destination, Error, Event, MessageKind, Name, Outgoing, Protocol, Reply, Target,
};
use crate::router::Router;
use crate::router::state;

impl Router {
    pub(super) fn message(
        &mut self,
        id: ClientId,
        to: Vec<Target>,
        text: Name,
        kind: MessageKind,
        tags: Option<String>,
        now: Instant,
    ) -> Result<(), Error> {
        if text.is_empty() {
            return Err(Error::NoText);
        }
        let from = Arc::clone(self.clients.mask(id).expect("registered"));
        let tags: Option<Name> = tags.map(Name::from);
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        client.last_spoke = now;
        // A line user may say more at once than one IRC line holds; IRC
        // clients then get it in several lines (their own lines fit, but
        // for the longer source in front, which the codec cuts).
        let long = client.protocol == Protocol::Line;
        for target in self.targets(id, to)? {
            let delivered = target.and_then(|target| {
                let to = match &target {
                    Resolved::Room(key) => Destination::Room(self.rooms[key].name.clone()),
                    Resolved::User(recipient) => {
                        Destination::User(self.clients.map[recipient].me())
                    }
                    Resolved::Offline { nick, .. } => Destination::User(nick.clone()),
                };
                let event = Event::Message {
                    from: Arc::clone(&from),
                    to,
                    text: text.clone(),
                    kind,
                    tags: tags.clone(),
                    id: self.message_id(),
                    long,
                };
                match target {
                    Resolved::Room(key) => self.say_in_room(id, &key, event, now),
                    Resolved::Offline { owner, nick } => {
                        if matches!(kind, MessageKind::Ctcp | MessageKind::CtcpReply) {
                            return Err(Error::NoSuchUser(nick.to_string()));
                        }
                        let message = Outgoing::new(event);
                        self.leave_offline(id, owner, nick, Arc::clone(&message))?;
                        if self.clients.caps(id).contains(Caps::ECHO_MESSAGE) {
                            self.clients.send(id, &message, now);
                        }
                        Ok(())
                    }
                    Resolved::User(recipient) => {
                        if kind == MessageKind::Ctcp && self.answer_ctcp(id, recipient, &text, now)
                        {
                            return Ok(());
                        }
                        self.say_privately(id, recipient, event, now);
                        let recipient = &self.clients.map[&recipient];
                        if let (Some(message), MessageKind::Say | MessageKind::Action) =
                            (recipient.away.clone(), kind)
                        {
                            let nick = recipient.me();
                            self.reply(id, Reply::IsAway { nick, message }, now);
                        }
                        Ok(())
                    }
                }
            });
            if let Err(error) = delivered
                && !kind.is_quiet()
            {
                self.reply(id, Reply::Error(error), now);
            }
        }
        Ok(())
    }

    /// Answers the CTCP queries IRC clients send on their own (`/ping`,
    /// `/ctcp VERSION`) on behalf of a line user, who could not answer
    /// them and need not see them. True if `request` was answered.
    fn answer_ctcp(
        &mut self,
        id: ClientId,
        recipient: ClientId,
        request: &str,
        now: Instant,
    ) -> bool {
        let target = &self.clients.map[&recipient];
        if target.protocol != Protocol::Line {
            return false;
        }
        let (command, argument) = request.split_once(' ').unwrap_or((request, ""));
        let answer = match command.to_ascii_uppercase().as_str() {
            "VERSION" => format!(
                "VERSION {} (a line-protocol user: nc or telnet)",
                self.info.version
            ),
            "PING" => format!("PING {argument}").trim_end().to_owned(),
            "TIME" => format!(
                "TIME {}",
                jiff::Zoned::now().strftime("%a %b %-d %H:%M:%S %Y %Z")
            ),
            "CLIENTINFO" => "CLIENTINFO ACTION CLIENTINFO PING TIME VERSION".to_owned(),
            _ => return false,
        };
        let event = Event::Message {
            from: Arc::clone(target.mask.as_ref().expect("registered")),
            to: Destination::User(self.clients.map[&id].me()),
            text: answer.into(),
            kind: MessageKind::CtcpReply,
            tags: None,
            id: self.message_id(),
            long: false,
        };
        self.send(id, event, now);
        true
    }

    pub(super) fn tag_message(
        &mut self,
        id: ClientId,
        to: Vec<Target>,
        tags: String,
        now: Instant,
    ) -> Result<(), Error> {
        let from = Arc::clone(self.clients.mask(id).expect("registered"));
        let tags: Name = tags.into();
        for target in self.targets(id, to)? {
            let delivered = target.and_then(|target| {
                let to_self = target == Resolved::User(id);
                let (to, recipients) = match &target {
                    Resolved::Room(key) => {
                        let room = &self.rooms[key];
                        if !room.may_speak(id, &from) {
                            return Err(Error::CannotSend(room.name.to_string()));
                        }
                        let members: Vec<ClientId> = room.members.keys().copied().collect();
                        (Destination::Room(room.name.clone()), members)
                    }
                    &Resolved::User(recipient) => (
                        Destination::User(self.clients.map[&recipient].me()),
                        vec![recipient],
                    ),
                    Resolved::Offline { nick, .. } => {
                        return Err(Error::NoSuchUser(nick.to_string()));
                    }
                };
                let event = Outgoing::new(Event::TagMessage {
                    from: Arc::clone(&from),
                    to,
                    tags: tags.clone(),
                    id: self.message_id(),
                });
                let tagged =
                    |router: &Router, id| router.clients.caps(id).contains(Caps::MESSAGE_TAGS);
                for &recipient in &recipients {
                    if recipient != id && tagged(self, recipient) {
                        self.clients.send(recipient, &event, now);
                    }
                }
                if tagged(self, id) {
                    if to_self {
                        // The delivery; only the echo answers a labeled request.
                        self.clients.deliver(id, &event, now);
                    }
                    if self.clients.caps(id).contains(Caps::ECHO_MESSAGE) {
                        self.clients.send(id, &event, now);
                    }
                }
                if worth_keeping(&tags) {
                    match target {
                        Resolved::Room(key) => self.keep_event(&key, &event),
                        Resolved::User(recipient) => self.keep_private(id, recipient, &event),
                        Resolved::Offline { .. } => {}
                    }
                }
                Ok(())
            });
            if let Err(error) = delivered {
                self.reply(id, Reply::Error(error), now);
            }
        }
        Ok(())
    }

    /// Resolves message targets: the current room when there are none, and
    /// each named room or user, or why it cannot be reached. More than
    /// [`TARGETS_MAX`] is refused whole; a room or user named twice (in any
    /// case) gets the message once.
    fn targets(
        &self,
        id: ClientId,
        to: Vec<Target>,
    ) -> Result<Vec<Result<Resolved, Error>>, Error> {
        if to.is_empty() {
            return match self.clients.map[&id].protocol {
                Protocol::Line => Ok(vec![Ok(Resolved::Room(self.member_room(id, None)?))]),
                Protocol::Irc => Err(Error::NoRecipient),
            };
        }
        if let Some(over) = to.get(TARGETS_MAX) {
            return Err(Error::TooManyTargets {
                target: over.name().to_owned(),
            });
        }
        let mut resolved: Vec<Result<Resolved, Error>> = Vec::with_capacity(to.len());
        for target in to {
            let target = match target {
                Target::Room(room) => match self.rooms.get_key_value(&*state::folded(&room)) {
                    Some((key, _)) => Ok(Resolved::Room(Arc::clone(key))),
                    None => Err(Error::NoSuchRoom(room)),
                },
                Target::User(nick) => self.resolve_user(nick),
            };
            if !resolved.contains(&target) {
                resolved.push(target);
            }
        }
        Ok(resolved)
    }

    /// A user by nickname: connected, or else an account, reached through
    /// whoever is logged in to it, or offline.
    fn resolve_user(&self, nick: String) -> Result<Resolved, Error> {
        if let Some(id) = self.registered_id(&nick) {
            return Ok(Resolved::User(id));
        }
        let owner = state::fold(&nick);
        let Some(account) = self.accounts.map.get(&owner) else {
            return Err(Error::NoSuchUser(nick));
        };
        let logged_in = self.clients.map.iter().find(|(_, client)| {
            client.registered
                && client
                    .account
                    .as_ref()
                    .is_some_and(|name| name.eq_ignore_ascii_case(&owner))
        });
        Ok(match logged_in {
            Some((&id, _)) => Resolved::User(id),
            None => Resolved::Offline {
                owner,
                nick: account.name.clone(),
            },
        })
    }

    /// Says something in a room: to every member but the sender, and to the
    /// sender too if it asked for echoes.
    fn say_in_room(
        &mut self,
        id: ClientId,
        key: &Name,
        event: Event,
        now: Instant,
    ) -> Result<(), Error> {
        let room = &self.rooms[key];
        let from = self.clients.mask(id).expect("registered");
        if !room.may_speak(id, from) {
            return Err(Error::CannotSend(room.name.to_string()));
        }
        let echo = self.clients.caps(id).contains(Caps::ECHO_MESSAGE);
        let message = Outgoing::new(event);
        let members = &room.members;
        self.clients
            .say(key, members, Arc::clone(&message), id, echo, now);
        self.keep_in_room(key, &message);
        Ok(())
    }

    /// Says something privately, echoing it to the sender if it asked
    /// (twice to oneself, then: the message and its echo, as ergo does).
    fn say_privately(&mut self, id: ClientId, recipient: ClientId, event: Event, now: Instant) {
        let message = Outgoing::new(event);
        if recipient == id {
            // To oneself: with echo-message one copy is the delivery and
            // one the echo, and only the echo answers a labeled request.
            self.clients.deliver(id, &message, now);
        } else {
            self.clients.send(recipient, &message, now);
        }
        if self.clients.caps(id).contains(Caps::ECHO_MESSAGE) {
            self.clients.send(id, &message, now);
        }
        self.keep_private(id, recipient, &message);
    }
}

/// A message target that exists.
#[derive(PartialEq, Eq)]
enum Resolved {
    /// A room, by folded name.
    Room(Name),
    User(ClientId),
    /// An account nobody is logged in to: `owner` folded, `nick` as spelled.
    Offline {
        owner: Name,
        nick: Name,
    },
}
