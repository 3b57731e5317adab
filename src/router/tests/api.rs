//! The HTTP API's calls (`Input::Api`): answered on their own channel,
//! with the password and storage helpers played by the harness; what the
//! clients in the rooms are told.

use super::*;
use crate::protocol::api::{Answer, Call, Credential, FailureKind};
use crate::router::{ApiRequest, Replier};

impl Harness {
    /// Makes an API call as `credential` and returns the answer, once the
    /// helpers did their part.
    fn api(&mut self, call: Call, credential: &Credential) -> Answer {
        let (reply, answer) = Replier::new(None);
        let request = ApiRequest {
            call,
            credential: credential.clone(),
            peer: [127, 0, 0, 1].into(),
            reply,
        };
        self.router.handle(Input::Api(request), self.now);
        self.router.check_invariants().unwrap();
        self.settle();
        answer.try_recv().expect("an answer")
    }

    /// A token for account `name` (password "sesame").
    fn token(&mut self, name: &str) -> Credential {
        let call = Call::IssueToken {
            account: name.into(),
            password: "sesame".into(),
        };
        match self.api(call, &Credential::None) {
            Answer::Token(issued) => Credential::Token(issued.token),
            other => panic!("no token: {other:?}"),
        }
    }
}

fn refused(answer: Answer) -> FailureKind {
    match answer {
        Answer::Failed(failure) => failure.kind,
        other => panic!("not refused: {other:?}"),
    }
}

/// How API actions by `account` look to others.
fn api_mask(account: &str) -> Arc<Mask> {
    Arc::new(Mask {
        nick: name(account),
        user: name("api"),
        host: name("switchboard.local"),
        account: Some(name(account)),
    })
}

#[test]
fn tokens_need_the_password_and_checking_them_needs_no_helper() {
    let mut h = Harness::new();
    h.account("ann");
    let wrong = Call::IssueToken {
        account: "ann".into(),
        password: "guess".into(),
    };
    assert_eq!(
        refused(h.api(wrong, &Credential::None)),
        FailureKind::Unauthorized
    );
    assert_eq!(
        refused(h.api(Call::Rooms, &Credential::None)),
        FailureKind::Unauthorized
    );
    let forged = Credential::Token("sb_forged".into());
    assert_eq!(
        refused(h.api(Call::Rooms, &forged)),
        FailureKind::Unauthorized
    );
    let token = h.token("ann");
    assert_eq!(h.api(Call::Rooms, &token), Answer::Rooms(Vec::new()));
    assert_eq!(h.api(Call::RevokeToken, &token), Answer::Done);
    assert_eq!(
        refused(h.api(Call::Rooms, &token)),
        FailureKind::Unauthorized
    );
    // A JWT (checked before the router) names an account that must exist.
    let jwt = Credential::Jwt("ann".into());
    assert_eq!(h.api(Call::Rooms, &jwt), Answer::Rooms(Vec::new()));
    let stranger = Credential::Jwt("nobody".into());
    assert_eq!(
        refused(h.api(Call::Rooms, &stranger)),
        FailureKind::Unauthorized
    );
}

#[test]
fn a_room_made_over_the_api_stays_empty_and_its_owner_operates_it() {
    let mut h = Harness::new();
    let ann = h.account("ann");
    let token = h.token("ann");
    let create = Call::CreateRoom {
        name: "#lobby".into(),
        topic: Some("welcome".into()),
    };
    assert!(matches!(h.api(create.clone(), &token), Answer::Room(_)));
    assert_eq!(refused(h.api(create, &token)), FailureKind::Conflict);
    let bob = h.member("bob", &["#lobby"]);
    h.send(bob, leave(Some("#lobby"), None));
    h.clear();
    let Answer::Rooms(rooms) = h.api(Call::Rooms, &token) else {
        panic!("a room list");
    };
    assert_eq!(rooms.len(), 1, "kept while empty");
    // The owner's clients are its operators.
    h.send(ann, join("#lobby"));
    h.send(bob, join("#lobby"));
    h.clear();
    let Answer::Members(members) = h.api(
        Call::Members {
            room: "#lobby".into(),
        },
        &token,
    ) else {
        panic!("a member list");
    };
    let operators: Vec<(&str, bool)> = members
        .iter()
        .map(|member| (&*member.nick, member.operator))
        .collect();
    assert_eq!(operators, [("ann", true), ("bob", false)]);
}

