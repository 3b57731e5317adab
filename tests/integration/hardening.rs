//! Issue 11: hostile clients and configurations, on both transports.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use switchboard::Transport;

use crate::util::{Client, irc_addr, line_addr, numeric, server_with, wait_until};

/// An IRC client's line, tags aside, must fit in 512 bytes with its CR LF.
fn assert_fits(line: &str) {
    let body = match line.strip_prefix('@') {
        Some(tagged) => tagged.split_once(' ').map_or("", |(_, body)| body),
        None => line,
    };
    assert!(body.len() + 2 <= 512, "{} bytes: {line}", body.len() + 2);
    assert!(!line.contains(['\0', '\r']), "{line:?}");
}

fn repeated_targets_reach_each_target_once_and_targmax_holds(transport: Transport) {
    let server = server_with(transport, |config| {
        config.rate = 5.0;
        config.burst = 20;
    });
    let addr = irc_addr(&server);
    let mut watcher = Client::irc(addr, "watcher");
    let mut spammer = Client::irc(addr, "spammer");
    watcher.send("JOIN #amp");
    watcher.expect_numeric("366");
    spammer.send("JOIN #amp");
    spammer.expect_numeric("366");
    let targets = vec!["#amp"; 95].join(",");
    let victims = vec!["watcher"; 55].join(",");
    for n in 0..10 {
        spammer.send(&format!("PRIVMSG {targets} :spam {n}"));
        spammer.send(&format!("PRIVMSG {victims} :private {n}"));
    }
    spammer.send("PRIVMSG a,b,c,d,e :too many");
    assert!(
        spammer
            .expect_numeric("407")
            .starts_with(":test.server 407 spammer e :")
    );
    watcher.expect_numeric("JOIN");
    for n in 0..10 {
        watcher.expect_next(&format!(
            ":spammer!~spammer@127.0.0.1 PRIVMSG #amp :spam {n}"
        ));
        watcher.expect_next(&format!(
            ":spammer!~spammer@127.0.0.1 PRIVMSG watcher :private {n}"
        ));
    }
}

fn a_line_costs_a_token_per_target(transport: Transport) {
    // 8 lines to 4 people each cost 32 tokens; with 4 at once and 20 a
    // second after that, the last one cannot arrive before 1.4 s.
    let server = server_with(transport, |config| {
        config.rate = 20.0;
        config.burst = 4;
    });
    let addr = irc_addr(&server);
    let mut readers: Vec<Client> = (0..4)
        .map(|n| Client::irc(addr, &format!("reader{n}")))
        .collect();
    let mut sender = Client::irc(addr, "sender");
    let start = Instant::now();
    for n in 0..8 {
        sender.send(&format!(
            "PRIVMSG reader0,reader1,reader2,reader3 :line {n}"
        ));
    }
    for reader in &mut readers {
        reader.expect_with("line 7", |line| line.ends_with(":line 7"));
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1300),
        "32 tokens at 20/s after a burst of 4 went in {elapsed:?}"
    );
}

fn empty_lines_do_not_pile_up(transport: Transport) {
    let server = server_with(transport, |config| {
        config.rate = 1.0;
        config.burst = 5;
    });
    let mut client = Client::register(line_addr(&server), "blank");
    // 200,000 empty lines would take days at a line a second.
    client.send_raw(&vec![b'\n'; 200_000]);
    client.send("/msg blank still here");
    client.expect("[pm] <blank> still here");
}

fn many_short_lines_waiting_are_weighed_as_the_memory_they_hold(transport: Transport) {
    let server = server_with(transport, |config| {
        config.rate = 1.0;
        config.burst = 5;
    });
    let mut client = Client::register(line_addr(&server), "tiny");
    // 130 KB on the wire, but 65,000 requests waiting.
    client.send_raw(&b"A\n".repeat(65_000));
    assert_eq!(
        client.read_to_end().last().map(String::as_str),
        Some("! closing: excess flood")
    );
}

