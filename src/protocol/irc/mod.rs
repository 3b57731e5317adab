//! The IRC protocol: commands in, numerics and messages out.
//!
//! [`decode`] turns a client's line into a [`Request`]; [`encode`] turns an
//! [`Event`] into the lines modern clients (irssi, WeeChat, HexChat) expect,
//! following the "Modern IRC" client protocol document and IRCv3. Parsing and
//! serialising the message syntax itself lives in [`message`].

#[cfg(test)]
mod account_tests;
mod history;
mod labels;
pub mod message;
mod replies;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod worst_case;

use std::borrow::Cow;

use super::account::{NICKSERV, nickserv_command};
use super::{
    CapCommand, Caps, Destination, Error, Event, Mask, MessageKind, ModeChange, Request, Target,
    Whox, has_forbidden, strip_controls,
};
use crate::limits::WHOX_TOKEN_MAX;
pub use labels::write_labeled;
use message::{MAX_MESSAGE, Message};

/// The longest line accepted, terminator excluded: 8191 bytes of tags and a
/// space, then 510 bytes of message.
pub const MAX_LINE: usize = 8191 + 1 + MAX_BODY;

/// The longest message without its tags and terminator.
const MAX_BODY: usize = 510;

/// Longest client-only tag section a client may send (IRCv3 message-tags).
const MAX_CLIENT_TAGS: usize = 4094;

/// Parses one line. `None` means there is nothing to do: an empty line.
pub fn decode(line: &[u8]) -> Option<Result<Request, Error>> {
    let Ok(line) = std::str::from_utf8(line) else {
        return Some(Err(Error::InvalidUtf8));
    };
    if has_forbidden(line.as_bytes()) {
        return Some(Err(Error::ForbiddenCharacter));
    }
    // CTCP's \x01 stays: IRC clients use it to talk to each other.
    let line: Cow<'_, str> = strip_controls(line, true);
    let line = &*line;
    let message = Message::parse(line).ok()?;
    // Trimmed as the parser trims (spaces only), so the body measured is
    // the body parsed.
    let body = match line.trim_start_matches(' ').strip_prefix('@') {
        Some(tagged) => tagged.split_once(' ').map_or("", |(_, body)| body),
        None => line,
    };
    if body.len() > MAX_BODY
        || message
            .tags
            .is_some_and(|tags| tags.len() > MAX_CLIENT_TAGS)
    {
        return Some(Err(Error::LineTooLong(MAX_BODY + 2)));
    }
    let request = request(&message);
    Some(match labels::label(&message) {
        Some(label) => Ok(Request::Labeled {
            label: label.to_owned(),
            request: Box::new(request.unwrap_or_else(Request::Invalid)),
        }),
        None => request,
    })
}

