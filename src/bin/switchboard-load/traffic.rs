//! `fanout` and `pingpong`: clients that talk, on one mio event loop.
//!
//! Every message carries its sender, a sequence number and the time it was
//! sent (microseconds since the run began, all clients share one clock), so
//! each receiver knows its latency and what was lost. The generator re-arms
//! TCP_QUICKACK after every read: a server that leaves Nagle on would
//! otherwise wait for our delayed ACK (~40 ms) on every burst, and we would
//! measure that instead of the server.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use argh::FromArgs;
use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use socket2::SockRef;
use switchboard::protocol::framing::{Frame, LineFramer};

use crate::{connect_from, require_loopback};

/// Rooms full of members while some of them talk: delivered messages per
/// second and latency.
#[derive(FromArgs)]
#[argh(subcommand, name = "fanout")]
pub struct Fanout {
    /// the server's address, on loopback (default 127.0.0.1:6667)
    #[argh(option, default = "SocketAddr::from(([127, 0, 0, 1], 6667))")]
    target: SocketAddr,

    /// speak the line protocol instead of IRC
    #[argh(switch)]
    line: bool,

    /// how many rooms (default 1)
    #[argh(option, default = "1")]
    rooms: usize,

    /// members per room (default 100)
    #[argh(option, default = "100")]
    members: usize,

    /// how many members talk, spread over the rooms (default 10)
    #[argh(option, default = "10")]
    senders: usize,

    /// messages per second in all; 0 is a closed loop, where each sender
    /// waits until its last message reached the whole room (default 0)
    #[argh(option, default = "0.0")]
    rate: f64,

    /// messages to send in all (default 10000)
    #[argh(option, default = "10000")]
    messages: u64,

    /// bytes of text per message (default 64)
    #[argh(option, default = "64")]
    size: usize,

    /// a name for the run in the JSON line (default "fanout")
    #[argh(option, default = "String::from(\"fanout\")")]
    label: String,
}

/// Pairs exchanging private messages: round trips per second and their time.
#[derive(FromArgs)]
#[argh(subcommand, name = "pingpong")]
pub struct Pingpong {
    /// the server's address, on loopback (default 127.0.0.1:6667)
    #[argh(option, default = "SocketAddr::from(([127, 0, 0, 1], 6667))")]
    target: SocketAddr,

    /// speak the line protocol instead of IRC
    #[argh(switch)]
    line: bool,

    /// how many pairs (default 10)
    #[argh(option, default = "10")]
    pairs: usize,

    /// seconds to run (default 5)
    #[argh(option, default = "5")]
    seconds: u64,

    /// a name for the run in the JSON line (default "pingpong")
    #[argh(option, default = "String::from(\"pingpong\")")]
    label: String,
}

/// How long to wait for the last deliveries after the last message is sent.
const DRAIN: Duration = Duration::from_secs(5);

