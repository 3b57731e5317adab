//! The human line protocol: what `nc` and `telnet` users type and read.
//!
//! Input is a command starting with `/` or plain text for the current room.
//! Output lines start with a marker that says what they are, so they are easy
//! to read and to parse: `[#room]` or `[pm]` for messages, `*` for things that
//! happened, `-` for replies, `!` for errors and warnings. The full grammar is
//! in docs/line-protocol.md.

use super::account::{AccountCommand, AccountNotice, CertCommand, NICKSERV, nickserv_command};
use super::{
    Destination, Error, Event, MessageKind, ModeChange, Reply, Request, Target, has_forbidden,
    render_modes, strip_controls, telnet,
};

/// Parses one line (without its terminator).
pub fn decode(line: &[u8]) -> Result<Request, Error> {
    let line = std::str::from_utf8(line).map_err(|_| Error::InvalidUtf8)?;
    if has_forbidden(line.as_bytes()) {
        return Err(Error::ForbiddenCharacter);
    }
    let line = strip_controls(line, false);
    let line = &*line;
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
        "nick" => Request::Nick(required(rest, "nick", "/nick NAME")?.to_owned()),
        "pass" => Request::Pass(required(rest, "pass", "/pass PASSWORD")?.to_owned()),
        "join" | "j" => {
            let (room, key) = split_word(required(rest, "join", "/join #room [key]")?);
            Request::Join(vec![(room.to_owned(), optional(key))])
        }
        "leave" | "part" => {
            let (room, reason) = room_first(rest);
            Request::Leave {
                rooms: room.into_iter().collect(),
                reason: optional(reason),
            }
        }
        "switch" => Request::Switch(required(rest, "switch", "/switch #room")?.to_owned()),
        "rooms" | "list" => Request::List(Vec::new()),
        "who" | "names" => Request::Names(optional(rest)),
        "whois" => Request::Whois(required(rest, "whois", "/whois NAME")?.to_owned()),
        "topic" => {
            let (room, text) = room_first(rest);
            // A lone `-` clears the topic.
            let text = optional(text).map(|text| if text == "-" { String::new() } else { text });
            Request::Topic { room, text }
        }
        "me" => Request::Message {
            to: Vec::new(),
            text: required(rest, "me", "/me ACTION")?.to_owned(),
            kind: MessageKind::Action,
            tags: None,
        },
        "msg" => {
            let (target, text) = split_word(rest);
            let usage = "/msg #room|NAME TEXT";
            let text = required(text, "msg", usage)?;
            if target.eq_ignore_ascii_case(NICKSERV) {
                return Ok(Request::Account(nickserv_command(text)));
            }
            // `/msg ivy /me waves` is an action, as IRC clients send it.
            let (kind, text) = match text.strip_prefix("/me ").map(str::trim) {
                Some(action) if !action.is_empty() => (MessageKind::Action, action),
                _ => (MessageKind::Say, text),
            };
            Request::Message {
                to: vec![Target::parse(required(target, "msg", usage)?)],
                text: text.to_owned(),
                kind,
                tags: None,
            }
        }
        "kick" => {
            let usage = "/kick #room NAME [reason]";
            let (room, rest) = split_word(required(rest, "kick", usage)?);
            let (nick, reason) = split_word(rest);
            Request::Kick {
                room: room.to_owned(),
                nicks: vec![required(nick, "kick", usage)?.to_owned()],
                reason: optional(reason),
            }
        }
        "invite" => {
            let (nick, room) = split_word(required(rest, "invite", "/invite NAME [#room]")?);
            Request::Invite {
                nick: nick.to_owned(),
                room: optional(room),
            }
        }
        "mode" => {
            let mut words = rest.split_whitespace();
            let target = words.next().ok_or(Error::MissingArgument {
                command: "mode",
                usage: "/mode #room [+-modes [arguments]]",
            })?;
            let modes = words.next().unwrap_or_default();
            let args: Vec<&str> = words.collect();
            Request::Mode {
                target: target.to_owned(),
                changes: ModeChange::parse(modes, &args),
            }
        }
        "ban" | "unban" => {
            let usage = if name == "ban" {
                "/ban #room MASK"
            } else {
                "/unban #room MASK"
            };
            let (room, mask) = split_word(required(rest, "ban", usage)?);
            Request::Mode {
                target: room.to_owned(),
                changes: vec![ModeChange {
                    add: name == "ban",
                    mode: 'b',
                    arg: Some(required(mask, "ban", usage)?.to_owned()),
                }],
            }
        }
        "away" => Request::Away(optional(rest)),
        "whowas" => Request::Whowas {
            nick: required(rest, "whowas", "/whowas NAME")?.to_owned(),
            count: None,
        },
        "motd" => Request::Motd,
        "info" => Request::Info,
        "oper" => {
            let usage = "/oper NAME PASSWORD";
            let (name, password) = split_word(required(rest, "oper", usage)?);
            Request::Oper {
                name: name.to_owned(),
                password: required(password, "oper", usage)?.to_owned(),
            }
        }
        "kill" => {
            let (nick, reason) = split_word(required(rest, "kill", "/kill NAME [reason]")?);
            Request::Kill {
                nick: nick.to_owned(),
                reason: optional(reason),
            }
        }
        "wallops" => Request::Wallops(required(rest, "wallops", "/wallops TEXT")?.to_owned()),
        "register" => {
            let usage = "/register PASSWORD [email]";
            let (password, email) = split_word(required(rest, "register", usage)?);
            Request::Account(AccountCommand::Register {
                password: password.to_owned(),
                email: optional(email),
            })
        }
        "login" => {
            let usage = "/login NAME PASSWORD";
            let (first, second) = split_word(required(rest, "login", usage)?);
            Request::Account(match optional(second) {
                Some(password) => AccountCommand::Identify {
                    account: Some(first.to_owned()),
                    password,
                },
                None => AccountCommand::Identify {
                    account: None,
                    password: first.to_owned(),
                },
            })
        }
        "logout" => Request::Account(AccountCommand::Logout),
        "token" => Request::Account(AccountCommand::Token),
        "cert" => {
            let args: Vec<&str> = rest.split_whitespace().collect();
            Request::Account(
                CertCommand::parse(&args)
                    .map_or_else(AccountCommand::Invalid, AccountCommand::Cert),
            )
        }
        "regain" => Request::Account(AccountCommand::Regain(
            required(rest, "regain", "/regain NAME")?.to_owned(),
        )),
        "quit" | "exit" => Request::Quit(optional(rest)),
        "help" => Request::Help,
        "history" => super::history::decode_line(rest)?,
        _ => return Err(Error::UnknownCommand(name)),
    };
    Ok(request)
}

