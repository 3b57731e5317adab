//! One method per request. Each checks the request against the state, changes
//! the state, and queues the events that tell everyone concerned.

use std::sync::Arc;
use std::time::Instant;

use super::Router;
use super::state::{
    self, BANS_PER_ROOM, Client, REALNAME_MAX, ROOMS_PER_CLIENT, Room, TOPIC_MAX, USER_MAX,
};
use crate::client::ClientId;
use crate::protocol::{
    Ban, CapCommand, Caps, Destination, Error, Event, Lusers, Mask, Member, MessageKind,
    ModeChange, Name, Outgoing, Protocol, Reply, Request, RoomSummary, Target, Topic, Welcome,
    WhoRow, Whois, Whox,
};

/// Most rows a `WHO` for a mask returns, so one query cannot list everyone.
const WHO_MAX: usize = 200;

/// The current Unix time in seconds.
fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

impl Router {
    /// Dispatches one request from a connected client.
    pub(super) fn request(&mut self, id: ClientId, request: Request, now: Instant) {
        let Some(client) = self.clients.map.get_mut(&id) else {
            // Sent before the disconnect was handled; nobody is listening.
            return;
        };
        client.last_seen = now;
        client.ping_sent = false;
        let registered = client.registered;
        let protocol = client.protocol;
        let notice = matches!(
            request,
            Request::Message {
                kind: MessageKind::Notice,
                ..
            }
        );
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
            Request::Pass(password) => self.pass(id, password),
            Request::Cap(command) => {
                self.cap(id, command, now);
                Ok(())
            }
            Request::Nick(nick) => self.nick(id, nick, now),
            Request::User { user, realname } => self.user(id, &user, &realname, now),
            _ if !registered => Err(not_registered(protocol)),
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
            } => self.message(id, to, text, kind, tags, now),
            Request::TagMessage { to, tags } => self.tag_message(id, to, tags, now),
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
            Request::SetName(realname) => {
                self.set_name(id, &realname, now);
                Ok(())
            }
        };
        if let Err(error) = result {
            // Notices are never answered automatically, not even with errors.
            if !notice {
                self.reply(id, Reply::Error(error), now);
            }
        }
    }

    fn pass(&mut self, id: ClientId, password: String) -> Result<(), Error> {
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        if client.registered {
            return Err(Error::AlreadyRegistered);
        }
        client.password = Some(password);
        Ok(())
    }

    fn cap(&mut self, id: ClientId, command: CapCommand, now: Instant) {
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        let (subcommand, caps) = match command {
            CapCommand::Ls(version) => {
                client.negotiating |= !client.registered;
                if version >= 302 {
                    // Clients speaking 302 get cap-notify without asking.
                    let caps = client.caps().with(Caps::CAP_NOTIFY);
                    client.outbox.set_caps(caps);
                }
                let offered: Vec<&str> = Caps::OFFERED.iter().map(|(name, _)| *name).collect();
                ("LS", offered.join(" "))
            }
            CapCommand::List => ("LIST", client.caps().names()),
            CapCommand::Req(wanted) => {
                client.negotiating |= !client.registered;
                match requested_caps(client.caps(), &wanted) {
                    Some(caps) => {
                        client.outbox.set_caps(caps);
                        ("ACK", wanted)
                    }
                    None => ("NAK", wanted),
                }
            }
            CapCommand::End => {
                client.negotiating = false;
                self.try_register(id, now);
                return;
            }
        };
        self.reply(id, Reply::Cap { subcommand, caps }, now);
    }

    fn nick(&mut self, id: ClientId, nick: String, now: Instant) -> Result<(), Error> {
        if nick.is_empty() {
            return Err(Error::NoNickGiven);
        }
        if !state::valid_nick(&nick) {
            return Err(Error::BadNick(nick));
        }
        let key = state::fold(&nick);
        let client = &self.clients.map[&id];
        let old = client.nick.clone();
        match self.nicks.get(&key) {
            Some(&owner) if owner != id => return Err(Error::NickInUse(nick)),
            // Only a change of case; anything else is no change at all.
            Some(_) if old.as_deref() == Some(nick.as_str()) => {
                return match client.protocol {
                    Protocol::Line => Err(Error::AlreadyNamed),
                    Protocol::Irc => Ok(()),
                };
            }
            _ => {}
        }
        let nick: Name = nick.into();
        if let Some(old) = &old {
            self.nicks.remove(&state::fold(old));
        }
        self.nicks.insert(key, id);
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        client.nick = Some(nick.clone());
        let Some(mask) = client.mask.clone() else {
            self.try_register(id, now);
            return Ok(());
        };
        client.mask = Some(Arc::new(Mask {
            nick: nick.clone(),
            ..Mask::clone(&mask)
        }));
        let changed = Outgoing::new(Event::NickChanged {
            who: mask,
            new: nick,
        });
        self.clients.send(id, &changed, now);
        for peer in self.peers(id) {
            self.clients.send(peer, &changed, now);
        }
        Ok(())
    }

    fn user(
        &mut self,
        id: ClientId,
        user: &str,
        realname: &str,
        now: Instant,
    ) -> Result<(), Error> {
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        if client.registered || client.user.is_some() {
            return Err(Error::AlreadyRegistered);
        }
        // No ident lookup: the `~` says the user name is the client's own claim.
        let user: String = user
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
            .take(USER_MAX)
            .collect();
        client.user = Some(format!("~{}", if user.is_empty() { "user" } else { &user }).into());
        client.realname = truncate(realname, REALNAME_MAX).into();
        self.try_register(id, now);
        Ok(())
    }

    /// Completes registration once everything it needs is there.
    fn try_register(&mut self, id: ClientId, now: Instant) {
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        let Some(nick) = client.nick.clone() else {
            return;
        };
        let ready = match client.protocol {
            Protocol::Line => true,
            Protocol::Irc => client.user.is_some() && !client.negotiating,
        };
        if client.registered || !ready {
            return;
        }
        if self.password.is_some() && client.password != self.password {
            log::info!("{id} from {} gave a wrong password", client.peer);
            self.reply(id, Reply::Error(Error::PasswordMismatch), now);
            let reason: Name = "Bad password".into();
            self.remove(id, None, reason, now);
            return;
        }
        let user = client
            .user
            .clone()
            .unwrap_or_else(|| format!("~{nick}").into());
        let mask = Arc::new(Mask {
            nick,
            user,
            host: client.peer.ip().to_string().into(),
        });
        client.registered = true;
        client.signon = unix_now();
        client.last_spoke = now;
        client.mask = Some(Arc::clone(&mask));
        self.registered += 1;
        self.max_registered = self.max_registered.max(self.registered);
        log::debug!("{id} registered as {mask}");
        let welcome = Welcome {
            mask,
            info: Arc::clone(&self.info),
            lusers: self.lusers(),
        };
        self.reply(id, Reply::Welcome(Box::new(welcome)), now);
    }

    fn lusers(&self) -> Lusers {
        Lusers {
            users: self.registered,
            unregistered: self.clients.map.len() - self.registered,
            rooms: self.rooms.len(),
            max_users: self.max_registered,
        }
    }

    fn quit(&mut self, id: ClientId, reason: Option<String>, now: Instant) {
        let farewell = match &reason {
            Some(reason) => format!("you quit ({reason})"),
            None => "you quit".to_owned(),
        };
        self.remove(id, reason.map(Name::from), farewell.into(), now);
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
                room.invited.remove(&id);
                room.members.insert(id, Default::default());
            }
            None => {
                log::debug!("{name} created by {who}");
                let mut room = Room::new(name.into(), id, unix_now());
                room.modes.key = key;
                self.rooms.insert(folded.clone(), room);
            }
        }
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        client.rooms.push(folded.clone());
        client.current = Some(folded.clone());
        let room_name = self.rooms[&folded].name.clone();
        self.broadcast(
            &folded,
            Event::Joined {
                room: room_name.clone(),
                who: Arc::clone(&who),
            },
            None,
            now,
        );
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
        Ok(())
    }

    /// Takes a client out of a room, telling the room (and the client) why.
    fn part(&mut self, id: ClientId, key: &Name, reason: Option<String>, now: Instant) {
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
    fn forget_member(&mut self, id: ClientId, key: &Name) {
        if let Some(room) = self.rooms.get_mut(key) {
            room.members.remove(&id);
            if room.members.is_empty() {
                self.rooms.remove(key);
            }
        }
        if let Some(client) = self.clients.map.get_mut(&id) {
            client.rooms.retain(|joined| joined != key);
            if client.current.as_ref() == Some(key) {
                client.current = client.rooms.last().cloned();
            }
        }
    }

    fn switch(&mut self, id: ClientId, room: &str, now: Instant) -> Result<(), Error> {
        let key = self.member_room(id, Some(room))?;
        let room = self.rooms[&key].name.clone();
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        client.current = Some(key);
        self.reply(id, Reply::Switched(room), now);
        Ok(())
    }

    fn list(&mut self, id: ClientId, only: &[String], now: Instant) {
        let wanted: Vec<Name> = only.iter().map(|room| state::fold(room)).collect();
        let mut rooms: Vec<RoomSummary> = self
            .rooms
            .iter()
            .filter(|(key, _)| wanted.is_empty() || wanted.contains(key))
            .filter(|(_, room)| !room.modes.secret || room.members.contains_key(&id))
            .map(|(_, room)| RoomSummary {
                name: room.name.clone(),
                members: room.members.len(),
                topic: room.topic.as_ref().map(|topic| topic.text.clone()),
            })
            .collect();
        rooms.sort_by_cached_key(|room| state::fold(&room.name));
        self.reply(id, Reply::Rooms(rooms), now);
    }

    fn names(&mut self, id: ClientId, room: Option<String>, now: Instant) -> Result<(), Error> {
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
    fn names_of(&mut self, id: ClientId, key: &Name, now: Instant) {
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

    /// Whether `id` may see who is in a room: it is public or `id` is in it.
    fn visible(&self, room: &Room, id: ClientId) -> bool {
        !room.modes.secret || room.members.contains_key(&id)
    }

    fn who(&mut self, id: ClientId, mask: &str, whox: Option<Whox>, now: Instant) {
        let all_prefixes = self.clients.caps(id).contains(Caps::MULTI_PREFIX);
        let row = |client: &Client, room: Name, prefixes: &'static str| WhoRow {
            room,
            mask: Arc::clone(client.mask.as_ref().expect("registered")),
            realname: client.realname.clone(),
            away: client.away.is_some(),
            prefixes,
        };
        let mut rows = Vec::new();
        if mask.starts_with('#') {
            if let Some(room) = self.rooms.get(&state::fold(mask))
                && self.visible(room, id)
            {
                for (member, membership) in &room.members {
                    let client = &self.clients.map[member];
                    rows.push(row(
                        client,
                        room.name.clone(),
                        membership.prefixes(all_prefixes),
                    ));
                }
            }
        } else {
            let shared = self.peers(id);
            rows.extend(
                self.clients
                    .map
                    .iter()
                    .filter(|(other, client)| {
                        client.registered
                            && (!client.invisible || **other == id || shared.contains(other))
                            && (state::fold(mask)
                                == state::fold(client.nick.as_deref().unwrap_or_default())
                                || crate::protocol::irc::message::mask_matches(
                                    mask,
                                    &client.mask.as_ref().expect("registered").to_string(),
                                ))
                    })
                    .take(WHO_MAX)
                    .map(|(_, client)| row(client, "*".into(), "")),
            );
        }
        rows.sort_by_cached_key(|row| state::fold(&row.mask.nick));
        let reply = Reply::Who {
            mask: mask.into(),
            rows,
            whox,
        };
        self.reply(id, reply, now);
    }

    fn whois(&mut self, id: ClientId, nick: &str, now: Instant) {
        let Some(target) = self.registered_id(nick) else {
            self.reply(id, Reply::Error(Error::NoSuchUser(nick.to_owned())), now);
            self.reply(id, Reply::WhoisEnd(nick.into()), now);
            return;
        };
        let all_prefixes = self.clients.caps(id).contains(Caps::MULTI_PREFIX);
        let client = &self.clients.map[&target];
        let rooms = client
            .rooms
            .iter()
            .filter_map(|key| self.rooms.get(key))
            .filter(|room| self.visible(room, id))
            .map(|room| {
                format!(
                    "{}{}",
                    room.members[&target].prefixes(all_prefixes),
                    room.name
                )
            })
            .collect();
        let whois = Whois {
            mask: Arc::clone(client.mask.as_ref().expect("registered")),
            realname: client.realname.clone(),
            rooms,
            away: client.away.clone(),
            idle_secs: now.duration_since(client.last_spoke).as_secs(),
            signon: client.signon,
            server: self.info.name.clone(),
        };
        self.reply(id, Reply::Whois(Box::new(whois)), now);
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
        let room = self.rooms.get_mut(&key).expect("member_room checked");
        if room.modes.topic_locked && !room.is_operator(id) {
            return Err(Error::NotOperator(room.name.to_string()));
        }
        if text.len() > TOPIC_MAX {
            return Err(Error::TopicTooLong(TOPIC_MAX));
        }
        let text: Name = text.into();
        room.topic = (!text.is_empty()).then(|| Topic {
            text: text.clone(),
            set_by: who.nick.clone(),
            set_at: unix_now(),
        });
        let event = Event::TopicChanged {
            room: room.name.clone(),
            who,
            text,
        };
        self.broadcast(&key, event, None, now);
        Ok(())
    }

    fn message(
        &mut self,
        id: ClientId,
        to: Vec<Target>,
        text: String,
        kind: MessageKind,
        tags: Option<String>,
        now: Instant,
    ) -> Result<(), Error> {
        if text.is_empty() {
            return Err(Error::NoText);
        }
        let from = Arc::clone(self.clients.mask(id).expect("registered"));
        let text: Name = text.into();
        let tags: Option<Name> = tags.map(Name::from);
        self.clients
            .map
            .get_mut(&id)
            .expect("caller checked")
            .last_spoke = now;
        let targets = self.targets(id, to)?;
        for target in targets {
            let delivered = target.and_then(|target| match target {
                Resolved::Room(key) => {
                    let event = Event::Message {
                        from: Arc::clone(&from),
                        to: Destination::Room(self.rooms[&key].name.clone()),
                        text: text.clone(),
                        kind,
                        tags: tags.clone(),
                    };
                    self.say_in_room(id, &key, event, now)
                }
                Resolved::User(recipient) => {
                    let recipient_client = &self.clients.map[&recipient];
                    let away = recipient_client.away.clone();
                    let event = Event::Message {
                        from: Arc::clone(&from),
                        to: Destination::User(recipient_client.me()),
                        text: text.clone(),
                        kind,
                        tags: tags.clone(),
                    };
                    self.say_privately(id, recipient, event, now);
                    if let (Some(message), MessageKind::Say | MessageKind::Action) = (away, kind) {
                        let nick = self.clients.map[&recipient].me();
                        self.reply(id, Reply::IsAway { nick, message }, now);
                    }
                    Ok(())
                }
            });
            if let Err(error) = delivered
                && kind != MessageKind::Notice
            {
                self.reply(id, Reply::Error(error), now);
            }
        }
        Ok(())
    }

    fn tag_message(
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
                let (to, recipients) = match target {
                    Resolved::Room(key) => {
                        let room = &self.rooms[&key];
                        if !room.may_speak(id, &from) {
                            return Err(Error::CannotSend(room.name.to_string()));
                        }
                        let members: Vec<ClientId> = room.members.keys().copied().collect();
                        (Destination::Room(room.name.clone()), members)
                    }
                    Resolved::User(recipient) => (
                        Destination::User(self.clients.map[&recipient].me()),
                        vec![recipient],
                    ),
                };
                let event = Outgoing::new(Event::TagMessage {
                    from: Arc::clone(&from),
                    to,
                    tags: tags.clone(),
                });
                let echo = self.clients.caps(id).contains(Caps::ECHO_MESSAGE);
                for recipient in recipients {
                    if (recipient != id || echo)
                        && self.clients.caps(recipient).contains(Caps::MESSAGE_TAGS)
                    {
                        self.clients.send(recipient, &event, now);
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
    /// each named room or user, or why it cannot be reached.
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
        Ok(to
            .into_iter()
            .map(|target| match target {
                Target::Room(room) => {
                    let key = state::fold(&room);
                    if self.rooms.contains_key(&key) {
                        Ok(Resolved::Room(key))
                    } else {
                        Err(Error::NoSuchRoom(room))
                    }
                }
                Target::User(nick) => self
                    .registered_id(&nick)
                    .map(Resolved::User)
                    .ok_or(Error::NoSuchUser(nick)),
            })
            .collect())
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
        for &member in room.members.keys() {
            if member != id {
                self.clients.send(member, &message, now);
            }
        }
        if echo {
            self.clients.send(id, &message, now);
        }
        Ok(())
    }

    /// Says something privately, echoing it to the sender if it asked.
    fn say_privately(&mut self, id: ClientId, recipient: ClientId, event: Event, now: Instant) {
        let message = Outgoing::new(event);
        self.clients.send(recipient, &message, now);
        if recipient != id && self.clients.caps(id).contains(Caps::ECHO_MESSAGE) {
            self.clients.send(id, &message, now);
        }
    }

    fn kick(
        &mut self,
        id: ClientId,
        room: &str,
        nick: &str,
        reason: Option<String>,
        now: Instant,
    ) -> Result<(), Error> {
        let key = self.member_room(id, Some(room))?;
        let room = &self.rooms[&key];
        if !room.is_operator(id) {
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
            reason: reason.map(Name::from),
        };
        self.broadcast(&key, event, None, now);
        self.forget_member(target, &key);
        Ok(())
    }

    fn invite(
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
        room.invited.insert(target);
        let room_name = room.name.clone();
        let away = target_client.away.clone();
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

    fn room_mode(
        &mut self,
        id: ClientId,
        name: &str,
        changes: Vec<ModeChange>,
        now: Instant,
    ) -> Result<(), Error> {
        let key = state::fold(name);
        let room = self
            .rooms
            .get(&key)
            .ok_or_else(|| Error::NoSuchRoom(name.to_owned()))?;
        if changes.is_empty() {
            let reply = Reply::RoomModes {
                room: room.name.clone(),
                modes: room.mode_string(room.members.contains_key(&id)),
                created: room.created,
            };
            self.reply(id, reply, now);
            return Ok(());
        }
        if changes
            .iter()
            .all(|change| change.mode == 'b' && change.arg.is_none())
        {
            let reply = Reply::BanList {
                room: room.name.clone(),
                bans: room.bans.clone(),
            };
            self.reply(id, reply, now);
            return Ok(());
        }
        if !room.is_operator(id) {
            return Err(Error::NotOperator(room.name.to_string()));
        }
        let by = Arc::clone(self.clients.mask(id).expect("registered"));
        let mut applied = Vec::new();
        for change in changes {
            match self.apply_room_mode(&key, &by, change) {
                Ok(Some(change)) => applied.push(change),
                Ok(None) => {}
                Err(error) => self.reply(id, Reply::Error(error), now),
            }
        }
        if !applied.is_empty() {
            let event = Event::ModeChanged {
                target: self.rooms[&key].name.clone(),
                by,
                changes: applied,
            };
            self.broadcast(&key, event, None, now);
        }
        Ok(())
    }

    /// Applies one mode change; `Some` is the change as it took effect,
    /// `None` when it changed nothing.
    fn apply_room_mode(
        &mut self,
        key: &Name,
        by: &Mask,
        change: ModeChange,
    ) -> Result<Option<ModeChange>, Error> {
        let ModeChange { add, mode, arg } = change;
        let members: Vec<(ClientId, Name)> = match mode {
            'o' | 'v' => self.rooms[key]
                .members
                .keys()
                .map(|&member| (member, self.clients.map[&member].me()))
                .collect(),
            _ => Vec::new(),
        };
        let room = self.rooms.get_mut(key).expect("caller checked");
        let flag = |on: &mut bool| {
            let changed = *on != add;
            *on = add;
            changed
        };
        let changed = match mode {
            'i' => flag(&mut room.modes.invite_only),
            'm' => flag(&mut room.modes.moderated),
            'n' => flag(&mut room.modes.no_external),
            's' => flag(&mut room.modes.secret),
            't' => flag(&mut room.modes.topic_locked),
            'k' if add => match &arg {
                Some(key) if !key.is_empty() && !key.contains(',') => {
                    room.modes.key = Some(key.clone());
                    true
                }
                _ => false,
            },
            'k' => room.modes.key.take().is_some(),
            'l' if add => match arg.as_deref().map(str::parse::<usize>) {
                Some(Ok(limit)) if limit > 0 => {
                    room.modes.limit = Some(limit);
                    true
                }
                _ => false,
            },
            'l' => room.modes.limit.take().is_some(),
            'o' | 'v' => {
                let Some(nick) = &arg else { return Ok(None) };
                let folded = state::fold(nick);
                let Some((member, nick)) = members
                    .into_iter()
                    .find(|(_, member_nick)| state::fold(member_nick) == folded)
                else {
                    return Err(Error::UserNotInRoom {
                        nick: nick.clone(),
                        room: room.name.to_string(),
                    });
                };
                let membership = room.members.get_mut(&member).expect("listed above");
                let on = if mode == 'o' {
                    &mut membership.operator
                } else {
                    &mut membership.voice
                };
                let changed = *on != add;
                *on = add;
                return Ok(changed.then(|| ModeChange {
                    add,
                    mode,
                    arg: Some(nick.to_string()),
                }));
            }
            'b' => {
                let Some(mask) = arg.as_deref().map(normalize_ban) else {
                    return Ok(None);
                };
                let existing = room
                    .bans
                    .iter()
                    .position(|ban| ban.mask.eq_ignore_ascii_case(&mask));
                match (add, existing) {
                    (true, None) if room.bans.len() >= BANS_PER_ROOM => {
                        return Err(Error::BanListFull(room.name.to_string()));
                    }
                    (true, None) => room.bans.push(Ban {
                        mask: mask.as_str().into(),
                        set_by: by.nick.clone(),
                        set_at: unix_now(),
                    }),
                    // Show the ban as it was listed, whatever case it was
                    // lifted in, so clients can drop it from their lists.
                    (false, Some(index)) => {
                        let lifted = room.bans.remove(index);
                        return Ok(Some(ModeChange {
                            add,
                            mode,
                            arg: Some(lifted.mask.to_string()),
                        }));
                    }
                    _ => return Ok(None),
                }
                return Ok(Some(ModeChange {
                    add,
                    mode,
                    arg: Some(mask),
                }));
            }
            _ => return Err(Error::UnknownMode(mode)),
        };
        // Keys are shown to members as set; `-k` and `-l` take no argument.
        let arg = if add { arg } else { None };
        Ok(changed.then_some(ModeChange { add, mode, arg }))
    }

    fn user_mode(
        &mut self,
        id: ClientId,
        nick: &str,
        changes: Vec<ModeChange>,
        now: Instant,
    ) -> Result<(), Error> {
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        if state::fold(nick) != state::fold(&client.me()) {
            return Err(Error::UsersDontMatch);
        }
        if changes.is_empty() {
            let modes = if client.invisible { "+i" } else { "+" };
            self.reply(id, Reply::UserModes(modes), now);
            return Ok(());
        }
        let mut applied = Vec::new();
        let mut unknown = None;
        for change in changes {
            if change.mode != 'i' {
                unknown = Some(change.mode);
            } else if client.invisible != change.add {
                client.invisible = change.add;
                applied.push(change);
            }
        }
        if !applied.is_empty() {
            let by = Arc::clone(client.mask.as_ref().expect("registered"));
            let event = Event::ModeChanged {
                target: by.nick.clone(),
                by,
                changes: applied,
            };
            self.send(id, event, now);
        }
        match unknown {
            Some(mode) => Err(Error::UnknownMode(mode)),
            None => Ok(()),
        }
    }

    fn away(&mut self, id: ClientId, message: Option<String>, now: Instant) {
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        let message: Option<Name> = message.map(|message| truncate(&message, TOPIC_MAX).into());
        client.away = message.clone();
        let who = Arc::clone(client.mask.as_ref().expect("registered"));
        self.reply(id, Reply::Away(message.is_some()), now);
        let event = Outgoing::new(Event::Away { who, message });
        for peer in self.peers(id) {
            if self.clients.caps(peer).contains(Caps::AWAY_NOTIFY) {
                self.clients.send(peer, &event, now);
            }
        }
    }

    fn set_name(&mut self, id: ClientId, realname: &str, now: Instant) {
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        let realname: Name = truncate(realname, REALNAME_MAX).into();
        client.realname = realname.clone();
        let who = Arc::clone(client.mask.as_ref().expect("registered"));
        let event = Outgoing::new(Event::RealnameChanged { who, realname });
        for peer in self.peers(id).into_iter().chain([id]) {
            if self.clients.caps(peer).contains(Caps::SETNAME) {
                self.clients.send(peer, &event, now);
            }
        }
    }

    /// Queues one shared event for the members of a room with `cap`, but `except`.
    fn broadcast_to(
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
    fn registered_id(&self, nick: &str) -> Option<ClientId> {
        let &id = self.nicks.get(&state::fold(nick))?;
        self.clients.map[&id].registered.then_some(id)
    }

    /// The nickname, as its owner spells it, of the registered client `nick`.
    fn registered_nick(&self, nick: &str) -> Option<Name> {
        Some(self.clients.map[&self.registered_id(nick)?].me())
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

/// Commands that work before registration.
const REGISTRATION: [&str; 7] = ["CAP", "PASS", "NICK", "USER", "PING", "PONG", "QUIT"];

/// The error for a command sent before registration.
fn not_registered(protocol: Protocol) -> Error {
    match protocol {
        Protocol::Line => Error::NeedNick,
        Protocol::Irc => Error::NotRegistered,
    }
}

/// A message target that exists.
enum Resolved {
    /// A room, by folded name.
    Room(Name),
    User(ClientId),
}

/// The capabilities after a `CAP REQ`, or `None` if any asked for is
/// unknown (the request is then refused as a whole).
fn requested_caps(mut caps: Caps, wanted: &str) -> Option<Caps> {
    for name in wanted.split_whitespace() {
        let (remove, name) = match name.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, name),
        };
        let cap = Caps::named(name)?;
        caps = if remove {
            caps.without(cap)
        } else {
            caps.with(cap)
        };
    }
    Some(caps)
}

/// A ban on a bare nickname bans `nick!*@*`; a mask without a nick part
/// gets `*!` in front.
fn normalize_ban(mask: &str) -> String {
    match (mask.contains('!'), mask.contains('@')) {
        (false, false) => format!("{mask}!*@*"),
        (false, true) => format!("*!{mask}"),
        _ => mask.to_owned(),
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn caps_are_all_or_nothing() {
        let none = Caps::default();
        let both = requested_caps(none, "server-time multi-prefix").unwrap();
        assert!(both.contains(Caps::SERVER_TIME) && both.contains(Caps::MULTI_PREFIX));
        assert_eq!(requested_caps(none, "server-time sasl"), None);
        let one = requested_caps(both, "-server-time").unwrap();
        assert!(!one.contains(Caps::SERVER_TIME) && one.contains(Caps::MULTI_PREFIX));
    }

    #[test]
    fn bans_are_normalized_to_full_masks() {
        assert_eq!(normalize_ban("bob"), "bob!*@*");
        assert_eq!(normalize_ban("*@10.0.0.1"), "*!*@10.0.0.1");
        assert_eq!(normalize_ban("b*!*@*"), "b*!*@*");
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("hello", 10), "hello");
    }
}
