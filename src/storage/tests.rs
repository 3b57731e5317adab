//! The store on real SQLite files in temporary directories.

use std::sync::Arc;

use super::*;
use crate::accounts::{PasswordCost, derive};
use crate::protocol::{Destination, Event, Mask, MessageKind, PastKind, Ref, Selector};

fn account(name: &str) -> Account {
    Account {
        name: name.into(),
        credentials: derive("sesame", PasswordCost::Minimal).unwrap(),
        email: Some(format!("{name}@example.org")),
        registered_at: 1_700_000_000,
    }
}

fn db_path(dir: &tempfile::TempDir) -> String {
    dir.path()
        .join("switchboard.db")
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_new_file_is_created_at_the_current_schema() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&db_path(&dir)).unwrap();
    assert_eq!(store.version().unwrap(), SCHEMA_VERSION);
    assert!(store.accounts().unwrap().is_empty());
    assert!(dir.path().join("switchboard.db").exists());
}

#[test]
fn accounts_survive_a_restart_on_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let alice = account("Alice");
    {
        let mut store = Store::open(&db_path(&dir)).unwrap();
        store.create_account(&alice).unwrap();
        store.create_account(&account("bob")).unwrap();
        store.drop_account("BOB").unwrap();
    }
    let store = Store::open(&db_path(&dir)).unwrap();
    assert_eq!(store.version().unwrap(), SCHEMA_VERSION);
    assert_eq!(store.accounts().unwrap(), [alice]);
}

#[test]
fn names_are_unique_whatever_their_case() {
    let mut store = Store::open(":memory:").unwrap();
    store.create_account(&account("alice")).unwrap();
    let error = store.create_account(&account("ALICE")).unwrap_err();
    assert_eq!(error.to_string(), "account ALICE exists");
    assert!(store.drop_account("nobody").is_err());
}

#[test]
fn a_newer_schema_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection
            .pragma_update(None, "user_version", SCHEMA_VERSION as i64 + 1)
            .unwrap();
    }
    let error = Store::open(&path).unwrap_err().to_string();
    assert!(
        error.contains("newer than this switchboard knows"),
        "{error}"
    );
    let connection = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = connection
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION as i64 + 1);
}

#[test]
fn an_older_schema_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    // A database from before accounts: version 0, with a table of its own.
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection
            .execute_batch("CREATE TABLE unrelated (x);")
            .unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.version().unwrap(), SCHEMA_VERSION);
    store.create_account(&account("carol")).unwrap();
}

#[test]
fn jobs_answer_with_what_they_did() {
    let mut store = Store::open(":memory:").unwrap();
    let client = ClientId(7);
    let created = store.apply(Job::CreateAccount {
        client,
        account: account("dave"),
    });
    assert!(matches!(
        created,
        Some(Stored::AccountCreated {
            client: ClientId(7),
            result: Ok(()),
            ..
        })
    ));
    let again = store.apply(Job::CreateAccount {
        client,
        account: account("Dave"),
    });
    assert!(matches!(
        again,
        Some(Stored::AccountCreated { result: Err(_), .. })
    ));
    let dropped = store.apply(Job::DropAccount {
        client,
        name: "dave".into(),
    });
    assert!(matches!(
        dropped,
        Some(Stored::AccountDropped { result: Ok(()), .. })
    ));
}

#[test]
fn certificates_belong_to_one_account_and_go_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = ("a".repeat(64), "b".repeat(64));
    {
        let mut store = Store::open(&db_path(&dir)).unwrap();
        store.create_account(&account("alice")).unwrap();
        store.create_account(&account("bob")).unwrap();
        store.add_certificate("ALICE", &one).unwrap();
        store.add_certificate("bob", &two).unwrap();
        assert!(store.add_certificate("bob", &one).is_err(), "taken");
        assert!(store.remove_certificate("bob", &one).is_err(), "not bob's");
    }
    let mut store = Store::open(&db_path(&dir)).unwrap();
    assert_eq!(
        store.certificates().unwrap(),
        [
            (one.as_str().into(), "alice".into()),
            (two.as_str().into(), "bob".into())
        ]
    );
    store.drop_account("bob").unwrap();
    store.remove_certificate("alice", &one).unwrap();
    assert!(store.certificates().unwrap().is_empty());
    store.create_account(&account("bob")).unwrap();
    store.add_certificate("bob", &two).unwrap();
}

