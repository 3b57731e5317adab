//! `cargo bench`: five servers on the same workloads, plus codec
//! microbenchmarks.
//!
//! The servers are switchboard with each transport, the peers ngircd and
//! InspIRCd (each when installed) and a bare relay, the ceiling of what a
//! chat relay can do on this machine. For each workload and server a fresh
//! server starts, `switchboard-load` plays the clients from another process
//! for a warm-up and a measured stretch, and the server's CPU time is read
//! from /proc before and after; each pairing runs three times, the servers
//! taking turns, and the median counts. Everything shares this machine's
//! cores: compare the columns of one run, not runs on different days.
//!
//! A name given after `--` runs only the workloads whose names contain it:
//! `cargo bench --bench compare -- "1 x 100"`. A full run writes the chart
//! to docs/bench.svg; a filtered one writes it under the target directory,
//! so the committed chart always has every workload. `--serve KIND` starts
//! one server and keeps it up for runs by hand.

mod chart;
mod codecs;
mod peers;
mod relay;
mod tables;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use switchboard::{Config, Listen, Scheme, Server, Transport};

use crate::peers::{Brand, Peer};
use crate::relay::Relay;
use crate::tables::{Measure, Outcome, P99, RATE, Row};

/// Each workload runs this many times on each server, the servers taking
/// turns, and the tables show the median of each measure: on a shared
/// two-core machine a single run can be off by a third.
const ROUNDS: usize = 3;

/// What a workload measures, which says which targets apply to it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Fan-out in a closed loop: throughput.
    Closed,
    /// Fan-out at a fixed rate: latency.
    FixedRate,
    /// Private round trips.
    Pingpong,
}

/// One workload: the load generator's arguments, and whether switchboard
/// keeps history (in a database file) while it runs.
pub struct Workload {
    pub name: &'static str,
    pub shape: Shape,
    /// What the clients connect over; only switchboard serves TLS and
    /// WebSocket here.
    carrier: Carrier,
    /// Off for every workload but the one that measures what storing
    /// costs: the others stay comparable with runs from before history.
    history: bool,
    args: &'static [&'static str],
}

/// What a workload's clients connect over.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// IRC over TCP.
    Plain,
    /// IRC over TLS.
    Tls,
    /// IRC over WebSocket (an http:// listener's `/ws`).
    WebSocket,
}

impl Workload {
    /// Whether issue 12's targets apply: not to TLS or WebSocket, which
    /// the peers do not serve here, nor to the workload that keeps history,
    /// which has a goal of its own (`tables::print_targets`).
    pub fn targeted(&self) -> bool {
        self.carrier == Carrier::Plain && !self.history
    }

    /// How long it warms up, runs and drains.
    fn timing(&self) -> &'static [&'static str] {
        match self.shape {
            Shape::FixedRate => FIXED_RATE_TIMING,
            Shape::Closed | Shape::Pingpong => TIMING,
        }
    }

    /// The JSON field that says how fast it went.
    fn rate_field(&self) -> &'static str {
        match self.shape {
            Shape::Closed | Shape::FixedRate => "delivered_per_sec",
            Shape::Pingpong => "round_trips_per_sec",
        }
    }
}

/// A second of warm-up and three measured keep a full run of 144 pairings
/// near fifteen minutes; the window of 8 keeps every server busy while the
/// generator reads (BENCHMARKS.md, "Method").
const TIMING: &[&str] = &["--warmup", "1", "--duration", "3", "--drain", "2"];

/// At a fixed rate three seconds carry 750 messages at 250/s, and the p99
/// rested on the slowest eight fan-outs: the same server's moved by a
/// third from run to run. Ten seconds carry 2,500.
const FIXED_RATE_TIMING: &[&str] = &["--warmup", "1", "--duration", "10", "--drain", "2"];

