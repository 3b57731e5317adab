//! Nickname ownership: a registered account owns the nickname of its name.
//!
//! Anyone else may take it for a while: they are told to log in, and once
//! `--nick-grace` passes without that, they are renamed to a guest
//! nickname. The owner, logged in under another nickname, can take theirs
//! back at once with `REGAIN` (NickServ; `/regain` on the line protocol),
//! as in ergo.

use std::time::Instant;

use crate::client::ClientId;
use crate::protocol::{AccountError, AccountNotice, Reply};
use crate::router::Router;
use crate::router::state::{self, folded};

impl Router {
    /// Whether the nickname `nick` may be worn by a client logged in to
    /// `account`: it is nobody's account, or theirs.
    fn may_wear(&self, nick: &str, account: Option<&str>) -> bool {
        match self.accounts.get(nick) {
            None => true,
            Some(owner) => account.is_some_and(|account| account.eq_ignore_ascii_case(&owner.name)),
        }
    }

    /// After a registered client's nickname or account changed: starts the
    /// grace period if it now wears someone else's nickname, or ends it.
    pub(in crate::router) fn check_nick_owner(&mut self, id: ClientId, now: Instant) {
        let Some(client) = self.clients.map.get(&id) else {
            return;
        };
        let Some(nick) = client.nick.clone().filter(|_| client.registered) else {
            return;
        };
        if self.may_wear(&nick, client.account.as_deref()) {
            self.clients.map.get_mut(&id).expect("seen").nick_deadline = None;
            return;
        }
        let client = self.clients.map.get_mut(&id).expect("seen");
        if client.nick_deadline.is_none() {
            client.nick_deadline = Some(now + self.nick_grace);
            let notice = AccountNotice::NickOwned {
                nick,
                grace_secs: self.nick_grace.as_secs(),
            };
            self.reply(id, Reply::Account(notice), now);
        }
    }

    /// Renames those whose grace period is over (called every tick).
    pub(in crate::router) fn enforce_nicks(&mut self, now: Instant) {
        let due: Vec<ClientId> = self
            .clients
            .map
            .iter()
            .filter(|(_, client)| client.nick_deadline.is_some_and(|at| at <= now))
            .map(|(&id, _)| id)
            .collect();
        for id in due {
            self.clients.map.get_mut(&id).expect("listed").nick_deadline = None;
            if self.clients.map[&id].waiting {
                // A login is being checked; if it fails, the client is
                // told again and gets a fresh grace period.
                continue;
            }
            self.rename_to_guest(id, now);
        }
    }

    /// Gives a client a fresh guest nickname, and tells it why.
    fn rename_to_guest(&mut self, id: ClientId, now: Instant) {
        let guest = loop {
            self.next_guest += 1;
            let guest = format!("Guest{}", self.next_guest);
            if !self.nicks.contains_key(&*folded(&guest)) && self.accounts.get(&guest).is_none() {
                break guest;
            }
        };
        log::info!("{id} renamed to {guest}: did not log in");
        if self.nick(id, guest.clone(), now).is_ok() {
            self.reply(
                id,
                Reply::Account(AccountNotice::Renamed(guest.into())),
                now,
            );
        }
    }

    /// Takes `nick` back for the client's account from whoever wears it.
    pub(super) fn regain(
        &mut self,
        id: ClientId,
        nick: &str,
        now: Instant,
    ) -> Result<(), AccountError> {
        let cannot = || AccountError::CannotRegain(nick.to_owned());
        let account = self.clients.map[&id].account.clone();
        if account.is_none() {
            return Err(AccountError::NotLoggedIn);
        }
        if !state::valid_nick(nick)
            || self.accounts.get(nick).is_none()
            || !self.may_wear(nick, account.as_deref())
        {
            return Err(cannot());
        }
        match self.nicks.get(&*folded(nick)).copied() {
            Some(holder) if holder == id => return Err(cannot()),
            Some(holder) => self.rename_to_guest(holder, now),
            None => {}
        }
        self.nick(id, nick.to_owned(), now).map_err(|_| cannot())?;
        self.reply(
            id,
            Reply::Account(AccountNotice::Regained(nick.into())),
            now,
        );
        Ok(())
    }
}
