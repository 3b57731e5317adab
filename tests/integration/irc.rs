//! IRC over real sockets: registration, commands, numerics in order,
//! capabilities, and IRC users meeting line users.

use switchboard::Transport;

use crate::util::{Client, irc_addr, line_addr, numeric, server, server_with};

/// The line with this numeric must be the next one.
fn next_numeric(client: &mut Client, code: &str) -> String {
    let line = client.next_line().expect("connection open");
    assert_eq!(numeric(&line), Some(code), "expected {code}, got {line:?}");
    line
}

fn registration_with_capabilities_gives_the_welcome_burst_in_order(transport: Transport) {
    let server = server(transport);
    let mut client = Client::connect_quietly(irc_addr(&server));
    client.send("CAP LS 302");
    client.send("NICK alice");
    client.send("USER alice 0 * :Alice Liddell");
    let ls = client.next_line().unwrap();
    assert!(
        ls.starts_with(":test.server CAP * LS :cap-notify multi-prefix server-time"),
        "{ls}"
    );
    for cap in [
        "away-notify",
        "userhost-in-names",
        "echo-message",
        "invite-notify",
        "setname",
    ] {
        assert!(ls.contains(cap), "{cap} in {ls}");
    }
    client.send("CAP REQ :multi-prefix draft/multiline");
    client.expect_next(":test.server CAP * NAK :multi-prefix draft/multiline");
    client.send("CAP REQ :multi-prefix userhost-in-names");
    client.expect_next(":test.server CAP * ACK :multi-prefix userhost-in-names");
    client.send("CAP LIST");
    client.expect_next(":test.server CAP * LIST :cap-notify multi-prefix userhost-in-names");
    client.send("CAP END");
    let welcome = next_numeric(&mut client, "001");
    assert_eq!(
        welcome,
        ":test.server 001 alice :Welcome to the switchboard IRC network, alice!~alice@127.0.0.1"
    );
    next_numeric(&mut client, "002");
    next_numeric(&mut client, "003");
    assert!(
        next_numeric(&mut client, "004")
            .starts_with(":test.server 004 alice test.server switchboard-")
    );
    let isupport = [
        next_numeric(&mut client, "005"),
        next_numeric(&mut client, "005"),
    ]
    .join(" ");
    for token in [
        "CASEMAPPING=ascii",
        "CHANTYPES=#",
        "PREFIX=(ov)@+",
        "CHANMODES=b,k,l,imnst",
        "NICKLEN=24",
        "CHANNELLEN=50",
        "TOPICLEN=390",
        "MODES=4",
        "TARGMAX=",
        "WHOX",
        "NETWORK=switchboard",
    ] {
        assert!(isupport.contains(token), "{token} in {isupport}");
    }
    for code in ["251", "254", "255", "265", "266", "422"] {
        next_numeric(&mut client, code);
    }
}

fn commands_before_registration_get_451_and_a_taken_nick_433(transport: Transport) {
    let server = server(transport);
    let addr = irc_addr(&server);
    let _alice = Client::irc(addr, "alice");
    let mut client = Client::connect_quietly(addr);
    client.send("JOIN #a");
    client.expect_next(":test.server 451 * :You have not registered");
    client.send("NICK Alice");
    client.expect_next(":test.server 433 * Alice :Nickname is already in use");
    client.send("NICK 1bad");
    client.expect_next(":test.server 432 * 1bad :Erroneous nickname");
    client.send("USER bob 0 * :Bob");
    client.send("NICK bob");
    next_numeric(&mut client, "001");
    client.expect_numeric("422");
    client.send("USER bob 0 * :Again");
    client.expect_next(":test.server 462 bob :You may not reregister");
}

