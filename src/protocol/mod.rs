//! What clients ask for and what they are told, independent of the wire.
//!
//! A codec turns a line of bytes into a [`Request`] and an [`Event`] into
//! bytes. The router only ever sees these protocol-neutral types, which is what
//! lets an IRC user and a line-protocol user share a room.
//!
//! Codecs are sans-io: they never touch a socket, so they are tested on plain
//! byte slices.

pub mod framing;
pub mod line;

use std::fmt;
use std::sync::{Arc, OnceLock};

/// A nickname or room name as users see it, shared cheaply between events.
pub type Name = Arc<str>;

/// The wire protocol a listener speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// The human line protocol for `nc` and `telnet`, see docs/line-protocol.md.
    Line,
}

impl Protocol {
    /// Turns one framed line (without its terminator) into a request.
    ///
    /// A line that cannot be understood becomes [`Request::Invalid`], so the
    /// error reaches the client through the router, in order with the replies
    /// to the lines before it.
    pub fn decode(self, line: &[u8]) -> Request {
        let decoded = match self {
            Protocol::Line => line::decode(line),
        };
        decoded.unwrap_or_else(Request::Invalid)
    }

    /// Appends the wire form of `event` to `out`.
    pub fn encode(self, event: &Event, out: &mut Vec<u8>) {
        match self {
            Protocol::Line => line::encode(event, out),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Line => "line",
        })
    }
}

/// Something a client asks the server to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Pick or change the nickname.
    Nick(String),
    /// Join a room, creating it if nobody is in it; a room's key if it has one.
    Join { room: String, key: Option<String> },
    /// Leave a room (the current one when `None`).
    Leave {
        room: Option<String>,
        reason: Option<String>,
    },
    /// Make a room the current one, where plain text goes.
    Switch(String),
    /// List the rooms.
    Rooms,
    /// List the members of a room (the current one when `None`).
    Who(Option<String>),
    /// Ask for a room's topic (`text: None`) or set it (empty text clears it).
    Topic {
        room: Option<String>,
        text: Option<String>,
    },
    /// Say something to a room or a user (the current room when `to` is `None`).
    Message {
        to: Option<Target>,
        text: String,
        kind: MessageKind,
    },
    /// Leave the server.
    Quit(Option<String>),
    /// Ask for the list of commands.
    Help,
    /// A line the codec could not make sense of; the client gets the error.
    Invalid(Error),
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
}

/// Plain speech or an action (`/me waves`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    Say,
    Action,
}

/// Something a client is told. Broadcasts are built once and shared by every
/// recipient through an [`Outgoing`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The first thing a new connection sees.
    Greeting,
    /// The client picked its first nickname.
    Welcome {
        nick: Name,
    },
    Joined {
        room: Name,
        nick: Name,
    },
    Left {
        room: Name,
        nick: Name,
        reason: Option<Name>,
    },
    Quit {
        nick: Name,
        reason: Option<Name>,
    },
    NickChanged {
        old: Name,
        new: Name,
    },
    /// Somebody set (or, with empty text, cleared) a room's topic.
    TopicChanged {
        room: Name,
        nick: Name,
        text: Name,
    },
    Message {
        from: Name,
        to: Destination,
        text: Name,
        kind: MessageKind,
    },
    /// Reply: a room's topic.
    Topic {
        room: Name,
        topic: Option<Topic>,
    },
    /// Reply: a room's members, sorted by nickname.
    Members {
        room: Name,
        members: Vec<Member>,
    },
    /// Reply: every room, sorted by name.
    Rooms(Vec<RoomSummary>),
    /// Reply: plain text now goes to this room.
    Switched {
        room: Name,
    },
    /// Reply: the list of commands.
    Help,
    /// This many messages were dropped because the client read too slowly.
    Missed(u64),
    Error(Error),
    /// The server is closing the connection, and why.
    Closing(Name),
}

