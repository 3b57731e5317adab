//! Storage: one thread, "sb-storage", owns the SQLite database.
//!
//! The router sends it a [`Job`] with `try_send` on a bounded queue and
//! never waits for the database: a full queue refuses the change ("server
//! busy, try again"), counted in `Stats::storage_busy`. The thread applies
//! each job in its own committed transaction (`synchronous=FULL`) and only
//! then answers with [`Input::Stored`], so whatever the router tells a user
//! succeeded is on disk. Everything the router must know at once (the
//! accounts, for nickname ownership) is read at start and kept in memory;
//! history reads and offline messages are jobs answered the same way.
//!
//! History takes a second, bigger queue of [`Record`]s (one per delivered
//! message, not per recipient). Woken by a record, the thread lets more
//! gather for [`GATHER`], then writes every record waiting in one
//! transaction: a busy second costs a few dozen commits, not one per
//! burst (each commit is an `fsync`, and a commit per burst cost more
//! than the rows). A delivered message is on disk within
//! [`COMMIT_WINDOW`] unless the disk is far slower than it should be.
//! It writes what is waiting before each job, so a history read sees
//! every message delivered before it was asked.
//! A full record queue is never waited for: the router counts the
//! message in `Stats::history_dropped` and it is delivered, unstored.

mod chunks;
mod entry;
mod history;
mod store;
#[cfg(test)]
mod tests;
mod tokens;

pub use history::{Record, Retention};
pub use store::{SCHEMA_VERSION, Store, StoreError};
pub use tokens::StoredToken;

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, select};

use crate::accounts::Account;
use crate::client::ClientId;
use crate::hashing::Full;
use crate::protocol::{HistoryQuery, HistoryTarget, Name, Outgoing, Past, Selector};
use crate::router::{Asker, Input, Replier, RouterSender};
use crate::stats::Stats;

/// Jobs waiting at most; past that the router refuses new ones.
pub const QUEUE: usize = 256;

/// Delivered messages waiting to be stored, at most: a few hundred
/// milliseconds of a busy server. Past that they are not stored (counted).
pub const RECORD_QUEUE: usize = 16 * 1024;

/// Most messages written in one transaction.
pub const BATCH_MAX: usize = 4096;

/// A delivered message is in the store within this time (the promise
/// README.md makes, and what the kill -9 test waits): a batch commits as
/// soon as the one before it has, each commit one `fsync`, a few
/// milliseconds on an ordinary disk.
pub const COMMIT_WINDOW: Duration = Duration::from_millis(100);

/// How long records gather before they are written, from the first:
/// well inside [`COMMIT_WINDOW`], long enough that a busy room's
/// messages share commits and chunks.
pub const GATHER: Duration = Duration::from_millis(20);

/// How often history older than `--history-days` is deleted.
const EXPIRE_EVERY: Duration = Duration::from_secs(60);

/// A change for the storage thread to make, or a question, and whom to tell.
#[derive(Debug)]
pub enum Job {
    CreateAccount {
        client: ClientId,
        account: Account,
    },
    DropAccount {
        client: ClientId,
        name: Name,
    },
    /// Keep an API token issued to `asker`; `secret` is the token itself,
    /// handed back to be shown once, never stored.
    SaveToken {
        token: StoredToken,
        secret: String,
        asker: Asker,
    },
    RevokeToken {
        hash: [u8; 32],
        asker: Asker,
    },
    /// Add (or, with `add` false, remove) a certificate of `account`.
    Certificate {
        client: ClientId,
        account: Name,
        fingerprint: Box<str>,
        add: bool,
    },
    /// Keep a private message for the account `owner` (folded), offline;
    /// `sender` is the sender's party and `nick` the recipient as named.
    SaveOffline {
        client: ClientId,
        owner: Name,
        sender: Name,
        nick: Name,
        message: Arc<Outgoing>,
    },
    /// The messages waiting for `owner`, who logged in as `client`.
    TakeOffline {
        client: ClientId,
        owner: Name,
    },
    /// They were delivered up to the id `last`.
    ClearOffline {
        owner: Name,
        last: i64,
    },
    /// A page of the conversation `key`, named `target` for the reader;
    /// with `events`, topic changes and TAGMSGs too.
    History {
        client: ClientId,
        key: Name,
        target: Name,
        query: HistoryQuery,
        events: bool,
        label: Option<Name>,
    },
    /// `CHATHISTORY TARGETS`: among the rooms `rooms` and the private
    /// talks of `party`.
    Targets {
        client: ClientId,
        rooms: Vec<Name>,
        party: Option<Name>,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
        limit: usize,
        label: Option<Name>,
    },
    /// A page of the room `key` (folded) for an HTTP API request.
    ApiHistory {
        key: Name,
        selector: Selector,
        limit: usize,
        reply: Replier,
    },
}

