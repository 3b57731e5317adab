//! History: keeping what is said, replaying it, reading it back, and
//! private messages that wait for someone offline.
//!
//! Keeping a message costs the live path one `try_send` to the storage
//! thread (and, in a room, a copy of the event, its text shared, in the
//! room's ring), never a wait.
//! Reads go to the storage thread and come back as `Input::Stored`, when
//! the router checks again that the reader may see them.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::client::ClientId;
use crate::limits::HISTORY_TARGETS_MAX;
use crate::protocol::{
    Caps, Error, Event, HistoryQuery, Name, Outgoing, Past, PastKind, Reply, Target,
};
use crate::router::Router;
use crate::router::state;
use crate::storage::{Job, Record, Stored};

impl Router {
    /// Who a client is in a private conversation's key (see [`party`]).
    fn party(&self, id: ClientId) -> Option<Name> {
        let client = self.clients.map.get(&id)?;
        Some(party(client.account.as_ref(), client.nick.as_ref()?))
    }

    /// Stores a message said in the room `key` and keeps it for the replay.
    pub(super) fn keep_in_room(&mut self, key: &Name, message: &Arc<Outgoing>) {
        self.recent.remember(key, message);
        self.record(key.clone(), message);
    }

    /// Stores something that happened in the room `key` other than a
    /// message (a topic change, a TAGMSG worth keeping): read back by
    /// clients with `draft/event-playback`, never replayed on join.
    pub(super) fn keep_event(&mut self, key: &Name, event: &Arc<Outgoing>) {
        self.record(key.clone(), event);
    }

    /// Stores a private message between `id` and `recipient`, unless
    /// neither has an account.
    pub(super) fn keep_private(
        &mut self,
        id: ClientId,
        recipient: ClientId,
        message: &Arc<Outgoing>,
    ) {
        let registered = |id: ClientId| self.clients.map[&id].account.is_some();
        if !registered(id) && !registered(recipient) {
            return;
        }
        if let (Some(a), Some(b)) = (self.party(id), self.party(recipient)) {
            self.record(pair(&a, &b), message);
        }
    }

    /// Hands a message to the storage thread without waiting; a full queue
    /// means it is not stored, counted.
    fn record(&mut self, key: Name, message: &Arc<Outgoing>) {
        let record = Record::of(key, message);
        if self.storage.record(record).is_err() {
            let dropped = self
                .clients
                .stats
                .history_dropped
                .fetch_add(1, Ordering::Relaxed)
                + 1;
            // Logged at each power of two, so a long overload is seen
            // without a line per message.
            if dropped.is_power_of_two() {
                log::warn!("history: storage queue full, {dropped} messages not stored so far");
            }
        }
    }

    /// Stores a private message the account `account` sent over the HTTP
    /// API to `recipient`.
    pub(super) fn keep_posted(
        &mut self,
        account: &Name,
        recipient: ClientId,
        message: &Arc<Outgoing>,
    ) {
        if let Some(other) = self.party(recipient) {
            self.record(pair(&state::fold(account), &other), message);
        }
    }

    /// Leaves a private message for the account `owner` (spelled `nick`),
    /// which nobody is logged in to: saved by the storage thread, after
    /// which the sender is told it waits.
    pub(super) fn leave_offline(
        &mut self,
        id: ClientId,
        owner: Name,
        nick: Name,
        message: Arc<Outgoing>,
    ) -> Result<(), Error> {
        let sender = self.party(id).expect("registered");
        if self.recent.reserve(&owner, &sender).is_err() {
            return Err(Error::OfflineFull(nick.to_string()));
        }
        let key = pair(&sender, &owner);
        let job = Job::SaveOffline {
            client: id,
            owner: owner.clone(),
            sender: sender.clone(),
            nick,
            message: Arc::clone(&message),
        };
        if self.storage.submit(job).is_err() {
            self.recent.release(&owner, &sender, 1);
            self.clients
                .stats
                .storage_busy
                .fetch_add(1, Ordering::Relaxed);
            return Err(Error::Busy);
        }
        // The recipient has an account: the talk is kept.
        self.record(key, &message);
        Ok(())
    }

