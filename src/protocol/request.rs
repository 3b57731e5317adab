//! What a client asks for: the [`Request`] a codec decodes and the types
//! its commands carry (targets, message kinds, mode changes).

use super::{AccountCommand, Error, HistoryQuery, Name};
use crate::limits::TARGETS_MAX;

/// Something a client asks the server to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// The server password (IRC `PASS`).
    Pass(String),
    /// Pick or change the nickname.
    Nick(String),
    /// IRC `USER`: the user name and real name, needed to register.
    User {
        user: String,
        realname: String,
    },
    /// IRC capability negotiation.
    Cap(CapCommand),
    /// The client checks the connection; answered with a pong.
    Ping(String),
    /// The client answers our ping.
    Pong,
    /// Join rooms, creating those nobody is in; each with its key, if any.
    Join(Vec<(String, Option<String>)>),
    /// Leave every room (IRC `JOIN 0`).
    LeaveAll,
    /// Leave rooms (the current one when the list is empty).
    Leave {
        rooms: Vec<String>,
        reason: Option<String>,
    },
    /// Make a room the current one, where plain text goes.
    Switch(String),
    /// List rooms: all of them, or those named.
    List(Vec<String>),
    /// A room's members (the current room when `None`).
    Names(Option<String>),
    /// Details of the users matching a mask or in a room (IRC `WHO`).
    Who {
        mask: String,
        whox: Option<Whox>,
    },
    /// Details of one user.
    Whois(String),
    /// Ask for a room's topic (`text: None`) or set it (empty text clears it).
    Topic {
        room: Option<String>,
        text: Option<String>,
    },
    /// Say something to rooms or users (the current room when `to` is empty).
    Message {
        to: Vec<Target>,
        /// Shared as it is with every event made from it.
        text: Name,
        kind: MessageKind,
        /// Client-only message tags (`+key=value`), escaped as received.
        tags: Option<String>,
    },
    /// Only message tags, no text (IRC `TAGMSG`).
    TagMessage {
        to: Vec<Target>,
        tags: String,
    },
    /// Remove users from a room.
    Kick {
        room: String,
        nicks: Vec<String>,
        reason: Option<String>,
    },
    /// Invite a user to a room (the current one when `None`).
    Invite {
        nick: String,
        room: Option<String>,
    },
    /// Show (no changes) or change the modes of a room or of oneself.
    Mode {
        target: String,
        changes: Vec<ModeChange>,
    },
    /// Mark oneself away with a message, or back with `None`.
    Away(Option<String>),
    /// Which of these nicknames are online.
    Ison(Vec<String>),
    /// `nick=user@host` for up to five nicknames.
    Userhost(Vec<String>),
    Version,
    Time,
    Lusers,
    Motd,
    /// What the server is (IRC `INFO`).
    Info,
    /// Users who had a nickname lately: at most `count` entries, all of
    /// them when `None`.
    Whowas {
        nick: String,
        count: Option<usize>,
    },
    /// Become a server operator.
    Oper {
        name: String,
        password: String,
    },
    /// Disconnect a user (server operators only).
    Kill {
        nick: String,
        reason: Option<String>,
    },
    /// A message to every user with user mode `+w` (server operators only).
    Wallops(String),
    /// A telnet client asks to be told when its earlier input was handled
    /// (`IAC DO TIMING-MARK`, sent after Ctrl-C); it shows nothing until then.
    TimingMark,
    /// Change one's real name (IRCv3 `setname`).
    SetName(String),
    /// Read history: a line user's `/history` (no target: the current
    /// room), or IRC's `CHATHISTORY`.
    History {
        target: Option<String>,
        query: HistoryQuery,
    },
    /// IRC `CHATHISTORY TARGETS`: the conversations with messages between
    /// two moments.
    HistoryTargets {
        from: jiff::Timestamp,
        to: jiff::Timestamp,
        limit: usize,
    },
    /// Register, log in, log out... (IRC: a message to NickServ).
    Account(AccountCommand),
    /// One IRC `AUTHENTICATE` argument: a mechanism, a chunk of base64,
    /// `+` or `*` (abort).
    Authenticate(String),
    /// Leave the server.
    Quit(Option<String>),
    /// Ask for the list of commands.
    Help,
    /// A line the codec could not make sense of; the client gets the error.
    Invalid(Error),
    /// IRC `labeled-response`: a request whose answers carry its label
    /// (as it came, escaped), to a client with the capability.
    Labeled {
        label: String,
        request: Box<Request>,
    },
}

