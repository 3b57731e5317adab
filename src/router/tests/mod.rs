//! Router tests: no sockets, no threads. A [`Harness`] plays the transports,
//! feeding inputs with a hand-driven clock and reading each client's inbox.
//!
//! Events are compared whole. What depends on the wall clock (time stamps,
//! the server's start time) is checked for plausibility and then fixed by
//! [`unclocked`], so expectations can be exact about everything else.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Input, ROOMS_PER_CLIENT, Router, Services, TOPIC_MAX};
use crate::accounts::PasswordCost;
use crate::client::{self, ClientId, Inbox};
use crate::config::Config;
use crate::hashing::{self, Pool};
use crate::protocol::{
    Ban, CapCommand, Destination, Error, Event, Lusers, Mask, Member, MessageKind, ModeChange,
    Name, Outgoing, Protocol, Reply, Request, RoomSummary, ServerInfo, Target, Topic, Welcome,
    Whois,
};
use crate::stats::Stats;
use crate::storage::{self, Storage, Store};

mod accounts;
mod api;
mod certificates;
mod conformance;
mod hardening;
mod history;
mod operators;
mod runs;

/// Takes at most `most` events from `inbox`, as a writer does.
fn take(inbox: &Inbox, most: usize) -> Vec<Event> {
    let mut weight = 0;
    let events = inbox
        .take(most)
        .events
        .into_iter()
        .map(|queued| {
            weight += queued.message.weight();
            queued.message.event().clone()
        })
        .collect();
    inbox.mailbox.took(weight as u64);
    events
}

/// Outbox capacity of clients that are not testing overflow.
const ROOMY: usize = 1000;

/// A router and the clients connected to it. The router's helpers are
/// played by the harness too: their jobs wait in queues until
/// [`Harness::settle`] does them, on this thread, and feeds the answers
/// back as inputs.
struct Harness {
    /// Unix time the harness was made at: no time stamp may be older.
    since: i64,
    router: Router,
    stats: Arc<Stats>,
    now: Instant,
    inboxes: HashMap<ClientId, Inbox>,
    next_id: u64,
    /// Each outbox's weight bound, from the config.
    sendq_bytes: usize,
    /// What the router asked of the hashing pool and of storage.
    hash_jobs: crossbeam_channel::Receiver<hashing::Job>,
    store_jobs: crossbeam_channel::Receiver<storage::Job>,
    /// Delivered messages the router handed to the history.
    records: crossbeam_channel::Receiver<storage::Record>,
    store: Store,
    /// What the next connection's link is (TLS, a client certificate).
    link: client::Link,
}

impl Harness {
    fn new() -> Harness {
        Harness::with(Config::default())
    }

    fn with(config: Config) -> Harness {
        let stats = Arc::new(Stats::default());
        let (hashing, hash_jobs) = Pool::detached();
        let (storage, store_jobs, records) = Storage::detached(config.history);
        let store = Store::open(":memory:").expect("an in-memory database");
        let services = Services {
            storage,
            hashing,
            accounts: store.accounts().expect("no accounts yet"),
            tokens: Vec::new(),
            certificates: Vec::new(),
            recent: super::recent::Recent::new(config.replay_lines, Vec::new(), Vec::new()),
        };
        Harness {
            since: unix_now(),
            router: Router::new(&config, Arc::clone(&stats), services),
            stats,
            now: Instant::now(),
            inboxes: HashMap::new(),
            next_id: 1,
            sendq_bytes: config.sendq_bytes,
            hash_jobs,
            store_jobs,
            records,
            store,
            link: client::Link::default(),
        }
    }

    /// Does what the router asked of its helpers, in order, and hands it
    /// the answers, until nothing more is asked.
    fn settle(&mut self) {
        loop {
            if let Ok(job) = self.hash_jobs.try_recv() {
                let hashed = hashing::work(job, PasswordCost::Minimal);
                self.router
                    .handle(Input::Hashed(Box::new(hashed)), self.now);
            } else if let Ok(job) = self.store_jobs.try_recv() {
                // As the storage thread does: what was delivered is
                // written before any job.
                let records: Vec<storage::Record> = self.records.try_iter().collect();
                let keep = storage::Retention {
                    days: 30,
                    per_target: 1000,
                };
                self.store.record(&records, keep).expect("history written");
                if let Some(stored) = self.store.apply(job) {
                    self.router
                        .handle(Input::Stored(Box::new(stored)), self.now);
                }
            } else {
                return;
            }
        }
    }

    /// A new line-protocol connection whose outbox holds `capacity` events.
    fn connect_with(&mut self, capacity: usize) -> ClientId {
        self.connect_speaking(Protocol::Line, capacity)
    }

    fn connect_speaking(&mut self, protocol: Protocol, capacity: usize) -> ClientId {
        let id = ClientId(self.next_id);
        self.next_id += 1;
        let (outbox, inbox) = client::outbox(
            capacity,
            self.sendq_bytes,
            Arc::clone(&self.stats),
            None,
            None,
        );
        self.inboxes.insert(id, inbox);
        let input = Input::Connected {
            id,
            outbox,
            peer: ([127, 0, 0, 1], 40_000).into(),
            protocol,
            link: std::mem::take(&mut self.link),
        };
        self.router.handle(input, self.now);
        id
    }

    fn connect(&mut self) -> ClientId {
        self.connect_with(ROOMY)
    }

    /// A client that picked `nick`, with its greeting and welcome read.
    fn register_with(&mut self, nick: &str, capacity: usize) -> ClientId {
        let id = self.connect_with(capacity);
        self.send(id, Request::Nick(nick.into()));
        assert_eq!(self.events(id), [Event::Greeting, welcome(nick)]);
        id
    }

    fn register(&mut self, nick: &str) -> ClientId {
        self.register_with(nick, ROOMY)
    }

    /// A new IRC connection registered as `nick` (see [`user`]), its
    /// welcome read. Capabilities in `caps` (space-separated) are asked for
    /// first, which holds registration until `CAP END`.
    fn irc(&mut self, nick: &str, caps: &str) -> ClientId {
        self.irc_with(nick, caps, ROOMY)
    }

    fn irc_with(&mut self, nick: &str, caps: &str, capacity: usize) -> ClientId {
        let id = self.connect_speaking(Protocol::Irc, capacity);
        let negotiating = !caps.is_empty();
        if negotiating {
            self.send(id, Request::Cap(CapCommand::Req(caps.into())));
        }
        self.send(id, Request::Nick(nick.into()));
        self.send(id, user(nick));
        if negotiating {
            let acked = cap("*", "ACK", caps);
            assert_eq!(self.events(id), [acked], "{nick} waits for CAP END");
            self.send(id, Request::Cap(CapCommand::End));
        }
        assert_eq!(self.events(id), [welcome(nick)]);
        id
    }

    /// A registered line client in `rooms`, joined in that order; every
    /// inbox is read afterwards.
    fn member(&mut self, nick: &str, rooms: &[&str]) -> ClientId {
        let id = self.register(nick);
        self.join_all(id, rooms);
        id
    }

    fn join_all(&mut self, id: ClientId, rooms: &[&str]) {
        for room in rooms {
            self.send(id, join(room));
        }
        self.clear();
    }

    /// Hands the router a request; whatever it was, the state must still
    /// agree with itself afterwards.
    fn send(&mut self, id: ClientId, request: Request) {
        self.router.handle(Input::Request(id, request), self.now);
        self.router.end_run(self.now);
        self.router.check_invariants().unwrap();
    }

    fn disconnect(&mut self, id: ClientId, reason: &str) {
        self.router
            .handle(Input::Disconnected(id, reason.into()), self.now);
        self.router.check_invariants().unwrap();
    }

    /// Moves the clock on: later inputs and ticks happen this much later.
    fn wait(&mut self, elapsed: Duration) {
        self.now += elapsed;
    }

    fn tick_after(&mut self, elapsed: Duration) {
        self.router.tick(self.now + elapsed);
    }

    /// Everything queued for `id` so far, its clock readings checked and
    /// fixed (see [`unclocked`]).
    fn events(&self, id: ClientId) -> Vec<Event> {
        self.unclock(self.raw_events(id))
    }

    /// Everything queued for `id` so far, as the router made it, taken
    /// as a writer takes it.
    fn raw_events(&self, id: ClientId) -> Vec<Event> {
        take(&self.inboxes[&id], usize::MAX)
    }

    fn unclock(&self, events: Vec<Event>) -> Vec<Event> {
        events
            .into_iter()
            .map(|event| unclocked(event, self.since))
            .collect()
    }

    /// Reads every inbox.
    fn clear(&self) {
        for id in self.inboxes.keys() {
            self.raw_events(*id);
        }
    }

    /// Asserts each of `ids` was told exactly `expected`, and reads them.
    fn assert_told(&self, ids: &[ClientId], expected: &[Event]) {
        for &id in ids {
            assert_eq!(self.events(id), expected, "events for {id}");
        }
    }

    fn assert_quiet(&self, ids: &[ClientId]) {
        self.assert_told(ids, &[]);
    }

    /// Asserts the router let go of `id` (once its queue is read) and returns
    /// the farewell it left.
    fn farewell(&self, id: ClientId) -> Name {
        let inbox = &self.inboxes[&id];
        let rest = inbox.take(usize::MAX);
        assert!(rest.events.is_empty() && rest.closed, "the router let go");
        inbox.mailbox.farewell().expect("a farewell").clone()
    }

    /// Asserts the router still holds `id`: it closes an outbox only after
    /// leaving a farewell.
    fn assert_open(&self, id: ClientId) {
        assert_eq!(
            self.inboxes[&id].mailbox.farewell(),
            None,
            "{id} was closed"
        );
    }