fn irc_and_line_users_share_a_room(transport: Transport) {
    let server = server(transport);
    let mut alice = Client::irc(irc_addr(&server), "alice");
    alice.send("JOIN #mixed");
    alice.expect_next(":alice!~alice@127.0.0.1 JOIN #mixed");
    alice.expect_next(":test.server 353 alice = #mixed :@alice");
    alice.expect_next(":test.server 366 alice #mixed :End of /NAMES list");

    let mut bob = Client::in_room(line_addr(&server), "bob", "#mixed");
    alice.expect_next(":bob!~bob@127.0.0.1 JOIN #mixed");
    bob.send("hello irc");
    alice.expect_next(":bob!~bob@127.0.0.1 PRIVMSG #mixed :hello irc");
    alice.send("PRIVMSG #mixed :hello line");
    bob.expect_next("[#mixed] <alice> hello line");
    alice.send("PRIVMSG #mixed :\u{1}ACTION waves\u{1}");
    bob.expect_next("[#mixed] * alice waves");
    alice.send("PRIVMSG bob :psst");
    bob.expect_next("[pm] <alice> psst");
    bob.send("/msg alice hi back");
    alice.expect_next(":bob!~bob@127.0.0.1 PRIVMSG alice :hi back");

    alice.send("TOPIC #mixed :both worlds");
    alice.expect_next(":alice!~alice@127.0.0.1 TOPIC #mixed :both worlds");
    bob.expect_next("* alice set the topic of #mixed: both worlds");
    alice.send("NICK alicia");
    alice.expect_next(":alice!~alice@127.0.0.1 NICK alicia");
    bob.expect_next("* alice is now known as alicia");
    alice.send("MODE #mixed +v bob");
    alice.expect_next(":alicia!~alice@127.0.0.1 MODE #mixed +v bob");
    bob.expect_next("* alicia set mode +v bob on #mixed");
    bob.send("/nick robert");
    bob.expect_next("* bob is now known as robert");
    alice.expect_next(":bob!~bob@127.0.0.1 NICK robert");
    alice.send("KICK #mixed robert :enough");
    alice.expect_next(":alicia!~alice@127.0.0.1 KICK #mixed robert :enough");
    bob.expect_next("* robert was kicked from #mixed by alicia (enough)");
    alice.send("PART #mixed :bye");
    alice.expect_next(":alicia!~alice@127.0.0.1 PART #mixed :bye");
    alice.send("QUIT :done");
    alice.expect_next("ERROR :Closing Link: 127.0.0.1 (Quit: done)");
}

fn joining_shows_topic_names_and_quits_reach_the_room(transport: Transport) {
    let server = server(transport);
    let addr = irc_addr(&server);
    let mut alice = Client::irc(addr, "alice");
    alice.send("JOIN #a,#b");
    alice.expect_numeric("366");
    alice.expect_numeric("366");
    alice.send("TOPIC #a :the topic");
    alice.expect_numeric("TOPIC");
    let mut bob = Client::irc(addr, "bob");
    bob.send("JOIN #a");
    bob.expect_next(":bob!~bob@127.0.0.1 JOIN #a");
    alice.expect_next(":bob!~bob@127.0.0.1 JOIN #a");
    bob.expect_next(":test.server 332 bob #a :the topic");
    // The setter's whole mask, as clients show it.
    assert!(
        next_numeric(&mut bob, "333")
            .starts_with(":test.server 333 bob #a alice!~alice@127.0.0.1 ")
    );
    bob.expect_next(":test.server 353 bob = #a :@alice bob");
    next_numeric(&mut bob, "366");
    bob.send("TOPIC #a");
    next_numeric(&mut bob, "332");
    next_numeric(&mut bob, "333");
    bob.send("TOPIC #a :mine");
    bob.expect_next(":test.server 482 bob #a :You're not channel operator");
    alice.send("JOIN 0");
    let parts = [alice.next_line().unwrap(), alice.next_line().unwrap()];
    assert!(
        parts.contains(&":alice!~alice@127.0.0.1 PART #a".to_owned()),
        "{parts:?}"
    );
    assert!(
        parts.contains(&":alice!~alice@127.0.0.1 PART #b".to_owned()),
        "{parts:?}"
    );
    bob.expect_next(":alice!~alice@127.0.0.1 PART #a");
    alice.send("JOIN #a");
    bob.expect_next(":alice!~alice@127.0.0.1 JOIN #a");
    alice.send("QUIT :gone");
    bob.expect_next(":alice!~alice@127.0.0.1 QUIT :gone");
}

