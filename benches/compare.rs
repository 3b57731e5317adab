//! `cargo bench`: threaded against evented on the same workloads, plus codec
//! microbenchmarks.
//!
//! For each transport a server runs in this process (so its CPU time is this
//! process's) and `switchboard-load` plays the clients from another process.
//! Both share this machine's cores: compare the two columns of one run, not
//! runs on different days.

use std::process::Command;
use std::time::{Duration, Instant};

use switchboard::protocol::irc::message::Message;
use switchboard::protocol::{
    Caps, Codec, Destination, Event, Mask, MessageKind, Outgoing, Protocol,
};
use switchboard::{Config, Server, Transport};

/// One workload: the load generator's arguments.
struct Workload {
    name: &'static str,
    args: &'static [&'static str],
    /// The JSON field that says how fast it went.
    rate_field: &'static str,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "fanout 1 x 100, 10 senders",
        args: &[
            "fanout",
            "--rooms",
            "1",
            "--members",
            "100",
            "--senders",
            "10",
            "--messages",
            "5000",
        ],
        rate_field: "delivered_per_sec",
    },
    Workload {
        name: "fanout 10 x 50, 5 senders",
        args: &[
            "fanout",
            "--rooms",
            "10",
            "--members",
            "50",
            "--senders",
            "5",
            "--messages",
            "5000",
        ],
        rate_field: "delivered_per_sec",
    },
    Workload {
        name: "fanout 1 x 500, 10 senders",
        args: &[
            "fanout",
            "--rooms",
            "1",
            "--members",
            "500",
            "--senders",
            "10",
            "--messages",
            "2000",
        ],
        rate_field: "delivered_per_sec",
    },
    Workload {
        name: "fanout 1 x 500 at 250/s",
        args: &[
            "fanout",
            "--rooms",
            "1",
            "--members",
            "500",
            "--senders",
            "10",
            "--messages",
            "1000",
            "--rate",
            "250",
        ],
        rate_field: "delivered_per_sec",
    },
    Workload {
        name: "pingpong 10 pairs",
        args: &["pingpong", "--pairs", "10", "--seconds", "3"],
        rate_field: "round_trips_per_sec",
    },
    Workload {
        name: "pingpong 100 pairs",
        args: &["pingpong", "--pairs", "100", "--seconds", "3"],
        rate_field: "round_trips_per_sec",
    },
];

/// What one workload did on one transport.
struct Outcome {
    rate: f64,
    p99_ms: f64,
    lost: f64,
    /// Server CPU seconds per million deliveries (or round trips).
    cpu_per_million: f64,
}

fn main() {
    // `cargo bench` passes `--bench`; a filter after it picks workloads.
    let filter: Option<String> = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    codec_benchmarks();
    println!();
    println!(
        "{:<30} {:>14} {:>14} {:>9} {:>9} {:>7} {:>7} {:>10} {:>10}",
        "workload",
        "threaded /s",
        "evented /s",
        "thr p99",
        "evt p99",
        "thr lost",
        "evt lost",
        "thr cpu/M",
        "evt cpu/M"
    );
    for workload in WORKLOADS {
        if filter
            .as_deref()
            .is_some_and(|filter| !workload.name.contains(filter))
        {
            continue;
        }
        let threaded = run(Transport::Threaded, workload);
        let evented = run(Transport::Evented, workload);
        println!(
            "{:<30} {:>14.0} {:>14.0} {:>8.2}ms {:>8.2}ms {:>7} {:>7} {:>9.2}s {:>9.2}s",
            workload.name,
            threaded.rate,
            evented.rate,
            threaded.p99_ms,
            evented.p99_ms,
            threaded.lost,
            evented.lost,
            threaded.cpu_per_million,
            evented.cpu_per_million,
        );
    }
    println!("(cpu/M: server CPU seconds per million deliveries or round trips)");
}

/// Runs one workload against a fresh in-process server.
fn run(transport: Transport, workload: &Workload) -> Outcome {
    let server = Server::start(Config {
        transport,
        line_listen: Vec::new(),
        irc_listen: vec![([127, 0, 0, 1], 0).into()],
        rate: 0.0,
        max_clients: 20_000,
        ..Config::default()
    })
    .expect("server starts");
    let addr = server.addr(Protocol::Irc).expect("IRC listener");
    let cpu_before = cpu_seconds();
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard-load"))
        .args(workload.args)
        .args(["--target", &addr.to_string(), "--label", workload.name])
        .output()
        .expect("run switchboard-load");
    let cpu = cpu_seconds() - cpu_before;
    server.stop();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(json) = stdout.lines().find(|line| line.starts_with('{')) else {
        panic!(
            "{} on {transport}: no result\n{stdout}\n{}",
            workload.name,
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let field = |key: &str| field(json, key).unwrap_or(f64::NAN);
    let count = field("delivered").max(field("round_trips"));
    Outcome {
        rate: field(workload.rate_field),
        p99_ms: field("p99_ms"),
        lost: field("lost").max(0.0),
        cpu_per_million: cpu / (count / 1e6),
    }
}

/// A number field of a flat JSON line.
fn field(json: &str, key: &str) -> Option<f64> {
    let start = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &json[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

/// User plus system CPU time of this process so far, from /proc.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces) in parens.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Encoding and parsing costs, per operation.
fn codec_benchmarks() {
    let from = std::sync::Arc::new(Mask {
        nick: "alice".into(),
        user: "~alice".into(),
        host: "127.0.0.1".into(),
    });
    let event = || Event::Message {
        from: from.clone(),
        to: Destination::Room("#bench".into()),
        text: "x".repeat(64).into(),
        kind: MessageKind::Say,
        tags: None,
    };
    let codec = |protocol| Codec {
        protocol,
        server: "bench".into(),
    };
    println!("codec microbenchmarks (ns per operation)");
    for (name, protocol) in [
        ("encode line PRIVMSG", Protocol::Line),
        ("encode IRC PRIVMSG", Protocol::Irc),
    ] {
        let codec = codec(protocol);
        let mut out = Vec::new();
        let per = time(200_000, |_| {
            out.clear();
            Outgoing::new(event()).write_to(&codec, Caps::default(), &mut out);
        });
        println!("  {name:<36} {per:>8.0}");
    }
    let codec = codec(Protocol::Irc);
    let shared = Outgoing::new(event());
    let mut out = Vec::new();
    let per = time(1_000_000, |_| {
        out.clear();
        shared.write_to(&codec, Caps::SERVER_TIME, &mut out);
    });
    println!("  {:<36} {per:>8.0}", "write shared IRC PRIVMSG + time tag");
    let line = format!(
        "@+draft/reply=1 :alice!~alice@host PRIVMSG #bench :{}",
        "x".repeat(64)
    );
    let per = time(1_000_000, |_| {
        std::hint::black_box(Message::parse(&line).expect("parses"));
    });
    println!("  {:<36} {per:>8.0}", "parse IRC PRIVMSG");
    let per = time(1_000_000, |_| {
        std::hint::black_box(Protocol::Irc.decode(line.as_bytes()));
    });
    println!("  {:<36} {per:>8.0}", "decode IRC PRIVMSG to a request");
}

/// Nanoseconds per call of `f` over `iterations` calls.
fn time(iterations: u32, mut f: impl FnMut(u32)) -> f64 {
    let start = Instant::now();
    for i in 0..iterations {
        f(i);
    }
    let elapsed: Duration = start.elapsed();
    elapsed.as_nanos() as f64 / f64::from(iterations)
}
