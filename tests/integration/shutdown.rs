//! Stopping: every client is told, every thread ends, the port closes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchboard::Transport;

use crate::util::{Client, PATIENCE, line_addr, server};

fn stop_tells_every_client_and_joins_every_thread(transport: Transport) {
    let server = server(transport);
    let addr = line_addr(&server);
    let mut clients: Vec<Client> = (0..5)
        .map(|n| Client::in_room(addr, &format!("user{n}"), "#room"))
        .collect();
    let anonymous = Client::connect(addr);
    server.stop();
    for client in clients.iter_mut().chain([anonymous].iter_mut()) {
        assert_eq!(
            client.read_to_end().last().map(String::as_str),
            Some("! closing: server shutting down")
        );
    }
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "nothing listens after stop"
    );
}

fn stop_does_not_wait_forever_for_a_client_that_never_reads(transport: Transport) {
    let server = crate::util::server_with(transport, |config| {
        config.shutdown_timeout = Duration::from_millis(200);
        config.sendq = 100_000;
    });
    let addr = line_addr(&server);
    let _stuck = Client::in_room(addr, "stuck", "#room");
    let mut talker = Client::in_room(addr, "talker", "#room");
    // Far more than the socket buffers hold, so stuck's writer is blocked.
    let text = "x".repeat(4000);
    for _ in 0..5000 {
        talker.send(&text);
    }
    talker.send("/msg talker sync");
    talker.expect("[pm] <talker> sync");
    let start = Instant::now();
    server.stop();
    assert!(
        start.elapsed() < PATIENCE,
        "stop took {:?}",
        start.elapsed()
    );
}

/// Kills the child process if the test fails before it exits, so no server
/// outlives its test (holding the test's output open).
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sigterm_stops_the_binary_cleanly(transport: Transport) {
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["--line-listen", "127.0.0.1:0", "--irc-listen", "off"])
        .args(["--transport", &transport.to_string()])
        // No database file left behind in the working directory.
        .args(["--db", ":memory:"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the binary");
    let mut reaper = Reaper(child);
    let child = &mut reaper.0;
    // The log says where it listens.
    let mut log = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = log
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            line.split_once("serving the line protocol on ")
                .map(|(_, addr)| addr.trim().parse().unwrap())
        })
        .expect("the listening address in the log");
    let mut alice = Client::in_room(addr, "alice", "#room");

    // The shell's own `kill`, so no extra package is needed.
    let status = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        alice.read_to_end().last().map(String::as_str),
        Some("! closing: server shutting down")
    );
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status}");
    assert!(
        log.map_while(Result::ok)
            .any(|line| line.contains("stopped"))
    );
}

crate::both_transports!(
    stop_tells_every_client_and_joins_every_thread,
    stop_does_not_wait_forever_for_a_client_that_never_reads,
    sigterm_stops_the_binary_cleanly,
);
