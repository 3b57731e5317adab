//! Accounts: registering, logging in and out, dropping, and the answers
//! from the hashing pool and the storage thread that finish them.
//!
//! Each change goes through a helper and back as an [`Input`]: a login is
//! checked on the hashing pool; a registration is hashed there, then saved
//! by the storage thread, and only acknowledged once committed. Meanwhile
//! the client is `waiting`, and what it sends is held and answered in
//! order afterwards.
//!
//! [`Input`]: crate::router::Input

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::unix_now;
use crate::accounts::Account;
use crate::accounts::limits::{EMAIL_MAX, PASSWORD_MAX, PASSWORD_MIN};
use crate::client::ClientId;
use crate::hashing::{Full, Hashed, Job, Outcome, Task};
use crate::protocol::{
    AccountCommand, AccountError, AccountNotice, Event, Mask, Name, Outgoing, Protocol, Reply,
    SaslReply,
};
use crate::router::tokens::Asker;
use crate::router::{Router, Then, Via};
use crate::storage::{self, Stored};

impl Router {
    /// `NickServ` commands and the line protocol's `/register`, `/login`...
    pub(super) fn account_command(&mut self, id: ClientId, command: AccountCommand, now: Instant) {
        let result = match command {
            AccountCommand::Register { password, email } => {
                self.register_account(id, password, email, now)
            }
            AccountCommand::Identify { account, password } => {
                let account = account.unwrap_or_else(|| self.clients.map[&id].me().to_string());
                match &self.clients.map[&id].account {
                    Some(current) => Err(AccountError::AlreadyLoggedIn(current.clone())),
                    None => self.start_login(id, &account, password, Via::Command, now),
                }
            }
            AccountCommand::Logout => self.log_out(id, now),
            AccountCommand::Drop => self.drop_account(id),
            AccountCommand::Info(account) => self.account_info(id, account, now),
            AccountCommand::Regain(nick) => self.regain(id, &nick, now),
            AccountCommand::Token => match self.clients.map[&id].account.clone() {
                Some(account) => self
                    .issue_token(account, Asker::Client(id))
                    .map_err(|_| AccountError::Busy),
                None => Err(AccountError::NotLoggedIn),
            },
            AccountCommand::Cert(command) => self.certificate_command(id, command, now),
            AccountCommand::Help => {
                self.reply(id, Reply::Account(AccountNotice::Help), now);
                Ok(())
            }
            AccountCommand::Invalid(error) => Err(error),
        };
        if let Err(error) = result {
            self.reply(id, Reply::Account(AccountNotice::Failed(error)), now);
        }
    }

    /// Registers the client's nickname as an account: hashed first, then
    /// saved, then acknowledged.
    fn register_account(
        &mut self,
        id: ClientId,
        password: String,
        email: Option<String>,
        now: Instant,
    ) -> Result<(), AccountError> {
        let client = &self.clients.map[&id];
        if let Some(account) = &client.account {
            return Err(AccountError::AlreadyLoggedIn(account.clone()));
        }
        let name = client.me();
        if password.len() < PASSWORD_MIN
            || password.len() > PASSWORD_MAX
            || password.contains(char::is_whitespace)
        {
            return Err(AccountError::BadPassword);
        }
        if email
            .as_ref()
            .is_some_and(|email| email.len() > EMAIL_MAX || !email.contains('@'))
        {
            return Err(AccountError::BadEmail);
        }
        if self.accounts.taken(&name) {
            return Err(AccountError::Exists(name.to_string()));
        }
        let address = client.peer.ip();
        if !self.accounts.may_register(address, now) {
            return Err(AccountError::TooManyRegistrations);
        }
        let job = Job {
            client: id,
            password,
            task: Task::Derive {
                then: Then::Register {
                    name: name.clone(),
                    email,
                },
            },
        };
        self.hash(job).map_err(|Full| AccountError::Busy)?;
        self.accounts.pending.insert(crate::router::fold(&name));
        Ok(())
    }

