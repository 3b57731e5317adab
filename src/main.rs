//! The switchboard binary: flags, logging and signals around [`Server`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use argh::FromArgs;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use switchboard::config::Oper;
use switchboard::web::origin::Network;
use switchboard::web::site::Settings;
use switchboard::{Config, Listen, Server, Transport};

/// switchboard: a chat server with rooms and private messages for IRC clients,
/// nc and telnet. Logging is set with RUST_LOG (default: info).
#[derive(FromArgs)]
struct Flags {
    #[argh(subcommand)]
    command: Option<Command>,

    /// how connections are served: "threaded" (a reader and a writer thread
    /// each) or "evented" (one event loop) (default threaded)
    #[argh(option, default = "Transport::default()")]
    transport: Transport,

    /// what to serve where, as a URL: irc://, ircs:// (TLS), line://,
    /// lines:// (TLS), http://, https:// (TLS; the browser client, the API,
    /// /metrics and IRC over WebSocket at /ws) with an address and port;
    /// repeat for several (default irc://127.0.0.1:6667,
    /// line://127.0.0.1:7878 and http://127.0.0.1:8080)
    #[argh(option)]
    listen: Vec<Listen>,

    /// the certificate chain (PEM) TLS listeners serve; read again on
    /// SIGHUP
    #[argh(option)]
    tls_cert: Option<PathBuf>,

    /// the certificate's private key (PEM); read again on SIGHUP
    #[argh(option)]
    tls_key: Option<PathBuf>,

    /// seconds IRC clients that came over TLS should keep to TLS (IRCv3
    /// sts, advertised when an ircs:// listener exists), or "off" to
    /// advertise no policy, as with a self-signed certificate
    /// (default 2592000, 30 days)
    #[argh(option, default = "StsDuration(Config::default().sts_duration)")]
    sts_duration: StsDuration,

    /// the server's name in IRC replies (default switchboard.local)
    #[argh(option, default = "Config::default().server_name")]
    server_name: String,

    /// the network name IRC clients show (default switchboard)
    #[argh(option, default = "Config::default().network")]
    network: String,

    /// a password clients must give to connect (IRC PASS, line /pass)
    #[argh(option)]
    password: Option<String>,

    /// a file whose text is the message of the day
    #[argh(option)]
    motd: Option<PathBuf>,

    /// a server operator as NAME:HASH, HASH from "switchboard hash-password";
    /// repeat for several
    #[argh(option)]
    oper: Vec<Oper>,

    /// an origin (https://chat.example.org, or * for any) whose pages may
    /// use the WebSocket and the API; repeat for several (default: only
    /// pages this server serves)
    #[argh(option)]
    web_origin: Vec<String>,

    /// an address or network (10.0.0.0/8) of a reverse proxy whose
    /// X-Forwarded-For is believed; repeat for several (default none)
    #[argh(option)]
    trusted_proxy: Vec<Network>,

    /// a file holding the key HS256 JWTs are signed with, taken as API
    /// credentials naming an account (default: JWTs are not taken)
    #[argh(option)]
    jwt_secret: Option<PathBuf>,

    /// seconds of silence before an IRC client is pinged (default 90)
    #[argh(option, default = "Config::default().ping_interval.as_secs()")]
    ping_interval: u64,

    /// seconds an IRC client has to answer a ping (default 60)
    #[argh(option, default = "Config::default().ping_timeout.as_secs()")]
    ping_timeout: u64,

    /// longest input line in bytes (default 4096)
    #[argh(option, default = "Config::default().max_line")]
    max_line: usize,

    /// messages queued for a client whose socket is backed up, beyond which
    /// they are dropped for it (default 100)
    #[argh(option, default = "Config::default().sendq")]
    sendq: usize,

    /// most bytes queued for a client that keeps reading, during a burst,
    /// before it is treated as slow (default 1048576)
    #[argh(option, default = "Config::default().sendq_bytes")]
    sendq_bytes: usize,

    /// disconnect a client once this many messages were dropped for it
    /// without its queue draining to half (default 1000)
    #[argh(option, default = "Config::default().slow_drops")]
    slow_drops: u64,

