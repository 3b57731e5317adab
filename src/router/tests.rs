//! Router tests: no sockets, no threads. A [`Harness`] plays the transports,
//! feeding inputs with a hand-driven clock and reading each client's inbox.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::TryRecvError;

use super::{Input, ROOMS_PER_CLIENT, Router, TOPIC_MAX};
use crate::client::{self, ClientId, Inbox};
use crate::config::Config;
use crate::protocol::{
    CapCommand, Destination, Error, Event, Mask, Member, MessageKind, Name, Protocol, Reply,
    Request, RoomSummary, Target, Topic, line,
};
use crate::stats::Stats;

/// Outbox capacity of clients that are not testing overflow.
const ROOMY: usize = 1000;

/// A router and the clients connected to it.
struct Harness {
    router: Router,
    stats: Arc<Stats>,
    now: Instant,
    inboxes: HashMap<ClientId, Inbox>,
    next_id: u64,
}

impl Harness {
    fn new() -> Harness {
        Harness::with(Config::default())
    }

    fn with(config: Config) -> Harness {
        let stats = Arc::new(Stats::default());
        Harness {
            router: Router::new(&config, Arc::clone(&stats)),
            stats,
            now: Instant::now(),
            inboxes: HashMap::new(),
            next_id: 1,
        }
    }

    /// A new connection whose outbox holds `capacity` events.
    fn connect_with(&mut self, capacity: usize) -> ClientId {
        self.connect_speaking(Protocol::Line, capacity)
    }

    /// A new IRC connection, registered as `nick` with capabilities `caps`
    /// (space-separated), its welcome read.
    fn irc(&mut self, nick: &str, caps: &str) -> ClientId {
        let id = self.connect_speaking(Protocol::Irc, ROOMY);
        if !caps.is_empty() {
            self.send(id, Request::Cap(CapCommand::Req(caps.into())));
        }
        self.send(id, Request::Nick(nick.into()));
        self.send(
            id,
            Request::User {
                user: nick.into(),
                realname: nick.into(),
            },
        );
        self.send(id, Request::Cap(CapCommand::End));
        assert!(
            self.raw_events(id).iter().any(|event| matches!(
                event,
                Event::Reply {
                    reply: Reply::Welcome(_),
                    ..
                }
            )),
            "{nick} registered"
        );
        id
    }

