//! API tokens in the database: only their SHA-256 hashes, with the account
//! they belong to and when they expire.

use rusqlite::params;

use super::{Store, StoreError};
use crate::protocol::Name;
use crate::router::fold;

/// A token as kept: never the token itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredToken {
    pub hash: [u8; 32],
    /// The account's name as registered.
    pub account: Name,
    /// Unix seconds.
    pub expires_at: i64,
}

impl Store {
    /// Every token that has not expired by `now` (Unix seconds), to load at
    /// start; expired ones are deleted on the way.
    pub fn tokens(&mut self, now: i64) -> Result<Vec<StoredToken>, StoreError> {
        self.connection
            .execute("DELETE FROM tokens WHERE expires_at <= ?1", [now])?;
        let mut statement = self.connection.prepare(
            "SELECT tokens.hash, accounts.name, tokens.expires_at
             FROM tokens JOIN accounts ON accounts.key = tokens.account",
        )?;
        let rows = statement.query_map([], |row| {
            let hash: Vec<u8> = row.get(0)?;
            Ok((hash, row.get::<_, String>(1)?, row.get(2)?))
        })?;
        let mut tokens = Vec::new();
        for row in rows {
            let (hash, account, expires_at) = row?;
            let hash = hash
                .try_into()
                .map_err(|_| StoreError("a token hash is not 32 bytes".into()))?;
            tokens.push(StoredToken {
                hash,
                account: account.into(),
                expires_at,
            });
        }
        Ok(tokens)
    }

    /// Saves a token, committed when this returns.
    pub fn save_token(&mut self, token: &StoredToken, now: i64) -> Result<(), StoreError> {
        self.connection.execute(
            "INSERT INTO tokens (hash, account, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![
                &token.hash[..],
                &*fold(&token.account),
                now,
                token.expires_at
            ],
        )?;
        Ok(())
    }

    /// Deletes a token, committed when this returns; deleting one that is
    /// gone is no error (it expired, or its account was dropped).
    pub fn revoke_token(&mut self, hash: &[u8; 32]) -> Result<(), StoreError> {
        self.connection
            .execute("DELETE FROM tokens WHERE hash = ?1", [&hash[..]])?;
        Ok(())
    }
}