    /// disconnect a client whose queue stayed full this many seconds (default 30)
    #[argh(option, default = "Config::default().slow_timeout.as_secs()")]
    slow_timeout: u64,

    /// end a connection whose socket accepts nothing for this many seconds
    /// (default 30)
    #[argh(option, default = "Config::default().write_timeout.as_secs()")]
    write_timeout: u64,

    /// lines per second a client may send on average; 0 turns flood control
    /// off (default 5)
    #[argh(option, default = "Config::default().rate")]
    rate: f64,

    /// lines a client may send at once before --rate applies (default 20)
    #[argh(option, default = "Config::default().burst")]
    burst: u32,

    /// most clients served at once (default 10000)
    #[argh(option, default = "Config::default().max_clients")]
    max_clients: usize,

    /// close connections that pick no nickname within this many seconds
    /// (default 60)
    #[argh(option, default = "Config::default().register_timeout.as_secs()")]
    register_timeout: u64,

    /// seconds of silence before TCP keepalive probes look for a dead peer
    /// (default 60)
    #[argh(option, default = "Config::default().keepalive.as_secs()")]
    keepalive: u64,

    /// seconds shutdown waits for clients to receive their last lines
    /// (default 5)
    #[argh(option, default = "Config::default().shutdown_timeout.as_secs()")]
    shutdown_timeout: u64,

    /// stack size of each connection thread in KiB (default 128)
    #[argh(option, default = "Config::default().thread_stack_kib")]
    thread_stack_kib: usize,

    /// the SQLite database of accounts, created on first start; ":memory:"
    /// keeps nothing (default switchboard.db)
    #[argh(option, default = "Config::default().db")]
    db: String,

    /// seconds someone who takes a registered nickname has to log in before
    /// being renamed (default 30)
    #[argh(option, default = "Config::default().nick_grace.as_secs()")]
    nick_grace: u64,

    /// store delivered messages for replay and /history: on or off
    /// (default on)
    #[argh(option, default = "String::from(\"on\")")]
    history: String,

    /// days history is kept (default 30)
    #[argh(option, default = "Config::default().history_days")]
    history_days: u32,

    /// most messages kept per room or private conversation (default 10000)
    #[argh(option, default = "Config::default().history_per_target")]
    history_per_target: usize,

    /// recent messages (at most a day old) replayed to whoever joins a
    /// room, unless their client fetches history itself (default 20)
    #[argh(option, default = "Config::default().replay_lines")]
    replay_lines: usize,
}

/// What to do instead of serving.
#[derive(FromArgs)]
#[argh(subcommand)]
enum Command {
    HashPassword(HashPassword),
    GenCert(GenCert),
}

/// write a self-signed TLS certificate and its key (PEM) for local use,
/// for --tls-cert and --tls-key; clients must be told not to verify it
#[derive(FromArgs)]
#[argh(subcommand, name = "gen-cert")]
struct GenCert {
    /// where to write the certificate (default switchboard-cert.pem)
    #[argh(option, default = "PathBuf::from(\"switchboard-cert.pem\")")]
    cert: PathBuf,

    /// where to write the private key, readable by its owner only
    /// (default switchboard-key.pem)
    #[argh(option, default = "PathBuf::from(\"switchboard-key.pem\")")]
    key: PathBuf,

    /// a host name or address the certificate is for; repeat for several
    /// (default localhost, 127.0.0.1 and ::1)
    #[argh(option)]
    name: Vec<String>,
}

impl GenCert {
    fn run(self) -> ExitCode {
        let names = if self.name.is_empty() {
            vec!["localhost".into(), "127.0.0.1".into(), "::1".into()]
        } else {
            self.name
        };
        // Both checked first, so a refusal leaves no half of a pair behind.
        let existing = [&self.cert, &self.key]
            .into_iter()
            .find(|path| path.exists());
        if let Some(path) = existing {
            eprintln!("{} exists: not overwritten", path.display());
            return ExitCode::FAILURE;
        }
        let written = switchboard::transport::tls::self_signed(names).and_then(|(cert, key)| {
            write_new(&self.key, &key, 0o600)?;
            write_new(&self.cert, &cert, 0o644)
        });
        match written {
            Ok(()) => {
                println!(
                    "wrote {} and {}; serve them with --tls-cert {} --tls-key {}",
                    self.cert.display(),
                    self.key.display(),
                    self.cert.display(),
                    self.key.display()
                );
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("{error}");
                ExitCode::FAILURE
            }
        }
    }
}

