//! Rooms, private messages and what everybody in a room sees.

use switchboard::Transport;

use crate::util::{Client, line_addr, server};

fn three_people_in_two_rooms_chat_and_message_privately(transport: Transport) {
    let server = server(transport);
    let addr = line_addr(&server);
    let mut alice = Client::in_room(addr, "alice", "#rust");
    let mut bob = Client::in_room(addr, "bob", "#rust");
    alice.expect("* bob joined #rust");
    let mut carol = Client::in_room(addr, "carol", "#tea");
    bob.join("#tea");
    carol.expect("* bob joined #tea");

    // Bob's current room is #tea, the last he joined.
    bob.send("anyone for tea?");
    carol.expect_next("[#tea] <bob> anyone for tea?");
    bob.send("/msg #rust borrowck says no");
    alice.expect_next("[#rust] <bob> borrowck says no");
    bob.send("/switch #rust");
    bob.expect_next("- now talking in #rust");
    bob.send("/me waves");
    alice.expect_next("[#rust] * bob waves");

    alice.send("/msg Carol psst, tea later?");
    carol.expect_next("[pm] <alice> psst, tea later?");
    carol.send("/msg alice yes!");
    alice.expect_next("[pm] <carol> yes!");
    alice.send("/msg erin hello?");
    alice.expect_next("! error: no such user: erin");

    // Nobody saw what was not meant for them: the next line each reads is
    // this marker.
    alice.send("/msg bob marker");
    bob.expect_next("[pm] <alice> marker");
    bob.send("/msg carol marker");
    carol.expect_next("[pm] <bob> marker");
}

fn the_room_sees_joins_leaves_nick_topic_changes_and_quits(transport: Transport) {
    let server = server(transport);
    let addr = line_addr(&server);
    let mut alice = Client::in_room(addr, "alice", "#room");
    let mut bob = Client::in_room(addr, "bob", "#room");
    alice.expect_next("* bob joined #room");

    alice.send("/topic #room plans for friday");
    alice.expect_next("* alice set the topic of #room: plans for friday");
    bob.expect_next("* alice set the topic of #room: plans for friday");
    bob.send("/topic #room mine now");
    bob.expect_next("! error: you are not an operator of #room");

    bob.send("/nick robert");
    bob.expect_next("* bob is now known as robert");
    alice.expect_next("* bob is now known as robert");

    let mut carol = Client::register(addr, "carol");
    carol.send("/join #room");
    carol.expect_next("* carol joined #room");
    carol.expect_next("- topic of #room: plans for friday (set by alice)");
    carol.expect_next("- members of #room (3): @alice carol robert");
    alice.expect_next("* carol joined #room");
    carol.send("/leave lunch");
    alice.expect_next("* carol left #room (lunch)");
    carol.expect_next("* carol left #room (lunch)");

    bob.send("/quit see you");
    bob.expect("! closing: you quit (see you)");
    assert_eq!(bob.next_line(), None, "the server hangs up after /quit");
    alice.expect_next("* robert quit (see you)");
    alice.send("/who");
    alice.expect_next("- members of #room (1): @alice");
    alice.send("/rooms");
    alice.expect_next("- #room (1): plans for friday");
    alice.expect_next("- 1 room");
}

fn nothing_but_nick_help_and_quit_works_before_a_nickname(transport: Transport) {
    let server = server(transport);
    let mut client = Client::connect(line_addr(&server));
    for line in ["/join #a", "hello", "/rooms", "/msg bob hi", "/who #a"] {
        client.send(line);
        client.expect_next("! error: pick a nickname first: /nick NAME");
    }
    client.send("/help");
    client.expect_next("- commands:");
    client.expect("- plain text goes to the current room");
    client.send("/nick 9lives");
    assert!(
        client
            .expect("! error: invalid nickname: 9lives")
            .contains("1-24 letters")
    );
    client.send("/nick alice");
    client.expect_next("- hello alice! /join #room to enter a room, /rooms to see them all");
}

fn nicknames_are_unique_ignoring_case(transport: Transport) {
    let server = server(transport);
    let addr = line_addr(&server);
    let _alice = Client::register(addr, "alice");
    let mut other = Client::connect(addr);
    other.send("/nick ALICE");
    other.expect_next("! error: nickname in use: ALICE");
    other.send("/nick alice2");
    other.expect_next("- hello alice2! /join #room to enter a room, /rooms to see them all");
}

fn keyed_rooms_need_their_key(transport: Transport) {
    let server = server(transport);
    let addr = line_addr(&server);
    let mut alice = Client::register(addr, "alice");
    alice.send("/join #vault sesame");
    alice.expect("- members of #vault (1): @alice");
    let mut bob = Client::register(addr, "bob");
    bob.send("/join #vault");
    bob.expect_next("! error: wrong or missing key for #vault");
    bob.send("/join #vault sesame");
    bob.expect_next("* bob joined #vault");
}

crate::both_transports!(
    three_people_in_two_rooms_chat_and_message_privately,
    the_room_sees_joins_leaves_nick_topic_changes_and_quits,
    nothing_but_nick_help_and_quit_works_before_a_nickname,
    nicknames_are_unique_ignoring_case,
    keyed_rooms_need_their_key,
);