/// A message from `nick` to `to` (a room, or a nickname), said `at`
/// milliseconds after the epoch, with the msgid `m{at}`.
fn said(nick: &str, to: &str, at: i64) -> Arc<Outgoing> {
    let to: Name = to.into();
    let to = if to.starts_with('#') {
        Destination::Room(to)
    } else {
        Destination::User(to)
    };
    Outgoing::at(
        Event::Message {
            from: Arc::new(Mask {
                nick: nick.into(),
                user: "~u".into(),
                host: "h".into(),
                account: Some(nick.into()),
            }),
            to,
            text: format!("message {at}").into(),
            kind: MessageKind::Action,
            tags: Some("+x=y".into()),
            id: format!("m{at}").into(),
            long: true,
        },
        jiff::Timestamp::from_millisecond(at).unwrap(),
    )
}

const KEEP: Retention = Retention {
    days: 30,
    per_target: 1000,
};

fn ids(page: &[Past]) -> Vec<String> {
    page.iter()
        .map(|past| match &past.message {
            Event::Message { id, .. } => id.to_string(),
            _ => unreachable!(),
        })
        .collect()
}

/// A store holding `#r`'s messages at 10, 20 ... 100 ms.
fn ten_messages() -> Store {
    ten_messages_in(10)
}

/// The same, written `per_batch` messages at a time (a chunk each).
fn ten_messages_in(per_batch: usize) -> Store {
    let mut store = Store::open(":memory:").unwrap();
    let all: Vec<Record> = (1..=10)
        .map(|n| Record::of("#r".into(), &said("ada", "#r", n * 10)))
        .collect();
    for batch in all.chunks(per_batch) {
        assert_eq!(store.record(batch, KEEP).unwrap(), batch.len());
    }
    store
}

#[test]
fn a_page_comes_back_as_it_was_said() {
    let store = ten_messages();
    let page = store.page("#r", &Selector::Latest(None), 1, false).unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(
        page[0],
        Past {
            at: jiff::Timestamp::from_millisecond(100).unwrap(),
            message: said("ada", "#r", 100).event().clone(),
        }
    );
}

#[test]
fn every_selector_picks_its_part_oldest_first() {
    for per_batch in [10, 3, 1] {
        selectors_pick_their_part(&ten_messages_in(per_batch));
    }
}