/// `CAP` subcommands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CapCommand {
    /// List what is offered; 302 or more means values and multi-line replies.
    Ls(u32),
    /// List what is enabled.
    List,
    /// Enable (or with `-`, disable) capabilities, all or none.
    Req(String),
    /// Negotiation is over; registration may complete.
    End,
}

/// The fields a WHOX query (`WHO mask %fields,token`) asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Whox {
    pub fields: String,
    pub token: Option<String>,
}

/// Where a message is addressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Room(String),
    User(String),
}

impl Target {
    /// Rooms start with `#`; anything else names a user.
    pub fn parse(name: &str) -> Target {
        if name.starts_with('#') {
            Target::Room(name.to_owned())
        } else {
            Target::User(name.to_owned())
        }
    }

    /// The room or nickname, as given.
    pub fn name(&self) -> &str {
        match self {
            Target::Room(name) | Target::User(name) => name,
        }
    }

    /// The distinct targets among comma-separated `names` (ASCII case
    /// ignored, as names are), in order. Past [`TARGETS_MAX`] the rest are
    /// not looked at: one more is kept, to say which was too many.
    pub fn distinct(names: &str) -> Vec<Target> {
        let mut targets: Vec<Target> = Vec::new();
        for name in names.split(',').filter(|name| !name.is_empty()) {
            if targets.len() > TARGETS_MAX {
                break;
            }
            if !targets
                .iter()
                .any(|seen| seen.name().eq_ignore_ascii_case(name))
            {
                targets.push(Target::parse(name));
            }
        }
        targets
    }
}

impl Request {
    /// The flood-control tokens this request costs: one per line, and for
    /// a message one per target (at most [`TARGETS_MAX`]), since each is a
    /// delivery others must read. Cheap: the transport asks for every line.
    pub fn cost(&self) -> u32 {
        match self {
            Request::Message { to, .. } | Request::TagMessage { to, .. } => {
                to.len().clamp(1, TARGETS_MAX) as u32
            }
            Request::Labeled { request, .. } => request.cost(),
            _ => 1,
        }
    }
}

/// Plain speech, an action (`/me waves`), an IRC notice, or a CTCP request
/// or answer between clients (the text is then `COMMAND [arguments]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    Say,
    Action,
    /// Never answered automatically: no errors, no away replies.
    Notice,
    /// A CTCP request other than `ACTION`, such as `VERSION` or `PING 123`.
    Ctcp,
    /// The answer to a CTCP request; like a notice, never answered.
    CtcpReply,
}

impl MessageKind {
    /// Notices and CTCP answers are never answered automatically, not even
    /// with errors, so two programs cannot answer each other forever.
    pub fn is_quiet(self) -> bool {
        matches!(self, MessageKind::Notice | MessageKind::CtcpReply)
    }
}

/// One mode letter to set or unset, with its argument if it takes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModeChange {
    pub add: bool,
    pub mode: char,
    pub arg: Option<String>,
}

impl ModeChange {
    /// Parses `+o-v+k nick nick key`: mode letters take arguments from the
    /// words after them as IRC's `CHANMODES` says (`b`, `k`, `o`, `v` always;
    /// `l` only when set). A letter whose argument is missing gets `None`.
    pub fn parse(modes: &str, args: &[&str]) -> Vec<ModeChange> {
        let mut args = args.iter();
        let mut add = true;
        let mut changes = Vec::new();
        for mode in modes.chars() {
            match mode {
                '+' => add = true,
                '-' => add = false,
                _ => {
                    let takes_arg = matches!(mode, 'b' | 'k' | 'o' | 'v') || (mode == 'l' && add);
                    let arg = takes_arg
                        .then(|| args.next().map(|arg| (*arg).to_owned()))
                        .flatten();
                    changes.push(ModeChange { add, mode, arg });
                }
            }
        }
        changes
    }
}

/// Writes mode changes as IRC does: `+ok-v bob key carol`.
pub fn render_modes(changes: &[ModeChange]) -> String {
    let mut rendered = mode_letters(changes);
    for arg in changes.iter().filter_map(|change| change.arg.as_deref()) {
        rendered.push(' ');
        rendered.push_str(arg);
    }
    rendered
}

/// The letters of mode changes, as IRC writes them: `+ok-v`.
pub fn mode_letters(changes: &[ModeChange]) -> String {
    let mut letters = String::new();
    let mut sign = None;
    for change in changes {
        if sign != Some(change.add) {
            letters.push(if change.add { '+' } else { '-' });
            sign = Some(change.add);
        }
        letters.push(change.mode);
    }
    letters
}