/// The request a parsed message makes.
fn request(message: &Message<'_>) -> Result<Request, Error> {
    // Clients send commands in capitals; only others are copied.
    let command: Cow<'_, str> = if message.command.bytes().any(|b| b.is_ascii_lowercase()) {
        Cow::Owned(message.command.to_ascii_uppercase())
    } else {
        Cow::Borrowed(message.command)
    };
    let param = |index: usize| message.param(index).filter(|param| !param.is_empty());
    // The parameter at `index`, or "not enough parameters" for `command`.
    let need = |index: usize, command: &'static str| {
        param(index).ok_or(Error::MissingArgument {
            command,
            usage: command,
        })
    };
    let list = |text: &str| -> Vec<String> {
        text.split(',')
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let request = match &*command {
        "CAP" => Request::Cap(match need(0, "CAP")?.to_ascii_uppercase().as_str() {
            "LS" => CapCommand::Ls(param(1).and_then(|v| v.parse().ok()).unwrap_or(0)),
            "LIST" => CapCommand::List,
            "REQ" => CapCommand::Req(message.param(1).unwrap_or_default().trim().to_owned()),
            "END" => CapCommand::End,
            other => return Err(Error::InvalidCapCommand(other.to_owned())),
        }),
        "PASS" => Request::Pass(need(0, "PASS")?.to_owned()),
        "NICK" => Request::Nick(param(0).ok_or(Error::NoNickGiven)?.to_owned()),
        "USER" => {
            need(3, "USER")?;
            Request::User {
                user: need(0, "USER")?.to_owned(),
                realname: need(3, "USER")?.to_owned(),
            }
        }
        "PING" => Request::Ping(need(0, "PING")?.to_owned()),
        "PONG" => Request::Pong,
        "JOIN" => match need(0, "JOIN")? {
            "0" => Request::LeaveAll,
            rooms => {
                let mut keys = param(1).map(list).unwrap_or_default().into_iter();
                Request::Join(
                    list(rooms)
                        .into_iter()
                        .map(|room| (room, keys.next()))
                        .collect(),
                )
            }
        },
        "PART" => Request::Leave {
            rooms: list(need(0, "PART")?),
            reason: param(1).map(str::to_owned),
        },
        // What IRC users say to NickServ is for the server itself.
        "PRIVMSG" if param(0).is_some_and(|to| to.eq_ignore_ascii_case(NICKSERV)) => {
            Request::Account(nickserv_command(param(1).ok_or(Error::NoText)?))
        }
        "NICKSERV" | "NS" => Request::Account(nickserv_command(&message.params.join(" "))),
        "AUTHENTICATE" => Request::Authenticate(need(0, "AUTHENTICATE")?.to_owned()),
        "PRIVMSG" | "NOTICE" => {
            let to = param(0).ok_or(Error::NoRecipient)?;
            let text = param(1).ok_or(Error::NoText)?;
            let ctcp = text
                .strip_prefix('\u{1}')
                .map(|ctcp| ctcp.strip_suffix('\u{1}').unwrap_or(ctcp))
                .filter(|ctcp| !ctcp.is_empty());
            let (kind, text) = match (&*command, ctcp) {
                ("NOTICE", Some(ctcp)) => (MessageKind::CtcpReply, ctcp),
                ("NOTICE", None) => (MessageKind::Notice, text),
                (_, Some(ctcp)) => match ctcp.split_once(' ') {
                    Some(("ACTION", action)) => (MessageKind::Action, action),
                    _ => (MessageKind::Ctcp, ctcp),
                },
                (_, None) => (MessageKind::Say, text),
            };
            Request::Message {
                to: Target::distinct(to),
                text: text.into(),
                kind,
                tags: client_tags(message),
            }
        }
        "TAGMSG" => Request::TagMessage {
            to: Target::distinct(need(0, "TAGMSG")?),
            tags: client_tags(message).unwrap_or_default(),
        },
        "TOPIC" => Request::Topic {
            room: Some(need(0, "TOPIC")?.to_owned()),
            text: message.param(1).map(str::to_owned),
        },
        "NAMES" => Request::Names(param(0).and_then(|rooms| list(rooms).into_iter().next())),
        "LIST" => Request::List(param(0).map(list).unwrap_or_default()),
        "WHO" => Request::Who {
            mask: param(0).unwrap_or("*").to_owned(),
            whox: param(1)
                .and_then(|fields| fields.strip_prefix('%'))
                .map(|fields| {
                    let (fields, token) = match fields.split_once(',') {
                        Some((fields, token)) => (fields, Some(token)),
                        None => (fields, None),
                    };
                    // A token is up to three digits; anything else is
                    // not echoed (it could break the reply's syntax).
                    let token = token
                        .filter(|token| {
                            (1..=WHOX_TOKEN_MAX).contains(&token.len())
                                && token.bytes().all(|b| b.is_ascii_digit())
                        })
                        .map(str::to_owned);
                    Whox {
                        fields: fields.to_owned(),
                        token,
                    }
                }),
        },
        // `WHOIS server nick` names the server first.
        "WHOIS" => Request::Whois(
            param(1)
                .or(param(0))
                .ok_or(Error::NoNickGiven)?
                .split(',')
                .next()
                .unwrap_or_default()
                .to_owned(),
        ),
        "KICK" => Request::Kick {
            room: need(0, "KICK")?.to_owned(),
            nicks: list(need(1, "KICK")?),
            reason: param(2).map(str::to_owned),
        },
        "INVITE" => Request::Invite {
            nick: need(0, "INVITE")?.to_owned(),
            room: Some(need(1, "INVITE")?.to_owned()),
        },
        "MODE" => Request::Mode {
            target: need(0, "MODE")?.to_owned(),
            changes: ModeChange::parse(
                message.param(1).unwrap_or_default(),
                message.params.get(2..).unwrap_or_default(),
            ),
        },
        "AWAY" => Request::Away(param(0).map(str::to_owned)),
        "ISON" => Request::Ison(words(message)),
        "USERHOST" => Request::Userhost(words(message)),
        "VERSION" => Request::Version,
        "TIME" => Request::Time,
        "LUSERS" => Request::Lusers,
        "MOTD" => Request::Motd,
        "INFO" => Request::Info,
        "WHOWAS" => Request::Whowas {
            nick: param(0)
                .ok_or(Error::NoNickGiven)?
                .split(',')
                .next()
                .unwrap_or_default()
                .to_owned(),
            // A count of zero or less asks for everything.
            count: param(1)
                .and_then(|count| count.parse::<usize>().ok())
                .filter(|&count| count > 0),
        },
        "OPER" => Request::Oper {
            name: need(0, "OPER")?.to_owned(),
            password: need(1, "OPER")?.to_owned(),
        },
        "KILL" => Request::Kill {
            nick: need(0, "KILL")?.to_owned(),
            reason: param(1).map(str::to_owned),
        },
        "WALLOPS" => Request::Wallops(need(0, "WALLOPS")?.to_owned()),
        "SETNAME" => Request::SetName(need(0, "SETNAME")?.to_owned()),
        "CHATHISTORY" => history::decode(message)?,
        "QUIT" => Request::Quit(param(0).map(str::to_owned)),
        _ => return Err(Error::UnknownCommand(message.command.to_owned())),
    };
    Ok(request)
}

