//! The HTTP API's requests and answers as the router sees them: typed
//! calls in, typed answers out. `web::api` turns HTTP and JSON into
//! [`Call`]s and [`Answer`]s into JSON; the router never sees either.

use serde::Serialize;

use super::Name;

/// Who is asking, as the HTTP side could tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// No `Authorization` header.
    None,
    /// A bearer token the router issued: checked against its hashes.
    Token(String),
    /// A JWT whose signature and expiry `web::jwt` checked: it names the
    /// account, which must exist.
    Jwt(Name),
}

/// What an API request asks the router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// Counts for `/metrics` (no credential needed).
    Metrics,
    /// A token for the account whose name and password are given.
    IssueToken {
        account: Name,
        password: String,
    },
    /// Revoke the token the request carries.
    RevokeToken,
    Rooms,
    CreateRoom {
        name: Name,
        topic: Option<String>,
    },
    DeleteRoom {
        room: Name,
    },
    SetTopic {
        room: Name,
        topic: String,
    },
    Members {
        room: Name,
    },
    Invite {
        room: Name,
        nick: Name,
    },
    Kick {
        room: Name,
        nick: Name,
        reason: Option<String>,
    },
    /// A message from the credential's account to a room or a nickname.
    Post {
        target: Name,
        text: String,
    },
    /// A room's history, newest first, before a message id.
    History {
        room: Name,
        before: Option<String>,
        limit: usize,
    },
    Whois {
        nick: Name,
    },
    Online,
}

/// What the router answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Done,
    Token(IssuedToken),
    Rooms(Vec<RoomInfo>),
    Room(RoomInfo),
    Members(Vec<MemberInfo>),
    User(UserInfo),
    Users(Vec<UserInfo>),
    /// The id of a message posted.
    Posted {
        id: Name,
    },
    /// A page of a room's history, oldest first.
    Messages(Vec<MessageInfo>),
    Metrics(Box<Counts>),
    Failed(Failure),
}

/// A call refused, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

/// The kinds of refusal, which HTTP statuses follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Malformed: a bad room name, an empty text (400).
    Invalid,
    /// No credential, or one that does not check out (401).
    Unauthorized,
    /// The account may not do this (403).
    Forbidden,
    NotFound,
    /// The room exists, the nickname is already a member (409).
    Conflict,
    /// A helper's queue is full: try again (503).
    Busy,
    /// The account made more calls than `--rate` and `--burst` allow (429);
    /// the next may come after this many seconds.
    Throttled {
        retry_secs: u64,
    },
}

/// A token just issued: shown once, kept only as a hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IssuedToken {
    pub token: String,
    pub account: Name,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RoomInfo {
    pub name: Name,
    pub members: usize,
    pub topic: Option<Name>,
    /// The account that created it over the API, which keeps it while
    /// empty.
    pub owner: Option<Name>,
}

/// A message from history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MessageInfo {
    /// Its IRCv3 `msgid`, for paging (`before=`).
    pub id: Name,
    /// When it was said: RFC 3339, UTC, to the millisecond.
    pub at: String,
    pub from: Name,
    pub account: Option<Name>,
    /// `say`, `action` or `notice`.
    pub kind: &'static str,
    pub text: Name,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberInfo {
    pub nick: Name,
    pub account: Option<Name>,
    pub operator: bool,
    pub voice: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    pub nick: Name,
    pub user: Name,
    pub host: Name,
    pub realname: Name,
    pub account: Option<Name>,
    /// Rooms the asker may see, with the user's prefix (`@#rust`).
    pub rooms: Vec<String>,
    pub away: Option<Name>,
    pub operator: bool,
    pub idle_secs: u64,
    /// Unix seconds.
    pub signon: i64,
}

/// What the router counts, for `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Connected clients by carrier (`plain`, `websocket`...) and protocol.
    pub clients: Vec<(&'static str, &'static str, u64)>,
    pub registered: u64,
    pub rooms: u64,
    pub accounts: u64,
    pub messages_in: u64,
    /// Clients cut off, by reason (`slow`, `flood`, `ping`).
    pub cut: Vec<(&'static str, u64)>,
    pub storage_queue: u64,
}
