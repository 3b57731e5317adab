//! The HTTP API's calls (`Input::Api`): the same rooms and users as IRC and
//! line clients, acted on in the name of an account. Every answer goes
//! back on the request's own channel with `try_send`; the router never
//! waits for the HTTP side.
//!
//! Who may do what: any account may list, read, create rooms and post
//! where it has a client present; a room's owner (the account that created
//! it over the API) and operator accounts (named by `--oper`) may also
//! set its topic, invite, kick and delete it; anyone whose client is a room
//! operator in it may do the same but delete.

use std::sync::Arc;
use std::time::Instant;

use super::unix_now;
use crate::client::ClientId;
use crate::limits::{API_LIST_MAX, API_TEXT_MAX};
use crate::protocol::api::{
    Answer, Call, Counts, Credential, Failure, FailureKind, MemberInfo, MessageInfo, RoomInfo,
    UserInfo,
};
use crate::protocol::{
    Destination, Event, Mask, MessageKind, Name, Outgoing, Past, Protocol, Ref, Selector,
};
use crate::router::state::{self, Room};
use crate::router::tokens::{self, Asker};
use crate::router::{ApiRequest, Replier, Router};
use crate::storage::{self, StoreError};

/// Stands in for a client in hashing jobs asked for by the API, which
/// answer no connection.
pub(super) const NO_CLIENT: ClientId = ClientId(u64::MAX);

/// What went wrong, as an answer.
fn failed(kind: FailureKind, message: impl Into<String>) -> Answer {
    Answer::Failed(Failure::new(kind, message))
}

fn no_room(room: &str) -> Answer {
    failed(FailureKind::NotFound, format!("no room {room}"))
}

mod issue;
mod rooms;

impl Router {
    /// Answers one API request, now or once a helper has done its part.
    pub(in crate::router) fn api(&mut self, request: ApiRequest, now: Instant) {
        let ApiRequest {
            call,
            credential,
            peer,
            reply,
        } = request;
        let answer = match call {
            Call::Metrics => Answer::Metrics(Box::new(self.counts())),
            Call::IssueToken { account, password } => {
                match self.check_for_token(&account, password, peer, reply.clone(), now) {
                    Ok(()) => return,
                    Err(failure) => Answer::Failed(failure),
                }
            }
            call => match self.allowed_account(&credential, now) {
                Ok(account) => match call {
                    Call::RevokeToken => {
                        let Credential::Token(secret) = &credential else {
                            reply.answer(failed(
                                FailureKind::Invalid,
                                "only a bearer token can be revoked; a JWT expires",
                            ));
                            return;
                        };
                        let job = storage::Job::RevokeToken {
                            hash: tokens::hash(secret),
                            asker: Asker::Api(reply.clone()),
                        };
                        match self.save(NO_CLIENT, job) {
                            Ok(()) => return,
                            Err(_) => Answer::Failed(busy()),
                        }
                    }
                    Call::History {
                        room,
                        before,
                        limit,
                    } => match self.history_page(&account, &room, before, limit, &reply) {
                        Ok(()) => return,
                        Err(failure) => Answer::Failed(failure),
                    },
                    call => self.api_call(&account, call, now),
                },
                Err(failure) => Answer::Failed(failure),
            },
        };
        reply.answer(answer);
    }

    /// The account a credential names, if it has a call left in its
    /// allowance (`--rate`, `--burst`), or why not.
    fn allowed_account(&mut self, credential: &Credential, now: Instant) -> Result<Name, Failure> {
        let account = self.api_account(credential)?;
        match self.api_rate.take(&state::fold(&account), now) {
            Ok(()) => Ok(account),
            Err(wait) => Err(Failure::new(
                FailureKind::Throttled {
                    // Whole seconds, rounded up, as `Retry-After` takes.
                    retry_secs: (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1),
                },
                "too many calls: slow down (--rate, --burst)",
            )),
        }
    }

    /// The account a credential names, or why it names none.
    fn api_account(&self, credential: &Credential) -> Result<Name, Failure> {
        let account = match credential {
            Credential::None => {
                return Err(Failure::new(
                    FailureKind::Unauthorized,
                    "give Authorization: Bearer TOKEN (POST /api/v1/tokens makes one)",
                ));
            }
            Credential::Token(secret) => self.tokens.check(secret, unix_now()),
            Credential::Jwt(account) => Some(account),
        };
        // A dropped account's tokens went with it.
        account
            .and_then(|account| self.accounts.get(account))
            .map(|account| account.name.clone())
            .ok_or_else(|| Failure::new(FailureKind::Unauthorized, "unknown or expired credential"))
    }

