//! Connections the event loop is still setting up: accepting them, and
//! telling the router of each once its TLS handshake or HTTP upgrade is over.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crossbeam_channel::Receiver;
use mio::net::TcpStream;
use mio::{Interest, Token};

use super::{Connection, FIRST_CONNECTION, Loop, LoopNudge};
use crate::client::{ClientId, Nudge, Outbox};
use crate::config::Scheme;
use crate::protocol::api::Answer;
use crate::router::{Input, Router};
use crate::transport::{Admitted, Context, Intake};

/// A connection the router does not know yet.
pub(super) struct Setup {
    pub(super) outbox: Outbox,
    pub(super) peer: SocketAddr,
    /// Setup that takes longer fails: `--register-timeout` from the accept.
    /// An HTTP connection has the deadlines of its requests instead.
    pub(super) deadline: Instant,
    /// HTTP: where the router's answer to the request asked about comes.
    pub(super) asking: Option<Receiver<Answer>>,
}

impl Loop {
    /// Accepts until the listener has no more.
    pub(super) fn accept(&mut self, token: Token) {
        loop {
            let Some(&(ref listener, scheme)) = self.listeners.get(&token) else {
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => self.start(stream, peer, scheme),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    // Out of descriptors, typically: the connection waits in
                    // the backlog and the next readiness retries.
                    log::warn!("accept failed: {error}");
                    return;
                }
            }
        }
    }

    /// Starts serving one accepted socket, unless the server turns it away.
    pub(super) fn start(&mut self, mut stream: TcpStream, peer: SocketAddr, scheme: Scheme) {
        let id = self.context.next_id();
        let token = token_of(id);
        let nudge = Arc::new(LoopNudge {
            token,
            scheduled: AtomicBool::new(false),
            shared: Arc::clone(&self.shared),
        });
        let for_outbox: Arc<dyn Nudge> = nudge.clone();
        let Some(admitted) = self
            .context
            .admit(&stream, id, scheme, peer, Some(for_outbox), true)
        else {
            return;
        };
        let Admitted {
            slot,
            outbox,
            inbox,
            codec,
            session,
            ..
        } = admitted;
        if let Err(error) = self.poll.registry().register(
            &mut stream,
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            log::warn!("cannot watch {peer}: {error}");
            return;
        }
        let now = Instant::now();
        let intake = Intake::new(scheme.protocol(), &self.context.config, now);
        let setup = Box::new(Setup {
            outbox,
            peer,
            deadline: now + self.context.config.register_timeout,
            asking: None,
        });
        self.connections.insert(
            token,
            Box::new(Connection {
                stream,
                id,
                codec,
                session,
                setup: Some(setup),
                intake,
                inbox,
                nudge,
                out: Vec::new(),
                written: 0,
                stalled_since: None,
                resume_at: None,
                ended: false,
                finished: false,
                closing: false,
                _slot: slot,
            }),
        );
        if let Some(connection) = self.connections.get_mut(&token) {
            Self::connect(
                connection,
                token,
                &mut self.router,
                &mut self.timers,
                &self.context,
            );
        }
    }

    /// Tells the router of a connection whose setup is over (at once for
    /// a plain one), then hands it what flood control lets through.
    pub(super) fn connect(
        connection: &mut Connection,
        token: Token,
        router: &mut Router,
        timers: &mut BinaryHeap<Reverse<(Instant, Token)>>,
        context: &Context,
    ) {
        if connection.setup.is_some() && connection.session.serving_http() {
            connection.serve_http(router, context);
        }
        if connection.setup.is_some() && !connection.session.setting_up() {
            let setup = connection.setup.take().expect("just looked");
            let connected = Input::Connected {
                id: connection.id,
                outbox: setup.outbox,
                peer: setup.peer,
                protocol: connection.codec.protocol,
                link: connection.session.link(),
            };
            router.handle(connected, Instant::now());
        }
        if connection.setup.is_none() {
            Self::dispatch(connection, token, router, timers);
        }
    }
}

/// The loop's token for a client.
pub(super) fn token_of(id: ClientId) -> Token {
    Token(FIRST_CONNECTION + id.0 as usize)
}