    fn rooms(&mut self, asker: ClientId) -> Vec<Event> {
        self.send(asker, Request::List(Vec::new()));
        self.events(asker)
    }
}

/// A harness where `alice` made `#r`, so she is its operator, and `bob`
/// joined it, while `carol` is in no room; every inbox is read.
fn trio() -> (Harness, [ClientId; 3]) {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#r"]);
    let bob = h.member("bob", &["#r"]);
    let carol = h.register("carol");
    (h, [alice, bob, carol])
}

// The clock.

fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// `event` with its clock readings fixed, once checked: time stamps must lie
/// between `since` and now (and become 0), the server's start time must be
/// given (and becomes empty). The user counts in a welcome depend on who
/// else is connected: they are checked for consistency here (and become the
/// default), and exactly by the tests about them. Message ids, a count,
/// must be there (and become empty); the tests about them compare them.
fn unclocked(mut event: Event, since: i64) -> Event {
    let stamp = |at: &mut i64| {
        assert!(since <= *at && *at <= unix_now(), "time stamp {at}");
        *at = 0;
    };
    let reply = match &mut event {
        Event::Message { id, .. }
        | Event::TagMessage { id, .. }
        | Event::TopicChanged { id, .. } => {
            assert!(!id.is_empty(), "no message id");
            *id = name("");
            return event;
        }
        Event::Reply { reply, .. } => reply,
        _ => return event,
    };
    match reply {
        Reply::Topic {
            topic: Some(topic), ..
        } => stamp(&mut topic.set_at),
        Reply::Whois(whois) => stamp(&mut whois.signon),
        Reply::RoomModes { created, .. } => stamp(created),
        Reply::BanList { bans, .. } => bans.iter_mut().for_each(|ban| stamp(&mut ban.set_at)),
        Reply::Version(info) | Reply::Motd(info) => *info = unclocked_info(info),
        Reply::Welcome(welcome) => {
            welcome.info = unclocked_info(&welcome.info);
            let lusers = welcome.lusers;
            assert!(
                1 <= lusers.users && lusers.users <= lusers.max_users,
                "{lusers:?}"
            );
            welcome.lusers = Lusers::default();
        }
        _ => {}
    }
    event
}

fn unclocked_info(info: &ServerInfo) -> Arc<ServerInfo> {
    assert!(!info.created.is_empty(), "no start time: {info:?}");
    Arc::new(ServerInfo {
        created: name(""),
        ..info.clone()
    })
}

/// The user counts of the welcome among `events`.
fn welcome_lusers(events: &[Event]) -> Lusers {
    let welcome = events.iter().find_map(|event| match event {
        Event::Reply {
            reply: Reply::Welcome(welcome),
            ..
        } => Some(welcome.lusers),
        _ => None,
    });
    welcome.unwrap_or_else(|| panic!("expected a welcome, got {events:?}"))
}

// Requests.

fn join(room: &str) -> Request {
    Request::Join(vec![(room.into(), None)])
}

fn join_with_key(room: &str, key: &str) -> Request {
    Request::Join(vec![(room.into(), Some(key.into()))])
}

fn leave(room: Option<&str>, reason: Option<&str>) -> Request {
    Request::Leave {
        rooms: room.into_iter().map(Into::into).collect(),
        reason: reason.map(Into::into),
    }
}

fn say(text: &str) -> Request {
    Request::Message {
        to: Vec::new(),
        text: text.into(),
        kind: MessageKind::Say,
        tags: None,
    }
}

/// `/msg` to a room (`#name`) or a user, or `/me` with `kind: Action`.
fn msg_kind(to: &str, text: &str, kind: MessageKind) -> Request {
    Request::Message {
        to: vec![Target::parse(to)],
        text: text.into(),
        kind,
        tags: None,
    }
}

fn msg(to: &str, text: &str) -> Request {
    msg_kind(to, text, MessageKind::Say)
}

fn set_topic(room: Option<&str>, text: &str) -> Request {
    Request::Topic {
        room: room.map(Into::into),
        text: Some(text.into()),
    }
}

fn query_topic(room: Option<&str>) -> Request {
    Request::Topic {
        room: room.map(Into::into),
        text: None,
    }
}

/// A room's members (`/who` in the line protocol, `NAMES` in IRC).
fn who(room: Option<&str>) -> Request {
    Request::Names(room.map(Into::into))
}

/// IRC `USER`: the user name is the nickname, the real name that in capitals.
fn user(nick: &str) -> Request {
    Request::User {
        user: nick.into(),
        realname: nick.to_uppercase(),
    }
}

/// `MODE target modes args...`, as the codecs parse it.
fn mode(target: &str, modes: &str, args: &[&str]) -> Request {
    Request::Mode {
        target: target.into(),
        changes: ModeChange::parse(modes, args),
    }
}

fn kick(room: &str, nick: &str, reason: Option<&str>) -> Request {
    Request::Kick {
        room: room.into(),
        nicks: vec![nick.into()],
        reason: reason.map(Into::into),
    }
}

fn invite(nick: &str, room: &str) -> Request {
    Request::Invite {
        nick: nick.into(),
        room: Some(room.into()),
    }
}

fn away(message: Option<&str>) -> Request {
    Request::Away(message.map(Into::into))
}

fn words(words: &[&str]) -> Vec<String> {
    words.iter().map(|&word| word.into()).collect()
}

// Events.

fn name(text: &str) -> Name {
    text.into()
}

/// The mask of a user who registered as `nick`: `nick!~nick@127.0.0.1`.
fn mask(nick: &str) -> Arc<Mask> {
    Arc::new(Mask {
        nick: name(nick),
        user: format!("~{nick}").into(),
        host: "127.0.0.1".into(),
        account: None,
    })
}

/// A reply to the client whose nickname is `me` (`*` before registration).
fn reply(me: &str, reply: Reply) -> Event {
    Event::Reply {
        me: name(me),
        reply,
    }
}

fn error(me: &str, error: Error) -> Vec<Event> {
    vec![reply(me, Reply::Error(error))]
}

fn cap(me: &str, subcommand: &'static str, caps: &str) -> Event {
    reply(
        me,
        Reply::Cap {
            subcommand,
            caps: caps.into(),
        },
    )
}

/// What the default configuration says about the server, start time unclocked.
fn server_info() -> Arc<ServerInfo> {
    let config = Config::default();
    Arc::new(ServerInfo {
        name: config.server_name.as_str().into(),
        network: config.network.as_str().into(),
        version: concat!("switchboard-", env!("CARGO_PKG_VERSION")).into(),
        created: name(""),
        motd: None,
    })
}

/// The welcome, user counts unclocked.
fn welcome(nick: &str) -> Event {
    let welcome = Welcome {
        mask: mask(nick),
        info: server_info(),
        lusers: Lusers::default(),
    };
    reply(nick, Reply::Welcome(Box::new(welcome)))
}

fn switched(me: &str, room: &str) -> Event {
    reply(me, Reply::Switched(name(room)))
}

fn listing(me: &str, rooms: Vec<RoomSummary>) -> Event {
    reply(me, Reply::Rooms(rooms))
}

fn nick_changed(old: &str, new: &str) -> Event {
    Event::NickChanged {
        who: mask(old),
        new: name(new),
    }
}

fn joined(room: &str, nick: &str) -> Event {
    Event::Joined {
        room: name(room),
        who: mask(nick),
        extended: None,
    }
}

fn left(room: &str, nick: &str, reason: Option<&str>) -> Event {
    Event::Left {
        room: name(room),
        who: mask(nick),
        reason: reason.map(name),
    }
}

fn quit(nick: &str, reason: Option<&str>) -> Event {
    Event::Quit {
        who: mask(nick),
        reason: reason.map(name),
    }
}

fn kicked(room: &str, by: &str, nick: &str, reason: Option<&str>) -> Event {
    Event::Kicked {
        room: name(room),
        by: mask(by),
        nick: name(nick),
        reason: reason.map(name),
    }
}

/// A public room's member list; `members` are nicks in the expected order,
/// each after `@` if an operator and `+` if voiced.
fn members(me: &str, room: &str, members: &[&str]) -> Event {
    names(me, room, false, members)
}

fn names(me: &str, room: &str, secret: bool, members: &[&str]) -> Event {
    let member = |prefixed: &str| {
        let nick = prefixed.trim_start_matches(['@', '+']);
        let prefixes = &prefixed[..prefixed.len() - nick.len()];
        Member {
            mask: mask(nick),
            operator: prefixes.contains('@'),
            voice: prefixes.contains('+'),
        }
    };
    let members = members.iter().map(|prefixed| member(prefixed)).collect();
    reply(
        me,
        Reply::Names {
            room: name(room),
            secret,
            members,
        },
    )
}

fn said_in(from: &str, room: &str, text: &str) -> Event {
    said_to(from, Destination::Room(name(room)), text, MessageKind::Say)
}

fn said_to(from: &str, to: Destination, text: &str, kind: MessageKind) -> Event {
    Event::Message {
        from: mask(from),
        to,
        text: name(text),
        kind,
        tags: None,
        id: name(""),
        // Most tests speak as line users.
        long: true,
    }
}

/// A message as an IRC client sent it: cut, not split, if too long.
fn from_irc(mut event: Event) -> Event {
    if let Event::Message { long, .. } = &mut event {
        *long = false;
    }
    event
}

fn said_privately(from: &str, to: &str, text: &str) -> Event {
    said_to(from, Destination::User(name(to)), text, MessageKind::Say)
}

fn topic_changed(room: &str, nick: &str, text: &str) -> Event {
    Event::TopicChanged {
        room: name(room),
        who: mask(nick),
        text: name(text),
        id: name(""),
    }
}