fn selectors_pick_their_part(store: &Store) {
    let msgid = |n: i64| Ref::MsgId(format!("m{n}"));
    let time = |n: i64| Ref::Time(jiff::Timestamp::from_millisecond(n).unwrap());
    let page =
        |selector: Selector, limit: usize| ids(&store.page("#r", &selector, limit, false).unwrap());
    let expect = |ms: &[i64]| -> Vec<String> { ms.iter().map(|n| format!("m{n}")).collect() };
    assert_eq!(page(Selector::Latest(None), 3), expect(&[80, 90, 100]));
    assert_eq!(
        page(Selector::Latest(Some(msgid(80))), 50),
        expect(&[90, 100])
    );
    assert_eq!(
        page(Selector::Latest(Some(time(80))), 50),
        expect(&[90, 100])
    );
    assert_eq!(page(Selector::Before(msgid(40)), 50), expect(&[10, 20, 30]));
    assert_eq!(page(Selector::Before(time(40)), 2), expect(&[20, 30]));
    assert_eq!(page(Selector::After(msgid(70)), 2), expect(&[80, 90]));
    assert_eq!(page(Selector::After(time(75)), 50), expect(&[80, 90, 100]));
    assert_eq!(page(Selector::Around(msgid(50)), 1), expect(&[50]));
    assert_eq!(page(Selector::Around(msgid(50)), 3), expect(&[40, 50, 60]));
    assert_eq!(page(Selector::Around(time(50)), 3), expect(&[40, 50, 60]));
    assert_eq!(
        page(Selector::Between(msgid(10), msgid(100)), 3),
        expect(&[20, 30, 40])
    );
    assert_eq!(
        page(Selector::Between(msgid(100), msgid(10)), 3),
        expect(&[70, 80, 90])
    );
    assert_eq!(
        page(Selector::Between(time(25), time(55)), 50),
        expect(&[30, 40, 50])
    );
    assert!(
        store
            .page("#r", &Selector::Before(msgid(999)), 5, false)
            .is_err()
    );
    assert!(page(Selector::Latest(None), 0).is_empty());
    assert!(
        ids(&store
            .page("#other", &Selector::Latest(None), 5, false)
            .unwrap())
        .is_empty()
    );
}

#[test]
fn each_conversation_keeps_at_most_its_share_and_old_history_expires() {
    let mut store = ten_messages();
    let now = jiff::Timestamp::now().as_millisecond();
    let recent = [Record::of("#r".into(), &said("ada", "#r", now))];
    let small = Retention {
        days: 1,
        per_target: 4,
    };
    store.record(&recent, small).unwrap();
    let page = store
        .page("#r", &Selector::Latest(None), 50, false)
        .unwrap();
    assert_eq!(ids(&page), ["m80", "m90", "m100", &format!("m{now}")]);
    assert_eq!(store.expire(1).unwrap(), 3);
    assert_eq!(
        store
            .page("#r", &Selector::Latest(None), 50, false)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn targets_list_rooms_of_the_reader_and_its_private_talks_by_latest() {
    let mut store = Store::open(":memory:").unwrap();
    let batch = [
        ("#a", said("ada", "#a", 10)),
        ("ada bob", said("bob", "ada", 20)),
        ("#b", said("bob", "#b", 30)),
        ("bob eve", said("bob", "eve", 40)),
        ("#a", said("eve", "#a", 50)),
    ]
    .map(|(key, message)| Record::of(key.into(), &message));
    store.record(&batch, KEEP).unwrap();
    let at = |ms| jiff::Timestamp::from_millisecond(ms).unwrap();
    let names = |rooms: &[Name], party, from, to, limit| -> Vec<(String, i64)> {
        store
            .targets(rooms, party, at(from), at(to), limit)
            .unwrap()
            .into_iter()
            .map(|target| (target.name.to_string(), target.latest.as_millisecond()))
            .collect()
    };
    let rooms: Vec<Name> = vec!["#a".into()];
    assert_eq!(
        names(&rooms, Some("ada"), 0, 100, 10),
        [("bob".to_owned(), 20), ("#a".to_owned(), 50)]
    );
    assert_eq!(
        names(&rooms, Some("ada"), 100, 0, 1),
        [("bob".to_owned(), 20)]
    );
    assert_eq!(
        names(&rooms, Some("ada"), 20, 100, 10),
        [("#a".to_owned(), 50)]
    );
    assert!(names(&[], None, 0, 100, 10).is_empty());
}

#[test]
fn offline_messages_wait_in_order_until_cleared() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = Store::open(&db_path(&dir)).unwrap();
        for (sender, at) in [("ada", 1), ("eve", 2), ("ada", 3)] {
            store
                .save_offline("bob", sender, &said(sender, "bob", at))
                .unwrap();
        }
        store
            .save_offline("carol", "ada", &said("ada", "carol", 4))
            .unwrap();
    }
    let mut store = Store::open(&db_path(&dir)).unwrap();
    let mut counts = store.offline_counts().unwrap();
    counts.sort();
    let expected: Vec<(Name, Name, usize)> = vec![
        ("bob".into(), "ada".into(), 2),
        ("bob".into(), "eve".into(), 1),
        ("carol".into(), "ada".into(), 1),
    ];
    assert_eq!(counts, expected);
    let (waiting, last) = store.offline("bob").unwrap();
    assert_eq!(ids(&waiting), ["m1", "m2", "m3"]);
    store
        .save_offline("bob", "eve", &said("eve", "bob", 5))
        .unwrap();
    store.clear_offline("bob", last).unwrap();
    assert_eq!(ids(&store.offline("bob").unwrap().0), ["m5"]);
}

