//! Accounts: registering and logging in through NickServ, the line
//! protocol and SASL; the helpers' answers fed back as inputs by
//! [`Harness::settle`]; nickname ownership; throttling and full queues.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::*;
use crate::protocol::{AccountCommand, AccountError, AccountNotice, SaslReply, WhoRow, Whox};

fn notice(me: &str, notice: AccountNotice) -> Event {
    reply(me, Reply::Account(notice))
}

fn failed(me: &str, error: AccountError) -> Event {
    notice(me, AccountNotice::Failed(error))
}

fn logged_in(me: &str, mask: Arc<Mask>, account: &str) -> Event {
    reply(
        me,
        Reply::LoggedIn {
            mask,
            account: name(account),
        },
    )
}

fn sasl(me: &str, step: SaslReply) -> Event {
    reply(me, Reply::Sasl(step))
}

fn with_account(nick: &str, account: &str) -> Arc<Mask> {
    Arc::new(Mask {
        account: Some(name(account)),
        ..Mask::clone(&mask(nick))
    })
}

fn register(password: &str) -> Request {
    Request::Account(AccountCommand::Register {
        password: password.into(),
        email: None,
    })
}

pub(super) fn identify(account: Option<&str>, password: &str) -> Request {
    Request::Account(AccountCommand::Identify {
        account: account.map(str::to_owned),
        password: password.into(),
    })
}

fn authenticate(argument: &str) -> Request {
    Request::Authenticate(argument.into())
}

impl Harness {
    /// A line user `nick` with account `nick` (password "sesame"), logged in.
    pub(super) fn account(&mut self, nick: &str) -> ClientId {
        let id = self.register(nick);
        self.send(id, register("sesame"));
        self.settle();
        self.clear();
        id
    }
}

#[test]
fn a_line_user_registers_logs_out_and_logs_back_in() {
    let mut h = Harness::new();
    let ann = h.register("ann");
    h.send(ann, register("sesame"));
    // Nothing until the password is hashed and the account committed.
    h.assert_quiet(&[ann]);
    h.settle();
    assert_eq!(
        h.events(ann),
        [
            logged_in("ann", with_account("ann", "ann"), "ann"),
            notice("ann", AccountNotice::Registered(name("ann"))),
        ]
    );
    assert_eq!(h.store.accounts().unwrap()[0].name, name("ann"));
    h.send(ann, Request::Account(AccountCommand::Logout));
    // Logged out, the nickname is again someone else's for now.
    let owned = AccountNotice::NickOwned {
        nick: name("ann"),
        grace_secs: 30,
    };
    assert_eq!(
        h.events(ann),
        [
            reply("ann", Reply::LoggedOut(mask("ann"))),
            notice("ann", AccountNotice::LoggedOut),
            notice("ann", owned),
        ]
    );
    h.send(ann, identify(Some("ANN"), "wrong"));
    h.settle();
    assert_eq!(h.events(ann), [failed("ann", AccountError::WrongPassword)]);
    h.send(ann, identify(None, "sesame"));
    h.settle();
    assert_eq!(
        h.events(ann),
        [
            logged_in("ann", with_account("ann", "ann"), "ann"),
            notice("ann", AccountNotice::LoggedIn(name("ann"))),
        ]
    );
    h.send(ann, Request::Whois("ann".into()));
    let events = h.events(ann);
    let [
        Event::Reply {
            reply: Reply::Whois(whois),
            ..
        },
    ] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!(whois.account, Some(name("ann")));
}

#[test]
fn requests_wait_in_order_for_a_password_check() {
    let mut h = Harness::new();
    let ann = h.account("ann");
    h.send(ann, Request::Account(AccountCommand::Logout));
    h.send(ann, identify(None, "sesame"));
    h.clear();
    h.send(ann, join("#after"));
    h.assert_quiet(&[ann]);
    h.settle();
    let events = h.events(ann);
    assert_eq!(
        events[1],
        notice("ann", AccountNotice::LoggedIn(name("ann")))
    );
    assert_eq!(events[2], joined("#after", "ann").with_account("ann"));
}

impl Event {
    /// The event with its source logged in to `account`.
    fn with_account(mut self, account: &str) -> Event {
        if let Event::Joined { who, .. } = &mut self {
            *who = with_account(&who.nick, account);
        }
        self
    }
}

