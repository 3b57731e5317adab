//! `/api/v1` and `/metrics` over HTTP, acting on rooms that IRC, line and
//! WebSocket clients are in.

use std::net::SocketAddr;

use serde_json::json;
use switchboard::config::Oper;
use switchboard::web::jwt;
use switchboard::{Server, Transport};

use super::{Http, WsClient, parse_metrics, request, web_addr, web_server};
use crate::util::{Client, irc_addr, line_addr, wait_until};

/// Registers account `name` (password "sesame") from a line client that
/// then leaves.
fn register(server: &Server, name: &str) {
    let mut client = Client::register(line_addr(server), name);
    client.send("/register sesame");
    client.expect(&format!("- Account {name} registered; you are logged in"));
    client.send("/quit");
    client.read_to_end();
}

/// A token for `name` from `POST /api/v1/tokens`.
fn token(addr: SocketAddr, name: &str) -> String {
    let body = json!({"name": name, "password": "sesame"}).to_string();
    let reply = request(addr, "POST", "/api/v1/tokens", &[], &body);
    assert_eq!(reply.status, 201, "{reply:?}");
    let json = reply.json();
    assert_eq!(json["account"], name);
    json["token"].as_str().expect("a token").to_owned()
}

fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}")
}

fn tokens_are_issued_checked_and_revoked(transport: Transport) {
    let server = web_server(transport, |_| {});
    let addr = web_addr(&server);
    register(&server, "ann");
    let none = request(addr, "GET", "/api/v1/rooms", &[], "");
    assert_eq!(none.status, 401);
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    assert_eq!(none.json()["error"], "unauthorized");
    let wrong = json!({"name": "ann", "password": "wrong"}).to_string();
    assert_eq!(
        request(addr, "POST", "/api/v1/tokens", &[], &wrong).status,
        401
    );
    let nobody = json!({"name": "nobody", "password": "x"}).to_string();
    assert_eq!(
        request(addr, "POST", "/api/v1/tokens", &[], &nobody).status,
        401
    );
    let guessed = bearer("sb_guessed");
    assert_eq!(
        request(addr, "GET", "/api/v1/rooms", &[&guessed], "").status,
        401
    );
    let token = token(addr, "ann");
    let auth = bearer(&token);
    // One connection, kept alive, for several calls.
    let mut http = Http::connect(addr);
    assert_eq!(
        http.request("GET", "/api/v1/rooms", &[&auth], "").status,
        200
    );
    assert_eq!(
        http.request("DELETE", "/api/v1/tokens/current", &[&auth], "")
            .status,
        204
    );
    assert_eq!(
        http.request("GET", "/api/v1/rooms", &[&auth], "").status,
        401
    );
    // A logged-in client gets one over IRC too.
    let mut irc = Client::irc(irc_addr(&server), "ann");
    irc.send("PRIVMSG NickServ :IDENTIFY sesame");
    irc.expect_with("logged in", |line| line.contains("logged in"));
    irc.send("PRIVMSG NickServ :TOKEN");
    let notice = irc.expect_with("a token", |line| line.contains("API token"));
    let from_irc = notice.rsplit(' ').next().unwrap().to_owned();
    let whois = request(addr, "GET", "/api/v1/users/ann", &[&bearer(&from_irc)], "");
    assert_eq!(whois.status, 200, "{whois:?}");
    assert_eq!(whois.json()["account"], "ann");
}

