//! Server operators: `OPER` checked off the router, `KILL`, `WALLOPS`, and
//! what operators may see and do.

use argon2::password_hash::PasswordHasher;
use argon2::{Algorithm, Argon2, Params, Version};

use super::*;
use crate::config::Oper;
use crate::protocol::{WhoRow, Whois};

/// A hash of `password` with Argon2's cheapest parameters, so the tests
/// wait microseconds, not the tens of milliseconds real hashes cost.
fn cheap_hash(password: &str) -> String {
    let params = Params::new(8, 1, 1, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes())
        .unwrap()
        .to_string()
}

/// A harness whose server has operator "admin" with password "sesame".
fn with_operator() -> Harness {
    Harness::with(Config {
        opers: vec![Oper {
            name: "admin".into(),
            hash: cheap_hash("sesame"),
        }],
        ..Config::default()
    })
}

fn oper(name: &str, password: &str) -> Request {
    Request::Oper {
        name: name.into(),
        password: password.into(),
    }
}

impl Harness {
    /// Has the hashing pool's next job done and the answer handed over.
    fn verdict(&mut self) {
        let job = self.hash_jobs.try_recv().expect("a password to check");
        let hashed = hashing::work(job, PasswordCost::Minimal);
        self.router
            .handle(Input::Hashed(Box::new(hashed)), self.now);
    }

    /// Makes `id` a server operator.
    fn oper_up(&mut self, id: ClientId) {
        self.send(id, oper("admin", "sesame"));
        self.verdict();
        self.clear();
    }
}

#[test]
fn the_right_password_makes_an_operator_with_mode_o() {
    let mut h = with_operator();
    let alice = h.irc("alice", "");
    h.send(alice, oper("admin", "sesame"));
    h.assert_quiet(&[alice]);
    h.verdict();
    assert_eq!(
        h.events(alice),
        [
            reply("alice", Reply::YoureOper),
            mode_changed("alice", "alice", "+o", &[]),
        ]
    );
    h.send(alice, mode("alice", "", &[]));
    assert_eq!(
        h.events(alice),
        [reply("alice", Reply::UserModes(name("+o")))]
    );
    h.send(alice, Request::Lusers);
    let events = h.events(alice);
    let [
        Event::Reply {
            reply: Reply::Lusers(lusers),
            ..
        },
    ] = events.as_slice()
    else {
        panic!("expected the counts");
    };
    assert_eq!(lusers.operators, 1);
}

#[test]
fn later_requests_wait_for_the_verdict_and_keep_their_order() {
    let mut h = with_operator();
    let alice = h.irc("alice", "");
    h.send(alice, oper("admin", "sesame"));
    h.send(alice, Request::Ping("after".into()));
    h.assert_quiet(&[alice]);
    h.verdict();
    assert_eq!(
        h.events(alice),
        [
            reply("alice", Reply::YoureOper),
            mode_changed("alice", "alice", "+o", &[]),
            reply("alice", Reply::Pong(name("after"))),
        ]
    );
}

#[test]
fn a_wrong_password_or_name_fails_and_further_attempts_wait() {
    let mut h = with_operator();
    let alice = h.irc("alice", "");
    h.send(alice, oper("admin", "guess"));
    h.verdict();
    assert_eq!(h.events(alice), error("alice", Error::OperFailed));
    h.send(alice, oper("admin", "sesame"));
    let refused = Error::OperRefused { retry_secs: 1 };
    assert_eq!(h.events(alice), error("alice", refused));
    h.wait(Duration::from_secs(1));
    h.send(alice, oper("nobody", "sesame"));
    h.verdict();
    assert_eq!(h.events(alice), error("alice", Error::OperFailed));
    // The wait doubles with each failure in a row.
    h.wait(Duration::from_secs(1));
    h.send(alice, oper("admin", "sesame"));
    let refused = Error::OperRefused { retry_secs: 1 };
    assert_eq!(h.events(alice), error("alice", refused));
    h.wait(Duration::from_secs(1));
    h.send(alice, oper("admin", "sesame"));
    h.verdict();
    assert_eq!(h.events(alice)[0], reply("alice", Reply::YoureOper));
}

#[test]
fn without_operators_oper_is_refused_at_once() {
    let mut h = Harness::new();
    let alice = h.irc("alice", "");
    h.send(alice, oper("admin", "sesame"));
    let refused = Error::OperRefused { retry_secs: 0 };
    assert_eq!(h.events(alice), error("alice", refused));
}

