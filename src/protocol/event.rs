//! What a client is told: the [`Event`]s shared by every recipient, the
//! [`Reply`]s to one client only, and the records they carry.

use std::sync::Arc;

use super::{
    AccountNotice, Error, HistoryTarget, Mask, MessageKind, ModeChange, Name, Outgoing, Past,
    PastKind, SaslReply, Whox,
};

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
    /// Account news and failures, worded in [`account`](super::account).
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
