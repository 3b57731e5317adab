//! Connections that end without /quit: noticed once, cleaned up once,
//! announced to the rooms.

use std::time::Duration;

use socket2::SockRef;

use switchboard::Transport;

use crate::util::{Client, line_addr, server, wait_until};

/// Alice and Bob share two rooms with a third client; returns all three.
fn trio(addr: std::net::SocketAddr, third: &str) -> (Client, Client, Client) {
    let mut alice = Client::in_room(addr, "alice", "#one");
    alice.join("#two");
    let mut bob = Client::in_room(addr, "bob", "#one");
    bob.join("#two");
    let mut third_client = Client::in_room(addr, third, "#one");
    third_client.join("#two");
    for client in [&mut alice, &mut bob] {
        client.expect(&format!("* {third} joined #two"));
    }
    (alice, bob, third_client)
}

fn a_reset_connection_is_announced_once_and_its_nick_freed(transport: Transport) {
    let server = server(transport);
    let addr = line_addr(&server);
    let (mut alice, mut bob, carol) = trio(addr, "carol");
    // Linger 0 makes close send a RST instead of a FIN.
    SockRef::from(carol.stream())
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(carol);

    alice.expect_next("* carol quit (connection reset)");
    // Once, although carol shared two rooms with alice: the next line is bob's.
    bob.send("/msg #two after");
    alice.expect_next("[#two] <bob> after");
    bob.expect_next("* carol quit (connection reset)");

    let mut again = Client::register(addr, "carol");
    again.send("/rooms");
    again.expect_next("- #one (2)");
    wait_until("the reset connection's threads to end", || {
        server.connections() == 3
    });
}

fn a_closed_connection_is_announced_once(transport: Transport) {
    let server = server(transport);
    let addr = line_addr(&server);
    let (mut alice, mut bob, dave) = trio(addr, "dave");
    dave.stream().shutdown(std::net::Shutdown::Both).unwrap();
    drop(dave);
    alice.expect_next("* dave quit (connection closed)");
    bob.send("/msg #one after");
    alice.expect_next("[#one] <bob> after");
}

fn a_client_that_vanishes_mid_line_loses_only_that_line(transport: Transport) {
    let server = server(transport);
    let addr = line_addr(&server);
    let mut alice = Client::in_room(addr, "alice", "#room");
    let mut erin = Client::in_room(addr, "erin", "#room");
    alice.expect_next("* erin joined #room");
    erin.send_raw(b"complete line\nincomplete li");
    alice.expect_next("[#room] <erin> complete line");
    drop(erin);
    alice.expect_next("* erin quit (connection closed)");
}

crate::both_transports!(
    a_reset_connection_is_announced_once_and_its_nick_freed,
    a_closed_connection_is_announced_once,
    a_client_that_vanishes_mid_line_loses_only_that_line,
);
