//! HTTP/1.1 without I/O: bytes in, whole requests out; responses to bytes.
//!
//! [`RequestReader`] frames requests from whatever the transport read, with
//! `httparse` for the head and `Content-Length` for the body, and bounds
//! everything one request may make the server hold (see [`Limits`]). It
//! never reads a clock: it says by when the transport must have seen the
//! rest ([`RequestReader::deadline`]), and the transport closes the
//! connection with [`Status::REQUEST_TIMEOUT`] when that passes, so a
//! client that trickles a header a byte at a time (slowloris) is cut.

use std::fmt;
use std::time::{Duration, Instant};

/// What one request may make the server hold or wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest request line plus headers, in bytes.
    pub head_max: usize,
    /// Most header lines.
    pub headers_max: usize,
    /// Longest body, in bytes (`Content-Length`).
    pub body_max: usize,
    /// How long a request may take to arrive once its first byte has.
    pub request_timeout: Duration,
    /// How long a kept-alive connection may sit between requests.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            head_max: crate::limits::HTTP_HEAD_MAX,
            headers_max: crate::limits::HTTP_HEADERS_MAX,
            body_max: crate::limits::HTTP_BODY_MAX,
            request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// An HTTP status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(pub u16);

impl Status {
    pub const OK: Status = Status(200);
    pub const CREATED: Status = Status(201);
    pub const NO_CONTENT: Status = Status(204);
    pub const SWITCHING_PROTOCOLS: Status = Status(101);
    pub const BAD_REQUEST: Status = Status(400);
    pub const UNAUTHORIZED: Status = Status(401);
    pub const FORBIDDEN: Status = Status(403);
    pub const NOT_FOUND: Status = Status(404);
    pub const METHOD_NOT_ALLOWED: Status = Status(405);
    pub const REQUEST_TIMEOUT: Status = Status(408);
    pub const CONFLICT: Status = Status(409);
    pub const PAYLOAD_TOO_LARGE: Status = Status(413);
    pub const URI_TOO_LONG: Status = Status(414);
    pub const UPGRADE_REQUIRED: Status = Status(426);
    pub const TOO_MANY_REQUESTS: Status = Status(429);
    pub const HEADERS_TOO_LARGE: Status = Status(431);
    pub const INTERNAL_ERROR: Status = Status(500);
    pub const NOT_IMPLEMENTED: Status = Status(501);
    pub const SERVICE_UNAVAILABLE: Status = Status(503);
    pub const VERSION_NOT_SUPPORTED: Status = Status(505);

    /// The reason phrase that goes with the code.
    pub fn reason(self) -> &'static str {
        match self.0 {
            101 => "Switching Protocols",
            200 => "OK",
            201 => "Created",
            204 => "No Content",
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            409 => "Conflict",
            413 => "Content Too Large",
            414 => "URI Too Long",
            426 => "Upgrade Required",
            429 => "Too Many Requests",
            431 => "Request Header Fields Too Large",
            500 => "Internal Server Error",
            501 => "Not Implemented",
            503 => "Service Unavailable",
            505 => "HTTP Version Not Supported",
            _ => "Unknown",
        }
    }
}

/// A request that could not be read; the connection answers with
/// [`HttpError::response`] and closes, since what follows cannot be framed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpError {
    pub status: Status,
    pub message: String,
    /// Headers the answer needs besides the message (`Allow`, ...).
    pub headers: Vec<(&'static str, String)>,
}

impl HttpError {
    pub fn new(status: Status, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// The same error with a header for its answer.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> HttpError {
        self.headers.push((name, value.into()));
        self
    }

    /// A plain-text error response that closes the connection.
    pub fn response(&self) -> Response {
        let mut response = Response::text(self.status, format!("{}\n", self.message)).closing();
        response.headers.extend(self.headers.iter().cloned());
        response
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.0, self.message)
    }
}

