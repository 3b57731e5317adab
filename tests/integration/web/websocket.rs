//! IRC over WebSocket beside IRC and line clients.

use std::io::{Read, Write};

use switchboard::{Listen, Scheme, Transport};
use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;

use super::{Http, WsClient, request, web_addr, web_server};
use crate::slow::exchange;
use crate::tls::{certificate, tls_stream};
use crate::util::{Client, heavy, irc_addr, line_addr};

fn a_websocket_client_chats_with_irc_and_line_clients_in_one_room(transport: Transport) {
    let server = web_server(transport, |_| {});
    let mut web = WsClient::irc(web_addr(&server), &["text.ircv3.net"], "webby");
    assert_eq!(web.subprotocol.as_deref(), Some("text.ircv3.net"));
    web.send("JOIN #mixed");
    web.expect(" 366 webby #mixed ");
    let mut alice = Client::irc(irc_addr(&server), "alice");
    alice.send("JOIN #mixed");
    web.expect(":alice!~alice@127.0.0.1 JOIN #mixed");
    alice.expect_numeric("366");
    let mut bob = Client::in_room(line_addr(&server), "bob", "#mixed");
    web.expect(":bob!~bob@127.0.0.1 JOIN #mixed");
    alice.expect(":bob!~bob@127.0.0.1 JOIN #mixed");

    web.send("PRIVMSG #mixed :hello from the browser");
    alice.expect(":webby!~webby@127.0.0.1 PRIVMSG #mixed :hello from the browser");
    bob.expect("[#mixed] <webby> hello from the browser");
    alice.send("PRIVMSG #mixed :hello web");
    // One line per frame, without its line end.
    assert_eq!(
        web.next_message(),
        Some(Message::text(
            ":alice!~alice@127.0.0.1 PRIVMSG #mixed :hello web"
        ))
    );
    bob.expect("[#mixed] <alice> hello web");
    bob.send("and from nc");
    web.expect(":bob!~bob@127.0.0.1 PRIVMSG #mixed :and from nc");
    bob.send("/msg webby psst");
    web.expect(":bob!~bob@127.0.0.1 PRIVMSG webby :psst");
    web.send("QUIT :bye");
    alice.expect(":webby!~webby@127.0.0.1 QUIT :");
}

fn the_clients_preferred_subprotocol_decides_the_frames(transport: Transport) {
    let server = web_server(transport, |_| {});
    let addr = web_addr(&server);
    let mut binary = WsClient::irc(addr, &["binary.ircv3.net", "text.ircv3.net"], "bin");
    assert_eq!(binary.subprotocol.as_deref(), Some("binary.ircv3.net"));
    let mut text = WsClient::irc(addr, &["text.ircv3.net", "binary.ircv3.net"], "txt");
    assert_eq!(text.subprotocol.as_deref(), Some("text.ircv3.net"));
    let mut irc = Client::irc(irc_addr(&server), "raw");
    irc.send("PRIVMSG bin :caf\u{e9} to binary");
    let bytes = loop {
        match binary.next_message() {
            Some(Message::Binary(bytes)) if bytes.windows(7).any(|w| w == b"PRIVMSG") => {
                break bytes;
            }
            Some(Message::Binary(_)) => {}
            other => panic!("a binary frame, not {other:?}"),
        }
    };
    assert!(
        bytes.ends_with("PRIVMSG bin :caf\u{e9} to binary".as_bytes()),
        "{bytes:?}"
    );
    irc.send("PRIVMSG txt :caf\u{e9} to text");
    let line = loop {
        match text.next_message() {
            Some(Message::Text(line)) if line.contains("PRIVMSG") => break line,
            Some(Message::Text(_)) => {}
            other => panic!("a text frame, not {other:?}"),
        }
    };
    assert!(line.ends_with("PRIVMSG txt :caf\u{e9} to text"), "{line}");
    // Either client may send either kind of frame.
    text.send_message(Message::binary(b"PRIVMSG raw :binary from text".to_vec()));
    irc.expect(":txt!~txt@127.0.0.1 PRIVMSG raw :binary from text");
    binary.send("PRIVMSG raw :text from binary");
    irc.expect(":bin!~bin@127.0.0.1 PRIVMSG raw :text from binary");
    // The server speaks UTF-8 only (UTF8ONLY): other bytes are refused, as
    // from any IRC client, and never relayed.
    binary.send_message(Message::binary(b"PRIVMSG raw :caf\xe9".to_vec()));
    binary.expect("FAIL * INVALID_UTF8");
}

