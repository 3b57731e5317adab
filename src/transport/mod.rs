//! Moving bytes between sockets and the router.
//!
//! Transports own the sockets; codecs, framing, limits and the router are
//! shared. This module holds what every transport needs: socket settings,
//! the connection count behind `--max-clients`, and flood control.

pub mod evented;
mod intake;
pub mod session;
pub mod threaded;
pub mod tls;

pub use intake::{Intake, Next, TokenBucket};
pub use session::{Received, Session};

use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use parking_lot::{Condvar, Mutex};
use socket2::{Domain, SockRef, Socket, TcpKeepalive, Type};

use crate::client::{self, ClientId, Inbox, Nudge, Outbox};
use crate::config::{Config, Scheme};
use crate::protocol::{Caps, Codec, Event};
use crate::stats::Stats;
use crate::web::http::{Response, Status};
use crate::web::layer::Layer;
use tls::Tls;

/// What every transport needs to take on connections.
#[derive(Clone, Debug)]
pub struct Context {
    pub config: Arc<Config>,
    pub live: Arc<Live>,
    pub next_id: Arc<AtomicU64>,
    pub stats: Arc<Stats>,
    /// For TLS listeners; `Server::start` refuses them without it.
    pub tls: Option<Arc<Tls>>,
}

/// A connection the server took on.
#[derive(Debug)]
pub struct Admitted {
    pub id: ClientId,
    /// Its place under `--max-clients`, held until the connection is gone.
    pub slot: Slot,
    /// For the router (in `Input::Connected`).
    pub outbox: Outbox,
    /// For whoever writes to the socket.
    pub inbox: Inbox,
    pub codec: Codec,
    /// The connection layer between the socket and the intake and codec.
    pub session: Session,
}

impl Context {
    /// A fresh client id.
    pub fn next_id(&self) -> ClientId {
        ClientId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Takes on a connection accepted on a `scheme` listener as client
    /// `id`: a place under `--max-clients`, socket options, its session
    /// and an outbox (which nudges `nudge` when given, and is taken from
    /// through the router when the writer runs on the router's thread,
    /// `same_thread`).
    /// A connection over the limit is told why (unless it expects TLS) and
    /// `None` is returned; the caller drops it.
    pub fn admit<S>(
        &self,
        stream: S,
        id: ClientId,
        scheme: Scheme,
        peer: SocketAddr,
        nudge: Option<Arc<dyn Nudge>>,
        same_thread: bool,
    ) -> Option<Admitted>
    where
        S: Write + AsFd,
    {
        let config = &self.config;
        self.stats.accepted.fetch_add(1, Ordering::Relaxed);
        let codec = Codec {
            protocol: scheme.protocol(),
            server: config.server_name.as_str().into(),
        };
        let Some(slot) = self.live.try_acquire(config.max_clients) else {
            self.stats.rejected.fetch_add(1, Ordering::Relaxed);
            log::warn!("turned away {peer}: server full");
            if !scheme.tls() {
                reject(stream, scheme, &codec, config.max_clients);
            }
            return None;
        };
        if let Err(error) = configure_socket(&stream, config) {
            log::debug!("dropping {peer}: {error}");
            return None;
        }
        let session = match (scheme.tls(), &self.tls) {
            (false, _) => Session::plain(),
            (true, Some(tls)) => match tls.session() {
                Ok(session) => session,
                Err(error) => {
                    log::warn!("dropping {peer}: {error}");
                    return None;
                }
            },
            (true, None) => {
                log::error!("dropping {peer}: no certificate for {scheme}://");
                return None;
            }
        };
        let session = if scheme.web() {
            session.with_web(Layer::http(peer.ip(), config.web.limits, Instant::now()))
        } else {
            session
        };
        let (outbox, inbox) = client::outbox(
            config.sendq,
            config.sendq_bytes,
            Arc::clone(&self.stats),
            nudge,
            same_thread.then_some(id),
        );
        Some(Admitted {
            id,
            slot,
            outbox,
            inbox,
            codec,
            session,
        })
    }
}

/// Appends what a writer owes its client after the queued events: how many
/// messages were dropped since it was last told, and, once the router has
/// let go (`farewell`), the reason.
pub fn append_notices(inbox: &Inbox, codec: &Codec, farewell: bool, out: &mut Vec<u8>) {
    let missed = inbox.mailbox.take_missed();
    if missed > 0 {
        codec.encode(Event::Missed(missed), Caps::default(), out);
    }
    if farewell && let Some(reason) = inbox.mailbox.farewell() {
        codec.encode(Event::Closing(reason.clone()), Caps::default(), out);
    }
}

/// Held by a thread every client depends on (the router thread, the event
/// loop): if the thread ends by panicking, dropping the watch says so on its
/// channel, so the process does not live on serving nobody
/// ([`crate::Server::failed`]).
#[derive(Debug)]
pub struct PanicWatch {
    pub thread: &'static str,
    pub failed: Sender<String>,
}

impl Drop for PanicWatch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self.failed.send(format!("the {} panicked", self.thread));
        }
    }
}

