//! Servers on port 0 and line-protocol clients that wait for what they expect.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use switchboard::config::PasswordCost;
use switchboard::{Config, Listen, Scheme, Server, Transport};

/// How long a test waits for a line it expects before failing.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// Runs each named test function once per transport, as
/// `module::threaded::name` and `module::evented::name`.
#[macro_export]
macro_rules! both_transports {
    ($($name:ident),* $(,)?) => {
        mod threaded {
            $(#[test]
            fn $name() {
                super::$name(switchboard::Transport::Threaded)
            })*
        }
        mod evented {
            $(#[test]
            fn $name() {
                super::$name(switchboard::Transport::Evented)
            })*
        }
    };
}

/// Held by the tests that move megabytes as fast as loopback goes, so that
/// no two of them share the machine's cores at once: each asserts that a
/// reader keeps up, which a reader starved of CPU cannot.
pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A heavy test that failed leaves the lock poisoned; the next may run.
    HEAVY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A config for tests: loopback, port 0 for both protocols, no flood
/// control, a database that keeps nothing and cheap password hashes.
pub fn config(transport: Transport) -> Config {
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    Config {
        transport,
        listen: vec![
            Listen::new(Scheme::Line, any_port),
            Listen::new(Scheme::Irc, any_port),
        ],
        server_name: "test.server".into(),
        rate: 0.0,
        db: ":memory:".into(),
        password_cost: PasswordCost::Minimal,
        ..Config::default()
    }
}

/// Starts a server with [`config`] changed by `tweak`.
pub fn server_with(transport: Transport, tweak: impl FnOnce(&mut Config)) -> Server {
    // Tests hold both ends of thousands of connections in one process.
    rlimit::increase_nofile_limit(u64::MAX).expect("raise the descriptor limit");
    let mut config = config(transport);
    tweak(&mut config);
    Server::start(config).expect("server starts")
}

/// Starts a server with the test defaults.
pub fn server(transport: Transport) -> Server {
    server_with(transport, |_| {})
}

/// The address of the server's line protocol.
pub fn line_addr(server: &Server) -> SocketAddr {
    server.addr(Scheme::Line).expect("a line listener")
}

/// The address of the server's IRC listener.
pub fn irc_addr(server: &Server) -> SocketAddr {
    server.addr(Scheme::Irc).expect("an IRC listener")
}

/// The server binary in a child process, serving the line protocol on a
/// free port; killed if the test ends before it does.
pub struct Binary {
    child: Child,
    /// Where it serves the line protocol, as its log said.
    pub addr: SocketAddr,
    /// The rest of its log, line by line, read by a thread so that the
    /// server never blocks on a full pipe.
    pub log: Receiver<String>,
}

