//! What was said in a room, delivered member by member, for the event
//! loop.
//!
//! Delivering each message to every member as it is said visits each
//! member's client and outbox once per message: in a room of 500 that is
//! a cache miss or two per delivery, and it was a sixth of the event loop's
//! time. So the messages said in one room in a row gather in a [`Run`], and
//! when the run ends each member takes them all in one visit: `cargo
//! bench` at 1 x 500 went from 9.4 to 10.5 M deliveries a second
//! (BENCHMARKS.md).
//!
//! A run ends before anything else is delivered, so every client still
//! gets its events in the order they were made; before the router handles
//! any input but a message, or lets a client go, as those could change who
//! is in the room or what a client asked for; after [`RUN_MAX`] messages;
//! and at the end of the router's turn, before the loop writes what the
//! turn delivered.
//!
//! A member that falls too far behind is found so as the run ends, so it
//! is cut off up to a run later than one message at a time would.
//!
//! The threaded transport does without: its writers take from their
//! queues while the router fills them, and took smaller batches from
//! queues filled member by member; 1 x 500 went from 7.9-8.4 M deliveries
//! a second to 6.6-6.9 M.

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use super::state::{Clients, Membership};
use crate::client::{ClientId, IdMap};
use crate::protocol::{Name, Outgoing};

/// The most messages a run gathers. Outboxes hear of a run only as it
/// ends, so a bound well under `--sendq`'s default keeps a writer that
/// falls behind from hearing late. At 1 x 500, runs of at most 32, of 64
/// and of any length delivered the same.
pub const RUN_MAX: usize = 32;

/// Messages said in one room and not delivered yet.
#[derive(Debug, Default)]
pub struct Run {
    /// The room's folded name, while a run is going.
    room: Option<Name>,
    /// Who was in the room as the run began; nobody joins or leaves
    /// during a run.
    members: Vec<ClientId>,
    messages: Vec<Arc<Outgoing>>,
    /// Who said each message.
    said: Vec<Said>,
}

/// Who said one message of a run.
#[derive(Debug)]
struct Said {
    from: ClientId,
    /// The sender gets it too (IRC `echo-message`).
    echo: bool,
}

impl Clients {
    /// Says `message` in the room `key`, whose members are `members`: to
    /// all but `from`, and to `from` too if `echo`. Gathered in the run
    /// where there is one, else delivered now.
    pub fn say(
        &mut self,
        key: &Name,
        members: &IdMap<Membership>,
        message: Arc<Outgoing>,
        from: ClientId,
        echo: bool,
        now: Instant,
    ) {
        // A labeled request's echo is its answer, gathered apart; a sender
        // from outside the room is not among those the run reaches.
        let gathers = self.labeling.is_none() && members.contains_key(&from);
        let Some(run) = self.run.as_mut().filter(|_| gathers) else {
            for &member in members.keys() {
                if member != from {
                    self.send(member, &message, now);
                }
            }
            if echo {
                self.send(from, &message, now);
            }
            return;
        };
        if run.room.as_ref().is_some_and(|room| room != key) || run.said.len() == RUN_MAX {
            self.end_run(now);
        }
        let run = self.run.as_mut().expect("gathering");
        if run.room.is_none() {
            run.room = Some(key.clone());
            run.members.extend(members.keys());
        }
        run.messages.push(message);
        run.said.push(Said { from, echo });
    }

    /// Delivers what the run gathered, member by member, and ends it.
    pub fn end_run(&mut self, now: Instant) {
        let Some(run) = self.run.as_mut() else {
            return;
        };
        if run.room.take().is_none() {
            return;
        }
        // Taken out and put back, to keep their memory for the next run.
        let mut members = std::mem::take(&mut run.members);
        let mut messages = std::mem::take(&mut run.messages);
        let mut said = std::mem::take(&mut run.said);
        // The run's place in the router's turn, once an outbox needed one.
        let mut first = None;
        for &id in &members {
            let Some(client) = self.map.get_mut(&id) else {
                continue;
            };
            let mut cut_off = None;
            for range in spans(&said, id) {
                let queued = client.queue_run(
                    &messages,
                    range,
                    &mut first,
                    now,
                    &mut self.turn,
                    self.policy,
                );
                if let Err(reason) = queued {
                    cut_off = Some(reason);
                }
            }
            if let Some(reason) = cut_off {
                self.cut_off(id, reason);
            }
        }
        members.clear();
        messages.clear();
        said.clear();
        let run = self.run.as_mut().expect("gathering");
        run.members = members;
        run.messages = messages;
        run.said = said;
    }
}

/// The spans of a run that member `id` gets: all of it but what it said
/// itself, unless echoed.
fn spans(said: &[Said], id: ClientId) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut start = 0;
    (0..=said.len()).filter_map(move |end| {
        let boundary = said
            .get(end)
            .is_none_or(|said| said.from == id && !said.echo);
        if !boundary {
            return None;
        }
        let span = start..end;
        start = end + 1;
        (!span.is_empty()).then_some(span)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_gets_the_run_but_what_it_said_unless_echoed() {
        let (alice, bob, carol) = (ClientId(1), ClientId(2), ClientId(3));
        let said = [
            (alice, false),
            (bob, false),
            (bob, false),
            (alice, true),
            (bob, false),
        ]
        .map(|(from, echo)| Said { from, echo });
        let spans = |id| {
            spans(&said, id)
                .map(|span| (span.start, span.end))
                .collect::<Vec<_>>()
        };
        assert_eq!(spans(alice), [(1, 5)]);
        assert_eq!(spans(bob), [(0, 1), (3, 4)]);
        assert_eq!(spans(carol), [(0, 5)]);
    }
}
