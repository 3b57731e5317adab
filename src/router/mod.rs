//! The router: the one owner of all chat state.
//!
//! It takes [`Input`]s, one at a time, from one bounded channel: the
//! threaded transport's readers, the storage thread and the hashing pool
//! all send on it, and the router's own thread selects over it
//! ([`Router::run`]); the evented loop owns the router, calls
//! [`Router::handle`] in place for its connections and drains the channel
//! for the rest. It answers by queueing events on clients' bounded
//! outboxes, which drop rather than wait, and hands slow work (password
//! hashing, the database) to its helpers with `try_send`, so it never
//! blocks. Its own code does no I/O, which is why its tests need no
//! sockets; only the threaded transport's wake-up, called on the router
//! thread at the end of a turn, may write to a parked writer's socket
//! without waiting (`transport::threaded`).

mod accounts;
mod api_rate;
mod commands;
mod input;
mod invariants;
mod invites;
mod opers;
mod recent;
mod run;
mod state;
#[cfg(test)]
mod tests;
pub mod tokens;
mod whowas;

pub use crate::accounts::{check_hash, hash_password};
pub use accounts::{Services, Then, Via};
pub use input::{ApiRequest, Input, Replier, RouterSender, Wake};
pub use state::{KEY_MAX, NICK_MAX, ROOM_MAX, ROOMS_PER_CLIENT, TOPIC_MAX, fold};
pub use tokens::Asker;
pub use whowas::{WHOWAS_MAX, WHOWAS_PER_NICK};

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, select};

use crate::client::{ClientId, IdMap, Outbox, Turn};
use crate::config::{Config, Scheme, Transport};
use crate::hashing::Pool;
use crate::protocol::{Event, Mask, Name, Outgoing, Protocol, Reply, ServerInfo, WhowasEntry};
use crate::stats::Stats;
use crate::storage::Storage;
use accounts::Accounts;
use opers::Opers;
use recent::Recent;
use state::{Client, Clients, Room, SlowPolicy};
use whowas::History;

/// How many inputs the router's channel holds. A reader that finds it full
/// blocks, which pushes back on that one client's TCP connection; a helper
/// (storage, hashing) waits too, never the router.
pub const INBOX_CAPACITY: usize = 4096;

/// How often the router checks the clocks: registration, ping and lag
/// deadlines.
pub const TICK: Duration = Duration::from_millis(250);

/// The farewell every client gets when the server stops.
const SHUTTING_DOWN: &str = "server shutting down";

/// The last words a closing connection reads: as they are for line users;
/// IRC clients expect `Closing Link: HOST (REASON)` after `ERROR`.
fn farewell(protocol: Protocol, peer: SocketAddr, reason: &Name) -> Name {
    match protocol {
        Protocol::Line => reason.clone(),
        Protocol::Irc => format!("{} ({reason})", peer.ip()).into(),
    }
}

/// Tallies for `/metrics`, kept by the router alone.
#[derive(Debug, Default)]
struct Counters {
    /// Messages clients sent (`PRIVMSG`, `NOTICE`, line messages).
    messages_in: u64,
    /// Clients cut off for flooding, and for not answering pings.
    cut_flood: u64,
    cut_ping: u64,
}

/// An IRCv3 Strict Transport Security policy, as `CAP LS 302` states it.
#[derive(Debug)]
struct Sts {
    /// For plain connections: where to reconnect with TLS.
    plain: String,
    /// For TLS connections: how long clients should hold to TLS.
    secure: String,
}

