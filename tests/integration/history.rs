//! History over real sockets (issue 14): the replay on join for line and
//! IRC clients, `/history`, every `CHATHISTORY` subcommand, private
//! messages waiting for someone offline across a restart, and a delivered
//! message surviving kill -9.

use switchboard::protocol::{Event, Selector};
use switchboard::storage::{COMMIT_WINDOW, Store};
use switchboard::{Config, Transport};

use crate::util::{Binary, Client, irc_addr, line_addr, numeric, server_with};

/// A server keeping its database in `dir`.
fn server_in(
    transport: Transport,
    dir: &tempfile::TempDir,
    tweak: impl FnOnce(&mut Config),
) -> switchboard::Server {
    let db = dir.path().join("history.db");
    server_with(transport, |config| {
        config.db = db.to_str().expect("a UTF-8 path").to_owned();
        tweak(config);
    })
}

/// The tag `name` of an IRC line, if it has it.
fn tag<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let tags = line.strip_prefix('@')?.split(' ').next()?;
    tags.split(';')
        .find_map(|tag| tag.strip_prefix(name)?.strip_prefix('='))
}

/// The text of an IRC PRIVMSG line.
fn text(line: &str) -> &str {
    let untagged = match line.strip_prefix('@') {
        Some(tagged) => tagged.split_once(' ').map_or("", |(_, rest)| rest),
        None => line,
    };
    let body = untagged.strip_prefix(':').unwrap_or(untagged);
    body.split_once(" :").map_or("", |(_, text)| text)
}

/// Answers a PING, so that everything before the PONG has been read.
fn sync(client: &mut Client) -> Vec<String> {
    client.send("PING :sync");
    let mut lines = Vec::new();
    loop {
        let line = client.next_line().expect("a line before the PONG");
        if numeric(&line) == Some("PONG") {
            return lines;
        }
        lines.push(line);
    }
}

fn replay_on_join(transport: Transport) {
    let server = server_with(transport, |config| config.replay_lines = 2);
    let mut alice = Client::in_room(line_addr(&server), "alice", "#r");
    for said in ["one", "two", "three"] {
        alice.send(said);
    }
    // Read by someone, so delivered before anyone joins.
    let mut watcher = Client::in_room(line_addr(&server), "watcher", "#r");
    watcher.expect("[#r] <alice> three");

    let mut bob = Client::register(line_addr(&server), "bob");
    bob.join("#r");
    bob.expect_next("- recent messages in #r:");
    for said in ["two", "three"] {
        let line = bob.next_line().unwrap();
        assert!(
            line.starts_with("[#r 2") && line.ends_with(&format!("] <alice> {said}")),
            "{line}"
        );
    }
    bob.expect_next("- end of recent messages in #r");

    // An IRC client without capabilities: past messages with their time.
    let mut ivy = Client::irc(irc_addr(&server), "ivy");
    ivy.send("JOIN #r");
    ivy.expect_numeric("366");
    let lines = sync(&mut ivy);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(text(&lines[0]).starts_with("[2"), "{lines:?}");
    assert!(text(&lines[1]).ends_with("] three"), "{lines:?}");

    // With batch and server-time: a chathistory batch, original tags.
    let mut una = Client::irc_with_caps(irc_addr(&server), "una", "batch server-time message-tags");
    una.send("JOIN #r");
    una.expect_numeric("366");
    let lines = sync(&mut una);
    assert_eq!(lines.len(), 4, "{lines:?}");
    let batch = lines[0]
        .strip_prefix(":test.server BATCH +")
        .and_then(|rest| rest.strip_suffix(" chathistory #r"))
        .expect("a chathistory batch");
    for line in &lines[1..3] {
        assert_eq!(tag(line, "batch"), Some(batch), "{line}");
        assert!(
            tag(line, "time").is_some() && tag(line, "msgid").is_some(),
            "{line}"
        );
    }
    assert_eq!(text(&lines[2]), "three");
    assert_eq!(lines[3], format!(":test.server BATCH -{batch}"));

    // With draft/chathistory: nothing, the client asks for what it wants.
    let mut fay = Client::irc_with_caps(
        irc_addr(&server),
        "fay",
        "batch server-time draft/chathistory",
    );
    fay.send("JOIN #r");
    fay.expect_numeric("366");
    assert_eq!(sync(&mut fay), Vec::<String>::new());
}

