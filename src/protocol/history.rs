//! Messages from the past: what a client asks of history, and what the
//! store gives back. The codecs show a page of them (`line::encode`,
//! `irc::history`); the router never formats one.

use super::{Destination, Error, Event, Name, Request, line};
use crate::limits::HISTORY_LIMIT;

/// How many messages `/history` shows when not told.
pub const LINE_DEFAULT: usize = 20;

/// A message said earlier, with the time it was said: an
/// [`Event::Message`] as it was delivered then, or for a client with
/// `draft/event-playback` an [`Event::TagMessage`] or
/// [`Event::TopicChanged`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Past {
    pub at: jiff::Timestamp,
    pub message: Event,
}

/// Why a page of past messages is sent, which decides how it is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PastKind {
    /// A room's recent messages, replayed to whoever joins it.
    Replay,
    /// A line user's `/history`.
    Query,
    /// An answer to IRC's `CHATHISTORY`: always a batch, even an empty one.
    ChatHistory,
    /// Private messages that came while the reader was offline.
    Offline,
}

/// A point in a conversation: a message by its id, or a moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ref {
    MsgId(String),
    Time(jiff::Timestamp),
}

impl Ref {
    /// Parses IRC's `msgid=ID` or `timestamp=YYYY-MM-DDThh:mm:ss.sssZ`;
    /// `None` for anything else (`*` included).
    pub fn parse(text: &str) -> Option<Ref> {
        let (kind, value) = text.split_once('=')?;
        match kind {
            "msgid" if !value.is_empty() => Some(Ref::MsgId(value.to_owned())),
            "timestamp" => value.parse().ok().map(Ref::Time),
            _ => None,
        }
    }
}

/// Which messages of a conversation a query wants, oldest first in the
/// answer whatever the direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// The newest, only those after the point if there is one.
    Latest(Option<Ref>),
    /// The newest before the point.
    Before(Ref),
    /// The oldest after the point.
    After(Ref),
    /// Up to half the limit on each side of the point.
    Around(Ref),
    /// Between two points (either may come first): from the first one
    /// given, towards the other.
    Between(Ref, Ref),
}

impl Selector {
    /// Its name as IRC's `CHATHISTORY` subcommand.
    pub fn command(&self) -> &'static str {
        match self {
            Selector::Latest(_) => "LATEST",
            Selector::Before(_) => "BEFORE",
            Selector::After(_) => "AFTER",
            Selector::Around(_) => "AROUND",
            Selector::Between(..) => "BETWEEN",
        }
    }
}

/// Which part of a conversation a history read wants, at most how many
/// messages, and how the answer is shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryQuery {
    pub selector: Selector,
    pub limit: usize,
    pub kind: PastKind,
}

/// A conversation with something to read, for `CHATHISTORY TARGETS`: its
/// name and the time of its latest message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryTarget {
    pub name: Name,
    pub latest: jiff::Timestamp,
}