impl Sts {
    fn of(config: &Config) -> Option<Sts> {
        let duration = config.sts_duration?;
        let tls = config
            .listen
            .iter()
            .find(|listen| listen.scheme == Scheme::Ircs)?;
        Some(Sts {
            plain: format!("sts=port={}", tls.addr.port()),
            secure: format!("sts=duration={}", duration.as_secs()),
        })
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
    /// Server operators.
    opers: Opers,
    /// Every account, and login and registration throttles.
    accounts: Accounts,
    /// Live HTTP API tokens, by hash.
    tokens: tokens::Tokens,
    /// Each account's allowance of API calls.
    api_rate: api_rate::ApiRate,
    /// What `/metrics` counts that nothing else does.
    counters: Counters,
    /// Rooms' latest messages for the join replay; offline boxes' counts.
    recent: Recent,
    /// The helpers that do what the router must not wait for.
    storage: Storage,
    hashing: Pool,
    /// How long someone has to log in after taking a registered nickname.
    nick_grace: Duration,
    /// Guest nicknames are `Guest` and this count.
    next_guest: u64,
    /// Message ids are the start time, a dash and a count; this holds the
    /// last one made, so the next is written over its count.
    msgid: String,
    next_msgid: u64,
    info: Arc<ServerInfo>,
    password: Option<String>,
    register_timeout: Duration,
    /// The IRCv3 `sts` values, for plain and TLS clients, when a TLS IRC
    /// listener exists and `--sts-duration` is not off.
    sts: Option<Sts>,
    ping_interval: Duration,
    ping_timeout: Duration,
}

impl Router {
    /// A router with no clients, configured from `config`, with its helpers.
    pub fn new(config: &Config, stats: Arc<Stats>, services: Services) -> Router {
        let created = jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M:%S UTC");
        Router {
            clients: Clients {
                map: IdMap::default(),
                turn: Turn::default(),
                doomed: Vec::new(),
                policy: SlowPolicy {
                    max_dropped: config.slow_drops,
                    max_lag: config.slow_timeout,
                },
                stats,
                labeling: None,
                run: (config.transport == Transport::Evented).then(run::Run::default),
            },
            rooms: HashMap::new(),
            nicks: HashMap::new(),
            registered: 0,
            max_registered: 0,
            invisible: 0,
            operators: 0,
            history: History::default(),
            opers: Opers::new(&config.opers),
            accounts: Accounts::new(services.accounts, services.certificates),
            tokens: tokens::Tokens::new(services.tokens),
            api_rate: api_rate::ApiRate::new(config.rate, config.burst),
            counters: Counters::default(),
            recent: services.recent,
            storage: services.storage,
            hashing: services.hashing,
            nick_grace: config.nick_grace,
            next_guest: 0,
            msgid: format!("{:x}-", jiff::Timestamp::now().as_second()),
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
            sts: Sts::of(config),
            ping_interval: config.ping_interval,
            ping_timeout: config.ping_timeout,
        }
    }

    /// The router thread's loop: handle inputs and ticks until `stop` fires
    /// (or everyone who could send an input is gone), then close every
    /// connection.
    pub fn run(mut self, inbox: Receiver<Input>, stop: Receiver<()>) {
        let ticker = crossbeam_channel::tick(TICK);
        loop {
            select! {
                recv(inbox) -> input => {
                    let Ok(input) = input else { break };
                    let now = Instant::now();
                    self.handle(input, now);
                    // Take whatever else is ready in the same turn, so a
                    // burst costs one trip through `select!`; but a writer
                    // that fell `--sendq` behind ends the turn, so that it
                    // drains while the rest waits its turn in the inbox.
                    for input in inbox.try_iter().take(INBOX_CAPACITY) {
                        self.handle(input, now);
                        if self.clients.turn.filling() {
                            break;
                        }
                    }
                }
                recv(stop) -> _ => break,
                recv(ticker) -> _ => self.tick(Instant::now()),
            }
            self.end_run(Instant::now());
            let filling = self.clients.turn.filling();
            self.wake_writers();
            if filling {
                // On two cores the writer may be waiting for this one.
                std::thread::yield_now();
            }
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
                let farewell = farewell(protocol, peer, &SHUTTING_DOWN.into());
                outbox.close(farewell, &self.clients.turn);
            }
        }
    }

