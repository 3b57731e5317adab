//! The tables `cargo bench` prints: throughput with the best peer and the
//! ratios the targets are stated in, latency, cost, and the targets met or
//! missed.

use crate::{Kind, Shape, Workload};

/// One measure of an [`Outcome`], and which way is better.
#[derive(Clone, Copy)]
pub struct Measure {
    pub of: fn(&Outcome) -> f64,
    pub higher_is_better: bool,
}

/// Throughput: deliveries or round trips per second.
pub const RATE: Measure = Measure {
    of: |outcome| outcome.rate,
    higher_is_better: true,
};

/// p99 latency in milliseconds.
pub const P99: Measure = Measure {
    of: |outcome| outcome.p99_ms,
    higher_is_better: false,
};

/// What one workload did on one server.
#[derive(Clone, Copy)]
pub struct Outcome {
    pub rate: f64,
    pub p99_ms: f64,
    pub lost: f64,
    /// Server CPU seconds per million deliveries (or round trips).
    pub cpu_per_million: f64,
    /// Messages per write call, where the server counts them (NaN if not).
    pub per_write: f64,
}

impl Outcome {
    /// The median of each measure over `runs` (the most lost, for losses);
    /// `None` if there were none.
    pub fn median(runs: &[Outcome]) -> Option<Outcome> {
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
pub struct Row {
    pub workload: &'static Workload,
    pub outcomes: [Option<Outcome>; 5],
}

impl Row {
    pub fn get(&self, kind: Kind, measure: fn(&Outcome) -> f64) -> Option<f64> {
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

    /// The best peer's value of one measure (the highest rate, the lowest
    /// latency), and which peer it is.
    pub fn best_peer(&self, measure: Measure) -> Option<(Kind, f64)> {
        Kind::PEERS
            .iter()
            .filter_map(|&kind| Some((kind, self.get(kind, measure.of)?)))
            .reduce(|best, next| {
                let better = if measure.higher_is_better {
                    next.1 > best.1
                } else {
                    next.1 < best.1
                };
                if better { next } else { best }
            })
    }

    /// One server's measure over the best peer's.
    pub fn to_peer(&self, kind: Kind, measure: Measure) -> Option<f64> {
        Some(self.get(kind, measure.of)? / self.best_peer(measure)?.1)
    }

    /// `top / bottom` of one measure.
    pub fn ratio(&self, top: Kind, bottom: Kind, measure: fn(&Outcome) -> f64) -> Option<f64> {
        Some(self.get(top, measure)? / self.get(bottom, measure)?)
    }
}

/// One of issue 12's targets: a ratio for the workloads of one shape.
struct Target {
    shape: Shape,
    what: &'static str,
    /// The ratio, from one row.
    ratio: fn(&Row) -> Option<f64>,
    /// At least this (a rate) or at most this (a latency).
    bound: f64,
    at_least: bool,
}

const TARGETS: &[Target] = &[
    Target {
        shape: Shape::Closed,
        what: "evented / relay",
        ratio: |row| row.ratio(Kind::Evented, Kind::Relay, RATE.of),
        bound: 0.95,
        at_least: true,
    },
    Target {
        shape: Shape::Closed,
        what: "evented / best peer",
        ratio: |row| row.to_peer(Kind::Evented, RATE),
        bound: 1.5,
        at_least: true,
    },
    Target {
        shape: Shape::Closed,
        what: "threaded / best peer",
        ratio: |row| row.to_peer(Kind::Threaded, RATE),
        bound: 1.0,
        at_least: true,
    },
    Target {
        shape: Shape::FixedRate,
        what: "evented p99 / best peer's",
        ratio: |row| row.to_peer(Kind::Evented, P99),
        bound: 1.0,
        at_least: false,
    },
    Target {
        shape: Shape::FixedRate,
        what: "threaded p99 / best peer's",
        ratio: |row| row.to_peer(Kind::Threaded, P99),
        bound: 1.5,
        at_least: false,
    },
    Target {
        shape: Shape::Pingpong,
        what: "evented / relay",
        ratio: |row| row.ratio(Kind::Evented, Kind::Relay, RATE.of),
        bound: 0.95,
        at_least: true,
    },
    Target {
        shape: Shape::Pingpong,
        what: "threaded / best peer",
        ratio: |row| row.to_peer(Kind::Threaded, RATE),
        bound: 0.75,
        at_least: true,
    },
];

/// Four tables of at most ~110 columns.
pub fn print(rows: &[Row]) {
    let names = || {
        Kind::ALL
            .map(|kind| format!("{:>10}", kind.name()))
            .concat()
    };
    println!(
        "{:<27}{}{:>10}{:>9}{:>9}{:>9}",
        "throughput /s",
        names(),
        "best peer",
        "evt/rly",
        "evt/peer",
        "thr/peer"
    );
    for row in rows {
        println!(
            "{:<27}{}{:>10}{}{}{}",
            row.workload.name,
            row.cells(RATE.of, 10, 0),
            peer_name(row.best_peer(RATE)),
            cell(row.ratio(Kind::Evented, Kind::Relay, RATE.of), 9, 2),
            cell(row.to_peer(Kind::Evented, RATE), 9, 2),
            cell(row.to_peer(Kind::Threaded, RATE), 9, 2),
        );
    }
    println!();
    println!(
        "{:<27}{}{:>10}{:>9}{:>9}",
        "p99 latency, ms",
        names(),
        "best peer",
        "evt/peer",
        "thr/peer"
    );
    for row in rows {
        println!(
            "{:<27}{}{:>10}{}{}",
            row.workload.name,
            row.cells(P99.of, 10, 2),
            peer_name(row.best_peer(P99)),
            cell(row.to_peer(Kind::Evented, P99), 9, 2),
            cell(row.to_peer(Kind::Threaded, P99), 9, 2),
        );
    }
    println!(
        "(p99 compares like with like only at a fixed rate: in a closed loop the faster server queues more)"
    );
    println!();
    println!(
        "{:<27}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}{:>10}",
        "cost; batching; lost",
        "cpu thr",
        "cpu evt",
        "cpu ngd",
        "cpu insp",
        "cpu rly",
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
            per_write(Kind::Threaded),
            per_write(Kind::Evented),
            cell(lost, 10, 0),
        );
    }
    println!("(cpu: server CPU seconds per million deliveries or round trips;");
    println!(" /wr: messages per write call; lost: by all five servers; - : did not run)");
    println!();
    print_targets(rows);
}

/// Each target against each row it applies to.
fn print_targets(rows: &[Row]) {
    println!("targets (this run)");
    for row in rows.iter().filter(|row| row.workload.targeted()) {
        for target in TARGETS.iter().filter(|t| t.shape == row.workload.shape) {
            let verdict = match (target.ratio)(row) {
                Some(ratio) if (ratio >= target.bound) == target.at_least => "met",
                Some(_) => "MISSED",
                None => "-",
            };
            println!(
                "  {:<27} {:<27}{} {} {:<4} {}",
                row.workload.name,
                target.what,
                cell((target.ratio)(row), 6, 2),
                if target.at_least { ">=" } else { "<=" },
                target.bound,
                verdict
            );
        }
    }
    // Issue 14's goal: keeping history costs the fan-out at most 10 %.
    for on in rows.iter().filter(|row| row.workload.history) {
        let Some(off) = rows
            .iter()
            .find(|row| !row.workload.history && row.workload.args == on.workload.args)
        else {
            continue;
        };
        for kind in [Kind::Threaded, Kind::Evented] {
            let ratio = on
                .get(kind, RATE.of)
                .zip(off.get(kind, RATE.of))
                .map(|(on, off)| on / off);
            let verdict = match ratio {
                Some(ratio) if ratio >= 0.9 => "met",
                Some(_) => "MISSED",
                None => "-",
            };
            println!(
                "  {:<27} {:<27}{} >= 0.9  {verdict}",
                on.workload.name,
                format!("{} on / off", kind.name()),
                cell(ratio, 6, 2),
            );
        }
    }
}

fn peer_name(best: Option<(Kind, f64)>) -> String {
    best.map_or("-", |(kind, _)| kind.name()).to_owned()
}

/// A right-aligned number, or `-` where there is none.
pub fn cell(value: Option<f64>, width: usize, precision: usize) -> String {
    match value {
        Some(value) => format!("{value:>width$.precision$}"),
        None => format!("{:>width$}", "-"),
    }
}

/// The ratios a workload's targets use, one per line, for the chart.
pub fn notes(row: &Row, measure: Measure) -> Vec<String> {
    TARGETS
        .iter()
        .filter(|t| t.shape == row.workload.shape && row.workload.targeted())
        .filter(|t| (t.what.contains("p99")) != measure.higher_is_better)
        .filter_map(|t| Some(format!("{} {:.2}", short(t.what), (t.ratio)(row)?)))
        .collect()
}

/// `evt/peer` for `evented / best peer`.
fn short(what: &str) -> String {
    what.replace("evented", "evt")
        .replace("threaded", "thr")
        .replace(" p99", "")
        .replace("best peer's", "peer")
        .replace("best peer", "peer")
        .replace("relay", "rly")
        .replace(" / ", "/")
}