/// A job done (committed) or failed, as the router hears of it.
#[derive(Debug)]
pub enum Stored {
    AccountCreated {
        client: ClientId,
        account: Account,
        result: Result<(), StoreError>,
    },
    AccountDropped {
        client: ClientId,
        name: Name,
        result: Result<(), StoreError>,
    },
    TokenSaved {
        token: StoredToken,
        secret: String,
        asker: Asker,
        result: Result<(), StoreError>,
    },
    TokenRevoked {
        hash: [u8; 32],
        asker: Asker,
        result: Result<(), StoreError>,
    },
    Certificate {
        client: ClientId,
        account: Name,
        fingerprint: Box<str>,
        add: bool,
        result: Result<(), StoreError>,
    },
    OfflineSaved {
        client: ClientId,
        owner: Name,
        sender: Name,
        nick: Name,
        result: Result<(), StoreError>,
    },
    Offline {
        client: ClientId,
        owner: Name,
        result: Result<(Vec<Past>, i64), StoreError>,
    },
    History {
        client: ClientId,
        target: Name,
        query: HistoryQuery,
        label: Option<Name>,
        result: Result<Vec<Past>, StoreError>,
    },
    Targets {
        client: ClientId,
        label: Option<Name>,
        result: Result<Vec<HistoryTarget>, StoreError>,
    },
    ApiHistory {
        reply: Replier,
        result: Result<Vec<Past>, StoreError>,
    },
    /// Delivered messages written (or given up on), handed back for the
    /// router to drop: it made them, and glibc's malloc frees memory of
    /// another thread's arena under that arena's lock, which the router
    /// then waits on for its own allocations (BENCHMARKS.md, "History:
    /// from a row per message to chunks").
    Written(Vec<Record>),
}

impl Store {
    /// Applies one job: what the storage thread runs, and what tests call
    /// directly. `None` for a job nobody waits for.
    pub fn apply(&mut self, job: Job) -> Option<Stored> {
        Some(match job {
            Job::CreateAccount { client, account } => {
                let result = self.create_account(&account);
                Stored::AccountCreated {
                    client,
                    account,
                    result,
                }
            }
            Job::DropAccount { client, name } => {
                let result = self.drop_account(&name);
                Stored::AccountDropped {
                    client,
                    name,
                    result,
                }
            }
            Job::SaveToken {
                token,
                secret,
                asker,
            } => {
                let result = self.save_token(&token, jiff::Timestamp::now().as_second());
                Stored::TokenSaved {
                    token,
                    secret,
                    asker,
                    result,
                }
            }
            Job::RevokeToken { hash, asker } => {
                let result = self.revoke_token(&hash);
                Stored::TokenRevoked {
                    hash,
                    asker,
                    result,
                }
            }
            Job::Certificate {
                client,
                account,
                fingerprint,
                add,
            } => {
                let result = if add {
                    self.add_certificate(&account, &fingerprint)
                } else {
                    self.remove_certificate(&account, &fingerprint)
                };
                Stored::Certificate {
                    client,
                    account,
                    fingerprint,
                    add,
                    result,
                }
            }
            Job::SaveOffline {
                client,
                owner,
                sender,
                nick,
                message,
            } => {
                let result = self.save_offline(&owner, &sender, &message);
                Stored::OfflineSaved {
                    client,
                    owner,
                    sender,
                    nick,
                    result,
                }
            }
            Job::TakeOffline { client, owner } => {
                let result = self.offline(&owner);
                Stored::Offline {
                    client,
                    owner,
                    result,
                }
            }
            Job::ClearOffline { owner, last } => {
                if let Err(error) = self.clear_offline(&owner, last) {
                    log::warn!("storage: {error}");
                }
                return None;
            }
            Job::History {
                client,
                key,
                target,
                query,
                events,
                label,
            } => {
                let result = self.page(&key, &query.selector, query.limit, events);
                Stored::History {
                    client,
                    target,
                    query,
                    label,
                    result,
                }
            }
            Job::Targets {
                client,
                rooms,
                party,
                from,
                to,
                limit,
                label,
            } => {
                let result = self.targets(&rooms, party.as_deref(), from, to, limit);
                Stored::Targets {
                    client,
                    label,
                    result,
                }
            }
            Job::ApiHistory {
                key,
                selector,
                limit,
                reply,
            } => {
                let result = self.page(&key, &selector, limit, false);
                Stored::ApiHistory { reply, result }
            }
        })
    }
}

