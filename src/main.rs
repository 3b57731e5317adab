//! The switchboard binary: flags, logging and signals around [`Server`].

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use argh::FromArgs;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use switchboard::{Config, Server};

/// switchboard: a chat server with rooms and private messages for nc, telnet
/// and friends. Logging is set with RUST_LOG (default: info).
#[derive(FromArgs)]
struct Flags {
    /// address for the line protocol; repeat for several (default 127.0.0.1:7878)
    #[argh(option)]
    line_listen: Vec<SocketAddr>,

    /// longest input line in bytes (default 4096)
    #[argh(option, default = "Config::default().max_line")]
    max_line: usize,

    /// messages queued per client before they are dropped for it (default 100)
    #[argh(option, default = "Config::default().sendq")]
    sendq: usize,

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
}

impl Flags {
    fn into_config(self) -> Config {
        let defaults = Config::default();
        Config {
            line_listen: if self.line_listen.is_empty() {
                defaults.line_listen
            } else {
                self.line_listen
            },
            max_line: self.max_line,
            sendq: self.sendq,
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
        }
    }
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let config = argh::from_env::<Flags>().into_config();
    // Registered before the server starts, so a signal that arrives during
    // start-up is not lost.
    let mut signals = match Signals::new([SIGINT, SIGTERM]) {
        Ok(signals) => signals,
        Err(error) => {
            log::error!("cannot handle signals: {error}");
            return ExitCode::FAILURE;
        }
    };
    let server = match Server::start(config) {
        Ok(server) => server,
        Err(error) => {
            log::error!("cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(signal) = signals.forever().next() {
        log::info!("received signal {signal}");
    }
    server.stop();
    ExitCode::SUCCESS
}
