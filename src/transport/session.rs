//! The connection layer: what stands between a socket's bytes and the
//! [`Intake`](super::Intake) on the way in, and between encoded events and
//! the socket on the way out. It is sans-io: transports read and write the
//! socket and decide when; a [`Session`] only turns bytes into bytes.
//!
//! ```text
//!   socket ──bytes──► receive ─► [security: plain │ TLS] ─► [web] ─► deliver ─► Intake
//!   socket ◄─bytes─── seal ◄──── [security: plain │ TLS] ◄── [web] ◄── encoded events
//! ```
//!
//! A connection starts in its setup phase ([`Session::setting_up`]: the TLS
//! handshake, later an HTTP upgrade), in which the transport exchanges the
//! layer's own bytes ([`Session::seal`] with nothing to seal gives what the
//! layer must send) and the router does not know the client yet: it hears
//! of it once setup is over ([`Session::link`] then says what the layer
//! learnt), so a client that never gets that far costs nobody else anything.
//! Plain connections have no setup.
//!
//! HTTP listeners add the web layer ([`crate::web::layer`]) between the
//! security layer and the intake: while it serves HTTP the connection is
//! still being set up (the transport drives it with
//! [`Session::serve_http`]); once a request upgrades it, it frames IRC
//! lines as WebSocket messages. Locks are always taken security first,
//! then web.
//!
//! The threaded transport's reader, writer and router share one session
//! (clones of a `Session` are handles on the same state). A TLS session
//! sits behind a lock taken only around rustls calls, never during socket
//! I/O; who writes to the socket is decided by the transport, one writer
//! at a time, so the records go out in the order they were sealed.

use std::io::{self, BufRead};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use rustls::ServerConnection;

use crate::client::Link;
use crate::protocol::api::Answer;
use crate::stats::StatsSnapshot;
use crate::web::layer::{Layer, Served};
use crate::web::site::Settings;

/// One connection's layers. Cloning gives another handle on the same
/// session.
#[derive(Clone, Debug, Default)]
pub struct Session {
    security: Security,
    /// HTTP listeners only: HTTP, then perhaps WebSocket.
    web: Option<Arc<Mutex<Layer>>>,
}

/// How the bytes are protected on the wire.
#[derive(Clone, Debug, Default)]
enum Security {
    /// As they are.
    #[default]
    Plain,
    /// TLS: one rustls state machine for both directions.
    Tls(Arc<Mutex<ServerConnection>>),
}

/// What [`Session::receive`] found in the bytes it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// The connection goes on.
    Open,
    /// The peer said it will send nothing more (a TLS close_notify).
    Closed,
}

/// The session held for sealing: see [`Session::try_sealer`].
pub struct Sealer<'a> {
    tls: Option<MutexGuard<'a, ServerConnection>>,
    web: Option<MutexGuard<'a, Layer>>,
}

impl Session {
    /// A session that passes bytes through as they are.
    pub fn plain() -> Session {
        Session::default()
    }

    /// A TLS session over a fresh server-side rustls connection.
    pub fn tls(mut connection: ServerConnection) -> Session {
        // What waits is bounded by the outbox (`--sendq`, `--sendq-bytes`)
        // and the intake: every seal drains rustls' buffers at once, and a
        // refused write would lose bytes a writer had already taken.
        connection.set_buffer_limit(None);
        Session {
            security: Security::Tls(Arc::new(Mutex::new(connection))),
            web: None,
        }
    }

    /// The same session with the web layer on top, serving HTTP first.
    pub fn with_web(self, layer: Layer) -> Session {
        Session {
            web: Some(Arc::new(Mutex::new(layer))),
            ..self
        }
    }

    /// Whether the connection is still being set up; until it is not, no
    /// request may reach the router and nothing may be sealed but the
    /// layer's own bytes.
    pub fn setting_up(&self) -> bool {
        self.handshaking() || self.is_http()
    }

    /// Whether the connection is serving HTTP (set up as far as security
    /// goes, but not a client of the router's).
    pub fn is_http(&self) -> bool {
        self.web.as_ref().is_some_and(|web| web.lock().is_http())
    }

    /// Whether the security layer is still being set up (a TLS handshake).
    pub fn handshaking(&self) -> bool {
        match &self.security {
            Security::Plain => false,
            Security::Tls(tls) => tls.lock().is_handshaking(),
        }
    }

