//! Everything a server can be told at start, with the defaults `main` uses.

use std::net::SocketAddr;
use std::time::Duration;

pub use crate::accounts::PasswordCost;

/// How connections are served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transport {
    /// A reader and a writer thread per connection.
    #[default]
    Threaded,
    /// One mio event loop for every connection.
    Evented,
}

impl std::str::FromStr for Transport {
    type Err = String;

    fn from_str(text: &str) -> Result<Transport, String> {
        match text {
            "threaded" => Ok(Transport::Threaded),
            "evented" => Ok(Transport::Evented),
            _ => Err(format!("unknown transport {text:?}: threaded or evented")),
        }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Threaded => "threaded",
            Transport::Evented => "evented",
        })
    }
}

/// A server operator: a name and the Argon2id hash of its password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Oper {
    pub name: String,
    /// A PHC string, as `switchboard hash-password` prints.
    pub hash: String,
}

impl std::str::FromStr for Oper {
    type Err = String;

    /// Parses `NAME:HASH`.
    fn from_str(text: &str) -> Result<Oper, String> {
        let (name, hash) = text
            .split_once(':')
            .ok_or_else(|| format!("{text:?} is not NAME:HASH"))?;
        if name.is_empty() || name.contains([' ', ',']) {
            return Err(format!("operator name {name:?} must be one word"));
        }
        crate::accounts::check_hash(hash).map_err(|error| format!("operator {name}: {error}"))?;
        Ok(Oper {
            name: name.to_owned(),
            hash: hash.to_owned(),
        })
    }
}

/// The slowest flood-control rate, in lines per second: one line a minute.
pub const MIN_RATE: f64 = 1.0 / 60.0;

/// The smallest `--sendq-bytes`: room for a few of the longest lines.
pub const MIN_SENDQ_BYTES: usize = 16 * 1024;

/// Server settings. Every field has a command-line flag of the same name
/// (see README.md); [`Config::default`] gives the documented defaults.
#[derive(Clone, Debug)]
pub struct Config {
    /// Threads per connection, or one event loop.
    pub transport: Transport,
    /// Addresses to serve the line protocol on; port 0 picks a free port.
    pub line_listen: Vec<SocketAddr>,
    /// Addresses to serve IRC on.
    pub irc_listen: Vec<SocketAddr>,
    /// The server's name in IRC replies.
    pub server_name: String,
    /// The network name IRC clients show.
    pub network: String,
    /// The password clients must give (IRC `PASS`, line `/pass`), if any.
    pub password: Option<String>,
    /// The message of the day, if any.
    pub motd: Option<String>,
    /// Server operators (IRC `OPER`, line `/oper`).
    pub opers: Vec<Oper>,
    /// An IRC client silent this long is sent a `PING`.
    pub ping_interval: Duration,
    /// ... and disconnected if it stays silent this much longer.
    pub ping_timeout: Duration,
    /// Longest accepted input line in bytes, terminator excluded.
    pub max_line: usize,
    /// Messages queued for a client whose socket is backed up; more are
    /// dropped for it.
    pub sendq: usize,
    /// Most bytes queued for a client that keeps reading (its socket takes
    /// bytes) during a burst bigger than `sendq`; past it the client is
    /// treated as slow.
    pub sendq_bytes: usize,
    /// A slow client is disconnected once this many messages were dropped for
    /// it without its outbox draining to half.
    pub slow_drops: u64,
    /// A slow client is disconnected once its outbox has stayed full this long.
    pub slow_timeout: Duration,
    /// A write that makes no progress for this long ends the connection.
    pub write_timeout: Duration,
    /// Lines per second a client may send on average; 0 turns flood control off.
    pub rate: f64,
    /// Lines a client may send at once before `rate` applies.
    pub burst: u32,
    /// Most connections served at once; the next one is told and closed.
    pub max_clients: usize,
    /// A connection without a nickname after this long is closed.
    pub register_timeout: Duration,
    /// Idle time before TCP keepalive probes start looking for a dead peer.
    pub keepalive: Duration,
    /// How long shutdown waits for clients to receive their last lines.
    pub shutdown_timeout: Duration,
    /// Stack size of each connection thread (threaded transport), in KiB.
    pub thread_stack_kib: usize,
    /// The SQLite database of accounts, created if missing; `:memory:`
    /// keeps nothing.
    pub db: String,
    /// How long someone who takes a registered nickname has to log in
    /// before being renamed.
    pub nick_grace: Duration,
    /// How much Argon2 work hashing a new account's password costs
    /// ([`PasswordCost::Minimal`] is for tests).
    pub password_cost: PasswordCost,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            transport: Transport::default(),
            line_listen: vec![SocketAddr::from(([127, 0, 0, 1], 7878))],
            irc_listen: vec![SocketAddr::from(([127, 0, 0, 1], 6667))],
            server_name: "switchboard.local".into(),
            network: "switchboard".into(),
            password: None,
            motd: None,
            opers: Vec::new(),
            ping_interval: Duration::from_secs(90),
            ping_timeout: Duration::from_secs(60),
            max_line: 4096,
            sendq: 100,
            sendq_bytes: 1 << 20,
            slow_drops: 1000,
            slow_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            rate: 5.0,
            burst: 20,
            max_clients: 10_000,
            register_timeout: Duration::from_secs(60),
            keepalive: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(5),
            thread_stack_kib: 128,
            db: "switchboard.db".into(),
            nick_grace: Duration::from_secs(30),
            password_cost: PasswordCost::Standard,
        }
    }
}

impl Config {
    /// Checks that the settings make sense together.
    pub fn validate(&self) -> Result<(), String> {
        if self.line_listen.is_empty() && self.irc_listen.is_empty() {
            return Err("nothing to listen on: give a --line-listen or an --irc-listen".into());
        }
        if self.server_name.is_empty() || self.server_name.contains([' ', ':', '!', '@']) {
            return Err(format!(
                "--server-name {:?} must be one word, like a host name",
                self.server_name
            ));
        }
        for oper in &self.opers {
            crate::accounts::check_hash(&oper.hash)
                .map_err(|error| format!("--oper {}: {error}", oper.name))?;
        }
        if self.max_line < 64 {
            return Err(format!(
                "--max-line {} is below the minimum of 64",
                self.max_line
            ));
        }
        if self.sendq == 0 {
            return Err("--sendq must be at least 1".into());
        }
        if self.sendq_bytes < MIN_SENDQ_BYTES {
            return Err(format!(
                "--sendq-bytes {} is below the minimum of {MIN_SENDQ_BYTES}",
                self.sendq_bytes
            ));
        }
        if self.slow_drops == 0 {
            return Err("--slow-drops must be at least 1".into());
        }
        if !(self.rate >= 0.0 && self.rate.is_finite()) {
            return Err(format!(
                "--rate {} must be 0 or a positive number",
                self.rate
            ));
        }
        if self.rate > 0.0 && self.burst == 0 {
            return Err("--burst must be at least 1 when --rate is on".into());
        }
        if self.max_clients == 0 {
            return Err("--max-clients must be at least 1".into());
        }
        if self.db.is_empty() {
            return Err("--db must name a file (or :memory:)".into());
        }
        if self.thread_stack_kib < 32 {
            return Err("--thread-stack-kib must be at least 32".into());
        }
        Ok(())
    }
}
