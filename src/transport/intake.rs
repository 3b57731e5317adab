//! What a connection has read but the router has not yet been given:
//! framing, decoding and flood control, the same for every transport.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::limits::{WAITING_BYTES, WAITING_OVERHEAD};
use crate::protocol::framing::{Frame, LineFramer};
use crate::protocol::telnet::{Piece, TelnetFilter};
use crate::protocol::{Error, Protocol, Request};

/// Flood control: a token bucket that holds up to `burst` tokens and refills
/// at `rate` tokens per second. A line costs one token, or more when it asks
/// more of others ([`Request::cost`]).
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

    /// Spends `cost` tokens (at most a full bucket) if there are as many;
    /// otherwise says how long until there are.
    pub fn try_take(&mut self, now: Instant, cost: u32) -> Result<(), Duration> {
        if self.rate == 0.0 {
            return Ok(());
        }
        let cost = f64::from(cost).min(self.burst);
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.updated = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= cost {
            self.tokens -= cost;
            Ok(())
        } else {
            // `rate` is validated to be at least `MIN_RATE`, so this is at
            // most a few minutes for a sane burst; capped all the same, as
            // callers add it to an `Instant`. Never zero, so a caller's
            // timer always advances.
            let wait = Duration::try_from_secs_f64((cost - self.tokens) / self.rate)
                .unwrap_or(MAX_WAIT)
                .min(MAX_WAIT);
            Err(wait.max(Duration::from_millis(1)))
        }
    }
}

/// The longest flood control ever makes a line wait.
const MAX_WAIT: Duration = Duration::from_secs(3600);

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
    /// Requests waiting for a token, each with its weight (see `Intake::wait`).
    pending: VecDeque<(Request, usize)>,
    /// The weights of `pending` added up: what flood control bounds.
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
                Piece::TimingMark => self.wait(Request::TimingMark, 0),
            }
        }
    }

    /// Decodes the complete lines the framer holds.
    fn decode_lines(&mut self) {
        while let Some(frame) = self.framer.next_frame() {
            let (request, length) = match frame {
                Frame::Line(line) => match self.protocol.decode(line) {
                    Some(request) => (request, line.len()),
                    None => continue,
                },
                Frame::TooLong => (Request::Invalid(Error::LineTooLong(self.max_line)), 0),
            };
            // Empty lines in a row, not yet handed on, get one answer: each
            // would cost a request's memory and say the same thing.
            let empty = |request: &Request| matches!(request, Request::Invalid(Error::EmptyLine));
            if empty(&request) && self.pending.back().is_some_and(|(last, _)| empty(last)) {
                continue;
            }
            self.wait(request, length);
        }
    }

    /// Queues a request for flood control, weighed as the memory it holds:
    /// [`WAITING_OVERHEAD`] plus its line's `length`.
    fn wait(&mut self, request: Request, length: usize) {
        let weight = WAITING_OVERHEAD + length;
        self.pending.push_back((request, weight));
        self.pending_bytes += weight;
    }

    /// How many requests wait for flood control.
    pub fn waiting(&self) -> usize {
        self.pending.len()
    }

    /// Whether more is waiting for flood control than a client may have
    /// waiting ([`WAITING_BYTES`]); ask after taking what [`Intake::next`]
    /// lets through. Never without flood control, where nothing waits
    /// longer than the read that brought it.
    pub fn flooded(&self) -> bool {
        self.bucket.rate > 0.0 && self.pending_bytes > WAITING_BYTES
    }

    /// The next request that flood control lets through at `now`.
    pub fn next(&mut self, now: Instant) -> Next {
        if self.pending.is_empty() {
            return Next::Empty;
        }
        let cost = self
            .pending
            .front()
            .map_or(1, |(request, _)| request.cost());
        match self.bucket.try_take(now, cost) {
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
            assert_eq!(bucket.try_take(start, 1), Ok(()));
        }
        assert_eq!(bucket.try_take(start, 1), Err(Duration::from_millis(100)));
        let later = start + Duration::from_millis(100);
        assert_eq!(bucket.try_take(later, 1), Ok(()));
        assert!(bucket.try_take(later, 1).is_err());
        // A long pause refills no more than the burst.
        let much_later = later + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(bucket.try_take(much_later, 1), Ok(()));
        }
        assert!(bucket.try_take(much_later, 1).is_err());
    }

    #[test]
    fn rate_zero_never_waits() {
        let now = Instant::now();
        let mut bucket = TokenBucket::new(0.0, 0, now);
        for _ in 0..10_000 {
            assert_eq!(bucket.try_take(now, 1), Ok(()));
        }
    }

    fn intake(rate: f64, burst: u32) -> Intake {
        intake_for(Protocol::Line, rate, burst)
    }

    fn intake_for(protocol: Protocol, rate: f64, burst: u32) -> Intake {
        let config = Config {
            rate,
            burst,
            ..Config::default()
        };
        Intake::new(protocol, &config, Instant::now())
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
        assert!(pushed * (1000 + WAITING_OVERHEAD) >= WAITING_BYTES);
    }

    #[test]
    fn empty_lines_in_a_row_wait_as_one() {
        let mut intake = intake(1.0, 1);
        for _ in 0..64 {
            intake.push(&[b'\n'; 16 * 1024]);
        }
        intake.push(b"/help\n\n \n/help\n");
        let now = Instant::now();
        let empty = Next::Ready(Request::Invalid(Error::EmptyLine));
        assert_eq!(intake.next(now), empty);
        assert_eq!(intake.waiting(), 3, "help, one empty line, help");
        assert!(!intake.flooded());
    }

    #[test]
    fn waiting_lines_are_weighed_with_their_overhead() {
        // 65,000 lines of one letter are 130 KB on the wire but hold far
        // more as requests: well past the bound.
        let mut intake = intake(1.0, 5);
        intake.push(&b"A\n".repeat(65_000));
        assert!(intake.flooded());
        let mut intake = intake_for(Protocol::Irc, 1.0, 5);
        let overlong = [vec![b'x'; 20_000], b"\n".to_vec()].concat();
        for _ in 0..WAITING_BYTES / WAITING_OVERHEAD + 1 {
            intake.push(&overlong);
        }
        assert!(intake.flooded(), "overlong lines count too");
    }

    #[test]
    fn a_message_costs_a_token_per_distinct_target() {
        let mut intake = intake_for(Protocol::Irc, 1.0, 4);
        intake.push(b"PRIVMSG a,b,c,d :x\r\nPRIVMSG e,E,e :y\r\n");
        let now = Instant::now();
        assert!(matches!(
            intake.next(now),
            Next::Ready(Request::Message { .. })
        ));
        // The bucket is empty: the next line waits for one token, not three.
        assert_eq!(intake.next(now), Next::Wait(Duration::from_secs(1)));
        let Next::Ready(Request::Message { to, .. }) = intake.next(now + Duration::from_secs(1))
        else {
            panic!("one target, one token");
        };
        assert_eq!(to.len(), 1);
    }

    #[test]
    fn a_cost_over_the_burst_takes_a_full_bucket() {
        let now = Instant::now();
        let mut bucket = TokenBucket::new(1.0, 2, now);
        assert_eq!(bucket.try_take(now, 4), Ok(()));
        assert_eq!(bucket.try_take(now, 4), Err(Duration::from_secs(2)));
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
}