    fn connect_speaking(&mut self, protocol: Protocol, capacity: usize) -> ClientId {
        let id = ClientId(self.next_id);
        self.next_id += 1;
        let (outbox, inbox) = client::outbox(capacity, Arc::clone(&self.stats), None);
        self.inboxes.insert(id, inbox);
        let input = Input::Connected {
            id,
            outbox,
            peer: ([127, 0, 0, 1], 40_000).into(),
            protocol,
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
        assert_eq!(self.events(id), [greeting(), welcome(nick)]);
        id
    }

    fn register(&mut self, nick: &str) -> ClientId {
        self.register_with(nick, ROOMY)
    }

    /// A registered client in `rooms`, joined in that order; every inbox is
    /// read afterwards.
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

    fn send(&mut self, id: ClientId, request: Request) {
        self.router.handle(Input::Request(id, request), self.now);
    }

    fn disconnect(&mut self, id: ClientId, reason: &str) {
        self.router
            .handle(Input::Disconnected(id, reason.into()), self.now);
    }

    fn tick_after(&mut self, elapsed: Duration) {
        self.router.tick(self.now + elapsed);
    }

    /// Everything queued for `id` so far.
    fn events(&self, id: ClientId) -> Vec<String> {
        self.raw_events(id).into_iter().map(encoded).collect()
    }

    /// Everything queued for `id` so far, as events.
    fn raw_events(&self, id: ClientId) -> Vec<Event> {
        self.inboxes[&id]
            .rx
            .try_iter()
            .map(|queued| queued.message.event().clone())
            .collect()
    }

    /// Reads every inbox.
    fn clear(&self) {
        for id in self.inboxes.keys() {
            self.events(*id);
        }
    }

    fn assert_quiet(&self, ids: &[ClientId]) {
        for &id in ids {
            let events = self.events(id);
            assert!(events.is_empty(), "events for {id}: {events:?}");
        }
    }

    /// Asserts the router let go of `id` (once its queue is read) and returns
    /// the farewell it left.
    fn farewell(&self, id: ClientId) -> Name {
        let inbox = &self.inboxes[&id];
        assert_eq!(inbox.rx.try_recv().err(), Some(TryRecvError::Disconnected));
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

    fn rooms(&mut self, asker: ClientId) -> Vec<String> {
        self.send(asker, Request::List(Vec::new()));
        self.events(asker)
    }
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

fn who(room: Option<&str>) -> Request {
    Request::Names(room.map(Into::into))
}

// Events, as a line-protocol client reads them: the line encoding shows
// every field these tests care about and none that depend on the clock.

/// The wire form of one event for a line-protocol client.
fn encoded(event: Event) -> String {
    let mut out = Vec::new();
    line::encode(&event, &mut out);
    String::from_utf8(out).expect("UTF-8")
}

fn name(text: &str) -> Name {
    text.into()
}

/// The mask of a user; the line protocol shows only the nickname.
fn mask(nick: &str) -> Arc<Mask> {
    Arc::new(Mask {
        nick: name(nick),
        user: format!("~{nick}").into(),
        host: "127.0.0.1".into(),
    })
}

fn reply(reply: Reply) -> String {
    encoded(Event::Reply {
        me: name("me"),
        reply,
    })
}

fn greeting() -> String {
    encoded(Event::Greeting)
}

fn welcome(nick: &str) -> String {
    format!("- hello {nick}! /join #room to enter a room, /rooms to see them all\n")
}

fn help() -> String {
    reply(Reply::Help)
}

fn switched(room: &str) -> String {
    reply(Reply::Switched(name(room)))
}

fn listing(rooms: Vec<RoomSummary>) -> String {
    reply(Reply::Rooms(rooms))
}

fn nick_changed(old: &str, new: &str) -> String {
    encoded(Event::NickChanged {
        who: mask(old),
        new: name(new),
    })
}

fn joined(room: &str, nick: &str) -> String {
    encoded(Event::Joined {
        room: name(room),
        who: mask(nick),
    })
}

fn left(room: &str, nick: &str, reason: Option<&str>) -> String {
    encoded(Event::Left {
        room: name(room),
        who: mask(nick),
        reason: reason.map(name),
    })
}

fn quit(nick: &str, reason: Option<&str>) -> String {
    encoded(Event::Quit {
        who: mask(nick),
        reason: reason.map(name),
    })
}

/// A member list; `members` are (nick, operator) in the expected order.
fn members(room: &str, members: &[(&str, bool)]) -> String {
    reply(Reply::Names {
        room: name(room),
        secret: false,
        members: members
            .iter()
            .map(|&(nick, operator)| Member {
                mask: mask(nick),
                operator,
                voice: false,
            })
            .collect(),
    })
}

fn said_in(from: &str, room: &str, text: &str) -> String {
    said_to(from, Destination::Room(name(room)), text, MessageKind::Say)
}

fn said_to(from: &str, to: Destination, text: &str, kind: MessageKind) -> String {
    encoded(Event::Message {
        from: mask(from),
        to,
        text: name(text),
        kind,
        tags: None,
    })
}

fn topic_changed(room: &str, nick: &str, text: &str) -> String {
    encoded(Event::TopicChanged {
        room: name(room),
        who: mask(nick),
        text: name(text),
    })
}

fn topic_is(room: &str, topic: Option<(&str, &str)>) -> String {
    reply(Reply::Topic {
        room: name(room),
        topic: topic.map(|(text, set_by)| Topic {
            text: name(text),
            set_by: name(set_by),
            set_at: 0,
        }),
    })
}

fn summary(room: &str, members: usize, topic: Option<&str>) -> RoomSummary {
    RoomSummary {
        name: name(room),
        members,
        topic: topic.map(name),
    }
}

fn error(error: Error) -> Vec<String> {
    vec![reply(Reply::Error(error))]
}

// Registration.

#[test]
fn connecting_greets() {
    let mut h = Harness::new();
    let id = h.connect();
    assert_eq!(h.events(id), [greeting()]);
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
        assert_eq!(h.events(id), error(Error::NeedNick), "{request:?}");
    }
    h.send(id, Request::Help);
    assert_eq!(h.events(id), [help()]);
    h.send(id, Request::Nick("alice".into()));
    assert_eq!(h.events(id), [welcome("alice")]);
}

#[test]
fn quit_works_before_a_nick() {
    let mut h = Harness::new();
    let id = h.connect();
    h.send(id, Request::Quit(None));
    assert_eq!(h.events(id), [greeting()]);
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
        assert_eq!(h.events(id), error(expected));
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
    assert_eq!(h.events(newcomer), error(Error::NickInUse("ALICE".into())));
    h.send(bob, Request::Nick("Alice".into()));
    assert_eq!(h.events(bob), error(Error::NickInUse("Alice".into())));
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
    assert_eq!(h.events(other), error(Error::NickInUse("alice".into())));
}

#[test]
fn the_same_nick_again_is_already_named() {
    let mut h = Harness::new();
    let id = h.register("alice");
    h.send(id, Request::Nick("alice".into()));
    assert_eq!(h.events(id), error(Error::AlreadyNamed));
}

#[test]
fn nick_change_is_announced_once_to_each_peer_and_to_self() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#one", "#two"]);
    let bob = h.member("bob", &["#one", "#two"]);
    let carol = h.member("carol", &["#two"]);
    let stranger = h.member("dave", &["#elsewhere"]);
    h.send(alice, Request::Nick("ally".into()));
    for id in [alice, bob, carol] {
        let events = h.events(id);
        assert_eq!(events, [nick_changed("alice", "ally")], "events for {id}");
    }
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
            members("#rust", &[("alice", true)])
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
    for id in [zoe, bob] {
        assert_eq!(h.events(id), [joined("#rust", "alice")]);
    }
    let sorted = members("#rust", &[("alice", false), ("Bob", false), ("zoe", true)]);
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
            topic_is("#rust", Some(("crabs", "zoe"))),
            members("#rust", &[("alice", false), ("zoe", true)]),
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
    assert_eq!(h.events(alice), [switched("#a")]);
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
        assert_eq!(h.events(alice), error(Error::BadRoomName(bad.into())));
    }
    assert_eq!(h.rooms(alice), [listing(vec![])]);
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
        error(Error::TooManyRooms(ROOMS_PER_CLIENT))
    );
    h.send(alice, Request::List(Vec::new()));
    let events = h.raw_events(alice);
    let [
        Event::Reply {
            reply: Reply::Rooms(listed),
            ..
        },
    ] = events.as_slice()
    else {
        panic!("expected a room list");
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
    assert_eq!(h.events(bob), error(Error::BadKey("#secret".into())));
    h.send(bob, join_with_key("#secret", "open"));
    assert_eq!(h.events(bob), error(Error::BadKey("#secret".into())));
    h.assert_quiet(&[alice]);
    h.send(bob, join_with_key("#secret", "sesame"));
    assert_eq!(h.events(alice), [joined("#secret", "bob")]);
    assert_eq!(
        h.events(bob),
        [
            joined("#secret", "bob"),
            members("#secret", &[("alice", true), ("bob", false)]),
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
    for id in [alice, bob] {
        assert_eq!(h.events(id), [left("#rust", "bob", Some("lunch"))]);
    }
    h.send(alice, who(None));
    assert_eq!(h.events(alice), [members("#rust", &[("alice", true)])]);
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
    assert_eq!(h.rooms(alice), [listing(vec![summary("#shared", 2, None)])]);
}

#[test]
fn leaving_a_room_one_is_not_in_is_refused() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#mine"]);
    h.member("bob", &["#theirs"]);
    h.send(alice, leave(Some("#theirs"), None));
    assert_eq!(h.events(alice), error(Error::NotInRoom("#theirs".into())));
    h.send(alice, leave(Some("#nowhere"), None));
    assert_eq!(h.events(alice), error(Error::NoSuchRoom("#nowhere".into())));
}

#[test]
fn leaving_with_no_room_is_no_current_room() {
    let mut h = Harness::new();
    let alice = h.register("alice");
    h.send(alice, leave(None, None));
    assert_eq!(h.events(alice), error(Error::NoCurrentRoom));
    h.send(alice, say("anyone?"));
    assert_eq!(h.events(alice), error(Error::NoCurrentRoom));
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
    for id in [bob, carol] {
        assert_eq!(h.events(id), [said_in("alice", "#rust", "hello")]);
    }
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
    assert_eq!(h.events(alice), error(Error::CannotSend("#c".into())));
    h.send(alice, msg("#nope", "hi"));
    assert_eq!(h.events(alice), error(Error::NoSuchRoom("#nope".into())));
    h.assert_quiet(&[in_a, in_c]);
}

#[test]
fn private_messages_reach_only_the_recipient() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#rust"]);
    let bob = h.member("Bob", &["#rust"]);
    let carol = h.member("carol", &["#rust"]);
    h.send(alice, msg("bOB", "psst"));
    let private = Destination::User(name("Bob"));
    assert_eq!(
        h.events(bob),
        [said_to("alice", private, "psst", MessageKind::Say)]
    );
    h.assert_quiet(&[alice, carol]);
}