/// The reply to a topic query: `topic` is (text, set by), its time unclocked.
fn topic_is(me: &str, room: &str, topic: Option<(&str, &str)>) -> Event {
    let topic = topic.map(|(text, set_by)| Topic {
        text: name(text),
        set_by: mask(set_by),
        set_at: 0,
    });
    reply(
        me,
        Reply::Topic {
            room: name(room),
            topic,
        },
    )
}

fn summary(room: &str, members: usize, topic: Option<&str>) -> RoomSummary {
    RoomSummary {
        name: name(room),
        members,
        topic: topic.map(name),
    }
}

/// `by` changed the modes of `target`: `modes` with `args` as shown to members.
fn mode_changed(target: &str, by: &str, modes: &str, args: &[&str]) -> Event {
    Event::ModeChanged {
        target: name(target),
        by: mask(by),
        changes: ModeChange::parse(modes, args),
    }
}

fn away_event(nick: &str, message: Option<&str>) -> Event {
    Event::Away {
        who: mask(nick),
        message: message.map(name),
    }
}

// Registration.

#[test]
fn connecting_greets() {
    let mut h = Harness::new();
    let id = h.connect();
    assert_eq!(h.events(id), [Event::Greeting]);
    assert_eq!(h.router.client_count(), 1);
}

#[test]
fn only_nick_help_and_quit_work_before_a_nick() {
    let mut h = Harness::new();
    h.member("bob", &["#rust"]);
    let id = h.connect();
    h.clear();
    for request in [
        join("#rust"),
        leave(None, None),
        Request::Switch("#rust".into()),
        Request::List(Vec::new()),
        who(Some("#rust")),
        query_topic(Some("#rust")),
        set_topic(Some("#rust"), "hi"),
        say("hello"),
        msg("bob", "hello"),
    ] {
        h.send(id, request.clone());
        assert_eq!(h.events(id), error("*", Error::NeedNick), "{request:?}");
    }
    h.send(id, Request::Help);
    assert_eq!(h.events(id), [reply("*", Reply::Help)]);
    h.send(id, Request::Nick("alice".into()));
    assert_eq!(h.events(id), [welcome("alice")]);
}

#[test]
fn quit_works_before_a_nick() {
    let mut h = Harness::new();
    let id = h.connect();
    h.send(id, Request::Quit(None));
    assert_eq!(h.events(id), [Event::Greeting]);
    assert_eq!(&*h.farewell(id), "you quit");
    assert_eq!(h.router.client_count(), 0);
}

#[test]
fn invalid_nicks_are_refused() {
    let mut h = Harness::new();
    let id = h.connect();
    h.clear();
    for bad in [
        "",
        "1abc",
        "-x",
        "a b",
        "al!ce",
        &"a".repeat(super::NICK_MAX + 1),
    ] {
        h.send(id, Request::Nick(bad.into()));
        let expected = if bad.is_empty() {
            Error::NoNickGiven
        } else {
            Error::BadNick(bad.into())
        };
        assert_eq!(h.events(id), error("*", expected));
    }
}

#[test]
fn nick_in_use_is_refused_whatever_the_case() {
    let mut h = Harness::new();
    h.register("alice");
    let newcomer = h.connect();
    let bob = h.register("bob");
    h.clear();
    h.send(newcomer, Request::Nick("ALICE".into()));
    assert_eq!(
        h.events(newcomer),
        error("*", Error::NickInUse("ALICE".into()))
    );
    h.send(bob, Request::Nick("Alice".into()));
    assert_eq!(
        h.events(bob),
        error("bob", Error::NickInUse("Alice".into()))
    );
}

#[test]
fn changing_only_the_case_of_ones_nick_is_allowed() {
    let mut h = Harness::new();
    let id = h.register("alice");
    h.send(id, Request::Nick("Alice".into()));
    assert_eq!(h.events(id), [nick_changed("alice", "Alice")]);
    // The folded name still belongs to the same client.
    let other = h.connect();
    h.clear();
    h.send(other, Request::Nick("alice".into()));
    assert_eq!(
        h.events(other),
        error("*", Error::NickInUse("alice".into()))
    );
}

#[test]
fn the_same_nick_again_is_already_named() {
    let mut h = Harness::new();
    let id = h.register("alice");
    h.send(id, Request::Nick("alice".into()));
    assert_eq!(h.events(id), error("alice", Error::AlreadyNamed));
}

#[test]
fn nick_change_is_announced_once_to_each_peer_and_to_self() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#one", "#two"]);
    let bob = h.member("bob", &["#one", "#two"]);
    let carol = h.member("carol", &["#two"]);
    let stranger = h.member("dave", &["#elsewhere"]);
    h.send(alice, Request::Nick("ally".into()));
    h.assert_told(&[alice, bob, carol], &[nick_changed("alice", "ally")]);
    h.assert_quiet(&[stranger]);
    // The old nick is free again.
    let newcomer = h.connect();
    h.clear();
    h.send(newcomer, Request::Nick("alice".into()));
    assert_eq!(h.events(newcomer), [welcome("alice")]);
}

// Joining.

#[test]
fn join_creates_the_room_with_the_joiner_as_operator() {
    let mut h = Harness::new();
    let alice = h.register("alice");
    h.send(alice, join("#rust"));
    assert_eq!(
        h.events(alice),
        [
            joined("#rust", "alice"),
            members("alice", "#rust", &["@alice"])
        ]
    );
}

#[test]
fn later_joiners_are_announced_to_all_and_get_the_sorted_members() {
    let mut h = Harness::new();
    let zoe = h.member("zoe", &["#rust"]);
    let bob = h.member("Bob", &["#rust"]);
    let alice = h.register("alice");
    h.send(alice, join("#rust"));
    h.assert_told(&[zoe, bob], &[joined("#rust", "alice")]);
    let sorted = members("alice", "#rust", &["alice", "Bob", "@zoe"]);
    assert_eq!(h.events(alice), [joined("#rust", "alice"), sorted]);
}

#[test]
fn joiner_gets_the_topic_when_one_is_set() {
    let mut h = Harness::new();
    let zoe = h.member("zoe", &["#rust"]);
    h.send(zoe, set_topic(None, "crabs"));
    let alice = h.register("alice");
    h.send(alice, join("#RUST"));
    assert_eq!(
        h.events(alice),
        [
            joined("#rust", "alice"),
            topic_is("alice", "#rust", Some(("crabs", "zoe"))),
            members("alice", "#rust", &["alice", "@zoe"]),
        ]
    );
}

#[test]
fn joining_a_room_one_is_in_switches_to_it() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#a", "#b"]);
    let in_a = h.member("bob", &["#a"]);
    let in_b = h.member("carol", &["#b"]);
    h.send(alice, join("#A"));
    assert_eq!(h.events(alice), [switched("alice", "#a")]);
    h.assert_quiet(&[in_a, in_b]);
    h.send(alice, say("hi"));
    assert_eq!(h.events(in_a), [said_in("alice", "#a", "hi")]);
    h.assert_quiet(&[in_b]);
}

#[test]
fn invalid_room_names_are_refused() {
    let mut h = Harness::new();
    let alice = h.register("alice");
    for bad in [
        "rust",
        "#",
        "#a b",
        "#a,b",
        &format!("#{}", "a".repeat(super::ROOM_MAX)),
    ] {
        h.send(alice, join(bad));
        assert_eq!(
            h.events(alice),
            error("alice", Error::BadRoomName(bad.into()))
        );
    }
    assert_eq!(h.rooms(alice), [listing("alice", vec![])]);
}

#[test]
fn a_client_can_be_in_at_most_rooms_per_client_rooms() {
    let mut h = Harness::new();
    let alice = h.register("alice");
    let rooms: Vec<String> = (0..ROOMS_PER_CLIENT).map(|i| format!("#r{i}")).collect();
    let rooms: Vec<&str> = rooms.iter().map(String::as_str).collect();
    h.join_all(alice, &rooms);
    h.send(alice, join("#onemore"));
    assert_eq!(
        h.events(alice),
        error("alice", Error::TooManyRooms(ROOMS_PER_CLIENT))
    );
    let events = h.rooms(alice);
    let [
        Event::Reply {
            reply: Reply::Rooms(listed),
            ..
        },
    ] = events.as_slice()
    else {
        panic!("expected a room list, got {events:?}");
    };
    assert_eq!(listed.len(), ROOMS_PER_CLIENT);
}

#[test]
fn a_keyed_room_needs_its_key() {
    let mut h = Harness::new();
    let alice = h.register("alice");
    h.send(alice, join_with_key("#secret", "sesame"));
    h.clear();
    let bob = h.register("bob");
    h.send(bob, join("#secret"));
    assert_eq!(h.events(bob), error("bob", Error::BadKey("#secret".into())));
    h.send(bob, join_with_key("#secret", "open"));
    assert_eq!(h.events(bob), error("bob", Error::BadKey("#secret".into())));
    h.assert_quiet(&[alice]);
    h.send(bob, join_with_key("#secret", "sesame"));
    assert_eq!(h.events(alice), [joined("#secret", "bob")]);
    assert_eq!(
        h.events(bob),
        [
            joined("#secret", "bob"),
            members("bob", "#secret", &["@alice", "bob"]),
        ]
    );
}

// Leaving.

#[test]
fn leave_announces_left_with_the_reason_to_every_member() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#rust"]);
    let bob = h.member("bob", &["#rust"]);
    h.send(bob, leave(Some("#rust"), Some("lunch")));
    h.assert_told(&[alice, bob], &[left("#rust", "bob", Some("lunch"))]);
    h.send(alice, who(None));
    assert_eq!(h.events(alice), [members("alice", "#rust", &["@alice"])]);
}

