//! The `history` table: a conversation's messages in chunks, a row per
//! conversation per committed batch (see `history.rs`), and how a page is
//! found among them.

use rusqlite::{OptionalExtension, params};

use super::StoreError;
use super::entry::{Entry, TAGMSG, decode, encode};
use crate::protocol::{Name, Ref};

/// Most messages in one chunk: enough that a row's cost is spread thin,
/// few enough that a page reads little more than it needs.
pub(super) const CHUNK_MAX: usize = 256;

/// A message's place in its chunk counts below this in its [`Position`].
const CHUNK_SPAN: i64 = 1 << 16;

/// A place in a conversation: `(at, chunk id * CHUNK_SPAN + place in
/// the chunk)`, compared as a pair.
pub(super) type Position = (i64, i64);

/// The `history` table, inside a transaction or not.
pub(super) struct Chunks<'a>(pub(super) &'a rusqlite::Connection);

impl Chunks<'_> {
    /// Adds one chunk of `key`'s messages, oldest first.
    pub(super) fn insert(&self, key: &str, entries: &[Entry<&str>]) -> Result<(), StoreError> {
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
    pub(super) fn size(&self, key: &str) -> Result<usize, StoreError> {
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
    pub(super) fn trim(&self, key: &str, keep: usize, slack: usize) -> Result<usize, StoreError> {
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
    pub(super) fn before(
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
    pub(super) fn after(
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
    pub(super) fn after_bound(&self, key: &str, point: &Ref) -> Result<Position, StoreError> {
        match point {
            Ref::Time(at) => Ok((at.as_millisecond(), i64::MAX)),
            Ref::MsgId(id) => self.position(key, id),
        }
    }

    /// Where a point is, for messages before it: a message's own place, or
    /// the start of its millisecond.
    pub(super) fn before_bound(&self, key: &str, point: &Ref) -> Result<Position, StoreError> {
        match point {
            Ref::Time(at) => Ok((at.as_millisecond(), i64::MIN)),
            Ref::MsgId(id) => self.position(key, id),
        }
    }

    /// Where the message `msgid` is: the newest chunk whose text holds
    /// its id as JSON writes it, searched from the newest (where clients
    /// mostly ask), and the message in it.
    pub(super) fn position(&self, key: &str, msgid: &str) -> Result<Position, StoreError> {
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
pub(super) struct Scope<'a> {
    pub(super) key: &'a str,
    pub(super) events: bool,
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
