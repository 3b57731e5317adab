//! The IRC protocol: commands in, numerics and messages out.
//!
//! [`decode`] turns a client's line into a [`Request`]; [`encode`] turns an
//! [`Event`] into the lines modern clients (irssi, WeeChat, HexChat) expect,
//! following the "Modern IRC" client protocol document and IRCv3. Parsing and
//! serialising the message syntax itself lives in [`message`].

pub mod message;

use std::borrow::Cow;

use super::{
    CapCommand, Caps, Destination, Error, Event, Mask, MessageKind, ModeChange, Reply, Request,
    Target, Whox, render_modes, strip_controls,
};
use message::{MAX_MESSAGE, Message};

/// The longest line accepted, terminator excluded: 8191 bytes of tags and a
/// space, then 510 bytes of message.
pub const MAX_LINE: usize = 8191 + 1 + MAX_BODY;

/// The longest message without its tags and terminator.
const MAX_BODY: usize = 510;

/// Longest client-only tag section a client may send (IRCv3 message-tags).
const MAX_CLIENT_TAGS: usize = 4094;

/// What `RPL_ISUPPORT` advertises, in two lines of at most 13 tokens.
const ISUPPORT: [&[&str]; 2] = [
    &[
        "AWAYLEN=390",
        "CASEMAPPING=ascii",
        "CHANLIMIT=#:50",
        "CHANMODES=b,k,l,imnst",
        "CHANNELLEN=50",
        "CHANTYPES=#",
        "ELIST=",
        "HOSTLEN=64",
        "KICKLEN=390",
        "MAXLIST=b:100",
        "MODES=4",
        "NICKLEN=24",
        "PREFIX=(ov)@+",
    ],
    &[
        "TARGMAX=JOIN:,KICK:1,LIST:,NAMES:1,NOTICE:4,PART:,PRIVMSG:4,TAGMSG:4,WHOIS:1",
        "KEYLEN=23",
        "TOPICLEN=390",
        "USERLEN=10",
        "UTF8ONLY",
        "WHOX",
    ],
];