#[test]
fn bad_registrations_are_refused_with_reasons() {
    let mut h = Harness::new();
    let ann = h.account("ann");
    let bob = h.register("bob");
    h.send(ann, register("another"));
    assert_eq!(
        h.events(ann),
        [failed("ann", AccountError::AlreadyLoggedIn(name("ann")))]
    );
    for password in ["", "with space", &"x".repeat(401)] {
        h.send(bob, register(password));
        assert_eq!(h.events(bob), [failed("bob", AccountError::BadPassword)]);
    }
    h.send(
        bob,
        Request::Account(AccountCommand::Register {
            password: "sesame".into(),
            email: Some("nowhere".into()),
        }),
    );
    assert_eq!(h.events(bob), [failed("bob", AccountError::BadEmail)]);
    h.send(bob, identify(Some("nobody"), "sesame"));
    assert_eq!(
        h.events(bob),
        [failed("bob", AccountError::NoSuchAccount("nobody".into()))]
    );
}

#[test]
fn an_address_registers_only_so_many_accounts_an_hour() {
    let mut h = Harness::new();
    for n in 0..crate::accounts::limits::REGISTRATIONS_PER_ADDRESS {
        h.account(&format!("user{n}"));
    }
    let one_more = h.register("late");
    h.send(one_more, register("sesame"));
    assert_eq!(
        h.events(one_more),
        [failed("late", AccountError::TooManyRegistrations)]
    );
    h.wait(crate::accounts::limits::REGISTRATION_WINDOW);
    h.send(one_more, register("sesame"));
    h.settle();
    assert_eq!(h.events(one_more).len(), 2, "registered an hour later");
}

#[test]
fn failed_logins_make_the_next_wait() {
    let mut h = Harness::new();
    h.account("ann");
    let eve = h.register("eve");
    for _ in 0..crate::accounts::limits::FAILURES_PER_ACCOUNT {
        h.send(eve, identify(Some("ann"), "guess"));
        h.settle();
    }
    h.clear();
    h.send(eve, identify(Some("ann"), "sesame"));
    assert_eq!(
        h.events(eve),
        [failed("eve", AccountError::Throttled { retry_secs: 2 })]
    );
    h.wait(Duration::from_secs(2));
    h.send(eve, identify(Some("ann"), "sesame"));
    h.settle();
    assert_eq!(h.events(eve).len(), 2, "logged in once the wait is over");
}

#[test]
fn a_full_hashing_queue_says_busy_and_counts() {
    let mut h = Harness::new();
    h.account("ann");
    let waiting: Vec<ClientId> = (0..crate::hashing::QUEUE)
        .map(|n| {
            let id = h.register(&format!("guest{n}"));
            h.send(id, identify(Some("ann"), "sesame"));
            id
        })
        .collect();
    let late = h.register("late");
    h.send(late, identify(Some("ann"), "sesame"));
    assert_eq!(h.events(late), [failed("late", AccountError::Busy)]);
    assert_eq!(h.stats.snapshot().hash_busy, 1);
    h.settle();
    h.assert_open(waiting[0]);
}

#[test]
fn nickserv_register_and_identify_over_irc() {
    let mut h = Harness::new();
    let ivy = h.irc("ivy", "");
    h.send(ivy, register("sesame"));
    h.settle();
    assert_eq!(
        h.events(ivy),
        [
            logged_in("ivy", with_account("ivy", "ivy"), "ivy"),
            notice("ivy", AccountNotice::Registered(name("ivy"))),
        ]
    );
    let other = h.irc("other", "");
    h.send(other, identify(Some("ivy"), "sesame"));
    h.settle();
    assert_eq!(
        h.events(other),
        [
            logged_in("other", with_account("other", "ivy"), "ivy"),
            notice("other", AccountNotice::LoggedIn(name("ivy"))),
        ]
    );
    h.send(other, Request::Account(AccountCommand::Info(None)));
    let events = h.events(other);
    assert!(
        matches!(
            &events[..],
            [Event::Reply {
                reply: Reply::Account(AccountNotice::Info { online: 2, .. }),
                ..
            }]
        ),
        "{events:?}"
    );
}

