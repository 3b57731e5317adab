//! The web listener: plain HTTP clients, WebSocket clients (tungstenite's
//! own client over a blocking socket) and the HTTP API, beside IRC and
//! line clients on the same server.

mod api;
mod browser;
mod http;
mod websocket;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use switchboard::{Config, Listen, Scheme, Server, Transport};
use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::{Message, WebSocket};

use crate::util::{PATIENCE, server_with};

/// A test server that also serves HTTP on a free port.
pub fn web_server(transport: Transport, tweak: impl FnOnce(&mut Config)) -> Server {
    server_with(transport, |config| {
        config
            .listen
            .push(Listen::new(Scheme::Http, ([127, 0, 0, 1], 0)));
        tweak(config);
    })
}

/// The server's HTTP address.
pub fn web_addr(server: &Server) -> SocketAddr {
    server.addr(Scheme::Http).expect("an HTTP listener")
}

/// An HTTP response as read off the wire.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {self:?}"))
    }

    /// The value of header `name`, if there is one.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// What a test client reads and writes through: a socket, or TLS over one.
pub trait Stream: Read + Write + Send {}

impl<S: Read + Write + Send> Stream for S {}

/// A plain connection, with the tests' read timeout.
fn plain(addr: SocketAddr) -> Box<dyn Stream> {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    Box::new(stream)
}

/// An HTTP/1.1 connection that sends requests and reads responses.
pub struct Http {
    stream: Box<dyn Stream>,
    buffer: Vec<u8>,
}

impl Http {
    pub fn connect(addr: SocketAddr) -> Http {
        Http::over(plain(addr))
    }

