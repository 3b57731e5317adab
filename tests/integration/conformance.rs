//! What real clients tripped over (issue 10): terminal escapes, long lines,
//! CTCP, telnet's Ctrl-C, operators, and the small things clients show.

use argon2::password_hash::PasswordHasher;
use argon2::{Algorithm, Argon2, Params, Version};
use switchboard::Transport;
use switchboard::config::Oper;

use crate::util::{Client, irc_addr, line_addr, numeric, server, server_with};

fn control_characters_other_than_formatting_reach_nobody(transport: Transport) {
    let server = server(transport);
    let mut ivy = Client::irc(irc_addr(&server), "ivy");
    ivy.send("JOIN #r");
    ivy.expect_numeric("366");
    let mut ned = Client::in_room(line_addr(&server), "ned", "#r");
    let mut liz = Client::in_room(line_addr(&server), "liz", "#r");
    ivy.expect_numeric("JOIN");
    ivy.expect_numeric("JOIN");
    ned.send("\x1b[31mred\x07 and \x02bold\x02");
    ivy.expect_next(":ned!~ned@127.0.0.1 PRIVMSG #r :[31mred and \x02bold\x02");
    liz.expect_next("[#r] <ned> [31mred and bold");
    // Nor from IRC clients, CTCP's \x01 aside.
    ivy.send("PRIVMSG #r :\x1b]0;title\x07 ok");
    liz.expect_next("[#r] <ivy> ]0;title ok");
}

fn long_messages_reach_irc_clients_in_lines_that_fit(transport: Transport) {
    let server = server(transport);
    let mut ivy = Client::irc(irc_addr(&server), "ivy");
    ivy.send("CAP REQ :message-tags");
    ivy.expect_numeric("CAP");
    ivy.send("JOIN #r");
    ivy.expect_numeric("366");
    let mut ned = Client::in_room(line_addr(&server), "ned", "#r");
    let mut liz = Client::in_room(line_addr(&server), "liz", "#r");
    ivy.expect_numeric("JOIN");
    ivy.expect_numeric("JOIN");
    // Two-byte characters, so a careless cut would split one.
    let text = format!("{} {}", "é".repeat(400), "ü".repeat(300));
    ned.send(&text);
    liz.expect_next(&format!("[#r] <ned> {text}"));
    // Pieces are cut at the space or between characters; spaces aside,
    // they add up to the text.
    let unspaced = text.replace(' ', "");
    let mut received = String::new();
    let mut msgids = Vec::new();
    while received.len() < unspaced.len() {
        let line = ivy.expect_numeric("PRIVMSG");
        let (tags, message) = line.split_once(' ').expect("tags");
        assert!(
            message.len() + 2 <= 512,
            "{} bytes: {message}",
            message.len()
        );
        msgids.push(tags.to_owned());
        let (_, piece) = message.split_once(" :").expect("text");
        received.push_str(&piece.replace(' ', ""));
    }
    assert_eq!(received, unspaced);
    let lines = msgids.len();
    assert!(lines >= 3, "{msgids:?}");
    msgids.sort();
    msgids.dedup();
    assert_eq!(msgids.len(), lines, "each line has its own msgid");
}

fn ctcp_queries_to_line_users_are_answered_for_them(transport: Transport) {
    let server = server(transport);
    let mut ivy = Client::irc(irc_addr(&server), "ivy");
    let mut ned = Client::register(line_addr(&server), "ned");
    ivy.send("PRIVMSG ned :\x01PING 1234\x01");
    ivy.expect_next(":ned!~ned@127.0.0.1 NOTICE ivy :\x01PING 1234\x01");
    ivy.send("PRIVMSG ned :\x01VERSION\x01");
    let version = ivy.expect_numeric("NOTICE");
    assert!(
        version.starts_with(":ned!~ned@127.0.0.1 NOTICE ivy :\x01VERSION switchboard-"),
        "{version}"
    );
    ivy.send("PRIVMSG ned :\x01FINGER\x01");
    // The answered queries were never shown: this is the first line.
    ned.expect_next("[pm] * ivy sent CTCP FINGER");
    ned.send("/msg ivy /me waves");
    ivy.expect_next(":ned!~ned@127.0.0.1 PRIVMSG ivy :\x01ACTION waves\x01");
    ivy.send("NOTICE ned :\x01VERSION irssi 1.4\x01");
    ned.expect_next("[pm] -ivy- CTCP reply: VERSION irssi 1.4");
}