fn pings_are_answered_and_a_close_ends_the_client(transport: Transport) {
    let server = web_server(transport, |_| {});
    let mut web = WsClient::irc(web_addr(&server), &[], "pinger");
    assert_eq!(web.subprotocol, None, "no subprotocol asked, none named");
    let mut irc = Client::irc(irc_addr(&server), "watcher");
    web.send("JOIN #r");
    web.expect(" 366 ");
    irc.send("JOIN #r");
    irc.expect_numeric("366");
    web.send_message(Message::Ping(b"are you there".to_vec().into()));
    // The pong comes without any IRC traffic to carry it.
    let pong = loop {
        if let Message::Pong(payload) = web.next_any() {
            break payload;
        }
    };
    assert_eq!(&pong[..], b"are you there");
    web.send_message(Message::Close(None));
    irc.expect(":pinger!~pinger@127.0.0.1 QUIT");
}

fn broken_frames_close_the_connection_with_a_reason(transport: Transport) {
    let server = web_server(transport, |_| {});
    let mut irc = Client::irc(irc_addr(&server), "watcher");
    irc.send("JOIN #r");
    irc.expect_numeric("366");
    let mut web = WsClient::irc(web_addr(&server), &["text.ircv3.net"], "breaker");
    web.send("JOIN #r");
    irc.expect(":breaker!~breaker@127.0.0.1 JOIN #r");
    // A client's frame must be masked: this one is not.
    web.stream().write_all(b"\x81\x05hello").unwrap();
    let close = loop {
        match web.next_message() {
            Some(Message::Close(frame)) => break frame,
            Some(_) => {}
            None => panic!("closed without a close frame"),
        }
    };
    assert_eq!(close.map(|frame| frame.code), Some(CloseCode::Protocol));
    irc.expect(":breaker!~breaker@127.0.0.1 QUIT");
    let mut rest = Vec::new();
    let _ = web.stream().read_to_end(&mut rest);
}

crate::both_transports!(
    a_websocket_client_chats_with_irc_and_line_clients_in_one_room,
    the_clients_preferred_subprotocol_decides_the_frames,
    pings_are_answered_and_a_close_ends_the_client,
    broken_frames_close_the_connection_with_a_reason,
    https_serves_the_api_and_websockets_over_tls,
    a_websocket_client_that_never_reads_is_cut_off_as_slow,
);

fn https_serves_the_api_and_websockets_over_tls(transport: Transport) {
    let dir = tempfile::TempDir::new().unwrap();
    let (cert, key) = certificate(dir.path(), "server");
    let server = web_server(transport, |config| {
        config
            .listen
            .push(Listen::new(Scheme::Https, ([127, 0, 0, 1], 0)));
        config.tls_cert = Some(cert);
        config.tls_key = Some(key);
    });
    let addr = server.addr(Scheme::Https).expect("an HTTPS listener");
    let mut http = Http::over(Box::new(tls_stream(addr, None)));
    let page = http.request("GET", "/", &[], "");
    assert_eq!(page.status, 200);
    assert_eq!(http.request("GET", "/api/v1/rooms", &[], "").status, 401);
    let stream = Box::new(tls_stream(addr, None));
    let mut secure =
        WsClient::over(stream, &format!("wss://{addr}/ws"), &["text.ircv3.net"]).register("secure");
    let mut plain = WsClient::irc(web_addr(&server), &["binary.ircv3.net"], "plain");
    secure.send("PRIVMSG plain :over TLS");
    plain.expect(":secure!~secure@127.0.0.1 PRIVMSG plain :over TLS");
    plain.send("PRIVMSG secure :back");
    secure.expect(":plain!~plain@127.0.0.1 PRIVMSG secure :back");
    let metrics = request(web_addr(&server), "GET", "/metrics", &[], "");
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(
        text.contains("switchboard_clients{carrier=\"websocket-tls\",protocol=\"irc\"} 1"),
        "{text}"
    );
}

fn a_websocket_client_that_never_reads_is_cut_off_as_slow(transport: Transport) {
    let _heavy = heavy();
    // As in slow.rs: two talkers, 16,000 messages of 600 bytes, and a
    // client that never reads, here over WebSocket with a small window.
    const EACH: usize = 8000;
    let server = web_server(transport, |_| {});
    let addr = line_addr(&server);
    let mut alice = Client::in_room(addr, "alice", "#busy");
    let mut bob = Client::in_room(addr, "bob", "#busy");
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&web_addr(&server).into()).unwrap();
    let stream: std::net::TcpStream = socket.into();
    stream
        .set_read_timeout(Some(crate::util::PATIENCE))
        .unwrap();
    let url = format!("ws://{}/ws", web_addr(&server));
    let mut web = WsClient::over(Box::new(stream), &url, &[]).register("webby");
    web.send("JOIN #busy");
    web.expect(" 366 webby #busy ");
    alice.expect("* webby joined #busy");
    bob.expect("* webby joined #busy");
    let payload = "p".repeat(600);
    for rest in exchange(alice, bob, EACH, &payload) {
        assert_eq!(
            rest,
            ["* webby quit (SendQ exceeded)"],
            "got every message and saw the WebSocket client cut off"
        );
    }
    assert_eq!(server.stats().slow_disconnects, 1);
}