fn history_command_is_for_members(transport: Transport) {
    let server = server_with(transport, |_| {});
    let mut alice = Client::in_room(line_addr(&server), "alice", "#r");
    alice.send("hello");
    alice.send("/history 5");
    alice.expect_next("- history of #r (1 messages, oldest first):");
    let line = alice.next_line().unwrap();
    assert!(line.ends_with("] <alice> hello"), "{line}");
    alice.expect_next("- end of history of #r");
    let mut eve = Client::register(line_addr(&server), "eve");
    eve.send("/history #r");
    eve.expect("! error: you cannot read the history of #r");
    let mut ivy = Client::irc_with_caps(irc_addr(&server), "ivy", "batch draft/chathistory");
    ivy.send("CHATHISTORY LATEST #r * 10");
    ivy.expect_next(
        ":test.server FAIL CHATHISTORY INVALID_TARGET LATEST #r :Messages could not be retrieved",
    );
}

fn every_chathistory_subcommand(transport: Transport) {
    let server = server_with(transport, |_| {});
    let caps = "batch server-time message-tags echo-message draft/chathistory";
    let mut ivy = Client::irc_with_caps(irc_addr(&server), "ivy", caps);
    ivy.send("JOIN #h");
    ivy.expect_numeric("366");
    let mut sent = Vec::new();
    for n in 0..6 {
        ivy.send(&format!("PRIVMSG #h :message {n}"));
        let echo = ivy.expect_numeric("PRIVMSG");
        let msgid = tag(&echo, "msgid").expect("a msgid on the echo").to_owned();
        let time = tag(&echo, "time").expect("a time on the echo").to_owned();
        sent.push((msgid, time));
    }
    // The texts a CHATHISTORY answer holds, its batch checked.
    let mut ask = |command: String| -> Vec<String> {
        ivy.send(&command);
        let start = ivy.next_line().unwrap();
        let batch = start
            .strip_prefix(":test.server BATCH +")
            .and_then(|rest| rest.strip_suffix(" chathistory #h"))
            .unwrap_or_else(|| panic!("{command}: {start}"))
            .to_owned();
        let mut texts = Vec::new();
        loop {
            let line = ivy.next_line().unwrap();
            if line == format!(":test.server BATCH -{batch}") {
                return texts;
            }
            assert_eq!(tag(&line, "batch"), Some(&*batch), "{line}");
            texts.push(text(&line).trim_start_matches("message ").to_owned());
        }
    };
    let id = |n: usize| format!("msgid={}", sent[n].0);
    assert_eq!(ask("CHATHISTORY LATEST #h * 3".into()), ["3", "4", "5"]);
    assert_eq!(
        ask(format!("CHATHISTORY LATEST #h {} 10", id(3))),
        ["4", "5"]
    );
    assert_eq!(
        ask(format!("CHATHISTORY BEFORE #h {} 2", id(3))),
        ["1", "2"]
    );
    // Messages a millisecond apart or less: times from before and after.
    let (long_ago, far_ahead) = (
        "timestamp=2020-01-01T00:00:00.000Z",
        "timestamp=2262-01-01T00:00:00.000Z",
    );
    assert_eq!(
        ask(format!("CHATHISTORY AFTER #h {long_ago} 2")),
        ["0", "1"]
    );
    assert_eq!(
        ask(format!("CHATHISTORY BEFORE #h {far_ahead} 2")),
        ["4", "5"]
    );
    assert_eq!(ask(format!("CHATHISTORY AFTER #h {} 2", id(3))), ["4", "5"]);
    assert_eq!(
        ask(format!("CHATHISTORY AROUND #h {} 3", id(2))),
        ["1", "2", "3"]
    );
    assert_eq!(
        ask(format!("CHATHISTORY BETWEEN #h {} {} 10", id(5), id(1))),
        ["2", "3", "4"]
    );
    ivy.send(&format!("CHATHISTORY TARGETS {long_ago} {far_ahead} 10"));
    let start = ivy.next_line().unwrap();
    let batch = start
        .strip_prefix(":test.server BATCH +")
        .and_then(|rest| rest.strip_suffix(" draft/chathistory-targets"))
        .unwrap_or_else(|| panic!("{start}"))
        .to_owned();
    ivy.expect_next(&format!(
        "@batch={batch} :test.server CHATHISTORY TARGETS #h {}",
        sent[5].1
    ));
    ivy.expect_next(&format!(":test.server BATCH -{batch}"));
}

