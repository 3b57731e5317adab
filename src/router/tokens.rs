//! API tokens as the router keeps them: by SHA-256 hash, with their account
//! and expiry, loaded at start and kept in step with the store. A token is
//! 32 random bytes, so checking one is a hash and a map lookup, done in
//! place; only issuing one (a password check, a commit) goes to helpers.

use std::collections::HashMap;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::Replier;
use crate::client::ClientId;
use crate::protocol::Name;
use crate::storage::StoredToken;

/// How long a token lasts: thirty days.
pub const TOKEN_TTL_SECS: i64 = 30 * 24 * 3600;
/// Most live tokens one account may hold; revoke one to get another.
pub const TOKENS_PER_ACCOUNT: usize = 20;
/// What every token starts with, so one pasted by mistake is recognised.
const PREFIX: &str = "sb_";

/// Who asked for a token to be issued or revoked, to be answered once the
/// store committed: a connected client (`NickServ TOKEN`, `/token`) or an
/// HTTP request.
#[derive(Clone, Debug)]
pub enum Asker {
    Client(ClientId),
    Api(Replier),
}

/// The live tokens.
#[derive(Debug, Default)]
pub struct Tokens {
    /// Hash to account and expiry (Unix seconds).
    map: HashMap<[u8; 32], (Name, i64)>,
}

impl Tokens {
    pub fn new(tokens: Vec<StoredToken>) -> Tokens {
        Tokens {
            map: tokens
                .into_iter()
                .map(|token| (token.hash, (token.account, token.expires_at)))
                .collect(),
        }
    }

    /// The account `secret` was issued to, if it is live at `now` (Unix
    /// seconds).
    pub fn check(&self, secret: &str, now: i64) -> Option<&Name> {
        let (account, expires_at) = self.map.get(&hash(secret))?;
        (*expires_at > now).then_some(account)
    }

    /// How many live tokens `account` (folded) holds.
    pub fn held_by(&self, account: &Name, now: i64) -> usize {
        self.map
            .values()
            .filter(|(owner, expires_at)| owner.eq_ignore_ascii_case(account) && *expires_at > now)
            .count()
    }

    pub fn insert(&mut self, token: StoredToken) {
        self.map
            .insert(token.hash, (token.account, token.expires_at));
    }

    pub fn remove(&mut self, hash: &[u8; 32]) {
        self.map.remove(hash);
    }
}

/// The SHA-256 of a token, as it is kept.
pub fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A fresh token for `account` that expires `TOKEN_TTL_SECS` after `now`:
/// what to keep, and the secret to show once. `None` without randomness.
pub fn mint(account: Name, now: i64) -> Option<(StoredToken, String)> {
    let mut bytes = [0; 32];
    getrandom::fill(&mut bytes).ok()?;
    let secret = format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let token = StoredToken {
        hash: hash(&secret),
        account,
        expires_at: now + TOKEN_TTL_SECS,
    };
    Some((token, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_checks_out_until_it_expires_and_not_after_removal() {
        let (token, secret) = mint("alice".into(), 1000).unwrap();
        assert!(secret.starts_with(PREFIX) && secret.len() > 40);
        let mut tokens = Tokens::default();
        let hash = token.hash;
        tokens.insert(token);
        assert_eq!(tokens.check(&secret, 1001).map(|n| &**n), Some("alice"));
        assert_eq!(tokens.check(&secret, 1000 + TOKEN_TTL_SECS), None);
        assert_eq!(tokens.check("sb_guess", 1001), None);
        assert_eq!(tokens.held_by(&"ALICE".into(), 1001), 1);
        tokens.remove(&hash);
        assert_eq!(tokens.check(&secret, 1001), None);
    }
}