#[test]
fn leaving_the_current_room_makes_the_previous_one_current() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#one", "#two", "#three"]);
    let in_one = h.member("bob", &["#one"]);
    let in_two = h.member("carol", &["#two"]);
    h.send(alice, leave(None, None));
    assert_eq!(h.events(alice), [left("#three", "alice", None)]);
    h.send(alice, say("still here"));
    assert_eq!(h.events(in_two), [said_in("alice", "#two", "still here")]);
    h.assert_quiet(&[in_one]);
}

#[test]
fn leaving_another_room_keeps_the_current_one() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#one", "#two"]);
    let in_two = h.member("bob", &["#two"]);
    h.send(alice, leave(Some("#one"), None));
    h.send(alice, say("hi"));
    assert_eq!(h.events(in_two), [said_in("alice", "#two", "hi")]);
}

#[test]
fn the_last_member_leaving_removes_the_room() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#solo", "#shared"]);
    h.member("bob", &["#shared"]);
    h.send(alice, leave(Some("#solo"), None));
    assert_eq!(h.events(alice), [left("#solo", "alice", None)]);
    assert_eq!(
        h.rooms(alice),
        [listing("alice", vec![summary("#shared", 2, None)])]
    );
}

#[test]
fn leaving_a_room_one_is_not_in_is_refused() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#mine"]);
    h.member("bob", &["#theirs"]);
    h.send(alice, leave(Some("#theirs"), None));
    assert_eq!(
        h.events(alice),
        error("alice", Error::NotInRoom("#theirs".into()))
    );
    h.send(alice, leave(Some("#nowhere"), None));
    assert_eq!(
        h.events(alice),
        error("alice", Error::NoSuchRoom("#nowhere".into()))
    );
}

#[test]
fn leaving_with_no_room_is_no_current_room() {
    let mut h = Harness::new();
    let alice = h.register("alice");
    h.send(alice, leave(None, None));
    assert_eq!(h.events(alice), error("alice", Error::NoCurrentRoom));
    h.send(alice, say("anyone?"));
    assert_eq!(h.events(alice), error("alice", Error::NoCurrentRoom));
}

// Messages.

#[test]
fn plain_text_goes_to_the_current_room_except_the_sender() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#rust"]);
    let bob = h.member("bob", &["#rust"]);
    let carol = h.member("carol", &["#rust"]);
    let outsider = h.member("dave", &["#other"]);
    h.send(alice, say("hello"));
    h.assert_told(&[bob, carol], &[said_in("alice", "#rust", "hello")]);
    h.assert_quiet(&[alice, outsider]);
}

#[test]
fn msg_to_a_room_needs_membership_and_an_existing_room() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#a", "#b"]);
    let in_a = h.member("bob", &["#a"]);
    let in_c = h.member("carol", &["#c"]);
    h.send(alice, msg("#A", "not current but mine"));
    assert_eq!(
        h.events(in_a),
        [said_in("alice", "#a", "not current but mine")]
    );
    // Rooms take no messages from outside (+n) unless told otherwise.
    h.send(alice, msg("#c", "hi"));
    assert_eq!(
        h.events(alice),
        error("alice", Error::CannotSend("#c".into()))
    );
    h.send(alice, msg("#nope", "hi"));
    assert_eq!(
        h.events(alice),
        error("alice", Error::NoSuchRoom("#nope".into()))
    );
    h.assert_quiet(&[in_a, in_c]);
}

#[test]
fn private_messages_reach_only_the_recipient() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#rust"]);
    let bob = h.member("Bob", &["#rust"]);
    let carol = h.member("carol", &["#rust"]);
    h.send(alice, msg("bOB", "psst"));
    assert_eq!(h.events(bob), [said_privately("alice", "Bob", "psst")]);
    h.assert_quiet(&[alice, carol]);
}

#[test]
fn private_messages_to_nobody_are_no_such_user() {
    let mut h = Harness::new();
    let alice = h.register("alice");
    let unnamed = h.connect();
    h.clear();
    h.send(alice, msg("ghost", "boo"));
    assert_eq!(
        h.events(alice),
        error("alice", Error::NoSuchUser("ghost".into()))
    );
    h.assert_quiet(&[unnamed]);
}

#[test]
fn actions_carry_their_kind() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#rust"]);
    let bob = h.member("bob", &["#rust"]);
    h.send(alice, msg_kind("#rust", "waves", MessageKind::Action));
    h.send(alice, msg_kind("bob", "winks", MessageKind::Action));
    let room = Destination::Room(name("#rust"));
    let private = Destination::User(name("bob"));
    assert_eq!(
        h.events(bob),
        [
            said_to("alice", room, "waves", MessageKind::Action),
            said_to("alice", private, "winks", MessageKind::Action),
        ]
    );
}

// Topics.

#[test]
fn the_operator_sets_the_topic_for_everyone() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#rust"]);
    let bob = h.member("bob", &["#rust"]);
    h.send(alice, set_topic(Some("#rust"), "crabs"));
    h.assert_told(&[alice, bob], &[topic_changed("#rust", "alice", "crabs")]);
}

#[test]
fn others_may_not_set_the_topic() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#rust"]);
    let bob = h.member("bob", &["#rust"]);
    h.send(bob, set_topic(None, "mine now"));
    assert_eq!(
        h.events(bob),
        error("bob", Error::NotOperator("#rust".into()))
    );
    h.assert_quiet(&[alice]);
    h.send(bob, query_topic(None));
    assert_eq!(h.events(bob), [topic_is("bob", "#rust", None)]);
}

#[test]
fn topics_are_limited_to_topic_max_bytes() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#rust"]);
    h.send(alice, set_topic(None, &"x".repeat(TOPIC_MAX + 1)));
    assert_eq!(
        h.events(alice),
        error("alice", Error::TopicTooLong(TOPIC_MAX))
    );
    let longest = "x".repeat(TOPIC_MAX);
    h.send(alice, set_topic(None, &longest));
    assert_eq!(h.events(alice), [topic_changed("#rust", "alice", &longest)]);
}

#[test]
fn an_empty_topic_clears_it() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#rust"]);
    h.send(alice, set_topic(None, "crabs"));
    h.send(alice, set_topic(None, ""));
    assert_eq!(
        h.events(alice),
        [
            topic_changed("#rust", "alice", "crabs"),
            topic_changed("#rust", "alice", ""),
        ]
    );
    h.send(alice, query_topic(None));
    assert_eq!(h.events(alice), [topic_is("alice", "#rust", None)]);
    assert_eq!(
        h.rooms(alice),
        [listing("alice", vec![summary("#rust", 1, None)])]
    );
}

#[test]
fn a_topic_query_returns_the_topic_even_to_outsiders() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#rust"]);
    h.send(alice, set_topic(None, "crabs"));
    let outsider = h.register("bob");
    h.send(outsider, query_topic(Some("#Rust")));
    assert_eq!(
        h.events(outsider),
        [topic_is("bob", "#rust", Some(("crabs", "alice")))]
    );
    h.send(outsider, query_topic(Some("#nope")));
    assert_eq!(
        h.events(outsider),
        error("bob", Error::NoSuchRoom("#nope".into()))
    );
}

// Listings.

#[test]
fn rooms_are_listed_by_name_with_member_counts_and_topics() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#b", "#C"]);
    h.member("bob", &["#b", "#A"]);
    h.send(alice, set_topic(Some("#b"), "bees"));
    h.clear();
    let rooms = vec![
        summary("#A", 1, None),
        summary("#b", 2, Some("bees")),
        summary("#C", 1, None),
    ];
    assert_eq!(h.rooms(alice), [listing("alice", rooms)]);
}

#[test]
fn who_works_for_rooms_one_is_not_in() {
    let mut h = Harness::new();
    h.member("zoe", &["#rust"]);
    h.member("alice", &["#rust"]);
    let outsider = h.register("bob");
    h.send(outsider, who(Some("#rust")));
    assert_eq!(
        h.events(outsider),
        [members("bob", "#rust", &["alice", "@zoe"])]
    );
}

#[test]
fn who_for_a_missing_room_is_no_such_room() {
    let mut h = Harness::new();
    let alice = h.register("alice");
    h.send(alice, who(Some("#nope")));
    assert_eq!(
        h.events(alice),
        error("alice", Error::NoSuchRoom("#nope".into()))
    );
}

// Quitting.

#[test]
fn quit_is_announced_once_to_each_peer() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#one", "#two"]);
    let bob = h.member("bob", &["#one", "#two"]);
    let carol = h.member("carol", &["#two"]);
    let stranger = h.member("dave", &["#three"]);
    h.send(alice, Request::Quit(Some("bye".into())));
    h.assert_told(&[bob, carol], &[quit("alice", Some("bye"))]);
    h.assert_quiet(&[stranger]);
    assert_eq!(&*h.farewell(alice), "you quit (bye)");
    assert_eq!(h.router.client_count(), 3);
}

#[test]
fn quit_frees_the_nick() {
    let mut h = Harness::new();
    let alice = h.register("alice");
    h.send(alice, Request::Quit(None));
    let newcomer = h.connect();
    h.send(newcomer, Request::Nick("ALICE".into()));
    assert_eq!(h.events(newcomer), [Event::Greeting, welcome("ALICE")]);
}

#[test]
fn quit_removes_the_rooms_it_empties() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#solo", "#shared"]);
    let bob = h.member("bob", &["#shared"]);
    h.disconnect(alice, "connection reset");
    assert_eq!(h.events(bob), [quit("alice", Some("connection reset"))]);
    assert_eq!(
        h.rooms(bob),
        [listing("bob", vec![summary("#shared", 1, None)])]
    );
}

#[test]
fn a_second_disconnect_does_nothing() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#rust"]);
    let bob = h.member("bob", &["#rust"]);
    h.disconnect(alice, "reset");
    assert_eq!(h.events(bob), [quit("alice", Some("reset"))]);
    h.disconnect(alice, "reset again");
    h.assert_quiet(&[alice, bob]);
    assert_eq!(&*h.farewell(alice), "reset");
    assert_eq!(h.router.client_count(), 1);
}