/// Every word of every parameter (`ISON a b` and `ISON :a b` alike).
fn words(message: &Message<'_>) -> Vec<String> {
    message
        .params
        .iter()
        .flat_map(|param| param.split_whitespace())
        .map(str::to_owned)
        .collect()
}

/// The client-only tags (`+name[=value]`) of a message, still escaped, to
/// relay as they came.
fn client_tags(message: &Message<'_>) -> Option<String> {
    let tags: Vec<&str> = message
        .tags?
        .split(';')
        .filter(|tag| tag.starts_with('+'))
        .collect();
    (!tags.is_empty()).then(|| tags.join(";"))
}

/// Appends the message tags `event` carries for a client with `caps`: the
/// time it happened (`server-time`) and relayed client tags (`message-tags`).
/// `piece` counts the lines of a message sent in several (see [`encode`]):
/// each has its own `msgid`.
pub fn write_tags<'a>(
    event: &Event,
    caps: Caps,
    time: impl FnOnce() -> &'a str,
    piece: usize,
    batch: Option<&str>,
    out: &mut Vec<u8>,
) {
    // Replies (numerics, often several lines) are answers, not things that
    // happened, so only events carry the time.
    let stamped = caps.contains(Caps::SERVER_TIME)
        && !matches!(
            event,
            Event::Greeting
                | Event::Ping(_)
                | Event::Closing(_)
                | Event::Missed(_)
                | Event::Reply { .. }
                | Event::Labeled { .. }
        );
    let tagged = caps.contains(Caps::MESSAGE_TAGS);
    let account = caps
        .contains(Caps::ACCOUNT_TAG)
        .then(|| source(event).and_then(|who| who.account.as_deref()))
        .flatten();
    let (id, relayed) = match event {
        Event::Message { tags, id, .. } if tagged => (Some(id), tags.as_deref()),
        Event::TopicChanged { id, .. } if tagged => (Some(id), None),
        Event::TagMessage { tags, id, .. } if tagged => {
            (Some(id), Some(&**tags).filter(|tags| !tags.is_empty()))
        }
        _ => (None, None),
    };
    let mut first = true;
    let mut tag = |out: &mut Vec<u8>, parts: &[&str]| {
        out.push(if first { b'@' } else { b';' });
        first = false;
        for part in parts {
            out.extend_from_slice(part.as_bytes());
        }
    };
    if let Some(batch) = batch {
        tag(out, &["batch=", batch]);
    }
    if stamped {
        tag(out, &["time=", time()]);
    }
    match id {
        Some(id) if piece > 0 => tag(out, &["msgid=", id, ".", &piece.to_string()]),
        Some(id) => tag(out, &["msgid=", id]),
        None => {}
    }
    if let Some(account) = account {
        tag(out, &["account=", account]);
    }
    if let Some(relayed) = relayed {
        tag(out, &[relayed]);
    }
    if !first {
        out.push(b' ');
    }
}