    /// Calls that need an account.
    fn api_call(&mut self, account: &Name, call: Call, now: Instant) -> Answer {
        match call {
            Call::Rooms => {
                let mut rooms: Vec<RoomInfo> = self
                    .rooms
                    .values()
                    .filter(|room| !room.modes.secret || self.present(account, room))
                    .map(room_info)
                    .collect();
                rooms.sort_by(|a, b| a.name.cmp(&b.name));
                rooms.truncate(API_LIST_MAX);
                Answer::Rooms(rooms)
            }
            Call::CreateRoom { name, topic } => self.create_room(account, name, topic),
            Call::DeleteRoom { room } => self.delete_room(account, &room, now),
            Call::SetTopic { room, topic } => self.set_topic(account, &room, topic, now),
            Call::Members { room } => {
                let Some(found) = self.rooms.get(&*state::folded(&room)) else {
                    return no_room(&room);
                };
                if found.modes.secret
                    && !self.present(account, found)
                    && !self.is_oper_account(account)
                {
                    return no_room(&room);
                }
                let mut members: Vec<MemberInfo> = found
                    .members
                    .iter()
                    .filter_map(|(id, membership)| {
                        let mask = self.clients.mask(*id)?;
                        Some(MemberInfo {
                            nick: mask.nick.clone(),
                            account: mask.account.clone(),
                            operator: membership.operator,
                            voice: membership.voice,
                        })
                    })
                    .collect();
                members.sort_by(|a, b| a.nick.cmp(&b.nick));
                members.truncate(API_LIST_MAX);
                Answer::Members(members)
            }
            Call::Invite { room, nick } => self.api_invite(account, &room, &nick, now),
            Call::Kick { room, nick, reason } => self.api_kick(account, &room, &nick, reason, now),
            Call::Post { target, text } => self.post(account, &target, text, now),
            Call::Whois { nick } => match self.registered_id(&nick) {
                Some(id) => Answer::User(self.user_info(account, id, now)),
                None => failed(FailureKind::NotFound, format!("nobody is called {nick}")),
            },
            Call::Online => {
                let mut users: Vec<UserInfo> = self
                    .clients
                    .map
                    .iter()
                    .filter(|(_, client)| client.registered && !client.invisible)
                    .map(|(&id, _)| id)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .map(|id| self.user_info(account, id, now))
                    .collect();
                users.sort_by(|a, b| a.nick.cmp(&b.nick));
                users.truncate(API_LIST_MAX);
                Answer::Users(users)
            }
            Call::Metrics | Call::IssueToken { .. } | Call::RevokeToken | Call::History { .. } => {
                unreachable!("answered by Router::api")
            }
        }
    }

    /// What `/metrics` shows of the router's state.
    fn counts(&self) -> Counts {
        // Carrier (plain, TLS, WebSocket, WebSocket over TLS) by protocol.
        let mut by_link = [[0u64; 2]; 4];
        for client in self.clients.map.values() {
            let carrier = usize::from(client.link.tls) + 2 * usize::from(client.link.websocket);
            by_link[carrier][usize::from(client.protocol == Protocol::Irc)] += 1;
        }
        let carriers = ["plain", "tls", "websocket", "websocket-tls"];
        let clients = carriers
            .iter()
            .zip(by_link)
            .flat_map(|(&carrier, counts)| {
                [("line", counts[0]), ("irc", counts[1])]
                    .map(|(protocol, count)| (carrier, protocol, count))
            })
            // WebSocket carries IRC only.
            .filter(|&(carrier, protocol, _)| {
                !(carrier.starts_with("websocket") && protocol == "line")
            })
            .collect();
        Counts {
            clients,
            registered: self.registered as u64,
            rooms: self.rooms.len() as u64,
            accounts: self.accounts.map.len() as u64,
            messages_in: self.counters.messages_in,
            cut: vec![
                ("flood", self.counters.cut_flood),
                ("ping", self.counters.cut_ping),
            ],
            storage_queue: self.storage.queued() as u64,
        }
    }

    /// Whether `account` has a client in `room`.
    fn present(&self, account: &Name, room: &Room) -> bool {
        room.members
            .keys()
            .any(|id| self.clients.map[id].account.as_ref() == Some(account))
    }

    /// Whether `account` is a server operator's (an `--oper` name).
    fn is_oper_account(&self, account: &Name) -> bool {
        self.opers.is_named(account)
    }

    /// Whether `account` may manage `room`: an operator account, the
    /// room's owner, or present in it as a room operator.
    fn manages(&self, account: &Name, room: &Room) -> bool {
        self.is_oper_account(account)
            || room
                .owner
                .as_ref()
                .is_some_and(|owner| owner.eq_ignore_ascii_case(account))
            || room.members.iter().any(|(id, membership)| {
                membership.operator && self.clients.map[id].account.as_ref() == Some(account)
            })
    }

    /// The mask API actions are shown under: the account as nickname, at
    /// the server.
    fn api_mask(&self, account: &Name) -> Arc<Mask> {
        Arc::new(Mask {
            nick: account.clone(),
            user: "api".into(),
            host: self.info.name.clone(),
            account: Some(account.clone()),
        })
    }

