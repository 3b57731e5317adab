//! `cargo bench`: four servers on the same workloads, plus codec
//! microbenchmarks.
//!
//! The servers are switchboard with each transport, ngircd (when installed)
//! and a bare relay, the ceiling of what a chat relay can do on this machine.
//! For each workload and server a fresh server starts, `switchboard-load`
//! plays the clients from another process, and the server's CPU time is read
//! from /proc before and after; each pairing runs three times, in turns, and
//! the median counts. Everything shares this machine's cores: compare the
//! columns of one run, not runs on different days.
//!
//! A name given after `--` runs only the workloads whose names contain it:
//! `cargo bench --bench compare -- "1 x 100"`. A full run writes the chart
//! to docs/bench.svg; a filtered one writes it under the target directory,
//! so the committed chart always has every workload.

mod chart;
mod ngircd;
mod relay;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use switchboard::protocol::irc::message::Message;
use switchboard::protocol::{
    Caps, Codec, Destination, Event, Mask, MessageKind, Outgoing, Protocol,
};
use switchboard::{Config, Server, Transport};

use crate::ngircd::Ngircd;
use crate::relay::Relay;

/// Each workload runs this many times on each server, the servers taking
/// turns, and the tables show the median of each measure: on a shared
/// two-core machine a single run can be off by a third.
const ROUNDS: usize = 3;

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

/// The servers compared, in column order.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Threaded,
    Evented,
    Ngircd,
    Ceiling,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::Threaded, Kind::Evented, Kind::Ngircd, Kind::Ceiling];

    fn name(self) -> &'static str {
        match self {
            Kind::Threaded => "threaded",
            Kind::Evented => "evented",
            Kind::Ngircd => "ngircd",
            Kind::Ceiling => "ceiling",
        }
    }

    /// A fresh server of this kind, listening for IRC on loopback.
    fn start(self) -> io::Result<Running> {
        let transport = match self {
            Kind::Threaded => Transport::Threaded,
            Kind::Evented => Transport::Evented,
            Kind::Ngircd => return Ngircd::start().map(Running::Ngircd),
            Kind::Ceiling => return Relay::start().map(Running::Ceiling),
        };
        Server::start(Config {
            transport,
            line_listen: Vec::new(),
            irc_listen: vec![([127, 0, 0, 1], 0).into()],
            rate: 0.0,
            max_clients: 20_000,
            ..Config::default()
        })
        .map(Running::Switchboard)
    }
}

/// A server under load: where to connect, what it has cost, how to stop it.
enum Running {
    /// In this process, so its CPU time is this process's.
    Switchboard(Server),
    /// A child process, with CPU time of its own.
    Ngircd(Ngircd),
    /// In this process, like switchboard.
    Ceiling(Relay),
}

impl Running {
    fn addr(&self) -> SocketAddr {
        match self {
            Running::Switchboard(server) => server.addr(Protocol::Irc).expect("IRC listener"),
            Running::Ngircd(ngircd) => ngircd.addr(),
            Running::Ceiling(relay) => relay.addr(),
        }
    }

    /// User plus system CPU seconds the server has used so far. While the
    /// load generator runs, this process does nothing but serve, so its own
    /// time is the in-process server's.
    fn cpu_seconds(&self) -> f64 {
        match self {
            Running::Ngircd(ngircd) => cpu_seconds(&format!("/proc/{}/stat", ngircd.pid())),
            Running::Switchboard(_) | Running::Ceiling(_) => cpu_seconds("/proc/self/stat"),
        }
    }

    /// Messages written and write calls so far, where the server counts
    /// them (switchboard does).
    fn writes(&self) -> Option<(u64, u64)> {
        match self {
            Running::Switchboard(server) => {
                let stats = server.stats();
                Some((stats.written, stats.write_calls))
            }
            Running::Ngircd(_) | Running::Ceiling(_) => None,
        }
    }