    /// Starts checking `password` for `account`: the answer comes from the
    /// hashing pool.
    pub(super) fn start_login(
        &mut self,
        id: ClientId,
        account: &str,
        password: String,
        via: Via,
        now: Instant,
    ) -> Result<(), AccountError> {
        let address = self.clients.map[&id].peer.ip();
        if let Some(retry_secs) = self.accounts.login_wait(account, address, now) {
            return Err(AccountError::Throttled { retry_secs });
        }
        let Some(known) = self.accounts.get(account) else {
            self.accounts.login_failed(account, address, now);
            return Err(AccountError::NoSuchAccount(account.to_owned()));
        };
        let job = Job {
            client: id,
            password,
            task: Task::Verify {
                hash: known.credentials.phc.as_str().into(),
                then: Then::Login {
                    account: known.name.clone(),
                    via,
                },
            },
        };
        self.hash(job).map_err(|Full| AccountError::Busy)
    }

    /// Hands a job to the hashing pool and holds the client's requests
    /// until the answer; a full pool refuses it, counted.
    pub(super) fn hash(&mut self, job: Job) -> Result<(), Full> {
        let id = job.client;
        if let Err(full) = self.hashing.submit(job) {
            self.clients.stats.hash_busy.fetch_add(1, Ordering::Relaxed);
            return Err(full);
        }
        if let Some(client) = self.clients.map.get_mut(&id) {
            client.waiting = true;
        }
        Ok(())
    }

    /// A password checked or hashed.
    pub(in crate::router) fn hashed(&mut self, hashed: Hashed, now: Instant) {
        let id = hashed.client;
        if let Some(client) = self.clients.map.get_mut(&id) {
            client.waiting = false;
        }
        match hashed.outcome {
            Outcome::Verified {
                then: Then::Oper(operator),
                matches,
            } => self.oper_checked(id, operator.filter(|_| matches), now),
            Outcome::Verified {
                then: Then::Login { account, via },
                matches,
            } => self.login_checked(id, account, via, matches, now),
            Outcome::Verified {
                then:
                    Then::Token {
                        account,
                        address,
                        reply,
                    },
                matches,
            } => self.token_checked(account, address, reply, matches, now),
            Outcome::Derived {
                then: Then::Register { name, email },
                credentials,
            } => {
                let saved = credentials.map_err(|error| {
                    log::error!("registering {name}: {error}");
                    AccountError::NotSaved
                });
                let saved = saved.and_then(|credentials| {
                    let account = Account {
                        name: name.clone(),
                        credentials,
                        email,
                        registered_at: unix_now(),
                    };
                    self.save(
                        id,
                        storage::Job::CreateAccount {
                            client: id,
                            account,
                        },
                    )
                });
                if let Err(error) = saved {
                    self.accounts.pending.remove(&crate::router::fold(&name));
                    self.reply(id, Reply::Account(AccountNotice::Failed(error)), now);
                }
            }
            other => log::error!("{id}: a hashing answer nobody asked for: {other:?}"),
        }
        self.release_held(id, now);
        self.reap(now);
    }

    /// Hands a change to the storage thread and holds the client's
    /// requests until it is committed; a full queue refuses it, counted.
    pub(super) fn save(&mut self, id: ClientId, job: storage::Job) -> Result<(), AccountError> {
        if self.storage.submit(job).is_err() {
            self.clients
                .stats
                .storage_busy
                .fetch_add(1, Ordering::Relaxed);
            return Err(AccountError::Busy);
        }
        if let Some(client) = self.clients.map.get_mut(&id) {
            client.waiting = true;
        }
        Ok(())
    }