fn channel_modes_keys_limits_invites_and_bans(transport: Transport) {
    let server = server(transport);
    let addr = irc_addr(&server);
    let mut op = Client::irc(addr, "op");
    op.send("JOIN #club");
    op.expect_numeric("366");
    op.send("MODE #club");
    op.expect_next(":test.server 324 op #club +nt");
    next_numeric(&mut op, "329");
    op.send("MODE #club +kl sesame 2");
    op.expect_next(":op!~op@127.0.0.1 MODE #club +kl sesame 2");
    let mut guest = Client::irc(addr, "guest");
    guest.send("JOIN #club");
    guest.expect_next(":test.server 475 guest #club :Cannot join channel (+k)");
    guest.send("JOIN #club sesame");
    guest.expect_next(":guest!~guest@127.0.0.1 JOIN #club");
    guest.expect_numeric("366");
    guest.send("MODE #club");
    guest.expect_next(":test.server 324 guest #club +ntkl sesame 2");
    next_numeric(&mut guest, "329");
    let mut third = Client::irc(addr, "third");
    third.send("JOIN #club sesame");
    third.expect_next(":test.server 471 third #club :Cannot join channel (+l)");
    third.send("MODE #club -k");
    third.expect_next(":test.server 482 third #club :You're not channel operator");

    op.expect_next(":guest!~guest@127.0.0.1 JOIN #club");
    op.send("MODE #club -l+i");
    op.expect_next(":op!~op@127.0.0.1 MODE #club -l+i");
    guest.expect_next(":op!~op@127.0.0.1 MODE #club -l+i");
    third.send("JOIN #club sesame");
    third.expect_next(":test.server 473 third #club :Cannot join channel (+i)");
    op.send("INVITE third #club");
    op.expect_next(":test.server 341 op third #club");
    third.expect_next(":op!~op@127.0.0.1 INVITE third #club");
    third.send("JOIN #club sesame");
    third.expect_next(":third!~third@127.0.0.1 JOIN #club");
    third.expect_numeric("366");
    op.expect_next(":third!~third@127.0.0.1 JOIN #club");
    guest.expect_next(":third!~third@127.0.0.1 JOIN #club");

    op.send("MODE #club +b guest");
    op.expect_next(":op!~op@127.0.0.1 MODE #club +b guest!*@*");
    op.send("MODE #club +b");
    assert!(next_numeric(&mut op, "367").starts_with(":test.server 367 op #club guest!*@* op "));
    op.expect_next(":test.server 368 op #club :End of channel ban list");
    guest.expect_next(":op!~op@127.0.0.1 MODE #club +b guest!*@*");
    guest.send("PRIVMSG #club :can I talk?");
    guest.expect_next(":test.server 404 guest #club :Cannot send to channel");
    op.send("MODE #club +mz");
    op.expect_next(":test.server 472 op z :is unknown mode char to me");
    op.expect_next(":op!~op@127.0.0.1 MODE #club +m");
    op.send("MODE #club +o nobody");
    op.expect_next(":test.server 401 op nobody :No such nick/channel");
    third.expect_next(":op!~op@127.0.0.1 MODE #club +b guest!*@*");
    third.expect_next(":op!~op@127.0.0.1 MODE #club +m");
    third.send("PRIVMSG #club :quiet?");
    third.expect_next(":test.server 404 third #club :Cannot send to channel");
    op.send("MODE #club +v third");
    third.expect_next(":op!~op@127.0.0.1 MODE #club +v third");
    third.send("PRIVMSG #club :voiced");
    op.expect_next(":op!~op@127.0.0.1 MODE #club +v third");
    op.expect_next(":third!~third@127.0.0.1 PRIVMSG #club :voiced");
}