    /// HTTP over `stream` (TLS, say).
    pub fn over(stream: Box<dyn Stream>) -> Http {
        Http {
            stream,
            buffer: Vec::new(),
        }
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Sends a request with `headers` (each `Name: value`) and a body.
    pub fn send(&mut self, method: &str, path: &str, headers: &[&str], body: &str) {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
        for header in headers {
            request.push_str(header);
            request.push_str("\r\n");
        }
        if !body.is_empty() {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(body);
        self.send_raw(request.as_bytes());
    }

    /// Reads one response whole (`Content-Length` framed).
    pub fn reply(&mut self) -> Reply {
        self.read_reply(false)
    }

    /// Reads one response, with a body unless it answers a `HEAD`.
    fn read_reply(&mut self, head_only: bool) -> Reply {
        let head_end = loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                break end + 4;
            }
            self.fill();
        };
        let head = String::from_utf8(self.buffer[..head_end].to_vec()).expect("a text head");
        let status = head[9..12].parse().expect("a status");
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().unwrap())
            })
            .filter(|_| !head_only)
            .unwrap_or(0);
        while self.buffer.len() < head_end + length {
            self.fill();
        }
        let body = self.buffer[head_end..head_end + length].to_vec();
        self.buffer.drain(..head_end + length);
        Reply { status, head, body }
    }

    /// Sends a request and reads its response.
    pub fn request(&mut self, method: &str, path: &str, headers: &[&str], body: &str) -> Reply {
        self.send(method, path, headers, body);
        self.read_reply(method == "HEAD")
    }

    /// Whether the server closed the connection (reads end of stream).
    pub fn closed(&mut self) -> bool {
        let mut byte = [0; 1];
        matches!(self.stream.read(&mut byte), Ok(0) | Err(_))
    }

    fn fill(&mut self) {
        let mut chunk = [0; 4096];
        let read = self.stream.read(&mut chunk).expect("read a response");
        assert!(
            read > 0,
            "closed before a whole response: {:?}",
            self.buffer
        );
        self.buffer.extend_from_slice(&chunk[..read]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// One request on a fresh connection.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[&str], body: &str) -> Reply {
    Http::connect(addr).request(method, path, headers, body)
}

/// A WebSocket client speaking IRC.
pub struct WsClient {
    socket: WebSocket<Box<dyn Stream>>,
    /// The subprotocol the server chose, if any.
    pub subprotocol: Option<String>,
    name: String,
}

impl WsClient {
    /// Connects to `/ws` offering `subprotocols` in that order.
    pub fn connect(addr: SocketAddr, subprotocols: &[&str]) -> WsClient {
        WsClient::over(plain(addr), &format!("ws://{addr}/ws"), subprotocols)
    }

    /// Upgrades `stream` (TLS, say) at `url`, offering `subprotocols`.
    pub fn over(stream: Box<dyn Stream>, url: &str, subprotocols: &[&str]) -> WsClient {
        let mut request = url.into_client_request().unwrap();
        if !subprotocols.is_empty() {
            request.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_str(&subprotocols.join(", ")).unwrap(),
            );
        }
        let (socket, response) = tungstenite::client(request, stream).expect("upgrade");
        let subprotocol = response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .map(|value| value.to_str().unwrap().to_owned());
        WsClient {
            socket,
            subprotocol,
            name: "web".into(),
        }
    }

    /// Connects with `subprotocols` and registers as `nick`.
    pub fn irc(addr: SocketAddr, subprotocols: &[&str], nick: &str) -> WsClient {
        WsClient::connect(addr, subprotocols).register(nick)
    }

    /// Registers as `nick`.
    pub fn register(mut self, nick: &str) -> WsClient {
        let client = &mut self;
        client.name = nick.into();
        client.send(&format!("NICK {nick}"));
        client.send(&format!("USER {nick} 0 * :Web {nick}"));
        client.expect_with("the end of the MOTD", |line| {
            line.contains(" 376 ") || line.contains(" 422 ")
        });
        self
    }

    /// Sends one IRC line as a text frame.
    pub fn send(&mut self, line: &str) {
        self.socket.send(Message::text(line)).expect("send");
    }

    /// Sends a message as it is.
    pub fn send_message(&mut self, message: Message) {
        self.socket.send(message).expect("send");
    }

    /// The next data message, answering pings on the way; `None` once the
    /// server closed.
    pub fn next_message(&mut self) -> Option<Message> {
        loop {
            match self.read()? {
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                message => return Some(message),
            }
        }
    }

    /// The next message of any kind; fails if the server closed.
    pub fn next_any(&mut self) -> Message {
        let name = self.name.clone();
        self.read()
            .unwrap_or_else(|| panic!("{name}: closed while waiting"))
    }

    fn read(&mut self) -> Option<Message> {
        match self.socket.read() {
            Ok(message) => Some(message),
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => None,
            Err(tungstenite::Error::Io(error))
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!("{}: nothing within {PATIENCE:?}", self.name)
            }
            Err(error) => panic!("{}: {error}", self.name),
        }
    }

    /// The next line, whatever frame carried it.
    pub fn next_line(&mut self) -> Option<String> {
        match self.next_message()? {
            Message::Text(text) => Some(text.to_string()),
            Message::Binary(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            Message::Close(_) => None,
            other => panic!("{}: unexpected {other:?}", self.name),
        }
    }

    /// Reads lines until one satisfies `wanted`.
    pub fn expect_with(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        loop {
            match self.next_line() {
                Some(line) if wanted(&line) => return line,
                Some(_) => {}
                None => panic!("{}: closed while waiting for {what}", self.name),
            }
        }
    }

    /// Reads lines until one contains `text`.
    pub fn expect(&mut self, text: &str) -> String {
        self.expect_with(text, |line| line.contains(text))
    }

    /// The raw stream, for tests that break the protocol.
    pub fn stream(&mut self) -> &mut Box<dyn Stream> {
        self.socket.get_mut()
    }
}

/// Parses Prometheus/OpenMetrics text into (name with labels, value),
/// failing on any line that is neither a comment nor a sample.
pub fn parse_metrics(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (name, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("not a sample: {line:?}"));
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("not a number: {line:?}"));
            assert!(
                name.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_'),
                "bad metric name: {line:?}"
            );
            (name.to_owned(), value)
        })
        .collect()
}

/// How long tests give the server to cut a slow request.
pub const SHORT_TIMEOUT: Duration = Duration::from_secs(1);
