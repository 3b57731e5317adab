//! What clients ask for and what they are told, independent of the wire.
//!
//! A codec turns a line of bytes into a [`Request`] and an [`Event`] into
//! bytes. The router only ever sees these protocol-neutral types, which is what
//! lets an IRC user and a line-protocol user share a room.
//!
//! Codecs are sans-io: they never touch a socket, so they are tested on plain
//! byte slices.

pub mod account;
pub mod api;
mod error;
pub mod framing;
pub mod history;
pub mod irc;
pub mod line;
mod outgoing;
pub mod telnet;

pub use account::{AccountCommand, AccountError, AccountNotice, CertCommand, SaslReply};
pub use error::Error;
pub use history::{HistoryQuery, HistoryTarget, Past, PastKind, Ref, Selector};
pub use outgoing::{Codec, Outgoing};

use std::fmt;
use std::sync::Arc;

use crate::limits::TARGETS_MAX;

/// A nickname, room name or other text shared cheaply between events.
pub type Name = Arc<str>;

/// At most `max` bytes of `text`, cut at a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Whether `line` has a character no line may carry: NUL, or a carriage
/// return other than the one ending it (which framing removes). Relayed,
/// a CR ends the line early on clients that split at it, and what follows
/// reads as a line of its own: a forged message.
pub fn has_forbidden(line: &[u8]) -> bool {
    line.iter().any(|&byte| byte == b'\0' || byte == b'\r')
}

/// `text` without control characters, except IRC's formatting codes (bold,
/// colour, italics, underline, reverse, reset...), tab and, with `ctcp`,
/// CTCP's `\x01`. Nothing else is relayed, so nobody can send a terminal
/// escape (ESC, BEL) to other people's screens.
pub fn strip_controls(text: &str, ctcp: bool) -> std::borrow::Cow<'_, str> {
    let kept = |c: char| {
        !c.is_control()
            || matches!(
                c,
                '\t' | '\u{2}'
                    | '\u{3}'
                    | '\u{4}'
                    | '\u{f}'
                    | '\u{11}'
                    | '\u{16}'
                    | '\u{1d}'
                    | '\u{1e}'
                    | '\u{1f}'
            )
            || (ctcp && c == '\u{1}')
    };
    if text.chars().all(kept) {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(text.chars().filter(|&c| kept(c)).collect())
    }
}

/// The wire protocol a listener speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// The human line protocol for `nc` and `telnet`, see docs/line-protocol.md.
    Line,
    /// IRC as modern clients speak it, with IRCv3 capabilities.
    Irc,
}

impl Protocol {
    /// Turns one framed line (without its terminator) into a request.
    ///
    /// A line that cannot be understood becomes [`Request::Invalid`], so the
    /// error reaches the client through the router, in order with the replies
    /// to the lines before it. `None` means there is nothing to do (IRC
    /// ignores empty lines).
    pub fn decode(self, line: &[u8]) -> Option<Request> {
        match self {
            Protocol::Line => Some(line::decode(line).unwrap_or_else(Request::Invalid)),
            Protocol::Irc => {
                irc::decode(line).map(|decoded| decoded.unwrap_or_else(Request::Invalid))
            }
        }
    }

    /// The longest line a client may send, terminator excluded.
    pub fn max_line(self, configured: usize) -> usize {
        match self {
            Protocol::Line => configured,
            Protocol::Irc => irc::MAX_LINE,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Line => "line",
            Protocol::Irc => "IRC",
        })
    }
}

/// The IRCv3 capabilities a client enabled, as bits. Line clients have none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Caps(u32);

impl Caps {
    pub const CAP_NOTIFY: Caps = Caps(1);
    pub const MULTI_PREFIX: Caps = Caps(1 << 1);
    pub const SERVER_TIME: Caps = Caps(1 << 2);
    pub const MESSAGE_TAGS: Caps = Caps(1 << 3);
    pub const AWAY_NOTIFY: Caps = Caps(1 << 4);
    pub const USERHOST_IN_NAMES: Caps = Caps(1 << 5);
    pub const ECHO_MESSAGE: Caps = Caps(1 << 6);
    pub const INVITE_NOTIFY: Caps = Caps(1 << 7);
    pub const SETNAME: Caps = Caps(1 << 8);
    pub const SASL: Caps = Caps(1 << 9);
    pub const ACCOUNT_NOTIFY: Caps = Caps(1 << 10);
    pub const ACCOUNT_TAG: Caps = Caps(1 << 11);
    pub const EXTENDED_JOIN: Caps = Caps(1 << 12);
    pub const BATCH: Caps = Caps(1 << 13);
    /// `draft/chathistory`: the client fetches history itself, so joins
    /// replay nothing to it.
    pub const CHATHISTORY: Caps = Caps(1 << 14);
    pub const EVENT_PLAYBACK: Caps = Caps(1 << 15);
    pub const LABELED_RESPONSE: Caps = Caps(1 << 16);