    /// Asks for the messages waiting for the account `id` just logged in
    /// to (or registered with), if any wait.
    pub(super) fn take_offline(&mut self, id: ClientId) {
        let client = &self.clients.map[&id];
        let Some(account) = client.account.as_ref().filter(|_| client.registered) else {
            return;
        };
        let owner = state::fold(account);
        if self.recent.has_mail(&owner) {
            // A full queue leaves them waiting for the next login.
            let _ = self.storage.submit(Job::TakeOffline { client: id, owner });
        }
    }

    /// Replays the room's recent messages to a client that just joined it,
    /// unless its client fetches history itself.
    pub(super) fn replay(&mut self, id: ClientId, key: &Name, now: Instant) {
        if self.clients.caps(id).contains(Caps::CHATHISTORY) {
            return;
        }
        let messages = self.recent.replay(key, jiff::Timestamp::now());
        if messages.is_empty() {
            return;
        }
        let target = self.rooms[key].name.clone();
        let reply = Reply::History {
            target,
            kind: PastKind::Replay,
            messages,
        };
        self.reply(id, reply, now);
    }

    /// A history read: checked here (only members read a room's, only an
    /// account its private talks), answered once the store has read it.
    pub(super) fn read_history(
        &mut self,
        id: ClientId,
        target: Option<String>,
        query: HistoryQuery,
    ) -> Result<(), Error> {
        if !self.storage.keeps_history() {
            return Err(Error::HistoryOff);
        }
        let (key, target) = match target {
            None => {
                let key = self.member_room(id, None)?;
                let name = self.rooms[&key].name.clone();
                (key, name)
            }
            Some(target) => self.readable(id, &target, &query)?,
        };
        let job = Job::History {
            client: id,
            key,
            target,
            query,
            events: self.clients.caps(id).contains(Caps::EVENT_PLAYBACK),
            label: self.defer_label(id),
        };
        self.submit_read(id, job)
    }

    /// `CHATHISTORY TARGETS`: among the client's rooms and private talks.
    pub(super) fn read_targets(
        &mut self,
        id: ClientId,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
        limit: usize,
    ) -> Result<(), Error> {
        if !self.storage.keeps_history() {
            return Err(Error::HistoryOff);
        }
        let client = &self.clients.map[&id];
        let job = Job::Targets {
            client: id,
            rooms: client.rooms.clone(),
            party: client.account.as_ref().map(|account| state::fold(account)),
            from,
            to,
            limit: limit.min(HISTORY_TARGETS_MAX),
            label: self.defer_label(id),
        };
        self.submit_read(id, job)
    }

    /// Hands a read to the storage thread; its answer, labeled if the
    /// request was (the job carries the label), comes later. If the queue
    /// is full, the error is the answer.
    fn submit_read(&mut self, id: ClientId, job: Job) -> Result<(), Error> {
        if self.storage.submit(job).is_err() {
            self.clients
                .stats
                .storage_busy
                .fetch_add(1, Ordering::Relaxed);
            return Err(Error::Busy);
        }
        // Later requests wait for the answer, so that replies keep their
        // order (a client's PING after a read must not overtake it).
        if let Some(client) = self.clients.map.get_mut(&id) {
            client.waiting = true;
        }
        Ok(())
    }

    /// The key of a conversation `id` may read, and its name as asked
    /// (which the answer repeats): a room it is in, or someone it could
    /// have talked with privately (it needs an account for that).
    fn readable(
        &self,
        id: ClientId,
        target: &str,
        query: &HistoryQuery,
    ) -> Result<(Name, Name), Error> {
        let refused = || Error::HistoryRefused {
            command: query.selector.command(),
            target: target.to_owned(),
        };
        match Target::parse(target) {
            Target::Room(room) => {
                let key = state::fold(&room);
                match self.rooms.get(&key) {
                    Some(room) if room.members.contains_key(&id) => Ok((key, target.into())),
                    _ => Err(refused()),
                }
            }
            Target::User(nick) => {
                let client = &self.clients.map[&id];
                let mine = client.account.as_ref().ok_or_else(refused)?;
                let other = match self.registered_id(&nick) {
                    Some(other) => self.party(other).ok_or_else(refused)?,
                    None => {
                        let key = state::fold(&nick);
                        let account = self.accounts.map.contains_key(&key).then_some(&key);
                        party(account, &key)
                    }
                };
                Ok((pair(&state::fold(mine), &other), target.into()))
            }
        }
    }

