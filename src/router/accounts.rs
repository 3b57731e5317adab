//! What the router knows of accounts: every account (loaded at start, kept
//! in step with the store), names being registered, and the counters that
//! throttle logins and registrations. Plain data, no I/O.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::RouterSender;
use super::recent::{REPLAY_AGE, Recent};
use super::state::{fold, folded};
use crate::accounts::Account;
use crate::accounts::limits::{
    FAILURES_PER_ACCOUNT, FAILURES_PER_ADDRESS, LOGIN_BACKOFF, LOGIN_BACKOFF_MAX,
    REGISTRATION_WINDOW, REGISTRATIONS_PER_ADDRESS,
};
use crate::config::Config;
use crate::hashing::Pool;
use crate::protocol::Name;
use crate::stats::Stats;
use crate::storage::{Retention, Storage, Store, StoredToken};

/// Entries kept in a throttling map before those no longer needed go.
const FORGET_PAST: usize = 4096;

/// The router's helpers: the storage thread, the hashing pool, and what
/// the store held at start: the accounts, and what history keeps in
/// memory (rooms' latest messages, offline boxes' counts).
#[derive(Debug)]
pub struct Services {
    pub storage: Storage,
    pub hashing: Pool,
    pub accounts: Vec<Account>,
    /// The API tokens the store held at start, expired ones left out.
    pub tokens: Vec<StoredToken>,
    /// Certificate fingerprints and the accounts they log in to.
    pub certificates: Vec<(Box<str>, Name)>,
    pub recent: Recent,
}

impl Services {
    /// No storage thread, no hashing pool and no accounts, for driving the
    /// router alone (fuzzing, benchmarks): account requests find the
    /// services busy, and no history is kept.
    pub fn none() -> Services {
        Services {
            storage: Storage::detached(false).0,
            hashing: Pool::detached().0,
            accounts: Vec::new(),
            tokens: Vec::new(),
            certificates: Vec::new(),
            recent: Recent::default(),
        }
    }

    /// Reads the accounts from `store`, then starts the storage thread
    /// (which takes the store) and the hashing pool, both answering
    /// through `router`.
    pub fn start(
        config: &Config,
        mut store: Store,
        stats: Arc<Stats>,
        router: RouterSender,
    ) -> io::Result<Services> {
        let accounts = store.accounts().map_err(io::Error::other)?;
        let now = jiff::Timestamp::now().as_second();
        let tokens = store.tokens(now).map_err(io::Error::other)?;
        let certificates = store.certificates().map_err(io::Error::other)?;
        log::info!(
            "{} accounts ({} client certificates) in {}",
            accounts.len(),
            certificates.len(),
            config.db
        );
        let (rooms, retention) = if config.history {
            let since = jiff::Timestamp::now() - REPLAY_AGE;
            let rooms = store
                .recent_rooms(since, config.replay_lines)
                .map_err(io::Error::other)?;
            let retention = Retention {
                days: config.history_days,
                per_target: config.history_per_target,
            };
            (rooms, Some(retention))
        } else {
            (Vec::new(), None)
        };
        let boxes = store.offline_counts().map_err(io::Error::other)?;
        let lines = if config.history {
            config.replay_lines
        } else {
            0
        };
        Ok(Services {
            recent: Recent::new(lines, rooms, boxes),
            storage: Storage::start(store, retention, stats, router.clone())?,
            hashing: Pool::start(config.password_cost, router)?,
            accounts,
            tokens,
            certificates,
        })
    }
}

/// What the router does once a password is checked or hashed: carried
/// through the hashing pool and back untouched.
#[derive(Debug)]
pub enum Then {
    /// `OPER`: the operator it becomes if the password matches (`None`
    /// for an unknown name, which always fails).
    Oper(Option<Name>),
    /// Log in to the account named `account` if the password matches.
    Login { account: Name, via: Via },
    /// Register the account `name` with the credentials made.
    Register { name: Name, email: Option<String> },
    /// Issue an API token for `account` if the password matches, answering
    /// `reply`; `address` is throttled like any login.
    Token {
        account: Name,
        address: IpAddr,
        reply: super::Replier,
    },
}

/// How a login was asked for, which decides how it is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// NickServ, or a line user's `/login`.
    Command,
    /// IRC `AUTHENTICATE`.
    Sasl,
    /// IRC `PASS account:password`; registration waits for the answer.
    Pass,
}

/// Every account, and the bookkeeping around them.
#[derive(Debug, Default)]
pub struct Accounts {
    /// By folded name.
    pub map: HashMap<Name, Account>,
    /// Folded names being registered: hashed or saved but not yet committed.
    pub pending: HashSet<Name>,
    /// Which account each client certificate logs in to (SASL EXTERNAL),
    /// by fingerprint, and each account's certificates, by folded name.
    certificates: HashMap<Box<str>, Name>,
    certificates_of: HashMap<Name, Vec<Box<str>>>,
    /// Fingerprints being added: taken until the store answers.
    pub pending_certificates: HashSet<Box<str>>,
    /// Failed logins by folded account name, and by address.
    by_account: HashMap<Name, Failures>,
    by_address: HashMap<IpAddr, Failures>,
    /// When each address registered its recent accounts.
    registrations: HashMap<IpAddr, VecDeque<Instant>>,
}

/// Failed logins in a row, and when the next attempt may be made.
#[derive(Clone, Copy, Debug, Default)]
struct Failures {
    count: u32,
    retry_at: Option<Instant>,
}

