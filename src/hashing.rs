//! The password-hashing pool: a few threads ("sb-hash-N") that hash and
//! check passwords for the router.
//!
//! Argon2 is slow on purpose (tens of milliseconds with the recommended
//! parameters), far too slow for the router, which would stall every
//! client meanwhile. The router queues a [`Job`] with `try_send` on a
//! small bounded queue, never waiting: a full queue refuses the attempt
//! ("server busy"), so guessing in bulk costs the guesser, not the server.
//! The answer comes back as [`Input::Hashed`], carrying the router's own
//! note of what to do next ([`Then`]).

use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::accounts::{self, Credentials, PasswordCost};
use crate::client::ClientId;
use crate::router::{Input, RouterSender, Then};

/// Threads in the pool: two keep one slow hash from delaying every login
/// behind it, without taking every core from the chat.
pub const WORKERS: usize = 2;

/// Jobs waiting at most; past that the router refuses new ones.
pub const QUEUE: usize = 16;

/// The queue was full: the router tells the user to try again.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

/// A password to hash or check for a client.
#[derive(Debug)]
pub struct Job {
    pub client: ClientId,
    pub password: String,
    pub task: Task,
}

/// What to do with the password.
#[derive(Debug)]
pub enum Task {
    /// Check it against an Argon2id PHC string.
    Verify { hash: Arc<str>, then: Then },
    /// Make the credentials of a new account.
    Derive { then: Then },
}

/// A job done, as the router hears of it.
#[derive(Debug)]
pub struct Hashed {
    pub client: ClientId,
    pub outcome: Outcome,
}

/// What a job found.
#[derive(Debug)]
pub enum Outcome {
    Verified {
        then: Then,
        matches: bool,
    },
    Derived {
        then: Then,
        credentials: Result<Credentials, String>,
    },
}

/// Does one job: what each worker runs, and what tests call directly.
pub fn work(job: Job, cost: PasswordCost) -> Hashed {
    let outcome = match job.task {
        Task::Verify { hash, then } => Outcome::Verified {
            then,
            matches: accounts::verify(&job.password, &hash),
        },
        Task::Derive { then } => Outcome::Derived {
            then,
            credentials: accounts::derive(&job.password, cost),
        },
    };
    Hashed {
        client: job.client,
        outcome,
    }
}

/// The pool, as the router holds it.
#[derive(Debug)]
pub struct Pool {
    /// `None` once stopped.
    jobs: Option<Sender<Job>>,
    /// Dropped to tell workers blocked on a full router channel to give up.
    stop: Option<Sender<()>>,
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts [`WORKERS`] threads that answer through `router`.
    pub fn start(cost: PasswordCost, router: RouterSender) -> io::Result<Pool> {
        let (jobs, queue) = crossbeam_channel::bounded::<Job>(QUEUE);
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let mut pool = Pool {
            jobs: Some(jobs),
            stop: Some(stop),
            workers: Vec::new(),
        };
        for index in 0..WORKERS {
            let queue = queue.clone();
            let stopped = stopped.clone();
            let router = router.clone();
            let worker = thread::Builder::new()
                .name(format!("sb-hash-{index}"))
                .spawn(move || {
                    // Ends when the router drops its sender and the queue is empty.
                    for job in queue {
                        if stopped.try_recv() == Err(TryRecvError::Disconnected) {
                            break;
                        }
                        let input = Input::Hashed(Box::new(work(job, cost)));
                        if !router.send_unless_stopped(input, &stopped) {
                            break;
                        }
                    }
                });
            // On error, dropping `pool` stops the workers already started.
            pool.workers.push(worker?);
        }
        Ok(pool)
    }

    /// A pool without threads whose jobs wait in the returned queue, for
    /// tests that do the work themselves ([`work`]).
    pub fn detached() -> (Pool, Receiver<Job>) {
        let (jobs, queue) = crossbeam_channel::bounded(QUEUE);
        let pool = Pool {
            jobs: Some(jobs),
            stop: None,
            workers: Vec::new(),
        };
        (pool, queue)
    }

    /// Queues a job without waiting; refused if the queue is full (or the
    /// pool stopped).
    pub fn submit(&self, job: Job) -> Result<(), Full> {
        let jobs = self.jobs.as_ref().ok_or(Full)?;
        jobs.try_send(job).map_err(|_| Full)
    }

    /// Stops the workers and waits for them; jobs still queued are dropped.
    pub fn stop(&mut self) {
        self.jobs = None;
        self.stop = None;
        for worker in self.workers.drain(..) {
            if worker.join().is_err() {
                log::error!("a password-hashing thread panicked");
            }
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.stop();
    }
}