/// How many connections may wait to be accepted. The standard library's 128
/// overflows when thousands of clients connect at once, and each dropped SYN
/// costs its client a second.
const BACKLOG: i32 = 4096;

/// A listening socket with a deep backlog, reusable right after a restart.
pub fn bind(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Tells a client over `--max-clients` why it is being closed. A fresh
/// socket's send buffer is empty, so the short line goes out at once even on
/// a non-blocking socket. HTTP clients get a 503.
fn reject(mut stream: impl Write, scheme: Scheme, codec: &Codec, max: usize) {
    let mut farewell = Vec::new();
    let reason = format!("server full ({max} clients), try again later");
    if scheme.web() {
        Response::text(Status::SERVICE_UNAVAILABLE, format!("{reason}\n"))
            .closing()
            .with_header("Retry-After", "10")
            .write_to(false, &mut farewell);
    } else {
        codec.encode(
            Event::Closing(reason.into()),
            Caps::default(),
            &mut farewell,
        );
    }
    let _ = stream.write_all(&farewell);
}

/// Sets what every client socket needs: no Nagle delay for small chat lines,
/// and keepalive probes to find dead peers that never send a FIN or RST.
pub fn configure_socket(stream: &impl AsFd, config: &Config) -> io::Result<()> {
    let socket = SockRef::from(stream);
    socket.set_tcp_nodelay(true)?;
    let probe = (config.keepalive / 6).max(Duration::from_secs(1));
    let keepalive = TcpKeepalive::new()
        .with_time(config.keepalive)
        .with_interval(probe)
        .with_retries(3);
    socket.set_tcp_keepalive(&keepalive)
}

/// Words for why a connection ended, as the other users will read it.
pub fn describe(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
            "connection reset".into()
        }
        io::ErrorKind::BrokenPipe => "connection closed".into(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "connection timed out".into(),
        _ => format!("connection error: {error}"),
    }
}

/// Counts live connections against `--max-clients`, and lets shutdown wait
/// until the last one is gone.
#[derive(Debug, Default)]
pub struct Live {
    count: Mutex<usize>,
    emptied: Condvar,
}

/// One connection's place in [`Live`], given back when dropped. Every thread
/// serving the connection holds it through an `Arc`, so the place is freed
/// when the last of them ends.
#[derive(Debug)]
pub struct Slot(Arc<Live>);

impl Live {
    /// Takes a place if fewer than `max` are taken.
    pub fn try_acquire(self: &Arc<Self>, max: usize) -> Option<Slot> {
        let mut count = self.count.lock();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot(Arc::clone(self)))
    }

    /// How many connections are live.
    pub fn count(&self) -> usize {
        *self.count.lock()
    }

    /// Waits until no connection is live or the deadline passes; true if none is.
    pub fn wait_empty(&self, deadline: Instant) -> bool {
        let mut count = self.count.lock();
        while *count > 0 {
            if self.emptied.wait_until(&mut count, deadline).timed_out() {
                return *count == 0;
            }
        }
        true
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut count = self.0.count.lock();
        *count -= 1;
        if *count == 0 {
            self.0.emptied.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watched_thread_that_panics_says_so_and_one_that_ends_does_not() {
        let (failed, reasons) = crossbeam_channel::bounded(1);
        let watch = PanicWatch {
            thread: "test thread",
            failed: failed.clone(),
        };
        let panicked = std::thread::spawn(move || {
            let _watch = watch;
            panic!("on purpose");
        });
        assert!(panicked.join().is_err());
        assert_eq!(
            reasons.try_recv().as_deref(),
            Ok("the test thread panicked")
        );
        let watch = PanicWatch {
            thread: "test thread",
            failed,
        };
        std::thread::spawn(move || drop(watch)).join().unwrap();
        assert!(reasons.recv().is_err(), "nothing sent, every sender gone");
    }

    #[test]
    fn live_counts_slots_up_to_the_limit() {
        let live = Arc::new(Live::default());
        let a = live.try_acquire(2).unwrap();
        let b = live.try_acquire(2).unwrap();
        assert!(live.try_acquire(2).is_none());
        drop(a);
        assert_eq!(live.count(), 1);
        assert!(!live.wait_empty(Instant::now()));
        drop(b);
        assert!(live.wait_empty(Instant::now() + Duration::from_secs(1)));
    }

    #[test]
    fn client_sockets_get_nodelay_and_keepalive() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server_side, _) = listener.accept().unwrap();
        assert!(!server_side.nodelay().unwrap());
        configure_socket(&server_side, &Config::default()).unwrap();
        assert!(server_side.nodelay().unwrap());
        assert!(SockRef::from(&server_side).keepalive().unwrap());
    }
}
