//! Codec microbenchmarks: what encoding and parsing cost per operation.

use std::time::{Duration, Instant};

use switchboard::protocol::irc::message::Message;
use switchboard::protocol::{
    Caps, Codec, Destination, Event, Mask, MessageKind, Outgoing, Protocol,
};

/// Encoding and parsing costs, per operation.
pub fn run() {
    let from = std::sync::Arc::new(Mask {
        nick: "alice".into(),
        user: "~alice".into(),
        host: "127.0.0.1".into(),
        account: None,
    });
    let event = || Event::Message {
        from: from.clone(),
        to: Destination::Room("#bench".into()),
        text: "x".repeat(64).into(),
        kind: MessageKind::Say,
        tags: None,
        id: "1".into(),
        long: false,
    };
    let codec = |protocol| Codec {
        protocol,
        server: "bench".into(),
    };
    println!("codec microbenchmarks (ns per operation)");
    for (name, protocol) in [
        ("encode line PRIVMSG", Protocol::Line),
        ("encode IRC PRIVMSG", Protocol::Irc),
    ] {
        let codec = codec(protocol);
        let mut out = Vec::new();
        let per = time(200_000, |_| {
            out.clear();
            Outgoing::new(event()).write_to(&codec, Caps::default(), &mut out);
        });
        println!("  {name:<36} {per:>8.0}");
    }
    let codec = codec(Protocol::Irc);
    let shared = Outgoing::new(event());
    let mut out = Vec::new();
    let per = time(1_000_000, |_| {
        out.clear();
        shared.write_to(&codec, Caps::SERVER_TIME, &mut out);
    });
    println!("  {:<36} {per:>8.0}", "write shared IRC PRIVMSG + time tag");
    let line = format!(
        "@+draft/reply=1 :alice!~alice@host PRIVMSG #bench :{}",
        "x".repeat(64)
    );
    let per = time(1_000_000, |_| {
        std::hint::black_box(Message::parse(&line).expect("parses"));
    });
    println!("  {:<36} {per:>8.0}", "parse IRC PRIVMSG");
    let per = time(1_000_000, |_| {
        std::hint::black_box(Protocol::Irc.decode(line.as_bytes()));
    });
    println!("  {:<36} {per:>8.0}", "decode IRC PRIVMSG to a request");
}

/// Nanoseconds per call of `f` over `iterations` calls.
fn time(iterations: u32, mut f: impl FnMut(u32)) -> f64 {
    let start = Instant::now();
    for i in 0..iterations {
        f(i);
    }
    let elapsed: Duration = start.elapsed();
    elapsed.as_nanos() as f64 / f64::from(iterations)
}
