//! History and offline messages in the store: batches written in one
//! transaction, pages read back as [`Past`] messages.
//!
//! A conversation's history is kept in chunks: each batch the storage
//! thread commits becomes one row per conversation, its messages a JSON
//! array (oldest first) beside the times of its first and last. A row per
//! message cost the thread about 6 µs a message (a B-tree insert per
//! index, and the pages each one dirties in the WAL), which a busy room
//! took out of the cores delivering it; a chunk spreads one row's cost
//! over its messages (BENCHMARKS.md, "What history costs"). Reads decode
//! the few chunks around the place asked for.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use crate::protocol::{
    Destination, Event, HistoryTarget, Mask, MessageKind, Name, Outgoing, Past, Ref, Selector,
};

/// A delivered message for the history: the key of its conversation (see
/// the schema in `store.rs`), and the event and time delivered. The event
/// alone, not the [`Outgoing`] with its encodings: held until written, a
/// whole message kept a batch's worth of encodings alive and the router
/// allocated each new message in cold memory (BENCHMARKS.md, "What
/// history costs").
#[derive(Clone, Debug)]
pub struct Record {
    pub key: Name,
    pub at: jiff::Timestamp,
    pub event: Event,
}

impl Record {
    /// The record of `message`, delivered in the conversation `key`.
    pub fn of(key: Name, message: &Outgoing) -> Record {
        Record {
            key,
            at: message.time(),
            event: message.event().clone(),
        }
    }
}

/// How much history is kept: `--history-days` and `--history-per-target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub days: u32,
    pub per_target: usize,
}

/// Most messages in one chunk: enough that a row's cost is spread thin,
/// few enough that a page reads little more than it needs.
const CHUNK_MAX: usize = 256;

/// A message's place in its chunk counts below this in its [`Position`].
const CHUNK_SPAN: i64 = 1 << 16;

/// Conversations whose sizes the store remembers; past this it forgets
/// them all and counts again (a count is one walk over a conversation).
const SIZES_MAX: usize = 65_536;

/// A place in a conversation: `(at, chunk id * CHUNK_SPAN + place in
/// the chunk)`, compared as a pair.
type Position = (i64, i64);

impl Store {
    /// Writes a batch of delivered messages in one transaction, a chunk
    /// per conversation. A conversation that grew a tenth past
    /// `retention.per_target` is trimmed back to it, or to at most a tenth
    /// past it where that keeps its oldest chunk whole: counting from the
    /// newest costs a walk over its chunks, so it is done once in so many
    /// messages, not per batch. Returns how many were written.
    pub fn record(&mut self, batch: &[Record], retention: Retention) -> Result<usize, StoreError> {
        let mut conversations: Vec<(&Name, Vec<Entry<&str>>)> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for record in batch {
            let Some(entry) = Entry::of(&record.event, record.at) else {
                continue;
            };
            let at = *index.entry(&*record.key).or_insert_with(|| {
                conversations.push((&record.key, Vec::new()));
                conversations.len() - 1
            });
            conversations[at].1.push(entry);
        }
        let Store { connection, sizes } = self;
        if sizes.len() > SIZES_MAX {
            // Read again as conversations are written to.
            sizes.clear();
        }
        let slack = retention.per_target / 10 + 1;
        let transaction = connection.transaction()?;
        {
            let chunks = Chunks(&transaction);
            for (key, entries) in &conversations {
                for chunk in entries.chunks(CHUNK_MAX) {
                    chunks.insert(key, chunk)?;
                }
                let size = match sizes.get_mut(*key) {
                    Some(size) => {
                        *size += entries.len();
                        *size
                    }
                    None => {
                        let size = chunks.size(key)?;
                        sizes.insert(Name::clone(key), size);
                        size
                    }
                };
                if size > retention.per_target + slack {
                    let kept = chunks.trim(key, retention.per_target, slack)?;
                    sizes.insert(Name::clone(key), kept);
                }
            }
        }
        transaction.commit()?;
        Ok(conversations.iter().map(|(_, entries)| entries.len()).sum())
    }