/// The storage thread, as the router holds it.
#[derive(Debug)]
pub struct Storage {
    /// `None` once stopped.
    jobs: Option<Sender<Job>>,
    /// Delivered messages for the history; `None` with `--history off`,
    /// and once stopped.
    records: Option<Sender<Record>>,
    /// Dropped so a thread blocked on a full router channel gives up.
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Storage {
    /// Starts the thread, which owns `store` and answers through `router`;
    /// with a `retention`, it keeps history too.
    pub fn start(
        mut store: Store,
        retention: Option<Retention>,
        stats: Arc<Stats>,
        router: RouterSender,
    ) -> io::Result<Storage> {
        let (jobs, queue) = crossbeam_channel::bounded::<Job>(QUEUE);
        let (records, delivered) = crossbeam_channel::bounded::<Record>(RECORD_QUEUE);
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let thread = thread::Builder::new()
            .name("sb-storage".into())
            .spawn(move || {
                let mut writer = Writer {
                    store: &mut store,
                    retention: retention.unwrap_or(Retention {
                        days: 0,
                        per_target: 0,
                    }),
                    stats: &stats,
                    batch: Vec::with_capacity(BATCH_MAX),
                };
                writer.run(&queue, &delivered, retention.is_some(), |stored| {
                    router.send_unless_stopped(Input::Stored(Box::new(stored)), &stopped);
                });
            })?;
        Ok(Storage {
            jobs: Some(jobs),
            records: retention.map(|_| records),
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Storage without a thread whose jobs and records wait in the returned
    /// queues, for tests that apply them themselves ([`Store::apply`],
    /// [`Store::record`]) and for driving the router alone; without
    /// `history`, as with `--history off`.
    pub fn detached(history: bool) -> (Storage, Receiver<Job>, Receiver<Record>) {
        let (jobs, queue) = crossbeam_channel::bounded(QUEUE);
        let (records, delivered) = crossbeam_channel::bounded(RECORD_QUEUE);
        let storage = Storage {
            jobs: Some(jobs),
            records: history.then_some(records),
            stop: None,
            thread: None,
        };
        (storage, queue, delivered)
    }

    /// Whether delivered messages are kept (not `--history off`).
    pub fn keeps_history(&self) -> bool {
        self.records.is_some()
    }

    /// Queues a job without waiting; refused if the queue is full (or
    /// storage stopped).
    pub fn submit(&self, job: Job) -> Result<(), Full> {
        let jobs = self.jobs.as_ref().ok_or(Full)?;
        jobs.try_send(job).map_err(|_| Full)
    }

    /// How many jobs wait, for `/metrics`.
    pub fn queued(&self) -> usize {
        self.jobs.as_ref().map_or(0, Sender::len)
    }

    /// Hands a delivered message to the history without waiting: the one
    /// channel operation a message costs the router. Refused (and then
    /// not stored) if the queue is full.
    pub fn record(&self, record: Record) -> Result<(), Full> {
        match &self.records {
            Some(records) => records.try_send(record).map_err(|_| Full),
            None => Ok(()),
        }
    }

    /// Lets the thread apply what is queued, and waits for it.
    pub fn stop(&mut self) {
        self.jobs = None;
        self.records = None;
        self.stop = None;
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            log::error!("the storage thread panicked");
        }
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The storage thread's loop and its batch of records.
struct Writer<'a> {
    store: &'a mut Store,
    retention: Retention,
    stats: &'a Stats,
    batch: Vec<Record>,
}

impl Writer<'_> {
    /// Serves jobs and records until the router lets go of both queues,
    /// then returns, everything queued applied. `answer` tells the router.
    fn run(
        &mut self,
        jobs: &Receiver<Job>,
        records: &Receiver<Record>,
        expiring: bool,
        mut answer: impl FnMut(Stored),
    ) {
        let (mut jobs_open, mut records_open) = (true, true);
        let expire = if expiring {
            crossbeam_channel::tick(EXPIRE_EVERY)
        } else {
            crossbeam_channel::never()
        };
        let (no_jobs, no_records) = (crossbeam_channel::never(), crossbeam_channel::never());
        // While records gather, the thread waits for this instead of them.
        let mut gathering = crossbeam_channel::never();
        while jobs_open || records_open {
            let waiting = if records_open && self.batch.is_empty() {
                records
            } else {
                &no_records
            };
            select! {
                recv(waiting) -> record => match record {
                    Ok(record) => {
                        self.batch.push(record);
                        gathering = crossbeam_channel::after(GATHER);
                    }
                    Err(_) => records_open = false,
                },
                recv(gathering) -> _ => {
                    self.write(records, &mut answer);
                    gathering = crossbeam_channel::never();
                }
                recv(if jobs_open { jobs } else { &no_jobs }) -> job => match job {
                    Ok(job) => {
                        // A read sees every message delivered before it.
                        self.write(records, &mut answer);
                        let started = Instant::now();
                        let stored = self.store.apply(job);
                        self.timed(started);
                        if let Some(stored) = stored {
                            log_failure(&stored);
                            answer(stored);
                        }
                    }
                    Err(_) => jobs_open = false,
                },
                recv(expire) -> _ => match self.store.expire(self.retention.days) {
                    Ok(0) => {}
                    Ok(gone) => log::info!("history: {gone} messages expired"),
                    Err(error) => log::warn!("history: {error}"),
                },
            }
        }
    }

    /// Counts a transaction that began at `started`, for `/metrics`.
    fn timed(&self, started: Instant) {
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.stats
            .storage_transactions
            .fetch_add(1, Ordering::Relaxed);
        self.stats
            .storage_micros
            .fetch_add(micros, Ordering::Relaxed);
    }

    /// Writes what is in the batch and whatever else is waiting, up to
    /// [`BATCH_MAX`] a transaction, and hands each batch back.
    fn write(&mut self, records: &Receiver<Record>, answer: &mut impl FnMut(Stored)) {
        loop {
            let room = BATCH_MAX - self.batch.len();
            self.batch.extend(records.try_iter().take(room));
            if self.batch.is_empty() {
                return;
            }
            let started = Instant::now();
            let recorded = self.store.record(&self.batch, self.retention);
            self.timed(started);
            match recorded {
                Ok(written) => {
                    self.stats
                        .history_stored
                        .fetch_add(written as u64, Ordering::Relaxed);
                }
                Err(error) => {
                    log::error!("history: {} messages not stored: {error}", self.batch.len());
                    self.stats
                        .history_dropped
                        .fetch_add(self.batch.len() as u64, Ordering::Relaxed);
                }
            }
            let full = self.batch.len() == BATCH_MAX;
            answer(Stored::Written(std::mem::take(&mut self.batch)));
            if !full {
                return;
            }
        }
    }
}

/// Logs a job that failed; the router tells the user.
fn log_failure(stored: &Stored) {
    let error = match stored {
        Stored::AccountCreated { result, .. }
        | Stored::AccountDropped { result, .. }
        | Stored::Certificate { result, .. }
        | Stored::TokenSaved { result, .. }
        | Stored::TokenRevoked { result, .. }
        | Stored::OfflineSaved { result, .. } => result.as_ref().err(),
        Stored::Offline { result, .. } => result.as_ref().err(),
        Stored::History { result, .. } => result.as_ref().err(),
        Stored::Targets { result, .. } => result.as_ref().err(),
        Stored::ApiHistory { result, .. } => result.as_ref().err(),
        Stored::Written(_) => None,
    };
    if let Some(error) = error {
        log::warn!("storage: {error}");
    }
}
