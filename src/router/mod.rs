//! The router: the one owner of all chat state.
//!
//! It takes [`Input`]s, one at a time: the threaded transport sends them
//! over one bounded channel to the router's own thread ([`Router::run`]);
//! the evented loop owns the router and calls [`Router::handle`] in place.
//! It answers by queueing events on clients' bounded outboxes, which drop
//! rather than wait, so it never blocks on a client. It does no I/O at all,
//! which is why its tests need no sockets.

mod commands;
mod invariants;
mod invites;
mod opers;
mod state;
#[cfg(test)]
mod tests;
mod whowas;

pub use opers::{check_hash, hash_password};
pub use state::{KEY_MAX, NICK_MAX, ROOM_MAX, ROOMS_PER_CLIENT, TOPIC_MAX};
pub use whowas::{WHOWAS_MAX, WHOWAS_PER_NICK};

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, select};

use crate::client::{ClientId, Outbox, Wakes};
use crate::config::Config;
use crate::protocol::{Event, Mask, Name, Outgoing, Protocol, Reply, ServerInfo, WhowasEntry};
use crate::stats::Stats;
use opers::Verifier;
use state::{Client, Clients, Room, SlowPolicy};
use whowas::History;

/// How many inputs the router's inbox holds. A reader that finds it full
/// blocks, which pushes back on that one client's TCP connection.
pub const INBOX_CAPACITY: usize = 4096;

/// How often the router checks the clocks: registration, ping and lag
/// deadlines.
pub const TICK: Duration = Duration::from_millis(250);

/// The farewell every client gets when the server stops.
const SHUTTING_DOWN: &str = "server shutting down";

/// What transports tell the router.
#[derive(Debug)]
pub enum Input {
    /// A new connection, with the outbox the router will feed.
    Connected {
        id: ClientId,
        outbox: Outbox,
        peer: SocketAddr,
        protocol: Protocol,
    },
    /// A client's request, decoded from one line.
    Request(ClientId, crate::protocol::Request),
    /// The client will send no more, but `waiting` of its lines still wait
    /// for flood control; the transport hands them on at their pace, then
    /// reports the disconnection.
    Draining { id: ClientId, waiting: usize },
    /// The connection ended; the router cleans up the first time it hears it.
    Disconnected(ClientId, String),
}

/// The last words a closing connection reads: as they are for line users;
/// IRC clients expect `Closing Link: HOST (REASON)` after `ERROR`.
fn farewell(protocol: Protocol, peer: SocketAddr, reason: &Name) -> Name {
    match protocol {
        Protocol::Line => reason.clone(),
        Protocol::Irc => format!("{} ({reason})", peer.ip()).into(),
    }
}

/// The owner of every user, room and membership.
#[derive(Debug)]
pub struct Router {
    clients: Clients,
    /// Rooms by folded name.
    rooms: HashMap<Name, Room>,
    /// Nicknames in use (registered or not) by folded name.
    nicks: HashMap<Name, ClientId>,
    /// How many clients completed registration, and the most there ever were.
    registered: usize,
    max_registered: usize,
    /// How many registered clients are `+i`, and how many are operators.
    invisible: usize,
    operators: usize,
    /// Recent holders of nicknames, for `WHOWAS`.
    history: History,
    /// Server operators and the thread that checks their passwords.
    verifier: Verifier,
    /// Message ids are this prefix (the start time) and a count.
    msgid_prefix: String,
    next_msgid: u64,
    info: Arc<ServerInfo>,
    password: Option<String>,
    register_timeout: Duration,
    ping_interval: Duration,
    ping_timeout: Duration,
}

impl Router {
    /// A router with no clients, configured from `config`.
    pub fn new(config: &Config, stats: Arc<Stats>) -> Router {
        let created = jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M:%S UTC");
        Router {
            clients: Clients {
                map: HashMap::new(),
                wakes: Wakes::default(),
                doomed: Vec::new(),
                policy: SlowPolicy {
                    max_dropped: config.slow_drops,
                    max_lag: config.slow_timeout,
                },
                stats,
            },
            rooms: HashMap::new(),
            nicks: HashMap::new(),
            registered: 0,
            max_registered: 0,
            invisible: 0,
            operators: 0,
            history: History::default(),
            verifier: Verifier::new(&config.opers),
            msgid_prefix: format!("{:x}", jiff::Timestamp::now().as_second()),
            next_msgid: 0,
            info: Arc::new(ServerInfo {
                name: config.server_name.as_str().into(),
                network: config.network.as_str().into(),
                version: concat!("switchboard-", env!("CARGO_PKG_VERSION")).into(),
                created: created.to_string().into(),
                motd: config
                    .motd
                    .as_ref()
                    .map(|motd| motd.lines().map(str::to_owned).collect()),
            }),
            password: config.password.clone(),
            register_timeout: config.register_timeout,
            ping_interval: config.ping_interval,
            ping_timeout: config.ping_timeout,
        }
    }