    /// Forgets the history older than `days`, a chunk at a time (when
    /// its last message is); returns how many messages went.
    pub fn expire(&mut self, days: u32) -> Result<usize, StoreError> {
        let cutoff = now_ms() - i64::from(days) * 86_400_000;
        let gone: i64 = self.connection.query_row(
            "SELECT coalesce(sum(count), 0) FROM history WHERE last_at < ?1",
            [cutoff],
            |row| row.get(0),
        )?;
        if gone > 0 {
            self.connection
                .execute("DELETE FROM history WHERE last_at < ?1", [cutoff])?;
            self.sizes.clear();
        }
        Ok(gone as usize)
    }

    /// A page of one conversation, oldest first: its messages, and with
    /// `events` its topic changes and kept TAGMSGs too.
    pub fn page(
        &self,
        key: &str,
        selector: &Selector,
        limit: usize,
        events: bool,
    ) -> Result<Vec<Past>, StoreError> {
        let scope = Scope { key, events };
        let chunks = Chunks(&self.connection);
        let mut page = match selector {
            Selector::Latest(None) => chunks.before(&scope, (i64::MAX, i64::MAX), limit)?,
            Selector::Latest(Some(point)) => {
                let from = chunks.after_bound(key, point)?;
                chunks
                    .before(&scope, (i64::MAX, i64::MAX), limit)?
                    .into_iter()
                    .filter(|(position, _)| *position > from)
                    .collect()
            }
            Selector::Before(point) => {
                let to = chunks.before_bound(key, point)?;
                chunks.before(&scope, to, limit)?
            }
            Selector::After(point) => {
                let from = chunks.after_bound(key, point)?;
                chunks.after(&scope, from, limit)?
            }
            Selector::Around(point) => {
                let at = chunks.before_bound(key, point)?;
                let mut page = chunks.before(&scope, at, limit / 2)?;
                // From the point itself on: `after` is strict, so start
                // just before it.
                page.extend(chunks.after(
                    &scope,
                    (at.0, at.1.saturating_sub(1)),
                    limit - limit / 2,
                )?);
                page
            }
            Selector::Between(first, second) => {
                let (start, end) = (
                    chunks.after_bound(key, first)?,
                    chunks.after_bound(key, second)?,
                );
                if start <= end {
                    let end = chunks.before_bound(key, second)?;
                    let mut page = chunks.after(&scope, start, limit)?;
                    page.retain(|(position, _)| *position < end);
                    page
                } else {
                    let start = chunks.before_bound(key, first)?;
                    let mut page = chunks.before(&scope, start, limit)?;
                    page.retain(|(position, _)| *position > end);
                    page
                }
            }
        };
        page.sort_by_key(|(position, _)| *position);
        Ok(page.into_iter().map(|(_, entry)| entry.past()).collect())
    }