/// Runs the fanout scenario.
pub fn fanout(args: &Fanout) -> io::Result<()> {
    require_loopback(args.target)?;
    if args.members < 2 || args.senders == 0 || args.senders > args.rooms * args.members {
        return Err(io::Error::other(
            "need 2+ members per room and 1 to rooms x members senders",
        ));
    }
    let clients = args.rooms * args.members;
    let mut engine = Engine::connect(args.target, clients, args.line)?;
    let room_of = |client: usize| client / args.members;
    let rooms: Vec<String> = (0..args.rooms).map(|room| format!("#load{room}")).collect();
    engine.join(|client| Some(rooms[room_of(client)].clone()))?;
    // Sender k is member k / rooms of room k % rooms.
    let senders: Vec<usize> = (0..args.senders)
        .map(|k| (k % args.rooms) * args.members + k / args.rooms)
        .collect();
    let mut histogram = new_histogram();
    let expected_each = (args.members - 1) as u64;
    // Per sender: the sequence number in flight and how many got it.
    let mut in_flight: Vec<Option<(u64, u64)>> = vec![None; senders.len()];
    let mut sent = 0u64;
    let mut delivered = 0u64;
    let start = Instant::now();
    let mut last_send = start;
    let mut progress = start;
    let mut next_sender = 0;
    loop {
        let now = Instant::now();
        // Send what is due: in a closed loop, for every idle sender; at a
        // rate, as many as the schedule says by now.
        while sent < args.messages {
            let k = if args.rate > 0.0 {
                let due = (now.duration_since(start).as_secs_f64() * args.rate) as u64;
                if sent >= due {
                    break;
                }
                let k = next_sender;
                next_sender = (next_sender + 1) % senders.len();
                k
            } else {
                match in_flight.iter().position(Option::is_none) {
                    Some(k) => k,
                    None => break,
                }
            };
            let text = payload(k, sent, micros(start), args.size);
            engine.say(senders[k], &rooms[room_of(senders[k])], &text);
            in_flight[k] = Some((sent, 0));
            sent += 1;
            last_send = now;
        }
        if sent == args.messages
            && (delivered == sent * expected_each || now.duration_since(last_send) > DRAIN)
        {
            break;
        }
        let timeout = if args.rate > 0.0 {
            Duration::from_secs_f64(1.0 / args.rate).min(Duration::from_millis(10))
        } else {
            Duration::from_millis(10)
        };
        engine.poll(timeout, |_, text| {
            let Some((k, seq, at)) = parse_payload(text) else {
                return;
            };
            let _ = histogram.record(micros(start).saturating_sub(at).max(1));
            delivered += 1;
            if let Some(Some((flying, got))) = in_flight.get_mut(k)
                && *flying == seq
            {
                *got += 1;
                if *got == expected_each {
                    in_flight[k] = None;
                }
            }
        })?;
        if progress.elapsed() >= Duration::from_secs(1) {
            progress = Instant::now();
            eprint!("\rsent {sent}, delivered {delivered}");
        }
    }
    eprintln!();
    let elapsed = start.elapsed().as_secs_f64();
    let expected = sent * expected_each;
    let rate = delivered as f64 / elapsed;
    println!(
        "{}: {} rooms x {} members, {} senders, {} msgs of {} bytes{}",
        args.label,
        args.rooms,
        args.members,
        args.senders,
        sent,
        args.size,
        if args.rate > 0.0 {
            format!(" at {}/s", args.rate)
        } else {
            ", closed loop".into()
        }
    );
    println!(
        "sent {sent}, expected {expected}, delivered {delivered}, lost {}, {rate:.0} delivered msgs/s",
        expected - delivered.min(expected)
    );
    print_latency(&histogram);
    println!(
        "{{\"scenario\":\"fanout\",\"label\":\"{}\",\"rooms\":{},\"members\":{},\"senders\":{},\"rate\":{},\"sent\":{sent},\"expected\":{expected},\"delivered\":{delivered},\"lost\":{},\"delivered_per_sec\":{rate:.0},{},\"quickack\":true}}",
        args.label,
        args.rooms,
        args.members,
        args.senders,
        args.rate,
        expected - delivered.min(expected),
        latency_json(&histogram)
    );
    Ok(())
}

/// Runs the pingpong scenario.
pub fn pingpong(args: &Pingpong) -> io::Result<()> {
    require_loopback(args.target)?;
    let mut engine = Engine::connect(args.target, args.pairs * 2, args.line)?;
    engine.join(|_| None)?;
    let mut histogram = new_histogram();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.seconds);
    let mut round_trips = 0u64;
    for pair in 0..args.pairs {
        let text = payload(pair, 0, micros(start), 0);
        engine.tell(2 * pair, &nick(2 * pair + 1), &text);
    }
    let mut replies = Vec::new();
    while Instant::now() < deadline {
        engine.poll(Duration::from_millis(10), |client, text| {
            replies.push((client, text.to_owned()));
        })?;
        for (client, text) in replies.drain(..) {
            let Some((pair, seq, at)) = parse_payload(&text) else {
                continue;
            };
            if client % 2 == 1 {
                // The ponger sends it straight back.
                engine.tell(client, &nick(client - 1), &text);
            } else {
                let _ = histogram.record(micros(start).saturating_sub(at).max(1));
                round_trips += 1;
                let next = payload(pair, seq + 1, micros(start), 0);
                engine.tell(client, &nick(client + 1), &next);
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let rate = round_trips as f64 / elapsed;
    println!(
        "{}: {} pairs, {rate:.0} round trips/s",
        args.label, args.pairs
    );
    print_latency(&histogram);
    println!(
        "{{\"scenario\":\"pingpong\",\"label\":\"{}\",\"pairs\":{},\"round_trips\":{round_trips},\"round_trips_per_sec\":{rate:.0},{},\"quickack\":true}}",
        args.label,
        args.pairs,
        latency_json(&histogram)
    );
    Ok(())
}

/// Latency in microseconds, 1 µs to 100 s, 3 significant digits.
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000, 3).expect("valid bounds")
}

