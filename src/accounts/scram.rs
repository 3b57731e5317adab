//! SCRAM-SHA-256 (RFC 5802 and RFC 7677), the server's side, sans-io.
//!
//! At registration the password is turned into [`ScramKeys`] (a PBKDF2
//! run, on the hashing pool); a login is then three SHA-256 operations,
//! cheap enough for the router itself. The exchange:
//!
//! 1. [`ClientFirst::parse`] reads `n,,n=user,r=nonce`, which names the
//!    account.
//! 2. [`ClientFirst::challenge`] answers with the salt, the iteration count
//!    and a nonce of ours added to the client's.
//! 3. [`Exchange::finish`] checks the client's proof and gives the server's
//!    signature, which proves to the client that we knew its keys.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = hmac::Hmac<Sha256>;

/// PBKDF2 iterations for new accounts: RFC 7677's minimum, which every
/// client accepts.
pub const ITERATIONS: u32 = 4096;

/// What the server keeps to check a SCRAM-SHA-256 login: never the
/// password, nor anything a client could log in with.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramKeys {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: [u8; 32],
    pub server_key: [u8; 32],
}

impl std::fmt::Debug for ScramKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScramKeys(..)")
    }
}

impl ScramKeys {
    /// Derives the keys for `password` (RFC 5802 section 3). Costs
    /// `iterations` HMACs: for the hashing pool, not the router.
    pub fn derive(password: &str, salt: Vec<u8>, iterations: u32) -> ScramKeys {
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iterations, &mut salted);
        let client_key = hmac(&salted, b"Client Key");
        ScramKeys {
            salt,
            iterations,
            stored_key: Sha256::digest(client_key).into(),
            server_key: hmac(&salted, b"Server Key"),
        }
    }
}

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Why an exchange failed; every one ends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScramError {
    /// Not a message of the exchange, or not UTF-8.
    Malformed,
    /// The client wants channel binding, which needs TLS.
    ChannelBinding,
    /// The client's final message does not go with the first.
    Mismatch,
    /// The proof is wrong: so was the password.
    WrongProof,
}

/// The client's first message.
#[derive(Debug)]
pub struct ClientFirst {
    /// The account the client logs in as.
    pub user: String,
    /// Whom it would act for, if it says.
    pub authzid: Option<String>,
    gs2_header: String,
    bare: String,
    nonce: String,
}

impl ClientFirst {
    /// Parses `gs2-header client-first-message-bare`.
    pub fn parse(message: &[u8]) -> Result<ClientFirst, ScramError> {
        let message = std::str::from_utf8(message).map_err(|_| ScramError::Malformed)?;
        let mut parts = message.splitn(3, ',');
        let (Some(binding), Some(authzid), Some(bare)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(ScramError::Malformed);
        };
        match binding {
            "n" | "y" => {}
            binding if binding.starts_with("p=") => return Err(ScramError::ChannelBinding),
            _ => return Err(ScramError::Malformed),
        }
        let authzid = match authzid {
            "" => None,
            given => Some(unescape(
                given.strip_prefix("a=").ok_or(ScramError::Malformed)?,
            )?),
        };
        let mut attributes = bare.split(',');
        let user = attributes
            .next()
            .and_then(|user| user.strip_prefix("n="))
            .ok_or(ScramError::Malformed)?;
        let nonce = attributes
            .next()
            .and_then(|nonce| nonce.strip_prefix("r="))
            .filter(|nonce| !nonce.is_empty())
            .ok_or(ScramError::Malformed)?;
        Ok(ClientFirst {
            user: unescape(user)?,
            authzid,
            gs2_header: format!("{binding},{},", authzid_part(message)),
            bare: bare.to_owned(),
            nonce: nonce.to_owned(),
        })
    }

    /// The server's first message for an account with `keys`, with
    /// `server_nonce` (printable, without commas) added to the client's.
    pub fn challenge(self, keys: &ScramKeys, server_nonce: &str) -> (String, Exchange) {
        let nonce = format!("{}{server_nonce}", self.nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            STANDARD.encode(&keys.salt),
            keys.iterations
        );
        let exchange = Exchange {
            auth_prefix: format!("{},{server_first}", self.bare),
            gs2_header: self.gs2_header,
            nonce,
            keys: keys.clone(),
        };
        (server_first, exchange)
    }
}

/// The second field of the GS2 header, as the client wrote it.
fn authzid_part(message: &str) -> &str {
    message.split(',').nth(1).unwrap_or_default()
}