    fn stop(self) -> io::Result<()> {
        match self {
            Running::Switchboard(server) => {
                server.stop();
                Ok(())
            }
            Running::Ngircd(ngircd) => ngircd.stop(),
            Running::Ceiling(relay) => relay.stop(),
        }
    }
}

/// What one workload did on one server.
#[derive(Clone, Copy)]
struct Outcome {
    rate: f64,
    p99_ms: f64,
    lost: f64,
    /// Server CPU seconds per million deliveries (or round trips).
    cpu_per_million: f64,
    /// Messages per write call, where the server counts them (NaN if not).
    per_write: f64,
}

impl Outcome {
    /// The median of each measure over `runs` (the most lost, for losses);
    /// `None` if there were none.
    fn median(runs: &[Outcome]) -> Option<Outcome> {
        let median = |measure: fn(&Outcome) -> f64| {
            let mut values: Vec<f64> = runs.iter().map(measure).collect();
            values.sort_by(f64::total_cmp);
            values.get(values.len() / 2).copied()
        };
        Some(Outcome {
            rate: median(|outcome| outcome.rate)?,
            p99_ms: median(|outcome| outcome.p99_ms)?,
            lost: runs.iter().map(|outcome| outcome.lost).fold(0.0, f64::max),
            cpu_per_million: median(|outcome| outcome.cpu_per_million)?,
            per_write: median(|outcome| outcome.per_write)?,
        })
    }
}

/// One workload's outcomes, indexed like `Kind::ALL`; `None` where the
/// server is absent or the run failed.
struct Row {
    workload: &'static Workload,
    outcomes: [Option<Outcome>; 4],
}

impl Row {
    fn get(&self, kind: Kind, measure: fn(&Outcome) -> f64) -> Option<f64> {
        let outcome = self.outcomes[Kind::ALL.iter().position(|&k| k == kind)?]?;
        Some(measure(&outcome)).filter(|value| value.is_finite())
    }

    /// One measure for every server, in column order, as table cells.
    fn cells(&self, measure: fn(&Outcome) -> f64, width: usize, precision: usize) -> String {
        Kind::ALL
            .iter()
            .map(|&kind| cell(self.get(kind, measure), width, precision))
            .collect()
    }

    /// `top / bottom` of one measure.
    fn ratio(&self, top: Kind, bottom: Kind, measure: fn(&Outcome) -> f64) -> Option<f64> {
        Some(self.get(top, measure)? / self.get(bottom, measure)?)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|arg| arg == "--serve") {
        return serve(args.get(at + 1).map_or("", String::as_str));
    }
    // `cargo bench` passes `--bench`; a filter after it picks workloads.
    let filter: Option<String> = args.into_iter().find(|arg| !arg.starts_with('-'));
    codec_benchmarks();
    println!();
    let have_ngircd = ngircd::find().is_some();
    if !have_ngircd {
        println!("ngircd not found (apt-get install ngircd): its columns stay empty");
    }
    let mut rows = Vec::new();
    for workload in WORKLOADS {
        if filter
            .as_deref()
            .is_some_and(|filter| !workload.name.contains(filter))
        {
            continue;
        }
        eprint!("{}:", workload.name);
        let mut runs: [Vec<Outcome>; 4] = Default::default();
        for _ in 0..ROUNDS {
            for (kind, runs) in Kind::ALL.into_iter().zip(&mut runs) {
                if kind == Kind::Ngircd && !have_ngircd {
                    continue;
                }
                eprint!(" {}", kind.name());
                match run(kind, workload) {
                    Ok(outcome) => runs.push(outcome),
                    Err(error) => eprint!(" (failed: {error})"),
                }
            }
        }
        eprintln!();
        let outcomes = runs.map(|runs| Outcome::median(&runs));
        rows.push(Row { workload, outcomes });
    }
    print_tables(&rows);
    let path = if filter.is_some() {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench.svg")
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/bench.svg")
    };
    match write_chart(&rows, &path) {
        Ok(()) => println!("chart: {}", path.display()),
        Err(error) => println!("chart: cannot write {}: {error}", path.display()),
    }
}