/// Appends `body`, the lines of `event` (a long message is several), each
/// with its tags: `msgid` suffixed `.1`, `.2`... after the first.
pub fn write_lines<'a>(
    event: &Event,
    caps: Caps,
    time: impl Fn() -> &'a str,
    batch: Option<&str>,
    body: &[u8],
    out: &mut Vec<u8>,
) {
    for (piece, line) in body.split_inclusive(|&byte| byte == b'\n').enumerate() {
        write_tags(event, caps, &time, piece, batch, out);
        out.extend_from_slice(line);
    }
}

/// The user an event comes from, if it comes from one.
fn source(event: &Event) -> Option<&Mask> {
    match event {
        Event::Joined { who, .. }
        | Event::Left { who, .. }
        | Event::Quit { who, .. }
        | Event::NickChanged { who, .. }
        | Event::TopicChanged { who, .. }
        | Event::Away { who, .. }
        | Event::RealnameChanged { who, .. }
        | Event::AccountChanged { who, .. } => Some(who),
        Event::Kicked { by, .. } | Event::ModeChanged { by, .. } | Event::Invited { by, .. } => {
            Some(by)
        }
        Event::Message { from, .. }
        | Event::TagMessage { from, .. }
        | Event::Wallops { from, .. } => Some(from),
        Event::Greeting
        | Event::Ping(_)
        | Event::Missed(_)
        | Event::Closing(_)
        | Event::Reply { .. }
        | Event::Labeled { .. } => None,
    }
}

