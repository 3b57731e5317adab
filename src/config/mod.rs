//! Everything a server can be told at start, with the defaults `main` uses.

mod listen;

use std::path::PathBuf;
use std::time::Duration;

pub use crate::accounts::PasswordCost;
use crate::limits::SERVER_NAME_MAX;
pub use listen::{Listen, Scheme};

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

/// The longest any time flag may be: a week. Longer ones would only
/// overflow the clock arithmetic they take part in.
pub const MAX_SECS: u64 = 7 * 24 * 3600;

/// The longest `--sts-duration`: two years, as long as browsers' preload
/// lists ask of HSTS.
pub const MAX_STS_SECS: u64 = 2 * 365 * 24 * 3600;

/// The longest `--keepalive`: what Linux takes for TCP_KEEPIDLE.
pub const MAX_KEEPALIVE_SECS: u64 = 32_767;

/// The shortest `--jwt-secret` key: HS256 wants at least its hash's size.
pub const JWT_SECRET_MIN: usize = 32;

/// The longest `--max-line`, and the biggest `--motd` file.
pub const MAX_TEXT: usize = 1 << 20;

/// The most `--max-clients`, `--sendq` and `--burst` may say:
/// far past what one machine serves, and far from any overflow.
pub const MAX_COUNT: u64 = 10_000_000;

/// The longest `--history-days`: ten years.
pub const MAX_HISTORY_DAYS: u32 = 3650;

/// Server settings. Every field has a command-line flag of the same name
/// (see README.md); [`Config::default`] gives the documented defaults.
#[derive(Clone, Debug)]
pub struct Config {
    /// Threads per connection, or one event loop.
    pub transport: Transport,
    /// What to serve where (`--listen irc://127.0.0.1:6667`, ...).
    pub listen: Vec<Listen>,
    /// The certificate chain TLS listeners serve (PEM), reloaded on SIGHUP.
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// How long IRC clients that connected over TLS should keep to TLS
    /// (IRCv3 `sts`, advertised when an `ircs://` listener exists);
    /// `None` advertises no policy.
    pub sts_duration: Option<Duration>,
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
    /// Whether delivered messages are stored (`--history on|off`); off,
    /// nothing is replayed or read back either. Offline private messages
    /// are kept either way.
    pub history: bool,
    /// History older than this many days is deleted.
    pub history_days: u32,
    /// Most messages kept per room or private conversation.
    pub history_per_target: usize,
    /// How many of a room's recent messages (no older than a day) are
    /// replayed to whoever joins it without `draft/chathistory`; 0 for none.
    pub replay_lines: usize,
    /// How much Argon2 work hashing a new account's password costs
    /// ([`PasswordCost::Minimal`] is for tests).
    pub password_cost: PasswordCost,
    /// What the HTTP listeners allow: other sites' pages (`--web-origin`),
    /// proxies (`--trusted-proxy`), JWTs (`--jwt-secret`).
    pub web: crate::web::site::Settings,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            transport: Transport::default(),
            listen: vec![
                Listen::new(Scheme::Irc, ([127, 0, 0, 1], 6667)),
                Listen::new(Scheme::Line, ([127, 0, 0, 1], 7878)),
                Listen::new(Scheme::Http, ([127, 0, 0, 1], 8080)),
            ],
            tls_cert: None,
            tls_key: None,
            sts_duration: Some(Duration::from_secs(30 * 24 * 3600)),
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
            history: true,
            history_days: 30,
            history_per_target: 10_000,
            replay_lines: 20,
            password_cost: PasswordCost::Standard,
            web: Default::default(),
        }
    }
}