fn a_lost_nick_kicks_and_invites_get_the_right_errors(transport: Transport) {
    let server = server(transport);
    let addr = irc_addr(&server);
    let mut op = Client::irc(addr, "op");
    op.send("KICK #none someone");
    op.expect_next(":test.server 403 op #none :No such channel");
    op.send("JOIN #room");
    op.expect_numeric("366");
    op.send("KICK #room ghost");
    op.expect_next(":test.server 401 op ghost :No such nick/channel");
    op.send("INVITE ghost #room");
    op.expect_next(":test.server 401 op ghost :No such nick/channel");
    op.send("INVITE op #room");
    op.expect_next(":test.server 443 op op #room :is already on channel");
    op.send("KICK");
    op.expect_next(":test.server 461 op KICK :Not enough parameters");
    op.send("FROB");
    op.expect_next(":test.server 421 op FROB :Unknown command");
    op.send("PRIVMSG");
    op.expect_next(":test.server 411 op :No recipient given");
    op.send("PRIVMSG #room");
    op.expect_next(":test.server 412 op :No text to send");
    op.send("NOTICE ghost :nobody answers a notice");
    op.send("PING :still-here");
    op.expect_next(":test.server PONG test.server :still-here");
}

fn away_whois_who_names_list_and_small_queries(transport: Transport) {
    let server = server_with(transport, |config| {
        config.motd = Some("be nice\nhave fun".into())
    });
    let addr = irc_addr(&server);
    let mut alice = Client::irc(addr, "alice");
    let mut bob = Client::irc(addr, "bob");
    bob.send("CAP REQ :away-notify multi-prefix userhost-in-names");
    bob.expect_numeric("CAP");
    for client in [&mut alice, &mut bob] {
        client.send("JOIN #tea");
        client.expect_numeric("366");
    }
    alice.expect_next(":bob!~bob@127.0.0.1 JOIN #tea");
    alice.send("MODE #tea +v alice");
    alice.expect_numeric("MODE");
    bob.expect_numeric("MODE");
    bob.send("NAMES #tea");
    bob.expect_next(":test.server 353 bob = #tea :@+alice!~alice@127.0.0.1 bob!~bob@127.0.0.1");
    next_numeric(&mut bob, "366");

    alice.send("AWAY :lunch");
    alice.expect_next(":test.server 306 alice :You have been marked as being away");
    bob.expect_next(":alice!~alice@127.0.0.1 AWAY :lunch");
    bob.send("PRIVMSG alice :you there?");
    bob.expect_next(":test.server 301 bob alice :lunch");
    alice.expect_next(":bob!~bob@127.0.0.1 PRIVMSG alice :you there?");

    bob.send("WHOIS alice");
    bob.expect_next(":test.server 311 bob alice ~alice 127.0.0.1 * :Real alice");
    bob.expect_next(":test.server 319 bob alice :@+#tea");
    bob.expect_next(":test.server 312 bob alice test.server :switchboard");
    bob.expect_next(":test.server 301 bob alice :lunch");
    assert!(next_numeric(&mut bob, "317").contains(":seconds idle, signon time"));
    bob.expect_next(":test.server 318 bob alice :End of /WHOIS list");
    bob.send("WHOIS nobody");
    bob.expect_next(":test.server 401 bob nobody :No such nick/channel");
    bob.expect_next(":test.server 318 bob nobody :End of /WHOIS list");

    bob.send("WHO #tea");
    bob.expect_next(
        ":test.server 352 bob #tea ~alice 127.0.0.1 test.server alice G@+ :0 Real alice",
    );
    bob.expect_next(":test.server 352 bob #tea ~bob 127.0.0.1 test.server bob H :0 Real bob");
    bob.expect_next(":test.server 315 bob #tea :End of /WHO list");
    bob.send("WHO #tea %tcnf,42");
    bob.expect_next(":test.server 354 bob 42 #tea alice G@+");
    bob.expect_next(":test.server 354 bob 42 #tea bob H");
    next_numeric(&mut bob, "315");

    alice.send("AWAY");
    alice.expect_next(":test.server 305 alice :You are no longer marked as being away");
    bob.expect_next(":alice!~alice@127.0.0.1 AWAY");

    bob.send("LIST");
    bob.expect_next(":test.server 321 bob Channel :Users  Name");
    bob.expect_next(":test.server 322 bob #tea 2 :");
    bob.expect_next(":test.server 323 bob :End of /LIST");
    bob.send("ISON alice carol BOB");
    bob.expect_next(":test.server 303 bob :alice bob");
    bob.send("USERHOST alice");
    bob.expect_next(":test.server 302 bob :alice=+~alice@127.0.0.1");
    bob.send("VERSION");
    assert!(next_numeric(&mut bob, "351").starts_with(":test.server 351 bob switchboard-"));
    bob.send("TIME");
    next_numeric(&mut bob, "391");
    bob.send("MOTD");
    bob.expect_next(":test.server 375 bob :- test.server Message of the day - ");
    bob.expect_next(":test.server 372 bob :- be nice");
    bob.expect_next(":test.server 372 bob :- have fun");
    bob.expect_next(":test.server 376 bob :End of /MOTD command.");
    bob.send("LUSERS");
    bob.expect_next(":test.server 251 bob :There are 2 users and 0 invisible on 1 servers");
    bob.send("MODE bob");
    bob.expect_numeric("221");
    bob.send("MODE bob +i");
    bob.expect_next(":bob!~bob@127.0.0.1 MODE bob +i");
    bob.send("LUSERS");
    bob.expect_next(":test.server 251 bob :There are 1 users and 1 invisible on 1 servers");
    bob.expect_numeric("266");
    bob.send("MODE bob +x");
    bob.expect_next(":test.server 501 bob :Unknown MODE flag");
    bob.send("MODE alice +i");
    bob.expect_next(":test.server 502 bob :Can't change mode for other users");
}

