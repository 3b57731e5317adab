//! Accounts: what one is, how its password is kept, and the limits on them.
//!
//! Passwords are kept as Argon2id PHC strings, beside the SCRAM-SHA-256
//! keys derived at registration (SCRAM cannot use Argon2). Hashing and
//! checking are slow on purpose, so they run on the hashing pool
//! ([`crate::hashing`]), never on the router's thread or the event loop.

pub mod sasl;
pub mod scram;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::protocol::Name;
use scram::ScramKeys;

/// Every limit on accounts, in one place.
pub mod limits {
    use std::time::Duration;

    /// Longest account name: it is a nickname, so the nickname limit.
    pub const ACCOUNT_NAME_MAX: usize = crate::router::NICK_MAX;
    /// Shortest password, in bytes: not empty. How strong it is, is the
    /// user's business; throttling keeps guessing slow.
    pub const PASSWORD_MIN: usize = 1;
    /// Longest password, in bytes: far beyond any passphrase, and short
    /// enough that `REGISTER` with it fits in one IRC line.
    pub const PASSWORD_MAX: usize = 400;
    /// Longest e-mail address kept with an account.
    pub const EMAIL_MAX: usize = 254;
    /// Accounts one address may register per [`REGISTRATION_WINDOW`].
    pub const REGISTRATIONS_PER_ADDRESS: usize = 5;
    pub const REGISTRATION_WINDOW: Duration = Duration::from_secs(3600);
    /// Failed logins in a row for one account, and from one address,
    /// before each further failure makes the next attempt wait.
    pub const FAILURES_PER_ACCOUNT: u32 = 3;
    pub const FAILURES_PER_ADDRESS: u32 = 10;
    /// The first wait; it doubles with each failure after, up to the most.
    pub const LOGIN_BACKOFF: Duration = Duration::from_secs(2);
    pub const LOGIN_BACKOFF_MAX: Duration = Duration::from_secs(300);
    /// Most bytes of base64 in one SASL payload (ten full chunks): SCRAM's
    /// and PLAIN's messages, even with the longest password, are shorter.
    pub const SASL_MAX: usize = 4000;
    /// Client certificates one account may log in with (SASL EXTERNAL).
    pub const CERTS_PER_ACCOUNT: usize = 16;
}

/// A registered account, as the store keeps it and the router knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The name as registered; it is also the nickname the account owns.
    pub name: Name,
    pub credentials: Credentials,
    pub email: Option<String>,
    /// Unix time of registration.
    pub registered_at: i64,
}

/// What checks an account's password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// Argon2id, as a PHC string.
    pub phc: String,
    pub scram: ScramKeys,
}

/// How much Argon2 work a new hash costs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PasswordCost {
    /// The crate's recommended parameters: tens of milliseconds.
    #[default]
    Standard,
    /// The least Argon2 allows: for tests, which hash many passwords.
    Minimal,
}

impl PasswordCost {
    fn argon2(self) -> Argon2<'static> {
        match self {
            PasswordCost::Standard => Argon2::default(),
            PasswordCost::Minimal => Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(8, 1, 1, None).expect("valid parameters"),
            ),
        }
    }
}

/// Hashes `password` with Argon2id and the recommended parameters, as a PHC
/// string for `--oper NAME:HASH`.
pub fn hash_password(password: &str) -> Result<String, String> {
    hash_with(password, PasswordCost::Standard)
}

fn hash_with(password: &str, cost: PasswordCost) -> Result<String, String> {
    cost.argon2()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| format!("cannot hash the password: {error}"))
}

/// Checks that `hash` is an Argon2id PHC string.
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

/// Whether `password` matches the PHC string `hash` (whatever parameters
/// it was made with). Slow: for the hashing pool.
pub fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// The credentials for a new account's password. Slow: for the hashing pool.
pub fn derive(password: &str, cost: PasswordCost) -> Result<Credentials, String> {
    let phc = hash_with(password, cost)?;
    let mut salt = vec![0; 16];
    getrandom::fill(&mut salt).map_err(|error| format!("no randomness: {error}"))?;
    Ok(Credentials {
        phc,
        scram: ScramKeys::derive(password, salt, scram::ITERATIONS),
    })
}

/// A fresh random nonce for SCRAM: printable and without commas.
pub fn nonce() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 18];
    // Without randomness the exchange simply fails its proof check.
    let _ = getrandom::fill(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_credentials_verify_their_password_only() {
        let credentials = derive("hunter22", PasswordCost::Minimal).unwrap();
        check_hash(&credentials.phc).unwrap();
        assert!(verify("hunter22", &credentials.phc));
        assert!(!verify("hunter23", &credentials.phc));
        assert!(!verify("hunter22", "not a hash"));
        assert_eq!(credentials.scram.salt.len(), 16);
        assert_eq!(credentials.scram.iterations, scram::ITERATIONS);
    }
}