#[test]
fn sasl_plain_before_registration() {
    let mut h = Harness::new();
    let ann = h.account("ann");
    h.send(ann, Request::Quit(None));
    let id = h.connect_speaking(Protocol::Irc, ROOMY);
    h.send(id, Request::Cap(CapCommand::Req("sasl".into())));
    h.send(id, Request::Nick("ann".into()));
    h.send(id, user("ann"));
    h.send(id, authenticate("PLAIN"));
    h.send(id, authenticate(&STANDARD.encode("\0ann\0sesame")));
    h.send(id, Request::Cap(CapCommand::End));
    h.settle();
    let mut events = h.events(id);
    assert_eq!(
        events.drain(..4).collect::<Vec<_>>(),
        [
            cap("*", "ACK", "sasl"),
            sasl("*", SaslReply::Continue(Vec::new())),
            logged_in("*", with_account("ann", "ann"), "ann"),
            sasl("*", SaslReply::Success),
        ]
    );
    let Event::Reply {
        reply: Reply::Welcome(welcome),
        ..
    } = &events[0]
    else {
        panic!("{events:?}")
    };
    assert_eq!(welcome.mask.account, Some(name("ann")));
    // Already logged in: a second exchange is refused.
    h.send(id, authenticate("PLAIN"));
    assert_eq!(h.events(id), [sasl("ann", SaslReply::Already)]);
}

#[test]
fn sasl_failures_and_aborts_leave_the_client_usable() {
    let mut h = Harness::new();
    h.account("ann");
    let id = h.irc("ivy", "");
    h.send(id, authenticate("GSSAPI"));
    assert_eq!(
        h.events(id),
        [
            sasl("ivy", SaslReply::Mechanisms),
            sasl("ivy", SaslReply::Failed)
        ]
    );
    h.send(id, authenticate("PLAIN"));
    h.send(id, authenticate("not base64!"));
    h.send(id, authenticate("PLAIN"));
    h.send(id, authenticate("*"));
    h.send(id, authenticate("PLAIN"));
    h.send(id, authenticate(&STANDARD.encode("\0ann\0wrong")));
    h.settle();
    let go_on = sasl("ivy", SaslReply::Continue(Vec::new()));
    assert_eq!(
        h.events(id),
        [
            go_on.clone(),
            sasl("ivy", SaslReply::Failed),
            go_on.clone(),
            sasl("ivy", SaslReply::Aborted),
            go_on,
            sasl("ivy", SaslReply::Failed),
        ]
    );
    h.send(id, authenticate("PLAIN"));
    h.send(id, authenticate(&"A".repeat(400)));
    for _ in 0..10 {
        h.send(id, authenticate(&"A".repeat(400)));
    }
    let events = h.events(id);
    assert_eq!(events.last(), Some(&sasl("ivy", SaslReply::Failed)));
    h.send(id, authenticate("PLAIN"));
    h.send(id, authenticate(&"A".repeat(401)));
    let events = h.events(id);
    assert_eq!(events.last(), Some(&sasl("ivy", SaslReply::TooLong)));
}

/// The client's side of SCRAM-SHA-256, for `password`.
fn scram_proof(password: &str, server_first: &str, client_first_bare: &str) -> String {
    let hmac = |key: &[u8], data: &[u8]| -> [u8; 32] {
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(data);
        mac.finalize().into_bytes().into()
    };
    let field = |name: &str| {
        server_first
            .split(',')
            .find_map(|part| part.strip_prefix(name))
            .unwrap()
            .to_owned()
    };
    let salt = STANDARD.decode(field("s=")).unwrap();
    let iterations: u32 = field("i=").parse().unwrap();
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iterations, &mut salted);
    let client_key = hmac(&salted, b"Client Key");
    let stored_key: [u8; 32] = Sha256::digest(client_key).into();
    let without_proof = format!("c=biws,r={}", field("r="));
    let auth = format!("{client_first_bare},{server_first},{without_proof}");
    let signature = hmac(&stored_key, auth.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(signature)
        .map(|(a, b)| a ^ b)
        .collect();
    format!("{without_proof},p={}", STANDARD.encode(proof))
}

#[test]
fn sasl_scram_sha_256() {
    let mut h = Harness::new();
    h.account("ann");
    for (password, works) in [("wrong", false), ("sesame", true)] {
        let id = h.irc(if works { "ivy" } else { "eve" }, "");
        let me = if works { "ivy" } else { "eve" };
        h.send(id, authenticate("SCRAM-SHA-256"));
        let bare = "n=ann,r=clientnonce";
        h.send(id, authenticate(&STANDARD.encode(format!("n,,{bare}"))));
        let events = h.events(id);
        let [
            _,
            Event::Reply {
                reply: Reply::Sasl(SaslReply::Continue(server_first)),
                ..
            },
        ] = events.as_slice()
        else {
            panic!("{events:?}")
        };
        let server_first = String::from_utf8(server_first.clone()).unwrap();
        assert!(server_first.starts_with("r=clientnonce"), "{server_first}");
        let client_final = scram_proof(password, &server_first, bare);
        h.send(id, authenticate(&STANDARD.encode(client_final)));
        if !works {
            assert_eq!(h.events(id), [sasl(me, SaslReply::Failed)]);
            continue;
        }
        let events = h.events(id);
        assert!(
            matches!(&events[..], [Event::Reply { reply: Reply::Sasl(SaslReply::Continue(v)), .. }] if v.starts_with(b"v=")),
            "{events:?}"
        );
        h.send(id, authenticate("+"));
        assert_eq!(
            h.events(id),
            [
                logged_in(me, with_account(me, "ann"), "ann"),
                sasl(me, SaslReply::Success),
            ]
        );
    }
}

