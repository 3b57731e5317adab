//! The numerics (and the odd command) that answer one client.

use super::{MAX_BODY, message};
use crate::accounts::sasl;
use crate::protocol::account::NICKSERV;
use crate::protocol::{Caps, Error, Lusers, Reply, SaslReply, ServerInfo};

/// Appends the numerics (and the odd command) that answer one client.
pub(super) fn encode_reply(reply: &Reply, server: &str, me: &str, caps: Caps, out: &mut Vec<u8>) {
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
            for (line, tokens) in isupport().iter().enumerate() {
                let mut params: Vec<&str> = tokens.iter().map(String::as_str).collect();
                if line == 1 {
                    params.push(&network);
                }
                params.push("are supported by this server");
                numeric(out, "005", &params);
            }
            write_lusers(&welcome.lusers, &numeric, out);
            write_motd(info, server, &numeric, out);
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
            let budget = MAX_BODY
                .saturating_sub(server.len() + me.len() + room.len() + 16)
                .max(1);
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
                                'a' => row.account.as_deref().unwrap_or("0"),
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
            let budget = MAX_BODY
                .saturating_sub(server.len() + me.len() + nick.len() + 16)
                .max(1);
            for rooms in chunk_words(&whois.rooms, budget) {
                numeric(out, "319", &[nick, &rooms]);
            }
            numeric(out, "312", &[nick, &whois.server, "switchboard"]);
            if let Some(account) = &whois.account {
                numeric(out, "330", &[nick, account, "is logged in as"]);
            }
            if whois.operator {
                numeric(out, "313", &[nick, "is an IRC operator"]);
            }
            if whois.secure {
                numeric(out, "671", &[nick, "is using a secure connection"]);
            }
            if let Some(certfp) = &whois.certfp {
                let text = format!("has client certificate fingerprint {certfp}");
                numeric(out, "276", &[nick, &text]);
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
        Reply::Lusers(lusers) => write_lusers(lusers, &numeric, out),
        Reply::Motd(info) => write_motd(info, server, &numeric, out),
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
        Reply::Account(notice) => {
            let source = format!("{NICKSERV}!{NICKSERV}@{server}");
            message::write_text(out, Some(&source), "NOTICE", &[me, &notice.to_string()]);
        }
        Reply::LoggedIn { mask, account } => {
            let said = format!("You are now logged in as {account}");
            numeric(out, "900", &[&mask.to_string(), account, &said]);
        }
        Reply::LoggedOut(mask) => {
            numeric(out, "901", &[&mask.to_string(), "You are now logged out"]);
        }
        Reply::Sasl(reply) => encode_sasl(reply, server, me, out),
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
        Reply::Draining(waiting) => {
            let notice = format!(
                "You closed your end: {waiting} lines still waiting go out at the flood-control pace, then the connection closes"
            );
            message::write_text(out, Some(server), "NOTICE", &[me, &notice]);
        }
        // Line-protocol conveniences with no IRC counterpart.
        Reply::History {
            target,
            kind,
            messages,
        } => super::history::encode_page(target, *kind, messages, server, caps, out),
        Reply::HistoryTargets(targets) => {
            super::history::encode_targets(targets, server, caps, out);
        }
        Reply::Queued(nick) => {
            let notice =
                format!("{nick} is offline: your message will be delivered when they log in");
            message::write_text(out, Some(server), "NOTICE", &[me, &notice]);
        }
        Reply::Switched(_) | Reply::Help | Reply::TimingMark => {}
        Reply::Error(error) => encode_error(error, server, me, out),
    }
}

/// Writes a numeric from its code and the parameters after the client's
/// nick: `numeric` in [`encode_reply`].
type Numeric<'a> = dyn Fn(&mut Vec<u8>, &str, &[&str]) + 'a;