    /// Posts `text` from `account` to a room it may speak in (present, or
    /// managing it) or to a nickname.
    fn post(&mut self, account: &Name, target: &str, text: String, now: Instant) -> Answer {
        if text.contains(['\n', '\r']) {
            return failed(FailureKind::Invalid, "text must be one line");
        }
        if text.len() > API_TEXT_MAX {
            return failed(
                FailureKind::Invalid,
                format!("text is at most {API_TEXT_MAX} bytes"),
            );
        }
        let text = crate::protocol::strip_controls(&text, false).into_owned();
        if text.is_empty() {
            return failed(FailureKind::Invalid, "text must not be empty");
        }
        let from = self.api_mask(account);
        let id = self.message_id();
        let message = |to| Event::Message {
            from: Arc::clone(&from),
            to,
            text: text.as_str().into(),
            kind: MessageKind::Say,
            tags: None,
            id: id.clone(),
            long: true,
        };
        if target.starts_with('#') {
            let key = state::fold(target);
            let Some(room) = self.rooms.get(&key) else {
                return no_room(target);
            };
            if !self.present(account, room) && !self.manages(account, room) {
                return failed(
                    FailureKind::Forbidden,
                    format!("join {target} to speak in it"),
                );
            }
            let event = message(Destination::Room(room.name.clone()));
            let message = self.tell_room(&key, event, now);
            self.keep_in_room(&key, &message);
        } else {
            let Some(recipient) = self.registered_id(target) else {
                return failed(FailureKind::NotFound, format!("nobody is called {target}"));
            };
            let event = message(Destination::User(self.clients.map[&recipient].me()));
            let message = Outgoing::new(event);
            self.clients.send(recipient, &message, now);
            self.keep_posted(account, recipient, &message);
        }
        Answer::Posted { id }
    }

    /// Tells every member of the room `key` of `event`, returned shared
    /// for the history.
    fn tell_room(&mut self, key: &Name, event: Event, now: Instant) -> Arc<Outgoing> {
        let message = Outgoing::new(event);
        if let Some(room) = self.rooms.get(key) {
            for &member in room.members.keys() {
                self.clients.send(member, &message, now);
            }
        }
        message
    }

    /// Asks storage for a page of `room`'s history for `account`, which
    /// must be present in the room or manage it (as `CHATHISTORY` asks of
    /// members): the newest `limit` messages, before the message `before`
    /// (an id, or `timestamp=` as in `CHATHISTORY`) if given. The page
    /// answers `reply` when it comes ([`history_answer`]).
    fn history_page(
        &mut self,
        account: &Name,
        room: &str,
        before: Option<String>,
        limit: usize,
        reply: &Replier,
    ) -> Result<(), Failure> {
        let key = state::fold(room);
        let Some(found) = self.rooms.get(&key) else {
            return Err(Failure::new(
                FailureKind::NotFound,
                format!("no room {room}"),
            ));
        };
        if !self.present(account, found) && !self.manages(account, found) {
            return Err(Failure::new(
                FailureKind::Forbidden,
                format!("join {room} to read its history"),
            ));
        }
        let selector = match before {
            None => Selector::Latest(None),
            Some(point) => Selector::Before(Ref::parse(&point).unwrap_or(Ref::MsgId(point))),
        };
        let job = storage::Job::ApiHistory {
            key,
            selector,
            limit,
            reply: reply.clone(),
        };
        if self.storage.submit(job).is_err() {
            self.clients
                .stats
                .storage_busy
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(busy());
        }
        Ok(())
    }

    /// What the API tells of user `id` to `account`.
    fn user_info(&self, account: &Name, id: ClientId, now: Instant) -> UserInfo {
        let client = &self.clients.map[&id];
        let mask = client.mask.as_ref().expect("registered");
        let rooms = client
            .rooms
            .iter()
            .filter_map(|key| self.rooms.get(key))
            .filter(|room| !room.modes.secret || self.present(account, room))
            .map(|room| format!("{}{}", room.members[&id].prefixes(false), room.name))
            .collect();
        UserInfo {
            nick: mask.nick.clone(),
            user: mask.user.clone(),
            host: mask.host.clone(),
            realname: client.realname.clone(),
            account: client.account.clone(),
            rooms,
            away: client.away.clone(),
            operator: client.operator.is_some(),
            idle_secs: now.duration_since(client.last_spoke).as_secs(),
            signon: client.signon,
        }
    }
}

/// The answer to an API history read, from what storage found.
pub(super) fn history_answer(result: Result<Vec<Past>, StoreError>) -> Answer {
    let Ok(page) = result else {
        return Answer::Failed(busy());
    };
    let messages = page
        .into_iter()
        .filter_map(|past| match past.message {
            Event::Message {
                from,
                text,
                kind,
                id,
                ..
            } => Some(MessageInfo {
                id,
                at: past.at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                from: from.nick.clone(),
                account: from.account.clone(),
                kind: match kind {
                    MessageKind::Action => "action",
                    MessageKind::Notice | MessageKind::CtcpReply => "notice",
                    MessageKind::Say | MessageKind::Ctcp => "say",
                },
                text,
            }),
            _ => None,
        })
        .collect();
    Answer::Messages(messages)
}

fn busy() -> Failure {
    Failure::new(FailureKind::Busy, "server busy, try again in a moment")
}

fn room_info(room: &Room) -> RoomInfo {
    RoomInfo {
        name: room.name.clone(),
        members: room.members.len(),
        topic: room.topic.as_ref().map(|topic| topic.text.clone()),
        owner: room.owner.clone(),
    }
}