fn labeled_answers_wrap_history_reads(transport: Transport) {
    let server = server_with(transport, |_| {});
    let caps = "batch labeled-response draft/chathistory";
    let mut ivy = Client::irc_with_caps(irc_addr(&server), "ivy", caps);
    ivy.send("@label=p1 PING :here");
    ivy.expect_next("@label=p1 :test.server PONG test.server :here");
    ivy.send("@label=p2 PONG :nothing");
    ivy.expect_next("@label=p2 :test.server ACK");
    ivy.send("JOIN #l");
    ivy.expect_numeric("366");
    ivy.send("PRIVMSG #l :kept");
    ivy.send("@label=h1 CHATHISTORY LATEST #l * 5");
    let outer = ivy.next_line().unwrap();
    let outer = outer
        .strip_prefix("@label=h1 :test.server BATCH +")
        .and_then(|rest| rest.strip_suffix(" labeled-response"))
        .unwrap_or_else(|| panic!("{outer}"))
        .to_owned();
    let start = ivy.next_line().unwrap();
    assert!(
        start.starts_with(&format!("@batch={outer} :test.server BATCH +"))
            && start.ends_with(" chathistory #l"),
        "{start}"
    );
    let kept = ivy.next_line().unwrap();
    assert_eq!(text(&kept), "kept");
    ivy.expect_with("the end of the history batch", |line| {
        line.starts_with(&format!("@batch={outer} :test.server BATCH -"))
    });
    ivy.expect_next(&format!(":test.server BATCH -{outer}"));
}

fn offline_messages_wait_across_a_restart(transport: Transport) {
    let dir = tempfile::tempdir().unwrap();
    {
        let server = server_in(transport, &dir, |_| {});
        let mut bob = Client::register(line_addr(&server), "bob");
        bob.send("/register sesame");
        bob.expect("- Account bob registered; you are logged in");
        bob.send("/quit");
        bob.read_to_end();
        let mut alice = Client::register(line_addr(&server), "alice");
        alice.send("/msg bob are you there?");
        alice.expect_next("- bob is offline: your message will be delivered when they log in");
        server.stop();
    }
    let server = server_in(transport, &dir, |_| {});
    let mut alice = Client::register(line_addr(&server), "alice");
    alice.send("/msg bob still there?");
    alice.expect_next("- bob is offline: your message will be delivered when they log in");
    // On IRC: the messages as they were sent, with their time.
    let mut bob = Client::irc_with_caps(irc_addr(&server), "bob", "server-time message-tags");
    bob.send("PRIVMSG NickServ :IDENTIFY sesame");
    bob.expect_numeric("900");
    let waiting: Vec<String> = (0..2).map(|_| bob.expect_numeric("PRIVMSG")).collect();
    // No batch: the time is in the text too.
    assert!(
        text(&waiting[0]).ends_with("] are you there?"),
        "{waiting:?}"
    );
    assert!(text(&waiting[1]).ends_with("] still there?"), "{waiting:?}");
    for line in &waiting {
        assert!(
            line.contains(" :alice!~alice@127.0.0.1 PRIVMSG bob :"),
            "{line}"
        );
        assert!(tag(line, "time").is_some(), "{line}");
    }
    assert!(tag(&waiting[0], "time") < tag(&waiting[1], "time"));
    // Delivered once: a line login later finds nothing.
    bob.send("QUIT");
    bob.read_to_end();
    let mut again = Client::register(line_addr(&server), "bob");
    again.send("/login bob sesame");
    again.expect("- You are now logged in as bob");
    again.send("/history alice");
    again.expect_next("- history of alice (2 messages, oldest first):");
}