/// `--sts-duration`: seconds, or "off".
struct StsDuration(Option<Duration>);

impl std::str::FromStr for StsDuration {
    type Err = String;

    fn from_str(text: &str) -> Result<StsDuration, String> {
        if text == "off" {
            return Ok(StsDuration(None));
        }
        text.parse()
            .map(|secs| StsDuration(Some(Duration::from_secs(secs))))
            .map_err(|_| format!("{text:?} is neither a number of seconds nor \"off\""))
    }
}

/// Writes a file that must not exist yet, with `mode` permissions.
fn write_new(path: &std::path::Path, text: &str, mode: u32) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|error| format!("cannot write {}: {error}", path.display()))
}

/// print the Argon2id hash of a password, for --oper NAME:HASH
#[derive(FromArgs)]
#[argh(subcommand, name = "hash-password")]
struct HashPassword {
    /// the password; read from the first line of standard input if not given
    /// (which keeps it out of the shell's history)
    #[argh(positional)]
    password: Option<String>,
}

impl HashPassword {
    fn run(self) -> ExitCode {
        let password = match self.password {
            Some(password) => password,
            None => {
                let mut line = String::new();
                if let Err(error) = std::io::stdin().read_line(&mut line) {
                    eprintln!("cannot read the password: {error}");
                    return ExitCode::FAILURE;
                }
                line.trim_end_matches(['\r', '\n']).to_owned()
            }
        };
        if password.is_empty() {
            eprintln!("the password is empty");
            return ExitCode::FAILURE;
        }
        match switchboard::accounts::hash_password(&password) {
            Ok(hash) => {
                println!("{hash}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("{error}");
                ExitCode::FAILURE
            }
        }
    }
}

impl Flags {
    fn into_config(self) -> Result<Config, String> {
        let defaults = Config::default();
        let motd = match &self.motd {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|error| format!("cannot read --motd {}: {error}", path.display()))?,
            ),
            None => None,
        };
        let jwt_secret = match &self.jwt_secret {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|error| {
                        format!("cannot read --jwt-secret {}: {error}", path.display())
                    })?
                    .trim_ascii()
                    .to_vec(),
            ),
            None => None,
        };
        Ok(Config {
            transport: self.transport,
            listen: if self.listen.is_empty() {
                defaults.listen
            } else {
                self.listen
            },
            tls_cert: self.tls_cert,
            tls_key: self.tls_key,
            sts_duration: self.sts_duration.0,
            server_name: self.server_name,
            network: self.network,
            password: self.password,
            motd,
            opers: self.oper,
            ping_interval: Duration::from_secs(self.ping_interval),
            ping_timeout: Duration::from_secs(self.ping_timeout),
            max_line: self.max_line,
            sendq: self.sendq,
            sendq_bytes: self.sendq_bytes,
            slow_drops: self.slow_drops,
            slow_timeout: Duration::from_secs(self.slow_timeout),
            write_timeout: Duration::from_secs(self.write_timeout),
            rate: self.rate,
            burst: self.burst,
            max_clients: self.max_clients,
            register_timeout: Duration::from_secs(self.register_timeout),
            keepalive: Duration::from_secs(self.keepalive),
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout),
            thread_stack_kib: self.thread_stack_kib,
            db: self.db,
            nick_grace: Duration::from_secs(self.nick_grace),
            history: match self.history.as_str() {
                "on" => true,
                "off" => false,
                other => return Err(format!("--history {other:?} must be on or off")),
            },
            history_days: self.history_days,
            history_per_target: self.history_per_target,
            replay_lines: self.replay_lines,
            password_cost: defaults.password_cost,
            web: Settings {
                origins: self.web_origin,
                trusted_proxies: self.trusted_proxy,
                jwt_secret,
                limits: defaults.web.limits,
            },
        })
    }
}

