//! HS256 JSON Web Tokens signed with `--jwt-secret`, for sites that already
//! have users: their backend signs `{"sub": ACCOUNT, "exp": ...}` and the
//! browser presents it as a bearer token.
//!
//! Only HS256 is taken, whatever the header says otherwise (no `none`, no
//! algorithm confusion); the signature is compared in constant time by
//! `hmac`; `exp` is required and `nbf` honoured, with a minute's leeway
//! for clocks. Verifying needs HMAC-SHA-256, base64url and JSON, all
//! already in the build, so this is written here rather than bringing in
//! `jsonwebtoken`, whose current releases need a whole crypto backend
//! (aws-lc or the RustCrypto RSA/ECDSA stack) for algorithms never used.

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// How far a token's times may be off the server's clock, in seconds.
const LEEWAY_SECS: i64 = 60;

/// Why a token was refused, in words for the 401.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused(pub &'static str);

#[derive(Deserialize)]
struct Header {
    alg: String,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    nbf: Option<i64>,
}

/// Whether `token` looks like a JWT rather than one of the server's own
/// tokens: three dot-separated parts.
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

/// The account a token signed with `secret` names, if its signature
/// checks and it is valid at `now` (Unix seconds).
pub fn verify(token: &str, secret: &[u8], now: i64) -> Result<String, Refused> {
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refused("not a JWT"));
    };
    let decode = |part: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| Refused("not base64url"))
    };
    let header: Header =
        serde_json::from_slice(&decode(header)?).map_err(|_| Refused("unreadable header"))?;
    if header.alg != "HS256" {
        return Err(Refused("only HS256 tokens are taken"));
    }
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(secret).map_err(|_| Refused("no key"))?;
    mac.update(&token.as_bytes()[..token.len() - signature.len() - 1]);
    mac.verify_slice(&decode(signature)?)
        .map_err(|_| Refused("bad signature"))?;
    let claims: Claims =
        serde_json::from_slice(&decode(claims)?).map_err(|_| Refused("claims need sub and exp"))?;
    if claims.exp + LEEWAY_SECS <= now {
        return Err(Refused("expired"));
    }
    if claims.nbf.is_some_and(|nbf| nbf - LEEWAY_SECS > now) {
        return Err(Refused("not valid yet"));
    }
    Ok(claims.sub)
}

/// Signs `claims` (JSON) with `secret`: for tests, and for documenting
/// what a site's backend does.
pub fn sign(claims: &str, secret: &[u8]) -> String {
    let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let unsigned = format!(
        "{}.{}",
        encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        encode(claims.as_bytes())
    );
    let mut mac =
        hmac::Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(unsigned.as_bytes());
    format!("{unsigned}.{}", encode(&mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a secret of the site";

    #[test]
    fn a_signed_token_names_its_account_until_it_expires() {
        let token = sign(r#"{"sub":"alice","exp":2000}"#, SECRET);
        assert!(looks_like_jwt(&token));
        assert_eq!(verify(&token, SECRET, 1000), Ok("alice".into()));
        assert_eq!(
            verify(&token, SECRET, 2000 + LEEWAY_SECS),
            Err(Refused("expired"))
        );
        let early = sign(r#"{"sub":"a","exp":9000,"nbf":5000}"#, SECRET);
        assert_eq!(verify(&early, SECRET, 1000), Err(Refused("not valid yet")));
    }

    #[test]
    fn forged_and_foreign_tokens_are_refused() {
        let token = sign(r#"{"sub":"alice","exp":2000}"#, SECRET);
        assert_eq!(
            verify(&token, b"another", 1000),
            Err(Refused("bad signature"))
        );
        // Claims swapped under the same signature.
        let parts: Vec<&str> = token.split('.').collect();
        let other = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"root","exp":2000}"#);
        let forged = format!("{}.{other}.{}", parts[0], parts[2]);
        assert_eq!(verify(&forged, SECRET, 1000), Err(Refused("bad signature")));
        // alg none, unsigned.
        let none = format!(
            "{}.{}.",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            parts[1]
        );
        assert_eq!(
            verify(&none, SECRET, 1000),
            Err(Refused("only HS256 tokens are taken"))
        );
        let no_exp = sign(r#"{"sub":"alice"}"#, SECRET);
        assert!(verify(&no_exp, SECRET, 1000).is_err());
        assert_eq!(verify("a.b", SECRET, 0), Err(Refused("not a JWT")));
        assert!(!looks_like_jwt("sb_abc"));
    }
}