fn print_latency(histogram: &Histogram<u64>) {
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "latency ms: p50 {:.2}, p99 {:.2}, p99.9 {:.2}, max {:.2}",
        ms(0.5),
        ms(0.99),
        ms(0.999),
        histogram.max() as f64 / 1000.0
    );
}

fn latency_json(histogram: &Histogram<u64>) -> String {
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    format!(
        "\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"p999_ms\":{:.3},\"max_ms\":{:.3}",
        ms(0.5),
        ms(0.99),
        ms(0.999),
        histogram.max() as f64 / 1000.0
    )
}

/// Microseconds since `start`.
fn micros(start: Instant) -> u64 {
    start.elapsed().as_micros() as u64
}

/// `K SEQ MICROS` padded with `x` to `size` bytes.
fn payload(sender: usize, seq: u64, at: u64, size: usize) -> String {
    let mut text = format!("{sender} {seq} {at}");
    if text.len() < size {
        text.push(' ');
        text.extend(std::iter::repeat_n('x', size.saturating_sub(text.len())));
    }
    text
}

fn parse_payload(text: &str) -> Option<(usize, u64, u64)> {
    let mut words = text.split(' ');
    Some((
        words.next()?.parse().ok()?,
        words.next()?.parse().ok()?,
        words.next()?.parse().ok()?,
    ))
}

fn nick(client: usize) -> String {
    format!("load{client}")
}

/// One simulated client.
struct Peer {
    stream: TcpStream,
    framer: LineFramer,
    /// Bytes not yet taken by the socket.
    out: Vec<u8>,
}

