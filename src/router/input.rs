//! The one way into the router: [`Input`], with a variant per source, on
//! one bounded channel.
//!
//! Connections (readers, or the event loop in place), the storage thread
//! and the password-hashing workers all speak to the router this way, as
//! rust-analyzer's main loop takes one `enum Event`. The router thread
//! selects over the channel; the event loop drains it when its
//! `mio::Waker` fires, which is why threads other than the loop send
//! through a [`RouterSender`]: it sends, then wakes whoever drains.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, select};

use crate::client::{ClientId, Link, Outbox};
use crate::hashing::Hashed;
use crate::protocol::api::{Answer, Call, Credential};
use crate::protocol::{Protocol, Request};
use crate::storage::Stored;

/// Everything the router is told, whoever tells it.
#[derive(Debug)]
pub enum Input {
    /// A new connection, with the outbox the router will feed.
    Connected {
        id: ClientId,
        outbox: Outbox,
        peer: SocketAddr,
        protocol: Protocol,
        /// TLS, and the client certificate's fingerprint.
        link: Link,
    },
    /// A client's request, decoded from one line.
    Request(ClientId, Request),
    /// The client will send no more, but `waiting` of its lines still wait
    /// for flood control; the transport hands them on at their pace, then
    /// reports the disconnection.
    Draining { id: ClientId, waiting: usize },
    /// The connection ended; the router cleans up the first time it hears it.
    Disconnected(ClientId, String),
    /// The storage thread did what it was asked (or could not). Boxed, as
    /// is `Hashed`: at 200 bytes either would make every input that size,
    /// and each send of one takes two on the sender's stack (BENCHMARKS.md,
    /// "Threaded idle memory went up with TLS and the web").
    Stored(Box<Stored>),
    /// A password-hashing worker checked or hashed a password.
    Hashed(Box<Hashed>),
    /// An HTTP API request, answered on its own channel.
    Api(ApiRequest),
}

/// An HTTP API call, from whom, and where to answer.
#[derive(Debug)]
pub struct ApiRequest {
    pub call: Call,
    pub credential: Credential,
    /// The client's address (behind a trusted proxy, the one it forwarded),
    /// for throttling password guesses.
    pub peer: std::net::IpAddr,
    pub reply: Replier,
}

/// Where the router answers an API request: a channel with room for the
/// one answer, so the router's `try_send` never waits, and whoever waits
/// on it to wake (the event loop; a threaded connection waits on the
/// channel itself).
#[derive(Clone, Debug)]
pub struct Replier {
    tx: Sender<Answer>,
    waker: Option<Arc<dyn Wake>>,
}

impl Replier {
    /// A replier and the receiver its one answer arrives on.
    pub fn new(waker: Option<Arc<dyn Wake>>) -> (Replier, Receiver<Answer>) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        (Replier { tx, waker }, rx)
    }

    /// Answers without waiting. An asker that gave up (its connection
    /// closed) or was already answered loses nothing by this failing.
    pub fn answer(&self, answer: Answer) {
        if self.tx.try_send(answer).is_ok()
            && let Some(waker) = &self.waker
        {
            waker.wake();
        }
    }
}

/// Whoever drains the router's channel, when it must be told to look:
/// the event loop, asleep in `poll`. The router thread needs no telling:
/// it waits on the channel itself.
pub trait Wake: Send + Sync + fmt::Debug {
    fn wake(&self);
}

/// How a thread other than a connection's sends the router an [`Input`].
#[derive(Clone, Debug)]
pub struct RouterSender {
    tx: Sender<Input>,
    waker: Option<Arc<dyn Wake>>,
}

impl RouterSender {
    /// Sends on `tx`, then wakes `waker` if there is one.
    pub fn new(tx: Sender<Input>, waker: Option<Arc<dyn Wake>>) -> RouterSender {
        RouterSender { tx, waker }
    }

    /// Sends `input`, waiting while the channel is full, unless `stop`
    /// disconnects first (the router is shutting down and will not drain
    /// it any more). False when the input was not sent.
    ///
    /// Only the router's helpers (storage, hashing) call this; waiting here
    /// holds up that helper, never the router.
    pub fn send_unless_stopped(&self, input: Input, stop: &Receiver<()>) -> bool {
        let sent = select! {
            send(self.tx, input) -> sent => sent.is_ok(),
            recv(stop) -> _ => false,
        };
        if sent && let Some(waker) = &self.waker {
            waker.wake();
        }
        sent
    }
}