    /// Whether security is set up but HTTP is being served: the transport
    /// then drives [`Session::serve_http`].
    pub fn serving_http(&self) -> bool {
        !self.handshaking() && self.is_http()
    }

    /// Serves the HTTP requests received, appending the responses, sealed,
    /// to `buf`; see [`Served`] for what the transport does next.
    pub fn serve_http(
        &self,
        settings: &Settings,
        now: std::time::Instant,
        buf: &mut Vec<u8>,
    ) -> io::Result<Served> {
        let Some(web) = &self.web else {
            return Ok(Served::Read);
        };
        let from = buf.len();
        let served = web.lock().serve(settings, now, buf);
        self.seal_security(buf, from)?;
        Ok(served)
    }

    /// Hands the router's answer to the HTTP request it was asked about,
    /// appending the response, sealed, to `buf`; serve again after.
    pub fn answer_http(
        &self,
        answer: Answer,
        stats: &StatsSnapshot,
        buf: &mut Vec<u8>,
    ) -> io::Result<()> {
        if let Some(web) = &self.web {
            let from = buf.len();
            web.lock().answer(answer, stats, buf);
            self.seal_security(buf, from)?;
        }
        Ok(())
    }

    /// By when an HTTP client must have sent its (next) request.
    pub fn http_deadline(&self) -> Option<std::time::Instant> {
        self.web.as_ref().and_then(|web| web.lock().deadline())
    }

    /// The HTTP deadline passed: appends a sealed 408 if a request was
    /// arriving; the transport then closes.
    pub fn http_timed_out(&self, buf: &mut Vec<u8>) -> io::Result<()> {
        if let Some(web) = &self.web {
            let from = buf.len();
            web.lock().timed_out(buf);
            self.seal_security(buf, from)?;
        }
        Ok(())
    }

    /// Whether a layer has bytes of its own to send now (a WebSocket
    /// pong), which the transport's next seal will add.
    pub fn wants_write(&self) -> bool {
        self.web
            .as_ref()
            .is_some_and(|web| web.lock().wants_write())
    }

    /// Seals `buf` from `from` with the security layer only: HTTP
    /// responses, which the web layer must not frame.
    fn seal_security(&self, buf: &mut Vec<u8>, from: usize) -> io::Result<()> {
        Sealer {
            tls: match &self.security {
                Security::Plain => None,
                Security::Tls(tls) => Some(tls.lock()),
            },
            web: None,
        }
        .seal(buf, from)
    }

    /// What the layer knows about the peer; complete once setup is over.
    pub fn link(&self) -> Link {
        let websocket = self.web.as_ref().is_some_and(|web| !web.lock().is_http());
        match &self.security {
            Security::Plain => Link {
                websocket,
                ..Link::default()
            },
            Security::Tls(tls) => Link {
                tls: true,
                certfp: tls
                    .lock()
                    .peer_certificates()
                    .and_then(<[_]>::first)
                    .map(|cert| super::tls::fingerprint(cert).into()),
                websocket,
            },
        }
    }

    /// Takes bytes read from the socket and hands `deliver` what they carry
    /// for the intake, in order. An error means the peer broke the layer's
    /// rules; the connection should end, after one more [`Session::seal`]
    /// for the layer's last words (a TLS alert), if the transport can.
    pub fn receive(&self, bytes: &[u8], mut deliver: impl FnMut(&[u8])) -> io::Result<Received> {
        let Some(web) = &self.web else {
            return self.receive_secure(bytes, deliver);
        };
        let mut open = true;
        let received = self.receive_secure(bytes, |plain| {
            open &= web.lock().receive(plain, &mut deliver);
        })?;
        Ok(if open { received } else { Received::Closed })
    }

    /// The security layer's part of [`Session::receive`].
    fn receive_secure(&self, bytes: &[u8], mut deliver: impl FnMut(&[u8])) -> io::Result<Received> {
        match &self.security {
            Security::Plain => {
                deliver(bytes);
                Ok(Received::Open)
            }
            Security::Tls(tls) => receive_tls(tls, bytes, &mut deliver),
        }
    }

