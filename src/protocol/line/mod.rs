//! The human line protocol: what `nc` and `telnet` users type and read.
//!
//! Input is a command starting with `/` or plain text for the current room.
//! Output lines start with a marker that says what they are, so they are easy
//! to read and to parse: `[#room]` or `[pm]` for messages, `*` for things that
//! happened, `-` for replies, `!` for errors and warnings. The full grammar is
//! in docs/line-protocol.md.

mod decode;
#[cfg(test)]
mod tests;

pub use decode::decode;

use super::account::AccountNotice;
use super::{Destination, Event, MessageKind, Reply, render_modes, telnet};

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