#[test]
fn deleting_a_room_parts_every_member_and_needs_its_owner() {
    let mut h = Harness::new();
    h.account("ann");
    h.account("eve");
    let ann = h.token("ann");
    let eve = h.token("eve");
    let create = Call::CreateRoom {
        name: "#lobby".into(),
        topic: None,
    };
    h.api(create, &ann);
    let bob = h.member("bob", &["#lobby"]);
    let delete = Call::DeleteRoom {
        room: "#lobby".into(),
    };
    assert_eq!(refused(h.api(delete.clone(), &eve)), FailureKind::Forbidden);
    assert_eq!(h.api(delete.clone(), &ann), Answer::Done);
    h.assert_told(
        &[bob],
        &[left("#lobby", "bob", Some("room deleted by ann"))],
    );
    assert_eq!(refused(h.api(delete, &ann)), FailureKind::NotFound);
}

#[test]
fn posts_reach_rooms_the_account_is_in_and_people() {
    let mut h = Harness::new();
    let ann = h.account("ann");
    let token = h.token("ann");
    let bob = h.member("bob", &["#r"]);
    let post = |target: &str| Call::Post {
        target: target.into(),
        text: "hi".into(),
    };
    assert_eq!(refused(h.api(post("#r"), &token)), FailureKind::Forbidden);
    h.send(ann, join("#r"));
    h.clear();
    assert!(matches!(h.api(post("#r"), &token), Answer::Posted { .. }));
    let said = Event::Message {
        from: api_mask("ann"),
        to: Destination::Room(name("#r")),
        text: name("hi"),
        kind: MessageKind::Say,
        tags: None,
        // The harness blanks message ids (see `unclocked`).
        id: name(""),
        long: true,
    };
    h.assert_told(&[bob, ann], &[said]);
    assert!(matches!(h.api(post("bob"), &token), Answer::Posted { .. }));
    assert_eq!(
        refused(h.api(post("nobody"), &token)),
        FailureKind::NotFound
    );
    let two_lines = Call::Post {
        target: "bob".into(),
        text: "a\nb".into(),
    };
    assert_eq!(refused(h.api(two_lines, &token)), FailureKind::Invalid);
}

#[test]
fn metrics_count_clients_rooms_and_messages() {
    let mut h = Harness::new();
    let bob = h.member("bob", &["#r"]);
    h.irc("ivy", "");
    h.send(bob, say("counted"));
    let Answer::Metrics(counts) = h.api(Call::Metrics, &Credential::None) else {
        panic!("counts");
    };
    assert!(counts.clients.contains(&("plain", "line", 1)));
    assert!(counts.clients.contains(&("plain", "irc", 1)));
    assert_eq!(
        (counts.registered, counts.rooms, counts.messages_in),
        (2, 1, 1)
    );
}

#[test]
fn history_pages_go_to_members_oldest_first_and_page_back() {
    let mut h = Harness::new();
    let ann = h.account("ann");
    h.account("eve");
    let ann_token = h.token("ann");
    let eve_token = h.token("eve");
    h.send(ann, join("#r"));
    for text in ["one", "two", "three"] {
        h.send(ann, say(text));
    }
    h.clear();
    let page = |room: &str, before: Option<&str>| Call::History {
        room: room.into(),
        before: before.map(str::to_owned),
        limit: 2,
    };
    assert_eq!(
        refused(h.api(page("#r", None), &eve_token)),
        FailureKind::Forbidden
    );
    assert_eq!(
        refused(h.api(page("#nowhere", None), &ann_token)),
        FailureKind::NotFound
    );
    let Answer::Messages(latest) = h.api(page("#r", None), &ann_token) else {
        panic!("a page");
    };
    let texts: Vec<&str> = latest.iter().map(|message| &*message.text).collect();
    assert_eq!(texts, ["two", "three"], "the newest, oldest first");
    assert_eq!(latest[0].from, name("ann"));
    assert_eq!(latest[0].account, Some(name("ann")));
    let before = latest[0].id.to_string();
    let Answer::Messages(earlier) = h.api(page("#r", Some(&before)), &ann_token) else {
        panic!("a page");
    };
    let texts: Vec<&str> = earlier.iter().map(|message| &*message.text).collect();
    assert_eq!(texts, ["one"]);
}

#[test]
fn an_account_calling_faster_than_its_allowance_is_told_to_wait() {
    let mut h = Harness::with(Config {
        rate: 1.0,
        burst: 2,
        ..Config::default()
    });
    h.account("ann");
    let token = h.token("ann");
    assert!(matches!(h.api(Call::Rooms, &token), Answer::Rooms(_)));
    assert!(matches!(h.api(Call::Rooms, &token), Answer::Rooms(_)));
    assert_eq!(
        refused(h.api(Call::Rooms, &token)),
        FailureKind::Throttled { retry_secs: 1 }
    );
    h.wait(Duration::from_secs(1));
    assert!(matches!(h.api(Call::Rooms, &token), Answer::Rooms(_)));
}
