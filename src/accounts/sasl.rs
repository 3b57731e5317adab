//! SASL as IRC carries it (`AUTHENTICATE`): payloads cut into 400-byte
//! base64 chunks, and the PLAIN mechanism.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::limits::SASL_MAX;

/// Mechanisms offered, in the words `CAP LS` and 908 use.
pub const MECHANISMS: &str = "EXTERNAL,PLAIN,SCRAM-SHA-256";

/// The size of a full chunk: a shorter one (or `+`) ends the payload.
pub const CHUNK: usize = 400;

/// A mechanism switchboard speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// The connection's TLS client certificate (`NickServ CERT ADD`).
    External,
    Plain,
    ScramSha256,
}

impl Mechanism {
    /// The mechanism called `name` (any case), if offered.
    pub fn named(name: &str) -> Option<Mechanism> {
        match name.to_ascii_uppercase().as_str() {
            "EXTERNAL" => Some(Mechanism::External),
            "PLAIN" => Some(Mechanism::Plain),
            "SCRAM-SHA-256" => Some(Mechanism::ScramSha256),
            _ => None,
        }
    }
}

/// Why a payload was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadError {
    /// A chunk over 400 bytes (IRC's 905).
    TooLong,
    /// Not base64, or chunks adding up to more than [`SASL_MAX`] (a plain
    /// failure, as irctest expects).
    Invalid,
}

/// Chunks of one payload, gathered until the last.
#[derive(Debug, Default)]
pub struct Payload {
    base64: String,
}

impl Payload {
    /// Takes one `AUTHENTICATE` argument: the whole payload once it is
    /// complete, `None` while more chunks are to come.
    pub fn push(&mut self, chunk: &str) -> Result<Option<Vec<u8>>, PayloadError> {
        if chunk.len() > CHUNK {
            return Err(PayloadError::TooLong);
        }
        if self.base64.len() + chunk.len() > SASL_MAX {
            return Err(PayloadError::Invalid);
        }
        if chunk != "+" {
            self.base64.push_str(chunk);
            if chunk.len() == CHUNK {
                return Ok(None);
            }
        }
        let base64 = std::mem::take(&mut self.base64);
        STANDARD
            .decode(base64)
            .map(Some)
            .map_err(|_| PayloadError::Invalid)
    }
}

/// `data` as `AUTHENTICATE` arguments: base64 in 400-byte chunks, and `+`
/// after a last chunk that is exactly 400 bytes (or for no data at all).
pub fn chunks(data: &[u8]) -> Vec<String> {
    let encoded = STANDARD.encode(data);
    let mut chunks: Vec<String> = encoded
        .as_bytes()
        .chunks(CHUNK)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect();
    if chunks.last().is_none_or(|last| last.len() == CHUNK) {
        chunks.push("+".into());
    }
    chunks
}

/// PLAIN's message: `authzid NUL authcid NUL password`. The account, and
/// its password; `None` if malformed, or if it asks to act for another
/// account, which nobody may.
pub fn plain(message: &[u8]) -> Option<(String, String)> {
    let message = std::str::from_utf8(message).ok()?;
    let mut parts = message.split('\0');
    let (authzid, authcid, password) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || authcid.is_empty() {
        return None;
    }
    if !authzid.is_empty() && !authzid.eq_ignore_ascii_case(authcid) {
        return None;
    }
    Some((authcid.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_come_in_400_byte_chunks() {
        let data = vec![b'x'; 600];
        let chunks = chunks(&data);
        assert_eq!(chunks.len(), 3, "800 bytes of base64, then +");
        assert_eq!(chunks[0].len(), 400);
        assert_eq!(chunks[2], "+");
        let mut payload = Payload::default();
        assert_eq!(payload.push(&chunks[0]), Ok(None));
        assert_eq!(payload.push(&chunks[1]), Ok(None));
        assert_eq!(payload.push(&chunks[2]), Ok(Some(data)));
        assert_eq!(super::chunks(b""), ["+"]);
        assert_eq!(payload.push("+"), Ok(Some(Vec::new())));
    }

    #[test]
    fn bad_payloads() {
        let mut payload = Payload::default();
        assert_eq!(payload.push("!!!"), Err(PayloadError::Invalid));
        assert_eq!(payload.push(&"A".repeat(401)), Err(PayloadError::TooLong));
        let full = "A".repeat(400);
        let mut long = Payload::default();
        let mut outcome = Ok(None);
        while outcome == Ok(None) {
            outcome = long.push(&full);
        }
        assert_eq!(outcome, Err(PayloadError::Invalid));
    }

    #[test]
    fn plain_messages() {
        assert_eq!(
            plain(b"\0jilles\0sesame"),
            Some(("jilles".into(), "sesame".into()))
        );
        assert_eq!(
            plain(b"jilles\0jilles\0sesame"),
            Some(("jilles".into(), "sesame".into()))
        );
        assert_eq!(plain(b"admin\0jilles\0sesame"), None);
        assert_eq!(plain(b"jilles\0sesame"), None);
        assert_eq!(plain(b"\0\0sesame"), None);
    }
}
