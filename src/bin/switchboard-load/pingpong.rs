//! `pingpong`: pairs exchanging private messages. The first of each pair
//! keeps `--window` messages on their way to the second, which sends each
//! straight back; every one that returns is a round trip, and the next
//! goes out.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use argh::FromArgs;

use crate::engine::{Engine, Payload, nick};
use crate::measure::{self, Phases, Watchdog};
use crate::require_loopback;

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

    /// messages on their way per pair (default 1)
    #[argh(option, default = "1")]
    window: usize,

    /// seconds of traffic before measuring starts (default 1)
    #[argh(option, default = "1.0")]
    warmup: f64,

    /// seconds measured (default 5)
    #[argh(option, default = "5.0")]
    duration: f64,

    /// seconds to wait for messages on their way once sending stops; what
    /// has not returned by then is lost (default 2)
    #[argh(option, default = "2.0")]
    drain: f64,

    /// give up after this many seconds in all, connecting included
    /// (default: warm-up, duration and drain plus 60)
    #[argh(option)]
    deadline: Option<f64>,

    /// connect over TLS (to an ircs:// or lines:// listener), accepting
    /// any certificate
    #[argh(switch)]
    tls: bool,

    /// speak IRC over WebSocket (to /ws of an http:// listener, or of an
    /// https:// one with --tls)
    #[argh(switch)]
    websocket: bool,

    /// do not re-arm TCP_QUICKACK after each read
    #[argh(switch)]
    no_quickack: bool,

    /// a name for the run in the JSON line (default "pingpong")
    #[argh(option, default = "String::from(\"pingpong\")")]
    label: String,
}

/// Runs the pingpong scenario.
pub fn run(args: &Pingpong) -> io::Result<()> {
    require_loopback(args.target)?;
    if args.pairs == 0 || args.window == 0 {
        return Err(io::Error::other("need 1+ pairs and a window of 1+"));
    }
    let phases = Phases::new(args.warmup, args.duration, args.drain);
    let _watchdog = Watchdog::arm(measure::deadline(args.deadline, &phases, 60.0));
    let mut engine = Engine::connect(
        args.target,
        args.pairs * 2,
        args.line,
        args.tls,
        args.websocket,
        !args.no_quickack,
    )?;
    engine.join(|_| None)?;
    let mut histogram = measure::new_histogram();
    let (mut sent, mut round_trips, mut measured) = (0u64, 0u64, 0u64);
    let mut next_seq = vec![0u64; args.pairs];
    let mut arrived: Vec<(usize, Payload)> = Vec::new();
    engine.restart_clock();
    for (pair, seq) in next_seq.iter_mut().enumerate() {
        for _ in 0..args.window {
            let payload = Payload {
                sender: pair,
                seq: *seq,
                at: engine.now(),
            };
            *seq += 1;
            engine.send(2 * pair, &nick(2 * pair + 1), payload, 0);
            sent += 1;
        }
    }
    let mut progress = 0;
    loop {
        let now = engine.now();
        if !phases.sending(now) && (round_trips == sent || now >= phases.drain_until) {
            break;
        }
        engine.poll(Duration::from_millis(10), |client, payload, _| {
            arrived.push((client, payload));
        })?;
        let now = engine.now();
        for (client, payload) in arrived.drain(..) {
            if client % 2 == 1 {
                // The second of the pair sends it straight back.
                engine.send(client, &nick(client - 1), payload, 0);
                continue;
            }
            round_trips += 1;
            if phases.measures(now) {
                measured += 1;
                measure::record(&mut histogram, payload.at, now);
            }
            if phases.sending(now) && payload.sender < args.pairs {
                let pair = payload.sender;
                let next = Payload {
                    sender: pair,
                    seq: next_seq[pair],
                    at: now,
                };
                next_seq[pair] += 1;
                engine.send(client, &nick(client + 1), next, 0);
                sent += 1;
            }
        }
        if now / 1_000_000 > progress {
            progress = now / 1_000_000;
            eprint!("\rround trips {round_trips}");
        }
    }
    eprintln!();
    let lost = sent.saturating_sub(round_trips);
    let rate = measured as f64 / phases.seconds();
    println!(
        "{}: {} pairs, window {}, {rate:.0} round trips/s; sent {sent}, returned {round_trips}, lost {lost}",
        args.label, args.pairs, args.window
    );
    measure::print_latency(&histogram);
    println!(
        "{{\"scenario\":\"pingpong\",\"label\":\"{}\",\"pairs\":{},\"window\":{},\"warmup_s\":{},\"duration_s\":{},\"sent\":{sent},\"round_trips\":{round_trips},\"lost\":{lost},\"measured\":{measured},\"round_trips_per_sec\":{rate:.0},{},\"quickack\":{}}}",
        args.label,
        args.pairs,
        args.window,
        args.warmup,
        args.duration,
        measure::latency_json(&histogram),
        !args.no_quickack,
    );
    Ok(())
}