    /// The conversations among `keys` (rooms) and those `party` took part
    /// in privately, whose latest message is between `from` and `to`
    /// (exclusive), earliest first, at most `limit`. A private one is
    /// named by the other party.
    pub fn targets(
        &self,
        keys: &[Name],
        party: Option<&str>,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
        limit: usize,
    ) -> Result<Vec<HistoryTarget>, StoreError> {
        let (from, to) = (from.as_millisecond(), to.as_millisecond());
        let (low, high) = (from.min(to), from.max(to));
        // The conversations with a chunk ending in the window (by the time
        // index), and when each one's latest ended: the cost is the
        // window's chunks, not the whole history's.
        let mut statement = self.connection.prepare_cached(
            "SELECT target, max(last_at) AS latest FROM history WHERE last_at > ?1
             GROUP BY target HAVING latest < ?2 ORDER BY latest",
        )?;
        let rows = statement.query_map(params![low, high], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?;
        let chunks = Chunks(&self.connection);
        let mut found = Vec::new();
        for row in rows {
            let (key, latest) = row?;
            let private = !key.starts_with('#');
            let readable = if private {
                party.is_some_and(|party| key.split(' ').any(|one| one == party))
            } else {
                keys.iter().any(|room| **room == *key)
            };
            if !readable {
                continue;
            }
            let everything = Scope {
                key: &key,
                events: true,
            };
            let Some((_, last)) = chunks.before(&everything, (i64::MAX, i64::MAX), 1)?.pop() else {
                continue;
            };
            // A room by its name as said; a private talk by the other
            // party, as the latest message names them.
            let sent = last.account.as_deref().unwrap_or(&last.nick);
            let sent_by_other =
                private && party.is_some_and(|party| *crate::router::fold(sent) != *party);
            let name = if sent_by_other { last.nick } else { last.to };
            found.push(HistoryTarget {
                name,
                latest: jiff::Timestamp::from_millisecond(latest)
                    .map_err(|error| StoreError(error.to_string()))?,
            });
            if found.len() == limit {
                break;
            }
        }
        Ok(found)
    }

    /// The latest messages of every room said after `since`, at most
    /// `per_room` each, oldest first, for the join replay after a restart.
    pub fn recent_rooms(
        &self,
        since: jiff::Timestamp,
        per_room: usize,
    ) -> Result<Vec<(Name, Vec<Past>)>, StoreError> {
        let since = since.as_millisecond();
        let mut statement = self.connection.prepare(
            "SELECT DISTINCT target FROM history WHERE last_at > ?1 AND target LIKE '#%'",
        )?;
        let keys: Vec<String> = statement
            .query_map([since], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        let chunks = Chunks(&self.connection);
        let mut rooms = Vec::with_capacity(keys.len());
        for key in keys {
            let scope = Scope {
                key: &key,
                events: false,
            };
            let mut page = chunks.before(&scope, (i64::MAX, i64::MAX), per_room)?;
            page.retain(|(position, _)| position.0 > since);
            page.sort_by_key(|(position, _)| *position);
            let page = page.into_iter().map(|(_, entry)| entry.past()).collect();
            rooms.push((key.into(), page));
        }
        Ok(rooms)
    }

    /// Keeps a private message for the account `owner` until it logs in;
    /// `sender` is the sender's party, for the per-sender limit.
    pub fn save_offline(
        &mut self,
        owner: &str,
        sender: &str,
        message: &Outgoing,
    ) -> Result<(), StoreError> {
        let entry = Entry::of(message.event(), message.time())
            .ok_or_else(|| StoreError("only messages wait for their reader".into()))?;
        self.connection
            .prepare_cached("INSERT INTO offline (owner, sender, message) VALUES (?1, ?2, ?3)")?
            .execute(params![owner, sender, encode(&entry)?])?;
        Ok(())
    }

    /// Every message waiting for `owner`, oldest first, and the id of the
    /// last (to forget them once delivered).
    pub fn offline(&self, owner: &str) -> Result<(Vec<Past>, i64), StoreError> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT id, message FROM offline WHERE owner = ?1 ORDER BY id")?;
        let mut last = 0;
        let mut messages = Vec::new();
        let rows = statement.query_map([owner], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (id, message) = row?;
            last = id;
            messages.push(decode::<Entry<Name>>(&message)?.past());
        }
        Ok((messages, last))
    }

    /// Forgets the messages waiting for `owner` up to the id `last`: they
    /// were delivered.
    pub fn clear_offline(&mut self, owner: &str, last: i64) -> Result<(), StoreError> {
        self.connection.execute(
            "DELETE FROM offline WHERE owner = ?1 AND id <= ?2",
            params![owner, last],
        )?;
        Ok(())
    }

    /// How many messages wait for each account, from each sender.
    pub fn offline_counts(&self) -> Result<Vec<(Name, Name, usize)>, StoreError> {
        let mut statement = self
            .connection
            .prepare("SELECT owner, sender, count(*) FROM offline GROUP BY owner, sender")?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?.into(),
                row.get::<_, String>(1)?.into(),
                row.get::<_, i64>(2)? as usize,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// The `history` table, inside a transaction or not.
struct Chunks<'a>(&'a rusqlite::Connection);

impl Chunks<'_> {
    /// Adds one chunk of `key`'s messages, oldest first.
    fn insert(&self, key: &str, entries: &[Entry<&str>]) -> Result<(), StoreError> {
        let ats = entries.iter().map(|entry| entry.at);
        let (first, last) = (ats.clone().min(), ats.max());
        self.0
            .prepare_cached(
                "INSERT INTO history (target, first_at, last_at, count, messages)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                key,
                first,
                last,
                entries.len() as i64,
                encode(&entries)?
            ])?;
        Ok(())
    }