fn echo_server_time_message_tags_and_setname(transport: Transport) {
    let server = server(transport);
    let addr = irc_addr(&server);
    let mut alice = Client::irc(addr, "alice");
    alice.send("CAP REQ :echo-message server-time message-tags setname");
    alice.expect_numeric("CAP");
    let mut bob = Client::irc(addr, "bob");
    bob.send("CAP REQ :message-tags");
    bob.expect_numeric("CAP");
    for client in [&mut alice, &mut bob] {
        client.send("JOIN #r");
        client.expect_numeric("366");
    }
    alice.expect_numeric("JOIN");
    alice.send("@+draft/reply=abc;label=x PRIVMSG #r :tagged");
    let echo = alice.next_line().unwrap();
    assert!(echo.starts_with("@time=20"), "{echo}");
    assert!(
        echo.ends_with(";+draft/reply=abc :alice!~alice@127.0.0.1 PRIVMSG #r :tagged"),
        "{echo}"
    );
    // The sender's echo and the recipient's copy carry the same message id.
    let msgid = echo
        .split(';')
        .find_map(|tag| tag.strip_prefix("msgid="))
        .expect("a msgid");
    bob.expect_next(&format!(
        "@msgid={msgid};+draft/reply=abc :alice!~alice@127.0.0.1 PRIVMSG #r :tagged"
    ));
    alice.send("@+typing=active TAGMSG #r");
    let typing = bob.expect_numeric("TAGMSG");
    assert!(typing.starts_with("@msgid="), "{typing}");
    assert!(
        typing.ends_with(";+typing=active :alice!~alice@127.0.0.1 TAGMSG #r"),
        "{typing}"
    );
    alice.send("SETNAME :Alice L.");
    let renamed = alice.expect_numeric("SETNAME");
    assert!(
        renamed.ends_with(":alice!~alice@127.0.0.1 SETNAME :Alice L."),
        "{renamed}"
    );
    bob.send("WHOIS alice");
    bob.expect_next(":test.server 311 bob alice ~alice 127.0.0.1 * :Alice L.");
}

