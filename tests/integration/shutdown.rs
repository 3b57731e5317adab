//! Stopping: every client is told, every thread ends, the port closes.

use std::process::Command;
use std::time::{Duration, Instant};

use switchboard::Transport;

use crate::util::{Binary, Client, PATIENCE, line_addr, server};

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

fn sigterm_stops_the_binary_cleanly(transport: Transport) {
    let mut binary = Binary::start(transport, &[]);
    let mut alice = Client::in_room(binary.addr, "alice", "#room");

    // The shell's own `kill`, so no extra package is needed.
    let status = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", binary.pid())])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        alice.read_to_end().last().map(String::as_str),
        Some("! closing: server shutting down")
    );
    let status = binary.wait();
    assert!(status.success(), "exit status {status}");
    assert!(
        binary
            .log_line("the last words", |line| line
                .contains("stopped")
                .then_some(()))
            .is_some()
    );
}

crate::both_transports!(
    stop_tells_every_client_and_joins_every_thread,
    stop_does_not_wait_forever_for_a_client_that_never_reads,
    sigterm_stops_the_binary_cleanly,
);
