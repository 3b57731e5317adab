//! Slow is decided at the socket: a client that keeps reading gets every
//! message whatever the burst, while one that stops reading never delays
//! anyone: its own outbox overflows, it is told what it missed, and if it
//! stays behind it is cut off.

use std::io::Write;
use std::net::Shutdown;
use std::thread::{self, JoinHandle};

use switchboard::{Config, Transport};

use crate::util::{Binary, Client, heavy, line_addr, server, server_with};

/// Reads `count` messages said by `from` in `room` in order, numbered from
/// 0 and followed by `payload`; returns every other line seen meanwhile.
fn read_messages(
    client: &mut Client,
    room: &str,
    from: &str,
    count: usize,
    payload: &str,
) -> Vec<String> {
    let mut others = Vec::new();
    let mut next = 0;
    let prefix = format!("[{room}] <{from}> ");
    // Checked in place, with no allocation per line: a reader that is to
    // keep up with a flood must not be slowed down by its own checks.
    let mut line = Vec::new();
    while next < count {
        assert!(client.next_line_into(&mut line), "connection open");
        let Some(said) = line.strip_prefix(prefix.as_bytes()) else {
            others.push(String::from_utf8_lossy(&line).into_owned());
            continue;
        };
        let (number, text) = said.split_at(said.iter().position(|&byte| byte == b' ').unwrap_or(0));
        let number: Option<usize> = std::str::from_utf8(number)
            .ok()
            .and_then(|n| n.parse().ok());
        if (number, &text[1.min(text.len())..]) != (Some(next), payload.as_bytes()) {
            panic!(
                "expected {next}, got {:.80}",
                String::from_utf8_lossy(&line)
            );
        }
        next += 1;
    }
    others
}

/// Reads in a thread of its own, as a client that keeps up does.
fn keep_reading(
    mut client: Client,
    room: &'static str,
    from: &'static str,
    count: usize,
    payload: &str,
) -> JoinHandle<Vec<String>> {
    let payload = payload.to_owned();
    thread::spawn(move || read_messages(&mut client, room, from, count, &payload))
}

/// Alice and bob, both in #busy, each send `each` lines of `payload` as
/// fast as they can while reading the other's in a thread of their own;
/// what each read after the other's last message.
pub fn exchange(alice: Client, bob: Client, each: usize, payload: &str) -> [Vec<String>; 2] {
    let talk = |client: &Client| {
        let mut socket = client.sender();
        let said = payload.to_owned();
        thread::spawn(move || {
            for n in 0..each {
                writeln!(socket, "{n} {said}").expect("send");
            }
        })
    };
    let senders = [talk(&alice), talk(&bob)];
    let readers = [
        keep_reading(alice, "#busy", "bob", each, payload),
        keep_reading(bob, "#busy", "alice", each, payload),
    ];
    for sender in senders {
        sender.join().unwrap();
    }
    readers.map(|reader| reader.join().unwrap())
}

