//! Issue 11: what one user must not be able to do to the others, and the
//! invitations that outlived their clients.

use super::*;
use crate::limits::{INVITES_PER_ROOM, KICK_MAX, MODES_MAX, TARGETS_MAX};

/// The request an IRC client's `line` becomes.
fn irc(line: &str) -> Request {
    Protocol::Irc.decode(line.as_bytes()).expect("a request")
}

fn message_to(targets: &[&str], text: &str) -> Request {
    Request::Message {
        to: targets.iter().map(|target| Target::parse(target)).collect(),
        text: text.into(),
        kind: MessageKind::Say,
        tags: None,
    }
}

#[test]
fn a_message_to_more_targets_than_targmax_is_refused_whole() {
    let (mut h, [alice, bob, carol]) = trio();
    let dave = h.register("dave");
    let eve = h.register("eve");
    h.send(
        alice,
        message_to(&["#r", "bob", "carol", "dave", "eve"], "hi"),
    );
    let over = Error::TooManyTargets {
        target: "eve".into(),
    };
    assert_eq!(h.events(alice), error("alice", over));
    h.assert_quiet(&[bob, carol, dave, eve]);
    // TARGMAX itself goes through.
    h.send(alice, message_to(&["bob", "carol", "dave", "eve"], "hi"));
    assert_eq!(h.events(eve), [said_privately("alice", "eve", "hi")]);
    assert_eq!(TARGETS_MAX, 4);
}

#[test]
fn a_room_or_user_named_twice_gets_a_message_once() {
    let (mut h, [alice, bob, carol]) = trio();
    // As an IRC client would repeat them: decoded once each...
    h.send(alice, irc(&format!("PRIVMSG {} :hi", ["#r"; 95].join(","))));
    assert_eq!(h.events(bob), [said_in("alice", "#r", "hi")]);
    h.send(alice, irc("PRIVMSG carol,CAROL,Carol :hi"));
    assert_eq!(h.events(carol), [said_privately("alice", "carol", "hi")]);
    // ... and however the request was made.
    h.send(alice, message_to(&["#r", "#R", "bob", "BOB"], "again"));
    assert_eq!(
        h.events(bob),
        [
            said_in("alice", "#r", "again"),
            said_privately("alice", "bob", "again")
        ]
    );
    h.assert_quiet(&[alice]);
}

#[test]
fn kick_takes_one_nickname_and_a_reason_of_at_most_kicklen() {
    let (mut h, [alice, bob, carol]) = trio();
    h.send(carol, join("#r"));
    h.clear();
    h.send(alice, irc("KICK #r bob,carol :out"));
    let over = Error::TooManyTargets {
        target: "carol".into(),
    };
    assert_eq!(h.events(alice), error("alice", over));
    h.assert_quiet(&[bob, carol]);
    let long = "x".repeat(1000);
    h.send(alice, kick("#r", "bob", Some(&long)));
    let reason = "x".repeat(KICK_MAX);
    assert_eq!(
        h.events(carol),
        [kicked("#r", "alice", "bob", Some(&reason))]
    );
}

#[test]
fn mode_letters_without_arguments_cost_nothing_and_modes_caps_the_rest() {
    let (mut h, [alice, bob, carol]) = trio();
    let [dave, eve] = [h.member("dave", &["#r"]), h.member("eve", &["#r"])];
    h.send(alice, mode("#r", &format!("+{}", "o".repeat(490)), &[]));
    h.assert_quiet(&[alice, bob]);
    // Only the first MODES changes with an argument count (carol, not in
    // the room, among them), so alice's is not looked at.
    h.send(
        alice,
        mode("#r", "+vvvvv", &["bob", "carol", "dave", "eve", "alice"]),
    );
    assert_eq!(MODES_MAX, 4);
    assert_eq!(
        h.events(bob),
        [mode_changed("#r", "alice", "+vvv", &["bob", "dave", "eve"])]
    );
    let not_here = Error::UserNotInRoom {
        nick: "carol".into(),
        room: "#r".into(),
    };
    assert_eq!(h.events(alice)[0], error("alice", not_here)[0]);
    h.clear();
    // Unknown letters are reported once each.
    h.send(alice, mode("#r", "+XXXXXXXXYYYY", &[]));
    assert_eq!(
        h.events(alice),
        [
            error("alice", Error::UnknownMode('X')),
            error("alice", Error::UnknownMode('Y'))
        ]
        .concat()
    );
    h.assert_quiet(&[carol, dave, eve]);
}