impl Failures {
    /// How long until the next attempt may be made, if it must wait.
    fn wait(&self, now: Instant) -> Option<Duration> {
        self.retry_at
            .filter(|&at| at > now)
            .map(|at| at.duration_since(now))
    }

    /// One more failure: past `free` in a row, each makes the next
    /// attempt wait, twice as long as the last.
    fn fail(&mut self, free: u32, now: Instant) {
        self.count += 1;
        if self.count >= free {
            let doublings = (self.count - free).min(16);
            let wait = (LOGIN_BACKOFF * 2u32.pow(doublings)).min(LOGIN_BACKOFF_MAX);
            self.retry_at = Some(now + wait);
        }
    }
}

impl Accounts {
    pub fn new(accounts: Vec<Account>, certificates: Vec<(Box<str>, Name)>) -> Accounts {
        let mut known = Accounts {
            map: accounts
                .into_iter()
                .map(|account| (fold(&account.name), account))
                .collect(),
            ..Accounts::default()
        };
        for (fingerprint, account) in certificates {
            known.add_certificate(fingerprint, account);
        }
        known
    }

    /// The account a certificate logs in to.
    pub fn by_certificate(&self, fingerprint: &str) -> Option<&Name> {
        self.certificates.get(fingerprint)
    }

    /// The certificates that log in to `account`, oldest first.
    pub fn certificates_of(&self, account: &str) -> &[Box<str>] {
        self.certificates_of
            .get(&*folded(account))
            .map_or(&[], Vec::as_slice)
    }

    /// Whether a certificate logs in to an account, or is being added.
    pub fn certificate_taken(&self, fingerprint: &str) -> bool {
        self.certificates.contains_key(fingerprint)
            || self.pending_certificates.contains(fingerprint)
    }

    /// A certificate now logs in to `account` (committed).
    pub fn add_certificate(&mut self, fingerprint: Box<str>, account: Name) {
        self.certificates_of
            .entry(fold(&account))
            .or_default()
            .push(fingerprint.clone());
        self.certificates.insert(fingerprint, account);
    }

    /// A certificate no longer logs in to its account (committed).
    pub fn remove_certificate(&mut self, fingerprint: &str) {
        let Some(account) = self.certificates.remove(fingerprint) else {
            return;
        };
        let key = fold(&account);
        if let Some(list) = self.certificates_of.get_mut(&key) {
            list.retain(|kept| &**kept != fingerprint);
            if list.is_empty() {
                self.certificates_of.remove(&key);
            }
        }
    }

    /// An account was dropped: its certificates go with it.
    pub fn forget_certificates(&mut self, account: &str) {
        for fingerprint in self
            .certificates_of
            .remove(&*folded(account))
            .unwrap_or_default()
        {
            self.certificates.remove(&fingerprint);
        }
    }

    /// The account called `name`, whatever the case.
    pub fn get(&self, name: &str) -> Option<&Account> {
        self.map.get(&*folded(name))
    }

    /// Whether the name is taken, or being registered.
    pub fn taken(&self, name: &str) -> bool {
        let key = fold(name);
        self.map.contains_key(&key) || self.pending.contains(&key)
    }

    /// How long a login to `account` from `address` must wait, in whole
    /// seconds, if it must.
    pub fn login_wait(&self, account: &str, address: IpAddr, now: Instant) -> Option<u64> {
        let by_account = self.by_account.get(&*folded(account));
        let by_address = self.by_address.get(&address);
        [by_account, by_address]
            .into_iter()
            .flatten()
            .filter_map(|failures| failures.wait(now))
            .max()
            .map(|wait| wait.as_secs_f64().ceil() as u64)
    }

    /// Counts a failed login to `account` from `address`.
    pub fn login_failed(&mut self, account: &str, address: IpAddr, now: Instant) {
        // Guessers may try many names: forget those that no longer wait
        // once there are many, so the maps stay bounded by recent failures.
        if self.by_account.len() > FORGET_PAST {
            self.by_account
                .retain(|_, failures| failures.wait(now).is_some());
        }
        if self.by_address.len() > FORGET_PAST {
            self.by_address
                .retain(|_, failures| failures.wait(now).is_some());
        }
        self.by_account
            .entry(fold(account))
            .or_default()
            .fail(FAILURES_PER_ACCOUNT, now);
        self.by_address
            .entry(address)
            .or_default()
            .fail(FAILURES_PER_ADDRESS, now);
    }

    /// A good login clears the account's failures and the address's.
    pub fn login_succeeded(&mut self, account: &str, address: IpAddr) {
        self.by_account.remove(&*folded(account));
        self.by_address.remove(&address);
    }

    /// Counts a registration from `address`, unless it has had its share
    /// this hour: then false.
    pub fn may_register(&mut self, address: IpAddr, now: Instant) -> bool {
        if self.registrations.len() > FORGET_PAST {
            self.registrations.retain(|_, recent| {
                recent
                    .back()
                    .is_some_and(|&at| now.duration_since(at) < REGISTRATION_WINDOW)
            });
        }
        let recent = self.registrations.entry(address).or_default();
        while recent
            .front()
            .is_some_and(|&at| now.duration_since(at) >= REGISTRATION_WINDOW)
        {
            recent.pop_front();
        }
        if recent.len() >= REGISTRATIONS_PER_ADDRESS {
            return false;
        }
        recent.push_back(now);
        true
    }
}
