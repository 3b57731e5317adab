//! Server operators' passwords: checked on a thread of their own.
//!
//! Argon2 is slow on purpose (tens of milliseconds with the recommended
//! parameters), far too slow for the router, which must never stall every
//! other client for one. The router hands each check to the "sb-verify"
//! thread through a small bounded queue and picks the verdict up later; the
//! client's later requests wait for it, so they are still answered in order.

use std::sync::Arc;
use std::thread::{self, JoinHandle};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::client::ClientId;
use crate::config::Oper;

/// Checks waiting for the verifier at most; past that `OPER` is refused
/// for now, so guessing in bulk costs the guesser, not the server.
const QUEUE: usize = 8;

/// Hashes `password` with Argon2id and the recommended parameters, as a PHC
/// string for `--oper NAME:HASH`.
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| format!("cannot hash the password: {error}"))
}

/// Checks that `hash` is an Argon2id PHC string, as `--oper` needs.
pub fn check_hash(hash: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(hash).map_err(|error| format!("not a PHC string: {error}"))?;
    if parsed.algorithm.as_str() != "argon2id" {
        return Err(format!(
            "{} is not Argon2id (use switchboard hash-password)",
            parsed.algorithm
        ));
    }
    Ok(())
}

/// A password to check for a client.
#[derive(Debug)]
struct Check {
    client: ClientId,
    /// The operator name, if it is configured.
    name: Option<Arc<str>>,
    password: String,
    hash: Arc<str>,
}

/// The outcome of a check: the operator name when the password was right.
#[derive(Debug)]
pub struct Verdict {
    pub client: ClientId,
    pub operator: Option<Arc<str>>,
}

/// The operators, and the thread that checks their passwords.
#[derive(Debug)]
pub struct Verifier {
    opers: Vec<(Arc<str>, Arc<str>)>,
    /// `None` when no operator is configured (no thread), or once stopped.
    checks: Option<Sender<Check>>,
    verdicts: Receiver<Verdict>,
    worker: Option<JoinHandle<()>>,
}

/// Why a check could not be queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// No operator is configured.
    NoOperators,
    /// Too many checks are waiting.
    Busy,
}

impl Verifier {
    /// A verifier for `opers`, with its thread if there is any operator.
    pub fn new(opers: &[Oper]) -> Verifier {
        let (verdict_tx, verdicts) = crossbeam_channel::bounded(QUEUE);
        let mut verifier = Verifier {
            opers: opers
                .iter()
                .map(|oper| (oper.name.as_str().into(), oper.hash.as_str().into()))
                .collect(),
            checks: None,
            verdicts,
            worker: None,
        };
        if opers.is_empty() {
            return verifier;
        }
        let (check_tx, checks) = crossbeam_channel::bounded::<Check>(QUEUE);
        let worker = thread::Builder::new()
            .name("sb-verify".into())
            .spawn(move || {
                // Ends when the router drops its sender. A full verdict queue
                // blocks only this thread, until the router takes them.
                for check in checks {
                    let matches = PasswordHash::new(&check.hash).is_ok_and(|hash| {
                        Argon2::default()
                            .verify_password(check.password.as_bytes(), &hash)
                            .is_ok()
                    });
                    let verdict = Verdict {
                        client: check.client,
                        operator: check.name.filter(|_| matches),
                    };
                    if verdict_tx.send(verdict).is_err() {
                        break;
                    }
                }
            })
            .expect("spawn the password verifier");
        verifier.checks = Some(check_tx);
        verifier.worker = Some(worker);
        verifier
    }

    /// Queues a check of `password` for operator `name`. An unknown name is
    /// checked against another operator's hash and always fails, so a
    /// wrong name takes as long as a wrong password.
    pub fn check(&self, client: ClientId, name: &str, password: String) -> Result<(), Refused> {
        let checks = self.checks.as_ref().ok_or(Refused::NoOperators)?;
        let known = self.opers.iter().find(|(oper, _)| &**oper == name);
        let (name, hash) = match known {
            Some((name, hash)) => (Some(Arc::clone(name)), Arc::clone(hash)),
            None => (None, Arc::clone(&self.opers[0].1)),
        };
        let check = Check {
            client,
            name,
            password,
            hash,
        };
        checks.try_send(check).map_err(|error| match error {
            TrySendError::Full(_) => Refused::Busy,
            TrySendError::Disconnected(_) => Refused::NoOperators,
        })
    }

    /// The verdicts, for the router thread to select on.
    pub fn verdicts(&self) -> &Receiver<Verdict> {
        &self.verdicts
    }

    /// Stops the thread and waits for it (after the checks still queued).
    pub fn stop(&mut self) {
        self.checks = None;
        if let Some(worker) = self.worker.take() {
            // Takes the last verdicts, which a worker may be blocked
            // handing over, until the worker ends and drops its sender.
            for _ in self.verdicts.iter() {}
            let _ = worker.join();
        }
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        self.stop();
    }
}
