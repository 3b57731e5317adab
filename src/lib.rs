//! switchboard: a chat server with rooms and private messages, built on plain
//! OS threads and channels.
//!
//! # Architecture
//!
//! ```text
//!  accept thread (one per listening address)
//!     │ socket
//!     ▼
//!  reader thread ──Input──► router thread ──Arc<Outgoing>──► writer thread
//!  (per client)    bounded   (owns all chat    bounded outbox   (per client)
//!                  channel    state)           per client,
//!                    ▲  ▲       │  │           never waits
//!     Input::Stored  │  │       │  │ try_send
//!         sb-storage ┘  └ sb-hash-N (password hashing pool)
//!         (SQLite)
//! ```
//!
//! - The **router** ([`router`]) owns every user, room and membership. It
//!   takes [`router::Input`]s (on one bounded channel, or called in place by
//!   the event loop) and answers by queueing events on clients' bounded
//!   outboxes, which drop rather than wait: it never blocks on a client.
//!   At the end of each turn it writes a parked writer's queue to the
//!   socket itself, without waiting, and wakes the writer only if the
//!   socket pushes back (ARCHITECTURE.md, "Departures"); a writer that is
//!   awake finds its events queued, however many it got.
//! - **Codecs** ([`protocol`]) turn lines into [`protocol::Request`]s and
//!   [`protocol::Event`]s into bytes. They never touch a socket. A broadcast
//!   is one shared [`protocol::Outgoing`], encoded once per protocol by the
//!   first writer that needs it.
//! - The **transport** ([`transport`]) owns the sockets: per connection a
//!   reader thread (framing, flood control, decoding) and a writer thread
//!   (batched writes of everything queued), or with `--transport evented`
//!   one mio event loop for every socket, which also owns the router and
//!   calls it in place instead of sending to a router thread. Between
//!   socket and codec both use one sans-io connection layer
//!   ([`transport::session`]: plain or TLS, and for HTTP listeners the
//!   web layer), whose setup (the TLS handshake, HTTP until a WebSocket
//!   upgrade) ends before the router hears of the client.
//! - **The web** ([`web`]): HTTP/1.1, IRC over WebSocket, the browser
//!   client, `/metrics` and the JSON API, all sans-io; API calls reach the
//!   router as [`router::Input::Api`] with a one-answer channel.
//! - **One way into the router**: connections, the storage thread, the
//!   hashing pool and HTTP requests all send [`router::Input`]s on one
//!   bounded channel (the
//!   event loop calls the router in place for its own connections and
//!   drains the channel for the rest, woken by a [`router::RouterSender`]).
//! - **Storage** ([`storage`]) is one thread that owns the SQLite database
//!   (`--db`); the router sends it jobs with `try_send` and hears back once
//!   they are committed, and hands it every delivered message, also with
//!   `try_send`, for the history, which the thread writes in batches
//!   (a room's latest messages, replayed on join, stay in the router's
//!   memory). **Passwords** ([`accounts`], [`hashing`]) are
//!   Argon2id hashes, hashed and checked on a small pool of threads, for
//!   accounts and `--oper` alike; the client's later requests wait for the
//!   answer, the router never does.
//! - A **slow client** fills only its own outbox: further events are dropped
//!   for it and counted, it is told how many it missed, and one that stays
//!   behind past `--slow-drops` or `--slow-timeout` is disconnected.
//!
//! See ARCHITECTURE.md for who owns what and how shutdown proceeds.

#![forbid(unsafe_code)]

pub mod accounts;
pub mod client;
pub mod config;
pub mod fuzz;
pub mod hashing;
pub mod limits;
pub mod protocol;
pub mod router;
pub mod stats;
pub mod storage;
pub mod transport;
pub mod web;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

pub use config::{Config, Listen, Scheme, Transport};
pub use protocol::Protocol;
pub use stats::StatsSnapshot;

use router::{INBOX_CAPACITY, Router, RouterSender, Services};
use stats::Stats;
use storage::Store;
use transport::evented::{self, EventLoop};
use transport::threaded::{self, Listener};
use transport::tls::Tls;
use transport::{Context, Live, PanicWatch};

/// A running server. Stop it with [`Server::stop`]; dropping it stops it too.
#[derive(Debug)]
pub struct Server {
    endpoints: Vec<Listen>,
    /// The TLS listeners' settings, if there are any.
    tls: Option<Arc<Tls>>,
    stats: Arc<Stats>,
    live: Arc<Live>,
    /// Says why, if a thread every client depends on died.
    failed: Receiver<String>,
    /// `None` once stopped.
    running: Option<Running>,
}

/// What a running server stops.
#[derive(Debug)]
struct Running {
    serving: Serving,
    config: Arc<Config>,
}

/// What accepts and serves connections.
#[derive(Debug)]
enum Serving {
    /// The router thread, an accept thread per address, two threads per
    /// connection.
    Threads {
        listeners: Vec<Listener>,
        stop_router: Sender<()>,
        router: JoinHandle<()>,
    },
    /// One event loop for everything, the router included.
    Loop(EventLoop),
}