#[test]
fn kill_is_for_operators_and_disconnects_with_the_reason() {
    let mut h = with_operator();
    let admin = h.irc("admin", "");
    let bob = h.member("bob", &["#r"]);
    let carol = h.member("carol", &["#r"]);
    let kill = |reason: Option<&str>| Request::Kill {
        nick: "bob".into(),
        reason: reason.map(str::to_owned),
    };
    h.send(carol, kill(Some("nope")));
    assert_eq!(h.events(carol), error("carol", Error::NoPrivileges));
    h.oper_up(admin);
    h.send(admin, kill(Some("spam")));
    h.assert_quiet(&[admin]);
    assert_eq!(
        h.events(carol),
        [quit("bob", Some("Killed (admin (spam))"))]
    );
    h.events(bob);
    assert_eq!(&*h.farewell(bob), "killed by admin (spam)");
    h.send(admin, kill(None));
    assert_eq!(
        h.events(admin),
        error("admin", Error::NoSuchUser("bob".into()))
    );
}

#[test]
fn wallops_reach_only_users_with_mode_w() {
    let mut h = with_operator();
    let admin = h.irc("admin", "");
    let reader = h.irc("reader", "");
    let liner = h.register("liner");
    let other = h.irc("other", "");
    for id in [reader, liner] {
        let nick = h.router.clients.map[&id].me();
        h.send(id, mode(&nick, "+w", &[]));
    }
    h.clear();
    let wallops = Request::Wallops("maintenance at six".into());
    h.send(other, wallops.clone());
    assert_eq!(h.events(other), error("other", Error::NoPrivileges));
    h.oper_up(admin);
    h.send(admin, wallops);
    let told = Event::Wallops {
        from: mask("admin"),
        text: name("maintenance at six"),
    };
    h.assert_told(&[reader, liner], &[told]);
    h.assert_quiet(&[admin, other]);
}

#[test]
fn operators_show_in_who_and_whois_and_see_secret_rooms() {
    let mut h = with_operator();
    let admin = h.irc("admin", "");
    let bob = h.irc("bob", "");
    h.join_all(bob, &["#hidden"]);
    h.send(bob, mode("#hidden", "+s", &[]));
    h.oper_up(admin);
    h.send(admin, Request::Whois("bob".into()));
    let events = h.events(admin);
    let [
        Event::Reply {
            reply: Reply::Whois(whois),
            ..
        },
    ] = events.as_slice()
    else {
        panic!("expected a whois");
    };
    assert_eq!(whois.rooms, ["@#hidden"], "an operator sees secret rooms");
    h.send(bob, Request::Whois("admin".into()));
    let events = h.events(bob);
    let [
        Event::Reply {
            reply: Reply::Whois(whois),
            ..
        },
    ] = events.as_slice()
    else {
        panic!("expected a whois");
    };
    assert!(matches!(**whois, Whois { operator: true, .. }));
    h.send(
        bob,
        Request::Who {
            mask: "admin".into(),
            whox: None,
        },
    );
    let events = h.events(bob);
    let [
        Event::Reply {
            reply: Reply::Who { rows, .. },
            ..
        },
    ] = events.as_slice()
    else {
        panic!("expected a who");
    };
    assert!(matches!(rows.as_slice(), [WhoRow { operator: true, .. }]));
}

#[test]
fn operators_kick_and_set_modes_in_any_room() {
    let mut h = with_operator();
    let admin = h.irc("admin", "");
    let bob = h.member("bob", &["#r"]);
    let carol = h.member("carol", &["#r"]);
    h.send(admin, mode("#r", "+m", &[]));
    assert_eq!(
        h.events(admin),
        error("admin", Error::NotOperator("#r".into()))
    );
    h.oper_up(admin);
    h.send(admin, mode("#r", "+m", &[]));
    h.assert_told(&[bob, carol], &[mode_changed("#r", "admin", "+m", &[])]);
    h.send(admin, kick("#r", "carol", None));
    h.assert_told(&[bob, carol], &[kicked("#r", "admin", "carol", None)]);
}

#[test]
fn dropping_mode_o_ends_operator_status() {
    let mut h = with_operator();
    let admin = h.irc("admin", "");
    h.oper_up(admin);
    h.send(admin, mode("admin", "-o", &[]));
    assert_eq!(h.events(admin), [mode_changed("admin", "admin", "-o", &[])]);
    h.send(admin, Request::Wallops("still here?".into()));
    assert_eq!(h.events(admin), error("admin", Error::NoPrivileges));
    // Nobody gives themselves +o.
    h.send(admin, mode("admin", "+o", &[]));
    h.assert_quiet(&[admin]);
}