/// RPL_LUSERCLIENT to RPL_GLOBALUSERS, for LUSERS and a welcome. A
/// function of its own, as is [`write_motd`], so that a welcome does not
/// call [`encode_reply`] again: two of its frames (700 bytes each) on
/// top of each other took each threaded writer into a third page of
/// stack, which it keeps for the connection's life (BENCHMARKS.md,
/// "Threaded idle memory went up with TLS and the web").
fn write_lusers(lusers: &Lusers, numeric: &Numeric<'_>, out: &mut Vec<u8>) {
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

/// The message of the day, or ERR_NOMOTD, for MOTD and a welcome; see
/// [`write_lusers`].
fn write_motd(info: &ServerInfo, server: &str, numeric: &Numeric<'_>, out: &mut Vec<u8>) {
    match &info.motd {
        Some(motd) => {
            numeric(out, "375", &[&format!("- {server} Message of the day - ")]);
            for line in motd {
                numeric(out, "372", &[&format!("- {line}")]);
            }
            numeric(out, "376", &["End of /MOTD command."]);
        }
        None => numeric(out, "422", &["MOTD File is missing"]),
    }
}

/// Appends an `AUTHENTICATE` step, or the numeric that ends the exchange.
fn encode_sasl(reply: &SaslReply, server: &str, me: &str, out: &mut Vec<u8>) {
    let numeric = |out: &mut Vec<u8>, code: &str, params: &[&str]| {
        let mut all = vec![me];
        all.extend_from_slice(params);
        message::write_text(out, Some(server), code, &all);
    };
    match reply {
        SaslReply::Continue(data) => {
            for chunk in sasl::chunks(data) {
                message::write(out, None, "AUTHENTICATE", &[&chunk]);
            }
        }
        SaslReply::Success => numeric(out, "903", &["SASL authentication successful"]),
        SaslReply::Failed => numeric(out, "904", &["SASL authentication failed"]),
        SaslReply::TooLong => numeric(out, "905", &["SASL message too long"]),
        SaslReply::Aborted => numeric(out, "906", &["SASL authentication aborted"]),
        SaslReply::Already => numeric(out, "907", &["You have already authenticated using SASL"]),
        SaslReply::Mechanisms => {
            message::write_text(
                out,
                Some(server),
                "908",
                &[me, sasl::MECHANISMS, "are available SASL mechanisms"],
            );
        }
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
        Error::InvalidBanMask(room) => numeric(out, "696", &[room, "b", "*", "Invalid ban mask"]),
        Error::TooManyTargets { target } => {
            let reason = format!(
                "Too many recipients: at most {} per message",
                crate::limits::TARGETS_MAX
            );
            numeric(out, "407", &[target, &reason]);
        }
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
        Error::ForbiddenCharacter => message::write_text(
            out,
            Some(server),
            "FAIL",
            &[
                "*",
                "INVALID_CHARACTERS",
                "Message rejected: it contains a NUL or a bare CR",
            ],
        ),
        Error::InvalidHistory(_) | Error::HistoryOff => message::write_text(
            out,
            Some(server),
            "FAIL",
            &["CHATHISTORY", "INVALID_PARAMS", &error.to_string()],
        ),
        Error::HistoryRefused { command, target } => message::write_text(
            out,
            Some(server),
            "FAIL",
            &[
                "CHATHISTORY",
                "INVALID_TARGET",
                command,
                target,
                "Messages could not be retrieved",
            ],
        ),
        // The rest have no numeric; a notice carries the words.
        Error::AlreadyNamed
        | Error::NoCurrentRoom
        | Error::TopicTooLong(_)
        | Error::EmptyLine
        | Error::OfflineFull(_)
        | Error::Busy => {
            message::write_text(out, Some(server), "NOTICE", &[me, &error.to_string()]);
        }
    }
}

/// What `RPL_ISUPPORT` advertises, in two lines of at most 13 tokens,
/// from the limits the server enforces.
fn isupport() -> [Vec<String>; 2] {
    use crate::limits::*;
    [
        vec![
            format!("AWAYLEN={AWAY_MAX}"),
            "CASEMAPPING=ascii".into(),
            format!("CHANLIMIT=#:{ROOMS_PER_CLIENT}"),
            "CHANMODES=b,k,l,imnst".into(),
            format!("CHANNELLEN={ROOM_MAX}"),
            "CHANTYPES=#".into(),
            "ELIST=".into(),
            format!("HOSTLEN={HOST_MAX}"),
            format!("KICKLEN={KICK_MAX}"),
            format!("MAXLIST=b:{BANS_PER_ROOM}"),
            format!("MODES={MODES_MAX}"),
            format!("NICKLEN={NICK_MAX}"),
            "PREFIX=(ov)@+".into(),
        ],
        vec![
            format!(
                "TARGMAX=JOIN:,KICK:1,LIST:,NAMES:1,NOTICE:{TARGETS_MAX},PART:,PRIVMSG:{TARGETS_MAX},TAGMSG:{TARGETS_MAX},WHOIS:1"
            ),
            format!("CHATHISTORY={HISTORY_LIMIT}"),
            format!("KEYLEN={KEY_MAX}"),
            "MSGREFTYPES=msgid,timestamp".into(),
            format!("TOPICLEN={TOPIC_MAX}"),
            format!("USERLEN={USER_MAX}"),
            "UTF8ONLY".into(),
            "WHOX".into(),
        ],
    ]
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