#[test]
fn requests_from_a_departed_client_are_ignored() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#rust"]);
    let bob = h.member("bob", &["#rust"]);
    h.send(alice, Request::Quit(None));
    h.clear();
    for request in [say("ghost"), join("#haunted"), Request::Nick("boo".into())] {
        h.send(alice, request);
    }
    h.assert_quiet(&[alice, bob]);
    assert_eq!(
        h.rooms(bob),
        [listing("bob", vec![summary("#rust", 1, None)])]
    );
}

#[test]
fn a_quitting_client_gets_its_queued_events_then_the_farewell() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#rust"]);
    let bob = h.member("bob", &["#rust"]);
    h.send(bob, say("one last thing"));
    h.send(alice, Request::Quit(None));
    assert_eq!(h.events(alice), [said_in("bob", "#rust", "one last thing")]);
    assert_eq!(&*h.farewell(alice), "you quit");
}

// Registration timeout.

#[test]
fn unregistered_clients_are_closed_at_the_register_timeout() {
    let mut h = Harness::new();
    let timeout = Config::default().register_timeout;
    let unnamed = h.connect();
    let named = h.register("alice");
    h.clear();
    h.tick_after(timeout - Duration::from_millis(1));
    h.assert_open(unnamed);
    assert_eq!(h.router.client_count(), 2);
    h.tick_after(timeout);
    assert!(h.farewell(unnamed).contains("nickname"));
    h.assert_open(named);
    h.assert_quiet(&[named]);
    assert_eq!(h.router.client_count(), 1);
}

// Slow clients.

const SLOW_CAPACITY: usize = 5;
const SLOW_DROPS: u64 = 20;
const SLOW_TIMEOUT: Duration = Duration::from_secs(10);

/// A room with a sender, a reader that keeps up and a reader with a small
/// outbox whose socket is backed up, which only reads when told to; every
/// inbox starts empty.
struct SlowRoom {
    h: Harness,
    sender: ClientId,
    reader: ClientId,
    slow: ClientId,
    /// How the reason for cutting off the slow client starts.
    cut: &'static str,
    /// Lines said so far; each line is its number.
    said: usize,
}

impl SlowRoom {
    fn new() -> SlowRoom {
        SlowRoom::speaking(Protocol::Line)
    }

    /// The slow client speaks `protocol`; the others the line protocol.
    fn speaking(protocol: Protocol) -> SlowRoom {
        let mut h = Harness::with(Config {
            slow_drops: SLOW_DROPS,
            slow_timeout: SLOW_TIMEOUT,
            ..Config::default()
        });
        let sender = h.member("sender", &["#busy"]);
        let reader = h.member("reader", &["#busy"]);
        let (slow, cut) = match protocol {
            Protocol::Line => (h.register_with("slow", SLOW_CAPACITY), "slow client"),
            Protocol::Irc => (h.irc_with("slow", "", SLOW_CAPACITY), "SendQ exceeded"),
        };
        h.join_all(slow, &["#busy"]);
        // Its socket stopped taking bytes long ago.
        h.inboxes[&slow]
            .mailbox
            .set_stalled(Some(h.now - client::STALL));
        SlowRoom {
            h,
            sender,
            reader,
            slow,
            cut,
            said: 0,
        }
    }

    /// The sender says `count` more lines; returns what a reader that keeps
    /// up gets for them.
    fn say(&mut self, count: usize) -> Vec<Event> {
        let lines: Vec<String> = (self.said..self.said + count)
            .map(|i| i.to_string())
            .collect();
        self.said += count;
        for line in &lines {
            self.h.send(self.sender, say(line));
        }
        lines
            .iter()
            .map(|line| said_in("sender", "#busy", line))
            .collect()
    }

    /// The slow client's writer says since when its socket took no bytes.
    fn stalled(&self, since: Option<Instant>) {
        self.h.inboxes[&self.slow].mailbox.set_stalled(since);
    }

    /// Reads `count` events from the slow client's outbox.
    fn read_slow(&self, count: usize) -> Vec<Event> {
        let events = take(&self.h.inboxes[&self.slow], count);
        assert_eq!(events.len(), count, "the slow client's outbox ran dry");
        self.h.unclock(events)
    }

    fn dropped(&self) -> u64 {
        self.h.stats.dropped.load(Ordering::Relaxed)
    }

    fn slow_disconnects(&self) -> u64 {
        self.h.stats.slow_disconnects.load(Ordering::Relaxed)
    }

    fn missed(&self) -> u64 {
        self.h.inboxes[&self.slow].mailbox.take_missed()
    }

    /// The one event the sender got: the slow client's quit, for slowness.
    fn quit_told_to_sender(&self) -> Event {
        let events = self.h.events(self.sender);
        let [quit @ Event::Quit { who, reason }] = events.as_slice() else {
            panic!("expected one quit, got {events:?}");
        };
        assert_eq!(*who, mask("slow"));
        let reason = reason.as_deref().unwrap_or_default();
        assert!(reason.starts_with(self.cut), "{reason}");
        quit.clone()
    }

    /// Asserts that the slow client is gone, that the sender was told, and
    /// that the reader was told after `reader_lines`.
    fn assert_cut_off(&self, reader_lines: Vec<Event>) {
        let mut reader = reader_lines;
        reader.push(self.quit_told_to_sender());
        assert_eq!(self.h.events(self.reader), reader);
        self.h.events(self.slow);
        // IRC clients read it as `Closing Link: HOST (REASON)`.
        assert!(self.h.farewell(self.slow).contains(self.cut));
        assert_eq!(self.slow_disconnects(), 1);
        assert_eq!(self.h.router.client_count(), 2);
    }

    fn assert_still_here(&self) {
        self.h.assert_open(self.slow);
        self.h.assert_quiet(&[self.sender]);
        assert_eq!(self.slow_disconnects(), 0);
        assert_eq!(self.h.router.client_count(), 3);
    }

    /// Gets the slow client `SLOW_DROPS / 2` drops behind, lets it read until
    /// `left` lines wait, then sends what refills its outbox and drops
    /// `SLOW_DROPS - 1` more: one drop short of the limit if the catch-up
    /// reset the count, past it if it did not.
    fn lag_catch_up_and_lag_again(left: usize) -> SlowRoom {
        let mut room = SlowRoom::new();
        let behind = SLOW_DROPS / 2;
        let lines = room.say(SLOW_CAPACITY + behind as usize);
        let read = SLOW_CAPACITY - left;
        assert_eq!(room.read_slow(read), lines[..read]);
        room.say(read + SLOW_DROPS as usize - 1);
        room.h.events(room.reader);
        room
    }
}

#[test]
fn a_full_outbox_drops_messages_for_that_client_only() {
    let mut room = SlowRoom::new();
    let lines = room.say(SLOW_CAPACITY + SLOW_DROPS as usize - 1);
    assert_eq!(room.h.events(room.reader), lines);
    assert_eq!(room.dropped(), SLOW_DROPS - 1);
    assert_eq!(room.missed(), SLOW_DROPS - 1);
    room.assert_still_here();
    assert_eq!(room.h.events(room.slow), lines[..SLOW_CAPACITY]);
}

#[test]
fn a_slow_client_is_cut_off_at_the_drop_limit() {
    let mut room = SlowRoom::new();
    let lines = room.say(SLOW_CAPACITY + SLOW_DROPS as usize);
    // It still gets what was queued before the cut.
    assert_eq!(room.h.events(room.slow), lines[..SLOW_CAPACITY]);
    assert_eq!(room.dropped(), SLOW_DROPS);
    assert_eq!(room.missed(), SLOW_DROPS);
    room.assert_cut_off(lines);
    assert_eq!(
        &*room.h.farewell(room.slow),
        "slow client: 20 messages dropped"
    );
}

#[test]
fn a_slow_irc_client_is_cut_off_with_sendq_exceeded() {
    let mut room = SlowRoom::speaking(Protocol::Irc);
    let lines = room.say(SLOW_CAPACITY + SLOW_DROPS as usize);
    assert_eq!(room.h.events(room.slow), lines[..SLOW_CAPACITY]);
    room.assert_cut_off(lines);
    assert_eq!(&*room.h.farewell(room.slow), "127.0.0.1 (SendQ exceeded)");
}

#[test]
fn a_client_that_catches_up_below_half_starts_counting_drops_afresh() {
    let mut room = SlowRoom::lag_catch_up_and_lag_again(SLOW_CAPACITY / 2 - 1);
    room.assert_still_here();
    assert_eq!(room.dropped(), SLOW_DROPS / 2 + SLOW_DROPS - 1);
    let last = room.say(1);
    room.assert_cut_off(last);
}

/// "Drained to half" is judged before the new message is queued: a client
/// that read down to exactly half its capacity (2 of 5 here) has caught up.
#[test]
fn a_client_that_catches_up_to_half_starts_counting_drops_afresh() {
    let room = SlowRoom::lag_catch_up_and_lag_again(SLOW_CAPACITY / 2);
    room.assert_still_here();
}

#[test]
fn a_client_whose_outbox_stays_full_is_cut_off_at_the_slow_timeout() {
    let mut room = SlowRoom::new();
    let lines = room.say(SLOW_CAPACITY + 1);
    assert_eq!(room.h.events(room.reader), lines);
    room.h.tick_after(SLOW_TIMEOUT - Duration::from_millis(1));
    room.assert_still_here();
    room.h.assert_quiet(&[room.reader]);
    room.h.tick_after(SLOW_TIMEOUT);
    assert_eq!(room.h.events(room.slow), lines[..SLOW_CAPACITY]);
    room.assert_cut_off(vec![]);
    assert_eq!(
        &*room.h.farewell(room.slow),
        "slow client: outbox full for 10 s"
    );
}

