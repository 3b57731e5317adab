//! Why a request was refused, in the words users read.

use std::fmt;

/// Why a request was refused. `Display` gives the text users read; the IRC
/// codec maps each to its numeric.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    NeedNick,
    NotRegistered,
    AlreadyRegistered,
    AlreadyNamed,
    NickInUse(String),
    BadNick(String),
    NoNickGiven,
    BadRoomName(String),
    NoSuchUser(String),
    NoSuchRoom(String),
    NotInRoom(String),
    UserNotInRoom {
        nick: String,
        room: String,
    },
    AlreadyInRoom {
        nick: String,
        room: String,
    },
    NoCurrentRoom,
    BadKey(String),
    InviteOnly(String),
    RoomFull(String),
    Banned(String),
    CannotSend(String),
    TooManyRooms(usize),
    NotOperator(String),
    TopicTooLong(usize),
    UnknownMode(char),
    UnknownUserMode(char),
    /// A room key with spaces, commas or control characters, or too long.
    InvalidKey(String),
    BanListFull(String),
    /// A ban mask with spaces or control characters, or too long or too
    /// wild (see [`crate::limits::valid_mask`]).
    InvalidBanMask(String),
    /// A message to more distinct targets than [`crate::limits::TARGETS_MAX`];
    /// `target` is the first one over.
    TooManyTargets {
        target: String,
    },
    UsersDontMatch,
    PasswordMismatch,
    /// A server-operator command from someone who is not one.
    NoPrivileges,
    /// `OPER` with a wrong name or password.
    OperFailed,
    /// `OPER` while no operators are configured, or too soon after a failure.
    OperRefused {
        retry_secs: u64,
    },
    NoText,
    NoRecipient,
    UnknownCommand(String),
    InvalidCapCommand(String),
    MissingArgument {
        command: &'static str,
        usage: &'static str,
    },
    LineTooLong(usize),
    InvalidUtf8,
    /// A NUL or a carriage return inside a line: relayed, either could cut
    /// or forge lines on other clients' screens.
    ForbiddenCharacter,
    EmptyLine,
    /// History is not kept (`--history off`).
    HistoryOff,
    /// A history read that makes no sense; the text says why.
    InvalidHistory(String),
    /// A history read of a room one is not in, or of someone one cannot
    /// have talked with; `command` is IRC's `CHATHISTORY` subcommand.
    HistoryRefused {
        command: &'static str,
        target: String,
    },
    /// A private message to someone offline whose box of waiting messages
    /// is full (or holds all this sender may leave there).
    OfflineFull(String),
    /// A helper's queue was full; nothing was done.
    Busy,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NeedNick => write!(f, "pick a nickname first: /nick NAME"),
            Error::NotRegistered => write!(f, "You have not registered"),
            Error::AlreadyRegistered => write!(f, "You may not reregister"),
            Error::AlreadyNamed => write!(f, "you already have that nickname"),
            Error::NickInUse(nick) => write!(f, "nickname in use: {nick}"),
            Error::BadNick(nick) => write!(
                f,
                "invalid nickname: {nick} (1-{} letters, digits or -[]\\`^_{{|}}, not starting with a digit or -)",
                crate::router::NICK_MAX
            ),
            Error::NoNickGiven => write!(f, "no nickname given"),
            Error::BadRoomName(room) => write!(
                f,
                "invalid room name: {room} (# then up to {} bytes, no spaces, commas or control characters)",
                crate::router::ROOM_MAX - 1
            ),
            Error::NoSuchUser(nick) => write!(f, "no such user: {nick}"),
            Error::NoSuchRoom(room) => write!(f, "no such room: {room}"),
            Error::NotInRoom(room) => write!(f, "you are not in {room}"),
            Error::UserNotInRoom { nick, room } => write!(f, "{nick} is not in {room}"),
            Error::AlreadyInRoom { nick, room } => write!(f, "{nick} is already in {room}"),
            Error::NoCurrentRoom => write!(f, "you are not in a room: /join #room first"),
            Error::BadKey(room) => write!(f, "wrong or missing key for {room}"),
            Error::InviteOnly(room) => {
                write!(f, "{room} is invite-only: ask an operator for an invite")
            }
            Error::RoomFull(room) => write!(f, "{room} is full"),
            Error::Banned(room) => write!(f, "you are banned from {room}"),
            Error::CannotSend(room) => write!(
                f,
                "you cannot send to {room} (only members may, only voiced ones when it is moderated, and not the banned)"
            ),
            Error::TooManyRooms(max) => write!(f, "you are in too many rooms (at most {max})"),
            Error::NotOperator(room) => write!(f, "you are not an operator of {room}"),
            Error::TopicTooLong(max) => write!(f, "topic too long (at most {max} bytes)"),
            Error::UnknownMode(mode) => write!(f, "unknown mode: {mode}"),
            Error::UnknownUserMode(mode) => write!(f, "unknown user mode: {mode}"),
            Error::InvalidKey(room) => write!(
                f,
                "invalid key for {room}: 1-{} bytes, no spaces, commas or control characters",
                crate::router::KEY_MAX
            ),
            Error::BanListFull(room) => write!(f, "the ban list of {room} is full"),
            Error::InvalidBanMask(room) => write!(
                f,
                "invalid ban mask for {room}: at most {} bytes and {} wildcards, no spaces or control characters",
                crate::limits::MASK_MAX,
                crate::limits::MASK_WILDCARDS_MAX
            ),
            Error::TooManyTargets { target } => write!(
                f,
                "too many recipients from {target} on: at most {} per message",
                crate::limits::TARGETS_MAX
            ),
            Error::UsersDontMatch => write!(f, "you can only see or change your own modes"),
            Error::PasswordMismatch => write!(
                f,
                "wrong or missing server password: connect again and type /pass PASSWORD before /nick"
            ),
            Error::NoPrivileges => write!(f, "only server operators may do that"),
            Error::OperFailed => write!(f, "wrong operator name or password"),
            Error::OperRefused { retry_secs: 0 } => {
                write!(f, "this server has no operators")
            }
            Error::OperRefused { retry_secs } => {
                write!(f, "too many failed attempts: try again in {retry_secs} s")
            }
            Error::NoText => write!(f, "no text to send"),
            Error::NoRecipient => write!(f, "no recipient given"),
            Error::UnknownCommand(command) => write!(f, "unknown command: /{command} (try /help)"),
            Error::InvalidCapCommand(command) => write!(f, "invalid CAP subcommand: {command}"),
            Error::MissingArgument { usage, .. } => write!(f, "missing argument: {usage}"),
            Error::LineTooLong(max) => {
                write!(f, "line too long (at most {max} bytes), ignored")
            }
            Error::InvalidUtf8 => write!(f, "line is not valid UTF-8, ignored"),
            Error::ForbiddenCharacter => write!(
                f,
                "line contains a NUL or carriage return (CR) character, ignored"
            ),
            Error::EmptyLine => write!(f, "empty line ignored (type /help for commands)"),
            Error::HistoryOff => write!(f, "this server keeps no history"),
            Error::InvalidHistory(why) => write!(f, "invalid history request: {why}"),
            Error::HistoryRefused { target, .. } => write!(
                f,
                "you cannot read the history of {target} (only members read a room's, and only the two accounts their private one)"
            ),
            Error::OfflineFull(nick) => write!(
                f,
                "{nick} is offline and cannot take more messages from you until they log in (at most {} waiting, {} from one sender)",
                crate::limits::OFFLINE_PER_RECIPIENT,
                crate::limits::OFFLINE_PER_SENDER
            ),
            Error::Busy => write!(f, "server busy, try again in a moment"),
        }
    }
}