    /// Every capability the server offers, by name, in the order `CAP LS` lists them.
    pub const OFFERED: [(&'static str, Caps); 17] = [
        ("cap-notify", Caps::CAP_NOTIFY),
        ("multi-prefix", Caps::MULTI_PREFIX),
        ("server-time", Caps::SERVER_TIME),
        ("message-tags", Caps::MESSAGE_TAGS),
        ("away-notify", Caps::AWAY_NOTIFY),
        ("userhost-in-names", Caps::USERHOST_IN_NAMES),
        ("echo-message", Caps::ECHO_MESSAGE),
        ("invite-notify", Caps::INVITE_NOTIFY),
        ("setname", Caps::SETNAME),
        ("sasl", Caps::SASL),
        ("account-notify", Caps::ACCOUNT_NOTIFY),
        ("account-tag", Caps::ACCOUNT_TAG),
        ("extended-join", Caps::EXTENDED_JOIN),
        ("batch", Caps::BATCH),
        ("draft/chathistory", Caps::CHATHISTORY),
        ("draft/event-playback", Caps::EVENT_PLAYBACK),
        ("labeled-response", Caps::LABELED_RESPONSE),
    ];

    /// The capability called `name`, if offered.
    pub fn named(name: &str) -> Option<Caps> {
        Caps::OFFERED
            .iter()
            .find(|(offered, _)| offered.eq_ignore_ascii_case(name))
            .map(|&(_, cap)| cap)
    }

    pub fn contains(self, other: Caps) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn with(self, other: Caps) -> Caps {
        Caps(self.0 | other.0)
    }

    pub fn without(self, other: Caps) -> Caps {
        Caps(self.0 & !other.0)
    }

    /// Space-separated names, for `CAP LIST`.
    pub fn names(self) -> String {
        let names: Vec<&str> = Caps::OFFERED
            .iter()
            .filter(|&&(_, cap)| self.contains(cap))
            .map(|&(name, _)| name)
            .collect();
        names.join(" ")
    }
}

/// Who a user is, as IRC shows it: `nick!user@host`, and the account it
/// is logged in to (for IRC's `account-tag`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mask {
    pub nick: Name,
    pub user: Name,
    pub host: Name,
    pub account: Option<Name>,
}

impl fmt::Display for Mask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}!{}@{}", self.nick, self.user, self.host)
    }
}

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
        text: String,
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
    let mut letters = String::new();
    let mut args = String::new();
    let mut sign = None;
    for change in changes {
        if sign != Some(change.add) {
            letters.push(if change.add { '+' } else { '-' });
            sign = Some(change.add);
        }
        letters.push(change.mode);
        if let Some(arg) = &change.arg {
            args.push(' ');
            args.push_str(arg);
        }
    }
    letters + &args
}