#[test]
fn the_thread_commits_delivered_messages_and_answers_reads() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = crossbeam_channel::bounded(16);
    let stats = Arc::new(Stats::default());
    let mut storage = Storage::start(
        Store::open(&db_path(&dir)).unwrap(),
        Some(KEEP),
        Arc::clone(&stats),
        RouterSender::new(tx, None),
    )
    .unwrap();
    for n in 1..=3 {
        let record = Record::of("#r".into(), &said("ada", "#r", n));
        storage.record(record).unwrap();
    }
    let query = HistoryQuery {
        selector: Selector::Latest(None),
        limit: 10,
        kind: PastKind::Query,
    };
    storage
        .submit(Job::History {
            client: ClientId(1),
            key: "#r".into(),
            target: "#r".into(),
            query,
            events: false,
            label: None,
        })
        .unwrap();
    // The records come back to be dropped, all written before the read.
    let mut handed_back = 0;
    let page = loop {
        let answer = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        let Input::Stored(stored) = answer else {
            panic!("{answer:?}");
        };
        match *stored {
            Stored::Written(records) => handed_back += records.len(),
            Stored::History {
                result: Ok(page), ..
            } => break page,
            stored => panic!("{stored:?}"),
        }
    };
    assert_eq!(handed_back, 3);
    assert_eq!(ids(&page), ["m1", "m2", "m3"]);
    storage.stop();
    assert_eq!(stats.snapshot().history_stored, 3);
}

#[test]
fn topics_and_kept_tagmsgs_are_read_only_with_events() {
    let mut store = Store::open(":memory:").unwrap();
    let who = Arc::new(Mask {
        nick: "ada".into(),
        user: "~u".into(),
        host: "h".into(),
        account: None,
    });
    let at = jiff::Timestamp::from_millisecond(5).unwrap();
    let topic = Event::TopicChanged {
        room: "#r".into(),
        who: Arc::clone(&who),
        text: "news".into(),
        id: "t".into(),
    };
    let reaction = Event::TagMessage {
        from: who,
        to: Destination::Room("#r".into()),
        tags: "+draft/react=x".into(),
        id: "r".into(),
    };
    let batch = [topic.clone(), reaction.clone()]
        .map(|event| Record::of("#r".into(), &Outgoing::at(event, at)));
    store.record(&batch, KEEP).unwrap();
    let latest = Selector::Latest(None);
    assert!(store.page("#r", &latest, 10, false).unwrap().is_empty());
    let events: Vec<Event> = store
        .page("#r", &latest, 10, true)
        .unwrap()
        .into_iter()
        .map(|past| past.message)
        .collect();
    assert_eq!(events, [topic, reaction]);
}