/// Parses one line. `None` means there is nothing to do: an empty line.
pub fn decode(line: &[u8]) -> Option<Result<Request, Error>> {
    let Ok(line) = std::str::from_utf8(line) else {
        return Some(Err(Error::InvalidUtf8));
    };
    // CTCP's \x01 stays: IRC clients use it to talk to each other.
    let line: Cow<'_, str> = strip_controls(line, true);
    let line = &*line;
    let message = Message::parse(line).ok()?;
    let body = match line.trim_start().strip_prefix('@') {
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
    Some(request(&message))
}

/// The request a parsed message makes.
fn request(message: &Message<'_>) -> Result<Request, Error> {
    let command = message.command.to_ascii_uppercase();
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
    let request = match command.as_str() {
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
        "PRIVMSG" | "NOTICE" => {
            let to = param(0).ok_or(Error::NoRecipient)?;
            let text = param(1).ok_or(Error::NoText)?;
            let ctcp = text
                .strip_prefix('\u{1}')
                .map(|ctcp| ctcp.strip_suffix('\u{1}').unwrap_or(ctcp))
                .filter(|ctcp| !ctcp.is_empty());
            let (kind, text) = match (command.as_str(), ctcp) {
                ("NOTICE", Some(ctcp)) => (MessageKind::CtcpReply, ctcp),
                ("NOTICE", None) => (MessageKind::Notice, text),
                (_, Some(ctcp)) => match ctcp.split_once(' ') {
                    Some(("ACTION", action)) => (MessageKind::Action, action),
                    _ => (MessageKind::Ctcp, ctcp),
                },
                (_, None) => (MessageKind::Say, text),
            };
            Request::Message {
                to: targets(to),
                text: text.to_owned(),
                kind,
                tags: client_tags(message),
            }
        }
        "TAGMSG" => Request::TagMessage {
            to: targets(need(0, "TAGMSG")?),
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
                        Some((fields, token)) => (fields, Some(token.to_owned())),
                        None => (fields, None),
                    };
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
        "QUIT" => Request::Quit(param(0).map(str::to_owned)),
        _ => return Err(Error::UnknownCommand(message.command.to_owned())),
    };
    Ok(request)
}

/// Comma-separated message targets.
fn targets(text: &str) -> Vec<Target> {
    text.split(',')
        .filter(|target| !target.is_empty())
        .map(Target::parse)
        .collect()
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
        );
    let tagged = caps.contains(Caps::MESSAGE_TAGS);
    let (id, relayed) = match event {
        Event::Message { tags, id, .. } if tagged => (Some(id), tags.as_deref()),
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
    if stamped {
        tag(out, &["time=", time()]);
    }
    match id {
        Some(id) if piece > 0 => tag(out, &["msgid=", id, ".", &piece.to_string()]),
        Some(id) => tag(out, &["msgid=", id]),
        None => {}
    }
    if let Some(relayed) = relayed {
        tag(out, &[relayed]);
    }
    if !first {
        out.push(b' ');
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
        Event::Joined { room, who } => write(out, &who.to_string(), "JOIN", &[room]),
        Event::Left { room, who, reason } => match reason {
            Some(reason) => text(out, &who.to_string(), "PART", &[room, reason]),
            None => write(out, &who.to_string(), "PART", &[room]),
        },
        Event::Kicked {
            room,
            by,
            nick,
            reason,
        } => {
            // Without a reason, the kicker's nickname, as RFC 2812 says.
            let reason = reason.as_deref().unwrap_or(&by.nick);
            text(out, &by.to_string(), "KICK", &[room, nick, reason]);
        }
        Event::Quit { who, reason } => {
            let reason = reason.as_deref().unwrap_or("Client quit");
            text(out, &who.to_string(), "QUIT", &[reason]);
        }
        Event::NickChanged { who, new } => write(out, &who.to_string(), "NICK", &[new]),
        Event::TopicChanged {
            room,
            who,
            text: topic,
        } => {
            text(out, &who.to_string(), "TOPIC", &[room, topic]);
        }
        Event::ModeChanged {
            target,
            by,
            changes,
        } => {
            let rendered = render_modes(changes);
            let mut params = vec![&**target];
            params.extend(rendered.split(' '));
            write(out, &by.to_string(), "MODE", &params);
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
            let source = from.to_string();
            if *long {
                for piece in split_text(body, budget) {
                    let said = [before, piece, after].concat();
                    text(out, &source, command, &[target, &said]);
                }
            } else {
                let said = [before, super::truncate(body, budget), after].concat();
                text(out, &source, command, &[target, &said]);
            }
        }
        Event::TagMessage { from, to, .. } => {
            let target = match to {
                Destination::Room(room) | Destination::User(room) => room,
            };
            write(out, &from.to_string(), "TAGMSG", &[target]);
        }
        Event::Wallops { from, text: said } => text(out, &from.to_string(), "WALLOPS", &[said]),
        Event::Away { who, message } => match message {
            Some(message) => text(out, &who.to_string(), "AWAY", &[message]),
            None => write(out, &who.to_string(), "AWAY", &[]),
        },
        Event::Invited { by, nick, room } => write(out, &by.to_string(), "INVITE", &[nick, room]),
        Event::RealnameChanged { who, realname } => {
            text(out, &who.to_string(), "SETNAME", &[realname]);
        }
        Event::Ping(token) => message::write_text(out, None, "PING", &[token]),
        Event::Missed(count) => {
            let notice = format!("You missed {count} messages: your connection was too slow");
            text(out, server, "NOTICE", &["*", &notice]);
        }
        Event::Closing(reason) => {
            message::write_text(out, None, "ERROR", &[&format!("Closing Link: {reason}")]);
        }
        Event::Reply { me, reply } => encode_reply(reply, server, me, caps, out),
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

/// Appends the numerics (and the odd command) that answer one client.
fn encode_reply(reply: &Reply, server: &str, me: &str, caps: Caps, out: &mut Vec<u8>) {
    // `:server CODE me params... :text`
    let numeric = |out: &mut Vec<u8>, code: &str, params: &[&str]| {
        let mut all = Vec::with_capacity(params.len() + 1);
        all.push(me);
        all.extend_from_slice(params);
        message::write_text(out, Some(server), code, &all);
    };
    // `:server CODE me params...`, for numerics that end in data, not text.
    let data = |out: &mut Vec<u8>, code: &str, params: &[&str]| {
        let mut all = Vec::with_capacity(params.len() + 1);
        all.push(me);
        all.extend_from_slice(params);
        message::write(out, Some(server), code, &all);
    };
    match reply {
        Reply::Welcome(welcome) => {
            let info = &welcome.info;
            let mask = welcome.mask.to_string();
            let greeting = format!("Welcome to the {} IRC network, {mask}", info.network);
            numeric(out, "001", &[&greeting]);
            let host = format!("Your host is {server}, running version {}", info.version);
            numeric(out, "002", &[&host]);
            let created = format!("This server was created {}", info.created);
            numeric(out, "003", &[&created]);
            data(
                out,
                "004",
                &[server, &info.version, "iow", "biklmnostv", "bklov"],
            );
            let network = format!("NETWORK={}", info.network);
            for (line, tokens) in ISUPPORT.iter().enumerate() {
                let mut params: Vec<&str> = tokens.to_vec();
                if line == 1 {
                    params.push(&network);
                }
                params.push("are supported by this server");
                numeric(out, "005", &params);
            }
            encode_reply(&Reply::Lusers(welcome.lusers), server, me, caps, out);
            encode_reply(&Reply::Motd(info.clone()), server, me, caps, out);
        }
        Reply::Cap { subcommand, caps } => {
            message::write_text(out, Some(server), "CAP", &[me, subcommand, caps]);
        }
        Reply::Pong(token) => message::write_text(out, Some(server), "PONG", &[server, token]),
        Reply::Topic { room, topic: None } => numeric(out, "331", &[room, "No topic is set"]),
        Reply::Topic {
            room,
            topic: Some(topic),
        } => {
            numeric(out, "332", &[room, &topic.text]);
            data(
                out,
                "333",
                &[room, &topic.set_by.to_string(), &topic.set_at.to_string()],
            );
        }
        Reply::Names {
            room,
            secret,
            members,
        } => {
            let kind = if *secret { "@" } else { "=" };
            let names: Vec<String> = members
                .iter()
                .map(|member| {
                    let prefix = match (member.operator, member.voice) {
                        (true, true) if caps.contains(Caps::MULTI_PREFIX) => "@+",
                        (true, _) => "@",
                        (false, true) => "+",
                        (false, false) => "",
                    };
                    if caps.contains(Caps::USERHOST_IN_NAMES) {
                        format!("{prefix}{}", member.mask)
                    } else {
                        format!("{prefix}{}", member.mask.nick)
                    }
                })
                .collect();
            // Keep each line well under 512 bytes.
            let budget = MAX_BODY - server.len() - me.len() - room.len() - 16;
            for chunk in chunk_words(&names, budget) {
                numeric(out, "353", &[kind, room, &chunk]);
            }
            numeric(out, "366", &[room, "End of /NAMES list"]);
        }
        Reply::NoNames(room) => numeric(out, "366", &[room, "End of /NAMES list"]),
        Reply::Rooms(rooms) => {
            numeric(out, "321", &["Channel", "Users  Name"]);
            for room in rooms {
                let topic = room.topic.as_deref().unwrap_or("");
                numeric(out, "322", &[&room.name, &room.members.to_string(), topic]);
            }
            numeric(out, "323", &["End of /LIST"]);
        }
        Reply::Who { mask, rows, whox } => {
            for row in rows {
                let flags = format!(
                    "{}{}{}",
                    if row.away { "G" } else { "H" },
                    if row.operator { "*" } else { "" },
                    row.prefixes
                );
                match whox {
                    None => {
                        let realname = format!("0 {}", row.realname);
                        numeric(
                            out,
                            "352",
                            &[
                                &row.room,
                                &row.mask.user,
                                &row.mask.host,
                                server,
                                &row.mask.nick,
                                &flags,
                                &realname,
                            ],
                        );
                    }
                    Some(whox) => {
                        let mut fields: Vec<&str> = Vec::new();
                        // WHOX answers in this fixed order, whatever the
                        // order asked for.
                        for field in "tcuihsnfdlaor".chars() {
                            if !whox.fields.contains(field) {
                                continue;
                            }
                            fields.push(match field {
                                't' => whox.token.as_deref().unwrap_or("0"),
                                'c' => &row.room,
                                'u' => &row.mask.user,
                                'i' => "255.255.255.255",
                                'h' => &row.mask.host,
                                's' => server,
                                'n' => &row.mask.nick,
                                'f' => &flags,
                                'd' => "0",
                                'l' => "0",
                                'a' => "0",
                                'o' => "n/a",
                                _ => &row.realname,
                            });
                        }
                        data(out, "354", &fields);
                    }
                }
            }
            numeric(out, "315", &[mask, "End of /WHO list"]);
        }
        Reply::Whois(whois) => {
            let nick = &whois.mask.nick;
            numeric(
                out,
                "311",
                &[
                    nick,
                    &whois.mask.user,
                    &whois.mask.host,
                    "*",
                    &whois.realname,
                ],
            );
            let budget = MAX_BODY - server.len() - me.len() - nick.len() - 16;
            for rooms in chunk_words(&whois.rooms, budget) {
                numeric(out, "319", &[nick, &rooms]);
            }
            numeric(out, "312", &[nick, &whois.server, "switchboard"]);
            if whois.operator {
                numeric(out, "313", &[nick, "is an IRC operator"]);
            }
            if let Some(away) = &whois.away {
                numeric(out, "301", &[nick, away]);
            }
            numeric(
                out,
                "317",
                &[
                    nick,
                    &whois.idle_secs.to_string(),
                    &whois.signon.to_string(),
                    "seconds idle, signon time",
                ],
            );
            numeric(out, "318", &[nick, "End of /WHOIS list"]);
        }
        Reply::WhoisEnd(nick) => numeric(out, "318", &[nick, "End of /WHOIS list"]),
        Reply::Ison(nicks) => {
            let nicks: Vec<&str> = nicks.iter().map(|nick| &**nick).collect();
            numeric(out, "303", &[&nicks.join(" ")]);
        }
        Reply::Userhost(users) => {
            let entries: Vec<String> = users
                .iter()
                .map(|(mask, away)| {
                    format!(
                        "{}={}{}@{}",
                        mask.nick,
                        if *away { '-' } else { '+' },
                        mask.user,
                        mask.host
                    )
                })
                .collect();
            numeric(out, "302", &[&entries.join(" ")]);
        }
        Reply::Version(info) => {
            numeric(out, "351", &[&info.version, server, "threads and channels"])
        }
        Reply::Time(time) => numeric(out, "391", &[server, time]),
        Reply::Lusers(lusers) => {
            let users = lusers.users.to_string();
            let max = lusers.max_users.to_string();
            let (visible, invisible) = (lusers.users - lusers.invisible, lusers.invisible);
            numeric(
                out,
                "251",
                &[&format!(
                    "There are {visible} users and {invisible} invisible on 1 servers"
                )],
            );
            if lusers.operators > 0 {
                let operators = lusers.operators.to_string();
                numeric(out, "252", &[&operators, "operator(s) online"]);
            }
            if lusers.unregistered > 0 {
                numeric(
                    out,
                    "253",
                    &[&lusers.unregistered.to_string(), "unknown connection(s)"],
                );
            }
            numeric(out, "254", &[&lusers.rooms.to_string(), "channels formed"]);
            numeric(
                out,
                "255",
                &[&format!("I have {users} clients and 0 servers")],
            );
            numeric(
                out,
                "265",
                &[
                    &users,
                    &max,
                    &format!("Current local users {users}, max {max}"),
                ],
            );
            numeric(
                out,
                "266",
                &[
                    &users,
                    &max,
                    &format!("Current global users {users}, max {max}"),
                ],
            );
        }
        Reply::Motd(info) => match &info.motd {
            Some(motd) => {
                numeric(out, "375", &[&format!("- {server} Message of the day - ")]);
                for line in motd {
                    numeric(out, "372", &[&format!("- {line}")]);
                }
                numeric(out, "376", &["End of /MOTD command."]);
            }
            None => numeric(out, "422", &["MOTD File is missing"]),
        },
        Reply::Info(info) => {
            for line in [
                &*info.version,
                "a chat server for IRC clients and nc or telnet users",
                "built on plain OS threads and channels",
                &format!("running since {}", info.created),
            ] {
                numeric(out, "371", &[line]);
            }
            numeric(out, "374", &["End of INFO list"]);
        }
        Reply::Whowas { nick, entries } => {
            if entries.is_empty() {
                numeric(out, "406", &[nick, "There was no such nickname"]);
            }
            for entry in entries {
                let mask = &entry.mask;
                numeric(
                    out,
                    "314",
                    &[&mask.nick, &mask.user, &mask.host, "*", &entry.realname],
                );
                numeric(out, "312", &[&mask.nick, &entry.server, &entry.left]);
            }
            numeric(out, "369", &[nick, "End of WHOWAS"]);
        }
        Reply::YoureOper => numeric(out, "381", &["You are now an IRC operator"]),
        Reply::RoomModes {
            room,
            modes,
            created,
        } => {
            let mut params = vec![&**room];
            params.extend(modes.split(' '));
            data(out, "324", &params);
            data(out, "329", &[room, &created.to_string()]);
        }
        Reply::BanList { room, bans } => {
            for ban in bans {
                data(
                    out,
                    "367",
                    &[room, &ban.mask, &ban.set_by, &ban.set_at.to_string()],
                );
            }
            numeric(out, "368", &[room, "End of channel ban list"]);
        }
        Reply::UserModes(modes) => data(out, "221", &[modes]),
        Reply::Inviting { nick, room } => data(out, "341", &[nick, room]),
        Reply::Away(true) => numeric(out, "306", &["You have been marked as being away"]),
        Reply::Away(false) => numeric(out, "305", &["You are no longer marked as being away"]),
        Reply::IsAway { nick, message } => numeric(out, "301", &[nick, message]),
        // Line-protocol conveniences with no IRC counterpart.
        Reply::Switched(_) | Reply::Help | Reply::TimingMark => {}
        Reply::Error(error) => encode_error(error, server, me, out),
    }
}

/// Appends the numeric for an error, or a notice when IRC has none.
fn encode_error(error: &Error, server: &str, me: &str, out: &mut Vec<u8>) {
    let numeric = |out: &mut Vec<u8>, code: &str, params: &[&str]| {
        let mut all = vec![me];
        all.extend_from_slice(params);
        message::write_text(out, Some(server), code, &all);
    };
    match error {
        Error::NeedNick | Error::NotRegistered => numeric(out, "451", &["You have not registered"]),
        Error::AlreadyRegistered => numeric(out, "462", &["You may not reregister"]),
        Error::NickInUse(nick) => numeric(out, "433", &[nick, "Nickname is already in use"]),
        Error::BadNick(nick) => numeric(out, "432", &[nick, "Erroneous nickname"]),
        Error::NoNickGiven => numeric(out, "431", &["No nickname given"]),
        Error::BadRoomName(room) => numeric(out, "476", &[room, "Bad Channel Mask"]),
        Error::NoSuchUser(nick) => numeric(out, "401", &[nick, "No such nick/channel"]),
        Error::NoSuchRoom(room) => numeric(out, "403", &[room, "No such channel"]),
        Error::NotInRoom(room) => numeric(out, "442", &[room, "You're not on that channel"]),
        Error::UserNotInRoom { nick, room } => {
            numeric(out, "441", &[nick, room, "They aren't on that channel"]);
        }
        Error::AlreadyInRoom { nick, room } => {
            numeric(out, "443", &[nick, room, "is already on channel"]);
        }
        Error::BadKey(room) => numeric(out, "475", &[room, "Cannot join channel (+k)"]),
        Error::InviteOnly(room) => numeric(out, "473", &[room, "Cannot join channel (+i)"]),
        Error::RoomFull(room) => numeric(out, "471", &[room, "Cannot join channel (+l)"]),
        Error::Banned(room) => numeric(out, "474", &[room, "Cannot join channel (+b)"]),
        Error::CannotSend(room) => numeric(out, "404", &[room, "Cannot send to channel"]),
        Error::TooManyRooms(_) => numeric(out, "405", &["*", "You have joined too many channels"]),
        Error::NotOperator(room) => numeric(out, "482", &[room, "You're not channel operator"]),
        Error::UnknownMode(mode) => {
            numeric(
                out,
                "472",
                &[&mode.to_string(), "is unknown mode char to me"],
            );
        }
        Error::UnknownUserMode(_) => numeric(out, "501", &["Unknown MODE flag"]),
        Error::InvalidKey(room) => numeric(out, "696", &[room, "k", "*", "Invalid key"]),
        Error::BanListFull(room) => numeric(out, "478", &[room, "b", "Channel ban list is full"]),
        Error::UsersDontMatch => numeric(out, "502", &["Can't change mode for other users"]),
        Error::PasswordMismatch | Error::OperFailed => {
            numeric(out, "464", &["Password incorrect"]);
        }
        Error::NoPrivileges => numeric(
            out,
            "481",
            &["Permission Denied- You're not an IRC operator"],
        ),
        Error::OperRefused { .. } => numeric(out, "491", &[&error.to_string()]),
        Error::NoText => numeric(out, "412", &["No text to send"]),
        Error::NoRecipient => numeric(out, "411", &["No recipient given"]),
        Error::UnknownCommand(command) => numeric(out, "421", &[command, "Unknown command"]),
        Error::MissingArgument { command, .. } => {
            numeric(out, "461", &[command, "Not enough parameters"]);
        }
        Error::InvalidCapCommand(command) => numeric(out, "410", &[command, "Invalid CAP command"]),
        Error::LineTooLong(_) => numeric(out, "417", &["Input line was too long"]),
        Error::InvalidUtf8 => message::write_text(
            out,
            Some(server),
            "FAIL",
            &[
                "*",
                "INVALID_UTF8",
                "Message rejected, your IRC software MUST use UTF-8",
            ],
        ),
        // The rest have no numeric; a notice carries the words.
        Error::AlreadyNamed | Error::NoCurrentRoom | Error::TopicTooLong(_) | Error::EmptyLine => {
            message::write_text(out, Some(server), "NOTICE", &[me, &error.to_string()]);
        }
    }
}

/// Joins words with spaces into lines of at most `budget` bytes.
fn chunk_words(words: &[String], budget: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in words {
        if !current.is_empty() && current.len() + 1 + word.len() > budget {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}
