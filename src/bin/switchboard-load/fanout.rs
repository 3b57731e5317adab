//! `fanout`: rooms full of members while some of them talk.
//!
//! In a closed loop each sender keeps `--window` messages in flight: a
//! message is done when every other member of its room has it, and only
//! then does its slot take the next one. One message in flight per sender
//! measures the generator's round trips as much as the server; a window
//! keeps the server busy while the generator reads. At a fixed `--rate`
//! the senders take turns on a schedule instead.
//!
//! Every message carries its sender, a sequence number and the time it was
//! sent, so each receiver knows its latency and what was lost.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use argh::FromArgs;

use crate::engine::{Engine, Payload};
use crate::measure::{self, Phases, Watchdog};
use crate::require_loopback;

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

    /// messages in flight per sender in the closed loop: a sender's next
    /// message waits until its oldest reached the whole room (default 8;
    /// 1 waits for each message)
    #[argh(option, default = "8")]
    window: usize,

    /// messages per second in all; 0 is the closed loop (default 0)
    #[argh(option, default = "0.0")]
    rate: f64,

    /// seconds of traffic before measuring starts (default 2)
    #[argh(option, default = "2.0")]
    warmup: f64,

    /// seconds measured (default 8)
    #[argh(option, default = "8.0")]
    duration: f64,

    /// seconds to wait for messages in flight once sending stops; what has
    /// not arrived by then is lost (default 2)
    #[argh(option, default = "2.0")]
    drain: f64,

    /// give up after this many seconds in all, connecting included
    /// (default: warm-up, duration and drain plus 60)
    #[argh(option)]
    deadline: Option<f64>,

    /// bytes of text per message (default 64)
    #[argh(option, default = "64")]
    size: usize,

    /// connect over TLS (to an ircs:// or lines:// listener), accepting
    /// any certificate
    #[argh(switch)]
    tls: bool,

    /// speak IRC over WebSocket (to /ws of an http:// listener, or of an
    /// https:// one with --tls)
    #[argh(switch)]
    websocket: bool,

    /// do not re-arm TCP_QUICKACK after each read (it spares a server that
    /// leaves Nagle on our delayed ACKs, at a system call per read)
    #[argh(switch)]
    no_quickack: bool,

    /// a name for the run in the JSON line (default "fanout")
    #[argh(option, default = "String::from(\"fanout\")")]
    label: String,
}

/// One message in flight in the closed loop.
#[derive(Clone, Copy)]
struct Flight {
    /// Its sequence number; `None` while the slot is free.
    seq: Option<u64>,
    /// How many members have it so far.
    got: usize,
}