/// A client that fell behind once, then read everything, is not cut off at
/// the slow timeout even when nothing was sent to it since (a quiet room).
#[test]
fn a_client_that_drained_its_outbox_is_not_cut_off_at_the_slow_timeout() {
    let mut room = SlowRoom::new();
    room.say(SLOW_CAPACITY + 1);
    room.h.clear();
    room.h.tick_after(SLOW_TIMEOUT);
    room.assert_still_here();
    room.h.assert_quiet(&[room.reader]);
}

/// A burst bigger than the outbox reaches a client whose socket takes
/// bytes, or stopped taking them only a moment ago: only a socket that
/// stalls for long makes a client slow.
#[test]
fn a_client_that_keeps_up_gets_a_burst_bigger_than_its_outbox() {
    let mut room = SlowRoom::new();
    room.stalled(None);
    let mut lines = room.say(SLOW_CAPACITY * 10);
    room.stalled(Some(room.h.now - client::STALL + Duration::from_millis(1)));
    lines.extend(room.say(SLOW_CAPACITY * 10));
    assert_eq!(room.h.events(room.slow), lines);
    assert_eq!(room.dropped(), 0);
    room.assert_still_here();
}

/// Once its socket has stalled for long, a client gets no more than its
/// outbox holds: what waits already stays, what comes is dropped.
#[test]
fn a_client_whose_socket_stalls_mid_burst_loses_what_overflows() {
    let mut room = SlowRoom::new();
    room.stalled(None);
    let lines = room.say(SLOW_CAPACITY * 2);
    room.stalled(Some(room.h.now - client::STALL));
    room.say(3);
    assert_eq!(room.dropped(), 3);
    assert_eq!(room.missed(), 3);
    assert_eq!(room.h.events(room.slow), lines);
}

/// Past its outbox, a client whose socket pushes back, however briefly,
/// holds at most `--sendq-bytes`; one whose socket takes everything (its
/// writer is late, not the client) holds more, but not without bound.
#[test]
fn a_burst_past_the_byte_bound_is_dropped_even_for_a_client_that_keeps_up() {
    let mut h = Harness::with(Config {
        sendq_bytes: crate::config::MIN_SENDQ_BYTES,
        ..Config::default()
    });
    let sender = h.member("sender", &["#big"]);
    let pushed_back = h.register_with("pushed", 1);
    let late = h.register_with("late", 1);
    h.join_all(pushed_back, &["#big"]);
    h.join_all(late, &["#big"]);
    h.clear();
    h.inboxes[&pushed_back].mailbox.set_stalled(Some(h.now));
    let text = "x".repeat(400);
    for _ in 0..200 {
        h.send(sender, say(&text));
    }
    let pushed_back = h.raw_events(pushed_back);
    let weight = Outgoing::new(pushed_back[0].clone()).weight();
    let bound = crate::config::MIN_SENDQ_BYTES;
    // The first always fits; then as many as the bound allows.
    assert_eq!(pushed_back.len(), 1 + (bound - weight) / weight);
    let late = h.raw_events(late).len();
    assert_eq!(
        late,
        1 + (client::LATE_WRITER as usize * bound - weight) / weight
    );
    assert!(late < 200);
    let dropped = 400 - pushed_back.len() - late;
    assert_eq!(h.stats.dropped.load(Ordering::Relaxed), dropped as u64);
}

// Shutdown.

#[test]
fn shutdown_says_goodbye_to_everyone() {
    let mut h = Harness::new();
    let clients = [
        h.member("alice", &["#rust"]),
        h.member("bob", &["#rust"]),
        h.connect(),
    ];
    h.clear();
    h.router.shutdown();
    for id in clients {
        h.assert_quiet(&[id]);
        assert_eq!(&*h.farewell(id), "server shutting down");
    }
    assert_eq!(h.router.client_count(), 0);
}

// IRC registration.

/// Every capability, as `CAP LS` offers them.
const OFFERED: &str = "cap-notify multi-prefix server-time message-tags away-notify \
                       userhost-in-names echo-message invite-notify setname \
                       sasl=EXTERNAL,PLAIN,SCRAM-SHA-256 account-notify account-tag extended-join \
                       batch draft/chathistory draft/event-playback labeled-response";

#[test]
fn irc_registration_needs_user_and_waits_for_cap_end() {
    let mut h = Harness::new();
    let id = h.connect_speaking(Protocol::Irc, ROOMY);
    h.send(id, join("#early"));
    assert_eq!(h.events(id), error("*", Error::NotRegistered));
    h.send(id, Request::Cap(CapCommand::Ls(302)));
    h.send(id, Request::Nick("alice".into()));
    h.send(id, user("alice"));
    assert_eq!(
        h.events(id),
        [cap("*", "LS", OFFERED)],
        "no welcome before CAP END"
    );
    h.send(id, Request::Cap(CapCommand::End));
    let events = h.raw_events(id);
    let counts = Lusers {
        users: 1,
        unregistered: 0,
        rooms: 0,
        max_users: 1,
        ..Lusers::default()
    };
    assert_eq!(welcome_lusers(&events), counts);
    assert_eq!(h.unclock(events), [welcome("alice")]);
}

#[test]
fn irc_registration_takes_nick_and_user_in_either_order() {
    let mut h = Harness::new();
    let id = h.connect_speaking(Protocol::Irc, ROOMY);
    h.send(id, user("alice"));
    h.assert_quiet(&[id]);
    h.send(id, Request::Nick("alice".into()));
    assert_eq!(h.events(id), [welcome("alice")]);
    h.send(id, user("again"));
    assert_eq!(h.events(id), error("alice", Error::AlreadyRegistered));
}

#[test]
fn cap_req_holds_registration_and_is_all_or_nothing() {
    let mut h = Harness::new();
    let id = h.connect_speaking(Protocol::Irc, ROOMY);
    h.send(
        id,
        Request::Cap(CapCommand::Req("echo-message draft/multiline".into())),
    );
    h.send(id, Request::Nick("alice".into()));
    h.send(id, user("alice"));
    assert_eq!(
        h.events(id),
        [cap("*", "NAK", "echo-message draft/multiline")]
    );
    h.send(id, Request::Cap(CapCommand::Req("echo-message".into())));
    assert_eq!(h.events(id), [cap("*", "ACK", "echo-message")]);
    h.send(id, Request::Cap(CapCommand::End));
    assert_eq!(h.events(id), [welcome("alice")]);
    h.send(id, Request::Cap(CapCommand::List));
    assert_eq!(h.events(id), [cap("alice", "LIST", "echo-message")]);
}

#[test]
fn the_welcome_and_lusers_count_users_rooms_and_the_unregistered() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#a"]);
    let bob = h.register("bob");
    let carol = h.register("carol");
    for id in [bob, carol] {
        h.send(id, Request::Quit(None));
    }
    h.connect();
    let dave = h.connect();
    h.send(dave, Request::Nick("dave".into()));
    let counts = Lusers {
        users: 2,
        unregistered: 1,
        rooms: 1,
        max_users: 3,
        ..Lusers::default()
    };
    assert_eq!(welcome_lusers(&h.raw_events(dave)), counts);
    h.send(alice, Request::Lusers);
    assert_eq!(h.events(alice), [reply("alice", Reply::Lusers(counts))]);
}

#[test]
fn a_wrong_or_missing_password_closes_the_connection() {
    let mut h = Harness::with(Config {
        password: Some("sesame".into()),
        ..Config::default()
    });
    for protocol in [Protocol::Line, Protocol::Irc] {
        let nick = protocol.to_string().to_lowercase();
        for password in [None, Some("open"), Some("sesame")] {
            let id = h.connect_speaking(protocol, ROOMY);
            if let Some(password) = password {
                h.send(id, Request::Pass(password.into()));
            }
            h.send(id, Request::Nick(nick.clone()));
            if protocol == Protocol::Irc {
                h.send(id, user(&nick));
            }
            let mut events = h.events(id);
            if protocol == Protocol::Line {
                assert_eq!(events.remove(0), Event::Greeting);
            }
            if password == Some("sesame") {
                assert_eq!(events, [welcome(&nick)]);
                h.assert_open(id);
            } else {
                assert_eq!(events, error("*", Error::PasswordMismatch));
                let farewell = match protocol {
                    Protocol::Line => "Bad password",
                    Protocol::Irc => "127.0.0.1 (Bad password)",
                };
                assert_eq!(&*h.farewell(id), farewell);
            }
        }
    }
    assert_eq!(h.router.client_count(), 2);
}

// Pings.

/// A harness whose IRC clients are pinged after 10 s and cut 5 s later.
fn pinging() -> Harness {
    Harness::with(Config {
        ping_interval: Duration::from_secs(10),
        ping_timeout: Duration::from_secs(5),
        ..Config::default()
    })
}

#[test]
fn a_silent_irc_client_is_pinged_then_cut() {
    let mut h = pinging();
    let silent = h.irc("silent", "");
    h.join_all(silent, &["#r"]);
    let line_user = h.member("liner", &["#r"]);
    h.tick_after(Duration::from_secs(9));
    h.assert_quiet(&[silent, line_user]);
    h.tick_after(Duration::from_secs(10));
    assert_eq!(h.events(silent), [Event::Ping(name("switchboard.local"))]);
    h.tick_after(Duration::from_secs(14));
    h.assert_open(silent);
    h.assert_quiet(&[silent, line_user]);
    h.tick_after(Duration::from_secs(15));
    assert!(h.farewell(silent).starts_with("127.0.0.1 (Ping timeout"));
    let reason = "Ping timeout: 15 seconds";
    assert_eq!(h.events(line_user), [quit("silent", Some(reason))]);
    // Line clients are never pinged.
    h.assert_open(line_user);
}