#[test]
fn a_registered_nick_taken_by_someone_else_is_renamed_after_the_grace() {
    let mut h = Harness::with(Config {
        nick_grace: Duration::from_secs(5),
        ..Config::default()
    });
    let ann = h.account("ann");
    h.send(ann, Request::Nick("ann_away".into()));
    h.join_all(ann, &["#r"]);
    let squatter = h.connect();
    h.send(squatter, Request::Nick("ann".into()));
    let owned = AccountNotice::NickOwned {
        nick: name("ann"),
        grace_secs: 5,
    };
    assert_eq!(
        h.events(squatter),
        [Event::Greeting, welcome("ann"), notice("ann", owned)]
    );
    h.tick_after(Duration::from_secs(4));
    h.assert_quiet(&[squatter]);
    h.tick_after(Duration::from_secs(5));
    assert_eq!(
        h.events(squatter),
        [
            nick_changed("ann", "Guest1"),
            notice("Guest1", AccountNotice::Renamed(name("Guest1"))),
        ]
    );
    // The owner takes it back at once from whoever holds it now.
    h.send(squatter, Request::Nick("ann".into()));
    h.clear();
    h.send(ann, Request::Account(AccountCommand::Regain("ann".into())));
    assert_eq!(
        h.events(squatter),
        [
            nick_changed("ann", "Guest2"),
            notice("Guest2", AccountNotice::Renamed(name("Guest2"))),
        ]
    );
    let events = h.events(ann);
    assert_eq!(
        events.last(),
        Some(&notice("ann", AccountNotice::Regained(name("ann"))))
    );
    assert_eq!(h.router.registered_nick("ann"), Some(name("ann")));
}

#[test]
fn logging_in_within_the_grace_keeps_the_nick() {
    let mut h = Harness::new();
    let ann = h.account("ann");
    h.send(ann, Request::Quit(None));
    let again = h.connect();
    h.send(again, Request::Nick("ann".into()));
    h.send(again, identify(None, "sesame"));
    h.settle();
    h.clear();
    h.tick_after(Duration::from_secs(60));
    h.assert_quiet(&[again]);
    assert_eq!(h.router.registered_nick("ann"), Some(name("ann")));
}

#[test]
fn account_notify_extended_join_and_whox_show_the_account() {
    let mut h = Harness::new();
    let watcher = h.irc("watcher", "account-notify extended-join");
    h.join_all(watcher, &["#r"]);
    let ann = h.account("ann");
    h.send(ann, Request::Account(AccountCommand::Logout));
    h.send(ann, join("#r"));
    h.send(ann, identify(None, "sesame"));
    h.settle();
    let events = h.events(watcher);
    assert_eq!(
        events,
        [
            Event::Joined {
                room: name("#r"),
                who: mask("ann"),
                extended: Some(name("switchboard line user (nc or telnet)")),
            },
            Event::AccountChanged {
                who: mask("ann"),
                account: Some(name("ann")),
            },
        ]
    );
    h.send(
        watcher,
        Request::Who {
            mask: "ann".into(),
            whox: Some(Whox {
                fields: "na".into(),
                token: None,
            }),
        },
    );
    let events = h.events(watcher);
    let [
        Event::Reply {
            reply: Reply::Who { rows, .. },
            ..
        },
    ] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert!(matches!(&rows[..], [WhoRow { account: Some(account), .. }] if **account == *"ann"));
}

#[test]
fn nobody_may_pass_for_nickserv() {
    let mut h = Harness::new();
    let eve = h.register("eve");
    h.send(eve, Request::Nick("nickSERV".into()));
    assert_eq!(
        h.events(eve),
        error("eve", Error::NickInUse("nickSERV".into()))
    );
}
