//! The ceiling: the fastest a chat relay can be on this machine.
//!
//! One thread, one mio event loop, and nothing but framing and copying: no
//! router, no channels, no limits beyond a cap on each client's pending
//! output. It speaks just enough IRC for `switchboard-load`, and sends the
//! same bytes per delivery as switchboard (`:nick!~nick@ip PRIVMSG ...`), so
//! what separates a server from this relay is what the server does besides
//! moving bytes.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use switchboard::transport::evented::Gathering;

/// A client whose unsent output grows past this is disconnected, so a reader
/// that stalls cannot make the relay hold its backlog without bound.
const MAX_PENDING: usize = 4 * 1024 * 1024;

/// How much one `read` may take: big chunks, so a burst costs few calls.
const READ_CHUNK: usize = 64 * 1024;

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX);

/// A running relay on 127.0.0.1 and a port of its own.
pub struct Relay {
    addr: SocketAddr,
    /// Any wake-up tells the loop to stop: it is woken for nothing else.
    waker: Arc<Waker>,
    thread: JoinHandle<io::Result<()>>,
}

impl Relay {
    /// Binds 127.0.0.1:0 and starts the event loop on its own thread.
    pub fn start() -> io::Result<Relay> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let mut listener = TcpListener::bind(([127, 0, 0, 1], 0).into())?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let addr = listener.local_addr()?;
        let thread = std::thread::Builder::new()
            .name("relay".into())
            .spawn(move || Lobby::new(poll, listener).run())?;
        Ok(Relay {
            addr,
            waker,
            thread,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the loop, closes every connection and joins the thread.
    pub fn stop(self) -> io::Result<()> {
        self.waker.wake()?;
        self.thread.join().expect("relay thread panicked")
    }
}

/// One client.
struct Client {
    stream: TcpStream,
    /// Received bytes not yet ending in a complete line.
    input: Vec<u8>,
    /// Bytes the socket has not taken yet.
    output: Vec<u8>,
    /// `:nick!~nick@ip `, built once at NICK, put in front of every message.
    prefix: Vec<u8>,
    nick: String,
    rooms: Vec<String>,
    /// Already in the list of clients to flush this turn.
    queued: bool,
}

/// The loop's state: every socket, every room, every nick.
struct Lobby {
    poll: Poll,
    listener: TcpListener,
    clients: Clients,
    /// Free slots of `clients`, reused before it grows.
    free: Vec<usize>,
    rooms: HashMap<String, Vec<usize>>,
    nicks: HashMap<String, usize>,
    /// A private message, encoded once for its recipient.
    scratch: Vec<u8>,
    /// Messages relayed this turn, and copies of them appended.
    relayed: usize,
    delivered: usize,
    /// What was said in one room in a row, appended to its members all at
    /// once, as switchboard's event loop delivers (`router::run`).
    run: Run,
}

/// Messages said in one room and not appended to its members yet.
#[derive(Default)]
struct Run {
    room: Option<String>,
    /// The messages' bytes, one after the other.
    bytes: Vec<u8>,
    /// Each message's sender and where its bytes end.
    said: Vec<(usize, usize)>,
}

/// The connections, and what is to be done with them at the end of a turn.
/// Kept apart from the rooms, so a message can be appended to every member
/// while the room's member list is borrowed.
struct Clients {
    /// Indexed by token; `None` is a free slot.
    slots: Vec<Option<Client>>,
    /// Clients with output appended (or room freed in their socket) this
    /// turn: each is written once, after every event of the turn.
    to_flush: Vec<usize>,
    /// Clients to disconnect at the end of the turn.
    to_close: Vec<usize>,
}

impl Lobby {
    fn new(poll: Poll, listener: TcpListener) -> Lobby {
        Lobby {
            poll,
            listener,
            clients: Clients {
                slots: Vec::new(),
                to_flush: Vec::new(),
                to_close: Vec::new(),
            },
            free: Vec::new(),
            rooms: HashMap::new(),
            nicks: HashMap::new(),
            scratch: Vec::new(),
            relayed: 0,
            delivered: 0,
            run: Run::default(),
        }
    }

    fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut chunk = vec![0; READ_CHUNK];
        let mut gathering = Gathering::default();
        loop {
            let timeout = gathering.looking().then_some(Duration::ZERO);
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
            for event in events.iter() {
                match event.token() {
                    WAKER => return Ok(()),
                    LISTENER => self.accept()?,
                    Token(id) => {
                        if event.is_readable() {
                            self.read(id, &mut chunk);
                        }
                        if event.is_writable() {
                            self.clients.queue_flush(id);
                        }
                    }
                }
            }
            self.end_run();
            // As switchboard's event loop does, and by its rule: before
            // writing, look again, without waiting, for input that came
            // meanwhile, so its messages go out in the same writes.
            let output = !self.clients.to_flush.is_empty();
            if gathering.again(!events.is_empty(), output, self.relayed, self.delivered) {
                continue;
            }
            self.relayed = 0;
            self.delivered = 0;
            for id in std::mem::take(&mut self.clients.to_flush) {
                self.clients.flush(id);
            }
            for id in std::mem::take(&mut self.clients.to_close) {
                self.close(id);
            }
        }
    }

    /// Accepts until `WouldBlock`: the listener is edge-triggered.
    fn accept(&mut self) -> io::Result<()> {
        loop {
            let (mut stream, _) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            stream.set_nodelay(true)?;
            let slots = &mut self.clients.slots;
            let id = self.free.pop().unwrap_or(slots.len());
            self.poll.registry().register(
                &mut stream,
                Token(id),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            let client = Client {
                stream,
                input: Vec::new(),
                output: Vec::new(),
                prefix: Vec::new(),
                nick: String::new(),
                rooms: Vec::new(),
                queued: false,
            };
            if id == slots.len() {
                slots.push(Some(client));
            } else {
                slots[id] = Some(client);
            }
        }
    }

    /// Reads until `WouldBlock` and handles every complete line.
    fn read(&mut self, id: usize, chunk: &mut [u8]) {
        let Some(client) = self.clients.get(id) else {
            return;
        };
        // The input buffer is taken out so handling a line may write to any
        // client's output, this one's included.
        let mut input = std::mem::take(&mut client.input);
        let open = loop {
            match client.stream.read(chunk) {
                Ok(0) => break false,
                // A short read drained the socket: on Linux, data arriving
                // after it raises a new edge, so the read that would only
                // say `WouldBlock` is saved (tokio does the same).
                Ok(read) if read < chunk.len() => {
                    input.extend_from_slice(&chunk[..read]);
                    break true;
                }
                Ok(read) => input.extend_from_slice(&chunk[..read]),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break true,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break false,
            }
        };
        if !open {
            self.clients.to_close.push(id);
            return;
        }
        let mut start = 0;
        while let Some(end) = input[start..].iter().position(|&b| b == b'\n') {
            let line = &input[start..start + end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if let Ok(line) = std::str::from_utf8(line) {
                self.handle(id, line);
            }
            start += end + 1;
        }
        input.drain(..start);
        if let Some(client) = self.clients.get(id) {
            client.input = input;
        }
    }

    /// Carries out one line from client `id`.
    fn handle(&mut self, id: usize, line: &str) {
        let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
        let target = rest.split(' ').next().unwrap_or("");
        let to_room = command == "PRIVMSG" && target.starts_with('#');
        // Anything else goes after what was said, and may change a room.
        if !to_room || self.run.room.as_deref().is_some_and(|room| room != target) {
            self.end_run();
        }
        let Some(client) = self.clients.get(id) else {
            return;
        };
        if to_room {
            let run = &mut self.run;
            run.room.get_or_insert_with(|| target.to_owned());
            run.bytes.extend_from_slice(&client.prefix);
            run.bytes.extend_from_slice(line.as_bytes());
            run.bytes.extend_from_slice(b"\r\n");
            run.said.push((id, run.bytes.len()));
            self.relayed += 1;
            return;
        }
        match command {
            "NICK" => {
                let nick = rest.trim_start_matches(':').to_owned();
                let ip = client
                    .stream
                    .peer_addr()
                    .map_or_else(|_| "127.0.0.1".into(), |addr| addr.ip().to_string());
                client.prefix = format!(":{nick}!~{nick}@{ip} ").into_bytes();
                self.nicks.remove(&client.nick);
                self.nicks.insert(nick.clone(), id);
                client.nick = nick;
            }
            "USER" => {
                let reply = format!(":relay 001 {} :welcome\r\n", client.nick);
                self.clients.send(id, reply.as_bytes());
            }
            "JOIN" => {
                let room = rest.to_owned();
                let reply = format!(":relay 366 {} {room} :End of /NAMES list.\r\n", client.nick);
                client.rooms.push(room.clone());
                self.rooms.entry(room).or_default().push(id);
                self.clients.send(id, reply.as_bytes());
            }
            "PRIVMSG" => {
                // Encoded once, for the one recipient.
                self.scratch.clear();
                self.scratch.extend_from_slice(&client.prefix);
                self.scratch.extend_from_slice(line.as_bytes());
                self.scratch.extend_from_slice(b"\r\n");
                self.relayed += 1;
                if let Some(&to) = self.nicks.get(target) {
                    self.clients.send(to, &self.scratch);
                    self.delivered += 1;
                }
            }
            "PING" => {
                let reply = format!("PONG {rest}\r\n");
                self.clients.send(id, reply.as_bytes());
            }
            _ => {}
        }
    }

    /// Appends what the run gathered to each member of its room, all of
    /// it in one go but a member's own messages, and ends the run.
    fn end_run(&mut self) {
        let Some(room) = self.run.room.take() else {
            return;
        };
        let run = &self.run;
        for &member in self.rooms.get(&room).into_iter().flatten() {
            let mut start = 0;
            let mut from = 0;
            for &(sender, end) in &run.said {
                if sender == member {
                    if from < start {
                        self.clients.send(member, &run.bytes[from..start]);
                    }
                    from = end;
                } else {
                    self.delivered += 1;
                }
                start = end;
            }
            if from < run.bytes.len() {
                self.clients.send(member, &run.bytes[from..]);
            }
        }
        self.run.bytes.clear();
        self.run.said.clear();
    }

    /// Forgets a client: its rooms, its nick, its socket.
    fn close(&mut self, id: usize) {
        self.end_run();
        let Some(mut client) = self.clients.slots[id].take() else {
            return;
        };
        for room in &client.rooms {
            if let Some(members) = self.rooms.get_mut(room) {
                members.retain(|&member| member != id);
            }
        }
        if self.nicks.get(&client.nick) == Some(&id) {
            self.nicks.remove(&client.nick);
        }
        let _ = self.poll.registry().deregister(&mut client.stream);
        self.free.push(id);
    }
}

impl Clients {
    fn get(&mut self, id: usize) -> Option<&mut Client> {
        self.slots.get_mut(id)?.as_mut()
    }

    /// Appends bytes to a client's output, to be written at the end of the
    /// turn; past `MAX_PENDING` the client is dropped instead.
    fn send(&mut self, id: usize, bytes: &[u8]) {
        let Some(client) = self.get(id) else {
            return;
        };
        if client.output.len() + bytes.len() > MAX_PENDING {
            self.to_close.push(id);
            return;
        }
        client.output.extend_from_slice(bytes);
        self.queue_flush(id);
    }

    fn queue_flush(&mut self, id: usize) {
        if let Some(client) = self.get(id)
            && !client.queued
        {
            client.queued = true;
            self.to_flush.push(id);
        }
    }

    /// Writes until the output is gone or the socket is full; the rest waits
    /// for the next writable event.
    fn flush(&mut self, id: usize) {
        let Some(client) = self.get(id) else {
            return;
        };
        client.queued = false;
        let mut written = 0;
        let open = loop {
            if written == client.output.len() {
                break true;
            }
            match client.stream.write(&client.output[written..]) {
                // A short write filled the socket, which then raises a
                // writable edge when room frees: no `WouldBlock` call needed.
                Ok(n) if written + n < client.output.len() => {
                    written += n;
                    break true;
                }
                Ok(n) => written += n,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break true,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break false,
            }
        };
        client.output.drain(..written);
        if !open {
            self.to_close.push(id);
        }
    }
}