/// Something a client is told. Broadcasts are built once and shared by every
/// recipient through an [`Outgoing`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The first thing a new line-protocol connection sees.
    Greeting,
    Joined {
        room: Name,
        who: Arc<Mask>,
        /// For IRC's `extended-join`: the joiner's real name (the account
        /// is in `who`). Such clients get their own copy of the event.
        extended: Option<Name>,
    },
    Left {
        room: Name,
        who: Arc<Mask>,
        reason: Option<Name>,
    },
    Kicked {
        room: Name,
        by: Arc<Mask>,
        nick: Name,
        reason: Option<Name>,
    },
    Quit {
        who: Arc<Mask>,
        reason: Option<Name>,
    },
    /// `who` is the mask under the old nickname.
    NickChanged {
        who: Arc<Mask>,
        new: Name,
    },
    /// Somebody set (or, with empty text, cleared) a room's topic.
    TopicChanged {
        room: Name,
        who: Arc<Mask>,
        text: Name,
        /// For IRCv3 `msgid`: a topic change is kept in the history too.
        id: Name,
    },
    /// Modes of a room (or of the user named by `target`) changed.
    ModeChanged {
        target: Name,
        by: Arc<Mask>,
        changes: Vec<ModeChange>,
    },
    Message {
        from: Arc<Mask>,
        to: Destination,
        text: Name,
        kind: MessageKind,
        /// Client-only tags, relayed to clients with `message-tags`.
        tags: Option<Name>,
        /// Unique to this message, for IRCv3 `msgid`.
        id: Name,
        /// The text may be longer than one IRC line takes (a line user's):
        /// IRC clients then get it in several. Otherwise what does not fit
        /// is cut, as IRC servers do.
        long: bool,
    },
    TagMessage {
        from: Arc<Mask>,
        to: Destination,
        tags: Name,
        id: Name,
    },
    /// A server operator's message to users with user mode `+w`.
    Wallops {
        from: Arc<Mask>,
        text: Name,
    },
    /// Somebody went away (with a message) or came back (`None`).
    Away {
        who: Arc<Mask>,
        message: Option<Name>,
    },
    /// `by` invited `nick` to `room`.
    Invited {
        by: Arc<Mask>,
        nick: Name,
        room: Name,
    },
    RealnameChanged {
        who: Arc<Mask>,
        realname: Name,
    },
    /// Somebody logged in to an account, or out (`None`): IRC's
    /// `account-notify`. `who` is the mask from before.
    AccountChanged {
        who: Arc<Mask>,
        account: Option<Name>,
    },
    /// The server checks that the client is alive.
    Ping(Name),
    /// This many messages were dropped because the client read too slowly.
    Missed(u64),
    /// The server is closing the connection, and why.
    Closing(Name),
    /// An answer to one client; `me` is its nickname (`*` before it has one).
    Reply {
        me: Name,
        reply: Reply,
    },
    /// Everything one labeled request made for its sender (IRC
    /// `labeled-response`): one line gets the label, several a
    /// `labeled-response` batch, none an `ACK`.
    Labeled {
        label: Name,
        events: Vec<Arc<Outgoing>>,
    },
}

/// Answers that go to one client only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Registration is complete.
    Welcome(Box<Welcome>),
    Cap {
        subcommand: &'static str,
        caps: String,
    },
    Pong(Name),
    Topic {
        room: Name,
        topic: Option<Topic>,
    },
    /// A room's members, sorted by nickname.
    Names {
        room: Name,
        secret: bool,
        members: Vec<Member>,
    },
    /// The end of a `NAMES` for which there is nothing to list.
    NoNames(Name),
    /// Rooms, sorted by name.
    Rooms(Vec<RoomSummary>),
    Who {
        mask: Name,
        rows: Vec<WhoRow>,
        whox: Option<Whox>,
    },
    Whois(Box<Whois>),
    /// The end of a `WHOIS` for someone who is not here.
    WhoisEnd(Name),
    Ison(Vec<Name>),
    Userhost(Vec<(Mask, bool)>),
    Version(Arc<ServerInfo>),
    /// The server's local time, as people read it.
    Time(Name),
    Lusers(Lusers),
    Motd(Arc<ServerInfo>),
    Info(Arc<ServerInfo>),
    /// What is remembered of users who had a nickname (most recent first);
    /// none means nobody had it lately.
    Whowas {
        nick: Name,
        entries: Vec<WhowasEntry>,
    },
    /// You are now a server operator.
    YoureOper,
    /// Account news and failures, worded in [`account`].
    Account(AccountNotice),
    /// You are logged in (IRC's 900), as `mask` (nickname `*` before you
    /// have one).
    LoggedIn {
        mask: Arc<Mask>,
        account: Name,
    },
    /// You are logged out (IRC's 901).
    LoggedOut(Arc<Mask>),
    /// A step of an `AUTHENTICATE` exchange.
    Sasl(SaslReply),
    /// A telnet timing mark: everything before it was handled.
    TimingMark,
    RoomModes {
        room: Name,
        modes: String,
        created: i64,
    },
    BanList {
        room: Name,
        bans: Vec<Ban>,
    },
    UserModes(Name),
    Inviting {
        nick: Name,
        room: Name,
    },
    /// Past messages of one conversation (a room, or the nickname of the
    /// other person), oldest first; for [`PastKind::Offline`], `target` is
    /// the reader.
    History {
        target: Name,
        kind: PastKind,
        messages: Vec<Past>,
    },
    /// The answer to `CHATHISTORY TARGETS`.
    HistoryTargets(Vec<HistoryTarget>),
    /// Your private message to this nickname waits for it: nobody is logged
    /// in to that account now.
    Queued(Name),
    /// You are now away (`true`) or back.
    Away(bool),
    /// The user you messaged is away.
    IsAway {
        nick: Name,
        message: Name,
    },
    /// Plain text now goes to this room.
    Switched(Name),
    /// The client closed its sending side with this many lines still
    /// waiting for flood control: they go on at its pace, then the
    /// connection closes.
    Draining(usize),
    Help,
    Error(Error),
}

