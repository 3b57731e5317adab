//! The human line protocol: what `nc` and `telnet` users type and read.
//!
//! Input is a command starting with `/` or plain text for the current room.
//! Output lines start with a marker that says what they are, so they are easy
//! to read and to parse: `[#room]` or `[pm]` for messages, `*` for things that
//! happened, `-` for replies, `!` for errors and warnings. The full grammar is
//! in docs/line-protocol.md.

use super::{Destination, Error, Event, MessageKind, Request, Target};

/// Parses one line (without its terminator).
pub fn decode(line: &[u8]) -> Result<Request, Error> {
    let line = std::str::from_utf8(line).map_err(|_| Error::InvalidUtf8)?;
    if line.trim().is_empty() {
        return Err(Error::EmptyLine);
    }
    let Some(command) = line.strip_prefix('/') else {
        return Ok(say(line));
    };
    if command.starts_with('/') {
        // `//etc` says "/etc" instead of running a command.
        return Ok(say(command));
    }
    let (name, rest) = split_word(command);
    let name = name.to_ascii_lowercase();
    let request = match name.as_str() {
        "nick" => Request::Nick(required(rest, "/nick NAME")?.to_owned()),
        "join" | "j" => {
            let (room, key) = split_word(required(rest, "/join #room [key]")?);
            Request::Join {
                room: room.to_owned(),
                key: optional(key),
            }
        }
        "leave" | "part" => {
            let (room, reason) = match split_word(rest) {
                (room, reason) if room.starts_with('#') => (Some(room.to_owned()), reason),
                _ => (None, rest),
            };
            Request::Leave {
                room,
                reason: optional(reason),
            }
        }
        "switch" => Request::Switch(required(rest, "/switch #room")?.to_owned()),
        "rooms" | "list" => Request::Rooms,
        "who" | "names" => Request::Who(optional(rest)),
        "topic" => {
            let (room, text) = match split_word(rest) {
                (room, text) if room.starts_with('#') => (Some(room.to_owned()), text),
                _ => (None, rest),
            };
            Request::Topic {
                room,
                text: optional(text),
            }
        }
        "me" => Request::Message {
            to: None,
            text: required(rest, "/me ACTION")?.to_owned(),
            kind: MessageKind::Action,
        },
        "msg" => {
            let (target, text) = split_word(rest);
            let usage = "/msg #room|NAME TEXT";
            Request::Message {
                to: Some(Target::parse(required(target, usage)?)),
                text: required(text, usage)?.to_owned(),
                kind: MessageKind::Say,
            }
        }
        "quit" | "exit" => Request::Quit(optional(rest)),
        "help" => Request::Help,
        _ => return Err(Error::UnknownCommand(name)),
    };
    Ok(request)
}

fn say(text: &str) -> Request {
    Request::Message {
        to: None,
        text: text.to_owned(),
        kind: MessageKind::Say,
    }
}

/// Splits off the first space-separated word; the rest has its leading
/// spaces removed.
fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_start_matches(' ');
    match text.split_once(' ') {
        Some((word, rest)) => (word, rest.trim_start_matches(' ')),
        None => (text, ""),
    }
}

fn required<'a>(text: &'a str, usage: &'static str) -> Result<&'a str, Error> {
    let text = text.trim();
    if text.is_empty() {
        Err(Error::MissingArgument { usage })
    } else {
        Ok(text)
    }
}