    /// How many messages `key` holds.
    fn size(&self, key: &str) -> Result<usize, StoreError> {
        let size: i64 = self
            .0
            .prepare_cached("SELECT coalesce(sum(count), 0) FROM history WHERE target = ?1")?
            .query_row([key], |row| row.get(0))?;
        Ok(size as usize)
    }

    /// Keeps `key`'s newest `keep` messages: the chunks past them go, and
    /// the chunk they end in loses its older part if that is more than
    /// `slack` (rewriting a chunk costs more than the rest of a trim).
    /// Returns how many are kept.
    fn trim(&self, key: &str, keep: usize, slack: usize) -> Result<usize, StoreError> {
        // The chunk where the newest `keep` end, and how many of its
        // messages are among them.
        let (mut boundary, mut kept) = (None, 0);
        {
            let mut statement = self.0.prepare_cached(
                "SELECT id, last_at, count FROM history WHERE target = ?1
                 ORDER BY last_at DESC, id DESC",
            )?;
            let mut rows = statement.query([key])?;
            while let Some(row) = rows.next()? {
                let count = row.get::<_, i64>(2)? as usize;
                if kept + count >= keep {
                    let (id, last_at) = (row.get::<_, i64>(0)?, row.get::<_, i64>(1)?);
                    boundary = Some((id, last_at, keep - kept, count));
                    break;
                }
                kept += count;
            }
        }
        let Some((id, last_at, newest, count)) = boundary else {
            return Ok(kept);
        };
        self.0.execute(
            "DELETE FROM history WHERE target = ?1 AND (last_at, id) < (?2, ?3)",
            params![key, last_at, id],
        )?;
        if count - newest <= slack {
            return Ok(kept + count);
        }
        let messages: String =
            self.0
                .query_row("SELECT messages FROM history WHERE id = ?1", [id], |row| {
                    row.get(0)
                })?;
        let mut entries: Vec<Entry<Name>> = decode(&messages)?;
        entries.drain(..entries.len().saturating_sub(newest));
        match entries.iter().map(|entry| entry.at).min() {
            Some(first) => self.0.execute(
                "UPDATE history SET first_at = ?2, count = ?3, messages = ?4 WHERE id = ?1",
                params![id, first, entries.len() as i64, encode(&entries)?],
            )?,
            None => self.0.execute("DELETE FROM history WHERE id = ?1", [id])?,
        };
        Ok(keep)
    }

    /// Up to `limit` messages strictly before `end`, newest first.
    fn before(
        &self,
        scope: &Scope<'_>,
        end: Position,
        limit: usize,
    ) -> Result<Vec<(Position, Entry<Name>)>, StoreError> {
        let mut statement = self.0.prepare_cached(
            "SELECT id, last_at, messages FROM history WHERE target = ?1 AND first_at <= ?2
             ORDER BY last_at DESC, id DESC",
        )?;
        let rows = statement.query(params![scope.key, end.0])?;
        scope.gather(rows, limit, Order::NewestFirst, |position| position < end)
    }

    /// Up to `limit` messages strictly after `start`, oldest first.
    fn after(
        &self,
        scope: &Scope<'_>,
        start: Position,
        limit: usize,
    ) -> Result<Vec<(Position, Entry<Name>)>, StoreError> {
        let mut statement = self.0.prepare_cached(
            "SELECT id, first_at, messages FROM history WHERE target = ?1 AND last_at >= ?2
             ORDER BY first_at, id",
        )?;
        let rows = statement.query(params![scope.key, start.0])?;
        scope.gather(rows, limit, Order::OldestFirst, |position| position > start)
    }

    /// Where a point is, for messages after it: a message's own place, or
    /// the end of its millisecond. An unknown message id is an error.
    fn after_bound(&self, key: &str, point: &Ref) -> Result<Position, StoreError> {
        match point {
            Ref::Time(at) => Ok((at.as_millisecond(), i64::MAX)),
            Ref::MsgId(id) => self.position(key, id),
        }
    }