fn overlong_lines_get_417_and_the_connection_goes_on(transport: Transport) {
    let server = server(transport);
    let mut alice = Client::irc(irc_addr(&server), "alice");
    alice.send(&format!("PRIVMSG alice :{}", "x".repeat(600)));
    alice.expect_next(":test.server 417 alice :Input line was too long");
    alice.send(&"y".repeat(20_000));
    alice.expect_next(":test.server 417 alice :Input line was too long");
    alice.send_raw(b"PRIVMSG alice :caf\xe9\r\n");
    alice.expect_next(
        ":test.server FAIL * INVALID_UTF8 :Message rejected, your IRC software MUST use UTF-8",
    );
    alice.send("PRIVMSG alice :fine");
    alice.expect_next(":alice!~alice@127.0.0.1 PRIVMSG alice :fine");
}

fn a_wrong_password_is_refused(transport: Transport) {
    let server = server_with(transport, |config| config.password = Some("letmein".into()));
    let addr = irc_addr(&server);
    let mut wrong = Client::connect_quietly(addr);
    wrong.send("PASS guess");
    wrong.send("NICK eve");
    wrong.send("USER eve 0 * :Eve");
    assert_eq!(
        wrong.read_to_end(),
        [
            ":test.server 464 * :Password incorrect",
            "ERROR :Closing Link: 127.0.0.1 (Bad password)"
        ]
    );
    let mut right = Client::connect_quietly(addr);
    right.send("PASS letmein");
    right.send("NICK alice");
    right.send("USER alice 0 * :Alice");
    right.expect_numeric("001");
}

fn a_silent_client_is_pinged_and_dropped_when_it_does_not_answer(transport: Transport) {
    let server = server_with(transport, |config| {
        config.ping_interval = std::time::Duration::from_secs(1);
        config.ping_timeout = std::time::Duration::from_secs(1);
    });
    let addr = irc_addr(&server);
    // Line clients are never pinged: TCP keepalive looks after them.
    let mut watcher = Client::in_room(line_addr(&server), "watcher", "#r");
    let mut answers = Client::irc(addr, "answers");
    let mut silent = Client::irc(addr, "silent");
    for client in [&mut answers, &mut silent] {
        client.send("JOIN #r");
        client.expect_numeric("366");
    }
    answers.expect("PING :test.server");
    answers.send("PONG :test.server");
    silent.expect("PING :test.server");
    let quit = watcher.expect("* silent quit");
    assert!(quit.starts_with("* silent quit (Ping timeout: "), "{quit}");
    assert!(
        silent
            .read_to_end()
            .last()
            .unwrap()
            .starts_with("ERROR :Closing Link: 127.0.0.1 (Ping timeout")
    );
    // The one that answered is still here.
    answers.send("PING :still-here");
    answers.expect_numeric("PONG");
}

fn a_slow_irc_client_is_cut_with_sendq_exceeded(transport: Transport) {
    let server = server_with(transport, |config| {
        config.sendq = 5;
        config.slow_drops = 50;
    });
    let addr = irc_addr(&server);
    let mut talker = Client::irc(addr, "talker");
    let _slow = {
        let mut slow = Client::irc(addr, "slow");
        slow.send("JOIN #r");
        slow.expect_numeric("366");
        slow
    };
    talker.send("JOIN #r");
    talker.expect_numeric("366");
    let text = "z".repeat(400);
    let mut sent = 0;
    let quit = loop {
        assert!(sent < 50_000, "slow was never cut off");
        talker.send(&format!("PRIVMSG #r :{text}"));
        sent += 1;
        if sent % 100 == 0 {
            talker.send("PING :sync");
            let line = talker.expect_with("a pong or a quit", |line| {
                line.contains("PONG") || line.contains(" QUIT ")
            });
            if line.contains(" QUIT ") {
                break line;
            }
        }
    };
    assert_eq!(quit, ":slow!~slow@127.0.0.1 QUIT :SendQ exceeded");
}

