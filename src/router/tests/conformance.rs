//! What irctest and real clients expect: `WHOWAS`, message ids, CTCP for
//! line users, keys, and the small things clients show.

use super::*;

fn whowas(nick: &str, count: Option<usize>) -> Request {
    Request::Whowas {
        nick: nick.into(),
        count,
    }
}

/// The users listed in a `WHOWAS` reply.
fn whowas_users(events: &[Event]) -> Vec<String> {
    let [
        Event::Reply {
            reply: Reply::Whowas { entries, .. },
            ..
        },
    ] = events
    else {
        panic!("expected a WHOWAS reply, got {events:?}");
    };
    entries.iter().map(|entry| entry.mask.to_string()).collect()
}

#[test]
fn whowas_remembers_quits_and_nick_changes_most_recent_first() {
    let mut h = Harness::new();
    let asker = h.irc("asker", "");
    let first = h.irc("bob", "");
    h.send(first, Request::Quit(Some("bye".into())));
    let second = h.register("bob");
    h.send(second, Request::Nick("robert".into()));
    h.clear();
    h.send(asker, whowas("BOB", None));
    assert_eq!(
        whowas_users(&h.events(asker)),
        ["bob!~bob@127.0.0.1", "bob!~bob@127.0.0.1"]
    );
    h.send(asker, whowas("bob", Some(1)));
    assert_eq!(whowas_users(&h.events(asker)).len(), 1);
    h.send(asker, whowas("nobody", None));
    assert_eq!(
        h.events(asker),
        [reply(
            "asker",
            Reply::Whowas {
                nick: name("nobody"),
                entries: vec![]
            }
        )]
    );
}

#[test]
fn every_message_gets_its_own_id_shared_by_all_its_copies() {
    let mut h = Harness::new();
    let alice = h.irc("alice", "echo-message");
    let bob = h.irc("bob", "");
    h.join_all(alice, &["#r"]);
    h.join_all(bob, &["#r"]);
    let id_of = |events: Vec<Event>| match events.as_slice() {
        [Event::Message { id, .. }] => id.clone(),
        other => panic!("expected one message, got {other:?}"),
    };
    h.send(alice, msg("#r", "one"));
    let (echoed, relayed) = (id_of(h.raw_events(alice)), id_of(h.raw_events(bob)));
    assert_eq!(echoed, relayed);
    h.send(alice, msg("#r", "two"));
    assert_ne!(id_of(h.raw_events(bob)), relayed);
}

#[test]
fn ctcp_queries_to_line_users_are_answered_for_them() {
    let mut h = Harness::new();
    let ivy = h.irc("ivy", "");
    let ned = h.register("ned");
    let ctcp = |text: &str| msg_kind("ned", text, MessageKind::Ctcp);
    let answer = |text: &str| {
        let answer = said_to(
            "ned",
            Destination::User(name("ivy")),
            text,
            MessageKind::CtcpReply,
        );
        from_irc(answer)
    };
    h.send(ivy, ctcp("PING 12345"));
    assert_eq!(h.events(ivy), [answer("PING 12345")]);
    h.send(ivy, ctcp("CLIENTINFO"));
    assert_eq!(
        h.events(ivy),
        [answer("CLIENTINFO ACTION CLIENTINFO PING TIME VERSION")]
    );
    h.send(ivy, ctcp("VERSION"));
    let events = h.events(ivy);
    let [Event::Message { text, kind, .. }] = events.as_slice() else {
        panic!("expected the answer, got {events:?}");
    };
    assert_eq!(*kind, MessageKind::CtcpReply);
    assert!(text.starts_with("VERSION switchboard-"), "{text}");
    h.send(ivy, ctcp("TIME"));
    assert_eq!(h.events(ivy).len(), 1);
    h.assert_quiet(&[ned]);
    // Anything else reaches the line user, who sees it for what it is.
    h.send(ivy, ctcp("FINGER"));
    h.assert_quiet(&[ivy]);
    let finger = said_to(
        "ivy",
        Destination::User(name("ned")),
        "FINGER",
        MessageKind::Ctcp,
    );
    assert_eq!(h.events(ned), [from_irc(finger)]);
}