const WORKLOADS: &[Workload] = &[
    // The first workload again with every message stored (issue 14): what
    // history costs the fan-out (the goal is within 10%).
    Workload {
        name: "fanout 1 x 100, 10 senders, history on",
        shape: Shape::Closed,
        carrier: Carrier::Plain,
        history: true,
        args: &[
            "fanout",
            "--rooms",
            "1",
            "--members",
            "100",
            "--senders",
            "10",
            "--window",
            "8",
        ],
    },
    Workload {
        name: "fanout 1 x 100, 10 senders",
        shape: Shape::Closed,
        carrier: Carrier::Plain,
        history: false,
        args: &[
            "fanout",
            "--rooms",
            "1",
            "--members",
            "100",
            "--senders",
            "10",
            "--window",
            "8",
        ],
    },
    // Five senders with a window of 8 keep only 1,960 deliveries in flight,
    // a quarter of 1 x 100's: every server wrote 8 messages per system call
    // and waited on round trips (the relay did 2.4 M at window 8, 6.1 M at
    // 32). At 32 the deliveries in flight match 1 x 100's (BENCHMARKS.md,
    // "Method").
    Workload {
        name: "fanout 10 x 50, 5 senders, window 32",
        shape: Shape::Closed,
        carrier: Carrier::Plain,
        history: false,
        args: &[
            "fanout",
            "--rooms",
            "10",
            "--members",
            "50",
            "--senders",
            "5",
            "--window",
            "32",
        ],
    },
    Workload {
        name: "fanout 1 x 500, 10 senders",
        shape: Shape::Closed,
        carrier: Carrier::Plain,
        history: false,
        args: &[
            "fanout",
            "--rooms",
            "1",
            "--members",
            "500",
            "--senders",
            "10",
            "--window",
            "8",
        ],
    },
    Workload {
        name: "fanout 1 x 500 at 250/s",
        shape: Shape::FixedRate,
        carrier: Carrier::Plain,
        history: false,
        args: &[
            "fanout",
            "--rooms",
            "1",
            "--members",
            "500",
            "--senders",
            "10",
            "--rate",
            "250",
        ],
    },
    Workload {
        name: "fanout 1 x 100 at 1000/s",
        shape: Shape::FixedRate,
        carrier: Carrier::Plain,
        history: false,
        args: &[
            "fanout",
            "--rooms",
            "1",
            "--members",
            "100",
            "--senders",
            "10",
            "--rate",
            "1000",
        ],
    },
    Workload {
        name: "pingpong 10 pairs",
        shape: Shape::Pingpong,
        carrier: Carrier::Plain,
        history: false,
        args: &["pingpong", "--pairs", "10"],
    },
    Workload {
        name: "pingpong 100 pairs",
        shape: Shape::Pingpong,
        carrier: Carrier::Plain,
        history: false,
        args: &["pingpong", "--pairs", "100"],
    },
    // The same as the first and the sixth, over TLS: what encryption
    // costs (switchboard only; the other columns stay empty).
    Workload {
        name: "TLS fanout 1 x 100, 10 senders",
        shape: Shape::Closed,
        carrier: Carrier::Tls,
        history: false,
        args: &[
            "fanout",
            "--rooms",
            "1",
            "--members",
            "100",
            "--senders",
            "10",
            "--window",
            "8",
            "--tls",
        ],
    },
    Workload {
        name: "TLS pingpong 10 pairs",
        shape: Shape::Pingpong,
        carrier: Carrier::Tls,
        history: false,
        args: &["pingpong", "--pairs", "10", "--tls"],
    },
    // The first and the sixth again over WebSocket, beside plain IRC: what
    // framing each line costs (switchboard only).
    Workload {
        name: "WebSocket fanout 1 x 100, 10 senders",
        shape: Shape::Closed,
        carrier: Carrier::WebSocket,
        history: false,
        args: &[
            "fanout",
            "--rooms",
            "1",
            "--members",
            "100",
            "--senders",
            "10",
            "--window",
            "8",
            "--websocket",
        ],
    },
    Workload {
        name: "WebSocket pingpong 10 pairs",
        shape: Shape::Pingpong,
        carrier: Carrier::WebSocket,
        history: false,
        args: &["pingpong", "--pairs", "10", "--websocket"],
    },
];

