//! A slow client never delays anyone: its own outbox overflows, it is told
//! what it missed, and one that stays behind is cut off.

use std::io::Write;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, unbounded};

use switchboard::Transport;

use crate::util::{Client, line_addr, server, server_with};

/// How many messages a talker may have in flight to its healthy peer. Below
/// the outbox capacity, so only a client that stops reading can overflow.
const WINDOW: usize = 50;

/// How many messages each talker sends.
const EACH: usize = 8000;

/// Reads `count` messages from `from` in order, skipping event lines, and
/// gives the sender a credit for each; returns the event lines seen.
fn read_messages(
    client: &mut Client,
    from: &str,
    count: usize,
    payload: &str,
    credit: &Sender<()>,
) -> Vec<String> {
    let mut events = Vec::new();
    let mut next = 0;
    while next < count {
        let line = client.next_line().expect("connection open");
        if line.starts_with("* ") {
            events.push(line);
            continue;
        }
        assert_eq!(line, format!("[#busy] <{from}> {next} {payload}"));
        next += 1;
        let _ = credit.send(());
    }
    events
}

/// Starts a talker: one thread sends EACH messages, spending a credit per
/// message beyond the window; another reads the peer's EACH messages and
/// hands out credits for them.
fn talk(
    mut client: Client,
    peer: &'static str,
    payload: &str,
    credits: Receiver<()>,
    credit_peer: Sender<()>,
) -> (JoinHandle<()>, JoinHandle<Vec<String>>) {
    let mut socket = client.sender();
    let said = payload.to_owned();
    let sender = thread::spawn(move || {
        for n in 0..EACH {
            if n >= WINDOW {
                credits.recv().expect("the peer is reading");
            }
            writeln!(socket, "{n} {said}").expect("send");
        }
    });
    let heard = payload.to_owned();
    let reader =
        thread::spawn(move || read_messages(&mut client, peer, EACH, &heard, &credit_peer));
    (sender, reader)
}

fn a_client_that_never_reads_delays_nobody_and_is_cut_off(transport: Transport) {
    // Two talkers exchange 16,000 messages (10 MB) through a room with a
    // client that never reads: more than loopback sockets can buffer for it.
    // Each talker keeps at most WINDOW messages in flight to the other, as a
    // healthy reader keeps up with what it is sent.
    let server = server(transport);
    let addr = line_addr(&server);
    let mut sam = Client::in_room(addr, "sam", "#busy");
    let mut alice = Client::in_room(addr, "alice", "#busy");
    let bob = Client::in_room(addr, "bob", "#busy");
    alice.expect("* bob joined #busy");
    let payload = "p".repeat(600);

    // A reader's credits go to the other talker's sender.
    let (to_alice, alice_credits) = unbounded();
    let (to_bob, bob_credits) = unbounded();
    let talkers = [
        talk(alice, "bob", &payload, alice_credits, to_bob),
        talk(bob, "alice", &payload, bob_credits, to_alice),
    ];
    for (sender, reader) in talkers {
        sender.join().unwrap();
        let events = reader.join().unwrap();
        assert_eq!(
            events,
            ["* sam quit (slow client: 1000 messages dropped)"],
            "got every message and saw sam cut off"
        );
    }

    // Sam, reading at last, gets what was queued, the count of what was
    // dropped (in one or more notices, as its socket took bytes in spurts),
    // and the reason.
    let lines = sam.read_to_end();
    let stats = server.stats();
    assert_eq!(stats.slow_disconnects, 1);
    let missed: u64 = lines
        .iter()
        .filter_map(|line| line.strip_prefix("! missed "))
        .map(|rest| rest.split(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(missed >= 1000);
    assert_eq!(missed, stats.dropped, "every drop is reported");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("! closing: slow client: 1000 messages dropped")
    );
}

fn a_client_that_catches_up_is_told_how_many_messages_it_missed(transport: Transport) {
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
    a_client_that_catches_up_is_told_how_many_messages_it_missed,
);
