//! History on IRC: `CHATHISTORY` in (IRCv3 `draft/chathistory`), past
//! messages out, in a `chathistory` batch for clients with `batch`.
//!
//! Outside a batch, a past message's text starts with its time: a client
//! without `server-time` has no other way to learn it (ergo does the
//! same), and irssi 1.4, which asks for `server-time`, still shows the
//! time a line arrived unless `show_server_time` is on, so a replay would
//! read as said just now.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};

use super::message::{self, Message};
use crate::limits::HISTORY_LIMIT;
use crate::protocol::history::stamp;
use crate::protocol::{
    Caps, Error, Event, HistoryQuery, HistoryTarget, Past, PastKind, Ref, Request, Selector,
};

/// Batch references, unique within the process and so on each connection.
static NEXT_BATCH: AtomicU64 = AtomicU64::new(1);

/// A fresh batch reference.
pub(super) fn batch_id() -> String {
    format!("h{}", NEXT_BATCH.fetch_add(1, Ordering::Relaxed))
}

/// Parses `CHATHISTORY subcommand params...`.
pub(super) fn decode(message: &Message<'_>) -> Result<Request, Error> {
    let param = |index: usize| message.param(index).unwrap_or_default();
    let invalid = |why: &str| Error::InvalidHistory(why.to_owned());
    let point = |index: usize| {
        Ref::parse(param(index)).ok_or_else(|| invalid("a point is msgid=ID or timestamp=TIME"))
    };
    let limit = |index: usize| -> Result<usize, Error> {
        let limit: usize = param(index)
            .parse()
            .map_err(|_| invalid("the limit is a number"))?;
        // Zero, or more than we give, means as many as we give.
        Ok(if limit == 0 {
            HISTORY_LIMIT
        } else {
            limit.min(HISTORY_LIMIT)
        })
    };
    let subcommand = param(0).to_ascii_uppercase();
    if subcommand == "TARGETS" {
        let (Ref::Time(from), Ref::Time(to)) = (point(1)?, point(2)?) else {
            return Err(invalid("TARGETS takes two timestamps"));
        };
        return Ok(Request::HistoryTargets {
            from,
            to,
            limit: limit(3)?,
        });
    }
    let target = param(1);
    if target.is_empty() {
        return Err(invalid("no target"));
    }
    let (selector, limit) = match subcommand.as_str() {
        "LATEST" if param(2) == "*" => (Selector::Latest(None), limit(3)?),
        "LATEST" => (Selector::Latest(Some(point(2)?)), limit(3)?),
        "BEFORE" => (Selector::Before(point(2)?), limit(3)?),
        "AFTER" => (Selector::After(point(2)?), limit(3)?),
        "AROUND" => (Selector::Around(point(2)?), limit(3)?),
        "BETWEEN" => (Selector::Between(point(2)?, point(3)?), limit(4)?),
        _ => return Err(invalid("unknown subcommand")),
    };
    Ok(Request::History {
        target: Some(target.to_owned()),
        query: HistoryQuery {
            selector,
            limit,
            kind: PastKind::ChatHistory,
        },
    })
}

/// Appends a page of past messages: in a `chathistory` batch for a client
/// with `batch` (an answer to `CHATHISTORY` always, even empty; a replay
/// on join when there is something to replay), else as they came.
/// Offline messages come from many senders, so in no batch.
pub(super) fn encode_page(
    target: &str,
    kind: PastKind,
    messages: &[Past],
    server: &str,
    caps: Caps,
    out: &mut Vec<u8>,
) {
    let batched = caps.contains(Caps::BATCH)
        && match kind {
            PastKind::ChatHistory => true,
            PastKind::Replay | PastKind::Query => !messages.is_empty(),
            PastKind::Offline => false,
        };
    let batch = batched.then(batch_id);
    if let Some(batch) = &batch {
        let start = format!("+{batch}");
        message::write(out, Some(server), "BATCH", &[&start, "chathistory", target]);
    }
    for past in messages {
        write_past(past, server, caps, batch.as_deref(), out);
    }
    if let Some(batch) = &batch {
        message::write(out, Some(server), "BATCH", &[&format!("-{batch}")]);
    }
}

/// Appends the answer to `CHATHISTORY TARGETS`, in a
/// `draft/chathistory-targets` batch for a client with `batch`.
pub(super) fn encode_targets(
    targets: &[HistoryTarget],
    server: &str,
    caps: Caps,
    out: &mut Vec<u8>,
) {
    let batch = caps.contains(Caps::BATCH).then(batch_id);
    if let Some(batch) = &batch {
        let start = format!("+{batch}");
        message::write(
            out,
            Some(server),
            "BATCH",
            &[&start, "draft/chathistory-targets"],
        );
    }
    for target in targets {
        if let Some(batch) = &batch {
            out.extend_from_slice(format!("@batch={batch} ").as_bytes());
        }
        let latest = format!("{:.3}", target.latest);
        message::write(
            out,
            Some(server),
            "CHATHISTORY",
            &["TARGETS", &target.name, &latest],
        );
    }
    if let Some(batch) = &batch {
        message::write(out, Some(server), "BATCH", &[&format!("-{batch}")]);
    }
}

