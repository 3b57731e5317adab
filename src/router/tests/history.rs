//! History: the replay on join, history reads and who may make them,
//! private messages kept for someone offline. The storage thread's part
//! is played by [`Harness::settle`] on a real (in-memory) store.

use super::accounts::identify;
use super::*;
use crate::limits::OFFLINE_PER_SENDER;
use crate::protocol::{HistoryQuery, Past, PastKind, Selector};

/// `/history [target] [limit]`.
fn history(target: Option<&str>, limit: usize) -> Request {
    Request::History {
        target: target.map(Into::into),
        query: HistoryQuery {
            selector: Selector::Latest(None),
            limit,
            kind: PastKind::Query,
        },
    }
}

/// The page among `events`: its target, kind, and who said what.
fn page(events: &[Event]) -> (String, PastKind, Vec<String>) {
    events
        .iter()
        .find_map(|event| match event {
            Event::Reply {
                reply:
                    Reply::History {
                        target,
                        kind,
                        messages,
                    },
                ..
            } => Some((target.to_string(), *kind, said(messages))),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no history among {events:?}"))
}

fn said(messages: &[Past]) -> Vec<String> {
    messages
        .iter()
        .map(|past| match &past.message {
            Event::Message { from, text, .. } => format!("{}: {text}", from.nick),
            other => panic!("not a message: {other:?}"),
        })
        .collect()
}

fn has_page(events: &[Event]) -> bool {
    events.iter().any(|event| {
        matches!(
            event,
            Event::Reply {
                reply: Reply::History { .. },
                ..
            }
        )
    })
}

impl Harness {
    /// A line user back as `nick`, logging in to its account; only what
    /// the login brought is left to read.
    fn returning(&mut self, nick: &str) -> ClientId {
        let id = self.connect();
        self.send(id, Request::Nick(nick.into()));
        self.events(id);
        self.send(id, identify(None, "sesame"));
        self.settle();
        id
    }
}

fn replaying(lines: usize) -> Harness {
    Harness::with(Config {
        replay_lines: lines,
        ..Config::default()
    })
}

#[test]
fn a_joiner_is_replayed_the_rooms_latest_lines_unless_it_fetches_history_itself() {
    let mut h = replaying(2);
    let alice = h.member("alice", &["#r"]);
    for text in ["one", "two", "three"] {
        h.send(alice, say(text));
    }
    let bob = h.register("bob");
    h.send(bob, join("#r"));
    let events = h.events(bob);
    assert_eq!(
        page(&events),
        (
            "#r".into(),
            PastKind::Replay,
            vec!["alice: two".into(), "alice: three".into()]
        )
    );
    // After the names: the replay is the last thing the join says.
    assert!(has_page(&events[events.len() - 1..]));
    let irc = h.irc("ivy", "");
    h.send(irc, join("#r"));
    assert_eq!(page(&h.events(irc)).2.len(), 2);
    let fetcher = h.irc("fay", "batch draft/chathistory");
    h.send(fetcher, join("#r"));
    assert!(!has_page(&h.events(fetcher)));
}

#[test]
fn the_replay_outlives_the_room_and_a_quiet_room_replays_nothing() {
    let mut h = replaying(20);
    let alice = h.member("alice", &["#r", "#quiet"]);
    h.send(alice, msg("#r", "anyone?"));
    h.send(alice, Request::Quit(None));
    let bob = h.register("bob");
    h.send(bob, join("#r"));
    assert_eq!(page(&h.events(bob)).2, ["alice: anyone?"]);
    h.send(bob, join("#quiet"));
    assert!(!has_page(&h.events(bob)));
}

#[test]
fn only_members_read_a_rooms_history() {
    let (mut h, [alice, bob, carol]) = trio();
    h.send(alice, say("hello"));
    h.send(bob, say("hi"));
    h.send(carol, history(Some("#r"), 10));
    assert_eq!(
        h.events(carol),
        error(
            "carol",
            Error::HistoryRefused {
                command: "LATEST",
                target: "#r".into()
            }
        )
    );
    h.send(alice, history(None, 1));
    h.settle();
    assert_eq!(
        page(&h.events(alice)),
        ("#r".into(), PastKind::Query, vec!["bob: hi".into()])
    );
}

#[test]
fn a_member_kicked_before_the_answer_is_refused_it() {
    let (mut h, [alice, bob, _]) = trio();
    h.send(alice, say("hello"));
    h.send(bob, history(Some("#r"), 10));
    h.send(alice, kick("#r", "bob", None));
    h.clear();
    h.settle();
    assert_eq!(
        h.events(bob),
        error(
            "bob",
            Error::HistoryRefused {
                command: "LATEST",
                target: "#r".into()
            }
        )
    );
}

#[test]
fn requests_after_a_read_wait_for_its_answer() {
    let (mut h, [alice, ..]) = trio();
    h.send(alice, say("hello"));
    h.send(alice, history(None, 10));
    h.send(alice, Request::Ping("after".into()));
    assert_eq!(h.events(alice), []);
    h.settle();
    let events = h.events(alice);
    assert_eq!(page(&events).2, ["alice: hello"]);
    assert_eq!(events[1], reply("alice", Reply::Pong(name("after"))));
}

#[test]
fn private_history_is_read_by_the_two_accounts_only() {
    let mut h = Harness::new();
    let alice = h.account("alice");
    let bob = h.account("bob");
    let carol = h.register("carol");
    h.send(alice, msg("bob", "psst"));
    h.send(bob, msg("alice", "what?"));
    h.send(carol, msg("alice", "not kept for me"));
    h.clear();
    for (reader, other) in [(alice, "bob"), (bob, "alice")] {
        h.send(reader, history(Some(other), 10));
        h.settle();
        assert_eq!(
            page(&h.events(reader)).2,
            ["alice: psst", "bob: what?"],
            "{other}"
        );
    }
    h.send(carol, history(Some("alice"), 10));
    assert!(matches!(
        &h.events(carol)[..],
        [Event::Reply {
            reply: Reply::Error(Error::HistoryRefused { .. }),
            ..
        }]
    ));
}

#[test]
fn private_messages_to_an_offline_account_wait_for_its_login() {
    let mut h = Harness::new();
    let bob = h.account("bob");
    h.disconnect(bob, "gone");
    let alice = h.register("alice");
    h.send(alice, msg("bob", "are you there?"));
    h.send(alice, msg_kind("BOB", "waves", MessageKind::Action));
    h.settle();
    let queued = reply("alice", Reply::Queued(name("bob")));
    assert_eq!(h.events(alice), [queued.clone(), queued]);
    let bob = h.returning("bob");
    let events = h.events(bob);
    assert_eq!(
        page(&events),
        (
            "bob".into(),
            PastKind::Offline,
            vec!["alice: are you there?".into(), "alice: waves".into()]
        )
    );
    // Delivered once: the next login finds nothing waiting.
    h.settle();
    h.send(bob, Request::Quit(None));
    let again = h.returning("bob");
    assert!(!has_page(&h.events(again)));
}

#[test]
fn an_offline_box_takes_so_many_from_one_sender() {
    let mut h = Harness::new();
    let bob = h.account("bob");
    h.disconnect(bob, "gone");
    let alice = h.register("alice");
    for n in 0..OFFLINE_PER_SENDER {
        h.send(alice, msg("bob", &n.to_string()));
    }
    h.settle();
    h.clear();
    h.send(alice, msg("bob", "one more"));
    assert_eq!(
        h.events(alice),
        error("alice", Error::OfflineFull("bob".into()))
    );
    // Nobody else is held back by alice's share.
    let carol = h.register("carol");
    h.send(carol, msg("bob", "hello"));
    h.settle();
    assert_eq!(
        h.events(carol),
        [reply("carol", Reply::Queued(name("bob")))]
    );
}

#[test]
fn with_history_off_nothing_is_replayed_or_read() {
    let mut h = Harness::with(Config {
        history: false,
        replay_lines: 0,
        ..Config::default()
    });
    let alice = h.member("alice", &["#r"]);
    h.send(alice, say("hello"));
    let bob = h.register("bob");
    h.send(bob, join("#r"));
    assert!(!has_page(&h.events(bob)));
    h.send(bob, history(None, 5));
    assert_eq!(h.events(bob), error("bob", Error::HistoryOff));
}

fn labeled(label: &str, request: Request) -> Request {
    Request::Labeled {
        label: label.into(),
        request: Box::new(request),
    }
}

/// The events of the labeled answer `label` among `events`.
fn answer(events: &[Event], label: &str) -> Vec<Event> {
    match events {
        [Event::Labeled { label: got, events }] if &**got == label => events
            .iter()
            .map(|event| unclocked(event.event().clone(), 0))
            .collect(),
        other => panic!("no labeled answer {label}: {other:?}"),
    }
}

#[test]
fn a_labeled_request_is_answered_under_its_label_even_with_nothing_to_say() {
    let mut h = Harness::new();
    let ivy = h.irc("ivy", "batch labeled-response");
    h.send(ivy, labeled("a", Request::Ping("x".into())));
    assert_eq!(
        answer(&h.events(ivy), "a"),
        [reply("ivy", Reply::Pong(name("x")))]
    );
    h.send(ivy, labeled("b", Request::Pong));
    assert_eq!(answer(&h.events(ivy), "b"), []);
    // Without the capability, the label means nothing.
    let una = h.irc("una", "");
    h.send(una, labeled("c", Request::Ping("y".into())));
    assert_eq!(h.events(una), [reply("una", Reply::Pong(name("y")))]);
}

#[test]
fn a_labeled_history_read_is_answered_under_its_label_once_read() {
    let mut h = Harness::new();
    let ivy = h.irc("ivy", "batch labeled-response draft/chathistory");
    h.send(ivy, join("#r"));
    h.send(ivy, msg("#r", "hello"));
    h.clear();
    h.send(ivy, labeled("h", history(Some("#r"), 5)));
    assert_eq!(h.events(ivy), []);
    h.settle();
    let events = answer(&h.events(ivy), "h");
    assert_eq!(page(&events).2, ["ivy: hello"]);
}
