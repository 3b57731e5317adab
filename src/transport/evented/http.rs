//! The event loop's HTTP connections: requests answered in turn, API calls
//! handed to the router in place, until a connection upgrades to a
//! WebSocket (and becomes a client) or closes.

use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::TryRecvError;

use super::Connection;
use crate::protocol::api::{Answer, Failure, FailureKind};
use crate::router::{ApiRequest, Input, Replier, Router, Wake};
use crate::transport::Context;
use crate::web::layer::Served;

impl Connection {
    /// Serves what the connection's HTTP layer holds: answers into `out`,
    /// API calls to the router (whose answer, now or later, nudges the
    /// connection), and on an upgrade, the client's address into the setup
    /// and its first lines into the intake. A connection to close is
    /// marked `closing`: it closes once `out` is written.
    pub(super) fn serve_http(&mut self, router: &mut Router, context: &Context) {
        let now = Instant::now();
        loop {
            let Some(setup) = self.setup.as_mut() else {
                return;
            };
            if let Some(asking) = &setup.asking {
                let answer = match asking.try_recv() {
                    Ok(answer) => answer,
                    Err(TryRecvError::Empty) => return,
                    Err(TryRecvError::Disconnected) => {
                        Answer::Failed(Failure::new(FailureKind::Busy, "no answer"))
                    }
                };
                setup.asking = None;
                let stats = context.stats.snapshot();
                if self
                    .session
                    .answer_http(answer, &stats, &mut self.out)
                    .is_err()
                {
                    self.closing = true;
                    return;
                }
            }
            let served = self
                .session
                .serve_http(&context.config.web, now, &mut self.out);
            match served {
                Ok(Served::Read) => return,
                Ok(Served::Close) | Err(_) => {
                    self.closing = true;
                    return;
                }
                Ok(Served::Ask {
                    call,
                    credential,
                    client,
                }) => {
                    let waker: Arc<dyn Wake> = self.nudge.clone();
                    let (reply, answer) = Replier::new(Some(waker));
                    setup.asking = Some(answer);
                    let request = ApiRequest {
                        call,
                        credential,
                        peer: client,
                        reply,
                    };
                    router.handle(Input::Api(request), now);
                }
                Ok(Served::Upgraded { client, lines }) => {
                    setup.peer.set_ip(client);
                    self.intake.push(&lines);
                    return;
                }
            }
        }
    }

    /// Whether the connection's setup ran out of time: the TLS handshake's
    /// deadline, or an HTTP request's (none while the router is asked).
    pub(super) fn late(&self, now: Instant) -> bool {
        let Some(setup) = &self.setup else {
            return false;
        };
        if self.session.serving_http() {
            self.session
                .http_deadline()
                .is_some_and(|deadline| now >= deadline)
        } else {
            now >= setup.deadline
        }
    }
}
