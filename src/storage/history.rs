//! History and offline messages in the store: batches written in one
//! transaction, pages read back as [`Past`] messages.
//!
//! A conversation's history is kept in chunks: each batch the storage
//! thread commits becomes one row per conversation, its messages a JSON
//! array (oldest first) beside the times of its first and last. A row per
//! message cost the thread about 6 µs a message (a B-tree insert per
//! index, and the pages each one dirties in the WAL), which a busy room
//! took out of the cores delivering it; a chunk spreads one row's cost
//! over its messages (BENCHMARKS.md, "History: from a row per message to
//! chunks"). Reads decode the few chunks around the place asked for
//! (`chunks.rs`); a message is kept as `entry.rs` writes it.

use std::collections::HashMap;

use rusqlite::params;

use super::chunks::{CHUNK_MAX, Chunks, Scope};
use super::entry::{Entry, decode, encode};
use super::{Store, StoreError};
use crate::protocol::{Event, HistoryTarget, Name, Outgoing, Past, Selector};

/// A delivered message for the history: the key of its conversation (see
/// the schema in `store.rs`), and the event and time delivered. The event
/// alone, not the [`Outgoing`] with its encodings: held until written, a
/// whole message kept a batch's worth of encodings alive and the router
/// allocated each new message in cold memory (BENCHMARKS.md, "History:
/// from a row per message to chunks").
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

/// Conversations whose sizes the store remembers; past this it forgets
/// them all and counts again (a count is one walk over a conversation).
const SIZES_MAX: usize = 65_536;

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

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