/// The servers compared, in column order.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Threaded,
    Evented,
    Ngircd,
    Inspircd,
    Relay,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Threaded,
        Kind::Evented,
        Kind::Ngircd,
        Kind::Inspircd,
        Kind::Relay,
    ];

    /// The peers: other IRC servers, as users would compare.
    pub const PEERS: [Kind; 2] = [Kind::Ngircd, Kind::Inspircd];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Threaded => "threaded",
            Kind::Evented => "evented",
            Kind::Ngircd => "ngircd",
            Kind::Inspircd => "inspircd",
            Kind::Relay => "relay",
        }
    }

    fn brand(self) -> Option<Brand> {
        match self {
            Kind::Ngircd => Some(Brand::Ngircd),
            Kind::Inspircd => Some(Brand::Inspircd),
            Kind::Threaded | Kind::Evented | Kind::Relay => None,
        }
    }

    /// Whether this server can run `workload` here (a peer must be
    /// installed; TLS and WebSocket are switchboard's alone).
    fn serves(self, workload: &Workload) -> bool {
        if workload.carrier != Carrier::Plain {
            return matches!(self, Kind::Threaded | Kind::Evented);
        }
        self.available()
    }

    /// Whether this server can run here (a peer must be installed).
    fn available(self) -> bool {
        self.brand().is_none_or(|brand| brand.find().is_some())
    }

    /// A fresh server of this kind, listening for IRC on loopback (over
    /// TLS with a self-signed certificate, or WebSocket, as `carrier` says:
    /// switchboard only); with `history`, switchboard stores every message
    /// in a database file.
    fn start(self, carrier: Carrier, history: bool) -> io::Result<Running> {
        let transport = match self {
            Kind::Threaded => Transport::Threaded,
            Kind::Evented => Transport::Evented,
            Kind::Ngircd => return Peer::start(Brand::Ngircd).map(Running::Peer),
            Kind::Inspircd => return Peer::start(Brand::Inspircd).map(Running::Peer),
            Kind::Relay => return Relay::start().map(Running::Relay),
        };
        let (scheme, certificate) = match carrier {
            Carrier::Tls => (Scheme::Ircs, Some(certificate()?)),
            Carrier::WebSocket => (Scheme::Http, None),
            Carrier::Plain => (Scheme::Irc, None),
        };
        let (tls_cert, tls_key) = certificate.unzip();
        // On disk, so that storing pays for its commits as it would in use.
        let dir = history.then(tempfile::tempdir).transpose()?;
        let db = match &dir {
            Some(dir) => dir.path().join("bench.db").to_string_lossy().into_owned(),
            // Accounts play no part in what is measured.
            None => ":memory:".into(),
        };
        let server = Server::start(Config {
            transport,
            listen: vec![Listen::new(scheme, ([127, 0, 0, 1], 0))],
            tls_cert,
            tls_key,
            rate: 0.0,
            max_clients: 20_000,
            db,
            history,
            ..Config::default()
        })?;
        Ok(Running::Switchboard(server, dir))
    }
}

/// A server under load: where to connect, what it has cost, how to stop it.
enum Running {
    /// In this process, so its CPU time is this process's; with the
    /// directory of its database when it keeps history.
    Switchboard(Server, Option<tempfile::TempDir>),
    /// A child process, with CPU time of its own.
    Peer(Peer),
    /// In this process, like switchboard.
    Relay(Relay),
}

impl Running {
    fn addr(&self) -> SocketAddr {
        match self {
            Running::Switchboard(server, _) => server.endpoints()[0].addr,
            Running::Peer(peer) => peer.addr(),
            Running::Relay(relay) => relay.addr(),
        }
    }

