//! Byte-exact tests of the line protocol: what each typed line decodes to,
//! and the lines each event and reply encodes to.

use std::sync::Arc;

use super::*;
use crate::protocol::{Error, Mask, Member, ModeChange, Name, Request, RoomSummary, Target, Topic};

fn ok(line: &str) -> Request {
    decode(line.as_bytes()).unwrap()
}

fn err(line: &[u8]) -> Error {
    decode(line).unwrap_err()
}

fn encoded(event: Event) -> String {
    let mut out = Vec::new();
    encode(&event, &mut out);
    String::from_utf8(out).unwrap()
}

fn mask(nick: &str) -> Arc<Mask> {
    Arc::new(Mask {
        nick: nick.into(),
        user: format!("~{nick}").into(),
        host: "127.0.0.1".into(),
        account: None,
    })
}

fn name(text: &str) -> Name {
    text.into()
}

fn said(to: Option<Target>, text: &str, kind: MessageKind) -> Request {
    Request::Message {
        to: to.into_iter().collect(),
        text: text.into(),
        kind,
        tags: None,
    }
}

fn reply(reply: Reply) -> Event {
    Event::Reply {
        me: name("alice"),
        reply,
    }
}

#[test]
fn plain_text_goes_to_the_current_room() {
    assert_eq!(
        ok("hello there"),
        said(None, "hello there", MessageKind::Say)
    );
    assert_eq!(ok("//shrug"), said(None, "/shrug", MessageKind::Say));
}

#[test]
fn commands_parse_with_their_arguments() {
    assert_eq!(ok("/nick alice"), Request::Nick("alice".into()));
    assert_eq!(ok("/NICK  alice "), Request::Nick("alice".into()));
    assert_eq!(
        ok("/join #rust hunter2"),
        Request::Join(vec![("#rust".into(), Some("hunter2".into()))])
    );
    assert_eq!(
        ok("/leave #rust off to lunch"),
        Request::Leave {
            rooms: vec!["#rust".into()],
            reason: Some("off to lunch".into())
        }
    );
    assert_eq!(
        ok("/part lunch"),
        Request::Leave {
            rooms: vec![],
            reason: Some("lunch".into())
        }
    );
    assert_eq!(
        ok("/topic #rust all about rust"),
        Request::Topic {
            room: Some("#rust".into()),
            text: Some("all about rust".into())
        }
    );
    assert_eq!(
        ok("/topic #rust -"),
        Request::Topic {
            room: Some("#rust".into()),
            text: Some(String::new())
        }
    );
    assert_eq!(
        ok("/topic"),
        Request::Topic {
            room: None,
            text: None
        }
    );
    assert_eq!(
        ok("/msg bob hi  there"),
        said(
            Some(Target::User("bob".into())),
            "hi  there",
            MessageKind::Say
        )
    );
    assert_eq!(
        ok("/msg #rust hi"),
        said(Some(Target::Room("#rust".into())), "hi", MessageKind::Say)
    );
    assert_eq!(ok("/me waves"), said(None, "waves", MessageKind::Action));
    assert_eq!(ok("/who"), Request::Names(None));
    assert_eq!(ok("/rooms"), Request::List(vec![]));
    assert_eq!(ok("/switch #a"), Request::Switch("#a".into()));
    assert_eq!(ok("/whois bob"), Request::Whois("bob".into()));
    assert_eq!(ok("/away lunch"), Request::Away(Some("lunch".into())));
    assert_eq!(ok("/away"), Request::Away(None));
    assert_eq!(
        ok("/kick #a bob spamming"),
        Request::Kick {
            room: "#a".into(),
            nicks: vec!["bob".into()],
            reason: Some("spamming".into())
        }
    );
    assert_eq!(
        ok("/invite bob #a"),
        Request::Invite {
            nick: "bob".into(),
            room: Some("#a".into())
        }
    );
    assert_eq!(
        ok("/mode #a +kl-m secret 10"),
        Request::Mode {
            target: "#a".into(),
            changes: vec![
                ModeChange {
                    add: true,
                    mode: 'k',
                    arg: Some("secret".into())
                },
                ModeChange {
                    add: true,
                    mode: 'l',
                    arg: Some("10".into())
                },
                ModeChange {
                    add: false,
                    mode: 'm',
                    arg: None
                },
            ]
        }
    );
    assert_eq!(
        ok("/ban #a eve"),
        Request::Mode {
            target: "#a".into(),
            changes: vec![ModeChange {
                add: true,
                mode: 'b',
                arg: Some("eve".into())
            }]
        }
    );
    assert_eq!(ok("/quit bye all"), Request::Quit(Some("bye all".into())));
    assert_eq!(ok("/help"), Request::Help);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    assert_eq!(
        err(b"/frobnicate x"),
        Error::UnknownCommand("frobnicate".into())
    );
    assert_eq!(
        err(b"/nick"),
        Error::MissingArgument {
            command: "nick",
            usage: "/nick NAME"
        }
    );
    for line in [&b"/msg bob"[..], b"/msg", b"/join  ", b"/kick #a", b"/mode"] {
        assert!(matches!(err(line), Error::MissingArgument { .. }));
    }
    assert_eq!(err(b"caf\xc3"), Error::InvalidUtf8);
    assert_eq!(err(b"\xfe\xfd"), Error::InvalidUtf8);
    assert_eq!(err(b""), Error::EmptyLine);
    assert_eq!(err(b"   "), Error::EmptyLine);
    assert_eq!(err(b"/"), Error::UnknownCommand("".into()));
}