fn optional(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The help text, one entry per line.
const HELP: &[&str] = &[
    "commands:",
    "  /nick NAME            pick or change your nickname",
    "  /join #room [key]     join a room (creating it makes you its operator)",
    "  /leave [#room] [why]  leave a room (default: the current one)",
    "  /switch #room         send plain text to this room from now on",
    "  /rooms                list the rooms",
    "  /who [#room]          list a room's members (@ marks operators)",
    "  /topic [#room] [text] show or set a room's topic (operators only)",
    "  /me ACTION            act in the current room",
    "  /msg #room|NAME TEXT  say something to a room or privately to a user",
    "  /quit [reason]        leave the server",
    "  /help                 this list",
    "plain text goes to the current room; start it with // to send a leading /",
];

/// Appends the wire form of `event`: one or more `\n`-terminated lines.
pub fn encode(event: &Event, out: &mut Vec<u8>) {
    match event {
        Event::Greeting => line(
            out,
            &[
                "- welcome to switchboard! pick a nickname with /nick NAME (/help lists every command)",
            ],
        ),
        Event::Welcome { nick } => line(
            out,
            &[
                "- hello ",
                nick,
                "! /join #room to enter a room, /rooms to see them all",
            ],
        ),
        Event::Joined { room, nick } => line(out, &["* ", nick, " joined ", room]),
        Event::Left { room, nick, reason } => {
            line_with_reason(out, &["* ", nick, " left ", room], reason.as_deref())
        }
        Event::Quit { nick, reason } => {
            line_with_reason(out, &["* ", nick, " quit"], reason.as_deref())
        }
        Event::NickChanged { old, new } => line(out, &["* ", old, " is now known as ", new]),
        Event::TopicChanged { room, nick, text } if text.is_empty() => {
            line(out, &["* ", nick, " cleared the topic of ", room])
        }
        Event::TopicChanged { room, nick, text } => {
            line(out, &["* ", nick, " set the topic of ", room, ": ", text])
        }
        Event::Message {
            from,
            to,
            text,
            kind,
        } => {
            let place = match to {
                Destination::Room(room) => room,
                Destination::User(_) => "pm",
            };
            match kind {
                MessageKind::Say => line(out, &["[", place, "] <", from, "> ", text]),
                MessageKind::Action => line(out, &["[", place, "] * ", from, " ", text]),
            }
        }
        Event::Topic { room, topic: None } => line(out, &["- ", room, " has no topic"]),
        Event::Topic {
            room,
            topic: Some(topic),
        } => line(
            out,
            &[
                "- topic of ",
                room,
                ": ",
                &topic.text,
                " (set by ",
                &topic.set_by,
                ")",
            ],
        ),
        Event::Members { room, members } => {
            let count = members.len().to_string();
            text(out, &["- members of ", room, " (", &count, "):"]);
            for member in members {
                text(
                    out,
                    &[" ", if member.operator { "@" } else { "" }, &member.nick],
                );
            }
            out.push(b'\n');
        }
        Event::Rooms(rooms) => {
            for room in rooms {
                let count = room.members.to_string();
                text(out, &["- ", &room.name, " (", &count, ")"]);
                if let Some(topic) = &room.topic {
                    text(out, &[": ", topic]);
                }
                out.push(b'\n');
            }
            let count = rooms.len().to_string();
            match rooms.len() {
                0 => line(out, &["- no rooms yet: /join #name creates one"]),
                1 => line(out, &["- 1 room"]),
                _ => line(out, &["- ", &count, " rooms"]),
            }
        }
        Event::Switched { room } => line(out, &["- now talking in ", room]),
        Event::Help => {
            for entry in HELP {
                line(out, &["- ", entry]);
            }
        }
        Event::Missed(count) => line(
            out,
            &[
                "! missed ",
                &count.to_string(),
                " messages: your connection was too slow",
            ],
        ),
        Event::Error(error) => line(out, &["! error: ", &error.to_string()]),
        Event::Closing(reason) => line(out, &["! closing: ", reason]),
    }
}

fn line(out: &mut Vec<u8>, parts: &[&str]) {
    text(out, parts);
    out.push(b'\n');
}

fn line_with_reason(out: &mut Vec<u8>, parts: &[&str], reason: Option<&str>) {
    text(out, parts);
    if let Some(reason) = reason {
        text(out, &[" (", reason, ")"]);
    }
    out.push(b'\n');
}

/// Appends text with control characters replaced by `?`, so nobody can move
/// another user's terminal cursor or fake a line with a stray `\r`.
fn text(out: &mut Vec<u8>, parts: &[&str]) {
    for part in parts {
        out.extend(part.bytes().map(|b| {
            if b.is_ascii_control() && b != b'\t' {
                b'?'
            } else {
                b
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Member, RoomSummary, Topic};

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

    #[test]
    fn plain_text_goes_to_the_current_room() {
        assert_eq!(
            ok("hello there"),
            Request::Message {
                to: None,
                text: "hello there".into(),
                kind: MessageKind::Say
            }
        );
        assert_eq!(
            ok("//shrug"),
            Request::Message {
                to: None,
                text: "/shrug".into(),
                kind: MessageKind::Say
            }
        );
    }

    #[test]
    fn commands_parse_with_their_arguments() {
        assert_eq!(ok("/nick alice"), Request::Nick("alice".into()));
        assert_eq!(ok("/NICK  alice "), Request::Nick("alice".into()));
        assert_eq!(
            ok("/join #rust hunter2"),
            Request::Join {
                room: "#rust".into(),
                key: Some("hunter2".into())
            }
        );
        assert_eq!(
            ok("/leave #rust off to lunch"),
            Request::Leave {
                room: Some("#rust".into()),
                reason: Some("off to lunch".into())
            }
        );
        assert_eq!(
            ok("/leave lunch"),
            Request::Leave {
                room: None,
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
            ok("/topic"),
            Request::Topic {
                room: None,
                text: None
            }
        );
        assert_eq!(
            ok("/msg bob hi  there"),
            Request::Message {
                to: Some(Target::User("bob".into())),
                text: "hi  there".into(),
                kind: MessageKind::Say
            }
        );
        assert_eq!(
            ok("/msg #rust hi"),
            Request::Message {
                to: Some(Target::Room("#rust".into())),
                text: "hi".into(),
                kind: MessageKind::Say
            }
        );
        assert_eq!(
            ok("/me waves"),
            Request::Message {
                to: None,
                text: "waves".into(),
                kind: MessageKind::Action
            }
        );
        assert_eq!(ok("/who"), Request::Who(None));
        assert_eq!(ok("/rooms"), Request::Rooms);
        assert_eq!(ok("/switch #a"), Request::Switch("#a".into()));
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
                usage: "/nick NAME"
            }
        );
        assert!(matches!(err(b"/msg bob"), Error::MissingArgument { .. }));
        assert!(matches!(err(b"/msg"), Error::MissingArgument { .. }));
        assert!(matches!(err(b"/join  "), Error::MissingArgument { .. }));
        assert_eq!(err(b"caf\xc3"), Error::InvalidUtf8);
        assert_eq!(err(b"\xff\xfe"), Error::InvalidUtf8);
        assert_eq!(err(b""), Error::EmptyLine);
        assert_eq!(err(b"   "), Error::EmptyLine);
        assert_eq!(err(b"/"), Error::UnknownCommand("".into()));
    }

    #[test]
    fn events_encode_as_documented() {
        let name = |s: &str| -> crate::protocol::Name { s.into() };
        assert_eq!(
            encoded(Event::Message {
                from: name("alice"),
                to: Destination::Room(name("#room")),
                text: name("hi"),
                kind: MessageKind::Say
            }),
            "[#room] <alice> hi\n"
        );
        assert_eq!(
            encoded(Event::Message {
                from: name("bob"),
                to: Destination::User(name("alice")),
                text: name("hello"),
                kind: MessageKind::Say
            }),
            "[pm] <bob> hello\n"
        );
        assert_eq!(
            encoded(Event::Message {
                from: name("bob"),
                to: Destination::Room(name("#r")),
                text: name("waves"),
                kind: MessageKind::Action
            }),
            "[#r] * bob waves\n"
        );
        assert_eq!(
            encoded(Event::Joined {
                room: name("#room"),
                nick: name("alice")
            }),
            "* alice joined #room\n"
        );
        assert_eq!(
            encoded(Event::Left {
                room: name("#room"),
                nick: name("bob"),
                reason: Some(name("lunch"))
            }),
            "* bob left #room (lunch)\n"
        );
        assert_eq!(
            encoded(Event::Quit {
                nick: name("carol"),
                reason: Some(name("connection reset"))
            }),
            "* carol quit (connection reset)\n"
        );
        assert_eq!(
            encoded(Event::NickChanged {
                old: name("dave"),
                new: name("dan")
            }),
            "* dave is now known as dan\n"
        );
        assert_eq!(
            encoded(Event::Error(Error::NoSuchUser("erin".into()))),
            "! error: no such user: erin\n"
        );
        assert_eq!(
            encoded(Event::Members {
                room: name("#r"),
                members: vec![
                    Member {
                        nick: name("alice"),
                        operator: true
                    },
                    Member {
                        nick: name("bob"),
                        operator: false
                    }
                ]
            }),
            "- members of #r (2): @alice bob\n"
        );
        assert_eq!(
            encoded(Event::Rooms(vec![RoomSummary {
                name: name("#r"),
                members: 2,
                topic: Some(name("fun"))
            }])),
            "- #r (2): fun\n- 1 room\n"
        );
        assert_eq!(
            encoded(Event::Topic {
                room: name("#r"),
                topic: Some(Topic {
                    text: name("fun"),
                    set_by: name("alice")
                })
            }),
            "- topic of #r: fun (set by alice)\n"
        );
        assert_eq!(
            encoded(Event::Missed(3)),
            "! missed 3 messages: your connection was too slow\n"
        );
    }

    #[test]
    fn control_characters_cannot_reach_a_terminal() {
        assert_eq!(
            encoded(Event::Message {
                from: "eve".into(),
                to: Destination::Room("#r".into()),
                text: "a\rb\x1b[2Jc\td".into(),
                kind: MessageKind::Say
            }),
            "[#r] <eve> a?b?[2Jc\td\n"
        );
    }
}