    /// A change committed (or not) by the storage thread.
    pub(in crate::router) fn stored(&mut self, stored: Stored, now: Instant) {
        let id = match stored {
            token @ (Stored::TokenSaved { .. } | Stored::TokenRevoked { .. }) => {
                self.token_stored(token, now);
                return;
            }
            Stored::ApiHistory { reply, result } => {
                reply.answer(super::api::history_answer(result));
                return;
            }
            // Dropped here, on the thread that allocated them.
            Stored::Written(_) => return,
            Stored::AccountCreated {
                client,
                account,
                result,
            } => {
                let key = crate::router::fold(&account.name);
                self.accounts.pending.remove(&key);
                match result {
                    Ok(()) => {
                        let name = account.name.clone();
                        log::info!("{client} registered account {name}");
                        self.accounts.map.insert(key, account);
                        if let Some(entry) = self.clients.map.get_mut(&client) {
                            entry.waiting = false;
                            let notice = AccountNotice::Registered(name.clone());
                            self.log_in(client, name, Via::Command, Some(notice), now);
                        }
                    }
                    Err(_) => {
                        let notice = AccountNotice::Failed(AccountError::NotSaved);
                        self.reply(client, Reply::Account(notice), now);
                    }
                }
                client
            }
            Stored::AccountDropped {
                client,
                name,
                result,
            } => {
                match result {
                    Ok(()) => {
                        log::info!("{client} dropped account {name}");
                        self.accounts.map.remove(&crate::router::fold(&name));
                        self.accounts.forget_certificates(&name);
                        let logged_in: Vec<ClientId> = self
                            .clients
                            .map
                            .iter()
                            .filter(|(_, entry)| entry.account.as_ref() == Some(&name))
                            .map(|(&id, _)| id)
                            .collect();
                        for id in logged_in {
                            self.set_account(id, None, now);
                        }
                        self.reply(client, Reply::Account(AccountNotice::Dropped(name)), now);
                    }
                    Err(_) => {
                        let notice = AccountNotice::Failed(AccountError::NotSaved);
                        self.reply(client, Reply::Account(notice), now);
                    }
                }
                client
            }
            Stored::Certificate {
                client,
                account,
                fingerprint,
                add,
                result,
            } => {
                self.certificate_stored(client, account, fingerprint, add, result, now);
                client
            }
            other => return self.history_stored(other, now),
        };
        if let Some(client) = self.clients.map.get_mut(&id) {
            client.waiting = false;
        }
        self.release_held(id, now);
        self.reap(now);
    }

    /// Handles, in order, what a client sent while it was waiting.
    pub(super) fn release_held(&mut self, id: ClientId, now: Instant) {
        while let Some(client) = self.clients.map.get_mut(&id)
            && !client.waiting
            && let Some(request) = client.held.pop_front()
        {
            self.request(id, request, now);
        }
    }

    /// Answers a login whose password was checked.
    fn login_checked(
        &mut self,
        id: ClientId,
        account: Name,
        via: Via,
        matches: bool,
        now: Instant,
    ) {
        let Some(client) = self.clients.map.get(&id) else {
            return;
        };
        let address = client.peer.ip();
        // Dropped meanwhile, by another connection.
        let exists = self.accounts.get(&account).is_some();
        if matches && exists {
            log::info!("{id} from {address} logged in as {account}");
            self.accounts.login_succeeded(&account, address);
            let notice = (via != Via::Sasl).then(|| AccountNotice::LoggedIn(account.clone()));
            self.log_in(id, account, via, notice, now);
        } else {
            log::info!("{id} from {address} failed to log in as {account}");
            self.accounts.login_failed(&account, address, now);
            match via {
                Via::Sasl => self.reply(id, Reply::Sasl(SaslReply::Failed), now),
                Via::Command | Via::Pass => {
                    let notice = AccountNotice::Failed(AccountError::WrongPassword);
                    self.reply(id, Reply::Account(notice), now);
                }
            }
        }
        if via == Via::Pass {
            self.try_register(id, now);
        }
    }

    /// Logs a client in to `account` and tells it so: 900, then `notice`,
    /// or SASL's success.
    pub(super) fn log_in(
        &mut self,
        id: ClientId,
        account: Name,
        via: Via,
        notice: Option<AccountNotice>,
        now: Instant,
    ) {
        self.set_account(id, Some(account.clone()), now);
        let mask = self.account_mask(id);
        self.reply(id, Reply::LoggedIn { mask, account }, now);
        if via == Via::Sasl {
            self.reply(id, Reply::Sasl(SaslReply::Success), now);
        }
        if let Some(notice) = notice {
            self.reply(id, Reply::Account(notice), now);
        }
        self.check_nick_owner(id, now);
        self.take_offline(id);
    }