    /// Where a point is, for messages before it: a message's own place, or
    /// the start of its millisecond.
    fn before_bound(&self, key: &str, point: &Ref) -> Result<Position, StoreError> {
        match point {
            Ref::Time(at) => Ok((at.as_millisecond(), i64::MIN)),
            Ref::MsgId(id) => self.position(key, id),
        }
    }

    /// Where the message `msgid` is: the newest chunk whose text holds
    /// its id as JSON writes it, searched from the newest (where clients
    /// mostly ask), and the message in it.
    fn position(&self, key: &str, msgid: &str) -> Result<Position, StoreError> {
        let needle = format!("\"id\":{}", encode(&msgid)?);
        let found = self
            .0
            .prepare_cached(
                "SELECT id, messages FROM history WHERE target = ?1 AND instr(messages, ?2) > 0
                 ORDER BY last_at DESC, id DESC LIMIT 1",
            )?
            .query_row(params![key, needle], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
            .optional()?;
        let unknown = || StoreError(format!("no message {msgid} here"));
        let (id, messages) = found.ok_or_else(unknown)?;
        let entries: Vec<Entry<Name>> = decode(&messages)?;
        let place = entries
            .iter()
            .position(|entry| *entry.id == *msgid)
            .ok_or_else(unknown)?;
        Ok((entries[place].at, id * CHUNK_SPAN + place as i64))
    }
}

/// Which messages a page reads: one conversation's, and whether its
/// events other than messages too.
struct Scope<'a> {
    key: &'a str,
    events: bool,
}

/// Which way a page is read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    /// Chunks by their last time, latest first.
    NewestFirst,
    /// Chunks by their first time, earliest first.
    OldestFirst,
}

impl Scope<'_> {
    /// The first `limit` messages in `order` that are `wanted`, each with
    /// its position, from `rows`: chunks (id, the time of the end they
    /// are ordered by, JSON) in that order.
    fn gather(
        &self,
        mut rows: rusqlite::Rows<'_>,
        limit: usize,
        order: Order,
        wanted: impl Fn(Position) -> bool,
    ) -> Result<Vec<(Position, Entry<Name>)>, StoreError> {
        let mut found: Vec<(Position, Entry<Name>)> = Vec::new();
        if limit == 0 {
            return Ok(found);
        }
        let newest_first = order == Order::NewestFirst;
        while let Some(row) = rows.next()? {
            let (id, end): (i64, i64) = (row.get(0)?, row.get(1)?);
            // Once `limit` are found, a chunk whose nearer end is past the
            // last of them holds nothing ahead of it, nor do those after.
            if let Some(((last, _), _)) = found.get(limit - 1)
                && (newest_first && end < *last || !newest_first && end > *last)
            {
                break;
            }
            let entries: Vec<Entry<Name>> = decode(&row.get::<_, String>(2)?)?;
            found.extend(
                entries
                    .into_iter()
                    .enumerate()
                    .map(|(place, entry)| ((entry.at, id * CHUNK_SPAN + place as i64), entry))
                    .filter(|(position, entry)| {
                        wanted(*position) && (self.events || entry.kind < TAGMSG)
                    }),
            );
            found.sort_by_key(|(position, _)| *position);
            if newest_first {
                found.reverse();
            }
            found.truncate(limit);
        }
        Ok(found)
    }
}

/// A message as the store keeps it, in JSON: borrowed to write, owned
/// when read.
#[derive(Serialize, Deserialize)]
struct Entry<S> {
    id: S,
    at: i64,
    nick: S,
    user: S,
    host: S,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account: Option<S>,
    kind: i64,
    /// The room or nickname it was sent to, as named.
    to: S,
    text: S,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tags: Option<S>,
    #[serde(default, skip_serializing_if = "is_false")]
    long: bool,
}

impl<'a> Entry<&'a str> {
    /// `None` for anything but a message, a TAGMSG or a topic change.
    fn of(event: &'a Event, at: jiff::Timestamp) -> Option<Entry<&'a str>> {
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
    fn past(self) -> Past {
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

fn encode(value: &impl Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError(error.to_string()))
}

fn decode<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError(format!("history unreadable: {error}")))
}

/// The kinds at and past this number are events other than messages,
/// which only clients with `draft/event-playback` read.
const TAGMSG: i64 = 5;
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

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