fn offline_messages_in_the_line_protocol(transport: Transport) {
    let server = server_with(transport, |_| {});
    let mut bob = Client::register(line_addr(&server), "bob");
    bob.send("/register sesame");
    bob.expect("- Account bob registered; you are logged in");
    bob.send("/logout");
    bob.expect("- You are now logged out");
    bob.send("/nick notbob");
    bob.expect("* bob is now known as notbob");
    let mut alice = Client::register(line_addr(&server), "alice");
    alice.send("/msg bob hi");
    alice.expect_next("- bob is offline: your message will be delivered when they log in");
    bob.send("/login bob sesame");
    bob.expect("- 1 messages came while you were away:");
    let line = bob.next_line().unwrap();
    assert!(
        line.starts_with("[pm 2") && line.ends_with("] <alice> hi"),
        "{line}"
    );
    bob.expect_next("- end of the messages that came while you were away");
}

/// Registers `nick` as an account on the line protocol and leaves.
fn register_and_leave(server: &switchboard::Server, nick: &str) {
    let mut client = Client::register(line_addr(server), nick);
    client.send("/register sesame");
    client.expect(&format!("- Account {nick} registered; you are logged in"));
    client.send("/quit");
    client.read_to_end();
}

fn two_people_never_online_together_talk(transport: Transport) {
    let server = server_with(transport, |_| {});
    register_and_leave(&server, "ann");
    register_and_leave(&server, "ben");
    let mut ann = Client::register(line_addr(&server), "ann");
    ann.send("/login ann sesame");
    ann.expect("- You are now logged in as ann");
    ann.send("/msg ben lunch tomorrow?");
    ann.expect_next("- ben is offline: your message will be delivered when they log in");
    ann.send("/quit");
    ann.read_to_end();
    let mut ben = Client::register(line_addr(&server), "ben");
    ben.send("/login ben sesame");
    ben.expect("- 1 messages came while you were away:");
    assert!(
        ben.next_line()
            .unwrap()
            .ends_with("] <ann> lunch tomorrow?")
    );
    ben.expect_next("- end of the messages that came while you were away");
    ben.send("/msg ann yes, noon");
    ben.expect_next("- ann is offline: your message will be delivered when they log in");
    ben.send("/quit");
    ben.read_to_end();
    let mut ann = Client::register(line_addr(&server), "ann");
    ann.send("/login ann sesame");
    ann.expect("- 1 messages came while you were away:");
    assert!(ann.next_line().unwrap().ends_with("] <ben> yes, noon"));
}

fn a_delivered_message_survives_kill_9(transport: Transport) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let db = db.to_str().unwrap();
    let mut binary = Binary::start(transport, &["--db", db]);
    let mut alice = Client::in_room(binary.addr, "alice", "#r");
    let mut bob = Client::in_room(binary.addr, "bob", "#r");
    alice.send("this must survive");
    bob.expect("[#r] <alice> this must survive");
    // The promise: delivered, then on disk within the window.
    std::thread::sleep(COMMIT_WINDOW);
    binary.kill();
    {
        let store = Store::open(db).expect("the database after kill -9");
        let page = store
            .page("#r", &Selector::Latest(None), 10, false)
            .unwrap();
        assert_eq!(page.len(), 1);
        assert!(matches!(
            &page[0].message,
            Event::Message { text, .. } if &**text == "this must survive"
        ));
    }
    // Started again on the file, the server replays it to whoever joins.
    let binary = Binary::start(transport, &["--db", db]);
    let mut carol = Client::register(binary.addr, "carol");
    carol.join("#r");
    carol.expect_next("- recent messages in #r:");
    let line = carol.next_line().unwrap();
    assert!(line.ends_with("] <alice> this must survive"), "{line}");
}

crate::both_transports!(
    replay_on_join,
    history_command_is_for_members,
    every_chathistory_subcommand,
    labeled_answers_wrap_history_reads,
    offline_messages_wait_across_a_restart,
    offline_messages_in_the_line_protocol,
    two_people_never_online_together_talk,
    a_delivered_message_survives_kill_9,
);