#[test]
fn an_irc_client_that_answers_is_pinged_again_not_cut() {
    let mut h = pinging();
    let id = h.irc("alive", "");
    h.tick_after(Duration::from_secs(10));
    assert_eq!(h.events(id), [Event::Ping(name("switchboard.local"))]);
    h.wait(Duration::from_secs(12));
    h.send(id, Request::Pong);
    // Past the deadline of the first ping.
    h.tick_after(Duration::from_secs(3));
    h.assert_open(id);
    h.assert_quiet(&[id]);
    h.tick_after(Duration::from_secs(10));
    assert_eq!(h.events(id), [Event::Ping(name("switchboard.local"))]);
    h.assert_open(id);
}

// Echoes.

#[test]
fn echo_message_sends_the_sender_its_own_messages() {
    let mut h = Harness::new();
    let echo = h.irc("echo", "echo-message");
    let plain = h.irc("plain", "");
    h.join_all(echo, &["#r"]);
    h.join_all(plain, &["#r"]);
    h.send(echo, msg("#r", "hi"));
    h.assert_told(&[echo, plain], &[from_irc(said_in("echo", "#r", "hi"))]);
    h.send(echo, msg("plain", "psst"));
    let psst = from_irc(said_privately("echo", "plain", "psst"));
    h.assert_told(&[echo, plain], &[psst]);
    h.send(plain, msg("#r", "hello"));
    assert_eq!(h.events(echo), [from_irc(said_in("plain", "#r", "hello"))]);
    h.assert_quiet(&[plain]);
}

// Away.

#[test]
fn away_notices_go_only_to_peers_who_asked() {
    let mut h = Harness::new();
    let asked = h.irc("asked", "away-notify");
    let plain = h.irc("plain", "");
    let liner = h.register("liner");
    let away = h.irc("away", "");
    for id in [asked, plain, liner, away] {
        h.send(id, join("#r"));
    }
    h.clear();
    h.send(away, Request::Away(Some("lunch".into())));
    assert_eq!(h.events(away), [reply("away", Reply::Away(true))]);
    assert_eq!(h.events(asked), [away_event("away", Some("lunch"))]);
    h.assert_quiet(&[plain, liner]);
    // A private message to an away user tells the sender.
    h.send(liner, msg("away", "are you there?"));
    let is_away = Reply::IsAway {
        nick: name("away"),
        message: name("lunch"),
    };
    assert_eq!(h.events(liner), [reply("liner", is_away)]);
    assert_eq!(
        h.events(away),
        [said_privately("liner", "away", "are you there?")]
    );
}

#[test]
fn coming_back_is_announced_and_notices_get_no_away_reply() {
    let mut h = Harness::new();
    let asked = h.irc("asked", "");
    // Capabilities may be asked for after registration too.
    h.send(asked, Request::Cap(CapCommand::Req("away-notify".into())));
    assert_eq!(h.events(asked), [cap("asked", "ACK", "away-notify")]);
    h.join_all(asked, &["#r"]);
    let gone = h.irc("gone", "");
    h.send(gone, away(Some("brb")));
    assert_eq!(h.events(gone), [reply("gone", Reply::Away(true))]);
    h.assert_quiet(&[asked]);
    // Joining a room while away tells its members who asked.
    h.send(gone, join("#r"));
    let told = [joined("#r", "gone"), away_event("gone", Some("brb"))];
    assert_eq!(h.events(asked), told);
    h.clear();
    let notice = msg_kind("gone", "knock knock", MessageKind::Notice);
    h.send(asked, notice);
    h.assert_quiet(&[asked]);
    let knock = from_irc(said_to(
        "asked",
        Destination::User(name("gone")),
        "knock knock",
        MessageKind::Notice,
    ));
    assert_eq!(h.events(gone), [knock]);
    h.send(gone, away(None));
    assert_eq!(h.events(gone), [reply("gone", Reply::Away(false))]);
    assert_eq!(h.events(asked), [away_event("gone", None)]);
    h.send(asked, msg("gone", "back?"));
    h.assert_quiet(&[asked]);
}

// Who is who.

#[test]
fn whois_tells_who_someone_is_and_only_the_rooms_the_asker_may_see() {
    let mut h = Harness::new();
    let bob = h.member("bob", &["#b"]);
    let alice = h.irc("alice", "");
    h.join_all(alice, &["#a", "#b", "#s"]);
    h.send(alice, mode("#s", "+s", &[]));
    h.send(alice, away(Some("lunch")));
    h.clear();
    h.wait(Duration::from_secs(30));
    let whois = |rooms: &[&str]| {
        Reply::Whois(Box::new(Whois {
            mask: mask("alice"),
            realname: name("ALICE"),
            rooms: words(rooms),
            away: Some(name("lunch")),
            operator: false,
            account: None,
            secure: false,
            certfp: None,
            idle_secs: 30,
            signon: 0,
            server: name("switchboard.local"),
        }))
    };
    h.send(bob, Request::Whois("ALICE".into()));
    assert_eq!(h.events(bob), [reply("bob", whois(&["@#a", "#b"]))]);
    h.send(alice, Request::Whois("alice".into()));
    assert_eq!(
        h.events(alice),
        [reply("alice", whois(&["@#a", "#b", "@#s"]))]
    );
    h.send(bob, Request::Whois("ghost".into()));
    assert_eq!(
        h.events(bob),
        [
            reply("bob", Reply::Error(Error::NoSuchUser("ghost".into()))),
            reply("bob", Reply::WhoisEnd(name("ghost"))),
        ]
    );
}

#[test]
fn ison_and_userhost_tell_who_is_registered() {
    let mut h = Harness::new();
    let alice = h.register("alice");
    let bob = h.irc("Bob", "");
    let half = h.connect_speaking(Protocol::Irc, ROOMY);
    h.send(half, Request::Nick("half".into()));
    h.send(bob, away(Some("out")));
    h.clear();
    h.send(
        alice,
        Request::Ison(words(&["BOB", "ghost", "half", "alice"])),
    );
    let online = Reply::Ison(vec![name("Bob"), name("alice")]);
    assert_eq!(h.events(alice), [reply("alice", online)]);
    // Only the first five are looked up.
    let asked = words(&["bob", "ghost", "half", "ALICE", "nobody", "alice"]);
    h.send(alice, Request::Userhost(asked));
    let hosts = vec![
        (Mask::clone(&mask("Bob")), true),
        (Mask::clone(&mask("alice")), false),
    ];
    assert_eq!(h.events(alice), [reply("alice", Reply::Userhost(hosts))]);
}

// Kicks and invites.

#[test]
fn a_kick_is_told_to_everyone_and_takes_the_kicked_out() {
    let (mut h, [alice, bob, carol]) = trio();
    h.join_all(carol, &["#r"]);
    h.send(alice, kick("#R", "BOB", Some("spam")));
    let kick_event = kicked("#r", "alice", "bob", Some("spam"));
    h.assert_told(&[alice, bob, carol], &[kick_event]);
    h.send(bob, say("let me back"));
    assert_eq!(h.events(bob), error("bob", Error::NoCurrentRoom));
    h.send(bob, who(Some("#r")));
    assert_eq!(h.events(bob), [members("bob", "#r", &["@alice", "carol"])]);
    h.assert_quiet(&[alice, carol]);
}

#[test]
fn a_kick_needs_an_operator_and_a_member_to_kick() {
    let (mut h, [alice, bob, carol]) = trio();
    h.send(bob, kick("#r", "alice", None));
    assert_eq!(h.events(bob), error("bob", Error::NotOperator("#r".into())));
    h.send(alice, kick("#r", "ghost", None));
    assert_eq!(
        h.events(alice),
        error("alice", Error::NoSuchUser("ghost".into()))
    );
    h.send(alice, kick("#r", "carol", None));
    let not_in = Error::UserNotInRoom {
        nick: "carol".into(),
        room: "#r".into(),
    };
    assert_eq!(h.events(alice), error("alice", not_in));
    h.assert_quiet(&[bob, carol]);
}

#[test]
fn an_invite_lets_its_invitee_into_an_invite_only_room_once() {
    let (mut h, [alice, bob, carol]) = trio();
    let notified = h.irc("dave", "invite-notify");
    h.join_all(notified, &["#r"]);
    h.send(alice, mode("#r", "+i", &[]));
    h.clear();
    h.send(bob, invite("carol", "#r"));
    assert_eq!(h.events(bob), error("bob", Error::NotOperator("#r".into())));
    h.send(alice, invite("CAROL", "#R"));
    let inviting = Reply::Inviting {
        nick: name("carol"),
        room: name("#r"),
    };
    assert_eq!(h.events(alice), [reply("alice", inviting)]);
    let invited = Event::Invited {
        by: mask("alice"),
        nick: name("carol"),
        room: name("#r"),
    };
    h.assert_told(&[carol, notified], &[invited]);
    h.assert_quiet(&[bob]);
    h.send(carol, join("#r"));
    h.assert_told(&[alice, bob, notified], &[joined("#r", "carol")]);
    h.send(carol, leave(None, None));
    h.clear();
    h.send(carol, join("#r"));
    assert_eq!(
        h.events(carol),
        error("carol", Error::InviteOnly("#r".into()))
    );
    h.send(alice, invite("bob", "#r"));
    let already = Error::AlreadyInRoom {
        nick: "bob".into(),
        room: "#r".into(),
    };
    assert_eq!(h.events(alice), error("alice", already));
}

// Room modes. In `trio`, alice is the operator of `#r` and bob a member.