/// Where a delivered message was said: in a room, or privately to its reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Room(Name),
    /// A private message; the name is its recipient.
    User(Name),
}

/// A room's topic and who set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topic {
    pub text: Name,
    pub set_by: Name,
}

/// A member of a room as listed by `/who`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub nick: Name,
    pub operator: bool,
}

/// One line of the room list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomSummary {
    pub name: Name,
    pub members: usize,
    pub topic: Option<Name>,
}

/// Why a request was refused. `Display` gives the text users read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    NeedNick,
    AlreadyNamed,
    NickInUse(String),
    BadNick(String),
    BadRoomName(String),
    NoSuchUser(String),
    NoSuchRoom(String),
    NotInRoom(String),
    NoCurrentRoom,
    BadKey(String),
    TooManyRooms(usize),
    NotOperator(String),
    TopicTooLong(usize),
    UnknownCommand(String),
    MissingArgument { usage: &'static str },
    LineTooLong(usize),
    InvalidUtf8,
    EmptyLine,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NeedNick => write!(f, "pick a nickname first: /nick NAME"),
            Error::AlreadyNamed => write!(f, "you already have that nickname"),
            Error::NickInUse(nick) => write!(f, "nickname in use: {nick}"),
            Error::BadNick(nick) => write!(
                f,
                "invalid nickname: {nick} (1-{} letters, digits or -[]\\`^_{{|}}, not starting with a digit or -)",
                crate::router::NICK_MAX
            ),
            Error::BadRoomName(room) => write!(
                f,
                "invalid room name: {room} (# then up to {} bytes, no spaces, commas or control characters)",
                crate::router::ROOM_MAX - 1
            ),
            Error::NoSuchUser(nick) => write!(f, "no such user: {nick}"),
            Error::NoSuchRoom(room) => write!(f, "no such room: {room}"),
            Error::NotInRoom(room) => write!(f, "you are not in {room}"),
            Error::NoCurrentRoom => write!(f, "you are not in a room: /join #room first"),
            Error::BadKey(room) => write!(f, "wrong or missing key for {room}"),
            Error::TooManyRooms(max) => write!(f, "you are in too many rooms (at most {max})"),
            Error::NotOperator(room) => write!(f, "you are not an operator of {room}"),
            Error::TopicTooLong(max) => write!(f, "topic too long (at most {max} bytes)"),
            Error::UnknownCommand(command) => write!(f, "unknown command: /{command} (try /help)"),
            Error::MissingArgument { usage } => write!(f, "missing argument: {usage}"),
            Error::LineTooLong(max) => {
                write!(f, "line too long (at most {max} bytes), ignored")
            }
            Error::InvalidUtf8 => write!(f, "line is not valid UTF-8, ignored"),
            Error::EmptyLine => write!(f, "empty line ignored (type /help for commands)"),
        }
    }
}

/// An event on its way to one or many clients, with its wire encodings.
///
/// The router wraps each event once and hands every recipient a clone of the
/// `Arc`. Each protocol's bytes are produced by the first writer that needs
/// them and shared by the rest, so a broadcast to a thousand clients is
/// formatted once per protocol, never once per recipient, and never on the
/// router thread.
#[derive(Debug)]
pub struct Outgoing {
    event: Event,
    line: OnceLock<Box<[u8]>>,
}

impl Outgoing {
    /// Wraps an event for delivery.
    pub fn new(event: Event) -> Arc<Outgoing> {
        Arc::new(Outgoing {
            event,
            line: OnceLock::new(),
        })
    }

    /// The event itself.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The event's bytes in `protocol`, encoded on first use.
    pub fn encoded(&self, protocol: Protocol) -> &[u8] {
        let cell = match protocol {
            Protocol::Line => &self.line,
        };
        cell.get_or_init(|| {
            let mut out = Vec::new();
            protocol.encode(&self.event, &mut out);
            out.into_boxed_slice()
        })
    }
}