#[test]
fn ban_masks_with_spaces_or_too_long_are_refused() {
    let (mut h, [alice, bob, _]) = trio();
    let invalid = || error("alice", Error::InvalidBanMask("#r".into()));
    h.send(alice, irc("MODE #r +b :has space"));
    assert_eq!(h.events(alice), invalid());
    h.send(alice, mode("#r", "+b", &[&"a".repeat(500)]));
    assert_eq!(h.events(alice), invalid());
    h.send(alice, mode("#r", "+b", &[&"*?".repeat(20)]));
    assert_eq!(h.events(alice), invalid());
    // Sixteen masks in one line: the fifteenth parameter takes the rest,
    // spaces and all, but only MODES of them are looked at.
    let masks: Vec<String> = (0..16).map(|n| format!("m{n}")).collect();
    h.send(
        alice,
        irc(&format!("MODE #r +{} {}", "b".repeat(16), masks.join(" "))),
    );
    let events = h.events(bob);
    let [Event::ModeChanged { changes, .. }] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(changes.len(), MODES_MAX);
    let bans = &h.router.rooms[&name("#r")].bans;
    assert_eq!(bans.len(), MODES_MAX);
    assert!(bans.iter().all(|ban| !ban.mask.contains(' ')), "{bans:?}");
}

#[test]
fn invitations_go_with_the_client_and_the_room() {
    let (mut h, [alice, _, carol]) = trio();
    h.send(alice, mode("#r", "+i", &[]));
    h.send(alice, invite("carol", "#r"));
    h.send(alice, join("#s"));
    h.send(alice, invite("carol", "#s"));
    h.disconnect(carol, "gone");
    assert!(h.router.rooms[&name("#r")].invited.is_empty());
    // A room that empties takes its invitations with it.
    let dave = h.register("dave");
    h.send(alice, invite("dave", "#s"));
    h.send(alice, leave(Some("#s"), None));
    assert!(h.router.clients.map[&dave].invites.is_empty());
    h.send(alice, invite("dave", "#r"));
    assert_eq!(h.router.clients.map[&dave].invites, [name("#r")]);
    h.router.check_invariants().unwrap();
}

#[test]
fn a_room_keeps_a_bounded_number_of_invitations_the_oldest_going_first() {
    let (mut h, [alice, _, _]) = trio();
    h.send(alice, mode("#r", "+i", &[]));
    let invitees: Vec<ClientId> = (0..INVITES_PER_ROOM + 1)
        .map(|n| h.register(&format!("guest{n}")))
        .collect();
    for n in 0..=INVITES_PER_ROOM {
        h.send(alice, invite(&format!("guest{n}"), "#r"));
    }
    assert_eq!(h.router.rooms[&name("#r")].invited.len(), INVITES_PER_ROOM);
    h.clear();
    h.send(invitees[0], join("#r"));
    assert_eq!(
        h.events(invitees[0]),
        error("guest0", Error::InviteOnly("#r".into()))
    );
    h.send(invitees[1], join("#r"));
    assert_eq!(h.events(invitees[1]).len(), 2, "joined: JOIN and NAMES");
}

#[test]
fn who_with_an_overlong_or_overwild_mask_lists_nobody() {
    let (mut h, [alice, _, carol]) = trio();
    let mask = "x".repeat(500);
    h.send(
        carol,
        Request::Who {
            mask: mask.clone(),
            whox: None,
        },
    );
    let end = |mask: &str| {
        vec![reply(
            "carol",
            Reply::Who {
                mask: mask.into(),
                rows: vec![],
                whox: None,
            },
        )]
    };
    assert_eq!(h.events(carol), end(&mask));
    let wild = "*?".repeat(20);
    h.send(
        carol,
        Request::Who {
            mask: wild.clone(),
            whox: None,
        },
    );
    assert_eq!(h.events(carol), end(&wild));
    // A sane mask still finds people, and an exact nickname anyone.
    h.send(alice, away(None));
    h.send(
        carol,
        Request::Who {
            mask: "*!~b*@*".into(),
            whox: None,
        },
    );
    let events = h.events(carol);
    let [
        Event::Reply {
            reply: Reply::Who { rows, .. },
            ..
        },
    ] = events.as_slice()
    else {
        panic!("{events:?}");
    };
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].mask.nick.as_ref(), "bob");
}

#[test]
fn control_characters_that_would_break_lines_never_reach_the_router() {
    for line in [
        "PRIVMSG #r :hi\0there",
        "PRIVMSG #r :hi\r:evil!x@y PRIVMSG #r :spoofed",
        "TOPIC #r :a\rb",
        "@+tag=a\0b TAGMSG #r",
    ] {
        assert_eq!(
            irc(line),
            Request::Invalid(Error::ForbiddenCharacter),
            "{line:?}"
        );
        assert_eq!(
            Protocol::Line.decode(line.as_bytes()),
            Some(Request::Invalid(Error::ForbiddenCharacter))
        );
    }
}
