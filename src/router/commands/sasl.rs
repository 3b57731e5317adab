//! IRC's `AUTHENTICATE`: SASL PLAIN (checked on the hashing pool, like any
//! password) and SCRAM-SHA-256 (checked in place: with the keys derived at
//! registration it costs three SHA-256 hashes).

use std::time::Instant;

use crate::accounts::sasl::{self, Mechanism, PayloadError};
use crate::accounts::scram::ClientFirst;
use crate::client::ClientId;
use crate::protocol::{Reply, SaslReply};
use crate::router::state::{Sasl, SaslStep};
use crate::router::{Router, Via};

impl Router {
    /// One `AUTHENTICATE` argument.
    pub(super) fn authenticate(&mut self, id: ClientId, argument: &str, now: Instant) {
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        if argument == "*" {
            client.sasl = None;
            self.reply(id, Reply::Sasl(SaslReply::Aborted), now);
            return;
        }
        let Some(exchange) = client.sasl.as_mut() else {
            if client.account.is_some() {
                self.reply(id, Reply::Sasl(SaslReply::Already), now);
                return;
            }
            let Some(mechanism) = Mechanism::named(argument) else {
                self.reply(id, Reply::Sasl(SaslReply::Mechanisms), now);
                self.reply(id, Reply::Sasl(SaslReply::Failed), now);
                return;
            };
            client.sasl = Some(Box::new(Sasl {
                mechanism,
                payload: Default::default(),
                step: SaslStep::Start,
            }));
            self.reply(id, Reply::Sasl(SaslReply::Continue(Vec::new())), now);
            return;
        };
        let message = match exchange.payload.push(argument) {
            Ok(None) => return,
            Ok(Some(message)) => message,
            Err(error) => {
                client.sasl = None;
                let reply = match error {
                    PayloadError::TooLong => SaslReply::TooLong,
                    PayloadError::Invalid => SaslReply::Failed,
                };
                self.reply(id, Reply::Sasl(reply), now);
                return;
            }
        };
        let exchange = *client.sasl.take().expect("just seen");
        let outcome = match (exchange.mechanism, exchange.step) {
            (Mechanism::External, _) => self.sasl_external(id, &message, now),
            (Mechanism::Plain, _) => self.sasl_plain(id, &message, now),
            (Mechanism::ScramSha256, SaslStep::Start) => self.scram_first(id, &message, now),
            (Mechanism::ScramSha256, SaslStep::Proof { exchange, account }) => {
                match exchange.finish(&message) {
                    Ok(server_final) => {
                        let step = SaslStep::Verified(account);
                        self.sasl_continue(id, step, server_final.into_bytes(), now);
                        None
                    }
                    Err(error) => {
                        let address = self.clients.map[&id].peer.ip();
                        log::info!("{id} from {address}: SCRAM login as {account}: {error:?}");
                        self.accounts.login_failed(&account, address, now);
                        Some(SaslReply::Failed)
                    }
                }
            }
            // The client's empty answer to our signature: done.
            (Mechanism::ScramSha256, SaslStep::Verified(account)) => {
                let address = self.clients.map[&id].peer.ip();
                log::info!("{id} from {address} logged in as {account} (SCRAM)");
                self.accounts.login_succeeded(&account, address);
                self.log_in(id, account, Via::Sasl, None, now);
                None
            }
        };
        if let Some(reply) = outcome {
            self.reply(id, Reply::Sasl(reply), now);
        }
    }

    /// Sends the mechanism's next message and waits for the client's answer.
    fn sasl_continue(&mut self, id: ClientId, step: SaslStep, message: Vec<u8>, now: Instant) {
        let client = self.clients.map.get_mut(&id).expect("caller checked");
        client.sasl = Some(Box::new(Sasl {
            mechanism: Mechanism::ScramSha256,
            payload: Default::default(),
            step,
        }));
        self.reply(id, Reply::Sasl(SaslReply::Continue(message)), now);
    }

    /// PLAIN: the account and password in one message; the answer comes
    /// from the hashing pool.
    fn sasl_plain(&mut self, id: ClientId, message: &[u8], now: Instant) -> Option<SaslReply> {
        let Some((account, password)) = sasl::plain(message) else {
            return Some(SaslReply::Failed);
        };
        match self.start_login(id, &account, password, Via::Sasl, now) {
            Ok(()) => None,
            Err(error) => {
                log::info!("{id}: SASL PLAIN login as {account}: {error}");
                Some(SaslReply::Failed)
            }
        }
    }

    /// SCRAM's first message names the account; the challenge carries its
    /// salt and iteration count.
    fn scram_first(&mut self, id: ClientId, message: &[u8], now: Instant) -> Option<SaslReply> {
        let Ok(first) = ClientFirst::parse(message) else {
            return Some(SaslReply::Failed);
        };
        if first
            .authzid
            .as_ref()
            .is_some_and(|authzid| !authzid.eq_ignore_ascii_case(&first.user))
        {
            return Some(SaslReply::Failed);
        }
        let address = self.clients.map[&id].peer.ip();
        if self
            .accounts
            .login_wait(&first.user, address, now)
            .is_some()
        {
            return Some(SaslReply::Failed);
        }
        let Some(account) = self.accounts.get(&first.user) else {
            self.accounts.login_failed(&first.user, address, now);
            return Some(SaslReply::Failed);
        };
        let name = account.name.clone();
        let (server_first, exchange) =
            first.challenge(&account.credentials.scram, &crate::accounts::nonce());
        let step = SaslStep::Proof {
            exchange,
            account: name,
        };
        self.sasl_continue(id, step, server_first.into_bytes(), now);
        None
    }
}