/// A saslname with `=2C` and `=3D` turned back into `,` and `=`.
fn unescape(name: &str) -> Result<String, ScramError> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        match rest.get(at..at + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(ScramError::Malformed),
        }
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// An exchange waiting for the client's final message.
#[derive(Debug)]
pub struct Exchange {
    /// `client-first-message-bare,server-first-message`.
    auth_prefix: String,
    gs2_header: String,
    nonce: String,
    keys: ScramKeys,
}

impl Exchange {
    /// Checks `c=...,r=...,p=...`; on success, the server's final message.
    pub fn finish(self, message: &[u8]) -> Result<String, ScramError> {
        let message = std::str::from_utf8(message).map_err(|_| ScramError::Malformed)?;
        let (without_proof, proof) = message.rsplit_once(",p=").ok_or(ScramError::Malformed)?;
        let mut attributes = without_proof.split(',');
        let binding = attributes
            .next()
            .and_then(|binding| binding.strip_prefix("c="))
            .ok_or(ScramError::Malformed)?;
        let nonce = attributes
            .next()
            .and_then(|nonce| nonce.strip_prefix("r="))
            .ok_or(ScramError::Malformed)?;
        if STANDARD.decode(binding).ok().as_deref() != Some(self.gs2_header.as_bytes())
            || nonce != self.nonce
        {
            return Err(ScramError::Mismatch);
        }
        let proof: [u8; 32] = STANDARD
            .decode(proof)
            .ok()
            .and_then(|proof| proof.try_into().ok())
            .ok_or(ScramError::Malformed)?;
        let auth_message = format!("{},{without_proof}", self.auth_prefix);
        let signature = hmac(&self.keys.stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = proof.iter().zip(signature).map(|(a, b)| a ^ b).collect();
        let stored: [u8; 32] = Sha256::digest(&client_key).into();
        // Both sides are hashes the client cannot steer byte by byte, so a
        // plain comparison leaks nothing useful about the stored key.
        if stored != self.keys.stored_key {
            return Err(ScramError::WrongProof);
        }
        let server_signature = hmac(&self.keys.server_key, auth_message.as_bytes());
        Ok(format!("v={}", STANDARD.encode(server_signature)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3: user "user", password "pencil".
    #[test]
    fn rfc_7677_test_vector() {
        let salt = STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let keys = ScramKeys::derive("pencil", salt, 4096);
        let first = ClientFirst::parse(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO").unwrap();
        assert_eq!(first.user, "user");
        assert_eq!(first.authzid, None);
        let (server_first, exchange) = first.challenge(&keys, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
        assert_eq!(
            server_first,
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        );
        let server_final = exchange
            .finish(
                b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                  p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            )
            .unwrap();
        assert_eq!(
            server_final,
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    fn vector_exchange() -> Exchange {
        let salt = STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let keys = ScramKeys::derive("pencil", salt, 4096);
        let first = ClientFirst::parse(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO").unwrap();
        first.challenge(&keys, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0").1
    }

    #[test]
    fn a_wrong_proof_or_nonce_fails() {
        let wrong_proof = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                            p=AHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        assert_eq!(
            vector_exchange().finish(wrong_proof),
            Err(ScramError::WrongProof)
        );
        let wrong_nonce = b"c=biws,r=rOprNGfwEbeRWgbNEkqO,\
                            p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        assert_eq!(
            vector_exchange().finish(wrong_nonce),
            Err(ScramError::Mismatch)
        );
        assert_eq!(
            vector_exchange().finish(b"garbage"),
            Err(ScramError::Malformed)
        );
    }

    #[test]
    fn first_messages() {
        let first = ClientFirst::parse(b"n,a=bob,n=al=2Cice=3D,r=abc").unwrap();
        assert_eq!(first.user, "al,ice=");
        assert_eq!(first.authzid.as_deref(), Some("bob"));
        assert_eq!(first.gs2_header, "n,a=bob,");
        assert_eq!(
            ClientFirst::parse(b"p=tls-unique,,n=a,r=b").unwrap_err(),
            ScramError::ChannelBinding
        );
        for bad in [
            &b"n,,r=abc"[..],
            b"n,,n=a",
            b"x,,n=a,r=b",
            b"n,,n=a=,r=b",
            b"\xff",
        ] {
            assert_eq!(
                ClientFirst::parse(bad).unwrap_err(),
                ScramError::Malformed,
                "{bad:?}"
            );
        }
    }
}
