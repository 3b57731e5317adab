//! A message as the store keeps it: one JSON object, in a chunk's array
//! or alone (offline messages).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::protocol::{Destination, Event, Mask, MessageKind, Name, Past};

/// A message as the store keeps it, in JSON: borrowed to write, owned
/// when read.
#[derive(Serialize, Deserialize)]
pub(super) struct Entry<S> {
    pub(super) id: S,
    pub(super) at: i64,
    pub(super) nick: S,
    pub(super) user: S,
    pub(super) host: S,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) account: Option<S>,
    pub(super) kind: i64,
    /// The room or nickname it was sent to, as named.
    pub(super) to: S,
    pub(super) text: S,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) tags: Option<S>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(super) long: bool,
}

impl<'a> Entry<&'a str> {
    /// `None` for anything but a message, a TAGMSG or a topic change.
    pub(super) fn of(event: &'a Event, at: jiff::Timestamp) -> Option<Entry<&'a str>> {
        let at = at.as_millisecond();
        let entry = |id: &'a str, from: &'a Mask, kind, to: &'a str, text: &'a str| Entry {
            id,
            at,
            nick: &from.nick,
            user: &from.user,
            host: &from.host,
            account: from.account.as_deref(),
            kind,
            to,
            text,
            tags: None,
            long: false,
        };
        Some(match event {
            Event::Message {
                from,
                to,
                text,
                kind,
                tags,
                id,
                long,
            } => Entry {
                tags: tags.as_deref(),
                long: *long,
                ..entry(id, from, kind_number(*kind), to.name(), text)
            },
            Event::TagMessage { from, to, tags, id } => Entry {
                tags: Some(tags),
                ..entry(id, from, TAGMSG, to.name(), "")
            },
            Event::TopicChanged {
                room,
                who,
                text,
                id,
            } => entry(id, who, TOPIC, room, text),
            _ => return None,
        })
    }
}

impl Entry<Name> {
    pub(super) fn past(self) -> Past {
        let to = if self.to.starts_with('#') {
            Destination::Room(self.to)
        } else {
            Destination::User(self.to)
        };
        let from = Arc::new(Mask {
            nick: self.nick,
            user: self.user,
            host: self.host,
            account: self.account,
        });
        let message = match self.kind {
            TAGMSG => Event::TagMessage {
                from,
                to,
                tags: self.tags.unwrap_or_default(),
                id: self.id,
            },
            TOPIC => Event::TopicChanged {
                room: to.name().clone(),
                who: from,
                text: self.text,
                id: self.id,
            },
            kind => Event::Message {
                from,
                to,
                text: self.text,
                kind: KINDS
                    .get(kind as usize)
                    .copied()
                    .unwrap_or(MessageKind::Say),
                tags: self.tags,
                id: self.id,
                long: self.long,
            },
        };
        Past {
            at: jiff::Timestamp::from_millisecond(self.at).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            message,
        }
    }
}

fn is_false(value: &bool) -> bool {
    !value
}

pub(super) fn encode(value: &impl Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError(error.to_string()))
}

pub(super) fn decode<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError(format!("history unreadable: {error}")))
}

/// The kinds at and past this number are events other than messages,
/// which only clients with `draft/event-playback` read.
pub(super) const TAGMSG: i64 = 5;
const TOPIC: i64 = 6;

/// Message kinds by their number in the database; append only.
const KINDS: [MessageKind; 5] = [
    MessageKind::Say,
    MessageKind::Action,
    MessageKind::Notice,
    MessageKind::Ctcp,
    MessageKind::CtcpReply,
];

fn kind_number(kind: MessageKind) -> i64 {
    KINDS.iter().position(|known| *known == kind).unwrap_or(0) as i64
}