/// `--serve KIND`: starts one server as the bench would, prints its address
/// and serves until standard input closes, for running the load generator
/// (or a profiler) by hand against the same server.
fn serve(name: &str) {
    let Some(kind) = Kind::ALL.into_iter().find(|kind| kind.name() == name) else {
        let names: Vec<&str> = Kind::ALL.iter().map(|kind| kind.name()).collect();
        eprintln!("--serve takes one of: {}", names.join(", "));
        std::process::exit(2);
    };
    let server = match kind.start() {
        Ok(server) => server,
        Err(error) => {
            eprintln!("cannot start {name}: {error}");
            std::process::exit(1);
        }
    };
    println!("{name} serving on {}", server.addr());
    // Blocks until standard input closes (Ctrl-D, or the caller goes).
    let _ = io::copy(&mut io::stdin(), &mut io::sink());
    if let Err(error) = server.stop() {
        eprintln!("stopping {name}: {error}");
    }
}

/// Runs one workload against a fresh server of one kind.
fn run(kind: Kind, workload: &Workload) -> Result<Outcome, String> {
    let server = kind.start().map_err(|error| format!("start: {error}"))?;
    let cpu_before = server.cpu_seconds();
    let writes_before = server.writes();
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard-load"))
        .args(workload.args)
        .args([
            "--target",
            &server.addr().to_string(),
            "--label",
            workload.name,
        ])
        .output();
    let cpu = server.cpu_seconds() - cpu_before;
    let per_write = match (writes_before, server.writes()) {
        (Some((messages, calls)), Some((messages_after, calls_after))) => {
            (messages_after - messages) as f64 / (calls_after - calls) as f64
        }
        _ => f64::NAN,
    };
    server.stop().map_err(|error| format!("stop: {error}"))?;
    let output = output.map_err(|error| format!("switchboard-load: {error}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(json) = stdout.lines().find(|line| line.starts_with('{')) else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        // The generator's last words; its progress lines end in `\r`.
        return Err(stderr.rsplit('\r').next().unwrap_or("").trim().to_owned());
    };
    let field = |key: &str| field(json, key).unwrap_or(f64::NAN);
    let count = field("delivered").max(field("round_trips"));
    Ok(Outcome {
        rate: field(workload.rate_field),
        p99_ms: field("p99_ms"),
        lost: field("lost").max(0.0),
        cpu_per_million: cpu / (count / 1e6),
        per_write,
    })
}

/// Three tables of at most ~100 columns: throughput and the ratios the
/// targets are stated in, latency, and cost.
fn print_tables(rows: &[Row]) {
    use Kind::{Ceiling, Evented, Ngircd, Threaded};
    let rate = |o: &Outcome| o.rate;
    let p99 = |o: &Outcome| o.p99_ms;
    println!(
        "{:<27}{:>10}{:>10}{:>10}{:>10}{:>9}{:>9}{:>9}{:>9}",
        "throughput /s",
        "threaded",
        "evented",
        "ngircd",
        "ceiling",
        "evt/ceil",
        "evt/ngd",
        "thr/ngd",
        "thr/ceil"
    );
    for row in rows {
        println!(
            "{:<27}{}{}{}{}{}",
            row.workload.name,
            row.cells(rate, 10, 0),
            cell(row.ratio(Evented, Ceiling, rate), 9, 2),
            cell(row.ratio(Evented, Ngircd, rate), 9, 2),
            cell(row.ratio(Threaded, Ngircd, rate), 9, 2),
            cell(row.ratio(Threaded, Ceiling, rate), 9, 2),
        );
    }
    println!();
    println!(
        "{:<27}{:>10}{:>10}{:>10}{:>10}{:>13}{:>13}",
        "p99 latency, ms", "threaded", "evented", "ngircd", "ceiling", "evt/ceil", "thr/ngd"
    );
    for row in rows {
        println!(
            "{:<27}{}{}{}",
            row.workload.name,
            row.cells(p99, 10, 2),
            cell(row.ratio(Evented, Ceiling, p99), 13, 2),
            cell(row.ratio(Threaded, Ngircd, p99), 13, 2),
        );
    }
    println!(
        "(p99 ratios compare like with like only at a fixed rate: closed loops differ in load)"
    );
    println!();
    println!(
        "{:<27}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}{:>10}",
        "cost; batching; lost",
        "cpu thr",
        "cpu evt",
        "cpu ngd",
        "cpu ceil",
        "/wr thr",
        "/wr evt",
        "lost",
    );
    for row in rows {
        let per_write = |kind| cell(row.get(kind, |o| o.per_write), 9, 2);
        let lost: Option<f64> = Kind::ALL
            .iter()
            .filter_map(|&kind| row.get(kind, |o| o.lost))
            .reduce(|all, lost| all + lost);
        println!(
            "{:<27}{}{}{}{}",
            row.workload.name,
            row.cells(|o| o.cpu_per_million, 9, 2),
            per_write(Threaded),
            per_write(Evented),
            cell(lost, 10, 0),
        );
    }
    println!("(cpu: server CPU seconds per million deliveries or round trips;");
    println!(" /wr: messages per write call; lost: by all four servers; - : did not run)");
}

/// A right-aligned number, or `-` where there is none.
fn cell(value: Option<f64>, width: usize, precision: usize) -> String {
    match value {
        Some(value) => format!("{value:>width$.precision$}"),
        None => format!("{:>width$}", "-"),
    }
}

/// The chart of throughput and p99 latency, titled with machine and date.
fn write_chart(rows: &[Row], path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let values = |measure: fn(&Outcome) -> f64| -> Vec<Vec<Option<f64>>> {
        rows.iter()
            .map(|row| {
                Kind::ALL
                    .iter()
                    .map(|&kind| row.get(kind, measure))
                    .collect()
            })
            .collect()
    };
    let groups: Vec<&str> = rows.iter().map(|row| row.workload.name).collect();
    let series = Kind::ALL.map(Kind::name);
    let title = format!(
        "switchboard vs ngircd vs a bare relay: {}, {}",
        machine(),
        jiff::Zoned::now().date()
    );
    chart::write(
        path,
        &title,
        &groups,
        &series,
        &[
            chart::Panel {
                caption: "throughput (higher is better)",
                unit: "delivered msgs/s (pingpong: round trips/s)",
                values: values(|o| o.rate),
                label: si,
            },
            chart::Panel {
                caption: "p99 latency (lower is better)",
                unit: "ms",
                values: values(|o| o.p99_ms),
                label: ms,
            },
        ],
    )
}

/// `653k`, `1.2M`: short enough to sit above a bar.
fn si(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.0}k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

/// Milliseconds to two significant digits or more: `0.52`, `2.1`, `32`.
fn ms(value: f64) -> String {
    match value {
        10.0.. => format!("{value:.0}"),
        1.0.. => format!("{value:.1}"),
        _ => format!("{value:.2}"),
    }
}

/// `2 x AMD EPYC 7B13`: the cores the run had and what they are.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
        .map_or("unknown CPU", |(_, model)| model.trim());
    let cores = std::thread::available_parallelism().map_or(0, |cores| cores.get());
    format!("{cores} x {model}")
}

/// A number field of a flat JSON line.
fn field(json: &str, key: &str) -> Option<f64> {
    let start = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &json[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

/// User plus system CPU seconds of a process so far, from its /proc stat.
fn cpu_seconds(stat_path: &str) -> f64 {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    // Fields after the command name (which may contain spaces) in parens.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name;
    // Linux counts them in ticks of 1/100 s.
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
        id: "1".into(),
        long: false,
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
