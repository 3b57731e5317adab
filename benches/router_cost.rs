//! `cargo bench --bench router_cost`: what one line costs the router.
//!
//! The router is one thread that every client waits on, so the work a
//! single line can make it do is a stall for everybody. This drives a
//! `Router` with no sockets, as the evented loop does, with 10,000
//! registered IRC clients, 3,000 of them in one room, and times the most
//! expensive lines an ordinary member can send (and, for scale, ordinary
//! ones). Each line runs several times; the table shows the median
//! microseconds per line. Outboxes are emptied between runs, outside the
//! timing, as writers would.

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard::Config;
use switchboard::client::{self, ClientId, Inbox};
use switchboard::protocol::Protocol;
use switchboard::router::{Input, Router, Services};
use switchboard::stats::Stats;

const CLIENTS: u64 = 10_000;
const ROOM_MEMBERS: u64 = 3_000;
const RUNS: usize = 15;

struct Bench {
    router: Router,
    inboxes: Vec<Inbox>,
    now: Instant,
}

impl Bench {
    fn new() -> Bench {
        let config = Config::default();
        let stats = Arc::new(Stats::default());
        let mut bench = Bench {
            router: Router::new(&config, Arc::clone(&stats), Services::none()),
            inboxes: Vec::new(),
            now: Instant::now(),
        };
        for n in 1..=CLIENTS {
            let (outbox, inbox) = client::outbox(100, 1 << 20, Arc::clone(&stats), None, None);
            bench.inboxes.push(inbox);
            let input = Input::Connected {
                id: ClientId(n),
                outbox,
                peer: ([127, 0, 0, 1], 40_000).into(),
                protocol: Protocol::Irc,
                link: Default::default(),
            };
            bench.router.handle(input, bench.now);
            bench.line(n, &format!("NICK user{n}"));
            bench.line(n, &format!("USER u{n} 0 * :User {n}"));
            if n <= ROOM_MEMBERS {
                bench.line(n, "JOIN #big");
            }
            bench.drain();
        }
        bench
    }

    /// Hands the router one line from client `n`, decoded as IRC.
    fn line(&mut self, n: u64, line: &str) {
        if let Some(request) = Protocol::Irc.decode(line.as_bytes()) {
            self.router
                .handle(Input::Request(ClientId(n), request), self.now);
            self.router.end_run(self.now);
        }
    }

    /// Empties every outbox, as the writers would.
    fn drain(&mut self) {
        for inbox in &self.inboxes {
            let mut weight = 0;
            for queued in inbox.take(usize::MAX).events {
                weight += queued.message.weight() as u64;
            }
            inbox.mailbox.took(weight);
        }
    }

    /// The median time the router takes for `line` from client `n`;
    /// `undo` (from the same client) runs after each, untimed.
    fn time(&mut self, n: u64, line: &str, undo: Option<&str>) -> Duration {
        let mut times = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let start = Instant::now();
            self.line(n, line);
            times.push(start.elapsed());
            if let Some(undo) = undo {
                self.line(n, undo);
            }
            self.drain();
        }
        times.sort();
        times[RUNS / 2]
    }
}

fn main() {
    // `cargo test` runs benches with --bench absent: nothing to measure then.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let built = Instant::now();
    let mut bench = Bench::new();
    println!(
        "router cost: {CLIENTS} clients, {ROOM_MEMBERS} in #big (set up in {:.1} s)",
        built.elapsed().as_secs_f64()
    );
    // Client 1 created #big and is its operator; the last client is in no room.
    let outsider = CLIENTS;
    let repeated = vec!["#big"; 95].join(",");
    let long_mask = format!("{}!*@*", "*a?".repeat(166));
    let cases: Vec<(&str, String, u64, Option<String>)> = vec![
        (
            "PRIVMSG #big (baseline)",
            "PRIVMSG #big :hello".into(),
            2,
            None,
        ),
        (
            "PRIVMSG #big,#big... (95 times)",
            format!("PRIVMSG {repeated} :hello"),
            2,
            None,
        ),
        (
            "WHO 500-byte mask, no match",
            format!("WHO {}", "x".repeat(500)),
            outsider,
            None,
        ),
        (
            "WHO 500-byte wildcard mask",
            format!("WHO {long_mask}"),
            outsider,
            None,
        ),
        (
            "WHO *!*@*.example (no match)",
            "WHO *!*@*.example".into(),
            outsider,
            None,
        ),
        ("WHO #big", "WHO #big".into(), 2, None),
        ("WHO user5000 (a nick)", "WHO user5000".into(), 2, None),
        (
            "MODE #big +o x 490, no args",
            format!("MODE #big +{}", "o".repeat(490)),
            1,
            None,
        ),
        (
            "MODE #big +oooo 4 members",
            "MODE #big +vvvv user2 user3 user4 user5".into(),
            1,
            Some("MODE #big -vvvv user2 user3 user4 user5".into()),
        ),
        ("NAMES #big", "NAMES #big".into(), 2, None),
        (
            "JOIN #big (and PART)",
            "JOIN #big".into(),
            outsider,
            Some("PART #big".into()),
        ),
        ("LIST", "LIST".into(), outsider, None),
        ("WHOIS user2", "WHOIS user2".into(), outsider, None),
    ];
    println!("{:<36} {:>10}", "line", "µs/line");
    for (name, line, from, undo) in &cases {
        let median = bench.time(*from, line, undo.as_deref());
        println!("{name:<36} {:>10.1}", median.as_secs_f64() * 1e6);
    }
}
