//! The SQLite database itself: opening, the schema and its migrations,
//! and the statements each job needs. Only the storage thread holds a
//! [`Store`] once the server runs.

use std::collections::HashMap;
use std::fmt;

use rusqlite::{Connection, OptionalExtension, params};

use crate::accounts::scram::ScramKeys;
use crate::accounts::{Account, Credentials};
use crate::protocol::Name;
use crate::router::fold;

/// The schema this build writes. Each entry of `MIGRATIONS` takes a
/// database from the version of its index to the next.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// A row of version 3's `messages` or `offline` as the JSON object
/// `storage::entry` reads, for the 4 -> 5 migration.
macro_rules! message_json {
    () => {
        "json_object('id', msgid, 'at', at, 'nick', nick, 'user', user, 'host', host,
            'account', account, 'kind', kind, 'to', recipient, 'text', text,
            'tags', tags, 'long', json(iif(long, 'true', 'false')))"
    };
}

/// How to get from each version to the next; append, never edit.
pub(super) const MIGRATIONS: &[&str] = &[
    // 0 -> 1: accounts. `key` is the folded name, which is what is unique;
    // the SCRAM keys sit beside the Argon2id hash because SCRAM cannot
    // use it.
    "CREATE TABLE accounts (
        key TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        password TEXT NOT NULL,
        scram_salt BLOB NOT NULL,
        scram_iterations INTEGER NOT NULL,
        scram_stored_key BLOB NOT NULL,
        scram_server_key BLOB NOT NULL,
        email TEXT,
        registered_at INTEGER NOT NULL
    ) STRICT;",
    // 1 -> 2: client certificates that log in to an account (SASL
    // EXTERNAL), by SHA-256 fingerprint; `account` is the account's key.
    "CREATE TABLE certificates (
        fingerprint TEXT PRIMARY KEY,
        account TEXT NOT NULL REFERENCES accounts (key),
        added_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX certificates_by_account ON certificates (account);",
    // 2 -> 3: history and offline messages (storage::history). `target` is
    // a room's folded name, or for a private talk the two parties' folded
    // names (account, or `~nickname` for one without) in order with a
    // space between; `at` is Unix milliseconds. `offline` holds private messages
    // waiting for an account to log in; `sender` is the sender's party,
    // which the per-sender limit counts.
    "CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        target TEXT NOT NULL,
        msgid TEXT NOT NULL,
        at INTEGER NOT NULL,
        nick TEXT NOT NULL,
        user TEXT NOT NULL,
        host TEXT NOT NULL,
        account TEXT,
        kind INTEGER NOT NULL,
        recipient TEXT NOT NULL,
        text TEXT NOT NULL,
        tags TEXT,
        long INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX messages_by_target ON messages (target, at);
    CREATE INDEX messages_by_msgid ON messages (msgid);
    CREATE INDEX messages_by_time ON messages (at);
    CREATE TABLE offline (
        id INTEGER PRIMARY KEY,
        owner TEXT NOT NULL,
        sender TEXT NOT NULL,
        msgid TEXT NOT NULL,
        at INTEGER NOT NULL,
        nick TEXT NOT NULL,
        user TEXT NOT NULL,
        host TEXT NOT NULL,
        account TEXT,
        kind INTEGER NOT NULL,
        recipient TEXT NOT NULL,
        text TEXT NOT NULL,
        tags TEXT,
        long INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX offline_by_owner ON offline (owner, id);",
    // 3 -> 4: API tokens, kept as SHA-256 hashes (a token is 32 random
    // bytes, so a fast hash is enough); they go with their account.
    "CREATE TABLE tokens (
        hash BLOB PRIMARY KEY,
        account TEXT NOT NULL REFERENCES accounts(key) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX tokens_by_account ON tokens(account);",
    // 4 -> 5: history in chunks (storage::history): one row per
    // conversation per committed batch, its messages a JSON array oldest
    // first, in place of a row per message; offline messages as one JSON
    // message each. `at`s are Unix milliseconds.
    concat!(
        "CREATE TABLE history (
        id INTEGER PRIMARY KEY,
        target TEXT NOT NULL,
        first_at INTEGER NOT NULL,
        last_at INTEGER NOT NULL,
        count INTEGER NOT NULL,
        messages TEXT NOT NULL
    ) STRICT;
    CREATE INDEX history_by_first ON history (target, first_at);
    CREATE INDEX history_by_last ON history (target, last_at);
    CREATE INDEX history_by_time ON history (last_at);
    INSERT INTO history (target, first_at, last_at, count, messages)
        SELECT target, min(at), max(at), count(*), json_group_array(json(message) ORDER BY at, id)
        FROM (SELECT target, at, id,
                  (row_number() OVER (PARTITION BY target ORDER BY at, id) - 1) / 256 AS chunk,
                  ",
        message_json!(),
        " AS message
              FROM messages)
        GROUP BY target, chunk;
    DROP TABLE messages;
    CREATE TABLE waiting (
        id INTEGER PRIMARY KEY,
        owner TEXT NOT NULL,
        sender TEXT NOT NULL,
        message TEXT NOT NULL
    ) STRICT;
    INSERT INTO waiting (id, owner, sender, message)
        SELECT id, owner, sender,
            ",
        message_json!(),
        "
        FROM offline;
    DROP TABLE offline;
    ALTER TABLE waiting RENAME TO offline;
    CREATE INDEX offline_by_owner ON offline (owner, id);"
    ),
];