/// Every connection is a file descriptor: allow as many as the hard limit.
fn raise_descriptor_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => log::info!("file descriptor limit: {limit}"),
        Err(error) => log::warn!("cannot raise the file descriptor limit: {error}"),
    }
}

/// Each thread costs about four memory mappings (its stack, the stack's
/// guard, a signal stack and its guard), and Linux caps mappings per process
/// at `vm.max_map_count` (65530 by default): about 8,000 connections with two
/// threads each. Past that, a new thread cannot set up its signal stack and
/// the process aborts, so `--max-clients` is lowered to what fits (with a
/// tenth to spare for everything else) and the log says how to raise it.
fn fit_map_count(max_clients: usize) -> usize {
    const MAPS_PER_CONNECTION: usize = 2 * 4;
    let Some(max_maps) = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|text| text.trim().parse::<usize>().ok())
    else {
        return max_clients;
    };
    let fits = max_maps / MAPS_PER_CONNECTION * 9 / 10;
    if fits >= max_clients {
        return max_clients;
    }
    // 262144 (as README says) is enough for the default --max-clients.
    let enough = (max_clients * MAPS_PER_CONNECTION * 2).max(262_144);
    log::warn!(
        "vm.max_map_count {max_maps} leaves room for about {fits} threaded connections: \
         serving at most {fits} instead of --max-clients {max_clients}; raise it \
         (sysctl -w vm.max_map_count={enough}) or use --transport evented"
    );
    fits
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let mut flags = argh::from_env::<Flags>();
    match flags.command.take() {
        Some(Command::HashPassword(command)) => return command.run(),
        Some(Command::GenCert(command)) => return command.run(),
        None => {}
    }
    let mut config = match flags.into_config() {
        Ok(config) => config,
        Err(error) => {
            log::error!("{error}");
            return ExitCode::FAILURE;
        }
    };
    // Registered before the server starts, so a signal that arrives during
    // start-up is not lost.
    let mut signals = match Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(signals) => signals,
        Err(error) => {
            log::error!("cannot handle signals: {error}");
            return ExitCode::FAILURE;
        }
    };
    raise_descriptor_limit();
    if config.transport == Transport::Threaded {
        config.max_clients = fit_map_count(config.max_clients);
    }
    let server = match Server::start(config) {
        Ok(server) => server,
        Err(error) => {
            log::error!("cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    // Wait for a signal, on a thread of its own, or for the server to fail:
    // a router or event loop that panicked serves nobody, and a process that
    // lives on would look healthy to whoever watches it. SIGHUP reloads the
    // TLS certificate and goes on waiting.
    let closer = signals.handle();
    let (signal_tx, signal_rx) = crossbeam_channel::bounded(1);
    let watcher = std::thread::Builder::new()
        .name("sb-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if signal_tx.send(signal).is_err() {
                    break;
                }
            }
        });
    let watcher = match watcher {
        Ok(watcher) => watcher,
        Err(error) => {
            log::error!("cannot watch for signals: {error}");
            return ExitCode::FAILURE;
        }
    };
    let failure = loop {
        crossbeam_channel::select! {
            recv(signal_rx) -> signal => match signal {
                Ok(SIGHUP) => {
                    log::info!("received SIGHUP: reloading the TLS certificate");
                    if let Err(error) = server.reload_tls() {
                        log::error!("cannot reload the TLS certificate: {error}");
                    }
                }
                Ok(signal) => {
                    log::info!("received signal {signal}");
                    break None;
                }
                Err(_) => break None,
            },
            recv(server.failed()) -> reason => break reason.ok(),
        }
    };
    closer.close();
    let _ = watcher.join();
    if let Some(reason) = &failure {
        log::error!("{reason}: stopping");
    }
    server.stop();
    match failure {
        Some(_) => ExitCode::FAILURE,
        None => ExitCode::SUCCESS,
    }
}