#[test]
fn private_messages_to_nobody_are_no_such_user() {
    let mut h = Harness::new();
    let alice = h.register("alice");
    let unnamed = h.connect();
    h.clear();
    h.send(alice, msg("ghost", "boo"));
    assert_eq!(h.events(alice), error(Error::NoSuchUser("ghost".into())));
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
    for id in [alice, bob] {
        assert_eq!(h.events(id), [topic_changed("#rust", "alice", "crabs")]);
    }
}

#[test]
fn others_may_not_set_the_topic() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#rust"]);
    let bob = h.member("bob", &["#rust"]);
    h.send(bob, set_topic(None, "mine now"));
    assert_eq!(h.events(bob), error(Error::NotOperator("#rust".into())));
    h.assert_quiet(&[alice]);
    h.send(bob, query_topic(None));
    assert_eq!(h.events(bob), [topic_is("#rust", None)]);
}

#[test]
fn topics_are_limited_to_topic_max_bytes() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#rust"]);
    h.send(alice, set_topic(None, &"x".repeat(TOPIC_MAX + 1)));
    assert_eq!(h.events(alice), error(Error::TopicTooLong(TOPIC_MAX)));
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
    assert_eq!(h.events(alice), [topic_is("#rust", None)]);
    assert_eq!(h.rooms(alice), [listing(vec![summary("#rust", 1, None)])]);
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
        [topic_is("#rust", Some(("crabs", "alice")))]
    );
    h.send(outsider, query_topic(Some("#nope")));
    assert_eq!(h.events(outsider), error(Error::NoSuchRoom("#nope".into())));
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
    assert_eq!(h.rooms(alice), [listing(rooms)]);
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
        [members("#rust", &[("alice", false), ("zoe", true)])]
    );
}

