//! Every line the IRC codec writes fits in 512 bytes (tags aside) and
//! carries no NUL or stray CR, whatever the event holds: each event and
//! reply is encoded here with the longest names and hostile text.

use std::sync::Arc;

use super::{decode, message::Message};
use crate::limits::{HOST_MAX, NICK_MAX, ROOM_MAX, SERVER_NAME_MAX, USER_MAX};
use crate::protocol::{
    Ban, Caps, Codec, Destination, Error, Event, Lusers, Mask, Member, MessageKind, ModeChange,
    Name, Outgoing, Protocol, Reply, Request, RoomSummary, ServerInfo, Topic, Welcome, WhoRow,
    Whois, WhowasEntry, Whox,
};

/// Text meant to break lines: long, with spaces, colons, NUL, CR and LF.
fn hostile(len: usize) -> Name {
    let piece = ":a b\0c\rd\ne é ";
    piece.repeat(len / piece.len() + 1).into()
}

fn long(c: char, len: usize) -> Name {
    c.to_string().repeat(len).into()
}

fn worst_mask() -> Arc<Mask> {
    Arc::new(Mask {
        nick: long('n', NICK_MAX),
        user: format!("~{}", long('u', USER_MAX)).into(),
        host: long('h', HOST_MAX),
        account: Some(long('a', NICK_MAX)),
    })
}

fn events() -> Vec<Event> {
    let who = worst_mask;
    let room = || long('#', ROOM_MAX);
    let text = || hostile(2000);
    let info = Arc::new(ServerInfo {
        name: long('s', SERVER_NAME_MAX),
        network: long('w', SERVER_NAME_MAX),
        version: text(),
        created: text(),
        motd: Some(vec![text().to_string(); 3]),
    });
    let lusers = Lusers {
        users: usize::MAX / 2,
        invisible: 1,
        operators: usize::MAX,
        unregistered: usize::MAX,
        rooms: usize::MAX,
        max_users: usize::MAX,
    };
    let member = Member {
        mask: who(),
        operator: true,
        voice: true,
    };
    let row = WhoRow {
        room: room(),
        mask: who(),
        realname: text(),
        away: true,
        operator: true,
        prefixes: "@+",
        account: Some(long('a', NICK_MAX)),
    };
    let errors = [
        Error::UnknownCommand(hostile(8000).to_string()),
        Error::InvalidCapCommand(hostile(600).to_string()),
        Error::NoSuchUser(hostile(600).to_string()),
        Error::BadNick(hostile(600).to_string()),
        Error::UserNotInRoom {
            nick: hostile(600).to_string(),
            room: hostile(600).to_string(),
        },
        Error::TooManyTargets {
            target: hostile(600).to_string(),
        },
        Error::ForbiddenCharacter,
        Error::InvalidBanMask(room().to_string()),
    ];
    let replies = vec![
        Reply::Welcome(Box::new(Welcome {
            mask: who(),
            info: Arc::clone(&info),
            lusers,
        })),
        Reply::Topic {
            room: room(),
            topic: Some(Topic {
                text: text(),
                set_by: who(),
                set_at: i64::MIN,
            }),
        },
        Reply::Names {
            room: room(),
            secret: true,
            members: vec![member; 300],
        },
        Reply::Rooms(vec![RoomSummary {
            name: room(),
            members: usize::MAX,
            topic: Some(text()),
        }]),
        Reply::Who {
            mask: hostile(600),
            rows: vec![row.clone()],
            whox: None,
        },
        Reply::Who {
            mask: hostile(600),
            rows: vec![row],
            whox: Some(Whox {
                fields: "tcuihsnfdlaor".into(),
                token: Some(hostile(100).to_string()),
            }),
        },
        Reply::Whois(Box::new(Whois {
            mask: who(),
            realname: text(),
            rooms: vec![format!("@+{}", room()); 50],
            away: Some(text()),
            operator: true,
            idle_secs: u64::MAX,
            signon: i64::MIN,
            server: long('s', SERVER_NAME_MAX),
            account: Some(long('a', NICK_MAX)),
            secure: true,
            certfp: Some("f".repeat(64).into()),
        })),
        Reply::Whowas {
            nick: hostile(600),
            entries: vec![WhowasEntry {
                mask: who(),
                realname: text(),
                server: long('s', SERVER_NAME_MAX),
                left: text(),
            }],
        },
        Reply::BanList {
            room: room(),
            bans: vec![Ban {
                mask: hostile(600),
                set_by: hostile(600),
                set_at: i64::MIN,
            }],
        },
        Reply::IsAway {
            nick: hostile(600),
            message: text(),
        },
        Reply::Info(info),
        Reply::Time(text()),
        Reply::Pong(text()),
        Reply::Draining(usize::MAX),
    ];
    let mut events: Vec<Event> = errors
        .into_iter()
        .map(Reply::Error)
        .chain(replies)
        .map(|reply| Event::Reply {
            me: long('m', NICK_MAX),
            reply,
        })
        .collect();
    for kind in [
        MessageKind::Say,
        MessageKind::Action,
        MessageKind::Notice,
        MessageKind::Ctcp,
        MessageKind::CtcpReply,
    ] {
        for long_text in [false, true] {
            events.push(Event::Message {
                from: who(),
                to: Destination::Room(room()),
                text: text(),
                kind,
                tags: Some("+a=b".into()),
                id: "1".into(),
                long: long_text,
            });
        }
    }
    events.extend([
        Event::Left {
            room: room(),
            who: who(),
            reason: Some(text()),
        },
        Event::Kicked {
            room: room(),
            by: who(),
            nick: long('n', NICK_MAX),
            reason: Some(text()),
        },
        Event::Quit {
            who: who(),
            reason: Some(text()),
        },
        Event::TopicChanged {
            room: room(),
            who: who(),
            text: text(),
            id: "1".into(),
        },
        Event::ModeChanged {
            target: room(),
            by: who(),
            changes: vec![
                ModeChange {
                    add: true,
                    mode: 'k',
                    arg: Some("has space".into()),
                };
                4
            ],
        },
        Event::Away {
            who: who(),
            message: Some(text()),
        },
        Event::RealnameChanged {
            who: who(),
            realname: text(),
        },
        Event::Wallops {
            from: who(),
            text: text(),
        },
        Event::Closing(text()),
        Event::Ping(text()),
    ]);
    events
}