/// Appends the lines for `event` (tags excluded, see [`write_tags`]) as sent
/// by the server called `server` to a client with `caps`.
pub fn encode(event: &Event, server: &str, caps: Caps, out: &mut Vec<u8>) {
    let write = |out: &mut Vec<u8>, source: &str, command: &str, params: &[&str]| {
        message::write(out, Some(source), command, params);
    };
    // For commands whose last parameter is text.
    let text = |out: &mut Vec<u8>, source: &str, command: &str, params: &[&str]| {
        message::write_text(out, Some(source), command, params);
    };
    match event {
        Event::Greeting => {}
        Event::Joined {
            room,
            who,
            extended: None,
        } => write(out, &who.source(), "JOIN", &[room]),
        Event::Joined {
            room,
            who,
            extended: Some(realname),
        } => {
            let account = who.account.as_deref().unwrap_or("*");
            text(out, &who.source(), "JOIN", &[room, account, realname]);
        }
        Event::Left { room, who, reason } => match reason {
            Some(reason) => text(out, &who.source(), "PART", &[room, reason]),
            None => write(out, &who.source(), "PART", &[room]),
        },
        Event::Kicked {
            room,
            by,
            nick,
            reason,
        } => {
            // Without a reason, the kicker's nickname, as RFC 2812 says.
            let reason = reason.as_deref().unwrap_or(&by.nick);
            text(out, &by.source(), "KICK", &[room, nick, reason]);
        }
        Event::Quit { who, reason } => {
            let reason = reason.as_deref().unwrap_or("Client quit");
            text(out, &who.source(), "QUIT", &[reason]);
        }
        Event::NickChanged { who, new } => write(out, &who.source(), "NICK", &[new]),
        Event::TopicChanged {
            room,
            who,
            text: topic,
            ..
        } => {
            text(out, &who.source(), "TOPIC", &[room, topic]);
        }
        Event::ModeChanged {
            target,
            by,
            changes,
        } => {
            // Letters, then each argument as a parameter of its own.
            let letters = crate::protocol::mode_letters(changes);
            let mut params = vec![&**target, &letters];
            params.extend(changes.iter().filter_map(|change| change.arg.as_deref()));
            write(out, &by.source(), "MODE", &params);
        }
        Event::Message {
            from,
            to,
            text: body,
            kind,
            long,
            ..
        } => {
            let target = match to {
                Destination::Room(room) | Destination::User(room) => room,
            };
            let (command, before, after) = framing(*kind);
            let budget = text_budget(from, target, *kind);
            let source = from.source();
            if *long {
                for piece in split_text(body, budget) {
                    let said = [before, piece, after].concat();
                    text(out, &source, command, &[target, &said]);
                }
            } else if before.is_empty() && after.is_empty() {
                text(
                    out,
                    &source,
                    command,
                    &[target, super::truncate(body, budget)],
                );
            } else {
                let said = [before, super::truncate(body, budget), after].concat();
                text(out, &source, command, &[target, &said]);
            }
        }
        Event::TagMessage { from, to, .. } => {
            let target = match to {
                Destination::Room(room) | Destination::User(room) => room,
            };
            write(out, &from.source(), "TAGMSG", &[target]);
        }
        Event::Wallops { from, text: said } => text(out, &from.source(), "WALLOPS", &[said]),
        Event::Away { who, message } => match message {
            Some(message) => text(out, &who.source(), "AWAY", &[message]),
            None => write(out, &who.source(), "AWAY", &[]),
        },
        Event::Invited { by, nick, room } => write(out, &by.source(), "INVITE", &[nick, room]),
        Event::RealnameChanged { who, realname } => {
            text(out, &who.source(), "SETNAME", &[realname]);
        }
        Event::AccountChanged { who, account } => {
            let account = account.as_deref().unwrap_or("*");
            write(out, &who.source(), "ACCOUNT", &[account]);
        }
        Event::Ping(token) => message::write_text(out, None, "PING", &[token]),
        Event::Missed(count) => {
            let notice = format!("You missed {count} messages: your connection was too slow");
            text(out, server, "NOTICE", &["*", &notice]);
        }
        Event::Closing(reason) => {
            message::write_text(out, None, "ERROR", &[&format!("Closing Link: {reason}")]);
        }
        Event::Reply { me, reply } => replies::encode_reply(reply, server, me, caps, out),
        // Written by `Outgoing::write_to`, which encodes what it holds.
        Event::Labeled { .. } => {}
    }
}

/// The command a message of `kind` travels in, and what goes around its text.
fn framing(kind: MessageKind) -> (&'static str, &'static str, &'static str) {
    match kind {
        MessageKind::Say => ("PRIVMSG", "", ""),
        MessageKind::Action => ("PRIVMSG", "\u{1}ACTION ", "\u{1}"),
        MessageKind::Notice => ("NOTICE", "", ""),
        MessageKind::Ctcp => ("PRIVMSG", "\u{1}", "\u{1}"),
        MessageKind::CtcpReply => ("NOTICE", "\u{1}", "\u{1}"),
    }
}

/// How many bytes of text a message of `kind` from `from` to `target` may
/// carry for the whole of it to fit in one 512-byte IRC line.
fn text_budget(from: &Mask, target: &str, kind: MessageKind) -> usize {
    let (command, before, after) = framing(kind);
    // `:nick!user@host COMMAND target :` and `\r\n`.
    let source = from.nick.len() + from.user.len() + from.host.len() + 2;
    let overhead = 1 + source + 1 + command.len() + 1 + target.len() + 2 + 2;
    MAX_MESSAGE.saturating_sub(overhead + before.len() + after.len())
}

/// `text` in pieces of at most `max` bytes, cut after a space when one is
/// in the second half of a piece, else at a character boundary.
fn split_text(text: &str, max: usize) -> Vec<&str> {
    let max = max.max(4);
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let cut = super::truncate(rest, max).len();
        let end = match rest[..cut].rfind(' ') {
            Some(space) if space >= max / 2 => space + 1,
            _ => cut,
        };
        pieces.push(rest[..end].trim_end_matches(' '));
        rest = &rest[end..];
    }
    pieces.push(rest);
    pieces
}