    /// What the storage thread answered to history jobs.
    pub(in crate::router) fn history_stored(&mut self, stored: Stored, now: Instant) {
        match stored {
            Stored::OfflineSaved {
                client,
                owner,
                sender,
                nick,
                result,
            } => match result {
                Ok(()) => self.reply(client, Reply::Queued(nick), now),
                Err(_) => {
                    self.recent.release(&owner, &sender, 1);
                    self.reply(client, Reply::Error(Error::Busy), now);
                }
            },
            Stored::Offline {
                client,
                owner,
                result: Ok((messages, last)),
            } => self.deliver_offline(client, owner, messages, last, now),
            Stored::History {
                client,
                target,
                query,
                label,
                result,
            } => {
                self.resume_label(client, label);
                // Still allowed? A room may have been left meanwhile.
                let allowed = match Target::parse(&target) {
                    Target::Room(room) => self.readable(client, &room, &query).is_ok(),
                    Target::User(_) => self
                        .clients
                        .map
                        .get(&client)
                        .is_some_and(|client| client.account.is_some()),
                };
                let reply = if allowed {
                    Reply::History {
                        target,
                        kind: query.kind,
                        // An unknown message id finds nothing.
                        messages: result.unwrap_or_default(),
                    }
                } else {
                    Reply::Error(Error::HistoryRefused {
                        command: query.selector.command(),
                        target: target.to_string(),
                    })
                };
                self.answer_read(client, reply, now);
            }
            Stored::Targets {
                client,
                label,
                result,
            } => {
                self.resume_label(client, label);
                let targets = result.unwrap_or_default();
                self.answer_read(client, Reply::HistoryTargets(targets), now);
            }
            Stored::Offline { result: Err(_), .. }
            | Stored::AccountCreated { .. }
            | Stored::AccountDropped { .. }
            | Stored::Certificate { .. }
            | Stored::TokenSaved { .. }
            | Stored::TokenRevoked { .. }
            | Stored::ApiHistory { .. }
            | Stored::Written(_) => {}
        }
        self.reap(now);
    }

    /// Answers a read (under its label, if it had one); the client's
    /// later requests then go on, in order.
    fn answer_read(&mut self, id: ClientId, reply: Reply, now: Instant) {
        self.reply(id, reply, now);
        self.finish_label(now);
        if let Some(client) = self.clients.map.get_mut(&id) {
            client.waiting = false;
        }
        self.release_held(id, now);
    }

    /// Hands a client the messages that waited for its account, and lets
    /// the store forget them.
    fn deliver_offline(
        &mut self,
        id: ClientId,
        owner: Name,
        messages: Vec<Past>,
        last: i64,
        now: Instant,
    ) {
        let Some(client) = self.clients.map.get(&id) else {
            return;
        };
        if client.account.as_ref().map(|account| state::fold(account)) != Some(owner.clone()) {
            // Logged out meanwhile: they wait for the next login.
            return;
        }
        let target = client.me();
        // If the queue is full they stay in the box, counted, and are
        // delivered again at the next login rather than lost.
        let cleared = Job::ClearOffline {
            owner: owner.clone(),
            last,
        };
        if self.storage.submit(cleared).is_ok() {
            for past in &messages {
                if let Event::Message { from, .. } = &past.message {
                    let sender = party(from.account.as_ref(), &from.nick);
                    self.recent.release(&owner, &sender, 1);
                }
            }
        }
        let reply = Reply::History {
            target,
            kind: PastKind::Offline,
            messages,
        };
        self.reply(id, reply, now);
    }
}

/// Client tags that make a TAGMSG worth keeping in the history (a
/// reaction, or one its sender asks to keep); typing notices and the like
/// are not.
const KEPT_TAGS: [&str; 3] = ["+draft/react", "+react", "+draft/persist"];

/// Whether a TAGMSG with these client tags is kept.
pub(super) fn worth_keeping(tags: &str) -> bool {
    tags.split(';')
        .any(|tag| KEPT_TAGS.contains(&tag.split('=').next().unwrap_or_default()))
}

/// Who someone is in a private conversation: its account, or without one
/// its nickname marked with `~` (which no nickname has), so that whoever
/// registers that nickname later does not read the talk (folded either
/// way).
fn party(account: Option<&Name>, nick: &Name) -> Name {
    match account {
        Some(account) => state::fold(account),
        None => format!("~{}", state::fold(nick)).into(),
    }
}

/// The key of a private conversation: both parties, in order.
fn pair(a: &Name, b: &Name) -> Name {
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    format!("{first} {second}").into()
}