/// Splits off a leading `#room`, if there is one.
fn room_first(text: &str) -> (Option<String>, &str) {
    match split_word(text) {
        (room, rest) if room.starts_with('#') => (Some(room.to_owned()), rest),
        _ => (None, text),
    }
}

fn say(text: &str) -> Request {
    Request::Message {
        to: Vec::new(),
        text: text.to_owned(),
        kind: MessageKind::Say,
        tags: None,
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

fn required<'a>(
    text: &'a str,
    command: &'static str,
    usage: &'static str,
) -> Result<&'a str, Error> {
    let text = text.trim();
    if text.is_empty() {
        Err(Error::MissingArgument { command, usage })
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
    "  /pass PASSWORD        the server password, if it has one (before /nick)",
    "  /nick NAME            pick or change your nickname",
    "  /join #room [key]     join a room (creating it makes you its operator)",
    "  /leave [#room] [why]  leave a room (default: the current one)",
    "  /switch #room         send plain text to this room from now on",
    "  /rooms                list the rooms",
    "  /who [#room]          list a room's members (@ operators, + voiced)",
    "  /whois NAME           who somebody is and where",
    "  /topic [#room] [text] show or set a room's topic (- clears it)",
    "  /me ACTION            act in the current room",
    "  /msg #room|NAME TEXT  say something to a room or privately to a user",
    "  /history [#room|NAME] [N]  the last N messages (20) of a room or a private talk",
    "  /away [message]       mark yourself away, or back without a message",
    "  /whowas NAME          who had a nickname lately",
    "  /motd, /info          the message of the day, what this server is",
    "  /quit [reason]        leave the server",
    "accounts:",
    "  /register PASSWORD    register your nickname as an account (and log in)",
    "  /login NAME PASSWORD  log in; your account's nickname is then yours",
    "  /logout               log out",
    "  /regain NAME          take your account's nickname back from whoever has it",
    "  /token                a token for the HTTP API, in your account's name",
    "  /cert add [SHA256]    let a client certificate log in to your account (IRC SASL EXTERNAL);",
    "                        also /cert del SHA256, /cert list",
    "  /msg NickServ INFO    about your account (also DROP, to delete it)",
    "operators:",
    "  /kick #room NAME [why]   remove somebody from a room",
    "  /invite NAME [#room]     invite somebody (needed when the room is +i)",
    "  /ban #room MASK, /unban  keep nick!user@host masks out (* and ? match)",
    "  /mode #room [+-modes]    show or change modes: i invite-only, k KEY, l LIMIT,",
    "                           m moderated, n no outside messages, s secret,",
    "                           t topic by operators, o NAME operator, v NAME voice",
    "server operators:",
    "  /oper NAME PASSWORD      become a server operator (any room is yours then)",
    "  /kill NAME [why]         disconnect somebody",
    "  /wallops TEXT            tell everybody who set /mode YOURNICK +w",
    "plain text goes to the current room; start it with // to send a leading /",
];

/// Appends the wire form of `event`: zero or more `\n`-terminated lines.
pub fn encode(event: &Event, out: &mut Vec<u8>) {
    match event {
        Event::Greeting => line(
            out,
            &[
                "- welcome to switchboard! pick a nickname with /nick NAME (/help lists every command)",
            ],
        ),
        Event::Joined { room, who, .. } => line(out, &["* ", &who.nick, " joined ", room]),
        Event::Left { room, who, reason } => {
            line_with_reason(out, &["* ", &who.nick, " left ", room], reason.as_deref())
        }
        Event::Kicked {
            room,
            by,
            nick,
            reason,
        } => line_with_reason(
            out,
            &["* ", nick, " was kicked from ", room, " by ", &by.nick],
            reason.as_deref(),
        ),
        Event::Quit { who, reason } => {
            line_with_reason(out, &["* ", &who.nick, " quit"], reason.as_deref())
        }
        Event::NickChanged { who, new } => line(out, &["* ", &who.nick, " is now known as ", new]),
        Event::TopicChanged {
            room, who, text, ..
        } if text.is_empty() => line(out, &["* ", &who.nick, " cleared the topic of ", room]),
        Event::TopicChanged {
            room, who, text, ..
        } => line(
            out,
            &["* ", &who.nick, " set the topic of ", room, ": ", text],
        ),
        Event::ModeChanged {
            target,
            by,
            changes,
        } => line(
            out,
            &[
                "* ",
                &by.nick,
                " set mode ",
                &render_modes(changes),
                " on ",
                target,
            ],
        ),
        Event::Message {
            from,
            to,
            text,
            kind,
            ..
        } => {
            let place = match to {
                Destination::Room(room) => room,
                Destination::User(_) => "pm",
            };
            message(out, place, &from.nick, *kind, text);
        }
        Event::Away {
            who,
            message: Some(message),
        } => line(out, &["* ", &who.nick, " is away: ", message]),
        Event::Away { who, message: None } => line(out, &["* ", &who.nick, " is back"]),
        Event::Invited { by, nick, room } => line(
            out,
            &[
                "* ",
                &by.nick,
                " invited ",
                nick,
                " to ",
                room,
                " (/join ",
                room,
                ")",
            ],
        ),
        Event::Wallops { from, text } => line(out, &["* wallops from ", &from.nick, ": ", text]),
        Event::RealnameChanged { who, realname } => line(
            out,
            &["* ", &who.nick, " changed their real name to ", realname],
        ),
        // Tags, pings and account changes are for IRC clients.
        Event::TagMessage { .. } | Event::Ping(_) | Event::AccountChanged { .. } => {}
        Event::Missed(count) => line(
            out,
            &[
                "! missed ",
                &count.to_string(),
                " messages: your connection was too slow",
            ],
        ),
        Event::Closing(reason) => line(out, &["! closing: ", reason]),
        Event::Reply { reply, .. } => encode_reply(reply, out),
        Event::Labeled { events, .. } => {
            for event in events {
                encode(event.event(), out);
            }
        }
    }
}

fn encode_reply(reply: &Reply, out: &mut Vec<u8>) {
    match reply {
        Reply::Welcome(welcome) => {
            line(
                out,
                &[
                    "- hello ",
                    &welcome.mask.nick,
                    "! /join #room to enter a room, /rooms to see them all",
                ],
            );
            if welcome.info.motd.is_some() {
                encode_reply(&Reply::Motd(welcome.info.clone()), out);
            }
        }
        Reply::Topic { room, topic: None } => line(out, &["- ", room, " has no topic"]),
        Reply::Topic {
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
                &topic.set_by.nick,
                ")",
            ],
        ),
        Reply::Names { room, members, .. } => {
            let count = members.len().to_string();
            text(out, &["- members of ", room, " (", &count, "):"]);
            for member in members {
                let prefix = match (member.operator, member.voice) {
                    (true, _) => "@",
                    (false, true) => "+",
                    (false, false) => "",
                };
                text(out, &[" ", prefix, &member.mask.nick]);
            }
            out.push(b'\n');
        }
        Reply::Rooms(rooms) => {
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
        Reply::Who { rows, .. } => {
            for row in rows {
                let mask = row.mask.to_string();
                line(
                    out,
                    &[
                        "- ",
                        row.prefixes,
                        &mask,
                        " in ",
                        &row.room,
                        ": ",
                        &row.realname,
                    ],
                );
            }
        }
        Reply::Whois(whois) => {
            let nick = &whois.mask.nick;
            let mask = whois.mask.to_string();
            line(
                out,
                &["- ", nick, " is ", &mask, " (", &whois.realname, ")"],
            );
            if !whois.rooms.is_empty() {
                line(out, &["- ", nick, " is in ", &whois.rooms.join(" ")]);
            }
            if let Some(account) = &whois.account {
                line(out, &["- ", nick, " is logged in as ", account]);
            }
            if whois.operator {
                line(out, &["- ", nick, " is a server operator"]);
            }
            if whois.secure {
                line(out, &["- ", nick, " is connected over TLS"]);
            }
            if let Some(certfp) = &whois.certfp {
                line(
                    out,
                    &["- ", nick, "'s client certificate is SHA-256 ", certfp],
                );
            }
            if let Some(away) = &whois.away {
                line(out, &["- ", nick, " is away: ", away]);
            }
            let idle = whois.idle_secs.to_string();
            line(out, &["- ", nick, " has been idle for ", &idle, " s"]);
        }
        Reply::Ison(nicks) => {
            let nicks: Vec<&str> = nicks.iter().map(|nick| &**nick).collect();
            line(out, &["- online: ", &nicks.join(" ")]);
        }
        Reply::Userhost(users) => {
            for (mask, away) in users {
                let mask = mask.to_string();
                line(out, &["- ", &mask, if *away { " (away)" } else { "" }]);
            }
        }
        Reply::Version(info) => line(out, &["- ", &info.version, " on ", &info.name]),
        Reply::Time(time) => line(out, &["- server time: ", time]),
        Reply::Lusers(lusers) => {
            let users = lusers.users.to_string();
            let rooms = lusers.rooms.to_string();
            line(out, &["- ", &users, " users in ", &rooms, " rooms"]);
        }
        Reply::Motd(info) => match &info.motd {
            Some(motd) => {
                for entry in motd {
                    line(out, &["- ", entry]);
                }
            }
            None => line(out, &["- there is no message of the day"]),
        },
        Reply::Info(info) => line(
            out,
            &[
                "- ",
                &info.version,
                " on ",
                &info.name,
                ", running since ",
                &info.created,
            ],
        ),
        Reply::Whowas { nick, entries } if entries.is_empty() => {
            line(out, &["- nobody was called ", nick, " lately"])
        }
        Reply::Whowas { entries, .. } => {
            for entry in entries {
                let mask = entry.mask.to_string();
                line(
                    out,
                    &[
                        "- ",
                        &entry.mask.nick,
                        " was ",
                        &mask,
                        " (",
                        &entry.realname,
                        ") until ",
                        &entry.left,
                    ],
                );
            }
        }
        Reply::YoureOper => line(out, &["- you are now a server operator"]),
        Reply::Account(AccountNotice::Failed(error)) => {
            line(out, &["! error: ", &error.to_string()]);
        }
        Reply::Account(notice) => line(out, &["- ", &notice.to_string()]),
        // Not a line: the bytes telnet waits for after Ctrl-C.
        Reply::TimingMark => out.extend_from_slice(&telnet::WONT_TIMING_MARK),
        Reply::RoomModes { room, modes, .. } => line(out, &["- modes of ", room, ": ", modes]),
        Reply::BanList { room, bans } if bans.is_empty() => {
            line(out, &["- nobody is banned from ", room])
        }
        Reply::BanList { room, bans } => {
            for ban in bans {
                line(
                    out,
                    &[
                        "- ",
                        room,
                        " bans ",
                        &ban.mask,
                        " (set by ",
                        &ban.set_by,
                        ")",
                    ],
                );
            }
        }
        Reply::UserModes(modes) => line(out, &["- your modes: ", modes]),
        Reply::Inviting { nick, room } => line(out, &["- invited ", nick, " to ", room]),
        Reply::Away(true) => line(out, &["- you are marked as away"]),
        Reply::Away(false) => line(out, &["- you are back"]),
        Reply::IsAway { nick, message } => line(out, &["- ", nick, " is away: ", message]),
        Reply::Switched(room) => line(out, &["- now talking in ", room]),
        Reply::History {
            target,
            kind,
            messages,
        } => super::history::encode_line(target, *kind, messages, out),
        Reply::Queued(nick) => line(
            out,
            &[
                "- ",
                nick,
                " is offline: your message will be delivered when they log in",
            ],
        ),
        Reply::Draining(waiting) => line(
            out,
            &[
                "- you closed your end: ",
                &waiting.to_string(),
                " lines still waiting go out at the flood-control pace, then the connection closes",
            ],
        ),
        Reply::Help => {
            for entry in HELP {
                line(out, &["- ", entry]);
            }
        }
        Reply::Error(error) => line(out, &["! error: ", &error.to_string()]),
        // IRC plumbing with nothing to show a line user; account news
        // comes as a `Reply::Account` too.
        Reply::Cap { .. }
        | Reply::Pong(_)
        | Reply::NoNames(_)
        | Reply::WhoisEnd(_)
        | Reply::LoggedIn { .. }
        | Reply::LoggedOut(_)
        | Reply::Sasl(_)
        | Reply::HistoryTargets(_) => {}
    }
}

/// A message said by `nick`, marked `[place]`: `#room` or `pm`, and for
/// one from the past its time too.
pub(super) fn message(out: &mut Vec<u8>, place: &str, nick: &str, kind: MessageKind, said: &str) {
    match kind {
        MessageKind::Say => line(out, &["[", place, "] <", nick, "> ", said]),
        MessageKind::Action => line(out, &["[", place, "] * ", nick, " ", said]),
        MessageKind::Notice => line(out, &["[", place, "] -", nick, "- ", said]),
        MessageKind::Ctcp => line(out, &["[", place, "] * ", nick, " sent CTCP ", said]),
        MessageKind::CtcpReply => line(out, &["[", place, "] -", nick, "- CTCP reply: ", said]),
    }
}

pub(super) fn line(out: &mut Vec<u8>, parts: &[&str]) {
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

/// Appends text as a terminal should show it: IRC formatting codes (bold,
/// colours, ...) are dropped, and control characters and bidirectional
/// overrides become `?`, so nobody can move another user's cursor, fake a
/// line with a stray `\r` or flip the direction of text.
fn text(out: &mut Vec<u8>, parts: &[&str]) {
    for part in parts {
        if !part.chars().any(needs_care) {
            out.extend_from_slice(part.as_bytes());
            continue;
        }
        let mut chars = part.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                // Colour: up to two digits, optionally a comma and two more.
                '\u{3}' => {
                    skip_digits(&mut chars);
                    if chars.peek() == Some(&',') {
                        chars.next();
                        skip_digits(&mut chars);
                    }
                }
                '\u{2}' | '\u{f}' | '\u{11}' | '\u{16}' | '\u{1d}' | '\u{1e}' | '\u{1f}' => {}
                c if needs_care(c) => out.push(b'?'),
                c => {
                    let mut utf8 = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                }
            }
        }
    }
}

/// Control characters (but tab) and the Unicode bidirectional controls.
fn needs_care(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn skip_digits(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for _ in 0..2 {
        if chars.next_if(char::is_ascii_digit).is_none() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::protocol::{Mask, Member, Name, RoomSummary, Topic};

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
}