/// One whole request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// What followed `?`, if anything.
    pub query: String,
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub minor: u8,
    /// Headers in the order sent; names as sent.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Request {
    /// A `GET` of `path` with `headers`, as a test would have read it.
    #[cfg(test)]
    pub fn get(path: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            method: "GET".into(),
            path: path.into(),
            query: String::new(),
            minor: 1,
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.as_bytes().to_vec()))
                .collect(),
            body: Vec::new(),
        }
    }

    /// The first header named `name` (any case), if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
            .map(str::trim)
    }

    /// Whether a comma-separated header `name` has `token` (any case).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .filter_map(|(_, value)| std::str::from_utf8(value).ok())
            .flat_map(|value| value.split(','))
            .any(|item| item.trim().eq_ignore_ascii_case(token))
    }

    /// Whether the connection stays open after the response: HTTP/1.1
    /// unless the client says `close`, HTTP/1.0 only if it says `keep-alive`.
    pub fn keep_alive(&self) -> bool {
        if self.minor == 0 {
            self.has_token("connection", "keep-alive")
        } else {
            !self.has_token("connection", "close")
        }
    }

    /// The value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key)? == name)
                .then(|| percent_decode(value))
                .flatten()
        })
    }
}

/// `text` with `%XX` escapes and `+` decoded; `None` if that is not UTF-8
/// or an escape is broken.
pub fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.bytes();
    while let Some(byte) = rest.next() {
        match byte {
            b'%' => {
                let high = (rest.next()? as char).to_digit(16)?;
                let low = (rest.next()? as char).to_digit(16)?;
                bytes.push((high * 16 + low) as u8);
            }
            b'+' => bytes.push(b' '),
            _ => bytes.push(byte),
        }
    }
    String::from_utf8(bytes).ok()
}

/// Frames requests out of a connection's bytes.
#[derive(Debug)]
pub struct RequestReader {
    limits: Limits,
    buffer: Vec<u8>,
    /// When the request now arriving started, or the last one ended.
    since: Instant,
    /// Whether part of a request has arrived.
    partial: bool,
}

impl RequestReader {
    /// A reader for a connection that opened at `now`.
    pub fn new(limits: Limits, now: Instant) -> RequestReader {
        RequestReader {
            limits,
            buffer: Vec::new(),
            since: now,
            partial: false,
        }
    }