fn nul_and_cr_are_refused_not_relayed(transport: Transport) {
    let server = server_with(transport, |_| {});
    let addr = irc_addr(&server);
    let mut reader = Client::irc(addr, "reader");
    let mut writer = Client::irc(addr, "writer");
    let mut liner = Client::in_room(line_addr(&server), "liner", "#r");
    reader.send("JOIN #r");
    reader.expect_numeric("366");
    writer.send("JOIN #r");
    writer.expect_numeric("366");
    writer.send("PRIVMSG #r :hi\0there\r:evil!x@y PRIVMSG #r :spoofed");
    assert_eq!(
        writer.expect_numeric("FAIL"),
        ":test.server FAIL * INVALID_CHARACTERS :Message rejected: it contains a NUL or a bare CR"
    );
    liner.send("hi\0there");
    liner.expect("! error: line contains a NUL or carriage return (CR) character, ignored");
    writer.send("PRIVMSG #r :clean");
    reader.expect_numeric("JOIN");
    reader.expect_next(":writer!~writer@127.0.0.1 PRIVMSG #r :clean");
}

fn every_reply_fits_in_512_bytes_and_parameters_stay_whole(transport: Transport) {
    let server = server_with(transport, |_| {});
    let addr = irc_addr(&server);
    let mut op = Client::irc(addr, "op");
    let mut other = Client::irc(addr, "other");
    op.send("JOIN #m");
    op.expect_numeric("366");
    other.send("JOIN #m");
    other.expect_numeric("366");
    op.send(&format!("\t@{}", "x".repeat(8000)));
    op.send(&format!("{} arg", "X".repeat(500)));
    op.send("MODE #m +k :has space");
    let masks: Vec<String> = (0..16).map(|n| format!("m{n}!*@*")).collect();
    op.send(&format!("MODE #m +{} {}", "b".repeat(16), masks.join(" ")));
    op.send("WHO #m :%tn,1 2");
    op.send(&format!("NICK :{} x", "n".repeat(30)));
    op.send("PING :done");
    let mut lines = Vec::new();
    loop {
        let line = op.next_line().expect("the connection stays open");
        assert_fits(&line);
        if numeric(&line) == Some("PONG") {
            break;
        }
        if numeric(&line) != Some("JOIN") {
            lines.push(line);
        }
    }
    let codes: Vec<&str> = lines.iter().filter_map(|line| numeric(line)).collect();
    assert_eq!(
        codes,
        ["417", "421", "696", "MODE", "354", "354", "315", "432"],
        "{lines:#?}"
    );
    let mode = other.expect_numeric("MODE");
    assert_eq!(
        mode,
        ":op!~op@127.0.0.1 MODE #m +bbbb m0!*@* m1!*@* m2!*@* m3!*@*"
    );
    // The WHOX token with a space is not echoed.
    assert!(
        lines[4].starts_with(":test.server 354 op 0 "),
        "{}",
        lines[4]
    );
    assert!(lines[7].starts_with(&format!(":test.server 432 op {} :", "n".repeat(30))));
}

/// Runs the server binary with `args`, expecting it to exit at once with a
/// failure that names `flag`.
pub fn refused_at_start(transport: Transport, args: &[&str], flag: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["--transport", &transport.to_string()])
        .args([
            "--listen",
            "irc://127.0.0.1:0",
            "--listen",
            "line://127.0.0.1:0",
            "--db",
            ":memory:",
        ])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server");
    let mut status = None;
    wait_until("the server to refuse its flags", || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.and_then(|status| status.code()), Some(1), "{stderr}");
    assert!(stderr.contains(flag), "{stderr}");
}

fn a_rate_too_small_to_compute_is_refused_at_start(transport: Transport) {
    refused_at_start(transport, &["--rate", "1e-20"], "--rate");
}

fn a_server_name_longer_than_a_host_name_is_refused_at_start(transport: Transport) {
    let name = "s".repeat(500);
    refused_at_start(transport, &["--server-name", &name], "--server-name");
}

crate::both_transports!(
    repeated_targets_reach_each_target_once_and_targmax_holds,
    a_line_costs_a_token_per_target,
    empty_lines_do_not_pile_up,
    many_short_lines_waiting_are_weighed_as_the_memory_they_hold,
    nul_and_cr_are_refused_not_relayed,
    every_reply_fits_in_512_bytes_and_parameters_stay_whole,
    a_rate_too_small_to_compute_is_refused_at_start,
    a_server_name_longer_than_a_host_name_is_refused_at_start,
);