    /// The router thread's loop: handle inputs and ticks until `stop` fires
    /// (or every transport is gone), then close every connection.
    pub fn run(mut self, inbox: Receiver<Input>, stop: Receiver<()>) {
        let ticker = crossbeam_channel::tick(TICK);
        let verdicts = self.verifier.verdicts().clone();
        loop {
            select! {
                recv(inbox) -> input => {
                    let Ok(input) = input else { break };
                    let now = Instant::now();
                    self.handle(input, now);
                    // Take whatever else is ready in the same turn, so a
                    // burst costs one trip through `select!`.
                    for input in inbox.try_iter().take(INBOX_CAPACITY) {
                        self.handle(input, now);
                    }
                }
                recv(stop) -> _ => break,
                recv(ticker) -> _ => self.tick(Instant::now()),
                recv(verdicts) -> verdict => {
                    if let Ok(verdict) = verdict {
                        self.verdict(verdict, Instant::now());
                        self.reap(Instant::now());
                    }
                }
            }
            self.wake_writers();
        }
        self.shutdown();
        // Connections accepted just before the stop are still in the inbox;
        // they hear the news too.
        for input in inbox.try_iter() {
            if let Input::Connected {
                outbox,
                peer,
                protocol,
                ..
            } = input
            {
                outbox.close(farewell(protocol, peer, &SHUTTING_DOWN.into()));
            }
        }
    }

    /// Applies one input.
    pub fn handle(&mut self, input: Input, now: Instant) {
        // The event loop has no way to wait for verdicts yet: it takes them
        // whenever it calls in, on every input and every tick.
        self.take_verdicts(now);
        match input {
            Input::Connected {
                id,
                outbox,
                peer,
                protocol,
            } => {
                log::debug!("{id} connected from {peer} ({protocol})");
                let client = Client {
                    outbox,
                    peer,
                    protocol,
                    nick: None,
                    user: None,
                    realname: "".into(),
                    registered: false,
                    negotiating: false,
                    password: None,
                    mask: None,
                    away: None,
                    invisible: false,
                    wallops: false,
                    operator: None,
                    verifying: false,
                    held: Default::default(),
                    oper_failures: 0,
                    oper_retry_at: None,
                    rooms: Vec::new(),
                    invites: Vec::new(),
                    current: None,
                    connected_at: now,
                    signon: 0,
                    last_spoke: now,
                    last_seen: now,
                    ping_sent: false,
                    lag: None,
                };
                self.clients.map.insert(id, client);
                if protocol == Protocol::Line {
                    self.send(id, Event::Greeting, now);
                }
            }
            Input::Request(id, request) => self.request(id, request, now),
            // Said to the client, which may still be reading; if it is gone,
            // writing this is also how the transport finds out.
            Input::Draining { id, waiting } => self.reply(id, Reply::Draining(waiting), now),
            Input::Disconnected(id, reason) => {
                let reason: Name = reason.into();
                self.remove(id, Some(reason.clone()), reason, now);
            }
        }
        self.reap(now);
    }

    /// Closes connections that stayed unregistered, silent or slow for too
    /// long, and pings quiet IRC clients.
    pub fn tick(&mut self, now: Instant) {
        self.take_verdicts(now);
        let mut pings = Vec::new();
        for (&id, client) in &mut self.clients.map {
            let quiet = now.duration_since(client.last_seen);
            if !client.registered
                && now.duration_since(client.connected_at) >= self.register_timeout
            {
                let reason = match client.protocol {
                    Protocol::Line => format!(
                        "no nickname chosen within {} s",
                        self.register_timeout.as_secs()
                    ),
                    Protocol::Irc => "Registration timeout".to_owned(),
                };
                self.clients.doomed.push((id, reason.into()));
            } else if client.protocol == Protocol::Irc && quiet >= self.ping_interval {
                if quiet >= self.ping_interval + self.ping_timeout {
                    let reason = format!("Ping timeout: {} seconds", quiet.as_secs());
                    self.clients.doomed.push((id, reason.into()));
                } else if !client.ping_sent {
                    client.ping_sent = true;
                    pings.push(id);
                }
            }
        }
        if !pings.is_empty() {
            let ping = Outgoing::new(Event::Ping(self.info.name.clone()));
            for id in pings {
                self.clients.send(id, &ping, now);
            }
        }
        self.clients.check_lag(now);
        self.reap(now);
    }