fn telnet_ctrl_c_is_answered_and_the_session_goes_on(transport: Transport) {
    let server = server(transport);
    let mut ned = Client::register(line_addr(&server), "ned");
    // What telnet sends for Ctrl-C, after half a line typed.
    ned.send_raw(b"/quit half-typed\xff\xf4\xff\xfd\x06");
    assert_eq!(ned.next_bytes(3), [255, 252, 6], "IAC WONT TIMING-MARK");
    ned.send("/rooms");
    ned.expect_next("- no rooms yet: /join #name creates one");
}

fn line_users_read_the_motd_and_have_a_real_name(transport: Transport) {
    let server = server_with(transport, |config| {
        config.motd = Some("be nice".into());
    });
    let mut ned = Client::connect(line_addr(&server));
    ned.send("/nick ned");
    ned.expect_next("- hello ned! /join #room to enter a room, /rooms to see them all");
    ned.expect_next("- be nice");
    let mut ivy = Client::irc(irc_addr(&server), "ivy");
    ivy.send("WHOIS ned");
    let whois = ivy.expect_numeric("311");
    let realname = whois.split(" :").nth(1).expect("a real name");
    assert!(!realname.trim().is_empty(), "{whois}");
}

/// A cheap Argon2id hash: tests wait microseconds, not tens of milliseconds.
fn cheap_hash(password: &str) -> String {
    let params = Params::new(8, 1, 1, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes())
        .unwrap()
        .to_string()
}

fn operators_kill_and_send_wallops(transport: Transport) {
    let server = server_with(transport, |config| {
        config.opers = vec![Oper {
            name: "admin".into(),
            hash: cheap_hash("sesame"),
        }];
    });
    let mut ivy = Client::irc(irc_addr(&server), "ivy");
    let mut ned = Client::register(line_addr(&server), "ned");
    let mut bob = Client::irc(irc_addr(&server), "bob");
    ivy.send("OPER admin wrong");
    ivy.expect_next(":test.server 464 ivy :Password incorrect");
    ned.send("/oper admin sesame");
    ned.expect_next("- you are now a server operator");
    ned.expect_next("* ned set mode +o on ned");
    ivy.send("MODE ivy +w");
    ivy.expect_next(":ivy!~ivy@127.0.0.1 MODE ivy +w");
    ned.send("/wallops back in five");
    ivy.expect_next(":ned!~ned@127.0.0.1 WALLOPS :back in five");
    ivy.send("WHO ned");
    let row = ivy.expect_numeric("352");
    assert!(row.contains(" H* :0 "), "{row}");
    ivy.expect_numeric("315");
    ivy.send("KILL bob :nope");
    ivy.expect_next(":test.server 481 ivy :Permission Denied- You're not an IRC operator");
    ned.send("/kill bob spamming");
    let last = bob.read_to_end().pop().unwrap();
    assert_eq!(
        last,
        "ERROR :Closing Link: 127.0.0.1 (Killed (ned (spamming)))"
    );
    ivy.send("WHOWAS bob");
    assert_eq!(numeric(&ivy.expect_numeric("314")), Some("314"));
    ivy.expect_numeric("369");
}

crate::both_transports!(
    control_characters_other_than_formatting_reach_nobody,
    long_messages_reach_irc_clients_in_lines_that_fit,
    ctcp_queries_to_line_users_are_answered_for_them,
    telnet_ctrl_c_is_answered_and_the_session_goes_on,
    line_users_read_the_motd_and_have_a_real_name,
    operators_kill_and_send_wallops,
);
