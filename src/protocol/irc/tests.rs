//! Byte-exact tests of the IRC codec (CTCP decoding, long messages cut or
//! split into tagged lines, numerics), and the helpers other IRC tests use.

use std::sync::Arc;

use super::*;
use crate::protocol::{Codec, Name, Outgoing, Protocol, Reply, WhowasEntry};

pub(super) fn mask(nick: &str) -> Arc<Mask> {
    Arc::new(Mask {
        nick: nick.into(),
        user: format!("~{nick}").into(),
        host: "127.0.0.1".into(),
        account: None,
    })
}

/// The lines a client with `caps` reads for `event`.
pub(super) fn lines(event: Event, caps: Caps) -> Vec<String> {
    let codec = Codec {
        protocol: Protocol::Irc,
        server: "srv".into(),
    };
    let mut out = Vec::new();
    Outgoing::new(event).write_to(&codec, caps, &mut out);
    let text = String::from_utf8(out).unwrap();
    text.split_terminator("\r\n").map(str::to_owned).collect()
}

pub(super) fn reply(reply: Reply) -> Event {
    Event::Reply {
        me: "me".into(),
        reply,
    }
}

fn message(text: &str, kind: MessageKind, long: bool) -> Event {
    Event::Message {
        from: mask("ned"),
        to: Destination::Room("#r".into()),
        text: text.into(),
        kind,
        tags: None,
        id: "42".into(),
        long,
    }
}

#[test]
fn ctcp_is_decoded_by_kind() {
    let said = |line: &str| match decode(line.as_bytes()) {
        Some(Ok(Request::Message { kind, text, .. })) => (kind, text),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        said("PRIVMSG ned :\x01PING 1\x01"),
        (MessageKind::Ctcp, "PING 1".into())
    );
    assert_eq!(
        said("PRIVMSG ned :\x01ACTION waves\x01"),
        (MessageKind::Action, "waves".into())
    );
    assert_eq!(
        said("NOTICE ned :\x01VERSION x\x01"),
        (MessageKind::CtcpReply, "VERSION x".into())
    );
    // Terminal escapes are gone before anything else looks.
    assert_eq!(
        said("PRIVMSG #r :\x1b[1mhi\x07"),
        (MessageKind::Say, "[1mhi".into())
    );
}

#[test]
fn a_long_message_from_a_line_user_becomes_lines_that_fit_each_tagged() {
    let text = "word ".repeat(200);
    let lines = lines(
        message(text.trim_end(), MessageKind::Say, true),
        Caps::MESSAGE_TAGS,
    );
    assert_eq!(lines.len(), 3, "{lines:?}");
    for (piece, line) in lines.iter().enumerate() {
        let (tags, rest) = line.split_once(' ').unwrap();
        let id = if piece == 0 {
            "@msgid=42".to_owned()
        } else {
            format!("@msgid=42.{piece}")
        };
        assert_eq!(tags, id);
        assert!(rest.len() + 2 <= 512, "{}", rest.len());
        assert!(rest.starts_with(":ned!~ned@127.0.0.1 PRIVMSG #r :word"));
        assert!(rest.ends_with("word"), "cut after a space: {rest}");
    }
}

#[test]
fn an_irc_clients_message_is_cut_to_fit_not_split() {
    let lines = lines(
        message(&"é".repeat(300), MessageKind::Action, false),
        Caps::default(),
    );
    let [line] = lines.as_slice() else {
        panic!("{lines:?}")
    };
    assert!(line.len() + 2 <= 512);
    assert!(
        line.ends_with("é\x01"),
        "the action is still closed: {line}"
    );
}

#[test]
fn operator_and_history_replies_encode_as_numerics() {
    let entry = WhowasEntry {
        mask: mask("bob"),
        realname: "Bob B".into(),
        server: "srv".into(),
        left: "Mon Jan 1".into(),
    };
    let cases: [(Event, &[&str]); 8] = [
        (
            reply(Reply::YoureOper),
            &[":srv 381 me :You are now an IRC operator"],
        ),
        (
            reply(Reply::Whowas {
                nick: "bob".into(),
                entries: vec![entry],
            }),
            &[
                ":srv 314 me bob ~bob 127.0.0.1 * :Bob B",
                ":srv 312 me bob srv :Mon Jan 1",
                ":srv 369 me bob :End of WHOWAS",
            ],
        ),
        (
            reply(Reply::Whowas {
                nick: "nobody".into(),
                entries: vec![],
            }),
            &[
                ":srv 406 me nobody :There was no such nickname",
                ":srv 369 me nobody :End of WHOWAS",
            ],
        ),
        (
            reply(Reply::Error(Error::NoPrivileges)),
            &[":srv 481 me :Permission Denied- You're not an IRC operator"],
        ),
        (
            reply(Reply::Error(Error::InvalidKey("#r".into()))),
            &[":srv 696 me #r k * :Invalid key"],
        ),
        (
            reply(Reply::Error(Error::UnknownUserMode('x'))),
            &[":srv 501 me :Unknown MODE flag"],
        ),
        (
            Event::Wallops {
                from: mask("root"),
                text: "hi all".into(),
            },
            &[":root!~root@127.0.0.1 WALLOPS :hi all"],
        ),
        (
            Event::Kicked {
                room: "#r".into(),
                by: mask("op"),
                nick: "eve".into(),
                reason: None,
            },
            &[":op!~op@127.0.0.1 KICK #r eve :op"],
        ),
    ];
    for (event, expected) in cases {
        assert_eq!(lines(event, Caps::default()), expected);
    }
    let closing = Event::Closing(Name::from("127.0.0.1 (Quit: bye)"));
    assert_eq!(
        lines(closing, Caps::default()),
        ["ERROR :Closing Link: 127.0.0.1 (Quit: bye)"]
    );
}

#[test]
fn a_client_that_closed_its_end_is_told_what_still_waits() {
    assert_eq!(
        lines(reply(Reply::Draining(282)), Caps::default()),
        [
            ":srv NOTICE me :You closed your end: 282 lines still waiting go out at the \
             flood-control pace, then the connection closes"
        ]
    );
}