    /// Tells every client the server is going down and lets go of them; their
    /// writers send what is queued and hang up.
    pub fn shutdown(&mut self) {
        self.verifier.stop();
        let reason: Name = SHUTTING_DOWN.into();
        for (_, client) in self.clients.map.drain() {
            let farewell = farewell(client.protocol, client.peer, &reason);
            client.outbox.close(farewell);
        }
        self.rooms.clear();
        self.nicks.clear();
        self.registered = 0;
    }

    /// Wakes the writers of every client something was queued for since
    /// the last call: once per writer however many messages it got. Call it
    /// after handling a batch of inputs or a tick.
    pub fn wake_writers(&mut self) {
        self.clients.wakes.wake_all();
    }

    /// Forgets the wake-ups owed since the last call, for a caller that
    /// looks at every outbox that changed by itself (the event loop, which
    /// runs the router on its own thread).
    pub fn forget_wakes(&mut self) {
        self.clients.wakes.clear();
    }

    /// How many clients are connected.
    pub fn client_count(&self) -> usize {
        self.clients.map.len()
    }

    /// Removes the clients condemned while handling the last input. Each
    /// removal announces a quit, which may condemn more.
    fn reap(&mut self, now: Instant) {
        while let Some((id, reason)) = self.clients.doomed.pop() {
            if self.clients.map.contains_key(&id) {
                log::info!("{id} disconnected: {reason}");
                self.remove(id, Some(reason.clone()), reason, now);
            }
        }
    }

    /// Forgets a client: its nickname, its rooms (announcing `public` to
    /// everyone who shared one) and its outbox, whose writer sends `farewell`
    /// and hangs up. Does nothing if the client is already gone, so a
    /// disconnect noticed twice is cleaned up once.
    fn remove(&mut self, id: ClientId, public: Option<Name>, farewell: Name, now: Instant) {
        let Some(client) = self.clients.map.remove(&id) else {
            return;
        };
        log::debug!("{id} from {} removed: {farewell}", client.peer);
        if let Some(nick) = &client.nick {
            self.nicks.remove(&state::fold(nick));
        }
        if client.registered {
            self.registered -= 1;
            self.invisible -= usize::from(client.invisible);
            self.operators -= usize::from(client.operator.is_some());
        }
        let mut peers = HashSet::new();
        for key in &client.rooms {
            let Some(room) = self.rooms.get_mut(key) else {
                continue;
            };
            room.members.remove(&id);
            if room.members.is_empty() {
                self.forget_room(key);
            } else {
                peers.extend(room.members.keys().copied());
            }
        }
        self.forget_invites(id, &client.invites);
        if let Some(who) = client.mask {
            self.remember(&who, &client.realname);
            let quit = Outgoing::new(Event::Quit {
                who,
                reason: public,
            });
            for peer in peers {
                self.clients.send(peer, &quit, now);
            }
        }
        client
            .outbox
            .close(self::farewell(client.protocol, client.peer, &farewell));
    }

    /// Remembers for `WHOWAS` that `who` stopped using its nickname.
    fn remember(&mut self, who: &Arc<Mask>, realname: &Name) {
        let left = jiff::Zoned::now().strftime("%a %b %-d %H:%M:%S %Y %Z");
        let entry = WhowasEntry {
            mask: Arc::clone(who),
            realname: realname.clone(),
            server: self.info.name.clone(),
            left: left.to_string().into(),
        };
        self.history.record(state::fold(&who.nick), entry);
    }

    /// A fresh IRCv3 message id.
    fn message_id(&mut self) -> Name {
        self.next_msgid += 1;
        format!("{}-{:x}", self.msgid_prefix, self.next_msgid).into()
    }

    /// Queues an event for one client.
    fn send(&mut self, id: ClientId, event: Event, now: Instant) {
        self.clients.send(id, &Outgoing::new(event), now);
    }

    /// Queues a reply for one client, addressed to its nickname.
    fn reply(&mut self, id: ClientId, reply: Reply, now: Instant) {
        let Some(client) = self.clients.map.get(&id) else {
            return;
        };
        let me = client.me();
        self.send(id, Event::Reply { me, reply }, now);
    }

    /// Queues one shared event for every member of a room but `except`.
    fn broadcast(&mut self, key: &Name, event: Event, except: Option<ClientId>, now: Instant) {
        let Some(room) = self.rooms.get(key) else {
            return;
        };
        let message = Outgoing::new(event);
        for &member in room.members.keys() {
            if Some(member) != except {
                self.clients.send(member, &message, now);
            }
        }
    }
}