/// How a past message's time is shown where no `server-time` tag can
/// carry it: UTC, to the second.
pub fn stamp(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// Parses the line protocol's `/history [#room|NAME] [N]` (after the
/// command word).
pub(super) fn decode_line(rest: &str) -> Result<Request, Error> {
    let mut target = None;
    let mut count = None;
    for word in rest.split_whitespace() {
        match word.parse::<usize>() {
            Ok(n) if count.is_none() => count = Some(n),
            Err(_) if target.is_none() => target = Some(word.to_owned()),
            _ => {
                return Err(Error::MissingArgument {
                    command: "history",
                    usage: "/history [#room|NAME] [N]",
                });
            }
        }
    }
    let limit = count.unwrap_or(LINE_DEFAULT);
    if !(1..=HISTORY_LIMIT).contains(&limit) {
        return Err(Error::InvalidHistory(format!(
            "N must be between 1 and {HISTORY_LIMIT}"
        )));
    }
    Ok(Request::History {
        target,
        query: HistoryQuery {
            selector: Selector::Latest(None),
            limit,
            kind: PastKind::Query,
        },
    })
}

/// Appends a page of past messages for a line user: a header line, each
/// message as it was shown then with its time in the brackets
/// (`[#room 2026-12-02 09:01:02] <ada> hello`), and a closing line.
pub(super) fn encode_line(target: &str, kind: PastKind, messages: &[Past], out: &mut Vec<u8>) {
    let count = messages.len().to_string();
    let (head, tail): (&[&str], &[&str]) = match kind {
        PastKind::Replay => (
            &["- recent messages in ", target, ":"],
            &["- end of recent messages in ", target],
        ),
        PastKind::Offline => (
            &["- ", &count, " messages came while you were away:"],
            &["- end of the messages that came while you were away"],
        ),
        PastKind::Query | PastKind::ChatHistory if messages.is_empty() => {
            line::line(out, &["- no history of ", target]);
            return;
        }
        PastKind::Query | PastKind::ChatHistory => (
            &[
                "- history of ",
                target,
                " (",
                &count,
                " messages, oldest first):",
            ],
            &["- end of history of ", target],
        ),
    };
    line::line(out, head);
    for past in messages {
        let Event::Message {
            from,
            to,
            text,
            kind,
            ..
        } = &past.message
        else {
            continue;
        };
        let place = match to {
            Destination::Room(room) => room,
            Destination::User(_) => "pm",
        };
        let place = format!("{place} {}", stamp(past.at));
        line::message(out, &place, &from.nick, *kind, text);
    }
    line::line(out, tail);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Mask, MessageKind};
    use std::sync::Arc;

    fn past(to: Destination, text: &str) -> Past {
        Past {
            at: "2026-12-02T09:01:02.345Z".parse().unwrap(),
            message: Event::Message {
                from: Arc::new(Mask {
                    nick: "ada".into(),
                    user: "~ada".into(),
                    host: "127.0.0.1".into(),
                    account: None,
                }),
                to,
                text: text.into(),
                kind: MessageKind::Say,
                tags: None,
                id: "1".into(),
                long: true,
            },
        }
    }

    fn encoded(target: &str, kind: PastKind, messages: &[Past]) -> String {
        let mut out = Vec::new();
        encode_line(target, kind, messages, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn line_users_read_past_messages_in_a_marked_block_with_their_times() {
        let room = past(Destination::Room("#r".into()), "hello");
        assert_eq!(
            encoded("#r", PastKind::Replay, &[room]),
            "- recent messages in #r:\n\
             [#r 2026-12-02 09:01:02] <ada> hello\n\
             - end of recent messages in #r\n"
        );
        let private = past(Destination::User("bob".into()), "psst");
        assert_eq!(
            encoded("bob", PastKind::Offline, &[private]),
            "- 1 messages came while you were away:\n\
             [pm 2026-12-02 09:01:02] <ada> psst\n\
             - end of the messages that came while you were away\n"
        );
        assert_eq!(encoded("#r", PastKind::Query, &[]), "- no history of #r\n");
    }

    #[test]
    fn history_commands_take_a_target_and_a_count_in_any_order() {
        let query = |limit| HistoryQuery {
            selector: Selector::Latest(None),
            limit,
            kind: PastKind::Query,
        };
        assert_eq!(
            decode_line(""),
            Ok(Request::History {
                target: None,
                query: query(LINE_DEFAULT)
            })
        );
        assert_eq!(
            decode_line("#r 5"),
            Ok(Request::History {
                target: Some("#r".into()),
                query: query(5)
            })
        );
        assert_eq!(
            decode_line("7 bob"),
            Ok(Request::History {
                target: Some("bob".into()),
                query: query(7)
            })
        );
        assert!(decode_line("#r 0").is_err());
        assert!(decode_line("#r 5 6").is_err());
    }

    #[test]
    fn references_are_msgids_or_timestamps() {
        assert_eq!(Ref::parse("msgid=abc"), Some(Ref::MsgId("abc".into())));
        assert_eq!(
            Ref::parse("timestamp=2026-12-02T09:01:02.345Z"),
            Some(Ref::Time("2026-12-02T09:01:02.345Z".parse().unwrap()))
        );
        for bad in ["*", "msgid=", "timestamp=yesterday", "when=now"] {
            assert_eq!(Ref::parse(bad), None, "{bad}");
        }
    }
}
