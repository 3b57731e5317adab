//! Client certificates on accounts: `NickServ CERT ADD/DEL/LIST` (line
//! `/cert ...`), saved by the storage thread like any account change, and
//! SASL EXTERNAL, which logs in the account a connection's certificate is
//! registered to.

use std::time::Instant;

use crate::accounts::limits::CERTS_PER_ACCOUNT;
use crate::client::ClientId;
use crate::protocol::account::fingerprint;
use crate::protocol::{AccountError, AccountNotice, CertCommand, Name, Reply, SaslReply};
use crate::router::{Router, Via};
use crate::storage::{self, StoreError};

impl Router {
    /// `CERT ADD`, `CERT DEL`, `CERT LIST`, for the account one is logged
    /// in to.
    pub(super) fn certificate_command(
        &mut self,
        id: ClientId,
        command: CertCommand,
        now: Instant,
    ) -> Result<(), AccountError> {
        let client = &self.clients.map[&id];
        let account = client.account.clone().ok_or(AccountError::NotLoggedIn)?;
        let given = |text: String| fingerprint(&text).ok_or(AccountError::BadFingerprint(text));
        let (fingerprint, add) = match command {
            CertCommand::List => {
                let certificates = self.accounts.certificates_of(&account).to_vec();
                let count = certificates.len();
                let notice = AccountNotice::Certs { account, count };
                self.reply(id, Reply::Account(notice), now);
                for fingerprint in certificates {
                    self.reply(id, Reply::Account(AccountNotice::Cert(fingerprint)), now);
                }
                return Ok(());
            }
            CertCommand::Add(text) => {
                let fingerprint = match text {
                    Some(text) => given(text)?,
                    None => client
                        .link
                        .certfp
                        .clone()
                        .ok_or(AccountError::NoCertificate)?,
                };
                if self.accounts.certificate_taken(&fingerprint) {
                    return Err(AccountError::CertTaken);
                }
                if self.accounts.certificates_of(&account).len() >= CERTS_PER_ACCOUNT {
                    return Err(AccountError::TooManyCerts);
                }
                (fingerprint, true)
            }
            CertCommand::Del(text) => {
                let fingerprint = given(text)?;
                if self.accounts.by_certificate(&fingerprint) != Some(&account) {
                    return Err(AccountError::NoSuchCert(fingerprint));
                }
                (fingerprint, false)
            }
        };
        let job = storage::Job::Certificate {
            client: id,
            account,
            fingerprint: fingerprint.clone(),
            add,
        };
        self.save(id, job)?;
        if add {
            self.accounts.pending_certificates.insert(fingerprint);
        }
        Ok(())
    }

    /// A certificate change committed (or not): the router's maps follow,
    /// then the client is told.
    pub(super) fn certificate_stored(
        &mut self,
        client: ClientId,
        account: Name,
        fingerprint: Box<str>,
        add: bool,
        result: Result<(), StoreError>,
        now: Instant,
    ) {
        if add {
            self.accounts.pending_certificates.remove(&fingerprint);
        }
        let notice = match (result, add) {
            // Dropped meanwhile: the store refused it (no such account).
            (Ok(()), true) if self.accounts.get(&account).is_none() => {
                AccountNotice::Failed(AccountError::NotSaved)
            }
            (Ok(()), true) => {
                log::info!("{client} added certificate {fingerprint} to account {account}");
                self.accounts.add_certificate(fingerprint.clone(), account);
                AccountNotice::CertAdded(fingerprint)
            }
            (Ok(()), false) => {
                log::info!("{client} removed certificate {fingerprint} from account {account}");
                self.accounts.remove_certificate(&fingerprint);
                AccountNotice::CertRemoved(fingerprint)
            }
            (Err(_), _) => AccountNotice::Failed(AccountError::NotSaved),
        };
        self.reply(client, Reply::Account(notice), now);
    }

    /// SASL EXTERNAL: the account the connection's client certificate is
    /// registered to, if the message (an authorization identity) is empty
    /// or names that account.
    pub(super) fn sasl_external(
        &mut self,
        id: ClientId,
        message: &[u8],
        now: Instant,
    ) -> Option<SaslReply> {
        let client = &self.clients.map[&id];
        let address = client.peer.ip();
        let Some(certfp) = &client.link.certfp else {
            log::info!("{id} from {address}: SASL EXTERNAL without a client certificate");
            return Some(SaslReply::Failed);
        };
        let Some(account) = self.accounts.by_certificate(certfp).cloned() else {
            log::info!("{id} from {address}: SASL EXTERNAL with an unknown certificate");
            return Some(SaslReply::Failed);
        };
        let authzid = std::str::from_utf8(message).ok()?;
        if !authzid.is_empty() && !authzid.eq_ignore_ascii_case(&account) {
            return Some(SaslReply::Failed);
        }
        log::info!("{id} from {address} logged in as {account} (certificate)");
        self.accounts.login_succeeded(&account, address);
        self.log_in(id, account, Via::Sasl, None, now);
        None
    }
}