    /// Takes bytes read from the peer at `now`.
    pub fn push(&mut self, bytes: &[u8], now: Instant) {
        if !bytes.is_empty() && !self.partial {
            self.partial = true;
            self.since = now;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// By when the connection must have made progress: the rest of a
    /// request that has begun within `request_timeout`, the next one
    /// within `idle_timeout`.
    pub fn deadline(&self) -> Instant {
        if self.partial {
            self.since + self.limits.request_timeout
        } else {
            self.since + self.limits.idle_timeout
        }
    }

    /// Whether part of a request is waiting: a timeout then deserves a 408,
    /// not a silent close.
    pub fn is_partial(&self) -> bool {
        self.partial
    }

    /// Bytes after the last request taken (an upgraded connection's first
    /// frames, sent without waiting for the answer), leaving none.
    pub fn take_rest(&mut self) -> Vec<u8> {
        self.partial = false;
        std::mem::take(&mut self.buffer)
    }

    /// The next whole request, `Ok(None)` if more bytes are needed, or why
    /// the bytes are not a request the server will take. `now` starts the
    /// idle clock when a request is taken.
    pub fn next(&mut self, now: Instant) -> Result<Option<Request>, HttpError> {
        if !self.partial {
            return Ok(None);
        }
        let mut headers = vec![httparse::EMPTY_HEADER; self.limits.headers_max];
        let mut parsed = httparse::Request::new(&mut headers);
        let head = match parsed.parse(&self.buffer) {
            Ok(httparse::Status::Complete(length)) if length <= self.limits.head_max => length,
            Ok(_) if self.buffer.len() > self.limits.head_max => return Err(self.too_long()),
            Ok(httparse::Status::Complete(_)) => return Err(self.too_long()),
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(HttpError::new(
                    Status::HEADERS_TOO_LARGE,
                    format!("more than {} headers", self.limits.headers_max),
                ));
            }
            Err(httparse::Error::Version) => {
                return Err(HttpError::new(
                    Status::VERSION_NOT_SUPPORTED,
                    "only HTTP/1.0 and HTTP/1.1 are spoken here",
                ));
            }
            Err(error) => {
                return Err(HttpError::new(
                    Status::BAD_REQUEST,
                    format!("malformed request: {error}"),
                ));
            }
        };
        let target = parsed.path.unwrap_or("/");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut request = Request {
            method: parsed.method.unwrap_or("").to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            minor: parsed.version.unwrap_or(1),
            headers: parsed
                .headers
                .iter()
                .map(|header| (header.name.to_owned(), header.value.to_owned()))
                .collect(),
            body: Vec::new(),
        };
        if request.header("transfer-encoding").is_some() {
            return Err(HttpError::new(
                Status::NOT_IMPLEMENTED,
                "chunked request bodies are not taken: send Content-Length",
            ));
        }
        let length = match request.header("content-length") {
            None => 0,
            Some(value) => value.parse::<usize>().map_err(|_| {
                HttpError::new(Status::BAD_REQUEST, "Content-Length is not a number")
            })?,
        };
        if length > self.limits.body_max {
            return Err(HttpError::new(
                Status::PAYLOAD_TOO_LARGE,
                format!("bodies are limited to {} bytes", self.limits.body_max),
            ));
        }
        if self.buffer.len() < head + length {
            return Ok(None);
        }
        request.body = self.buffer[head..head + length].to_vec();
        self.buffer.drain(..head + length);
        self.partial = !self.buffer.is_empty();
        self.since = now;
        Ok(Some(request))
    }

    /// Why a head over `head_max` is refused: a long request line is a
    /// long URI (414), anything else too many header bytes (431).
    fn too_long(&self) -> HttpError {
        let line_end = memchr::memchr(b'\n', &self.buffer).unwrap_or(self.buffer.len());
        if line_end > self.limits.head_max {
            HttpError::new(
                Status::URI_TOO_LONG,
                format!("request line over {} bytes", self.limits.head_max),
            )
        } else {
            HttpError::new(
                Status::HEADERS_TOO_LARGE,
                format!("request head over {} bytes", self.limits.head_max),
            )
        }
    }
}

/// A response, written whole by [`Response::write_to`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: Status,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// Whether the connection closes after this response.
    pub close: bool,
}

