//! The HTTP side of the web listener: the page, keep-alive, bad requests
//! and the clients that send them.

use std::time::Instant;

use switchboard::Transport;

use super::{Http, SHORT_TIMEOUT, request, web_addr, web_server};
use crate::util::PATIENCE;

fn the_page_is_served_with_keep_alive(transport: Transport) {
    let server = web_server(transport, |_| {});
    let mut http = Http::connect(web_addr(&server));
    let page = http.request("GET", "/", &[], "");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(String::from_utf8_lossy(&page.body).contains("<html"));
    // The same connection serves the next request.
    let head = http.request("HEAD", "/index.html", &[], "");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(http.request("GET", "/nothing-here", &[], "").status, 404);
    let last = http.request("GET", "/", &["Connection: close"], "");
    assert_eq!(last.status, 200);
    assert!(http.closed());
}

fn bad_requests_get_a_clear_status_and_the_connection_closes(transport: Transport) {
    let server = web_server(transport, |_| {});
    let addr = web_addr(&server);
    let mut garbage = Http::connect(addr);
    garbage.send_raw(b"\x16\x03\x01\x02\x00garbage that is no request\r\n\r\n");
    assert_eq!(garbage.reply().status, 400);
    assert!(garbage.closed());
    let long = format!("X-Long: {}", "a".repeat(10_000));
    let mut overlong = Http::connect(addr);
    assert_eq!(overlong.request("GET", "/", &[&long], "").status, 431);
    assert!(overlong.closed());
    let uri = format!("/{}", "b".repeat(10_000));
    assert_eq!(request(addr, "GET", &uri, &[], "").status, 414);
    let many: Vec<String> = (0..100).map(|i| format!("X-{i}: y")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(request(addr, "GET", "/", &many, "").status, 431);
    let big = "x".repeat(100_000);
    assert_eq!(
        request(addr, "POST", "/api/v1/messages", &[], &big).status,
        413
    );
    assert_eq!(request(addr, "DELETE", "/", &[], "").status, 405);
    let ws = request(addr, "GET", "/ws", &[], "");
    assert_eq!(ws.status, 426, "a WebSocket endpoint without the upgrade");
    // The server still serves the next client.
    assert_eq!(request(addr, "GET", "/", &[], "").status, 200);
}

fn a_request_that_trickles_in_is_cut_at_the_timeout(transport: Transport) {
    let server = web_server(transport, |config| {
        config.web.limits.request_timeout = SHORT_TIMEOUT;
    });
    let addr = web_addr(&server);
    let started = Instant::now();
    let mut slow = Http::connect(addr);
    slow.send_raw(b"GET / HTTP/1.1\r\nHost: test\r\n");
    // More trickles in, but the request had its time from its first byte.
    slow.send_raw(b"X-Slow: 1\r\n");
    assert_eq!(slow.reply().status, 408);
    assert!(slow.closed());
    let took = started.elapsed();
    assert!(
        took >= SHORT_TIMEOUT && took < PATIENCE,
        "cut after {took:?}"
    );
    // Others were served meanwhile and after.
    assert_eq!(request(addr, "GET", "/", &[], "").status, 200);
}

fn other_sites_pages_are_refused_unless_allowed(transport: Transport) {
    let server = web_server(transport, |config| {
        config.web.origins = vec!["https://chat.example.org".into()];
    });
    let addr = web_addr(&server);
    let foreign = request(
        addr,
        "GET",
        "/api/v1/rooms",
        &["Origin: https://evil.example"],
        "",
    );
    assert_eq!(foreign.status, 403);
    let allowed = request(
        addr,
        "GET",
        "/api/v1/rooms",
        &["Origin: https://chat.example.org"],
        "",
    );
    assert_eq!(
        allowed.status, 401,
        "past the origin check, to the credential check"
    );
    // An allowed page may read the answers (CORS), after its preflight.
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://chat.example.org")
    );
    let origin = "Origin: https://chat.example.org";
    let preflight = request(addr, "OPTIONS", "/api/v1/rooms", &[origin], "");
    assert_eq!(preflight.status, 204);
    let headers = preflight.header("access-control-allow-headers").unwrap();
    assert!(headers.contains("Authorization"), "{headers}");
}

crate::both_transports!(
    the_page_is_served_with_keep_alive,
    bad_requests_get_a_clear_status_and_the_connection_closes,
    a_request_that_trickles_in_is_cut_at_the_timeout,
    other_sites_pages_are_refused_unless_allowed,
);