/// One past message as it was sent then, with its own time and id (in its
/// text too, outside a batch).
fn write_past(past: &Past, server: &str, caps: Caps, batch: Option<&str>, out: &mut Vec<u8>) {
    let message: Cow<'_, Event> = match &past.message {
        Event::Message { text, .. } if batch.is_none() => {
            let mut message = past.message.clone();
            if let Event::Message { text: stamped, .. } = &mut message {
                *stamped = format!("[{}] {text}", stamp(past.at)).into();
            }
            Cow::Owned(message)
        }
        _ => Cow::Borrowed(&past.message),
    };
    let time = format!("{:.3}", past.at);
    let mut body = Vec::new();
    super::encode(&message, server, Caps::default(), &mut body);
    super::write_lines(&message, caps, || &time, batch, &body, out);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::protocol::{Destination, Mask, MessageKind};

    fn decoded(line: &str) -> Result<Request, Error> {
        super::super::decode(line.as_bytes()).unwrap()
    }

    fn query(selector: Selector, limit: usize) -> Request {
        Request::History {
            target: Some("#r".into()),
            query: HistoryQuery {
                selector,
                limit,
                kind: PastKind::ChatHistory,
            },
        }
    }

    #[test]
    fn every_subcommand_is_understood() {
        let id = || Ref::MsgId("abc".into());
        let time = "2026-12-02T09:01:02.345Z";
        let at = || Ref::Time(time.parse().unwrap());
        assert_eq!(
            decoded("CHATHISTORY LATEST #r * 10"),
            Ok(query(Selector::Latest(None), 10))
        );
        assert_eq!(
            decoded("CHATHISTORY LATEST #r msgid=abc 1000"),
            Ok(query(Selector::Latest(Some(id())), HISTORY_LIMIT))
        );
        assert_eq!(
            decoded(&format!("CHATHISTORY before #r timestamp={time} 5")),
            Ok(query(Selector::Before(at()), 5))
        );
        assert_eq!(
            decoded("CHATHISTORY AFTER #r msgid=abc 5"),
            Ok(query(Selector::After(id()), 5))
        );
        assert_eq!(
            decoded("CHATHISTORY AROUND #r msgid=abc 0"),
            Ok(query(Selector::Around(id()), HISTORY_LIMIT))
        );
        assert_eq!(
            decoded(&format!(
                "CHATHISTORY BETWEEN #r msgid=abc timestamp={time} 3"
            )),
            Ok(query(Selector::Between(id(), at()), 3))
        );
        assert_eq!(
            decoded(&format!(
                "CHATHISTORY TARGETS timestamp={time} timestamp={time} 7"
            )),
            Ok(Request::HistoryTargets {
                from: time.parse().unwrap(),
                to: time.parse().unwrap(),
                limit: 7
            })
        );
        for bad in [
            "CHATHISTORY LATEST #r * many",
            "CHATHISTORY BEFORE #r * 5",
            "CHATHISTORY SIDEWAYS #r * 5",
            "CHATHISTORY TARGETS msgid=a msgid=b 5",
            "CHATHISTORY LATEST",
        ] {
            assert!(
                matches!(decoded(bad), Err(Error::InvalidHistory(_))),
                "{bad}"
            );
        }
    }

    fn past(text: &str) -> Past {
        Past {
            at: "2026-12-02T09:01:02.345Z".parse().unwrap(),
            message: Event::Message {
                from: Arc::new(Mask {
                    nick: "ada".into(),
                    user: "~ada".into(),
                    host: "h".into(),
                    account: None,
                }),
                to: Destination::Room("#r".into()),
                text: text.into(),
                kind: MessageKind::Say,
                tags: None,
                id: "m1".into(),
                long: false,
            },
        }
    }

    fn page(kind: PastKind, messages: &[Past], caps: Caps) -> String {
        let mut out = Vec::new();
        encode_page("#r", kind, messages, "srv", caps, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_replay_is_a_batch_with_the_original_time_and_msgid() {
        let caps = Caps::BATCH.with(Caps::SERVER_TIME).with(Caps::MESSAGE_TAGS);
        let text = page(PastKind::Replay, &[past("hi")], caps);
        let lines: Vec<&str> = text.lines().collect();
        let id = lines[0]
            .strip_prefix(":srv BATCH +")
            .and_then(|rest| rest.strip_suffix(" chathistory #r"))
            .expect(&text);
        assert_eq!(
            lines[1],
            format!(
                "@batch={id};time=2026-12-02T09:01:02.345Z;msgid=m1 :ada!~ada@h PRIVMSG #r :hi"
            )
        );
        assert_eq!(lines[2], format!(":srv BATCH -{id}"));
    }

    #[test]
    fn outside_a_batch_past_messages_say_their_time_in_the_text() {
        assert_eq!(
            page(PastKind::Replay, &[past("hi")], Caps::default()),
            ":ada!~ada@h PRIVMSG #r :[2026-12-02 09:01:02] hi\r\n"
        );
        assert_eq!(
            page(
                PastKind::Offline,
                &[past("hi")],
                Caps::SERVER_TIME.with(Caps::BATCH)
            ),
            "@time=2026-12-02T09:01:02.345Z :ada!~ada@h PRIVMSG #r :[2026-12-02 09:01:02] hi\r\n"
        );
    }

    #[test]
    fn an_empty_answer_is_an_empty_batch() {
        let text = page(PastKind::ChatHistory, &[], Caps::BATCH);
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(page(PastKind::Replay, &[], Caps::BATCH).is_empty());
    }
}