impl Response {
    /// A response with `body` of type `content_type`.
    pub fn new(status: Status, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", content_type.to_owned())],
            body: body.into(),
            close: false,
        }
    }

    /// A plain-text response.
    pub fn text(status: Status, body: impl Into<String>) -> Response {
        Response::new(status, "text/plain; charset=utf-8", body.into())
    }

    /// A JSON response of `value`.
    pub fn json(status: Status, value: &impl serde::Serialize) -> Response {
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
        Response::new(status, "application/json", body)
    }

    /// An empty response.
    pub fn empty(status: Status) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            close: false,
        }
    }

    /// The same response with one more header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// The same response, closing the connection after it.
    pub fn closing(mut self) -> Response {
        self.close = true;
        self
    }

    /// Appends the response as bytes. `head_only` leaves the body out (an
    /// answer to `HEAD`), keeping its length.
    pub fn write_to(&self, head_only: bool, out: &mut Vec<u8>) {
        use std::io::Write;
        let _ = write!(
            out,
            "HTTP/1.1 {} {}\r\n",
            self.status.0,
            self.status.reason()
        );
        for (name, value) in &self.headers {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        if self.status != Status::SWITCHING_PROTOCOLS {
            let _ = write!(out, "Content-Length: {}\r\n", self.body.len());
        }
        if self.close {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !head_only {
            out.extend_from_slice(&self.body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader() -> (RequestReader, Instant) {
        let now = Instant::now();
        (RequestReader::new(Limits::default(), now), now)
    }

    fn read_one(bytes: &[u8]) -> Result<Option<Request>, HttpError> {
        let (mut reader, now) = reader();
        reader.push(bytes, now);
        reader.next(now)
    }

    #[test]
    fn a_request_arriving_in_pieces_is_taken_whole_with_its_body() {
        let (mut reader, now) = reader();
        let bytes = b"POST /api/v1/rooms?x=1&name=%23a+b HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody";
        for byte in &bytes[..bytes.len() - 1] {
            reader.push(std::slice::from_ref(byte), now);
            assert_eq!(reader.next(now), Ok(None));
        }
        reader.push(&bytes[bytes.len() - 1..], now);
        let request = reader.next(now).unwrap().unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/api/v1/rooms");
        assert_eq!(request.query_param("name").as_deref(), Some("#a b"));
        assert_eq!(request.header("HOST"), Some("h"));
        assert_eq!(request.body, b"body");
        assert!(request.keep_alive());
        assert!(!reader.is_partial());
    }

    #[test]
    fn pipelined_requests_come_out_in_order() {
        let (mut reader, now) = reader();
        reader.push(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.0\r\n\r\n", now);
        assert_eq!(reader.next(now).unwrap().unwrap().path, "/a");
        let second = reader.next(now).unwrap().unwrap();
        assert_eq!(second.path, "/b");
        assert!(!second.keep_alive(), "HTTP/1.0 closes unless asked");
        assert_eq!(reader.next(now), Ok(None));
    }

    #[test]
    fn bad_requests_get_the_status_that_names_the_fault() {
        let status = |bytes: &[u8]| read_one(bytes).unwrap_err().status;
        assert_eq!(status(b"\x16\x03\x01garbage\r\n\r\n"), Status::BAD_REQUEST);
        assert_eq!(
            status(b"GET / HTTP/2.0\r\n\r\n"),
            Status::VERSION_NOT_SUPPORTED
        );
        let long_uri = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(9000));
        assert_eq!(status(long_uri.as_bytes()), Status::URI_TOO_LONG);
        let big_header = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(9000));
        assert_eq!(status(big_header.as_bytes()), Status::HEADERS_TOO_LARGE);
        let many = format!("GET / HTTP/1.1\r\n{}\r\n", "X: y\r\n".repeat(100));
        assert_eq!(status(many.as_bytes()), Status::HEADERS_TOO_LARGE);
        let body = b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n";
        assert_eq!(status(body), Status::PAYLOAD_TOO_LARGE);
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(status(chunked), Status::NOT_IMPLEMENTED);
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
            Status::BAD_REQUEST
        );
    }

    #[test]
    fn a_partial_request_has_until_the_request_timeout_an_idle_one_longer() {
        let (mut reader, start) = reader();
        let limits = Limits::default();
        assert_eq!(reader.deadline(), start + limits.idle_timeout);
        let later = start + Duration::from_secs(3);
        reader.push(b"GET / HT", later);
        assert_eq!(reader.deadline(), later + limits.request_timeout);
        // Trickling more does not move the deadline: slowloris is cut.
        reader.push(b"T", later + Duration::from_secs(5));
        assert_eq!(reader.deadline(), later + limits.request_timeout);
        reader.push(b"P/1.1\r\n\r\n", later);
        let done = later + Duration::from_secs(6);
        assert!(reader.next(done).unwrap().is_some());
        assert_eq!(reader.deadline(), done + limits.idle_timeout);
    }

    #[test]
    fn responses_are_written_with_their_length_and_close() {
        let mut out = Vec::new();
        Response::text(Status::NOT_FOUND, "no")
            .closing()
            .write_to(false, &mut out);
        assert_eq!(
            out,
            b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n\
              Content-Length: 2\r\nConnection: close\r\n\r\nno"
        );
        out.clear();
        Response::json(Status::OK, &[1, 2]).write_to(true, &mut out);
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n"
        );
    }

    #[test]
    fn percent_decoding_refuses_broken_escapes() {
        assert_eq!(percent_decode("%23room%20x").as_deref(), Some("#room x"));
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(percent_decode("%ff"), None);
    }
}