#[test]
fn a_new_room_is_nt_and_shows_its_key_to_members_only() {
    let (mut h, [alice, bob, carol]) = trio();
    let modes = |me: &str, modes: &str| {
        let modes = Reply::RoomModes {
            room: name("#r"),
            modes: modes.into(),
            created: 0,
        };
        vec![reply(me, modes)]
    };
    h.send(bob, mode("#r", "", &[]));
    assert_eq!(h.events(bob), modes("bob", "+nt"));
    h.send(alice, mode("#r", "+k", &["sesame"]));
    h.clear();
    h.send(bob, mode("#R", "", &[]));
    assert_eq!(h.events(bob), modes("bob", "+ntk sesame"));
    h.send(carol, mode("#r", "", &[]));
    assert_eq!(h.events(carol), modes("carol", "+ntk *"));
}

#[test]
fn mode_changes_need_an_operator_and_known_letters() {
    let (mut h, [alice, bob, _]) = trio();
    h.send(bob, mode("#r", "+i", &[]));
    assert_eq!(h.events(bob), error("bob", Error::NotOperator("#r".into())));
    h.assert_quiet(&[alice]);
    // The known letters still apply.
    h.send(alice, mode("#r", "+zi", &[]));
    let changed = mode_changed("#r", "alice", "+i", &[]);
    let unknown = reply("alice", Reply::Error(Error::UnknownMode('z')));
    assert_eq!(h.events(alice), [unknown, changed.clone()]);
    assert_eq!(h.events(bob), [changed]);
}

#[test]
fn an_invite_only_room_refuses_the_uninvited() {
    let (mut h, [alice, bob, carol]) = trio();
    h.send(alice, mode("#r", "+i", &[]));
    h.assert_told(&[alice, bob], &[mode_changed("#r", "alice", "+i", &[])]);
    h.send(carol, join("#r"));
    assert_eq!(
        h.events(carol),
        error("carol", Error::InviteOnly("#r".into()))
    );
    h.assert_quiet(&[alice, bob]);
}

#[test]
fn a_key_set_by_mode_is_needed_until_unset() {
    let (mut h, [alice, bob, carol]) = trio();
    h.send(alice, mode("#r", "+k", &["sesame"]));
    let keyed = mode_changed("#r", "alice", "+k", &["sesame"]);
    h.assert_told(&[alice, bob], &[keyed]);
    for request in [join("#r"), join_with_key("#r", "open")] {
        h.send(carol, request);
        assert_eq!(h.events(carol), error("carol", Error::BadKey("#r".into())));
    }
    h.send(alice, mode("#r", "-k", &[]));
    h.assert_told(&[alice, bob], &[mode_changed("#r", "alice", "-k", &[])]);
    h.send(carol, join("#r"));
    h.assert_told(&[alice, bob], &[joined("#r", "carol")]);
}

#[test]
fn a_limit_keeps_a_full_room_closed_until_lifted() {
    let (mut h, [alice, bob, carol]) = trio();
    h.send(alice, mode("#r", "+l", &["2"]));
    h.assert_told(&[alice, bob], &[mode_changed("#r", "alice", "+l", &["2"])]);
    h.send(carol, join("#r"));
    assert_eq!(
        h.events(carol),
        error("carol", Error::RoomFull("#r".into()))
    );
    h.send(alice, mode("#r", "-l", &[]));
    h.assert_told(&[alice, bob], &[mode_changed("#r", "alice", "-l", &[])]);
    h.send(carol, join("#r"));
    h.assert_told(&[alice, bob], &[joined("#r", "carol")]);
}

#[test]
fn a_moderated_room_hears_only_operators_and_the_voiced() {
    let (mut h, [alice, bob, _]) = trio();
    h.send(alice, mode("#r", "+m", &[]));
    h.assert_told(&[alice, bob], &[mode_changed("#r", "alice", "+m", &[])]);
    h.send(bob, say("hello?"));
    assert_eq!(h.events(bob), error("bob", Error::CannotSend("#r".into())));
    h.assert_quiet(&[alice]);
    h.send(alice, say("ops may"));
    assert_eq!(h.events(bob), [said_in("alice", "#r", "ops may")]);
    h.send(alice, mode("#r", "+v", &["bob"]));
    let voiced = mode_changed("#r", "alice", "+v", &["bob"]);
    h.assert_told(&[alice, bob], &[voiced]);
    h.send(bob, say("hello!"));
    assert_eq!(h.events(alice), [said_in("bob", "#r", "hello!")]);
}

#[test]
fn without_n_a_room_takes_messages_from_outside() {
    let (mut h, [alice, bob, carol]) = trio();
    h.send(carol, msg("#r", "knock"));
    assert_eq!(
        h.events(carol),
        error("carol", Error::CannotSend("#r".into()))
    );
    h.send(alice, mode("#r", "-n", &[]));
    h.assert_told(&[alice, bob], &[mode_changed("#r", "alice", "-n", &[])]);
    h.send(carol, msg("#r", "knock"));
    h.assert_told(&[alice, bob], &[said_in("carol", "#r", "knock")]);
    h.assert_quiet(&[carol]);
}

#[test]
fn a_secret_room_is_hidden_from_outsiders() {
    let (mut h, [alice, bob, _]) = trio();
    h.send(alice, mode("#r", "+s", &[]));
    h.assert_told(&[alice, bob], &[mode_changed("#r", "alice", "+s", &[])]);
    let outsider = h.irc("dave", "");
    assert_eq!(h.rooms(outsider), [listing("dave", vec![])]);
    h.send(outsider, who(Some("#r")));
    let no_names = reply("dave", Reply::NoNames(name("#r")));
    assert_eq!(h.events(outsider), [no_names]);
    let listed = listing("bob", vec![summary("#r", 2, None)]);
    assert_eq!(h.rooms(bob), [listed]);
    h.send(bob, who(None));
    assert_eq!(
        h.events(bob),
        [names("bob", "#r", true, &["@alice", "bob"])]
    );
}

#[test]
fn without_t_any_member_sets_the_topic() {
    let (mut h, [alice, bob, _]) = trio();
    h.send(alice, mode("#r", "-t", &[]));
    h.assert_told(&[alice, bob], &[mode_changed("#r", "alice", "-t", &[])]);
    h.send(bob, set_topic(None, "ours"));
    h.assert_told(&[alice, bob], &[topic_changed("#r", "bob", "ours")]);
}

#[test]
fn operators_and_voice_are_given_and_taken_by_operators() {
    let (mut h, [alice, bob, _]) = trio();
    h.send(alice, mode("#r", "+ov", &["BOB", "bob"]));
    let given = mode_changed("#r", "alice", "+ov", &["bob", "bob"]);
    h.assert_told(&[alice, bob], &[given]);
    h.send(bob, mode("#r", "-o", &["alice"]));
    let taken = mode_changed("#r", "bob", "-o", &["alice"]);
    h.assert_told(&[alice, bob], &[taken]);
    h.send(alice, who(None));
    assert_eq!(
        h.events(alice),
        [members("alice", "#r", &["alice", "@+bob"])]
    );
    h.send(alice, mode("#r", "+v", &["bob"]));
    assert_eq!(
        h.events(alice),
        error("alice", Error::NotOperator("#r".into()))
    );
    h.send(bob, mode("#r", "+o", &["carol"]));
    let not_in = Error::UserNotInRoom {
        nick: "carol".into(),
        room: "#r".into(),
    };
    assert_eq!(h.events(bob), error("bob", not_in));
}

#[test]
fn bans_are_normalized_listed_and_lifted() {
    let (mut h, [alice, bob, carol]) = trio();
    h.send(alice, mode("#r", "+bb", &["carol", "*@10.0.0.1"]));
    let banned = mode_changed("#r", "alice", "+bb", &["carol!*@*", "*!*@10.0.0.1"]);
    h.assert_told(&[alice, bob], &[banned]);
    h.send(carol, join("#r"));
    assert_eq!(h.events(carol), error("carol", Error::Banned("#r".into())));
    // Anyone may list the bans.
    h.send(carol, mode("#r", "b", &[]));
    let ban = |mask: &str| Ban {
        mask: name(mask),
        set_by: name("alice"),
        set_at: 0,
    };
    let bans = Reply::BanList {
        room: name("#r"),
        bans: vec![ban("carol!*@*"), ban("*!*@10.0.0.1")],
    };
    assert_eq!(h.events(carol), [reply("carol", bans)]);
    h.send(alice, mode("#r", "-b", &["carol"]));
    let lifted = mode_changed("#r", "alice", "-b", &["carol!*@*"]);
    h.assert_told(&[alice, bob], &[lifted]);
    h.send(carol, join("#r"));
    h.assert_told(&[alice, bob], &[joined("#r", "carol")]);
}

#[test]
fn a_banned_member_may_not_speak() {
    let (mut h, [alice, bob, _]) = trio();
    h.send(alice, mode("#r", "+b", &["b*"]));
    h.assert_told(
        &[alice, bob],
        &[mode_changed("#r", "alice", "+b", &["b*!*@*"])],
    );
    h.send(bob, say("hi"));
    assert_eq!(h.events(bob), error("bob", Error::CannotSend("#r".into())));
    h.assert_quiet(&[alice]);
}

/// A ban is lifted whatever the case it is named in, and the change shows
/// the ban as it was listed, so clients can drop it from their lists.
#[test]
fn lifting_a_ban_shows_it_as_listed() {
    let (mut h, [alice, bob, _]) = trio();
    h.send(alice, mode("#r", "+b", &["carol"]));
    h.clear();
    h.send(alice, mode("#r", "-b", &["CAROL"]));
    let lifted = mode_changed("#r", "alice", "-b", &["carol!*@*"]);
    h.assert_told(&[alice, bob], &[lifted]);
    h.send(alice, mode("#r", "b", &[]));
    let bans = Reply::BanList {
        room: name("#r"),
        bans: vec![],
    };
    assert_eq!(h.events(alice), [reply("alice", bans)]);
}