impl Peer {
    /// Writes what the socket takes of `out`.
    fn flush(&mut self) -> io::Result<()> {
        while !self.out.is_empty() {
            match self.stream.write(&self.out) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => {
                    self.out.drain(..written);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }
}

/// Many clients on one poll.
struct Engine {
    poll: Poll,
    events: Events,
    peers: Vec<Peer>,
    line: bool,
    chunk: Vec<u8>,
}

impl Engine {
    /// Connects and registers `count` clients, nicknames `load0`...
    fn connect(target: SocketAddr, count: usize, line: bool) -> io::Result<Engine> {
        let poll = Poll::new()?;
        let mut peers = Vec::with_capacity(count);
        for client in 0..count {
            let source = Ipv4Addr::new(127, 0, 0, 2 + (client / 10_000) as u8);
            let std_stream = connect_from(source, target)?;
            std_stream.set_nonblocking(true)?;
            let mut stream = TcpStream::from_std(std_stream);
            poll.registry().register(
                &mut stream,
                Token(client),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            peers.push(Peer {
                stream,
                framer: LineFramer::new(64 * 1024),
                out: Vec::new(),
            });
            let registration = if line {
                format!("/nick {}\n", nick(client))
            } else {
                format!("NICK {0}\r\nUSER {0} 0 * :{0}\r\n", nick(client))
            };
            peers[client].out.extend_from_slice(registration.as_bytes());
        }
        let mut engine = Engine {
            poll,
            events: Events::with_capacity(1024),
            peers,
            line,
            chunk: vec![0; 64 * 1024],
        };
        let welcome = if line { "- hello " } else { " 001 " };
        engine.await_all(welcome, "registration")?;
        Ok(engine)
    }

    /// Joins each client to its room, if any, and waits until all are in.
    fn join(&mut self, room_of: impl Fn(usize) -> Option<String>) -> io::Result<()> {
        let mut joining = 0;
        for client in 0..self.peers.len() {
            if let Some(room) = room_of(client) {
                let join = if self.line {
                    format!("/join {room}\n")
                } else {
                    format!("JOIN {room}\r\n")
                };
                self.queue(client, join.as_bytes());
                joining += 1;
            }
        }
        if joining > 0 {
            let joined = if self.line { "- members of " } else { " 366 " };
            self.await_all(joined, "joining")?;
        }
        Ok(())
    }

    /// Polls until every client has seen a line containing `marker`.
    fn await_all(&mut self, marker: &str, what: &str) -> io::Result<()> {
        let mut done = vec![false; self.peers.len()];
        let mut left = self.peers.len();
        let deadline = Instant::now() + Duration::from_secs(60);
        for client in 0..self.peers.len() {
            self.flush(client)?;
        }
        while left > 0 {
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "{what}: {left} clients never finished"
                )));
            }
            self.poll_raw(Duration::from_millis(50), |client, line| {
                if !done[client] && line.contains(marker) {
                    done[client] = true;
                    left -= 1;
                }
            })?;
        }
        Ok(())
    }

    /// Says `text` in `room` as `client`.
    fn say(&mut self, client: usize, room: &str, text: &str) {
        let line = if self.line {
            format!("/msg {room} {text}\n")
        } else {
            format!("PRIVMSG {room} :{text}\r\n")
        };
        self.queue(client, line.as_bytes());
    }

    /// Tells `nick` `text` privately as `client`.
    fn tell(&mut self, client: usize, nick: &str, text: &str) {
        let line = if self.line {
            format!("/msg {nick} {text}\n")
        } else {
            format!("PRIVMSG {nick} :{text}\r\n")
        };
        self.queue(client, line.as_bytes());
    }

    fn queue(&mut self, client: usize, bytes: &[u8]) {
        self.peers[client].out.extend_from_slice(bytes);
        // A full socket is retried on its writable event.
        let _ = self.flush(client);
    }

    fn flush(&mut self, client: usize) -> io::Result<()> {
        self.peers[client].flush()
    }

    /// Polls once and hands `on_message` the text of every chat message
    /// received, with the client that received it. Pings are answered.
    fn poll(
        &mut self,
        timeout: Duration,
        mut on_message: impl FnMut(usize, &str),
    ) -> io::Result<()> {
        let line_protocol = self.line;
        self.poll_raw(timeout, |client, line| {
            let text = if line_protocol {
                line.split_once("> ").map(|(_, text)| text)
            } else {
                line.find(" PRIVMSG ")
                    .and_then(|at| line[at..].split_once(" :"))
                    .map(|(_, text)| text)
            };
            if let Some(text) = text {
                on_message(client, text);
            }
        })
    }

    /// Polls once and hands `on_line` every complete line received.
    fn poll_raw(
        &mut self,
        timeout: Duration,
        mut on_line: impl FnMut(usize, &str),
    ) -> io::Result<()> {
        self.poll.poll(&mut self.events, Some(timeout))?;
        let mut pongs = Vec::new();
        for event in self.events.iter() {
            let client = event.token().0;
            let peer = &mut self.peers[client];
            if event.is_writable() {
                peer.flush()?;
            }
            if !event.is_readable() {
                continue;
            }
            // With the peer gone there is no later event: read to the end.
            let to_the_end = event.is_read_closed() || event.is_error();
            loop {
                match peer.stream.read(&mut self.chunk) {
                    Ok(0) => {
                        return Err(io::Error::other(format!(
                            "{} was disconnected",
                            nick(client)
                        )));
                    }
                    Ok(read) => {
                        peer.framer.push(&self.chunk[..read]);
                        // A short read emptied the socket; more data would
                        // raise a new event (on Linux's epoll; mio promises
                        // one only after WouldBlock). This saves the read
                        // that says so, which would cost every server the same.
                        if read < self.chunk.len() && !to_the_end {
                            break;
                        }
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => return Err(error),
                }
            }
            // Linux drops out of quick-ACK mode by itself; re-arm it so the
            // server never waits on our delayed ACK.
            let _ = SockRef::from(&peer.stream).set_tcp_quickack(true);
            while let Some(frame) = peer.framer.next_frame() {
                let Frame::Line(bytes) = frame else { continue };
                let line = String::from_utf8_lossy(bytes);
                if let Some(token) = line.strip_prefix("PING ") {
                    pongs.push((client, format!("PONG {token}\r\n")));
                    continue;
                }
                on_line(client, &line);
            }
        }
        for (client, pong) in pongs {
            self.queue(client, pong.as_bytes());
        }
        Ok(())
    }
}
