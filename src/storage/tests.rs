//! The store on real SQLite files in temporary directories.

use super::*;
use crate::accounts::{PasswordCost, derive};

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
        Stored::AccountCreated {
            client: ClientId(7),
            result: Ok(()),
            ..
        }
    ));
    let again = store.apply(Job::CreateAccount {
        client,
        account: account("Dave"),
    });
    assert!(matches!(
        again,
        Stored::AccountCreated { result: Err(_), .. }
    ));
    let dropped = store.apply(Job::DropAccount {
        client,
        name: "dave".into(),
    });
    assert!(matches!(
        dropped,
        Stored::AccountDropped { result: Ok(()), .. }
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