/// Runs the fanout scenario.
pub fn run(args: &Fanout) -> io::Result<()> {
    require_loopback(args.target)?;
    if args.members < 2 || args.senders == 0 || args.senders > args.rooms * args.members {
        return Err(io::Error::other(
            "need 2+ members per room and 1 to rooms x members senders",
        ));
    }
    if args.window == 0 {
        return Err(io::Error::other("--window must be at least 1"));
    }
    let phases = Phases::new(args.warmup, args.duration, args.drain);
    let _watchdog = Watchdog::arm(measure::deadline(args.deadline, &phases, 60.0));
    let clients = args.rooms * args.members;
    let mut engine = Engine::connect(
        args.target,
        clients,
        args.line,
        args.tls,
        args.websocket,
        !args.no_quickack,
    )?;
    let room_of = |client: usize| client / args.members;
    let rooms: Vec<String> = (0..args.rooms).map(|room| format!("#load{room}")).collect();
    engine.join(|client| Some(rooms[room_of(client)].clone()))?;
    // Sender k is member k / rooms of room k % rooms.
    let senders: Vec<usize> = (0..args.senders)
        .map(|k| (k % args.rooms) * args.members + k / args.rooms)
        .collect();
    let window = args.window;
    let expected_each = args.members - 1;
    let closed = args.rate <= 0.0;
    let mut flights = vec![Flight { seq: None, got: 0 }; senders.len() * window];
    let mut next_seq = vec![0u64; senders.len()];
    // Senders with a slot just freed, in the closed loop.
    let mut ready: Vec<usize> = (0..senders.len()).collect();
    let mut histogram = measure::new_histogram();
    let (mut sent, mut delivered, mut measured) = (0u64, 0u64, 0u64);
    let mut next_sender = 0;
    engine.restart_clock();
    let mut progress = 0;
    loop {
        let now = engine.now();
        if phases.sending(now) {
            // Sends sender k's next message; its sequence number.
            let send = |engine: &mut Engine, next_seq: &mut [u64], k: usize| {
                let seq = next_seq[k];
                next_seq[k] += 1;
                let payload = Payload {
                    sender: k,
                    seq,
                    at: engine.now(),
                };
                engine.send(senders[k], &rooms[room_of(senders[k])], payload, args.size);
                seq
            };
            if closed {
                for k in ready.drain(..) {
                    // The oldest slot first, so messages leave in order.
                    loop {
                        let slot = k * window + (next_seq[k] % window as u64) as usize;
                        if flights[slot].seq.is_some() {
                            break;
                        }
                        let seq = send(&mut engine, &mut next_seq, k);
                        sent += 1;
                        flights[slot] = Flight {
                            seq: Some(seq),
                            got: 0,
                        };
                    }
                }
            } else {
                let due = (now as f64 / 1e6 * args.rate) as u64;
                while sent < due {
                    let k = next_sender;
                    next_sender = (next_sender + 1) % senders.len();
                    send(&mut engine, &mut next_seq, k);
                    sent += 1;
                }
            }
        } else if delivered >= sent * expected_each as u64 || now >= phases.drain_until {
            break;
        }
        let timeout = if closed {
            Duration::from_millis(10)
        } else {
            Duration::from_secs_f64(1.0 / args.rate).min(Duration::from_millis(10))
        };
        engine.poll(timeout, |_, payload, now| {
            delivered += 1;
            if phases.measures(now) {
                measured += 1;
                measure::record(&mut histogram, payload.at, now);
            }
            if !closed || payload.sender >= senders.len() {
                return;
            }
            let slot = payload.sender * window + (payload.seq % window as u64) as usize;
            let flight = &mut flights[slot];
            if flight.seq == Some(payload.seq) {
                flight.got += 1;
                if flight.got == expected_each {
                    flight.seq = None;
                    ready.push(payload.sender);
                }
            }
        })?;
        if now / 1_000_000 > progress {
            progress = now / 1_000_000;
            eprint!("\rsent {sent}, delivered {delivered}");
        }
    }
    eprintln!();
    let expected = sent * expected_each as u64;
    let lost = expected.saturating_sub(delivered);
    let rate = measured as f64 / phases.seconds();
    println!(
        "{}: {} rooms x {} members, {} senders, {} bytes, {}; {} s measured after {} s",
        args.label,
        args.rooms,
        args.members,
        args.senders,
        args.size,
        if closed {
            format!("closed loop, window {window}")
        } else {
            format!("at {}/s", args.rate)
        },
        args.duration,
        args.warmup,
    );
    println!(
        "sent {sent}, expected {expected}, delivered {delivered}, lost {lost}; measured {measured}: {rate:.0} delivered msgs/s"
    );
    measure::print_latency(&histogram);
    println!(
        "{{\"scenario\":\"fanout\",\"label\":\"{}\",\"rooms\":{},\"members\":{},\"senders\":{},\"window\":{},\"rate\":{},\"warmup_s\":{},\"duration_s\":{},\"sent\":{sent},\"expected\":{expected},\"delivered\":{delivered},\"lost\":{lost},\"measured\":{measured},\"delivered_per_sec\":{rate:.0},{},\"quickack\":{}}}",
        args.label,
        args.rooms,
        args.members,
        args.senders,
        if closed { window } else { 0 },
        args.rate,
        args.warmup,
        args.duration,
        measure::latency_json(&histogram),
        !args.no_quickack,
    );
    Ok(())
}