    /// Holds the session for [`Sealer::seal`], waiting if another thread is
    /// using it (for as long as a rustls call takes).
    pub fn sealer(&self) -> Sealer<'_> {
        let tls = match &self.security {
            Security::Plain => None,
            Security::Tls(tls) => Some(tls.lock()),
        };
        Sealer {
            tls,
            web: self.web.as_ref().map(|web| web.lock()),
        }
    }

    /// Like [`Session::sealer`], but `None` rather than waiting if another
    /// thread is using the session: for the threaded router, which must
    /// not wait for a connection's reader.
    pub fn try_sealer(&self) -> Option<Sealer<'_>> {
        let tls = match &self.security {
            Security::Plain => None,
            Security::Tls(tls) => Some(tls.try_lock()?),
        };
        let web = match &self.web {
            None => None,
            Some(web) => Some(web.try_lock()?),
        };
        Some(Sealer { tls, web })
    }

    /// [`Sealer::seal`], waiting for the session if it must.
    pub fn seal(&self, buf: &mut Vec<u8>, from: usize) -> io::Result<()> {
        self.sealer().seal(buf, from)
    }

    /// Appends the layer's goodbye (a TLS close_notify) to `buf`, for the
    /// last write of a connection that was set up.
    pub fn close(&self, buf: &mut Vec<u8>) -> io::Result<()> {
        let mut sealer = self.sealer();
        if let Some(web) = &mut sealer.web {
            let from = buf.len();
            web.close(buf);
            sealer.tls_seal(buf, from)?;
        }
        if let Some(tls) = &mut sealer.tls {
            if tls.is_handshaking() {
                return Ok(());
            }
            tls.send_close_notify();
            drain(tls, buf)?;
        }
        Ok(())
    }
}

impl Sealer<'_> {
    /// Turns what was encoded into `buf` from `from` on into the bytes for
    /// the socket, in place, after whatever the layer itself must send
    /// first (handshake messages, an alert, a key update). With nothing
    /// from `from`, `buf` gains just the layer's own bytes, if any. A plain
    /// session leaves `buf` as it is.
    pub fn seal(&mut self, buf: &mut Vec<u8>, from: usize) -> io::Result<()> {
        if let Some(web) = &mut self.web {
            web.seal(buf, from);
        }
        self.tls_seal(buf, from)
    }

    /// The security layer's part of [`Sealer::seal`].
    fn tls_seal(&mut self, buf: &mut Vec<u8>, from: usize) -> io::Result<()> {
        let Some(tls) = &mut self.tls else {
            return Ok(());
        };
        // Before the handshake ends rustls keeps the plaintext, and seals
        // it once it can; after, it encrypts it here.
        if buf.len() > from {
            io::Write::write_all(&mut tls.writer(), &buf[from..])?;
            buf.truncate(from);
        }
        drain(tls, buf)
    }
}

/// The TLS part of [`Session::receive`]. Never inlined: its frame would
/// sit under every line a plain connection's threaded reader decodes, and
/// a thread keeps each stack page it touches (BENCHMARKS.md, "Threaded
/// idle memory went up with TLS and the web").
#[inline(never)]
fn receive_tls(
    tls: &Mutex<ServerConnection>,
    bytes: &[u8],
    deliver: &mut dyn FnMut(&[u8]),
) -> io::Result<Received> {
    let mut tls = tls.lock();
    let mut rest = bytes;
    while !rest.is_empty() {
        // Takes what fits in rustls' buffer; the loop hands on the rest.
        if tls.read_tls(&mut rest)? == 0 {
            return Err(io::ErrorKind::InvalidData.into());
        }
        let state = tls.process_new_packets().map_err(io::Error::other)?;
        let mut plain = tls.reader();
        loop {
            match plain.fill_buf() {
                Ok([]) => return Ok(Received::Closed),
                Ok(chunk) => {
                    let length = chunk.len();
                    deliver(chunk);
                    plain.consume(length);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) => return Err(error),
            }
        }
        if state.peer_has_closed() {
            return Ok(Received::Closed);
        }
    }
    Ok(Received::Open)
}