/// What went wrong with the database, in words for the log or the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> StoreError {
        StoreError(error.to_string())
    }
}

/// An open database at the current schema.
#[derive(Debug)]
pub struct Store {
    pub(super) connection: Connection,
    /// How many messages each conversation written to lately holds, so
    /// that history is trimmed only when one outgrows its share.
    pub(super) sizes: HashMap<Name, usize>,
}

impl Store {
    /// Opens (creating if need be) the database at `path`, `:memory:` for
    /// one that keeps nothing, and brings its schema up to date. A database
    /// written by a newer switchboard is refused, never changed.
    pub fn open(path: &str) -> Result<Store, StoreError> {
        let connection = Connection::open(path)
            .map_err(|error| StoreError(format!("cannot open the database {path}: {error}")))?;
        // WAL: readers (history, later) never wait for the writer. FULL:
        // a commit is on disk before it returns, so an account change
        // acknowledged to its user survives a crash or kill -9.
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        // A dropped account takes its tokens with it.
        connection.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = Store {
            connection,
            sizes: HashMap::new(),
        };
        store.migrate(path)?;
        Ok(store)
    }

    /// The schema version the database is at.
    pub fn version(&self) -> Result<usize, StoreError> {
        let version: i64 = self
            .connection
            .pragma_query_value(None, "user_version", |row| row.get(0))?;
        Ok(version as usize)
    }

    fn migrate(&mut self, path: &str) -> Result<(), StoreError> {
        let found = self.version()?;
        if found > SCHEMA_VERSION {
            return Err(StoreError(format!(
                "the database {path} has schema version {found}, newer than this \
                 switchboard knows ({SCHEMA_VERSION}): run a newer switchboard, or give \
                 another --db"
            )));
        }
        for (version, migration) in MIGRATIONS.iter().enumerate().skip(found) {
            let transaction = self.connection.transaction()?;
            transaction.execute_batch(migration)?;
            transaction.pragma_update(None, "user_version", (version + 1) as i64)?;
            transaction.commit()?;
            log::info!("database {path}: schema version {}", version + 1);
        }
        Ok(())
    }

