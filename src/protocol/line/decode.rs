//! Decoding: what a line-protocol user types, as a [`Request`].

use crate::protocol::account::{AccountCommand, CertCommand, NICKSERV, nickserv_command};
use crate::protocol::{
    Error, MessageKind, ModeChange, Request, Target, has_forbidden, strip_controls,
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
            text: required(rest, "me", "/me ACTION")?.into(),
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
                text: text.into(),
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
        "history" => crate::protocol::history::decode_line(rest)?,
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
        text: text.into(),
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
