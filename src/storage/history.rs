//! History and offline messages in the store: batches written in one
//! transaction, pages read back as [`Past`] messages.

use std::sync::Arc;

use rusqlite::types::ToSql;
use rusqlite::{OptionalExtension, Row, Statement, params, params_from_iter};

use super::{Store, StoreError};
use crate::protocol::{
    Destination, Event, HistoryTarget, Mask, MessageKind, Name, Outgoing, Past, Ref, Selector,
};

/// A delivered message for the history: the key of its conversation (see
/// the schema in `store.rs`) and the message as it was delivered.
#[derive(Clone, Debug)]
pub struct Record {
    pub key: Name,
    pub message: Arc<Outgoing>,
}

/// How much history is kept: `--history-days` and `--history-per-target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub days: u32,
    pub per_target: usize,
}

/// A message's columns, in both tables, in this order.
const COLUMNS: &str = "msgid, at, nick, user, host, account, kind, recipient, text, tags, long";

/// Conversations whose sizes the store remembers; past this it forgets
/// them all and counts again (a count is one walk over a conversation).
const SIZES_MAX: usize = 65_536;

/// A place in a conversation: `(at, id)`, compared as a pair.
type Position = (i64, i64);

impl Store {
    /// Writes a batch of delivered messages in one transaction. A
    /// conversation that grew a tenth past `retention.per_target` is
    /// trimmed back to it: counting from the newest costs a walk over that
    /// many rows, so it is done once in so many messages, not per batch.
    /// Returns how many were written.
    pub fn record(&mut self, batch: &[Record], retention: Retention) -> Result<usize, StoreError> {
        let Store { connection, sizes } = self;
        if sizes.len() > SIZES_MAX {
            // Read again as conversations are written to.
            sizes.clear();
        }
        let slack = retention.per_target / 10 + 1;
        let transaction = connection.transaction()?;
        {
            let mut insert = transaction.prepare_cached(&format!(
                "INSERT INTO messages (target, {COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
            ))?;
            let mut trim = transaction.prepare_cached(
                "DELETE FROM messages WHERE target = ?1 AND id <= (
                    SELECT id FROM messages WHERE target = ?1 ORDER BY at DESC, id DESC
                    LIMIT 1 OFFSET ?2)",
            )?;
            let mut count =
                transaction.prepare_cached("SELECT count(*) FROM messages WHERE target = ?1")?;
            for record in batch {
                let Some(fields) = Fields::of(&record.message) else {
                    continue;
                };
                fields.insert(&mut insert, &[&&*record.key])?;
                let size = match sizes.get_mut(&record.key) {
                    Some(size) => {
                        *size += 1;
                        *size
                    }
                    None => {
                        let size: i64 = count.query_row([&*record.key], |row| row.get(0))?;
                        sizes.insert(record.key.clone(), size as usize);
                        size as usize
                    }
                };
                if size > retention.per_target + slack {
                    trim.execute(params![&*record.key, retention.per_target as i64])?;
                    sizes.insert(record.key.clone(), retention.per_target);
                }
            }
        }
        transaction.commit()?;
        Ok(batch.len())
    }

    /// Forgets the history older than `days`; returns how many messages went.
    pub fn expire(&mut self, days: u32) -> Result<usize, StoreError> {
        let cutoff = now_ms() - i64::from(days) * 86_400_000;
        let gone = self
            .connection
            .execute("DELETE FROM messages WHERE at < ?1", [cutoff])?;
        if gone > 0 {
            self.sizes.clear();
        }
        Ok(gone)
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
        let limit = limit as i64;
        let mut page = match selector {
            Selector::Latest(None) => self.before(&scope, (i64::MAX, i64::MAX), limit)?,
            Selector::Latest(Some(point)) => {
                let from = self.after_bound(key, point)?;
                self.before(&scope, (i64::MAX, i64::MAX), limit)?
                    .into_iter()
                    .filter(|(position, _)| *position > from)
                    .collect()
            }
            Selector::Before(point) => {
                let to = self.before_bound(key, point)?;
                self.before(&scope, to, limit)?
            }
            Selector::After(point) => {
                let from = self.after_bound(key, point)?;
                self.after(&scope, from, limit)?
            }
            Selector::Around(point) => {
                let at = self.before_bound(key, point)?;
                let mut page = self.before(&scope, at, limit / 2)?;
                // From the point itself on: `after` is strict, so start
                // just before it.
                page.extend(self.after(
                    &scope,
                    (at.0, at.1.saturating_sub(1)),
                    limit - limit / 2,
                )?);
                page
            }
            Selector::Between(first, second) => {
                let (start, end) = (
                    self.after_bound(key, first)?,
                    self.after_bound(key, second)?,
                );
                if start <= end {
                    let end = self.before_bound(key, second)?;
                    let mut page = self.after(&scope, start, limit)?;
                    page.retain(|(position, _)| *position < end);
                    page
                } else {
                    let start = self.before_bound(key, first)?;
                    let mut page = self.before(&scope, start, limit)?;
                    page.retain(|(position, _)| *position > end);
                    page
                }
            }
        };
        page.sort_by_key(|(position, _)| *position);
        Ok(page.into_iter().map(|(_, past)| past).collect())
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
        // The conversations with a message in the window (by the time
        // index), then each one's latest (by its own index): the cost is
        // the window's messages, not the whole history's.
        let mut statement = self.connection.prepare_cached(
            "SELECT latest.target, latest.at, latest.recipient, latest.nick, latest.account
             FROM (SELECT DISTINCT target FROM messages WHERE at > ?1 AND at < ?2) AS window
             JOIN messages AS latest ON latest.id = (
                 SELECT id FROM messages WHERE target = window.target
                 ORDER BY at DESC, id DESC LIMIT 1)
             WHERE latest.at < ?2
             ORDER BY latest.at, latest.id",
        )?;
        let rows = statement.query_map(params![low, high], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, Option<String>>(4)?,
            ))
        })?;
        let mut found = Vec::new();
        for row in rows {
            let (key, latest, recipient, sender, account) = row?;
            let name: Name = if key.starts_with('#') {
                if !keys.iter().any(|room| **room == *key) {
                    continue;
                }
                recipient.into()
            } else {
                let Some(party) = party else { continue };
                if !key.split(' ').any(|one| one == party) {
                    continue;
                }
                // The other party, as the latest message names them.
                let sent = account.as_deref().unwrap_or(&sender);
                if *crate::router::fold(sent) == *party {
                    recipient.into()
                } else {
                    sender.into()
                }
            };
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
        let mut statement = self
            .connection
            .prepare("SELECT DISTINCT target FROM messages WHERE at > ?1 AND target LIKE '#%'")?;
        let keys: Vec<String> = statement
            .query_map([since.as_millisecond()], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        let mut rooms = Vec::with_capacity(keys.len());
        for key in keys {
            let scope = Scope {
                key: &key,
                events: false,
            };
            let mut page = self.before(&scope, (i64::MAX, i64::MAX), per_room as i64)?;
            page.retain(|(position, _)| position.0 > since.as_millisecond());
            page.sort_by_key(|(position, _)| *position);
            rooms.push((key.into(), page.into_iter().map(|(_, past)| past).collect()));
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
        let fields = Fields::of(message)
            .ok_or_else(|| StoreError("only messages wait for their reader".into()))?;
        let mut insert = self.connection.prepare_cached(&format!(
            "INSERT INTO offline (owner, sender, {COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        ))?;
        fields.insert(&mut insert, &[&owner, &sender])?;
        Ok(())
    }

    /// Every message waiting for `owner`, oldest first, and the id of the
    /// last (to forget them once delivered).
    pub fn offline(&self, owner: &str) -> Result<(Vec<Past>, i64), StoreError> {
        let mut statement = self.connection.prepare_cached(&format!(
            "SELECT id, {COLUMNS} FROM offline WHERE owner = ?1 ORDER BY id"
        ))?;
        let mut last = 0;
        let mut messages = Vec::new();
        let rows =
            statement.query_map([owner], |row| Ok((row.get::<_, i64>(0)?, past(row, 1)?)))?;
        for row in rows {
            let (id, message) = row?;
            last = id;
            messages.push(message);
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

    /// Up to `limit` messages strictly before `end`, newest first.
    fn before(
        &self,
        scope: &Scope<'_>,
        end: Position,
        limit: i64,
    ) -> Result<Vec<(Position, Past)>, StoreError> {
        self.select(
            "(at, id) < (?2, ?3) ORDER BY at DESC, id DESC",
            scope,
            end,
            limit,
        )
    }

    /// Up to `limit` messages strictly after `start`, oldest first.
    fn after(
        &self,
        scope: &Scope<'_>,
        start: Position,
        limit: i64,
    ) -> Result<Vec<(Position, Past)>, StoreError> {
        self.select("(at, id) > (?2, ?3) ORDER BY at, id", scope, start, limit)
    }

    fn select(
        &self,
        condition: &str,
        scope: &Scope<'_>,
        position: Position,
        limit: i64,
    ) -> Result<Vec<(Position, Past)>, StoreError> {
        let kinds = if scope.events {
            String::new()
        } else {
            format!("kind < {TAGMSG} AND")
        };
        let mut statement = self.connection.prepare_cached(&format!(
            "SELECT at, id, {COLUMNS} FROM messages WHERE target = ?1 AND {kinds} {condition} LIMIT ?4"
        ))?;
        let rows = statement
            .query_map(params![scope.key, position.0, position.1, limit], |row| {
                Ok(((row.get(0)?, row.get(1)?), past(row, 2)?))
            })?;
        Ok(rows.collect::<Result<_, _>>()?)
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

    fn position(&self, key: &str, msgid: &str) -> Result<Position, StoreError> {
        self.connection
            .prepare_cached("SELECT at, id FROM messages WHERE msgid = ?1 AND target = ?2")?
            .query_row(params![msgid, key], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?
            .ok_or_else(|| StoreError(format!("no message {msgid} here")))
    }
}

/// Which rows a page reads: one conversation's, and whether its events
/// other than messages too.
struct Scope<'a> {
    key: &'a str,
    events: bool,
}

/// A message's values for [`COLUMNS`].
struct Fields<'a> {
    msgid: &'a str,
    at: i64,
    from: &'a Mask,
    kind: i64,
    recipient: &'a str,
    text: &'a str,
    tags: Option<&'a str>,
    long: bool,
}

impl<'a> Fields<'a> {
    /// Runs an insert whose parameters are `first`, then the [`COLUMNS`].
    fn insert(&self, statement: &mut Statement, first: &[&dyn ToSql]) -> rusqlite::Result<usize> {
        let (nick, user, host) = (
            self.from.nick.as_ref(),
            self.from.user.as_ref(),
            self.from.host.as_ref(),
        );
        let account = self.from.account.as_deref();
        let columns: [&dyn ToSql; 11] = [
            &self.msgid,
            &self.at,
            &nick,
            &user,
            &host,
            &account,
            &self.kind,
            &self.recipient,
            &self.text,
            &self.tags,
            &self.long,
        ];
        statement.execute(params_from_iter(first.iter().chain(&columns)))
    }

    /// `None` for anything but a message, a TAGMSG or a topic change.
    fn of(outgoing: &'a Outgoing) -> Option<Fields<'a>> {
        let at = outgoing.time().as_millisecond();
        Some(match outgoing.event() {
            Event::Message {
                from,
                to,
                text,
                kind,
                tags,
                id,
                long,
            } => Fields {
                msgid: id,
                at,
                from,
                kind: KINDS.iter().position(|known| known == kind).unwrap_or(0) as i64,
                recipient: to.name(),
                text,
                tags: tags.as_deref(),
                long: *long,
            },
            Event::TagMessage { from, to, tags, id } => Fields {
                msgid: id,
                at,
                from,
                kind: TAGMSG,
                recipient: to.name(),
                text: "",
                tags: Some(tags),
                long: false,
            },
            Event::TopicChanged {
                room,
                who,
                text,
                id,
            } => Fields {
                msgid: id,
                at,
                from: who,
                kind: TOPIC,
                recipient: room,
                text,
                tags: None,
                long: false,
            },
            _ => return None,
        })
    }
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

/// Reads [`COLUMNS`] from `first` on.
fn past(row: &Row<'_>, first: usize) -> rusqlite::Result<Past> {
    let column = |index: usize| first + index;
    let at: i64 = row.get(column(1))?;
    let recipient: String = row.get(column(7))?;
    let to = if recipient.starts_with('#') {
        Destination::Room(recipient.into())
    } else {
        Destination::User(recipient.into())
    };
    let kind: i64 = row.get(column(6))?;
    let from = Arc::new(Mask {
        nick: row.get::<_, String>(column(2))?.into(),
        user: row.get::<_, String>(column(3))?.into(),
        host: row.get::<_, String>(column(4))?.into(),
        account: row.get::<_, Option<String>>(column(5))?.map(Name::from),
    });
    let text: Name = row.get::<_, String>(column(8))?.into();
    let tags = row.get::<_, Option<String>>(column(9))?.map(Name::from);
    let id: Name = row.get::<_, String>(column(0))?.into();
    let message = match kind {
        TAGMSG => Event::TagMessage {
            from,
            to,
            tags: tags.unwrap_or_default(),
            id,
        },
        TOPIC => Event::TopicChanged {
            room: to.name().clone(),
            who: from,
            text,
            id,
        },
        _ => Event::Message {
            from,
            to,
            text,
            kind: KINDS
                .get(kind as usize)
                .copied()
                .unwrap_or(MessageKind::Say),
            tags,
            id,
            long: row.get(column(10))?,
        },
    };
    Ok(Past {
        at: jiff::Timestamp::from_millisecond(at).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        message,
    })
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