/// What a client that fell behind reads at last: how many messages it was
/// told it missed (in one notice or several, as its socket took bytes in
/// spurts) and its last line.
fn missed_and_last(client: &mut Client) -> (u64, Option<String>) {
    let lines = client.read_to_end();
    let missed = lines
        .iter()
        .filter_map(|line| line.strip_prefix("! missed "))
        .map(|rest| rest.split(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    (missed, lines.last().cloned())
}

fn a_client_that_never_reads_delays_nobody_and_is_cut_off(transport: Transport) {
    let _heavy = heavy();
    // Two talkers exchange 16,000 messages (10 MB) as fast as they can
    // through a room with a client that never reads: more than loopback
    // sockets can buffer for it.
    const EACH: usize = 8000;
    let server = server(transport);
    let addr = line_addr(&server);
    let mut sam = Client::in_room(addr, "sam", "#busy");
    let mut alice = Client::in_room(addr, "alice", "#busy");
    let bob = Client::in_room(addr, "bob", "#busy");
    alice.expect("* bob joined #busy");
    let payload = "p".repeat(600);
    for rest in exchange(alice, bob, EACH, &payload) {
        assert_eq!(
            rest,
            ["* sam quit (slow client: 1000 messages dropped)"],
            "got every message and saw sam cut off"
        );
    }
    // Sam, reading at last, gets what was queued, the count of what was
    // dropped, and the reason.
    let (missed, last) = missed_and_last(&mut sam);
    let stats = server.stats();
    assert_eq!(stats.slow_disconnects, 1);
    assert!(missed >= 1000);
    assert_eq!(
        missed, stats.dropped,
        "every drop is reported, all of them sam's"
    );
    assert_eq!(
        last.as_deref(),
        Some("! closing: slow client: 1000 messages dropped")
    );
}

fn a_paste_reaches_every_reader_and_cuts_only_the_one_that_never_reads(transport: Transport) {
    let _heavy = heavy();
    // 5,000 lines (8 MB) in one write, with no flood control: 50 times the
    // outbox, and more than the kernel (up to 4 MB here) and 2 MiB of
    // `--sendq-bytes` hold for one that never reads, while a reader that
    // reads at all keeps well inside them. It is cut after 100 drops.
    const LINES: usize = 5000;
    let binary = Binary::start(
        transport,
        &[
            "--rate",
            "0",
            "--sendq-bytes",
            "2097152",
            "--slow-drops",
            "100",
        ],
    );
    let addr = binary.addr;
    let mut paster = Client::in_room(addr, "paster", "#paste");
    let mut stone = Client::connect_narrow(addr, 4096).named("stone");
    stone.join("#paste");
    let mut ann = Client::in_room(addr, "ann", "#paste");
    let ben = Client::in_room(addr, "ben", "#paste");
    ann.expect("* ben joined #paste");
    paster.expect("* ben joined #paste");
    let before = binary.peak_memory_kib();

    let payload = "q".repeat(1600);
    let paste: String = (0..LINES).map(|n| format!("{n} {payload}\n")).collect();
    let readers =
        [ann, ben].map(|reader| keep_reading(reader, "#paste", "paster", LINES, &payload));
    paster.send_raw(paste.as_bytes());
    for reader in readers {
        assert_eq!(
            reader.join().unwrap(),
            ["* stone quit (slow client: 100 messages dropped)"],
            "every line, in order, no notice, and stone cut off"
        );
    }
    let (missed, last) = missed_and_last(&mut stone);
    assert!(missed >= 100, "stone missed {missed}");
    assert_eq!(
        last.as_deref(),
        Some("! closing: slow client: 100 messages dropped")
    );
    // The server holds at most `--sendq-bytes` for the one that stopped
    // reading, and what the readers are about to get.
    let grown = binary.peak_memory_kib().saturating_sub(before);
    assert!(grown < 32 * 1024, "the server grew by {grown} KiB");
}

fn a_crowd_speaking_at_once_reaches_a_reader_whole(transport: Transport) {
    let _heavy = heavy();
    // The default flags: flood control on, the default outbox.
    const SENDERS: usize = 300;
    let defaults = Config::default();
    let server = server_with(transport, |config| {
        config.rate = defaults.rate;
        config.burst = defaults.burst;
    });
    let addr = line_addr(&server);
    let mut ear = Client::in_room(addr, "ear", "#crowd");
    let mut senders: Vec<Client> = (0..SENDERS)
        .map(|n| Client::in_room(addr, &format!("s{n}"), "#crowd"))
        .collect();
    ear.expect(&format!("* s{} joined #crowd", SENDERS - 1));
    for round in 0..3 {
        for sender in &mut senders {
            sender.send(&format!("line {round}"));
        }
    }
    let mut next = vec![0; SENDERS];
    for _ in 0..SENDERS * 3 {
        let line = ear.next_line().expect("connection open");
        let (nick, said) = line
            .strip_prefix("[#crowd] <s")
            .and_then(|rest| rest.split_once("> "))
            .unwrap_or_else(|| panic!("not a message: {line}"));
        let sender: usize = nick.parse().unwrap();
        assert_eq!(
            said,
            format!("line {}", next[sender]),
            "s{sender}'s lines in order"
        );
        next[sender] += 1;
    }
    assert_eq!(server.stats().dropped, 0);
}

fn lines_waiting_for_flood_control_outlive_a_half_close(transport: Transport) {
    const LINES: usize = 300;
    let server = server_with(transport, |config| {
        config.rate = 500.0;
        config.burst = 20;
    });
    let addr = line_addr(&server);
    let mut room = Client::in_room(addr, "room", "#print");
    let mut printer = Client::in_room(addr, "printer", "#print");
    room.expect("* printer joined #print");
    let text: String = (0..LINES).map(|n| format!("page {n}\n")).collect();
    printer.send_raw(text.as_bytes());
    // As `nc -N` does once its input ends: it still reads.
    printer.stream().shutdown(Shutdown::Write).unwrap();
    for n in 0..LINES {
        room.expect_next(&format!("[#print] <printer> page {n}"));
    }
    room.expect_next("* printer quit (connection closed)");
    printer.expect("- you closed your end: ");
    assert_eq!(
        printer.read_to_end().last().map(String::as_str),
        Some("! closing: connection closed")
    );
}

fn a_client_that_catches_up_is_told_how_many_messages_it_missed(transport: Transport) {
    let _heavy = heavy();
    let server = server_with(transport, |config| {
        config.sendq = 10;
        config.slow_drops = u64::MAX;
    });
    let addr = line_addr(&server);
    let mut sleepy = Client::in_room(addr, "sleepy", "#busy");
    let mut talker = Client::in_room(addr, "talker", "#busy");
    sleepy.expect_next("* talker joined #busy");
    let payload = "q".repeat(1000);
    // Talk until the sleeper's socket buffers and outbox are full and
    // messages are being dropped, whatever the kernel's buffer sizes.
    let mut sent = 0;
    while server.stats().dropped == 0 {
        assert!(sent < 100_000, "nothing was ever dropped");
        talker.send(&format!("{sent} {payload}"));
        sent += 1;
        if sent % 100 == 0 {
            talker.send("/msg talker sync");
            talker.expect_next("[pm] <talker> sync");
        }
    }
    // Once the router echoes this, it has handled every message above.
    talker.send("/msg talker sync");
    talker.expect_next("[pm] <talker> sync");
    let dropped = server.stats().dropped;
    // Now read: the queued messages, and the count of the dropped ones in
    // one notice or a few (the socket may have taken bytes in spurts).
    let (mut received, mut missed) = (0, 0);
    while received + missed < sent {
        let line = sleepy.next_line().expect("open");
        if let Some(count) = line.strip_prefix("! missed ") {
            missed += count.split(' ').next().unwrap().parse::<usize>().unwrap();
        } else {
            assert!(line.starts_with("[#busy] <talker> "), "{line}");
            received += 1;
        }
    }
    assert_eq!(missed as u64, dropped);
    assert_eq!(received + missed, sent);
    talker.send("back to normal");
    sleepy.expect_next("[#busy] <talker> back to normal");
}

crate::both_transports!(
    a_client_that_never_reads_delays_nobody_and_is_cut_off,
    a_paste_reaches_every_reader_and_cuts_only_the_one_that_never_reads,
    a_crowd_speaking_at_once_reaches_a_reader_whole,
    lines_waiting_for_flood_control_outlive_a_half_close,
    a_client_that_catches_up_is_told_how_many_messages_it_missed,
);