    fn log_out(&mut self, id: ClientId, now: Instant) -> Result<(), AccountError> {
        if self.clients.map[&id].account.is_none() {
            return Err(AccountError::NotLoggedIn);
        }
        self.set_account(id, None, now);
        let mask = self.account_mask(id);
        self.reply(id, Reply::LoggedOut(mask), now);
        self.reply(id, Reply::Account(AccountNotice::LoggedOut), now);
        self.check_nick_owner(id, now);
        Ok(())
    }

    /// Changes the account a client is logged in to; once it is registered,
    /// its mask changes too and peers with `account-notify` hear of it.
    fn set_account(&mut self, id: ClientId, account: Option<Name>, now: Instant) {
        let Some(client) = self.clients.map.get_mut(&id) else {
            return;
        };
        client.account = account.clone();
        let Some(old) = client.mask.clone() else {
            return;
        };
        client.mask = Some(Arc::new(Mask {
            account: account.clone(),
            ..Mask::clone(&old)
        }));
        let event = Outgoing::new(Event::AccountChanged { who: old, account });
        for peer in self.peers(id) {
            if self
                .clients
                .caps(peer)
                .contains(crate::protocol::Caps::ACCOUNT_NOTIFY)
            {
                self.clients.send(peer, &event, now);
            }
        }
    }

    /// The client's mask as 900 and 901 give it: `*` for what it has not
    /// said yet.
    fn account_mask(&self, id: ClientId) -> Arc<Mask> {
        let client = &self.clients.map[&id];
        if let Some(mask) = &client.mask {
            return Arc::clone(mask);
        }
        Arc::new(Mask {
            nick: client.nick.clone().unwrap_or_else(|| "*".into()),
            user: client.user.clone().unwrap_or_else(|| "*".into()),
            host: client.peer.ip().to_string().into(),
            account: client.account.clone(),
        })
    }

    /// Deletes the account the client is logged in to, once committed.
    fn drop_account(&mut self, id: ClientId) -> Result<(), AccountError> {
        let name = self.clients.map[&id]
            .account
            .clone()
            .ok_or(AccountError::NotLoggedIn)?;
        self.save(id, storage::Job::DropAccount { client: id, name })
    }

    fn account_info(
        &mut self,
        id: ClientId,
        account: Option<String>,
        now: Instant,
    ) -> Result<(), AccountError> {
        let name = match account {
            Some(name) => name,
            None => self.clients.map[&id]
                .account
                .as_deref()
                .ok_or(AccountError::NotLoggedIn)?
                .to_owned(),
        };
        let known = self
            .accounts
            .get(&name)
            .ok_or_else(|| AccountError::NoSuchAccount(name.clone()))?;
        let online = self
            .clients
            .map
            .values()
            .filter(|client| client.account.as_ref() == Some(&known.name))
            .count();
        let notice = AccountNotice::Info {
            account: known.name.clone(),
            registered_at: known.registered_at,
            online,
        };
        self.reply(id, Reply::Account(notice), now);
        Ok(())
    }

    /// IRC `PASS account:password` with no server password: logs in before
    /// registration completes. True when a login started, and registration
    /// waits for it.
    pub(super) fn pass_login(&mut self, id: ClientId, now: Instant) -> bool {
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        if self.password.is_some() || client.protocol != Protocol::Irc || client.account.is_some() {
            return false;
        }
        let Some((account, password)) = client.password.take().and_then(|pass| {
            pass.split_once(':')
                .map(|(a, p)| (a.to_owned(), p.to_owned()))
        }) else {
            return false;
        };
        match self.start_login(id, &account, password, Via::Pass, now) {
            Ok(()) => true,
            Err(error) => {
                self.reply(id, Reply::Account(AccountNotice::Failed(error)), now);
                false
            }
        }
    }
}
