//! The writer against recorded sockets and real ones.

use super::*;
use crate::client;
use crate::protocol::{Outgoing, Protocol, said};

/// Records each `write` call.
#[derive(Default)]
struct Recorder {
    writes: Vec<Vec<u8>>,
}

impl Sink for Recorder {
    fn write_now(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write(buf)
    }
}

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writes.push(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn message(n: usize) -> std::sync::Arc<Outgoing> {
    padded(n, 0)
}

/// Message `n`, its text padded with `pad` dots.
fn padded(n: usize, pad: usize) -> std::sync::Arc<Outgoing> {
    said(&format!("{n}{}", ".".repeat(pad)))
}

fn line_codec() -> Codec {
    Codec {
        protocol: Protocol::Line,
        server: "test".into(),
    }
}

/// What a plain line-protocol writer writes from.
fn writing<'a>(inbox: &'a Inbox, nudge: &'a WriterNudge, stats: &'a Stats) -> Writing<'a> {
    static CODEC: std::sync::LazyLock<Codec> = std::sync::LazyLock::new(line_codec);
    static PLAIN: std::sync::LazyLock<Session> = std::sync::LazyLock::new(Session::plain);
    Writing {
        inbox,
        nudge,
        codec: &CODEC,
        session: &PLAIN,
        stats,
    }
}

/// Queues messages 0..count in an outbox of `capacity`, closes it (with
/// `farewell`, if any) and runs the writer over it.
fn written(capacity: usize, count: usize, farewell: Option<&str>) -> (Recorder, Arc<Stats>) {
    let stats = Arc::new(Stats::default());
    let nudge = Arc::new(WriterNudge::default());
    let for_outbox: Arc<dyn Nudge> = nudge.clone();
    let (mut outbox, inbox) = client::outbox(
        capacity,
        1 << 20,
        Arc::clone(&stats),
        Some(for_outbox),
        None,
    );
    // Its socket has stalled, so the outbox holds at most `capacity`.
    inbox
        .mailbox
        .set_stalled(Some(Instant::now() - client::STALL));
    let mut turn = client::Turn::default();
    for n in 0..count {
        outbox.deliver(&message(n), Instant::now(), &mut turn);
    }
    turn.wake_all();
    match farewell {
        Some(reason) => outbox.close(reason.into(), &turn),
        None => drop(outbox),
    }
    let mut out = Recorder::default();
    write_loop(
        &mut out,
        &writing(&inbox, &nudge, &stats),
        Duration::from_secs(5),
    )
    .unwrap();
    (out, stats)
}

#[test]
fn everything_queued_goes_out_in_one_write() {
    let (out, stats) = written(100, 50, Some("bye"));
    assert_eq!(out.writes.len(), 2, "one batch, then the farewell");
    let batch = String::from_utf8(out.writes[0].clone()).unwrap();
    assert_eq!(batch.lines().count(), 50);
    assert!(batch.starts_with("[#r] <alice> 0\n"));
    assert_eq!(out.writes[1], b"! closing: bye\n");
    assert_eq!(stats.snapshot().write_calls, 1);
    assert_eq!(stats.snapshot().written, 50);
}

#[test]
fn dropped_messages_are_reported_after_the_queue_drains() {
    let (out, stats) = written(3, 10, None);
    let text = String::from_utf8(out.writes.concat()).unwrap();
    assert_eq!(
        text,
        "[#r] <alice> 0\n[#r] <alice> 1\n[#r] <alice> 2\n\
         ! missed 7 messages: your connection was too slow\n"
    );
    assert_eq!(stats.snapshot().dropped, 7);
}

