//! Connection caps, registration deadline, flood control and write batching.

use std::time::{Duration, Instant};

use switchboard::{Server, Transport};

use crate::util::{Client, heavy, line_addr, server_with, wait_until};

fn the_client_over_max_clients_is_told_and_closed(transport: Transport) {
    let server = server_with(transport, |config| config.max_clients = 2);
    let addr = line_addr(&server);
    let _alice = Client::register(addr, "alice");
    let bob = Client::register(addr, "bob");
    let mut third = Client::connect_quietly(addr);
    assert_eq!(
        third.read_to_end(),
        ["! closing: server full (2 clients), try again later"]
    );
    // A freed place is usable again.
    drop(bob);
    wait_until("bob's place to be freed", || server.connections() == 1);
    let _carol = Client::register(addr, "carol");
    assert_eq!(server.stats().rejected, 1);
}

fn a_connection_without_a_nickname_is_closed_after_the_register_timeout(transport: Transport) {
    let server = server_with(transport, |config| {
        config.register_timeout = Duration::from_secs(1)
    });
    let addr = line_addr(&server);
    let mut idle = Client::connect(addr);
    let mut alice = Client::register(addr, "alice");
    assert_eq!(
        idle.read_to_end(),
        ["! closing: no nickname chosen within 1 s"]
    );
    // Registered clients are not affected.
    alice.send("/msg alice still here");
    alice.expect_next("[pm] <alice> still here");
}

fn flood_control_delays_lines_without_dropping_them(transport: Transport) {
    // 5 lines at once, then 20 per second: 25 lines need at least a second.
    let server = server_with(transport, |config| {
        config.rate = 20.0;
        config.burst = 5;
    });
    let addr = line_addr(&server);
    let mut flooder = Client::in_room(addr, "flooder", "#room");
    let mut reader = Client::in_room(addr, "reader", "#room");
    let start = Instant::now();
    let burst: String = (0..25).map(|n| format!("line {n}\n")).collect();
    flooder.send_raw(burst.as_bytes());
    for n in 0..25 {
        reader.expect_next(&format!("[#room] <flooder> line {n}"));
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(950),
        "25 lines at 20/s after a burst of 5 arrived in {elapsed:?}"
    );
}

/// A server allowing a burst of 5 lines and then 1 a second, with a watcher
/// and a flooder in one room.
fn flood_room(transport: Transport) -> (Server, Client, Client) {
    let server = server_with(transport, |config| {
        config.rate = 1.0;
        config.burst = 5;
    });
    let addr = line_addr(&server);
    let mut watcher = Client::in_room(addr, "watcher", "#room");
    let flooder = Client::in_room(addr, "flooder", "#room");
    watcher.expect_next("* flooder joined #room");
    (server, watcher, flooder)
}

fn a_flooder_that_hangs_up_is_gone_at_once(transport: Transport) {
    // 400 lines at 1 per second would take minutes to play out (and stay
    // under the memory a client may have waiting); the server must notice
    // the hang-up now, not after the backlog.
    let (server, mut watcher, mut flooder) = flood_room(transport);
    let flood: String = (0..400).map(|n| format!("{n}\n")).collect();
    flooder.send_raw(flood.as_bytes());
    flooder.stream().shutdown(std::net::Shutdown::Both).unwrap();
    drop(flooder);
    // At most the burst gets through before the quit.
    let quit = watcher.expect("* flooder quit");
    assert_eq!(quit, "* flooder quit (connection closed)");
    let mut again = Client::register(line_addr(&server), "flooder");
    again.send("/rooms");
    again.expect_next("- #room (1)");
}

fn a_client_that_quits_with_lines_waiting_frees_its_place_at_once(transport: Transport) {
    // The quit goes through in the burst; the 300 lines behind it would
    // take five minutes at 1 a second. The client only half-closes, as
    // `nc -N` does, so its connection ends because the server let go.
    let (server, mut watcher, mut flooder) = flood_room(transport);
    let lines: String = (0..300).map(|n| format!("{n}\n")).collect();
    flooder.send_raw(format!("/quit done\n{lines}").as_bytes());
    flooder
        .stream()
        .shutdown(std::net::Shutdown::Write)
        .unwrap();
    assert_eq!(watcher.expect("* flooder quit"), "* flooder quit (done)");
    assert_eq!(
        flooder.read_to_end().last().map(String::as_str),
        Some("! closing: you quit (done)")
    );
    wait_until("the flooder's place to be freed", || {
        server.connections() == 1
    });
}

fn a_flood_far_over_the_limit_is_cut_off(transport: Transport) {
    let (_server, mut watcher, mut flooder) = flood_room(transport);
    // 100 KiB of lines, more than the 64 KiB a client may have waiting.
    let line = format!("{}\n", "f".repeat(1023));
    for _ in 0..100 {
        flooder.send_raw(line.as_bytes());
    }
    assert_eq!(
        watcher.expect("* flooder quit"),
        "* flooder quit (excess flood)"
    );
    assert_eq!(
        flooder.read_to_end().last().map(String::as_str),
        Some("! closing: excess flood")
    );
}

fn a_writer_that_fell_behind_catches_up_in_few_writes(transport: Transport) {
    let _heavy = heavy();
    // A queue big enough for everything, so nothing is dropped: the sleeper
    // does not read while 9 MB pile up (more than loopback sockets buffer),
    // then reads them all.
    const MESSAGES: usize = 3000;
    let server = server_with(transport, |config| config.sendq = MESSAGES + 10);
    let addr = line_addr(&server);
    let mut talker = Client::in_room(addr, "talker", "#room");
    let mut sleeper = Client::in_room(addr, "sleeper", "#room");
    talker.expect_next("* sleeper joined #room");
    let before = server.stats();
    let text = "z".repeat(3000);
    for n in 0..MESSAGES {
        talker.send(&format!("{n} {text}"));
    }
    // The router handles a client's lines in order: once this comes back,
    // every message above is queued or written.
    talker.send("/msg talker done");
    talker.expect_next("[pm] <talker> done");
    for n in 0..MESSAGES {
        sleeper.expect_next(&format!("[#room] <talker> {n} {text}"));
    }
    // The writer counts a batch after its last byte is out, which may be
    // after the sleeper read it.
    wait_until("the writer's count", || {
        server.stats().written - before.written >= MESSAGES as u64
    });
    let after = server.stats();
    let writes = after.write_calls - before.write_calls;
    let written = after.written - before.written;
    eprintln!("{written} messages in {writes} writes");
    assert!(
        writes * 2 < written,
        "{written} messages took {writes} writes"
    );
}

crate::both_transports!(
    the_client_over_max_clients_is_told_and_closed,
    a_connection_without_a_nickname_is_closed_after_the_register_timeout,
    flood_control_delays_lines_without_dropping_them,
    a_flooder_that_hangs_up_is_gone_at_once,
    a_client_that_quits_with_lines_waiting_frees_its_place_at_once,
    a_flood_far_over_the_limit_is_cut_off,
    a_writer_that_fell_behind_catches_up_in_few_writes,
);
