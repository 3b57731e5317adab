use super::*;
use crate::web::http::{Limits, RequestReader};
use std::time::Instant;

fn request(extra: &str) -> Request {
    let text = format!(
        "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    );
    let now = Instant::now();
    let mut reader = RequestReader::new(Limits::default(), now);
    reader.push(text.as_bytes(), now);
    reader.next(now).unwrap().unwrap()
}

/// A client's side of the connection, to make masked frames and read the
/// server's.
struct Client {
    context: WebSocketContext,
    pipe: Pipe,
}

impl Client {
    fn new() -> Client {
        Client {
            context: WebSocketContext::new(Role::Client, None),
            pipe: Pipe::default(),
        }
    }

    fn send(&mut self, message: Message) -> Vec<u8> {
        self.context.write(&mut self.pipe, message).unwrap();
        self.context.flush(&mut self.pipe).unwrap();
        std::mem::take(&mut self.pipe.output)
    }

    fn receive(&mut self, bytes: &[u8]) -> Vec<Message> {
        self.pipe.input.extend_from_slice(bytes);
        let mut messages = Vec::new();
        while let Ok(message) = self.context.read(&mut self.pipe) {
            messages.push(message);
        }
        messages
    }
}

#[test]
fn the_clients_first_supported_subprotocol_is_chosen() {
    let cases = [
        ("binary.ircv3.net", Mode::Binary, Some(BINARY)),
        ("text.ircv3.net", Mode::Text, Some(TEXT)),
        (
            "foo, binary.ircv3.net, text.ircv3.net",
            Mode::Binary,
            Some(BINARY),
        ),
        ("text.ircv3.net, binary.ircv3.net", Mode::Text, Some(TEXT)),
    ];
    for (offered, mode, named) in cases {
        let upgrade = upgrade(&request(&format!("Sec-WebSocket-Protocol: {offered}\r\n"))).unwrap();
        assert_eq!(upgrade.mode, mode, "{offered}");
        let header = upgrade
            .response
            .headers
            .iter()
            .find(|(name, _)| *name == "Sec-WebSocket-Protocol")
            .map(|(_, value)| value.as_str());
        assert_eq!(header, named, "{offered}");
    }
    let none = upgrade(&request("")).unwrap();
    assert_eq!(none.mode, Mode::Text);
    let mut out = Vec::new();
    none.response.write_to(false, &mut out);
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{out}"
    );
    // RFC 6455's own example key and answer.
    assert!(
        out.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
        "{out}"
    );
    assert!(!out.contains("Sec-WebSocket-Protocol"), "{out}");
}

#[test]
fn unsupported_subprotocols_and_bad_upgrades_are_refused() {
    let refused = upgrade(&request("Sec-WebSocket-Protocol: mqtt\r\n")).unwrap_err();
    assert_eq!(refused.status, Status::BAD_REQUEST);
    let mut plain = request("");
    plain.headers.retain(|(name, _)| name != "Upgrade");
    assert_eq!(
        upgrade(&plain).unwrap_err().status,
        Status::UPGRADE_REQUIRED
    );
    let mut old = request("");
    old.headers
        .retain(|(name, _)| name != "Sec-WebSocket-Version");
    let old = upgrade(&old).unwrap_err();
    assert_eq!(old.status, Status::UPGRADE_REQUIRED);
    assert!(
        old.response()
            .headers
            .contains(&("Sec-WebSocket-Version", "13".into()))
    );
}

#[test]
fn each_frame_is_one_line_in_and_each_line_one_frame_out() {
    let mut client = Client::new();
    let mut session = Session::new(Mode::Text);
    let mut wire = client.send(Message::text("NICK web"));
    wire.extend(client.send(Message::binary(b"USER u 0 * :r\r\n".to_vec())));
    wire.extend(client.send(Message::text("")));
    let mut lines = Vec::new();
    // Byte by byte: frames are whole only once their last byte is in.
    for byte in &wire {
        session.read(std::slice::from_ref(byte), &mut lines);
    }
    assert_eq!(lines, b"NICK web\r\nUSER u 0 * :r\r\n");
    session.write(b":s 001 web :hi\r\n:s PING :x\r\n");
    let mut out = Vec::new();
    session.take_output(&mut out);
    assert_eq!(
        client.receive(&out),
        [Message::text(":s 001 web :hi"), Message::text(":s PING :x")]
    );
}

#[test]
fn text_frames_never_carry_bytes_that_are_not_utf8_and_binary_ones_do() {
    let mut client = Client::new();
    let mut text = Session::new(Mode::Text);
    text.write(b"PRIVMSG web :caf\xe9\r\n");
    let mut out = Vec::new();
    text.take_output(&mut out);
    assert_eq!(
        client.receive(&out),
        [Message::text("PRIVMSG web :caf\u{fffd}")]
    );
    let mut binary = Session::new(Mode::Binary);
    binary.write(b"PRIVMSG web :caf\xe9\r\n");
    out.clear();
    binary.take_output(&mut out);
    assert_eq!(
        client.receive(&out),
        [Message::binary(b"PRIVMSG web :caf\xe9".to_vec())]
    );
}

#[test]
fn pings_are_answered_and_a_close_is_returned_and_ends_the_session() {
    let mut client = Client::new();
    let mut session = Session::new(Mode::Binary);
    let mut lines = Vec::new();
    session.read(
        &client.send(Message::Ping(b"p".to_vec().into())),
        &mut lines,
    );
    let mut out = Vec::new();
    session.take_output(&mut out);
    assert_eq!(client.receive(&out), [Message::Pong(b"p".to_vec().into())]);
    session.read(&client.send(Message::Close(None)), &mut lines);
    assert!(session.is_closed());
    out.clear();
    session.take_output(&mut out);
    let received = client.receive(&out);
    assert!(matches!(received[..], [Message::Close(_)]), "{received:?}");
    assert!(lines.is_empty());
}

#[test]
fn broken_frames_close_with_the_code_that_names_the_fault() {
    let close_code = |wire: &[u8]| {
        let mut session = Session::new(Mode::Text);
        let mut lines = Vec::new();
        session.read(wire, &mut lines);
        assert!(session.is_closed());
        let mut out = Vec::new();
        session.take_output(&mut out);
        match &Client::new().receive(&out)[..] {
            [Message::Close(Some(frame))] => u16::from(frame.code),
            other => panic!("{other:?}"),
        }
    };
    // An unmasked frame from a client.
    assert_eq!(close_code(b"\x81\x02hi"), 1002);
    // A reserved opcode.
    assert_eq!(close_code(b"\x83\x80\0\0\0\0"), 1002);
    // A text frame that is not UTF-8: masked with a zero key, so as is.
    assert_eq!(close_code(b"\x81\x82\0\0\0\0\xc3\x28"), 1007);
    // A frame over the limit.
    let mut big = Client::new();
    let wire = big.send(Message::binary(vec![b'a'; WS_MESSAGE_MAX + 1]));
    assert_eq!(close_code(&wire), 1009);
}

#[test]
fn a_server_close_is_sent_once_and_nothing_after_it() {
    let mut client = Client::new();
    let mut session = Session::new(Mode::Text);
    session.write(b"ERROR :Closing Link: bye\r\n");
    session.close();
    session.write(b"late\r\n");
    let mut out = Vec::new();
    session.take_output(&mut out);
    let received = client.receive(&out);
    assert_eq!(received[0], Message::text("ERROR :Closing Link: bye"));
    assert!(matches!(received[1..], [Message::Close(_)]), "{received:?}");
}