    /// Every account, to load at start.
    pub fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let mut statement = self.connection.prepare(
            "SELECT name, password, scram_salt, scram_iterations, scram_stored_key,
                    scram_server_key, email, registered_at
             FROM accounts ORDER BY key",
        )?;
        let rows = statement.query_map([], |row| {
            let key = |index: usize| -> rusqlite::Result<[u8; 32]> {
                let bytes: Vec<u8> = row.get(index)?;
                bytes.try_into().map_err(|_| {
                    rusqlite::Error::InvalidColumnType(
                        index,
                        "a 32-byte key".into(),
                        rusqlite::types::Type::Blob,
                    )
                })
            };
            Ok(Account {
                name: row.get::<_, String>(0)?.into(),
                credentials: Credentials {
                    phc: row.get(1)?,
                    scram: ScramKeys {
                        salt: row.get(2)?,
                        iterations: row.get(3)?,
                        stored_key: key(4)?,
                        server_key: key(5)?,
                    },
                },
                email: row.get(6)?,
                registered_at: row.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Adds an account, committed when this returns. Fails if the name is
    /// taken, whatever its case.
    pub fn create_account(&mut self, account: &Account) -> Result<(), StoreError> {
        let scram = &account.credentials.scram;
        let exists = self
            .connection
            .query_row(
                "SELECT 1 FROM accounts WHERE key = ?1",
                [&*fold(&account.name)],
                |_| Ok(()),
            )
            .optional()?;
        if exists.is_some() {
            return Err(StoreError(format!("account {} exists", account.name)));
        }
        self.connection.execute(
            "INSERT INTO accounts (key, name, password, scram_salt, scram_iterations,
                scram_stored_key, scram_server_key, email, registered_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                &*fold(&account.name),
                &*account.name,
                account.credentials.phc,
                scram.salt,
                scram.iterations,
                &scram.stored_key[..],
                &scram.server_key[..],
                account.email,
                account.registered_at,
            ],
        )?;
        Ok(())
    }

    /// Removes an account and its certificates, committed when this
    /// returns.
    pub fn drop_account(&mut self, name: &str) -> Result<(), StoreError> {
        let key = fold(name);
        let transaction = self.connection.transaction()?;
        transaction.execute("DELETE FROM certificates WHERE account = ?1", [&*key])?;
        let removed = transaction.execute("DELETE FROM accounts WHERE key = ?1", [&*key])?;
        if removed == 0 {
            return Err(StoreError(format!("no account {name}")));
        }
        transaction.commit()?;
        Ok(())
    }

    /// Every certificate fingerprint with its account's name, to load at
    /// start.
    pub fn certificates(&self) -> Result<Vec<(Box<str>, Name)>, StoreError> {
        let mut statement = self.connection.prepare(
            "SELECT fingerprint, name FROM certificates
             JOIN accounts ON accounts.key = certificates.account
             ORDER BY added_at",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?.into(),
                row.get::<_, String>(1)?.into(),
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Lets a certificate log in to `account`, committed when this returns.
    /// Fails if it logs in to an account already.
    pub fn add_certificate(&mut self, account: &str, fingerprint: &str) -> Result<(), StoreError> {
        let added = self.connection.execute(
            "INSERT OR IGNORE INTO certificates (fingerprint, account, added_at)
             VALUES (?1, ?2, unixepoch())",
            params![fingerprint, &*fold(account)],
        )?;
        if added == 0 {
            return Err(StoreError(format!("certificate {fingerprint} is taken")));
        }
        Ok(())
    }

    /// Removes a certificate from `account`, committed when this returns.
    pub fn remove_certificate(
        &mut self,
        account: &str,
        fingerprint: &str,
    ) -> Result<(), StoreError> {
        let removed = self.connection.execute(
            "DELETE FROM certificates WHERE fingerprint = ?1 AND account = ?2",
            params![fingerprint, &*fold(account)],
        )?;
        if removed == 0 {
            return Err(StoreError(format!(
                "certificate {fingerprint} is not on {account}"
            )));
        }
        Ok(())
    }
}