impl Config {
    /// Checks every setting, alone and together, so a mistake is a clear
    /// error at start rather than a failure at the first client.
    pub fn validate(&self) -> Result<(), String> {
        if self.listen.is_empty() {
            return Err("--listen: nothing to listen on".into());
        }
        if let Some(tls) = self.listen.iter().find(|listen| listen.scheme.tls())
            && (self.tls_cert.is_none() || self.tls_key.is_none())
        {
            return Err(format!(
                "--listen {tls} needs --tls-cert and --tls-key \
                 (\"switchboard gen-cert\" makes a self-signed pair for local use)"
            ));
        }
        if let Some(secret) = &self.web.jwt_secret
            && secret.len() < JWT_SECRET_MIN
        {
            return Err(format!(
                "--jwt-secret: the key must be at least {JWT_SECRET_MIN} bytes"
            ));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err("--tls-cert and --tls-key go together".into());
        }
        let host_name = |name: &str| {
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
        };
        if self.server_name.is_empty()
            || self.server_name.len() > SERVER_NAME_MAX
            || !host_name(&self.server_name)
        {
            return Err(format!(
                "--server-name {:?} must be 1-{SERVER_NAME_MAX} letters, digits, dots, dashes or underscores, like a host name",
                self.server_name
            ));
        }
        if self.network.is_empty()
            || self.network.len() > SERVER_NAME_MAX
            || !self.network.chars().all(|c| c.is_ascii_graphic())
        {
            return Err(format!(
                "--network {:?} must be one word of 1-{SERVER_NAME_MAX} printable ASCII characters",
                self.network
            ));
        }
        if let Some(password) = &self.password
            && (password.is_empty() || password.contains(['\0', '\r', '\n']))
        {
            return Err("--password must be non-empty, without NUL or line breaks".into());
        }
        if let Some(motd) = &self.motd {
            if motd.len() > MAX_TEXT {
                return Err(format!("--motd is over {MAX_TEXT} bytes"));
            }
            if motd.contains('\0') || motd.replace("\r\n", "\n").contains('\r') {
                return Err("--motd has a NUL or a carriage return inside a line".into());
            }
        }
        for oper in &self.opers {
            crate::accounts::check_hash(&oper.hash)
                .map_err(|error| format!("--oper {}: {error}", oper.name))?;
        }
        if !(64..=MAX_TEXT).contains(&self.max_line) {
            return Err(format!(
                "--max-line {} must be between 64 and {MAX_TEXT}",
                self.max_line
            ));
        }
        for (flag, count, min) in [
            ("--sendq", self.sendq as u64, 1),
            ("--max-clients", self.max_clients as u64, 1),
            ("--burst", u64::from(self.burst), 0),
        ] {
            if !(min..=MAX_COUNT).contains(&count) {
                return Err(format!(
                    "{flag} {count} must be between {min} and {MAX_COUNT}"
                ));
            }
        }
        // Only compared with a count: the largest means never.
        if self.slow_drops == 0 {
            return Err("--slow-drops must be at least 1".into());
        }
        if !(MIN_SENDQ_BYTES..=1 << 30).contains(&self.sendq_bytes) {
            return Err(format!(
                "--sendq-bytes {} must be between {MIN_SENDQ_BYTES} and {}",
                self.sendq_bytes,
                1 << 30
            ));
        }
        if !(self.rate == 0.0 || (MIN_RATE..=1e6).contains(&self.rate)) {
            return Err(format!(
                "--rate {} must be 0 (no flood control) or between {MIN_RATE:.4} (a line a minute) and 1000000",
                self.rate
            ));
        }
        if self.rate > 0.0 && self.burst == 0 {
            return Err("--burst must be at least 1 when --rate is on".into());
        }
        for (flag, time, may_be_zero) in [
            ("--ping-interval", self.ping_interval, false),
            ("--ping-timeout", self.ping_timeout, false),
            ("--slow-timeout", self.slow_timeout, false),
            ("--write-timeout", self.write_timeout, false),
            ("--register-timeout", self.register_timeout, false),
            ("--shutdown-timeout", self.shutdown_timeout, true),
        ] {
            if time.is_zero() && !may_be_zero || time.as_secs() > MAX_SECS {
                let min = if may_be_zero { 0 } else { 1 };
                return Err(format!(
                    "{flag} {} must be between {min} and {MAX_SECS} seconds",
                    time.as_secs_f64()
                ));
            }
        }
        if let Some(sts) = self.sts_duration
            && sts.as_secs() > MAX_STS_SECS
        {
            return Err(format!(
                "--sts-duration {} must be at most {MAX_STS_SECS} seconds (two years), or off",
                sts.as_secs()
            ));
        }
        if self.db.is_empty() {
            return Err("--db must name a file (or :memory:)".into());
        }
        if !(1..=MAX_KEEPALIVE_SECS).contains(&self.keepalive.as_secs()) {
            return Err(format!(
                "--keepalive {} must be between 1 and {MAX_KEEPALIVE_SECS} seconds",
                self.keepalive.as_secs_f64()
            ));
        }
        if !(1..=MAX_HISTORY_DAYS).contains(&self.history_days) {
            return Err(format!(
                "--history-days {} must be between 1 and {MAX_HISTORY_DAYS}",
                self.history_days
            ));
        }
        if !(1..=MAX_COUNT).contains(&(self.history_per_target as u64)) {
            return Err(format!(
                "--history-per-target {} must be between 1 and {MAX_COUNT}",
                self.history_per_target
            ));
        }
        if self.replay_lines > crate::limits::HISTORY_LIMIT {
            return Err(format!(
                "--replay-lines {} must be between 0 and {}",
                self.replay_lines,
                crate::limits::HISTORY_LIMIT
            ));
        }
        if !(32..=1 << 20).contains(&self.thread_stack_kib) {
            return Err("--thread-stack-kib must be between 32 and 1048576".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(Config::default().validate(), Ok(()));
    }

    #[test]
    fn every_flag_out_of_range_is_refused_by_name() {
        type Tweak = fn(&mut Config);
        let cases: [(&str, Tweak); 27] = [
            ("--sts-duration", |c| c.sts_duration = Some(Duration::MAX)),
            ("--listen", |c| c.listen.clear()),
            ("--listen", |c| {
                c.listen = vec![Listen::new(Scheme::Ircs, ([127, 0, 0, 1], 0))];
            }),
            ("--tls-cert", |c| c.tls_cert = Some("cert.pem".into())),
            ("--history-days", |c| c.history_days = 0),
            ("--history-per-target", |c| c.history_per_target = 0),
            ("--replay-lines", |c| c.replay_lines = 1000),
            ("--rate", |c| c.rate = 1e-20),
            ("--rate", |c| c.rate = f64::NAN),
            ("--rate", |c| c.rate = -1.0),
            ("--server-name", |c| c.server_name = "a".repeat(500)),
            ("--server-name", |c| c.server_name = "bad\rname".into()),
            ("--network", |c| c.network = "two words".into()),
            ("--password", |c| c.password = Some("a\0b".into())),
            ("--motd", |c| c.motd = Some("one\rtwo".into())),
            ("--max-line", |c| c.max_line = usize::MAX),
            ("--sendq", |c| c.sendq = 0),
            ("--slow-drops", |c| c.slow_drops = 0),
            ("--sendq-bytes", |c| c.sendq_bytes = usize::MAX),
            ("--burst", |c| c.burst = 0),
            ("--max-clients", |c| c.max_clients = usize::MAX),
            ("--ping-interval", |c| c.ping_interval = Duration::MAX),
            ("--ping-timeout", |c| c.ping_timeout = Duration::ZERO),
            ("--write-timeout", |c| c.write_timeout = Duration::ZERO),
            ("--keepalive", |c| c.keepalive = Duration::from_secs(40_000)),
            ("--register-timeout", |c| c.register_timeout = Duration::MAX),
            ("--thread-stack-kib", |c| c.thread_stack_kib = usize::MAX),
        ];
        for (flag, tweak) in cases {
            let mut config = Config::default();
            tweak(&mut config);
            let error = config.validate().expect_err(flag);
            assert!(error.starts_with(flag), "{flag}: {error}");
        }
    }
}