    /// User plus system CPU seconds the server has used so far. While the
    /// load generator runs, this process does nothing but serve, so its own
    /// time is the in-process server's.
    fn cpu_seconds(&self) -> f64 {
        match self {
            Running::Peer(peer) => cpu_seconds(&format!("/proc/{}/stat", peer.pid())),
            Running::Switchboard(..) | Running::Relay(_) => cpu_seconds("/proc/self/stat"),
        }
    }

    /// Messages written and write calls so far, where the server counts
    /// them (switchboard does).
    fn writes(&self) -> Option<(u64, u64)> {
        match self {
            Running::Switchboard(server, _) => {
                let stats = server.stats();
                Some((stats.written, stats.write_calls))
            }
            Running::Peer(_) | Running::Relay(_) => None,
        }
    }

    fn stop(self) -> io::Result<()> {
        match self {
            Running::Switchboard(server, _dir) => {
                server.stop();
                Ok(())
            }
            Running::Peer(peer) => peer.stop(),
            Running::Relay(relay) => relay.stop(),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|arg| arg == "--serve") {
        return serve(args.get(at + 1).map_or("", String::as_str));
    }
    // `cargo bench` passes `--bench`; a filter after it picks workloads.
    let filter: Option<String> = args.into_iter().find(|arg| !arg.starts_with('-'));
    codecs::run();
    println!();
    for kind in Kind::PEERS {
        if !kind.available() {
            println!(
                "{0} not found (apt-get install {0}): its columns stay empty",
                kind.name()
            );
        }
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
        let mut runs: [Vec<Outcome>; 5] = Default::default();
        for _ in 0..ROUNDS {
            for (kind, runs) in Kind::ALL.into_iter().zip(&mut runs) {
                if !kind.serves(workload) {
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
    tables::print(&rows);
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
    let server = match kind.start(Carrier::Plain, false) {
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
    let server = kind
        .start(workload.carrier, workload.history)
        .map_err(|error| format!("start: {error}"))?;
    let cpu_before = server.cpu_seconds();
    let writes_before = server.writes();
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard-load"))
        .args(workload.args)
        .args(workload.timing())
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
        rate: field(workload.rate_field()),
        p99_ms: field("p99_ms"),
        lost: field("lost").max(0.0),
        cpu_per_million: cpu / (count / 1e6),
        per_write,
    })
}

/// A self-signed certificate and key for the TLS workloads, written once
/// per run under the target directory.
fn certificate() -> io::Result<(PathBuf, PathBuf)> {
    static PATHS: std::sync::OnceLock<(PathBuf, PathBuf)> = std::sync::OnceLock::new();
    if let Some(paths) = PATHS.get() {
        return Ok(paths.clone());
    }
    let (cert, key) = switchboard::transport::tls::self_signed(vec!["127.0.0.1".into()])
        .map_err(io::Error::other)?;
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let paths = (dir.join("bench-cert.pem"), dir.join("bench-key.pem"));
    std::fs::write(&paths.0, cert)?;
    std::fs::write(&paths.1, key)?;
    Ok(PATHS.get_or_init(|| paths).clone())
}

/// The chart of throughput and p99 latency, titled with machine and date.
fn write_chart(rows: &[Row], path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let values = |measure: Measure| -> Vec<Vec<Option<f64>>> {
        rows.iter()
            .map(|row| {
                Kind::ALL
                    .iter()
                    .map(|&kind| row.get(kind, measure.of))
                    .collect()
            })
            .collect()
    };
    let notes = |measure: Measure| -> Vec<Vec<String>> {
        rows.iter().map(|row| tables::notes(row, measure)).collect()
    };
    let groups: Vec<&str> = rows.iter().map(|row| row.workload.name).collect();
    let series = Kind::ALL.map(Kind::name);
    let title = format!(
        "switchboard vs ngircd, InspIRCd and a bare relay: {}, {}",
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
                values: values(RATE),
                notes: notes(RATE),
                label: si,
            },
            chart::Panel {
                caption: "p99 latency (lower is better)",
                unit: "ms",
                values: values(P99),
                notes: notes(P99),
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
