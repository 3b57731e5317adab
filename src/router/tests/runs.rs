//! What is said in a room within one turn, delivered member by member
//! (`router::run`, the event loop's way): each client still gets its
//! events in the order they were made, and only what was said while it
//! was in the room.

use super::*;
use crate::config::Transport;
use crate::router::run::RUN_MAX;

impl Harness {
    /// A harness whose router gathers runs, as it does for the event loop.
    fn gathering() -> Harness {
        Harness::with(Config {
            transport: Transport::Evented,
            ..Config::default()
        })
    }

    /// Hands the router a request within the turn: unlike
    /// [`Harness::send`], what was said in a room may stay gathered.
    fn send_in_turn(&mut self, id: ClientId, request: Request) {
        self.router.handle(Input::Request(id, request), self.now);
        self.router.check_invariants().unwrap();
    }

    /// Ends the router's turn, as a transport does before writing.
    fn end_turn(&mut self) {
        self.router.end_run(self.now);
        self.router.check_invariants().unwrap();
    }
}

/// The texts of the messages among `events`, in order.
fn texts(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Message { text, .. } => Some(&**text),
            _ => None,
        })
        .collect()
}

#[test]
fn a_turn_of_room_messages_reaches_each_member_in_order_with_everything_else() {
    let (mut h, [alice, bob]) = irc_pair("echo-message");
    let carol = h.register("carol");
    h.send_in_turn(alice, msg("#r", "1"));
    h.send_in_turn(alice, msg("#r", "2"));
    h.send_in_turn(carol, msg("bob", "p"));
    h.send_in_turn(alice, msg("#r", "3"));
    h.send_in_turn(carol, join("#r"));
    h.send_in_turn(alice, msg("#r", "4"));
    h.end_turn();
    assert_eq!(
        h.events(bob),
        [
            from_irc(said_in("alice", "#r", "1")),
            from_irc(said_in("alice", "#r", "2")),
            said_privately("carol", "bob", "p"),
            from_irc(said_in("alice", "#r", "3")),
            joined("#r", "carol"),
            from_irc(said_in("alice", "#r", "4")),
        ]
    );
    let echoed = h.events(alice);
    assert_eq!(texts(&echoed), ["1", "2", "3", "4"]);
    assert_eq!(echoed[3], joined("#r", "carol"));
    // Only what was said once she was in.
    assert_eq!(texts(&h.events(carol)), ["4"]);
}

/// A gathering harness where `alice` and `bob` are in `#r`.
fn pair() -> (Harness, [ClientId; 2]) {
    let mut h = Harness::gathering();
    let alice = h.member("alice", &["#r"]);
    let bob = h.member("bob", &["#r"]);
    (h, [alice, bob])
}

/// A gathering harness where `alice`, on IRC with `caps`, and `bob` are
/// in `#r`.
fn irc_pair(caps: &str) -> (Harness, [ClientId; 2]) {
    let mut h = Harness::gathering();
    let alice = h.irc("alice", caps);
    h.join_all(alice, &["#r"]);
    let bob = h.member("bob", &["#r"]);
    (h, [alice, bob])
}

#[test]
fn a_member_who_leaves_in_the_turn_gets_what_was_said_before_and_nothing_after() {
    let (mut h, [alice, bob]) = pair();
    h.send_in_turn(alice, say("before"));
    h.send_in_turn(bob, leave(Some("#r"), None));
    h.send_in_turn(alice, say("after"));
    h.end_turn();
    assert_eq!(
        h.events(bob),
        [said_in("alice", "#r", "before"), left("#r", "bob", None)]
    );
}

#[test]
fn a_room_message_waits_for_at_most_a_run_of_others() {
    let (mut h, [alice, bob]) = pair();
    for n in 0..=RUN_MAX {
        h.send_in_turn(alice, say(&n.to_string()));
    }
    // The run filled and went out; the next one is still gathering.
    assert_eq!(h.events(bob).len(), RUN_MAX);
    h.end_turn();
    assert_eq!(
        h.events(bob),
        [said_in("alice", "#r", &RUN_MAX.to_string())]
    );
}

#[test]
fn a_message_from_outside_the_room_reaches_the_members_and_its_echo_the_sender() {
    let (mut h, [alice, bob]) = pair();
    h.send(alice, mode("#r", "-n", &[]));
    let carol = h.irc("carol", "echo-message");
    h.clear();
    h.send_in_turn(carol, msg("#r", "from outside"));
    h.end_turn();
    let said = from_irc(said_in("carol", "#r", "from outside"));
    h.assert_told(&[alice, bob, carol], &[said]);
}

#[test]
fn a_labeled_message_is_answered_with_its_echo_in_its_place() {
    let (mut h, [alice, bob]) = irc_pair("echo-message labeled-response");
    h.send_in_turn(bob, say("1"));
    let labeled = Request::Labeled {
        label: "L".into(),
        request: Box::new(msg("#r", "2")),
    };
    h.send_in_turn(alice, labeled);
    h.send_in_turn(bob, say("3"));
    h.end_turn();
    let events = h.events(alice);
    let [
        first,
        Event::Labeled {
            label,
            events: answer,
        },
        last,
    ] = events.as_slice()
    else {
        panic!("expected a message, the answer and a message: {events:?}");
    };
    assert_eq!(&**label, "L");
    let answer: Vec<&Event> = answer.iter().map(|queued| queued.event()).collect();
    assert_eq!(texts(&[first.clone(), last.clone()]), ["1", "3"]);
    assert!(matches!(answer.as_slice(), [Event::Message { text, .. }] if &**text == "2"));
    assert_eq!(texts(&h.events(bob)), ["2"]);
}