#[test]
fn who_for_a_missing_room_is_no_such_room() {
    let mut h = Harness::new();
    let alice = h.register("alice");
    h.send(alice, who(Some("#nope")));
    assert_eq!(h.events(alice), error(Error::NoSuchRoom("#nope".into())));
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
    for id in [bob, carol] {
        assert_eq!(
            h.events(id),
            [quit("alice", Some("bye"))],
            "events for {id}"
        );
    }
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
    assert_eq!(h.events(newcomer), [greeting(), welcome("ALICE")]);
}

#[test]
fn quit_removes_the_rooms_it_empties() {
    let mut h = Harness::new();
    let alice = h.member("alice", &["#solo", "#shared"]);
    let bob = h.member("bob", &["#shared"]);
    h.disconnect(alice, "connection reset");
    assert_eq!(h.events(bob), [quit("alice", Some("connection reset"))]);
    assert_eq!(h.rooms(bob), [listing(vec![summary("#shared", 1, None)])]);
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
    assert_eq!(h.rooms(bob), [listing(vec![summary("#rust", 1, None)])]);
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
/// outbox that only reads when told to; every inbox starts empty.
struct SlowRoom {
    h: Harness,
    sender: ClientId,
    reader: ClientId,
    slow: ClientId,
    /// Lines said so far; each line is its number.
    said: usize,
}

impl SlowRoom {
    fn new() -> SlowRoom {
        let mut h = Harness::with(Config {
            slow_drops: SLOW_DROPS,
            slow_timeout: SLOW_TIMEOUT,
            ..Config::default()
        });
        let sender = h.member("sender", &["#busy"]);
        let reader = h.member("reader", &["#busy"]);
        let slow = h.register_with("slow", SLOW_CAPACITY);
        h.join_all(slow, &["#busy"]);
        SlowRoom {
            h,
            sender,
            reader,
            slow,
            said: 0,
        }
    }

    /// The sender says `count` more lines; returns what a reader that keeps
    /// up gets for them.
    fn say(&mut self, count: usize) -> Vec<String> {
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

    /// Reads `count` events from the slow client's outbox.
    fn read_slow(&self, count: usize) -> Vec<String> {
        let inbox = &self.h.inboxes[&self.slow];
        let events: Vec<String> = inbox
            .rx
            .try_iter()
            .take(count)
            .map(|queued| encoded(queued.message.event().clone()))
            .collect();
        assert_eq!(events.len(), count, "the slow client's outbox ran dry");
        events
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
    fn quit_told_to_sender(&self) -> String {
        let events = self.h.events(self.sender);
        let [quit] = events.as_slice() else {
            panic!("expected one quit, got {events:?}");
        };
        assert!(quit.starts_with("* slow quit (slow client"), "{quit}");
        quit.clone()
    }

    /// Asserts that the slow client is gone, that the sender was told, and
    /// that the reader was told after `reader_lines`.
    fn assert_cut_off(&self, reader_lines: Vec<String>) {
        let mut reader = reader_lines;
        reader.push(self.quit_told_to_sender());
        assert_eq!(self.h.events(self.reader), reader);
        self.h.events(self.slow);
        assert!(self.h.farewell(self.slow).starts_with("slow client"));
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

// IRC.

#[test]
fn irc_registration_needs_user_and_waits_for_cap_end() {
    let mut h = Harness::new();
    let id = h.connect_speaking(Protocol::Irc, ROOMY);
    h.send(id, join("#early"));
    let refused = h.raw_events(id);
    assert!(
        matches!(
            refused.as_slice(),
            [Event::Reply {
                reply: Reply::Error(Error::NotRegistered),
                ..
            }]
        ),
        "{refused:?}"
    );
    h.send(id, Request::Cap(CapCommand::Ls(302)));
    h.send(id, Request::Nick("alice".into()));
    h.send(
        id,
        Request::User {
            user: "alice".into(),
            realname: "Alice".into(),
        },
    );
    let negotiating = h.raw_events(id);
    assert!(
        matches!(
            negotiating.as_slice(),
            [Event::Reply {
                reply: Reply::Cap {
                    subcommand: "LS",
                    ..
                },
                ..
            }]
        ),
        "no welcome before CAP END: {negotiating:?}"
    );
    h.send(id, Request::Cap(CapCommand::End));
    let welcome = h.raw_events(id);
    let [
        Event::Reply {
            me,
            reply: Reply::Welcome(welcome),
        },
    ] = welcome.as_slice()
    else {
        panic!("expected the welcome, got {welcome:?}");
    };
    assert_eq!(&**me, "alice");
    assert_eq!(welcome.mask.to_string(), "alice!~alice@127.0.0.1");
    assert_eq!(welcome.lusers.users, 1);
}

#[test]
fn a_silent_irc_client_is_pinged_then_cut() {
    let mut h = Harness::with(Config {
        ping_interval: Duration::from_secs(10),
        ping_timeout: Duration::from_secs(5),
        ..Config::default()
    });
    let silent = h.irc("silent", "");
    let line_user = h.register("liner");
    h.tick_after(Duration::from_secs(9));
    h.assert_quiet(&[silent, line_user]);
    h.tick_after(Duration::from_secs(10));
    assert_eq!(
        h.raw_events(silent),
        [Event::Ping(name("switchboard.local"))]
    );
    h.tick_after(Duration::from_secs(14));
    h.assert_open(silent);
    h.tick_after(Duration::from_secs(15));
    assert!(h.farewell(silent).starts_with("Ping timeout"));
    // Line clients are never pinged.
    h.assert_open(line_user);
    h.assert_quiet(&[line_user]);
}

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
    assert!(matches!(
        h.raw_events(away).as_slice(),
        [Event::Reply {
            reply: Reply::Away(true),
            ..
        }]
    ));
    assert_eq!(
        h.raw_events(asked),
        [Event::Away {
            who: Arc::new(Mask {
                nick: name("away"),
                user: name("~away"),
                host: name("127.0.0.1"),
            }),
            message: Some(name("lunch")),
        }]
    );
    h.assert_quiet(&[plain, liner]);
    // A private message to an away user tells the sender.
    h.send(liner, msg("away", "are you there?"));
    assert_eq!(
        h.events(liner),
        [reply(Reply::IsAway {
            nick: name("away"),
            message: name("lunch"),
        })]
    );
}