impl Binary {
    /// Starts the binary with `--transport transport` and `args`.
    pub fn start(transport: Transport, args: &[&str]) -> Binary {
        // No database file left behind in the working directory, unless
        // the test names one.
        let db = if args.contains(&"--db") {
            &[][..]
        } else {
            &["--db", ":memory:"][..]
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["--listen", "line://127.0.0.1:0"])
            .args(["--transport", &transport.to_string()])
            .args(db)
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the binary");
        let (tx, log) = crossbeam_channel::unbounded();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut binary = Binary {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        binary.addr = binary
            .log_line("the listening address", |line| {
                line.split_once("serving line://")
                    .map(|(_, addr)| addr.trim().parse().unwrap())
            })
            .expect("the listening address in the log");
        binary
    }

    /// Reads the log until `find` finds something in a line.
    pub fn log_line<T>(&self, what: &str, find: impl Fn(&str) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let line = self.log.recv_deadline(deadline).ok()?;
            if let Some(found) = find(&line) {
                return Some(found);
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
        }
    }

    /// Kills the process at once (SIGKILL: no shutdown, no flushing) and
    /// waits for it to be gone.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill the server");
        self.child.wait().expect("reap the server");
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The most memory the process has held at once, in KiB (Linux's
    /// `VmHWM`, its peak resident set).
    pub fn peak_memory_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the process status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in the status")
    }

    /// Waits for the process to exit, failing the test after [`PATIENCE`].
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `condition` holds, failing the test after [`PATIENCE`].
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The command or numeric of an IRC line, after its tags and source.
pub fn numeric(line: &str) -> Option<&str> {
    let mut words = line.split(' ');
    let mut word = words.next()?;
    if word.starts_with('@') {
        word = words.next()?;
    }
    if word.starts_with(':') {
        word = words.next()?;
    }
    Some(word)
}

/// A line-protocol or IRC client, over plain TCP or TLS.
pub struct Client {
    reader: BufReader<Box<dyn Read + Send>>,
    writer: Box<dyn Write + Send>,
    /// The TCP socket underneath.
    socket: TcpStream,
    /// For failure messages: whose lines these are.
    name: String,
}

impl Client {
    /// Connects and reads the greeting.
    pub fn connect(addr: SocketAddr) -> Client {
        let mut client = Client::connect_quietly(addr);
        client.expect("- welcome to switchboard!");
        client
    }

    /// Connects without reading anything.
    pub fn connect_quietly(addr: SocketAddr) -> Client {
        Client::over(TcpStream::connect(addr).expect("connect"))
    }

    /// Connects with a receive buffer of about `bytes` and reads the
    /// greeting: a client that stops reading backs up the server's socket
    /// after little more than that.
    pub fn connect_narrow(addr: SocketAddr, bytes: usize) -> Client {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("a socket");
        // Set before connecting, so the window it advertises is small too.
        socket
            .set_recv_buffer_size(bytes)
            .expect("a receive buffer size");
        socket.connect(&addr.into()).expect("connect");
        let mut client = Client::over(socket.into());
        client.expect("- welcome to switchboard!");
        client
    }

    fn over(stream: TcpStream) -> Client {
        let reader = Box::new(stream.try_clone().unwrap());
        let writer = Box::new(stream.try_clone().unwrap());
        Client::carried(stream, reader, writer)
    }

    /// A client that reads and writes through `reader` and `writer` (a
    /// TLS session, say) over `socket`.
    pub fn carried(
        socket: TcpStream,
        reader: Box<dyn Read + Send>,
        writer: Box<dyn Write + Send>,
    ) -> Client {
        socket.set_read_timeout(Some(PATIENCE)).unwrap();
        Client {
            reader: BufReader::with_capacity(64 * 1024, reader),
            writer,
            socket,
            name: "anonymous".into(),
        }
    }

    /// Connects to IRC and registers as `nick` (user `nick`, real name
    /// "Real nick"), reading the welcome burst up to the end of the MOTD.
    pub fn irc(addr: SocketAddr, nick: &str) -> Client {
        Client::connect_quietly(addr).irc_register(nick)
    }

    /// Registers on IRC as `nick`, as [`Client::irc`] does.
    pub fn irc_register(mut self, nick: &str) -> Client {
        self.name = nick.into();
        self.send(&format!("NICK {nick}"));
        self.send(&format!("USER {nick} 0 * :Real {nick}"));
        self.expect_numeric("001");
        self.expect_with("the end of the MOTD", |line| {
            numeric(line) == Some("376") || numeric(line) == Some("422")
        });
        self
    }

    /// Connects to IRC with the capabilities `caps` (space-separated) and
    /// registers as `nick`, reading the welcome burst.
    pub fn irc_with_caps(addr: SocketAddr, nick: &str, caps: &str) -> Client {
        let mut client = Client::connect_quietly(addr);
        client.name = nick.into();
        client.send(&format!("CAP REQ :{caps}"));
        client.send(&format!("NICK {nick}"));
        client.send(&format!("USER {nick} 0 * :Real {nick}"));
        client.expect(&format!(":test.server CAP * ACK :{caps}"));
        client.send("CAP END");
        client.expect_numeric("001");
        client.expect_with("the end of the MOTD", |line| {
            numeric(line) == Some("376") || numeric(line) == Some("422")
        });
        client
    }

    /// Connects, picks `nick` and waits for the welcome.
    pub fn register(addr: SocketAddr, nick: &str) -> Client {
        Client::connect(addr).named(nick)
    }

    /// Picks `nick` on a connection that read the greeting, and waits for
    /// the welcome.
    pub fn named(mut self, nick: &str) -> Client {
        self.name = nick.into();
        self.send(&format!("/nick {nick}"));
        self.expect(&format!("- hello {nick}!"));
        self
    }

    /// Registers and joins `room`, waiting until the member list arrives.
    pub fn in_room(addr: SocketAddr, nick: &str, room: &str) -> Client {
        let mut client = Client::register(addr, nick);
        client.join(room);
        client
    }

    /// Joins `room` and waits for the member list.
    pub fn join(&mut self, room: &str) {
        self.send(&format!("/join {room}"));
        self.expect(&format!("- members of {room} "));
    }

    /// A second handle on the socket, for sending from another thread.
    pub fn sender(&self) -> TcpStream {
        self.socket.try_clone().expect("clone socket")
    }

    /// The socket, for tests that need to shape how it closes.
    pub fn stream(&self) -> &TcpStream {
        &self.socket
    }

    /// Sends one line.
    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\n").as_bytes());
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send");
    }

    /// The next line, or `None` at end of stream. Fails after [`PATIENCE`].
    pub fn next_line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_owned()),
            Err(error) if error.kind() == ErrorKind::ConnectionReset => None,
            Err(error) => panic!("{}: reading: {error}", self.name),
        }
    }

    /// Reads the next line into `line`, without its terminator and without
    /// allocating once `line` has grown; false at end of stream. For
    /// readers that must keep up with a flood.
    pub fn next_line_into(&mut self, line: &mut Vec<u8>) -> bool {
        line.clear();
        match self.reader.read_until(b'\n', line) {
            Ok(0) => false,
            Ok(_) => {
                while line
                    .last()
                    .is_some_and(|&byte| byte == b'\n' || byte == b'\r')
                {
                    line.pop();
                }
                true
            }
            Err(error) if error.kind() == ErrorKind::ConnectionReset => false,
            Err(error) => panic!("{}: reading: {error}", self.name),
        }
    }

    /// The next `count` bytes, lines or not (telnet's answers are not).
    pub fn next_bytes(&mut self, count: usize) -> Vec<u8> {
        let mut bytes = vec![0; count];
        self.reader.read_exact(&mut bytes).expect("read bytes");
        bytes
    }

    /// Reads until a line starts with `prefix` and returns it; lines before
    /// it are skipped.
    pub fn expect(&mut self, prefix: &str) -> String {
        self.expect_with(prefix, |line| line.starts_with(prefix))
    }

    /// Reads until an IRC line with this numeric (or command) and returns it.
    pub fn expect_numeric(&mut self, code: &str) -> String {
        self.expect_with(code, |line| numeric(line) == Some(code))
    }

    /// Reads until a line satisfies `wanted` and returns it; lines before it
    /// are skipped.
    pub fn expect_with(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let mut skipped = Vec::new();
        loop {
            match self.next_line() {
                Some(line) if wanted(&line) => return line,
                Some(line) => skipped.push(line),
                None => panic!(
                    "{}: connection ended before {what:?}; saw {skipped:?}",
                    self.name
                ),
            }
        }
    }

    /// The next line must be exactly `expected`.
    pub fn expect_next(&mut self, expected: &str) {
        assert_eq!(
            self.next_line().as_deref(),
            Some(expected),
            "{}: unexpected line",
            self.name
        );
    }

    /// Reads to the end of the stream and returns everything read.
    pub fn read_to_end(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.next_line()).collect()
    }
}
