//! Issuing and revoking API tokens: a password checked on the hashing
//! pool (throttled like any login) or a logged-in client's word, then the
//! token's hash committed by storage before anyone is told.

use std::net::IpAddr;
use std::time::Instant;

use super::{NO_CLIENT, busy, failed};
use crate::accounts::limits::PASSWORD_MAX;
use crate::hashing::{Job, Task};
use crate::protocol::api::{Answer, Failure, FailureKind, IssuedToken};
use crate::protocol::{AccountError, AccountNotice, Name, Reply};
use crate::router::commands::unix_now;
use crate::router::tokens::{self, Asker, TOKENS_PER_ACCOUNT};
use crate::router::{Replier, Router, Then};
use crate::storage::{self, Stored};

impl Router {
    /// Starts checking `password` for a token for `account`, throttled like
    /// any login from `address`; the answer comes with the hashing pool's.
    pub(super) fn check_for_token(
        &mut self,
        account: &str,
        password: String,
        address: IpAddr,
        reply: Replier,
        now: Instant,
    ) -> Result<(), Failure> {
        let unauthorized =
            || Failure::new(FailureKind::Unauthorized, "wrong account name or password");
        if password.len() > PASSWORD_MAX {
            return Err(unauthorized());
        }
        if let Some(retry_secs) = self.accounts.login_wait(account, address, now) {
            return Err(Failure::new(
                FailureKind::Busy,
                format!("too many failed logins: try again in {retry_secs} s"),
            ));
        }
        let Some(known) = self.accounts.get(account) else {
            self.accounts.login_failed(account, address, now);
            return Err(unauthorized());
        };
        let job = Job {
            client: NO_CLIENT,
            password,
            task: Task::Verify {
                hash: known.credentials.phc.as_str().into(),
                then: Then::Token {
                    account: known.name.clone(),
                    address,
                    reply,
                },
            },
        };
        self.hash(job).map_err(|_| busy())
    }

    /// A token's password was checked: issue it, or say no.
    pub(in crate::router) fn token_checked(
        &mut self,
        account: Name,
        address: IpAddr,
        reply: Replier,
        matches: bool,
        now: Instant,
    ) {
        if !matches {
            self.accounts.login_failed(&account, address, now);
            reply.answer(failed(
                FailureKind::Unauthorized,
                "wrong account name or password",
            ));
            return;
        }
        self.accounts.login_succeeded(&account, address);
        if let Err(failure) = self.issue_token(account, Asker::Api(reply.clone())) {
            reply.answer(Answer::Failed(failure));
        }
    }

    /// Mints a token for `account` and hands it to storage; `asker` hears
    /// of it once it is committed.
    pub(in crate::router) fn issue_token(
        &mut self,
        account: Name,
        asker: Asker,
    ) -> Result<(), Failure> {
        let now = unix_now();
        if self.tokens.held_by(&account, now) >= TOKENS_PER_ACCOUNT {
            return Err(Failure::new(
                FailureKind::Conflict,
                format!("{account} holds {TOKENS_PER_ACCOUNT} tokens: revoke one first"),
            ));
        }
        let (token, secret) = tokens::mint(account, now)
            .ok_or_else(|| Failure::new(FailureKind::Busy, "no randomness for a token"))?;
        // A client's later requests wait for the commit; an API call has
        // none.
        let client = match &asker {
            Asker::Client(id) => *id,
            Asker::Api(_) => NO_CLIENT,
        };
        let job = storage::Job::SaveToken {
            token,
            secret,
            asker,
        };
        self.save(client, job).map_err(|_| busy())
    }

    /// Finishes a token job the store committed (or not), telling whoever
    /// asked.
    pub(in crate::router) fn token_stored(&mut self, stored: Stored, now: Instant) {
        let (asker, told) = match stored {
            Stored::TokenSaved {
                token,
                secret,
                asker,
                result,
            } => {
                let told = result.map(|()| {
                    let issued = IssuedToken {
                        token: secret,
                        account: token.account.clone(),
                        expires_at: token.expires_at,
                    };
                    self.tokens.insert(token);
                    issued
                });
                (asker, told.map(Some))
            }
            Stored::TokenRevoked {
                hash,
                asker,
                result,
            } => {
                self.tokens.remove(&hash);
                (asker, result.map(|()| None))
            }
            // Other answers are finished in `stored`, which sends only
            // these.
            _ => return,
        };
        match asker {
            Asker::Api(reply) => reply.answer(match told {
                Ok(Some(issued)) => Answer::Token(issued),
                Ok(None) => Answer::Done,
                Err(_) => failed(
                    FailureKind::Busy,
                    "the change could not be saved; try again",
                ),
            }),
            Asker::Client(id) => {
                let notice = match told {
                    Ok(Some(issued)) => AccountNotice::Token {
                        token: issued.token,
                        expires_at: issued.expires_at,
                    },
                    Ok(None) => AccountNotice::Failed(AccountError::NotSaved),
                    Err(_) => AccountNotice::Failed(AccountError::NotSaved),
                };
                if let Some(client) = self.clients.map.get_mut(&id) {
                    client.waiting = false;
                }
                self.reply(id, Reply::Account(notice), now);
                self.release_held(id, now);
                self.reap(now);
            }
        }
    }
}
