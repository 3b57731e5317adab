//! Moving bytes between sockets and the router.
//!
//! Transports own the sockets; codecs, framing, limits and the router are
//! shared. This module holds what every transport needs: socket settings,
//! the connection count behind `--max-clients`, and flood control.

pub mod threaded;

use std::io;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use socket2::{SockRef, TcpKeepalive};

use crate::config::Config;

/// Sets what every client socket needs: no Nagle delay for small chat lines,
/// keepalive probes to find dead peers that never send a FIN or RST, and a
/// write timeout so a stalled peer cannot pin a writer forever.
pub fn configure_socket(stream: &TcpStream, config: &Config) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(config.write_timeout))?;
    let probe = (config.keepalive / 6).max(Duration::from_secs(1));
    let keepalive = TcpKeepalive::new()
        .with_time(config.keepalive)
        .with_interval(probe)
        .with_retries(3);
    SockRef::from(stream).set_tcp_keepalive(&keepalive)
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
/// at `rate` lines per second. An over-eager client is made to wait rather
/// than losing lines.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    /// May go negative: a debt the client pays off by waiting.
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

    /// Spends one line's token and says how long to wait before acting on the
    /// line (zero when the client is within its allowance).
    pub fn take(&mut self, now: Instant) -> Duration {
        if self.rate == 0.0 {
            return Duration::ZERO;
        }
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.updated = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst) - 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
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
            assert_eq!(bucket.take(start), Duration::ZERO);
        }
        assert_eq!(bucket.take(start), Duration::from_millis(100));
        assert_eq!(bucket.take(start), Duration::from_millis(200));
        // Waiting pays the debt back.
        let later = start + Duration::from_millis(200);
        assert_eq!(bucket.take(later), Duration::from_millis(100));
        // A long pause refills no more than the burst.
        let much_later = later + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(bucket.take(much_later), Duration::ZERO);
        }
        assert!(bucket.take(much_later) > Duration::ZERO);
    }

    #[test]
    fn rate_zero_never_waits() {
        let now = Instant::now();
        let mut bucket = TokenBucket::new(0.0, 0, now);
        for _ in 0..10_000 {
            assert_eq!(bucket.take(now), Duration::ZERO);
        }
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
    fn client_sockets_get_nodelay_keepalive_and_a_write_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server_side, _) = listener.accept().unwrap();
        let config = Config::default();
        assert!(!server_side.nodelay().unwrap());
        configure_socket(&server_side, &config).unwrap();
        assert!(server_side.nodelay().unwrap());
        assert!(SockRef::from(&server_side).keepalive().unwrap());
        assert_eq!(
            server_side.write_timeout().unwrap(),
            Some(config.write_timeout)
        );
    }
}
