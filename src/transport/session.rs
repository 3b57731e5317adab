//! The connection layer: what stands between a socket's bytes and the
//! [`Intake`](super::Intake) on the way in, and between encoded events and
//! the socket on the way out. It is sans-io: transports read and write the
//! socket and decide when; a [`Session`] only turns bytes into bytes.
//!
//! ```text
//!   socket ──bytes──► receive ─► [security: plain │ TLS] ─► deliver ─► Intake
//!   socket ◄─bytes─── seal ◄──── [security: plain │ TLS] ◄── encoded events
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
//! Further layers (WebSocket framing, one line per message) go between the
//! security layer and the intake, in `receive` and `seal`.
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

/// One connection's layers. Cloning gives another handle on the same
/// session.
#[derive(Clone, Debug, Default)]
pub struct Session {
    security: Security,
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
pub struct Sealer<'a>(Option<MutexGuard<'a, ServerConnection>>);

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
        }
    }

    /// Whether the connection is still being set up; until it is not, no
    /// request may reach the router and nothing may be sealed but the
    /// layer's own bytes.
    pub fn setting_up(&self) -> bool {
        match &self.security {
            Security::Plain => false,
            Security::Tls(tls) => tls.lock().is_handshaking(),
        }
    }

    /// What the layer knows about the peer; complete once setup is over.
    pub fn link(&self) -> Link {
        match &self.security {
            Security::Plain => Link::default(),
            Security::Tls(tls) => Link {
                tls: true,
                certfp: tls
                    .lock()
                    .peer_certificates()
                    .and_then(<[_]>::first)
                    .map(|cert| super::tls::fingerprint(cert).into()),
            },
        }
    }

    /// Takes bytes read from the socket and hands `deliver` what they carry
    /// for the intake, in order. An error means the peer broke the layer's
    /// rules; the connection should end, after one more [`Session::seal`]
    /// for the layer's last words (a TLS alert), if the transport can.
    pub fn receive(&self, bytes: &[u8], mut deliver: impl FnMut(&[u8])) -> io::Result<Received> {
        let Security::Tls(tls) = &self.security else {
            deliver(bytes);
            return Ok(Received::Open);
        };
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

    /// Holds the session for [`Sealer::seal`], waiting if another thread is
    /// using it (for as long as a rustls call takes).
    pub fn sealer(&self) -> Sealer<'_> {
        match &self.security {
            Security::Plain => Sealer(None),
            Security::Tls(tls) => Sealer(Some(tls.lock())),
        }
    }

    /// Like [`Session::sealer`], but `None` rather than waiting if another
    /// thread is using the session: for the threaded router, which must
    /// not wait for a connection's reader.
    pub fn try_sealer(&self) -> Option<Sealer<'_>> {
        match &self.security {
            Security::Plain => Some(Sealer(None)),
            Security::Tls(tls) => tls.try_lock().map(|tls| Sealer(Some(tls))),
        }
    }

    /// [`Sealer::seal`], waiting for the session if it must.
    pub fn seal(&self, buf: &mut Vec<u8>, from: usize) -> io::Result<()> {
        self.sealer().seal(buf, from)
    }

    /// Appends the layer's goodbye (a TLS close_notify) to `buf`, for the
    /// last write of a connection that was set up.
    pub fn close(&self, buf: &mut Vec<u8>) -> io::Result<()> {
        if let Security::Tls(tls) = &self.security {
            let mut tls = tls.lock();
            if tls.is_handshaking() {
                return Ok(());
            }
            tls.send_close_notify();
            drain(&mut tls, buf)?;
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
        let Some(tls) = &mut self.0 else {
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

/// Appends every TLS record rustls has for the peer to `buf`.
fn drain(tls: &mut ServerConnection, buf: &mut Vec<u8>) -> io::Result<()> {
    while tls.wants_write() {
        tls.write_tls(buf)?;
    }
    Ok(())
}