fn rooms_are_managed_over_the_api_with_people_in_them(transport: Transport) {
    let server = web_server(transport, |_| {});
    let addr = web_addr(&server);
    register(&server, "ann");
    register(&server, "eve");
    let ann = bearer(&token(addr, "ann"));
    let eve = bearer(&token(addr, "eve"));
    let mut http = Http::connect(addr);
    let created = http.request(
        "POST",
        "/api/v1/rooms",
        &[&ann],
        r##"{"name": "#lobby", "topic": "welcome"}"##,
    );
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.json()["owner"], "ann");
    let again = http.request("POST", "/api/v1/rooms", &[&ann], r##"{"name": "#lobby"}"##);
    assert_eq!(again.status, 409);
    let bad = http.request("POST", "/api/v1/rooms", &[&ann], r#"{"name": "a b"}"#);
    assert_eq!(bad.status, 400);
    // The room exists while empty, with its topic, and people join it.
    let rooms = http.request("GET", "/api/v1/rooms", &[&eve], "").json();
    assert_eq!(rooms[0]["name"], "#lobby");
    assert_eq!(rooms[0]["topic"], "welcome");
    let mut irc = Client::irc(irc_addr(&server), "ivy");
    irc.send("JOIN #lobby");
    irc.expect_with("the topic", |line| {
        line.contains(" 332 ivy #lobby :welcome")
    });
    irc.expect_numeric("366");
    let mut line = Client::in_room(line_addr(&server), "leo", "#lobby");
    let mut web = WsClient::irc(addr, &[], "wes");
    web.send("JOIN #lobby");
    web.expect(" 366 wes #lobby ");
    irc.expect(":wes!~wes@127.0.0.1 JOIN #lobby");

    let members = http.request("GET", "/api/v1/rooms/lobby/members", &[&eve], "");
    let nicks: Vec<String> = members
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|member| member["nick"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(nicks, ["ivy", "leo", "wes"]);
    let topic = http.request(
        "PUT",
        "/api/v1/rooms/lobby/topic",
        &[&ann],
        r#"{"topic": "news"}"#,
    );
    assert_eq!(topic.status, 204);
    irc.expect(":ann!api@test.server TOPIC #lobby :news");
    let refused = http.request(
        "PUT",
        "/api/v1/rooms/lobby/topic",
        &[&eve],
        r#"{"topic": "mine"}"#,
    );
    assert_eq!(
        refused.status, 403,
        "+t, and eve neither owns nor is present"
    );
    let posted = http.request(
        "POST",
        "/api/v1/messages",
        &[&ann],
        r##"{"target": "#lobby", "text": "hello everyone"}"##,
    );
    assert_eq!(posted.status, 201, "{posted:?}");
    irc.expect(":ann!api@test.server PRIVMSG #lobby :hello everyone");
    line.expect("[#lobby] <ann> hello everyone");
    web.expect(":ann!api@test.server PRIVMSG #lobby :hello everyone");
    let private = http.request(
        "POST",
        "/api/v1/messages",
        &[&eve],
        r#"{"target": "ivy", "text": "psst"}"#,
    );
    assert_eq!(private.status, 201);
    irc.expect(":eve!api@test.server PRIVMSG ivy :psst");
    // Kept as a private talk between eve's account and ivy.
    let mut eve_here = Client::register(line_addr(&server), "eve_");
    eve_here.send("/login eve sesame");
    eve_here.expect("- You are now logged in as eve");
    wait_until("the posted private message in eve's history", || {
        eve_here.send("/history ivy");
        // "- no history of ivy" until it is stored.
        if eve_here.next_line().unwrap_or_default() == "- no history of ivy" {
            return false;
        }
        let line = eve_here.next_line().unwrap_or_default();
        assert!(line.ends_with("] <eve> psst"), "{line}");
        eve_here.expect_next("- end of history of ivy");
        true
    });
    eve_here.send("/quit");
    eve_here.read_to_end();
    let outside = http.request(
        "POST",
        "/api/v1/messages",
        &[&eve],
        r##"{"target": "#lobby", "text": "x"}"##,
    );
    assert_eq!(outside.status, 403);

    let mut guest = Client::irc(irc_addr(&server), "gus");
    let invited = http.request(
        "POST",
        "/api/v1/rooms/lobby/invites",
        &[&ann],
        r#"{"nick": "gus"}"#,
    );
    assert_eq!(invited.status, 204);
    guest.expect(":ann!api@test.server INVITE gus #lobby");
    let kicked = http.request(
        "DELETE",
        "/api/v1/rooms/lobby/members/ivy?reason=bye",
        &[&ann],
        "",
    );
    assert_eq!(kicked.status, 204);
    irc.expect(":ann!api@test.server KICK #lobby ivy :bye");
    line.expect("* ivy was kicked from #lobby by ann (bye)");
    assert_eq!(
        http.request("DELETE", "/api/v1/rooms/lobby/members/ivy", &[&ann], "")
            .status,
        404
    );
    assert_eq!(
        http.request("DELETE", "/api/v1/rooms/lobby/members/leo", &[&eve], "")
            .status,
        403
    );

    let whois = http.request("GET", "/api/v1/users/wes", &[&eve], "").json();
    assert_eq!(whois["rooms"], json!(["#lobby"]));
    let online = http.request("GET", "/api/v1/users", &[&eve], "").json();
    let online: Vec<&str> = online
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["nick"].as_str().unwrap())
        .collect();
    assert_eq!(online, ["gus", "ivy", "leo", "wes"]);
    assert_eq!(
        http.request("GET", "/api/v1/users/nobody", &[&eve], "")
            .status,
        404
    );
    // History, for those in the room or managing it, oldest first, paged
    // by message id; the storage thread commits within 100 ms.
    let refused = http.request("GET", "/api/v1/rooms/lobby/messages", &[&eve], "");
    assert_eq!(refused.status, 403);
    web.send("PRIVMSG #lobby :from the web");
    line.expect("[#lobby] <wes> from the web");
    let mut page = serde_json::Value::Null;
    wait_until("both messages in the history", || {
        let reply = http.request("GET", "/api/v1/rooms/lobby/messages?limit=10", &[&ann], "");
        assert_eq!(reply.status, 200, "{reply:?}");
        page = reply.json();
        page.as_array().unwrap().len() == 2
    });
    assert_eq!(page[0]["text"], "hello everyone");
    assert_eq!(page[0]["from"], "ann");
    assert_eq!(page[0]["account"], "ann");
    assert_eq!(page[1]["text"], "from the web");
    assert_eq!(page[1]["kind"], "say");
    let before = format!(
        "/api/v1/rooms/lobby/messages?before={}",
        page[1]["id"].as_str().unwrap()
    );
    let earlier = http.request("GET", &before, &[&ann], "").json();
    assert_eq!(earlier.as_array().unwrap().len(), 1);
    assert_eq!(earlier[0]["text"], "hello everyone");

    // Deleted with people in it: each is told and parted; only its owner
    // (or an operator account) may.
    assert_eq!(
        http.request("DELETE", "/api/v1/rooms/lobby", &[&eve], "")
            .status,
        403
    );
    assert_eq!(
        http.request("DELETE", "/api/v1/rooms/lobby", &[&ann], "")
            .status,
        204
    );
    line.expect("* leo left #lobby (room deleted by ann)");
    web.expect(":wes!~wes@127.0.0.1 PART #lobby :room deleted by ann");
    let rooms = http.request("GET", "/api/v1/rooms", &[&eve], "").json();
    assert_eq!(rooms, json!([]));
    assert_eq!(
        http.request("DELETE", "/api/v1/rooms/lobby", &[&ann], "")
            .status,
        404
    );
    // The people are still connected, and can make a room of that name.
    web.send("JOIN #lobby");
    web.expect(" 366 wes #lobby ");
}

fn operator_accounts_delete_any_room_and_jwts_name_accounts(transport: Transport) {
    let secret = b"a secret of at least thirty-two bytes".to_vec();
    let server = web_server(transport, |config| {
        config.opers = vec![Oper {
            name: "boss".into(),
            hash: switchboard::router::hash_password("unused").unwrap(),
        }];
        config.web.jwt_secret = Some(secret.clone());
    });
    let addr = web_addr(&server);
    register(&server, "boss");
    register(&server, "ann");
    let mut ivy = Client::irc(irc_addr(&server), "ivy");
    ivy.send("JOIN #ivys");
    ivy.expect_numeric("366");
    let ann = bearer(&token(addr, "ann"));
    assert_eq!(
        request(addr, "DELETE", "/api/v1/rooms/ivys", &[&ann], "").status,
        403
    );
    let far = jiff::Timestamp::now().as_second() + 600;
    let boss = jwt::sign(&format!(r#"{{"sub":"boss","exp":{far}}}"#), &secret);
    let deleted = request(addr, "DELETE", "/api/v1/rooms/ivys", &[&bearer(&boss)], "");
    assert_eq!(deleted.status, 204, "{deleted:?}");
    ivy.expect(":ivy!~ivy@127.0.0.1 PART #ivys :room deleted by boss");
    let forged = jwt::sign(
        &format!(r#"{{"sub":"boss","exp":{far}}}"#),
        b"another key entirely, also long",
    );
    let refused = request(addr, "GET", "/api/v1/rooms", &[&bearer(&forged)], "");
    assert_eq!(refused.status, 401);
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .contains("bad signature")
    );
    let stranger = jwt::sign(&format!(r#"{{"sub":"nobody","exp":{far}}}"#), &secret);
    assert_eq!(
        request(addr, "GET", "/api/v1/rooms", &[&bearer(&stranger)], "").status,
        401
    );
}

fn metrics_are_prometheus_text(transport: Transport) {
    let server = web_server(transport, |_| {});
    let addr = web_addr(&server);
    let mut irc = Client::irc(irc_addr(&server), "ivy");
    irc.send("JOIN #a");
    irc.expect_numeric("366");
    let mut web = WsClient::irc(addr, &["binary.ircv3.net"], "wes");
    web.send("JOIN #a");
    web.expect(" 366 ");
    web.send("PRIVMSG #a :counted");
    irc.expect(":wes!~wes@127.0.0.1 PRIVMSG #a :counted");
    let reply = request(addr, "GET", "/metrics", &[], "");
    assert_eq!(reply.status, 200);
    assert!(
        reply.header("content-type").unwrap().contains("text"),
        "{reply:?}"
    );
    let text = String::from_utf8(reply.body).unwrap();
    let samples = parse_metrics(&text);
    let value = |name: &str| {
        samples
            .iter()
            .find(|(sample, _)| sample == name)
            .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
            .1
    };
    assert_eq!(
        value(r#"switchboard_clients{carrier="websocket",protocol="irc"}"#),
        1.0
    );
    assert_eq!(
        value(r#"switchboard_clients{carrier="plain",protocol="irc"}"#),
        1.0
    );
    assert_eq!(value("switchboard_users"), 2.0);
    assert_eq!(value("switchboard_rooms"), 1.0);
    assert_eq!(value("switchboard_messages_received_total"), 1.0);
    assert!(value("switchboard_events_delivered_total") > 0.0);
    assert_eq!(
        value(r#"switchboard_clients_cut_total{reason="slow"}"#),
        0.0
    );
    // The history is written in storage transactions.
    wait_until("the message stored", || {
        let text = String::from_utf8(request(addr, "GET", "/metrics", &[], "").body).unwrap();
        text.contains("switchboard_history_stored_total 1")
    });
    assert!(
        text.contains("switchboard_storage_transaction_seconds_total "),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
}

crate::both_transports!(
    tokens_are_issued_checked_and_revoked,
    rooms_are_managed_over_the_api_with_people_in_them,
    operator_accounts_delete_any_room_and_jwts_name_accounts,
    metrics_are_prometheus_text,
);