#[test]
fn events_encode_as_documented() {
    let message = |to: Destination, kind: MessageKind| Event::Message {
        from: mask("bob"),
        to,
        text: name("hello"),
        kind,
        tags: None,
        id: name("1"),
        long: true,
    };
    let cases = [
        (
            message(Destination::Room(name("#room")), MessageKind::Say),
            "[#room] <bob> hello\n",
        ),
        (
            message(Destination::User(name("alice")), MessageKind::Say),
            "[pm] <bob> hello\n",
        ),
        (
            message(Destination::Room(name("#r")), MessageKind::Action),
            "[#r] * bob hello\n",
        ),
        (
            message(Destination::Room(name("#r")), MessageKind::Notice),
            "[#r] -bob- hello\n",
        ),
        (
            Event::Joined {
                room: name("#room"),
                who: mask("alice"),
                extended: None,
            },
            "* alice joined #room\n",
        ),
        (
            Event::Left {
                room: name("#room"),
                who: mask("bob"),
                reason: Some(name("lunch")),
            },
            "* bob left #room (lunch)\n",
        ),
        (
            Event::Quit {
                who: mask("carol"),
                reason: Some(name("connection reset")),
            },
            "* carol quit (connection reset)\n",
        ),
        (
            Event::NickChanged {
                who: mask("dave"),
                new: name("dan"),
            },
            "* dave is now known as dan\n",
        ),
        (
            Event::Kicked {
                room: name("#r"),
                by: mask("alice"),
                nick: name("eve"),
                reason: Some(name("spam")),
            },
            "* eve was kicked from #r by alice (spam)\n",
        ),
        (
            Event::ModeChanged {
                target: name("#r"),
                by: mask("alice"),
                changes: ModeChange::parse("+ov", &["bob", "carol"]),
            },
            "* alice set mode +ov bob carol on #r\n",
        ),
        (
            reply(Reply::Error(Error::NoSuchUser("erin".into()))),
            "! error: no such user: erin\n",
        ),
        (
            reply(Reply::Error(Error::PasswordMismatch)),
            "! error: wrong or missing server password: connect again and \
             type /pass PASSWORD before /nick\n",
        ),
        (
            reply(Reply::Names {
                room: name("#r"),
                secret: false,
                members: vec![
                    Member {
                        mask: mask("alice"),
                        operator: true,
                        voice: true,
                    },
                    Member {
                        mask: mask("bob"),
                        operator: false,
                        voice: false,
                    },
                ],
            }),
            "- members of #r (2): @alice bob\n",
        ),
        (
            reply(Reply::Rooms(vec![RoomSummary {
                name: name("#r"),
                members: 2,
                topic: Some(name("fun")),
            }])),
            "- #r (2): fun\n- 1 room\n",
        ),
        (
            reply(Reply::Topic {
                room: name("#r"),
                topic: Some(Topic {
                    text: name("fun"),
                    set_by: mask("alice"),
                    set_at: 0,
                }),
            }),
            "- topic of #r: fun (set by alice)\n",
        ),
        (
            Event::Missed(3),
            "! missed 3 messages: your connection was too slow\n",
        ),
        (
            reply(Reply::Draining(282)),
            "- you closed your end: 282 lines still waiting go out at the \
             flood-control pace, then the connection closes\n",
        ),
        (Event::Ping(name("server")), ""),
    ];
    for (event, expected) in cases {
        assert_eq!(encoded(event), expected);
    }
}

#[test]
fn nothing_can_reach_a_terminal_but_text() {
    let event = |text: &str| Event::Message {
        from: mask("eve"),
        to: Destination::Room(name("#r")),
        text: name(text),
        kind: MessageKind::Say,
        tags: None,
        id: name("1"),
        long: true,
    };
    assert_eq!(
        encoded(event("a\rb\x1b[2Jc\td\u{9b}e\u{202e}f")),
        "[#r] <eve> a?b?[2Jc\td?e?f\n"
    );
    // IRC formatting is dropped, colour numbers included.
    assert_eq!(
        encoded(event("\x02bold\x02 \x0304,12red\x03 \x1fu\x0f 3")),
        "[#r] <eve> bold red u 3\n"
    );
}