/// Appends every TLS record rustls has for the peer to `buf`.
fn drain(tls: &mut ServerConnection, buf: &mut Vec<u8>) -> io::Result<()> {
    while tls.wants_write() {
        tls.write_tls(buf)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use rustls::ClientConnection;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    use super::*;
    use crate::transport::tls::{Tls, client_trusting_anyone, fingerprint, self_signed};

    /// A server session from a fresh self-signed certificate.
    fn server() -> Session {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed(vec!["localhost".into()]).unwrap();
        let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert_path, cert).unwrap();
        std::fs::write(&key_path, key).unwrap();
        Tls::load(&cert_path, &key_path).unwrap().session().unwrap()
    }

    /// A client, with a certificate of its own if `identity`; and that
    /// certificate's fingerprint.
    fn client(identity: bool) -> (ClientConnection, Option<String>) {
        let identity = identity.then(|| {
            let (cert, key) = self_signed(vec!["client".into()]).unwrap();
            let chain = vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()];
            (
                chain,
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
        });
        let certfp = identity.as_ref().map(|(chain, _)| fingerprint(&chain[0]));
        let config = Arc::new(client_trusting_anyone(identity).unwrap());
        let name = "localhost".try_into().unwrap();
        (ClientConnection::new(config, name).unwrap(), certfp)
    }

    /// Runs the handshake in memory: the client's bytes through
    /// `receive`, the server's (from `seal`) back to the client.
    fn handshake(server: &Session, client: &mut ClientConnection) {
        while server.setting_up() || client.is_handshaking() {
            let mut to_server = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut to_server).unwrap();
            }
            let received = server.receive(&to_server, |_| panic!("no lines yet"));
            assert_eq!(received.unwrap(), Received::Open);
            let mut to_client = Vec::new();
            server.seal(&mut to_client, 0).unwrap();
            client.read_tls(&mut &to_client[..]).unwrap();
            client.process_new_packets().unwrap();
        }
    }

    #[test]
    fn plain_sessions_pass_bytes_through() {
        let session = Session::plain();
        assert!(!session.setting_up());
        let mut delivered = Vec::new();
        let received = session.receive(b"NICK a\r\n", |bytes| delivered.extend_from_slice(bytes));
        assert_eq!(received.unwrap(), Received::Open);
        assert_eq!(delivered, b"NICK a\r\n");
        let mut buf = b"already there".to_vec();
        session.seal(&mut buf, 7).unwrap();
        session.close(&mut buf).unwrap();
        assert_eq!(buf, b"already there");
        assert_eq!(session.link(), Link::default());
    }

    #[test]
    fn tls_sessions_decrypt_what_comes_and_seal_what_goes() {
        let server = server();
        let (mut client, _) = client(false);
        assert!(server.setting_up());
        handshake(&server, &mut client);
        assert_eq!(
            server.link(),
            Link {
                tls: true,
                ..Link::default()
            }
        );
        client.writer().write_all(b"PING :x\r\n").unwrap();
        let mut wire = Vec::new();
        client.write_tls(&mut wire).unwrap();
        let mut delivered = Vec::new();
        let received = server.receive(&wire, |bytes| delivered.extend_from_slice(bytes));
        assert_eq!(received.unwrap(), Received::Open);
        assert_eq!(delivered, b"PING :x\r\n");
        // Sealed in place after what is already there, untouched.
        let mut buf = b"before".to_vec();
        buf.extend_from_slice(b"PONG :x\r\n");
        server.seal(&mut buf, 6).unwrap();
        assert_eq!(&buf[..6], b"before");
        assert!(!buf.windows(4).any(|window| window == b"PONG"), "encrypted");
        client.read_tls(&mut &buf[6..]).unwrap();
        client.process_new_packets().unwrap();
        let mut text = [0; 9];
        client.reader().read_exact(&mut text).unwrap();
        assert_eq!(&text, b"PONG :x\r\n");
        // The client says goodbye.
        client.send_close_notify();
        let mut wire = Vec::new();
        client.write_tls(&mut wire).unwrap();
        assert_eq!(server.receive(&wire, |_| {}).unwrap(), Received::Closed);
    }

    #[test]
    fn a_client_certificate_is_known_by_its_fingerprint() {
        let server = server();
        let (mut client, certfp) = client(true);
        handshake(&server, &mut client);
        assert_eq!(server.link().certfp.as_deref(), certfp.as_deref());
    }

    #[test]
    fn plain_text_to_a_tls_session_is_an_error_with_an_alert() {
        let server = server();
        let received = server.receive(b"NICK eve\r\nUSER eve 0 * :Eve\r\n", |_| {
            panic!("nothing gets through")
        });
        assert!(received.is_err());
        let mut alert = Vec::new();
        server.seal(&mut alert, 0).unwrap();
        assert_eq!(alert.first(), Some(&0x15), "a TLS alert record");
    }
}