    /// Applies one input.
    pub fn handle(&mut self, input: Input, now: Instant) {
        // A request may add to what was said in a room (`run`), and is
        // looked at in `request`; anything else may change who is in it.
        if !matches!(input, Input::Request(..)) {
            self.clients.end_run(now);
        }
        match input {
            Input::Connected {
                id,
                outbox,
                peer,
                protocol,
                link,
            } => {
                log::debug!("{id} connected from {peer} ({protocol})");
                let client = Client {
                    outbox,
                    peer,
                    protocol,
                    link,
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
                    waiting: false,
                    held: Default::default(),
                    account: None,
                    sasl: None,
                    nick_deadline: None,
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
                self.clients.map.insert(id, Box::new(client));
                if protocol == Protocol::Line {
                    self.send(id, Event::Greeting, now);
                }
            }
            Input::Request(id, request) => self.request(id, request, now),
            // Said to the client, which may still be reading; if it is gone,
            // writing this is also how the transport finds out.
            Input::Draining { id, waiting } => self.reply(id, Reply::Draining(waiting), now),
            Input::Disconnected(id, reason) => {
                if reason == crate::limits::EXCESS_FLOOD {
                    self.counters.cut_flood += 1;
                }
                let reason: Name = reason.into();
                self.remove(id, Some(reason.clone()), reason, now);
            }
            Input::Stored(stored) => self.stored(*stored, now),
            Input::Hashed(hashed) => self.hashed(*hashed, now),
            Input::Api(request) => self.api(request, now),
        }
        self.reap(now);
    }

    /// Closes connections that stayed unregistered, silent or slow for too
    /// long, and pings quiet IRC clients.
    pub fn tick(&mut self, now: Instant) {
        self.clients.end_run(now);
        let mut pings = Vec::new();
        for (&id, client) in &mut self.clients.map {
            client.outbox.trim();
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
                    self.counters.cut_ping += 1;
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
        self.enforce_nicks(now);
        self.reap(now);
    }

    /// Tells every client the server is going down and lets go of them; their
    /// writers send what is queued and hang up.
    pub fn shutdown(&mut self) {
        // Storage applies what is queued before it stops: nothing the
        // router asked it to save is lost.
        self.hashing.stop();
        self.storage.stop();
        self.clients.end_run(Instant::now());
        let reason: Name = SHUTTING_DOWN.into();
        for (_, client) in self.clients.map.drain() {
            let farewell = farewell(client.protocol, client.peer, &reason);
            client.outbox.close(farewell, &self.clients.turn);
        }
        self.rooms.clear();
        self.nicks.clear();
        self.registered = 0;
    }

    /// Delivers what was said in a room and not yet delivered (see
    /// `router::run`), and lets go of those it found too slow. Call it at
    /// the end of a turn, before writing.
    pub fn end_run(&mut self, now: Instant) {
        self.clients.end_run(now);
        self.reap(now);
    }

    /// Wakes the writers of every client something was queued for since
    /// the last call: once per writer however many messages it got. Call it
    /// after handling a batch of inputs or a tick.
    pub fn wake_writers(&mut self) {
        self.clients.turn.wake_all();
    }

    /// The `index`th client given something this turn, for a writer on the
    /// router's own thread (the event loop), which writes to each in turn
    /// until there are no more: writing may add some (a write error ends a
    /// client, whose peers hear of it).
    pub fn changed(&self, index: usize) -> Option<ClientId> {
        self.clients.turn.holding(index)
    }

    /// How many messages this turn gave outboxes on the router's own
    /// thread, and how many deliveries of them it made (see
    /// [`Turn::size`]).
    pub fn turn_size(&self) -> (usize, usize) {
        self.clients.turn.size()
    }

    /// Client `id`'s outbox and the router's turn, for a writer on the
    /// router's own thread to take from
    /// ([`crate::client::Outbox::take_bytes`]). None once the router let go
    /// of the client: what is left is the writer's
    /// (`Mailbox::take_leftover`).
    pub fn outbox(&mut self, id: ClientId) -> Option<(&mut Outbox, &mut Turn)> {
        let client = self.clients.map.get_mut(&id)?;
        Some((&mut client.outbox, &mut self.clients.turn))
    }

    /// Ends the router's turn for a caller that writes on its own thread
    /// (the event loop), once it wrote what it could: outboxes keep past
    /// the turn what their sockets did not take yet.
    pub fn end_turn(&mut self) {
        let turn = &mut self.clients.turn;
        let holding = turn.take_holding();
        for id in &holding {
            if let Some(client) = self.clients.map.get_mut(id) {
                client.outbox.keep(turn);
            }
        }
        turn.finish(holding);
        turn.clear();
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
        // What was said before the client left reaches it, and only that.
        self.clients.end_run(now);
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
            if room.is_disposable() {
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
        client.outbox.close(
            self::farewell(client.protocol, client.peer, &farewell),
            &self.clients.turn,
        );
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
        let prefix = self.msgid.find('-').expect("made with a dash") + 1;
        self.msgid.truncate(prefix);
        write!(self.msgid, "{:x}", self.next_msgid).expect("a String takes any write");
        Name::from(self.msgid.as_str())
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