/// A router that panics drops its outboxes without closing them; their
/// writers, parked on empty queues, must still end, or shutdown hangs
/// joining them.
#[test]
fn dropping_the_outbox_ends_a_parked_writer() {
    let stats = Arc::new(Stats::default());
    let nudge = Arc::new(WriterNudge::default());
    let for_outbox: Arc<dyn Nudge> = nudge.clone();
    let (outbox, inbox) = client::outbox(10, 1 << 20, Arc::clone(&stats), Some(for_outbox), None);
    let (ended_tx, ended) = crossbeam_channel::bounded(1);
    let writer = thread::spawn({
        let nudge = Arc::clone(&nudge);
        move || {
            let mut out = Recorder::default();
            let timeout = Duration::from_secs(5);
            let result = write_loop(&mut out, &writing(&inbox, &nudge, &stats), timeout);
            let _ = ended_tx.send(result.is_ok());
        }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while nudge.state.load(Ordering::SeqCst) != PARKED {
        assert!(Instant::now() < deadline, "the writer never parked");
        thread::yield_now();
    }
    drop(outbox);
    let ended = ended.recv_timeout(Duration::from_secs(5));
    assert_eq!(ended, Ok(true), "the writer ended cleanly");
    writer.join().unwrap();
}

/// The router writes a parked writer's socket itself; when the socket
/// pushes back (here a client that reads nothing for a while), the
/// writer takes over. Either way every message arrives, in order,
/// and the farewell comes last.
#[test]
fn the_router_writes_in_order_until_the_writer_takes_over() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let stream = Arc::new(listener.accept().unwrap().0);
    // Small buffers, so the socket pushes back long before the reader
    // starts.
    SockRef::from(&client)
        .set_recv_buffer_size(64 * 1024)
        .unwrap();
    SockRef::from(&*stream)
        .set_send_buffer_size(64 * 1024)
        .unwrap();
    stream.set_nodelay(true).unwrap();
    let stats = Arc::new(Stats::default());
    let nudge = Arc::new(WriterNudge::default());
    let for_outbox: Arc<dyn Nudge> = nudge.clone();
    let (mut outbox, inbox) =
        client::outbox(100, 1 << 30, Arc::clone(&stats), Some(for_outbox), None);
    nudge.write_directly(Direct {
        stream: Arc::clone(&stream),
        inbox: inbox.for_router(),
        codec: line_codec(),
        session: Session::plain(),
        stats: Arc::clone(&stats),
    });
    let writer = thread::spawn({
        let nudge = Arc::clone(&nudge);
        let stats = Arc::clone(&stats);
        let stream = Arc::clone(&stream);
        move || {
            let mut out = &*stream;
            let timeout = Duration::from_secs(10);
            let result = write_loop(&mut out, &writing(&inbox, &nudge, &stats), timeout);
            let _ = stream.shutdown(Shutdown::Both);
            result
        }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while nudge.state.load(Ordering::SeqCst) != PARKED {
        assert!(Instant::now() < deadline, "the writer never parked");
        thread::yield_now();
    }
    // Turns of ten messages of 1 KB: the first ones fit in the
    // socket's buffers, written by the router, the rest do not.
    let (start_reading, reading) = crossbeam_channel::bounded::<()>(1);
    let reader = thread::spawn(move || {
        let _ = reading.recv();
        let mut text = String::new();
        io::Read::read_to_string(&mut client, &mut text).unwrap();
        text
    });
    let count = 3000;
    let mut turn = client::Turn::default();
    for n in 0..count {
        let queued = outbox.deliver(&padded(n, 1000), Instant::now(), &mut turn);
        assert_eq!(queued, client::Delivery::Queued, "message {n}");
        if n % 10 == 9 {
            turn.wake_all();
        }
        if n == count / 2 {
            start_reading.send(()).unwrap();
        }
    }
    turn.wake_all();
    outbox.close("bye".into(), &turn);
    writer.join().unwrap().unwrap();
    let text = reader.join().unwrap();
    let mut lines = text.lines();
    for n in 0..count {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("message {n} is missing"));
        assert_eq!(line, format!("[#r] <alice> {n}{}", ".".repeat(1000)));
    }
    assert_eq!(lines.next(), Some("! closing: bye"));
    assert_eq!(lines.next(), None);
    assert_eq!(stats.snapshot().written, count as u64);
}