impl Server {
    /// Binds every listening address and starts serving.
    pub fn start(mut config: Config) -> io::Result<Server> {
        config
            .validate()
            .map_err(|message| io::Error::new(io::ErrorKind::InvalidInput, message))?;
        // Bound first, so everyone (the router's STS policy among them)
        // sees the real ports, port 0 resolved.
        let mut bound = Vec::new();
        for listen in &mut config.listen {
            let listener = transport::bind(listen.addr)?;
            listen.addr = listener.local_addr()?;
            bound.push((*listen, listener));
        }
        let config = Arc::new(config);
        let stats = Arc::new(Stats::default());
        let live = Arc::new(Live::default());
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => {
                Some(Arc::new(Tls::load(cert, key).map_err(|message| {
                    io::Error::new(io::ErrorKind::InvalidInput, message)
                })?))
            }
            _ => None,
        };
        if let Some(tls) = &tls {
            log::info!("TLS certificate SHA-256 {}", tls.fingerprint());
        }
        // Opened (and migrated) here, after everything else that can refuse
        // the start, so a database that cannot be used stops it with a
        // clear error and a bad flag leaves no new file behind.
        let store = Store::open(&config.db).map_err(io::Error::other)?;
        let context = Context {
            config: Arc::clone(&config),
            live: Arc::clone(&live),
            next_id: Arc::new(AtomicU64::new(1)),
            stats: Arc::clone(&stats),
            tls: tls.clone(),
        };
        log::info!("{} transport", config.transport);
        let (failed_tx, failed) = crossbeam_channel::bounded(1);
        let mut server = Server {
            endpoints: config.listen.clone(),
            tls,
            stats,
            live,
            failed,
            running: None,
        };
        match config.transport {
            Transport::Threaded => {
                let (router_tx, router_rx) = crossbeam_channel::bounded(INBOX_CAPACITY);
                // The router thread waits on the channel itself: nobody to wake.
                let helpers = RouterSender::new(router_tx.clone(), None);
                let services = Services::start(&config, store, Arc::clone(&server.stats), helpers)?;
                let router = Router::new(&config, Arc::clone(&server.stats), services);
                let (stop_router, stop_rx) = crossbeam_channel::bounded(1);
                let router = thread::Builder::new()
                    .name("sb-router".into())
                    .spawn(move || {
                        let _watch = PanicWatch {
                            thread: "router thread",
                            failed: failed_tx,
                        };
                        router.run(router_rx, stop_rx)
                    })?;
                let running = server.running.insert(Running {
                    serving: Serving::Threads {
                        listeners: Vec::new(),
                        stop_router,
                        router,
                    },
                    config: Arc::clone(&config),
                });
                let Serving::Threads { listeners, .. } = &mut running.serving else {
                    unreachable!("just made");
                };
                // On error, dropping `server` stops what already started.
                for (listen, listener) in bound {
                    let scheme = listen.scheme;
                    let listener =
                        threaded::listen(scheme, listener, context.clone(), router_tx.clone())?;
                    listeners.push(listener);
                }
            }
            Transport::Evented => {
                let watch = PanicWatch {
                    thread: "event loop",
                    failed: failed_tx,
                };
                let event_loop = evented::start(
                    bound,
                    context,
                    |helpers| {
                        let stats = Arc::clone(&server.stats);
                        let services = Services::start(&config, store, stats, helpers)?;
                        Ok(Router::new(&config, Arc::clone(&server.stats), services))
                    },
                    watch,
                )?;
                server.running = Some(Running {
                    serving: Serving::Loop(event_loop),
                    config,
                });
            }
        }
        Ok(server)
    }

    /// Every listener, with the address it is bound to.
    pub fn endpoints(&self) -> &[Listen] {
        &self.endpoints
    }

    /// The first address serving `scheme`.
    pub fn addr(&self, scheme: Scheme) -> Option<SocketAddr> {
        self.endpoints
            .iter()
            .find(|listen| listen.scheme == scheme)
            .map(|listen| listen.addr)
    }

    /// Reads `--tls-cert` and `--tls-key` again (`main` does on SIGHUP):
    /// new handshakes get the new certificate, connections already made go
    /// on as they are. On an error the old certificate stays.
    pub fn reload_tls(&self) -> Result<(), String> {
        let Some(tls) = &self.tls else {
            return Err("none was given (--tls-cert, --tls-key)".into());
        };
        tls.reload()
            .map_err(|error| format!("{error}; the old certificate stays"))?;
        log::info!("TLS certificate reloaded: SHA-256 {}", tls.fingerprint());
        Ok(())
    }

    /// Gets a message if the router thread or the event loop ended by
    /// panicking: the server then serves nobody and should be stopped
    /// (`main` exits non-zero).
    pub fn failed(&self) -> &Receiver<String> {
        &self.failed
    }

    /// The counters so far.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Connections currently served.
    pub fn connections(&self) -> usize {
        self.live.count()
    }

    /// Stops accepting, tells every client the server is going down, lets
    /// their outboxes drain for up to `shutdown_timeout`, closes what is left
    /// and joins every thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(running) = self.running.take() else {
            return;
        };
        log::info!("shutting down");
        let timeout = running.config.shutdown_timeout;
        match running.serving {
            Serving::Threads {
                listeners,
                stop_router,
                router,
            } => {
                let connections: Vec<_> = listeners.into_iter().flat_map(Listener::stop).collect();
                // The router tells every client and drops their outboxes; each
                // writer then sends what is queued and the farewell, and hangs up.
                let _ = stop_router.send(());
                if router.join().is_err() {
                    log::error!("the router thread panicked");
                }
                if !self.drained(timeout) {
                    connections
                        .iter()
                        .for_each(threaded::Connection::force_close);
                }
                connections.into_iter().for_each(threaded::Connection::join);
            }
            Serving::Loop(event_loop) => {
                // The same, on the loop's thread; `exit` closes what is left.
                event_loop.shut_down();
                self.drained(timeout);
                event_loop.exit();
            }
        }
        log::info!("stopped");
    }

    /// Waits up to `timeout` for every connection to flush and close; false
    /// (and a warning) if some are left.
    fn drained(&self, timeout: Duration) -> bool {
        let drained = self.live.wait_empty(Instant::now() + timeout);
        if !drained {
            log::warn!(
                "{} connections still flushing after {timeout:?}; closing them",
                self.live.count()
            );
        }
        drained
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}