fn secret_rooms_outside_messages_several_targets_notices_and_invite_notify(transport: Transport) {
    let server = server(transport);
    let addr = irc_addr(&server);
    let mut op = Client::irc(addr, "op");
    op.send("CAP REQ :invite-notify");
    op.expect_numeric("CAP");
    let mut outsider = Client::irc(addr, "outsider");
    let mut friend = Client::irc(addr, "friend");
    for room in ["#hidden", "#open"] {
        op.send(&format!("JOIN {room}"));
        op.expect_numeric("366");
    }
    friend.send("JOIN #open");
    friend.expect_numeric("366");
    op.expect_next(":friend!~friend@127.0.0.1 JOIN #open");

    op.send("MODE #hidden +s-t");
    op.expect_next(":op!~op@127.0.0.1 MODE #hidden +s-t");
    outsider.send("LIST");
    outsider.expect_next(":test.server 321 outsider Channel :Users  Name");
    outsider.expect_next(":test.server 322 outsider #open 2 :");
    outsider.expect_next(":test.server 323 outsider :End of /LIST");
    outsider.send("NAMES #hidden");
    outsider.expect_next(":test.server 366 outsider #hidden :End of /NAMES list");

    // +n (the default) keeps outsiders out; -n lets them in.
    outsider.send("PRIVMSG #open :from outside");
    outsider.expect_next(":test.server 404 outsider #open :Cannot send to channel");
    op.send("MODE #open -n");
    op.expect_next(":op!~op@127.0.0.1 MODE #open -n");
    friend.expect_next(":op!~op@127.0.0.1 MODE #open -n");
    outsider.send("PRIVMSG #open,friend,ghost :to all");
    outsider.expect_next(":test.server 401 outsider ghost :No such nick/channel");
    op.expect_next(":outsider!~outsider@127.0.0.1 PRIVMSG #open :to all");
    friend.expect_next(":outsider!~outsider@127.0.0.1 PRIVMSG #open :to all");
    friend.expect_next(":outsider!~outsider@127.0.0.1 PRIVMSG friend :to all");
    friend.send("NOTICE #open :a notice");
    op.expect_next(":friend!~friend@127.0.0.1 NOTICE #open :a notice");

    // Operators with invite-notify see invitations to their room.
    friend.send("INVITE outsider #open");
    friend.expect_next(":test.server 341 friend outsider #open");
    outsider.expect_next(":friend!~friend@127.0.0.1 INVITE outsider #open");
    op.expect_next(":friend!~friend@127.0.0.1 INVITE outsider #open");
}

crate::both_transports!(
    registration_with_capabilities_gives_the_welcome_burst_in_order,
    commands_before_registration_get_451_and_a_taken_nick_433,
    irc_and_line_users_share_a_room,
    joining_shows_topic_names_and_quits_reach_the_room,
    channel_modes_keys_limits_invites_and_bans,
    a_lost_nick_kicks_and_invites_get_the_right_errors,
    away_whois_who_names_list_and_small_queries,
    echo_server_time_message_tags_and_setname,
    overlong_lines_get_417_and_the_connection_goes_on,
    a_wrong_password_is_refused,
    a_silent_client_is_pinged_and_dropped_when_it_does_not_answer,
    a_slow_irc_client_is_cut_with_sendq_exceeded,
    secret_rooms_outside_messages_several_targets_notices_and_invite_notify,
);