#[test]
fn every_line_fits_and_carries_no_nul_or_stray_cr() {
    let codec = Codec {
        protocol: Protocol::Irc,
        server: long('s', SERVER_NAME_MAX),
    };
    let all = Caps::OFFERED
        .iter()
        .fold(Caps::default(), |caps, &(_, cap)| caps.with(cap));
    for event in events() {
        let mut out = Vec::new();
        Outgoing::new(event.clone()).write_to(&codec, all, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("\r\n"), "{event:?}");
        for line in text.split_terminator("\r\n") {
            assert!(!line.contains(['\0', '\r', '\n']), "{line:?}");
            let message = Message::parse(line).unwrap();
            let body = match message.tags {
                Some(tags) => &line[tags.len() + 2..],
                None => line,
            };
            assert!(body.len() + 2 <= 512, "{} bytes: {body}", body.len() + 2);
            if message.command == "MODE" {
                // Letters and one parameter per argument, never split.
                assert_eq!(message.params.len(), 2 + 4, "{line}");
            }
        }
    }
}

#[test]
fn the_decoder_measures_what_the_parser_parses() {
    let line = format!("\t@{}", "x".repeat(8000));
    assert_eq!(
        decode(line.as_bytes()),
        Some(Err(Error::LineTooLong(super::MAX_BODY + 2)))
    );
}

#[test]
fn a_whox_token_is_up_to_three_digits() {
    let token = |line: &str| match decode(line.as_bytes()) {
        Some(Ok(Request::Who {
            whox: Some(whox), ..
        })) => whox.token,
        other => panic!("{other:?}"),
    };
    assert_eq!(token("WHO #r %tn,123").as_deref(), Some("123"));
    assert_eq!(token("WHO #r :%tn,1 2"), None);
    assert_eq!(token("WHO #r %tn,1234"), None);
}
