//! Moving bytes between sockets and the router.
//!
//! Transports own the sockets; codecs, framing, limits and the router are
//! shared. This module holds what every transport needs: socket settings,
//! the connection count behind `--max-clients`, and flood control.

pub mod evented;
pub mod threaded;

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use socket2::{Domain, SockRef, Socket, TcpKeepalive, Type};

use crate::client::{self, ClientId, Inbox, Nudge, Outbox};
use crate::config::Config;
use crate::protocol::framing::{Frame, LineFramer};
use crate::protocol::telnet::{Piece, TelnetFilter};
use crate::protocol::{Caps, Codec, Error, Event, Protocol, Request};
use crate::stats::Stats;

/// What every transport needs to take on connections.
#[derive(Clone, Debug)]
pub struct Context {
    pub config: Arc<Config>,
    pub live: Arc<Live>,
    pub next_id: Arc<AtomicU64>,
    pub stats: Arc<Stats>,
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
}

impl Context {
    /// A fresh client id.
    pub fn next_id(&self) -> ClientId {
        ClientId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Takes on an accepted connection as client `id`: a place under
    /// `--max-clients`, socket options and an outbox (which nudges `nudge`
    /// when given). A connection over the limit is told why and `None` is
    /// returned; the caller drops it.
    pub fn admit<S>(
        &self,
        stream: S,
        id: ClientId,
        protocol: Protocol,
        peer: SocketAddr,
        nudge: Option<Arc<dyn Nudge>>,
    ) -> Option<Admitted>
    where
        S: Write + AsFd,
    {
        let config = &self.config;
        self.stats.accepted.fetch_add(1, Ordering::Relaxed);
        let codec = Codec {
            protocol,
            server: config.server_name.as_str().into(),
        };
        let Some(slot) = self.live.try_acquire(config.max_clients) else {
            self.stats.rejected.fetch_add(1, Ordering::Relaxed);
            log::warn!("turned away {peer}: server full");
            reject(stream, &codec, config.max_clients);
            return None;
        };
        if let Err(error) = configure_socket(&stream, config) {
            log::debug!("dropping {peer}: {error}");
            return None;
        }
        let (outbox, inbox) = client::outbox(
            config.sendq,
            config.sendq_bytes,
            Arc::clone(&self.stats),
            nudge,
        );
        Some(Admitted {
            id,
            slot,
            outbox,
            inbox,
            codec,
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
/// a non-blocking socket.
fn reject(mut stream: impl Write, codec: &Codec, max: usize) {
    let mut farewell = Vec::new();
    let reason = format!("server full ({max} clients), try again later");
    codec.encode(
        Event::Closing(reason.into()),
        Caps::default(),
        &mut farewell,
    );
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

/// Flood control: a token bucket that holds up to `burst` lines and refills
/// at `rate` lines per second.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket; `rate` 0 means no limit.
    pub fn new(rate: f64, burst: u32, now: Instant) -> TokenBucket {
        TokenBucket {
            rate,
            burst: f64::from(burst),
            tokens: f64::from(burst),
            updated: now,
        }
    }

    /// Spends a token if there is one; otherwise says how long until there is.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        if self.rate == 0.0 {
            return Ok(());
        }
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.updated = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            // `rate` is validated to be at least `MIN_RATE`, so this is at
            // most a few minutes; never zero, so a caller's timer always advances.
            let wait = Duration::from_secs_f64((1.0 - self.tokens) / self.rate);
            Err(wait.max(Duration::from_millis(1)))
        }
    }
}

/// Most bytes of complete lines a client may have waiting for flood control
/// before it is disconnected for flooding.
pub const FLOOD_BYTES: usize = 64 * 1024;

/// What a connection has read but the router has not yet been given:
/// framing, decoding and flood control, the same for every transport.
///
/// Lines over the client's allowance wait here, decoded, until the token
/// bucket lets them through; reading goes on meanwhile, so a client that
/// closes is noticed at once and a flood far over the limit is cut off.
#[derive(Debug)]
pub struct Intake {
    protocol: Protocol,
    max_line: usize,
    framer: LineFramer,
    /// Line protocol only: telnet commands are taken out before framing.
    telnet: Option<TelnetFilter>,
    bucket: TokenBucket,
    /// Requests waiting for a token, with the size of the line each came from.
    pending: VecDeque<(Request, usize)>,
    pending_bytes: usize,
}

/// What [`Intake::next`] has for the router.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A request to pass on now.
    Ready(Request),
    /// Requests are waiting; the next may go after this long.
    Wait(Duration),
    /// Nothing is waiting.
    Empty,
}

impl Intake {
    pub fn new(protocol: Protocol, config: &Config, now: Instant) -> Intake {
        let max_line = protocol.max_line(config.max_line);
        Intake {
            protocol,
            max_line,
            framer: LineFramer::new(max_line),
            telnet: (protocol == Protocol::Line).then(TelnetFilter::default),
            bucket: TokenBucket::new(config.rate, config.burst, now),
            pending: VecDeque::new(),
            pending_bytes: 0,
        }
    }