/// What the welcome burst says about the server and the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Welcome {
    pub mask: Arc<Mask>,
    pub info: Arc<ServerInfo>,
    pub lusers: Lusers,
}

/// Fixed facts about the server, shared by every welcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerInfo {
    pub name: Name,
    pub network: Name,
    pub version: Name,
    /// When it started, as people read it.
    pub created: Name,
    /// The message of the day, if there is one.
    pub motd: Option<Vec<String>>,
}

/// Counts for `LUSERS`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lusers {
    pub users: usize,
    /// Those of `users` with user mode `+i`.
    pub invisible: usize,
    /// Server operators.
    pub operators: usize,
    pub unregistered: usize,
    pub rooms: usize,
    pub max_users: usize,
}

/// A room's topic: its text, who set it and when (Unix seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topic {
    pub text: Name,
    pub set_by: Arc<Mask>,
    pub set_at: i64,
}

/// A member of a room as listed by `NAMES`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub mask: Arc<Mask>,
    pub operator: bool,
    pub voice: bool,
}

/// One line of the room list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomSummary {
    pub name: Name,
    pub members: usize,
    pub topic: Option<Name>,
}

/// One user in a `WHO` reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhoRow {
    /// The room the row is about, or `*`.
    pub room: Name,
    pub mask: Arc<Mask>,
    pub realname: Name,
    pub away: bool,
    /// A server operator.
    pub operator: bool,
    /// The account it is logged in to.
    pub account: Option<Name>,
    /// `@`, `+` or both (multi-prefix), highest first; empty for none.
    pub prefixes: &'static str,
}

/// Everything `WHOIS` tells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Whois {
    pub mask: Arc<Mask>,
    pub realname: Name,
    /// Rooms with the user's prefix, e.g. `@#rust`.
    pub rooms: Vec<String>,
    pub away: Option<Name>,
    /// A server operator.
    pub operator: bool,
    /// The account it is logged in to.
    pub account: Option<Name>,
    /// It is connected over TLS.
    pub secure: bool,
    /// Its client certificate's SHA-256, shown to the user itself and to
    /// operators only.
    pub certfp: Option<Box<str>>,
    pub idle_secs: u64,
    pub signon: i64,
    pub server: Name,
}

/// Who had a nickname, as `WHOWAS` tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhowasEntry {
    pub mask: Arc<Mask>,
    pub realname: Name,
    pub server: Name,
    /// When they stopped using the nickname, as people read it.
    pub left: Name,
}

/// A ban mask and who set it when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ban {
    pub mask: Name,
    pub set_by: Name,
    pub set_at: i64,
}

/// Where a delivered message was said: in a room, or privately to its reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Room(Name),
    /// A private message; the name is its recipient.
    User(Name),
}

impl Destination {
    /// The room, or the recipient's nickname.
    pub fn name(&self) -> &Name {
        match self {
            Destination::Room(name) | Destination::User(name) => name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("hello", 10), "hello");
    }

    #[test]
    fn only_formatting_codes_survive_among_control_characters() {
        assert_eq!(
            strip_controls(
                "\x1b[31mred\x07 \x02bold\x02 \x0304c\x03\t\x1fu\x0f\u{9b}",
                false
            ),
            "[31mred \x02bold\x02 \x0304c\x03\t\x1fu\x0f"
        );
        assert_eq!(strip_controls("\x01VERSION\x01", false), "VERSION");
        assert_eq!(strip_controls("\x01VERSION\x01", true), "\x01VERSION\x01");
        assert!(matches!(
            strip_controls("plain text", false),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
