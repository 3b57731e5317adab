//! The bodies of the fuzz targets in `fuzz/` (cargo-fuzz, run by hand; see
//! README.md), here so the stable toolchain builds them and a unit test
//! runs each over a small corpus. Each takes arbitrary bytes, must not
//! panic, and checks what must hold whatever a client sends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::{self, ClientId, Inbox};
use crate::config::{Config, Transport};
use crate::protocol::framing::{Frame, LineFramer};
use crate::protocol::irc::message::{self, MAX_MESSAGE, Message, mask_matches};
use crate::protocol::{
    Caps, Codec, Destination, Event, Mask, MessageKind, Outgoing, Protocol, Reply, Request,
};
use crate::router::{Input, Router, Services};
use crate::stats::Stats;
use crate::transport::{Intake, Next};

/// IRC message syntax: parsing never panics, and what parses, written
/// back, parses the same (for lines the writer need not cut or clean).
pub fn irc_message(data: &[u8]) {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    if let Some((mask, subject)) = line.split_once('\n') {
        mask_matches(mask, subject);
    }
    let Ok(parsed) = Message::parse(line) else {
        return;
    };
    // Tag values come back from their escaping unchanged.
    for (_, value) in parsed.tags() {
        let mut escaped = b"@k=".to_vec();
        message::escape_tag_value(&value, &mut escaped);
        escaped.extend_from_slice(b" CMD");
        let escaped = String::from_utf8(escaped).expect("UTF-8");
        let again = Message::parse(&escaped).expect("a command");
        assert_eq!(again.tag("k").as_deref(), Some(&*value));
    }
    let mut out = Vec::new();
    message::write(&mut out, parsed.source, parsed.command, &parsed.params);
    assert!(out.len() <= MAX_MESSAGE);
    let written = std::str::from_utf8(&out).expect("UTF-8 in, UTF-8 out");
    let written = written.strip_suffix("\r\n").expect("one line");
    assert!(!written.contains(['\0', '\r', '\n']), "{written:?}");
    // What the writer writes as it was read: no characters it leaves out,
    // no cut, and words it need not replace with `*`.
    let clean = !line.contains(['\0', '\r', '\n', '\t'])
        && out.len() + 4 + 2 * parsed.params.len() < MAX_MESSAGE
        && !parsed.command.starts_with(['@', ':'])
        && parsed
            .source
            .is_none_or(|source| !source.is_empty() && !source.starts_with(':'));
    if clean {
        let again = Message::parse(written).expect("what was written parses");
        assert_eq!(again.command, parsed.command);
        assert_eq!(again.source, parsed.source);
        assert_eq!(again.params, parsed.params, "{line:?} became {written:?}");
    }
}

/// Both codecs: any line decodes without panicking, and what it asks to
/// say (or the error it earns) encodes, for IRC, into lines of at most 512
/// bytes without NUL or stray CR.
pub fn codecs(data: &[u8]) {
    let codec = Codec {
        protocol: Protocol::Irc,
        server: "irc.example".into(),
    };
    for protocol in [Protocol::Irc, Protocol::Line] {
        let Some(request) = protocol.decode(data) else {
            continue;
        };
        request.cost();
        let from = Arc::new(Mask {
            nick: "nick".into(),
            user: "~user".into(),
            host: "127.0.0.1".into(),
            account: None,
        });
        let event = match request {
            Request::Message { to, text, tags, .. } => Event::Message {
                from,
                to: Destination::Room(to.first().map_or("#r", |to| to.name()).into()),
                text,
                kind: MessageKind::Say,
                tags: tags.map(Into::into),
                id: "1".into(),
                long: protocol == Protocol::Line,
            },
            Request::Topic {
                text: Some(text), ..
            } => Event::TopicChanged {
                room: "#r".into(),
                who: from,
                text: text.into(),
                id: "2".into(),
            },
            Request::Invalid(error) => Event::Reply {
                me: "nick".into(),
                reply: Reply::Error(error),
            },
            other => Event::Reply {
                me: "nick".into(),
                reply: Reply::Pong(format!("{other:?}").into()),
            },
        };
        let mut line_out = Vec::new();
        crate::protocol::line::encode(&event, &mut line_out);
        let mut out = Vec::new();
        Outgoing::new(event).write_to(&codec, Caps::MESSAGE_TAGS, &mut out);
        for line in out
            .split(|&byte| byte == b'\n')
            .filter(|line| !line.is_empty())
        {
            let line = line.strip_suffix(b"\r").expect("CR LF");
            assert!(!line.contains(&b'\0') && !line.contains(&b'\r'));
            let body = match line.strip_prefix(b"@") {
                Some(tagged) => tagged.splitn(2, |&b| b == b' ').nth(1).unwrap_or_default(),
                None => line,
            };
            assert!(body.len() + 2 <= MAX_MESSAGE, "{} bytes", body.len() + 2);
        }
    }
}

/// The framer, fed in pieces whose sizes come from the data: lines never
/// exceed the cap nor hold a newline, and what is held stays bounded.
pub fn framer(data: &[u8]) {
    let Some((&max, data)) = data.split_first() else {
        return;
    };
    let max = usize::from(max) + 1;
    let mut framer = LineFramer::new(max);
    let mut rest = data;
    while let Some((&size, after)) = rest.split_first() {
        let (chunk, after) = after.split_at(usize::from(size).min(after.len()));
        rest = after;
        framer.push(chunk);
        while let Some(frame) = framer.next_frame() {
            if let Frame::Line(line) = frame {
                assert!(line.len() <= max && !line.contains(&b'\n'));
            }
        }
        assert!(framer.buffered() <= max + 1 + chunk.len());
    }
}