#[test]
fn pages_and_trimming_cross_chunks() {
    let mut store = Store::open(":memory:").unwrap();
    let record = |from: i64, to: i64| -> Vec<Record> {
        (from..to)
            .map(|at| Record::of("#big".into(), &said("ada", "#big", at)))
            .collect()
    };
    // 600 in one batch (chunks of 256, 256 and 88), then 100 more.
    store.record(&record(1, 601), KEEP).unwrap();
    store.record(&record(601, 701), KEEP).unwrap();
    let page = |store: &Store, selector: Selector, limit: usize| -> Vec<String> {
        ids(&store.page("#big", &selector, limit, false).unwrap())
    };
    let expect =
        |ms: std::ops::Range<i64>| -> Vec<String> { ms.map(|n| format!("m{n}")).collect() };
    assert_eq!(page(&store, Selector::Latest(None), 300), expect(401..701));
    let msgid = |n: i64| Ref::MsgId(format!("m{n}"));
    assert_eq!(
        page(&store, Selector::Before(msgid(260)), 10),
        expect(250..260)
    );
    assert_eq!(
        page(&store, Selector::After(msgid(250)), 10),
        expect(251..261)
    );
    assert_eq!(
        page(&store, Selector::Around(msgid(513)), 4),
        expect(511..515)
    );
    // Trimmed to 500 once 10% past: exactly the newest 500 stay.
    let trim = Retention {
        days: 30,
        per_target: 500,
    };
    store.record(&record(701, 702), trim).unwrap();
    assert_eq!(page(&store, Selector::Latest(None), 1000), expect(202..702));
    assert!(
        store
            .page("#big", &Selector::Before(msgid(100)), 5, false)
            .is_err()
    );
    // Where the cut falls a little way into a chunk, it is kept whole
    // (16 more) rather than rewritten: chunks of 84, 60, 256 and 200.
    let mut store = Store::open(":memory:").unwrap();
    for (from, to) in [(1, 85), (85, 145), (145, 401), (401, 601)] {
        store.record(&record(from, to), trim).unwrap();
    }
    assert_eq!(page(&store, Selector::Latest(None), 1000), expect(85..601));
}

#[test]
fn history_kept_a_row_a_message_moves_into_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    {
        // A database at version 4, which kept a row per message.
        let mut connection = rusqlite::Connection::open(&path).unwrap();
        let transaction = connection.transaction().unwrap();
        for migration in &store::MIGRATIONS[..4] {
            transaction.execute_batch(migration).unwrap();
        }
        transaction.pragma_update(None, "user_version", 4).unwrap();
        for (id, at) in [(1, 30), (2, 10), (3, 20)] {
            transaction
                .execute(
                    "INSERT INTO messages (id, target, msgid, at, nick, user, host, account,
                         kind, recipient, text, tags, long)
                     VALUES (?1, '#r', ?2, ?3, 'ada', '~u', 'h', NULL, 1, '#R', 'say \"hi\"',
                         '+x=y', 1)",
                    rusqlite::params![id, format!("m{at}"), at],
                )
                .unwrap();
        }
        transaction
            .execute(
                "INSERT INTO offline (owner, sender, msgid, at, nick, user, host, account,
                     kind, recipient, text, tags, long)
                 VALUES ('bob', 'ada', 'o1', 5, 'ada', '~u', 'h', 'ada', 0, 'bob', 'later',
                     NULL, 0)",
                [],
            )
            .unwrap();
        transaction.commit().unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.version().unwrap(), SCHEMA_VERSION);
    let page = store
        .page("#r", &Selector::Before(Ref::MsgId("m30".into())), 10, false)
        .unwrap();
    assert_eq!(ids(&page), ["m10", "m20"]);
    let Event::Message {
        from,
        to,
        text,
        kind,
        tags,
        long,
        ..
    } = &page[0].message
    else {
        unreachable!()
    };
    assert_eq!(
        (&*from.nick, from.account.as_deref(), to.name().as_ref()),
        ("ada", None, "#R")
    );
    assert_eq!((&**text, *kind), ("say \"hi\"", MessageKind::Action));
    assert_eq!((tags.as_deref(), *long), (Some("+x=y"), true));
    assert_eq!(page[0].at.as_millisecond(), 10);
    let (waiting, _) = store.offline("bob").unwrap();
    assert_eq!(ids(&waiting), ["o1"]);
    assert!(matches!(
        &waiting[0].message,
        Event::Message { long: false, .. }
    ));
}
