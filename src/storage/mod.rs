//! Storage: one thread, "sb-storage", owns the SQLite database.
//!
//! The router sends it a [`Job`] with `try_send` on a bounded queue and
//! never waits for the database: a full queue refuses the change ("server
//! busy, try again"), counted in `Stats::storage_busy`. The thread applies
//! each job in its own committed transaction (`synchronous=FULL`) and only
//! then answers with [`Input::Stored`], so whatever the router tells a user
//! succeeded is on disk. Everything the router must know at once (the
//! accounts, for nickname ownership) is read at start and kept in memory;
//! later queries (history) will be jobs answered the same way.

mod store;
#[cfg(test)]
mod tests;
mod tokens;

pub use store::{SCHEMA_VERSION, Store, StoreError};
pub use tokens::StoredToken;

use std::io;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender};

use crate::accounts::Account;
use crate::client::ClientId;
use crate::hashing::Full;
use crate::protocol::Name;
use crate::router::{Asker, Input, RouterSender};

/// Jobs waiting at most; past that the router refuses new ones.
pub const QUEUE: usize = 256;

/// A change for the storage thread to make, and whom to tell.
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
}

impl Stored {
    /// What went wrong, if anything.
    pub fn error(&self) -> Option<&StoreError> {
        match self {
            Stored::AccountCreated { result, .. }
            | Stored::AccountDropped { result, .. }
            | Stored::TokenSaved { result, .. }
            | Stored::TokenRevoked { result, .. }
            | Stored::Certificate { result, .. } => result.as_ref().err(),
        }
    }
}

impl Store {
    /// Applies one job: what the storage thread runs, and what tests call
    /// directly.
    pub fn apply(&mut self, job: Job) -> Stored {
        match job {
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
        }
    }
}

/// The storage thread, as the router holds it.
#[derive(Debug)]
pub struct Storage {
    /// `None` once stopped.
    jobs: Option<Sender<Job>>,
    /// Dropped so a thread blocked on a full router channel gives up.
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Storage {
    /// Starts the thread, which owns `store` and answers through `router`.
    pub fn start(mut store: Store, router: RouterSender) -> io::Result<Storage> {
        let (jobs, queue) = crossbeam_channel::bounded::<Job>(QUEUE);
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let thread = thread::Builder::new()
            .name("sb-storage".into())
            .spawn(move || {
                // Every queued job is applied, even at shutdown: the thread
                // ends when the router drops its sender and the queue is empty.
                for job in queue {
                    let stored = store.apply(job);
                    if let Some(error) = stored.error() {
                        log::warn!("storage: {error}");
                    }
                    router.send_unless_stopped(Input::Stored(stored), &stopped);
                }
            })?;
        Ok(Storage {
            jobs: Some(jobs),
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Storage without a thread whose jobs wait in the returned queue, for
    /// tests that apply them themselves ([`Store::apply`]).
    pub fn detached() -> (Storage, Receiver<Job>) {
        let (jobs, queue) = crossbeam_channel::bounded(QUEUE);
        let storage = Storage {
            jobs: Some(jobs),
            stop: None,
            thread: None,
        };
        (storage, queue)
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

    /// Lets the thread apply what is queued, and waits for it.
    pub fn stop(&mut self) {
        self.jobs = None;
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