/// The intake with a fake clock: bytes, clock steps and takes in the
/// order the data says; waits are positive and bounded, and what waits
/// stays bounded unless the intake says the client flooded.
pub fn intake(data: &[u8]) {
    let [protocol, rate, burst, ops @ ..] = data else {
        return;
    };
    let config = Config {
        rate: f64::from(*rate) / 8.0,
        burst: u32::from(*burst).max(1),
        max_line: 64 + usize::from(*protocol),
        ..Config::default()
    };
    let protocol = if protocol & 1 == 0 {
        Protocol::Line
    } else {
        Protocol::Irc
    };
    let mut now = Instant::now();
    let mut intake = Intake::new(protocol, &config, now);
    let mut rest = ops;
    while let Some((&op, after)) = rest.split_first() {
        rest = after;
        match op % 4 {
            0 | 1 => {
                let size = usize::from(op / 4).min(rest.len());
                let (chunk, after) = rest.split_at(size);
                rest = after;
                intake.push(chunk);
            }
            2 => now += Duration::from_millis(u64::from(op) * 10),
            _ => loop {
                match intake.next(now) {
                    Next::Ready(_) => {}
                    Next::Wait(wait) => {
                        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(3600));
                        break;
                    }
                    Next::Empty => break,
                }
            },
        }
        if intake.flooded() {
            return;
        }
    }
}

/// A router driven by random connections, disconnections, ticks and
/// requests among a few nicknames and rooms: after each, the state must
/// agree with itself (see [`Router::check_invariants`]).
pub fn router(data: &[u8]) {
    const WORDS: [&str; 12] = [
        "n0", "n1", "N2", "#a", "#A", "#b", "+o", "-o", "+i", "+b", "*!*@*", ",",
    ];
    const COMMANDS: [&str; 18] = [
        "NICK", "USER", "JOIN", "PART", "PRIVMSG", "NOTICE", "TOPIC", "KICK", "INVITE", "MODE",
        "WHO", "WHOIS", "NAMES", "AWAY", "QUIT", "TAGMSG", "LIST", "SETNAME",
    ];
    // Odd lengths get the event loop's router, which gathers what is said
    // in a room into runs.
    let transport = if data.len() % 2 == 1 {
        Transport::Evented
    } else {
        Transport::Threaded
    };
    let config = Config {
        transport,
        ..Config::default()
    };
    let stats = Arc::new(Stats::default());
    let mut router = Router::new(&config, Arc::clone(&stats), Services::none());
    let mut inboxes: Vec<Inbox> = Vec::new();
    let mut now = Instant::now();
    let mut next_id = 1;
    let mut rest = data;
    while let Some((&op, after)) = rest.split_first() {
        rest = after;
        let client = ClientId(u64::from(op % 8) + 1);
        match op >> 5 {
            0 => {
                let (outbox, inbox) = client::outbox(16, 1 << 16, Arc::clone(&stats), None, None);
                inboxes.push(inbox);
                let protocol = if op & 1 == 0 {
                    Protocol::Irc
                } else {
                    Protocol::Line
                };
                router.handle(
                    Input::Connected {
                        id: ClientId(next_id),
                        outbox,
                        peer: ([127, 0, 0, 1], 40_000).into(),
                        protocol,
                        link: Default::default(),
                    },
                    now,
                );
                next_id += 1;
            }
            1 => router.handle(Input::Disconnected(client, "gone".into()), now),
            2 => {
                now += Duration::from_secs(u64::from(op & 31) * 4);
                router.tick(now);
                for inbox in &inboxes {
                    let read = inbox.take(usize::MAX).events;
                    let weight = read.iter().map(|queued| queued.message.weight() as u64);
                    inbox.mailbox.took(weight.sum());
                }
            }
            _ => {
                let Some((&words, after)) = rest.split_first() else {
                    return;
                };
                rest = after;
                let mut line = COMMANDS[usize::from(words) % COMMANDS.len()].to_owned();
                for n in 0..usize::from(words >> 5) {
                    let Some((&word, after)) = rest.split_first() else {
                        break;
                    };
                    rest = after;
                    line.push(if n > 0 && word & 1 == 1 { ',' } else { ' ' });
                    line.push_str(WORDS[usize::from(word >> 1) % WORDS.len()]);
                }
                let protocol = Protocol::Irc;
                if let Some(request) = protocol.decode(line.as_bytes()) {
                    router.handle(Input::Request(client, request), now);
                }
            }
        }
        if let Err(broken) = router.check_invariants() {
            panic!("{broken}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A few fixed inputs and some pseudo-random ones, for every body.
    fn corpus() -> Vec<Vec<u8>> {
        let mut corpus: Vec<Vec<u8>> = [
            &b""[..],
            b"PRIVMSG #r :hi",
            b"@a=b\\sc;+d :src PRIVMSG #r,#R :x\0\ry",
            b"\t@xxxxxxxx",
            b"MODE #r +bbbb a b c :d e",
            b"WHO #r %tn,12 3",
            b"*a?b\nxaxb",
            b"/msg bob hi\r",
        ]
        .iter()
        .map(|case| case.to_vec())
        .collect();
        let mut seed: u64 = 0x5eed;
        for len in 0..300 {
            let bytes = (0..len % 97)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    (seed >> 56) as u8
                })
                .collect();
            corpus.push(bytes);
        }
        corpus
    }

    #[test]
    fn every_fuzz_body_holds_on_a_small_corpus() {
        for input in corpus() {
            irc_message(&input);
            codecs(&input);
            framer(&input);
            intake(&input);
            router(&input);
        }
    }
}
