//! Bad input gets a clear error line and the connection stays usable.

use switchboard::Transport;

use crate::util::{Client, line_addr, server, server_with};

/// Asserts the client is still served: a private message to itself comes back.
fn still_usable(client: &mut Client, nick: &str) {
    client.send(&format!("/msg {nick} still here"));
    client.expect_next(&format!("[pm] <{nick}> still here"));
}

fn unknown_commands_missing_arguments_and_empty_lines_are_errors(transport: Transport) {
    let server = server(transport);
    let mut alice = Client::register(line_addr(&server), "alice");
    for (line, error) in [
        ("/dance", "! error: unknown command: /dance (try /help)"),
        ("/join", "! error: missing argument: /join #room [key]"),
        (
            "/msg alice",
            "! error: missing argument: /msg #room|NAME TEXT",
        ),
        ("/nick", "! error: missing argument: /nick NAME"),
        ("", "! error: empty line ignored (type /help for commands)"),
        (
            "   ",
            "! error: empty line ignored (type /help for commands)",
        ),
        ("hello", "! error: you are not in a room: /join #room first"),
        (
            "/join lobby",
            "! error: invalid room name: lobby (# then up to 49 bytes, no spaces, commas or control characters)",
        ),
        ("/leave #nowhere", "! error: no such room: #nowhere"),
    ] {
        alice.send(line);
        alice.expect_next(error);
    }
    still_usable(&mut alice, "alice");
}

fn invalid_utf8_is_rejected_and_the_line_after_it_works(transport: Transport) {
    let server = server(transport);
    let mut alice = Client::register(line_addr(&server), "alice");
    alice.send_raw(b"caf\xe9 latin-1\n\xfe\xfd\xfc\n");
    alice.expect_next("! error: line is not valid UTF-8, ignored");
    alice.expect_next("! error: line is not valid UTF-8, ignored");
    still_usable(&mut alice, "alice");
}

fn an_overlong_line_is_refused_whole_and_memory_stays_bounded(transport: Transport) {
    let server = server_with(transport, |config| config.max_line = 100);
    let mut alice = Client::register(line_addr(&server), "alice");
    alice.send(&format!("/msg alice {}", "x".repeat(100)));
    alice.expect_next("! error: line too long (at most 100 bytes), ignored");
    // A megabyte with no newline at all, then the end of that line.
    let chunk = vec![b'y'; 64 * 1024];
    for _ in 0..16 {
        alice.send_raw(&chunk);
    }
    alice.send_raw(b" tail\n");
    alice.expect_next("! error: line too long (at most 100 bytes), ignored");
    // A line of exactly the limit is fine, CRLF too.
    let exact = format!("/msg alice {}", "z".repeat(89));
    assert_eq!(exact.len(), 100);
    alice.send_raw(format!("{exact}\r\n").as_bytes());
    alice.expect_next(&format!("[pm] <alice> {}", "z".repeat(89)));
    still_usable(&mut alice, "alice");
}

fn garbage_never_takes_the_server_down(transport: Transport) {
    // The noise earns thousands of error lines that this test reads only
    // after sending it all: a queue big enough for them keeps the slow-client
    // policy out of this test.
    let server = server_with(transport, |config| config.sendq = 100_000);
    let addr = line_addr(&server);
    let mut watcher = Client::register(addr, "watcher");
    let mut fuzz = Client::register(addr, "fuzz");
    // A fixed xorshift sequence: reproducible noise with some newlines and
    // slashes mixed in.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut noise = Vec::with_capacity(256 * 1024);
    while noise.len() < noise.capacity() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        noise.push(match state % 23 {
            0 => b'\n',
            1 => b'/',
            _ => (state >> 32) as u8,
        });
    }
    fuzz.send_raw(&noise);
    fuzz.send("\n/quit done");
    let lines = fuzz.read_to_end();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("! closing: you quit (done)")
    );
    still_usable(&mut watcher, "watcher");
}

crate::both_transports!(
    unknown_commands_missing_arguments_and_empty_lines_are_errors,
    invalid_utf8_is_rejected_and_the_line_after_it_works,
    an_overlong_line_is_refused_whole_and_memory_stays_bounded,
    garbage_never_takes_the_server_down,
);