#[test]
fn ctcp_queries_to_irc_users_pass_through() {
    let mut h = Harness::new();
    let ivy = h.irc("ivy", "");
    let joe = h.irc("joe", "");
    h.send(ivy, msg_kind("joe", "VERSION", MessageKind::Ctcp));
    h.assert_quiet(&[ivy]);
    let version = said_to(
        "ivy",
        Destination::User(name("joe")),
        "VERSION",
        MessageKind::Ctcp,
    );
    assert_eq!(h.events(joe), [from_irc(version)]);
}

#[test]
fn keys_with_spaces_or_too_long_are_refused() {
    let mut h = Harness::new();
    let op = h.member("op", &["#r"]);
    for key in ["with space", " ", &"k".repeat(24)] {
        h.send(op, mode("#r", "+k", &[key]));
        assert_eq!(h.events(op), error("op", Error::InvalidKey("#r".into())));
    }
    h.send(op, join_with_key("#new", "a b"));
    assert_eq!(h.events(op), error("op", Error::InvalidKey("#new".into())));
    h.send(op, mode("#r", "+k", &["fine"]));
    assert_eq!(h.events(op), [mode_changed("#r", "op", "+k", &["fine"])]);
}

#[test]
fn mode_o_for_nobody_is_no_such_user() {
    let mut h = Harness::new();
    let op = h.member("op", &["#r"]);
    h.register("elsewhere");
    h.send(op, mode("#r", "+o", &["nobody"]));
    assert_eq!(
        h.events(op),
        error("op", Error::NoSuchUser("nobody".into()))
    );
    h.send(op, mode("#r", "+o", &["elsewhere"]));
    let absent = Error::UserNotInRoom {
        nick: "elsewhere".into(),
        room: "#r".into(),
    };
    assert_eq!(h.events(op), error("op", absent));
}

#[test]
fn unknown_user_modes_are_user_mode_errors() {
    let mut h = Harness::new();
    let alice = h.irc("alice", "");
    h.send(alice, mode("alice", "+x", &[]));
    assert_eq!(h.events(alice), error("alice", Error::UnknownUserMode('x')));
}

#[test]
fn lusers_counts_invisible_users() {
    let mut h = Harness::new();
    let alice = h.irc("alice", "");
    h.irc("bob", "");
    h.send(alice, mode("alice", "+i", &[]));
    h.clear();
    h.send(alice, Request::Lusers);
    let events = h.events(alice);
    let [
        Event::Reply {
            reply: Reply::Lusers(lusers),
            ..
        },
    ] = events.as_slice()
    else {
        panic!("expected the counts");
    };
    assert_eq!((lusers.users, lusers.invisible), (2, 1));
}

#[test]
fn line_users_have_a_real_name() {
    let mut h = Harness::new();
    let asker = h.irc("asker", "");
    h.register("ned");
    h.send(asker, Request::Whois("ned".into()));
    let events = h.events(asker);
    let [
        Event::Reply {
            reply: Reply::Whois(whois),
            ..
        },
    ] = events.as_slice()
    else {
        panic!("expected a whois");
    };
    assert!(!whois.realname.is_empty());
}

#[test]
fn farewells_speak_each_protocols_language() {
    let mut h = Harness::new();
    let irc = h.irc("ivy", "");
    let line = h.register("ned");
    h.send(irc, Request::Quit(Some("bye".into())));
    h.send(line, Request::Quit(Some("bye".into())));
    h.events(irc);
    h.events(line);
    assert_eq!(&*h.farewell(irc), "127.0.0.1 (Quit: bye)");
    assert_eq!(&*h.farewell(line), "you quit (bye)");
}

#[test]
fn a_telnet_timing_mark_is_answered_even_before_a_nick() {
    let mut h = Harness::new();
    let id = h.connect();
    h.events(id);
    h.send(id, Request::TimingMark);
    assert_eq!(h.events(id), [reply("*", Reply::TimingMark)]);
}