    /// Takes bytes read from the peer and decodes the lines they complete.
    pub fn push(&mut self, bytes: &[u8]) {
        let Some(telnet) = &mut self.telnet else {
            self.framer.push(bytes);
            self.decode_lines();
            return;
        };
        let mut pieces = Vec::new();
        telnet.filter(bytes, |piece| pieces.push(piece));
        for piece in pieces {
            match piece {
                Piece::Text(text) => {
                    self.framer.push(text);
                    self.decode_lines();
                }
                Piece::Interrupt => self.framer.discard_partial(),
                Piece::TimingMark => self.pending.push_back((Request::TimingMark, 0)),
            }
        }
    }

    /// Decodes the complete lines the framer holds.
    fn decode_lines(&mut self) {
        while let Some(frame) = self.framer.next_frame() {
            let (request, size) = match frame {
                Frame::Line(line) => match self.protocol.decode(line) {
                    Some(request) => (request, line.len()),
                    None => continue,
                },
                Frame::TooLong => (Request::Invalid(Error::LineTooLong(self.max_line)), 0),
            };
            self.pending.push_back((request, size));
            self.pending_bytes += size;
        }
    }

    /// How many requests wait for flood control.
    pub fn waiting(&self) -> usize {
        self.pending.len()
    }

    /// Whether more is waiting for flood control than a client may have
    /// waiting; ask after taking what [`Intake::next`] lets through.
    pub fn flooded(&self) -> bool {
        self.pending_bytes > FLOOD_BYTES
    }

    /// The next request that flood control lets through at `now`.
    pub fn next(&mut self, now: Instant) -> Next {
        if self.pending.is_empty() {
            // Give the queue's memory back: most connections are idle
            // most of the time, and an idle one would keep a few hundred
            // bytes for nothing (BENCHMARKS.md, "Idle connections").
            if self.pending.capacity() > 0 {
                self.pending = VecDeque::new();
            }
            return Next::Empty;
        }
        match self.bucket.try_take(now) {
            Ok(()) => {
                let (request, size) = self.pending.pop_front().expect("not empty");
                self.pending_bytes -= size;
                Next::Ready(request)
            }
            Err(wait) => Next::Wait(wait),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_paces() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10.0, 3, start);
        for _ in 0..3 {
            assert_eq!(bucket.try_take(start), Ok(()));
        }
        assert_eq!(bucket.try_take(start), Err(Duration::from_millis(100)));
        let later = start + Duration::from_millis(100);
        assert_eq!(bucket.try_take(later), Ok(()));
        assert!(bucket.try_take(later).is_err());
        // A long pause refills no more than the burst.
        let much_later = later + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(bucket.try_take(much_later), Ok(()));
        }
        assert!(bucket.try_take(much_later).is_err());
    }

    #[test]
    fn rate_zero_never_waits() {
        let now = Instant::now();
        let mut bucket = TokenBucket::new(0.0, 0, now);
        for _ in 0..10_000 {
            assert_eq!(bucket.try_take(now), Ok(()));
        }
    }

    fn intake(rate: f64, burst: u32) -> Intake {
        let config = Config {
            rate,
            burst,
            ..Config::default()
        };
        Intake::new(Protocol::Line, &config, Instant::now())
    }

    #[test]
    fn intake_holds_lines_over_the_allowance() {
        let mut intake = intake(1.0, 2);
        intake.push(b"/help\n/help\n/help\n/ro");
        let now = Instant::now();
        assert_eq!(intake.next(now), Next::Ready(Request::Help));
        assert_eq!(intake.next(now), Next::Ready(Request::Help));
        assert!(matches!(intake.next(now), Next::Wait(wait) if wait > Duration::from_millis(900)));
        assert_eq!(
            intake.next(now + Duration::from_secs(1)),
            Next::Ready(Request::Help)
        );
        assert_eq!(intake.next(now + Duration::from_secs(1)), Next::Empty);
        intake.push(b"oms\n");
        assert!(matches!(
            intake.next(now + Duration::from_secs(1)),
            Next::Wait(_)
        ));
    }

    #[test]
    fn telnet_ctrl_c_drops_the_partial_line_and_asks_for_a_timing_mark() {
        let mut intake = intake(0.0, 0);
        intake.push(b"/he");
        intake.push(b"lp\n/quit half-typed\xff\xf4\xff");
        intake.push(b"\xfd\x06/rooms\n");
        let now = Instant::now();
        assert_eq!(intake.next(now), Next::Ready(Request::Help));
        assert_eq!(intake.next(now), Next::Ready(Request::TimingMark));
        assert_eq!(intake.next(now), Next::Ready(Request::List(vec![])));
        assert_eq!(intake.next(now), Next::Empty);
    }

    #[test]
    fn intake_cuts_off_a_flood_far_over_the_limit() {
        let mut intake = intake(1.0, 2);
        let line = [b"x".repeat(1000), b"\n".to_vec()].concat();
        let now = Instant::now();
        let mut pushed = 0;
        while !intake.flooded() {
            intake.push(&line);
            while let Next::Ready(_) = intake.next(now) {}
            pushed += 1;
            assert!(pushed < 1000, "never cut off");
        }
        assert!(pushed * 1000 >= FLOOD_BYTES);
    }

    #[test]
    fn without_flood_control_nothing_waits() {
        let mut intake = intake(0.0, 0);
        for _ in 0..1000 {
            intake.push(b"hello\n");
        }
        assert!(!intake.flooded());
        let now = Instant::now();
        for _ in 0..1000 {
            assert!(matches!(intake.next(now), Next::Ready(_)));
        }
        assert_eq!(intake.next(now), Next::Empty);
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
